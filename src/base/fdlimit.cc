#include "base/fdlimit.h"

namespace berth {

namespace {
std::optional<rlimit> original;
}

void raise_fd_limit() {
    rlimit now{};
    if (original || ::getrlimit(RLIMIT_NOFILE, &now) != 0) return;
    original = now;
    if (now.rlim_cur == now.rlim_max) return;
    rlimit raised = now;
    raised.rlim_cur = now.rlim_max;
    ::setrlimit(RLIMIT_NOFILE, &raised);
}

std::optional<rlimit> original_fd_limit() { return original; }

}  // namespace berth
