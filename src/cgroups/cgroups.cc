#include "cgroups/cgroups.h"

#include "base/error.h"
#include "cgroups/cgroup_fs.h"

#include <sys/vfs.h>

#ifndef CGROUP2_SUPER_MAGIC
#define CGROUP2_SUPER_MAGIC 0x63677270
#endif

namespace berth::cgroups {

std::unique_ptr<Group> Manager::create(const std::string& relpath, const Limits& limits) {
    std::unique_ptr<BackendGroup> g = new_group(relpath);
    try {
        g->setup(limits);
    } catch (...) {
        try {
            g->destroy();  // whatever setup made before it failed
        } catch (...) {
        }
        throw;
    }
    return g;
}

std::unique_ptr<Manager> detect() {
    struct statfs fs {};
    if (::statfs("/sys/fs/cgroup", &fs) == 0 && fs.f_type == CGROUP2_SUPER_MAGIC &&
        !fs::read_text("/sys/fs/cgroup/cgroup.controllers").empty())
        return make_v2("/sys/fs/cgroup");
    V1Mounts m = parse_v1_mounts(fs::read_text("/proc/self/mountinfo"));
    if (m.memory.empty() && m.pids.empty() && m.cpu.empty())
        throw Error("no usable cgroup hierarchy found",
                    "mount cgroup2 on /sys/fs/cgroup, or the v1 memory, cpu and pids controllers");
    return make_v1(std::move(m));
}

}  // namespace berth::cgroups
