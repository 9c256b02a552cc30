// runtime::ContainerSpec — everything needed to make one container, in plain
// values. The runtime never reads compose files or image configs: the caller
// (the `run` command, the supervisor) resolves those into this spec.
#pragma once

#include "cgroups/cgroups.h"
#include "runtime/caps.h"

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <sys/types.h>
#include <vector>

namespace berth::runtime {

struct MountSpec {
    // File: a read-only file made for this container in its state dir (compose's
    // configs and secrets), from `content` or else a copy of `source`, owned by
    // file_uid:file_gid with `mode` (default 0444).
    enum class Type { Bind, Tmpfs, File };
    Type type = Type::Bind;
    std::string source;   // host path (bind; file: copied when content is unset)
    std::string target;   // absolute path inside the container
    bool read_only = false;
    std::string propagation;      // bind: "", private, rprivate, shared, rshared, slave, rslave
    std::optional<int64_t> size;  // tmpfs: bytes
    std::optional<uint32_t> mode; // tmpfs, file: octal mode
    std::optional<std::string> content;  // file
    uid_t file_uid = 0;
    gid_t file_gid = 0;
    // tmpfs: further options as given (short syntax "/t:size=1m,uid=1000"), passed to the kernel
    std::string tmpfs_options;
};

// A host device made in the container: a node with the host's numbers at
// `target`, and access to it through the cgroup.
struct DeviceSpec {
    std::string source;  // host path, looked at when the container starts
    std::string target;  // absolute path inside the container
    std::string permissions = "rwm";  // some of r, w, m
};

struct Rlimit {
    int resource = 0;  // RLIMIT_*
    uint64_t soft = 0, hard = 0;
};

// cgroup limits; unset means "no limit". The cgroups module's own struct, so
// nothing copies it field by field; its `devices` is filled by the runtime
// from the spec's devices and device_cgroup_rules.
using ResourceLimits = cgroups::Limits;

struct ContainerSpec {
    std::string id;          // unique; names the state directory and the cgroup
    std::string state_dir;   // per-container dir on disk: upper/ and work/ live here
    // Per-container dir for what is made again at every start: the root's mount
    // point (rootfs/) and the generated hostname, hosts and resolv.conf. Best on
    // a tmpfs (the runtime dir); removed at every teardown. Empty: state_dir.
    std::string run_dir;
    std::vector<std::string> layers;  // image layer dirs, top-most first
    // Where the runtime keeps its shared, read-only "init" layers (made once,
    // then reused by every container; see init_layer.cc): the mount points a
    // container needs (/etc/hostname, /etc/hosts, /etc/resolv.conf, /proc, /dev,
    // /sys), so that nothing is written into its upper dir at start. Empty: the
    // mount points are made in the upper dir.
    std::string init_layers_dir;
    // Where a removed container's state dir, emptied to an empty upper/ and work/,
    // waits for the next container to take it by a rename (a few at most; see
    // spare.cc): fewer directories made on the disk. On the state dir's file
    // system. Empty: none kept, none taken.
    std::string spare_dir;
    bool read_only = false;

    std::vector<std::string> argv;  // argv[0] is looked up in the container's PATH
    std::vector<std::string> env;   // "K=V"
    std::string cwd = "/";
    uid_t uid = 0;
    gid_t gid = 0;
    std::vector<gid_t> groups;      // supplementary groups
    std::string hostname;
    std::string domainname;

    // Files written for this container and bind-mounted over /etc/… .
    std::string etc_hosts;
    std::string etc_resolv_conf;  // empty: keep the image's

    std::vector<MountSpec> mounts;
    std::optional<int64_t> shm_size;  // bytes; default 64 MiB
    std::vector<Rlimit> rlimits;
    std::map<std::string, std::string> sysctls;  // namespaced ones only

    CapSet capabilities = default_capabilities();
    bool privileged = false;        // every capability, every device, no seccomp, /sys rw, nothing masked
    // Device access beyond the default list (null, zero, full, random,
    // urandom, tty, console, ptmx, pts; mknod of any).
    std::vector<DeviceSpec> devices;
    std::vector<std::string> device_cgroup_rules;  // "c 1:3 rwm", "b 7:* r"
    bool no_new_privileges = false;
    bool seccomp = true;            // Docker's default filter
    bool init = false;              // berth's init as PID 1
    // SIGKILL to PID 1 (so to the whole container) when the thread that started
    // it dies: a build's RUN does not outlive a berth killed with -9.
    bool die_with_parent = false;
    bool tty = false;
    bool stdin_open = false;

    // Namespaces: a new network namespace unless net_ns_path names one to join
    // (another container's /proc/PID/ns/net), or host_network is set.
    bool host_network = false;
    std::string net_ns_path;

    ResourceLimits limits;
    std::string cgroup_parent = "berth";  // the cgroup is <cgroup_parent>/<id>
};

// Throws berth::Error when a sysctl may not be set in a container: only
// namespaced ones (kernel.shm*, kernel.msg*, kernel.sem, fs.mqueue.*, and net.*
// when the container has its own network namespace) are allowed.
void check_sysctl(const std::string& name, bool own_network);

}  // namespace berth::runtime
