// Copying files between the host and a running container (`berth cp`), as a
// tar stream over a pipe. The container's side runs in a forked worker that
// joined the container's mount namespace, so its paths (and symlinks) resolve
// inside the container and never on the host, and its pid namespace, so it
// ends with the container; extraction on either side
// refuses "..", absolute names and links that point out of the destination.
#pragma once

#include <string>
#include <sys/types.h>

namespace berth::runtime {

// Copies `src` (absolute, inside the container whose PID 1 is `pid`) to the
// host path `dest` (absolute): into it when it is a directory, else as `dest`
// itself, as cp does. Owners are kept. Throws berth::Error, with the worker's
// message when the container's side failed.
void copy_out_of(pid_t pid, const std::string& src, const std::string& dest);

// Copies the host path `src` (absolute; a file or a tree, symlinks kept as
// links) to `dest` (absolute) inside the container. `keep_owner`: the files'
// owners are kept (`cp -a`), else they belong to the container's root.
void copy_into(pid_t pid, const std::string& src, const std::string& dest, bool keep_owner);

}  // namespace berth::runtime
