#include "cli/transfer.h"

#include <cstdlib>
#include <unistd.h>

namespace berth::cli {
namespace {

std::string size_text(double b) {
    char buf[32];
    if (b >= 1e9) std::snprintf(buf, sizeof buf, "%.2fGB", b / 1e9);
    else if (b >= 1e6) std::snprintf(buf, sizeof buf, "%.1fMB", b / 1e6);
    else if (b >= 1e3) std::snprintf(buf, sizeof buf, "%.1fkB", b / 1e3);
    else std::snprintf(buf, sizeof buf, "%.0fB", b);
    return buf;
}

}  // namespace

TransferDisplay::~TransferDisplay() {
    std::lock_guard l(mu_);
    if (tty_ && !rows_.empty()) redraw();
}

registry::ProgressSink TransferDisplay::to_stderr(bool quiet) {
    if (quiet) return nullptr;
    bool tty = ::isatty(STDERR_FILENO);
    auto d = std::make_shared<TransferDisplay>(tty, tty && !std::getenv("NO_COLOR"));
    return [d](const registry::ProgressEvent& e) { d->show(e); };
}

TransferDisplay::Row& TransferDisplay::row(const registry::ProgressEvent& e) {
    size_t last_of_image = rows_.size();
    for (size_t i = 0; i < rows_.size(); ++i) {
        if (rows_[i].image != e.image) continue;
        if (rows_[i].blob == e.blob) return rows_[i];
        last_of_image = i;
    }
    Row r{e.image, e.blob, "", -1, 0, false, Clock::now()};
    // A blob's row goes under its image's rows; an image's row (or a blob of an image not
    // seen yet) at the end.
    auto at = last_of_image == rows_.size() ? rows_.end() : rows_.begin() + static_cast<long>(last_of_image) + 1;
    return *rows_.insert(at, r);
}

void TransferDisplay::show(const registry::ProgressEvent& e) {
    std::lock_guard l(mu_);
    if (!tty_) {
        if (e.done < 0 && !e.line.empty()) {
            std::fprintf(out_, "%s\n", e.line.c_str());
            std::fflush(out_);
        }
        return;
    }
    Row& r = row(e);
    if (e.done >= 0) {
        if (r.done < 0) r.started = Clock::now();
        r.done = e.done, r.total = e.total, r.status = e.status;
        if (Clock::now() - last_draw_ < std::chrono::milliseconds(100)) return;  // bytes: ten frames a second
    } else {
        r.status = e.status, r.finished = e.finished;
        if (e.finished) r.done = -1;
    }
    redraw();
}

std::string TransferDisplay::render(const Row& r) const {
    const char* mark = r.finished ? (color_ ? "\x1b[32m✔\x1b[0m" : "✔") : (color_ ? "\x1b[33m⠿\x1b[0m" : "⠿");
    std::string s = r.blob.empty() ? " " + std::string(mark) + " " + r.image + "  " : "   " + std::string(mark) + " " + r.blob + "  ";
    s += r.status;
    if (r.done >= 0) {
        if (r.total > 0) {
            constexpr int kWidth = 30;
            int fill = static_cast<int>(kWidth * std::min<int64_t>(r.done, r.total) / r.total);
            s += " [" + std::string(static_cast<size_t>(fill), '=') + (fill < kWidth ? ">" : "") +
                 std::string(static_cast<size_t>(std::max(0, kWidth - fill - 1)), ' ') + "] " + size_text(static_cast<double>(r.done)) +
                 "/" + size_text(static_cast<double>(r.total));
        } else {
            s += " " + size_text(static_cast<double>(r.done));
        }
        double secs = std::chrono::duration<double>(Clock::now() - r.started).count();
        if (secs > 0.05) s += "  " + size_text(static_cast<double>(r.done) / secs) + "/s";
    }
    return s;
}

void TransferDisplay::redraw() {
    if (drawn_ > 0) std::fprintf(out_, "\x1b[%zuA", drawn_);
    for (const auto& r : rows_) std::fprintf(out_, "\x1b[2K%s\n", render(r).c_str());
    drawn_ = rows_.size();
    last_draw_ = Clock::now();
    std::fflush(out_);
}

}  // namespace berth::cli
