// cgroups: a container's resource limits, membership, OOM accounting and
// stats, behind one interface with a v2 backend (unified hierarchy,
// cgroup_v2.cc) and a v1 backend (one hierarchy per controller, cgroup_v1.cc),
// picked at run time by detect(). Limits is the one description of a
// container's limits (the runtime's ResourceLimits is the same struct).
#pragma once

#include "base/fd.h"
#include "cgroups/devices.h"

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <sys/types.h>
#include <vector>

namespace berth::cgroups {

struct Limits {
    std::optional<int64_t> memory;              // bytes
    std::optional<int64_t> memory_swap;         // memory + swap, bytes; -1 = unlimited
    std::optional<int64_t> memory_reservation;  // bytes (soft limit / memory.low)
    std::optional<double> cpus;                 // CFS quota in CPUs
    std::optional<int64_t> cpu_shares;          // v1 shares (2..262144)
    std::string cpuset_cpus;                    // "0-1", "" = any
    std::optional<int64_t> pids;                // max processes; -1 or 0 = unlimited
    // The devices the group's processes may use (allow rules over a default
    // deny). Unset: the group's device access is left as it is (a process
    // joining an existing group).
    std::optional<std::vector<DeviceRule>> devices;
};

class Group {
public:
    virtual ~Group() = default;
    virtual const std::string& path() const = 0;  // relative, e.g. "berth/web-1"
    // Moves a process in from outside. On v1 this costs an RCU grace period
    // (10-25 ms here: the kernel write-locks every thread group), so a new
    // process joins by itself instead: CLONE_INTO_CGROUP with dir_fd() on v2,
    // a write of "0" to each of join_fds() on v1.
    virtual void attach(pid_t pid) = 0;
    // An fd of the group's directory for clone3's CLONE_INTO_CGROUP; -1 on v1.
    virtual int dir_fd() const = 0;
    // v1: the `tasks` file of each hierarchy, open for writing. A process with
    // one thread writes "0" to each to move itself in, which the kernel does
    // without the global lock (0.03 ms against 10-25 ms for attach()). Empty
    // on v2, where dir_fd() does the job.
    virtual std::vector<UniqueFd> join_fds() const = 0;
    virtual bool oom_killed() const = 0;
    virtual void freeze() = 0;
    virtual void thaw() = 0;
    virtual int64_t memory_usage() const = 0;  // bytes
    virtual int64_t cpu_usage_ns() const = 0;
    virtual int64_t pids_current() const = 0;
    virtual std::vector<pid_t> procs() const = 0;
    // Kills whatever is left in the group and removes it. Idempotent.
    virtual void destroy() = 0;
};

// A backend's group before create() has set it up.
class BackendGroup : public Group {
public:
    // Makes the directories and writes the limits; create() destroys the
    // group when this throws.
    virtual void setup(const Limits& limits) = 0;
};

class Manager {
public:
    virtual ~Manager() = default;
    virtual int version() const = 0;  // 1 or 2
    // Creates the group (and its parents) with the limits set, empty; on
    // failure removes whatever it made and throws.
    std::unique_ptr<Group> create(const std::string& relpath, const Limits& limits);

protected:
    virtual std::unique_ptr<BackendGroup> new_group(const std::string& relpath) = 0;
};

// The backend for this machine: v2 when /sys/fs/cgroup is a cgroup2 mount
// with controllers, else v1 over the controller mounts in /proc/self/mountinfo.
std::unique_ptr<Manager> detect();

// Backends over explicit roots (tests point these at temporary directories).
std::unique_ptr<Manager> make_v2(std::string root);
struct V1Mounts {
    std::string memory, cpu, cpuacct, pids, cpuset, freezer, devices;  // "" when not mounted
};
std::unique_ptr<Manager> make_v1(V1Mounts mounts);

// --- pure helpers, exposed for tests ---
V1Mounts parse_v1_mounts(const std::string& mountinfo);
std::optional<std::string> parse_v2_mount(const std::string& mountinfo);  // the cgroup2 mount point
int64_t cpu_quota_us(double cpus, int64_t period_us = 100000);
uint64_t shares_to_weight(int64_t shares);  // runc's v1 shares → v2 cpu.weight
// The named counter in a "key value" file such as memory.events ("oom_kill").
std::optional<int64_t> flat_key(const std::string& text, const std::string& key);

}  // namespace berth::cgroups
