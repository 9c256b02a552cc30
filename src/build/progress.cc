// The builder's progress lines, as BuildKit's plain mode prints them.
#include "build/builder_internal.h"

namespace berth::build::detail {

int Progress::start(const std::string& label) {
    event();
    int n = next_++;
    if (!quiet_) std::fprintf(out_, "#%d %s\n", n, label.c_str());
    return n;
}

void Progress::output(int n, std::string_view line, double at) {
    event();
    if (!quiet_) std::fprintf(out_, "#%d %.3f %.*s\n", n, at, static_cast<int>(line.size()), line.data());
}

void Progress::cached(int n) {
    event();
    if (!quiet_) std::fprintf(out_, "#%d CACHED\n", n);
}

void Progress::done(int n, double secs) {
    event();
    if (!quiet_) std::fprintf(out_, "#%d DONE %.1fs\n", n, secs);
}

void Progress::error(int n, const std::string& message) {
    event();
    if (!quiet_) std::fprintf(out_, "#%d ERROR: %s\n", n, message.c_str());
}

void Progress::note(const std::string& text) {
    event();
    if (!quiet_) std::fprintf(out_, "%s\n", text.c_str());
}

}  // namespace berth::build::detail
