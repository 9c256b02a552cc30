// runtime/container_internal: what the runtime's container files share, and
// nothing outside src/runtime includes. container.cc creates and starts a
// container, exec.cc runs a process in one, container_life.cc adopts, waits
// for, signals, freezes and tears one down; prepare.cc turns a spec into the
// ChildPlan the cloned child reads (runtime/child.h) and holds the small
// helpers they share.
#pragma once

#include "base/error.h"
#include "base/fd.h"
#include "cgroups/cgroups.h"
#include "runtime/child.h"
#include "runtime/container.h"

#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <linux/sched.h>
#include <signal.h>

namespace berth::runtime {

// The container's cgroup, through the cgroups module.
class CgroupHandle {
public:
    explicit CgroupHandle(std::unique_ptr<cgroups::Group> g) : group(std::move(g)) {}
    std::unique_ptr<cgroups::Group> group;
};

namespace detail {

// Everything the child reads, owned here so its pointers stay valid.
struct Prepared {
    std::deque<std::string> strings;
    std::vector<UniqueFd> child_fds;  // closed in the parent right after clone
    ChildPlan plan;

    const char* keep(std::string s) {
        strings.push_back(std::move(s));
        return strings.back().c_str();
    }
    int keep_fd(UniqueFd fd) {
        child_fds.push_back(std::move(fd));
        return child_fds.back().get();
    }
};

// ---- prepare.cc: from a spec to the child's plan ----
// The devices the container may use (the cgroup's rules), and the nodes of
// `devices` for the child to make, with the host's numbers, mode and owner.
std::vector<cgroups::DeviceRule> prepare_devices(const ContainerSpec& spec, Prepared& p);
// Bind mounts, tmpfs and the rest of spec.mounts, as detached trees the child attaches.
void prepare_mounts(const ContainerSpec& spec, Prepared& p);
void prepare_security(const ContainerSpec& spec, Prepared& p);
void prepare_process(const ContainerSpec& spec, Prepared& p);
// argv and env, and where argv[0] is looked for (env's PATH, else the default one).
void prepare_exec(const std::vector<std::string>& argv, const std::vector<std::string>& env, Prepared& p);
// A process in a container gets the fd limit its starter had before raising
// its own (base/fdlimit.h); a spec's own limits, set after, win.
void inherit_fd_limit(Prepared& p);
// Overlay's `volatile` option exists since Linux 5.10.
bool overlay_volatile_supported();
void write_file(const std::string& path, const std::string& content);
void make_dir(const std::string& path);
UniqueFd open_pty(UniqueFd& slave);
// The machine's manager, for callers that pass none.
cgroups::Manager& cgroup_manager(cgroups::Manager* given);
// Puts the process clone3 makes into `group`: born there (v2, CLONE_INTO_CGROUP in `args`), or
// joining it itself (v1: the tasks fds it writes "0" to, kept open by the
// returned fds until the clone is done). See cgroups::Group::attach for why.
std::vector<UniqueFd> place_in_group(cgroups::Group& group, clone_args& args, ChildPlan& plan);
// What the child reported through its error pipe `fd` (read to EOF: nullopt when it reported
// nothing, i.e. it reached exec), as the error berth shows.
std::optional<Error> read_child_error(int fd);

// ---- init_layer.cc ----
// The shared init layer for `spec`, made on first use under spec.init_layers_dir,
// to go above the image's layers; nullopt without an init_layers_dir, or when the
// image's /etc, /proc, /dev or /sys is not a directory (a symlinked /etc): the
// child then makes the mount points in the upper dir, as it always did.
std::optional<std::string> init_layer(const ContainerSpec& spec);
// ---- spare.cc ----
// Renames a spare state dir (an empty upper/ and work/) to `state_dir` when there is
// one and `state_dir` does not exist yet; false: the caller makes the dirs.
bool take_spare(const std::string& spare_dir, const std::string& state_dir);
// Empties a removed container's `state_dir` down to an empty upper/ and work/ and keeps
// it in `spare_dir` for the next container, when there is room; else removes it.
void recycle_state_dir(const std::string& spare_dir, const std::string& state_dir, const std::string& id);

// Where the container's per-start files and root mount point live.
inline const std::string& run_dir_of(const ContainerSpec& spec) {
    return spec.run_dir.empty() ? spec.state_dir : spec.run_dir;
}

// ---- container_life.cc: waiting ----
// Blocks until the child behind `pidfd` has exited and reaps it (EAGAIN of a non-blocking pidfd
// handled); false on another error (errno says which).
bool wait_exit(int pidfd, siginfo_t& info);
ExitStatus status_of(const siginfo_t& info);

}  // namespace detail
}  // namespace berth::runtime
