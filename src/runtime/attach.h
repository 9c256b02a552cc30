// Attaching the caller's terminal to a process in a container until it
// exits: signals forwarded (SIGWINCH carries the window size), and with a
// pty master the terminal in raw mode and both directions copied.
#pragma once

#include "runtime/container.h"

#include <functional>

namespace berth::runtime {

// Waits for the process behind `pidfd`: the signals berth receives go to
// `kill`, and `master` (a pty master, or -1) is copied to stdout while stdin
// is copied to it. Returns `wait()` once the process has exited and the pty
// is drained. The caller blocks the forwarded signals (see the .cc) before
// the process exists.
// The signals attach_until_exit forwards, blocked in this process: call it before the process exists
// (the child resets its own mask), so that none is lost to its default action meanwhile.
void block_forwarded_signals();

// A new pseudo-terminal: its master, with the slave end (the process's stdio) in `slave`.
UniqueFd open_pty(UniqueFd& slave);

ExitStatus attach_until_exit(int pidfd, int master, const std::function<void(int)>& kill,
                             const std::function<ExitStatus()>& wait);

}  // namespace berth::runtime
