// The supervisor holds many fds (each container's pipes, pidfd, DNS sockets),
// so it runs with its RLIMIT_NOFILE soft limit raised to the hard limit. The
// processes it starts in containers get the limit it was started with, as
// they did before, unless a service's `ulimits: nofile` says otherwise.
#pragma once

#include <sys/resource.h>

#include <optional>

namespace berth {

// Raises the soft limit to the hard one, remembering the limit before. Idempotent.
void raise_fd_limit();
// The limit before raise_fd_limit(); nullopt when it was never raised.
std::optional<rlimit> original_fd_limit();

}  // namespace berth
