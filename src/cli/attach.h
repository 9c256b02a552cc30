// Attaching the terminal to a process in a container: signals forwarded, and
// with a pty master, raw mode, both directions copied and window size kept.
#pragma once

#include "runtime/container.h"

#include <functional>

namespace berth::cli {

runtime::ExitStatus attach_until_exit(int pidfd, int master, const std::function<void(int)>& kill,
                                      const std::function<runtime::ExitStatus()>& wait);

}  // namespace berth::cli
