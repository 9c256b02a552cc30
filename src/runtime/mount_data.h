// The data the runtime prepares for a container's extra mounts before the
// child runs: a tmpfs mount's option string and flags, and the files of
// compose configs and secrets (written into the container's state dir).
#pragma once

#include "runtime/spec.h"

#include <string>

namespace berth::runtime::detail {

// "mode=…,size=…" then the short syntax's options; flag words (ro, noexec…)
// set or clear bits in `flags` instead.
std::string tmpfs_data(const MountSpec& ms, unsigned long& flags);

// Writes the n-th file mount of `spec` into <state_dir>/files/ with its
// owner and mode; returns its path, the source of a read-only bind.
std::string made_file(const ContainerSpec& spec, const MountSpec& ms, int n);

}  // namespace berth::runtime::detail
