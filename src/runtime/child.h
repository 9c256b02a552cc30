// The plan a container's first process follows after clone3, and the code
// that follows it. Everything here is prepared by the parent before clone:
// the child only reads it and makes async-signal-safe system calls (no
// allocation, no locks, no logging) until it execs.
#pragma once

#include "runtime/caps.h"

#include <linux/filter.h>
#include <sys/resource.h>
#include <sys/types.h>
#include <vector>

namespace berth::runtime {

struct ChildMount {
    const char* source = nullptr;  // a filesystem's source ("proc", "tmpfs", …)
    const char* target = nullptr;  // path inside the new root
    const char* fstype = nullptr;  // nullptr for a bind
    unsigned long flags = 0;
    const char* data = nullptr;
    int source_fd = -1;            // bind: a detached mount tree (open_tree) to attach
    bool is_file = false;          // bind target is a file (created empty if missing)
    unsigned long propagation = 0; // MS_PRIVATE, MS_SHARED, … (| MS_REC)
};

struct ChildDevice {  // a host device node made in the container (`devices:`)
    const char* path;     // inside the new root
    mode_t mode;          // S_IFCHR or S_IFBLK | permission bits, as on the host
    dev_t dev;
    uid_t uid;
    gid_t gid;
};

struct ChildFile {  // a file written before the masks, e.g. a sysctl
    const char* path;
    const char* content;
    size_t length;
};

struct ChildPlan {
    int sync_fd = -1;   // read end: one byte means "go on"; EOF means "give up"
    // A second byte is awaited once the filesystem is mounted and before
    // anything that needs the network (the parent sets it up meanwhile).
    bool sync_twice = false;
    int parent_fds[2] = {-1, -1};  // the parent's ends of both pipes: closed first
    int error_fd = -1;  // write end, CLOEXEC: a ChildError on failure
    // v1 cgroups: each hierarchy's `tasks` file; the child writes "0" to each
    // to join its group itself (see cgroups::Group::join_fds) and closes them.
    std::vector<int> cgroup_join_fds;
    int stdin_fd = -1, stdout_fd = -1, stderr_fd = -1;  // -1: /dev/null
    bool tty = false;   // stdio is a pty slave: make it the controlling terminal
    int net_ns_fd = -1; // join this network namespace (-1: keep the one from clone)
    bool loopback_up = false;  // a fresh network namespace: bring `lo` up

    const char* rootfs = nullptr;          // host path the overlay is mounted on
    const char* overlay_options = nullptr;
    std::vector<ChildMount> mounts;        // after pivot_root, in order
    std::vector<ChildFile> sysctls;
    std::vector<ChildDevice> devices;      // made after the mounts
    std::vector<const char*> masked_files, masked_dirs, readonly_paths;
    bool read_only_root = false;

    const char* hostname = nullptr;
    const char* domainname = nullptr;
    std::vector<struct rlimit> rlimit_values;
    std::vector<int> rlimit_resources;
    const char* cwd = "/";

    uid_t uid = 0;
    gid_t gid = 0;
    std::vector<gid_t> groups;
    CapSet capabilities = 0;
    bool no_new_privileges = false;
    const std::vector<sock_filter>* seccomp = nullptr;  // nullptr: unconfined
    bool init = false;
    bool die_with_parent = false;  // PR_SET_PDEATHSIG once the credentials are final

    std::vector<char*> argv;                 // NULL-terminated
    std::vector<char*> envp;                 // NULL-terminated
    std::vector<const char*> exec_candidates;  // argv[0] resolved against PATH, in order
};

// What the child sends back when a step fails.
struct ChildError {
    int err;          // errno
    char step[240];   // "exec /app/server", "mount /proc", …
};

// Both entry points make the process non-dumpable first and keep it so until
// the program's execve (berth's init: for good), so no process of the
// container can open their /proc/PID/exe (the host's berth binary) or
// /proc/PID/fd, or ptrace them.

// The child's whole life: never returns.
[[noreturn]] void child_main(const ChildPlan& plan);

// A process joining a running container (exec, health checks): waits for the
// parent, enters the container's namespaces through its pidfd, then forks the
// program (a new pid namespace applies to children only) and exits with its status.
[[noreturn]] void exec_child_main(const ChildPlan& plan, int container_pidfd);

}  // namespace berth::runtime
