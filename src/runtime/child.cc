// The container's first process, from clone3 to execve. Reads top to bottom:
// child_main() calls one named step after another. Only async-signal-safe
// calls: the parent prepared every string and buffer.
#include "runtime/child.h"

#include <cerrno>
#include <csignal>
#include <cstring>
#include <fcntl.h>
#include <grp.h>
#include <linux/capability.h>
#include <linux/close_range.h>
#include <net/if.h>
#include <sys/socket.h>
#include <linux/seccomp.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>

namespace berth::runtime {
namespace {

const ChildPlan* g_plan = nullptr;

void copy(char* dst, size_t cap, size_t& at, const char* src) {
    while (src && *src && at + 1 < cap) dst[at++] = *src++;
    dst[at] = '\0';
}

// Reports the failed step to the parent and exits.
[[noreturn]] void fail(const char* step, const char* detail = nullptr, int err = errno) {
    ChildError e{};
    e.err = err;
    size_t at = 0;
    copy(e.step, sizeof e.step, at, step);
    if (detail) {
        copy(e.step, sizeof e.step, at, " ");
        copy(e.step, sizeof e.step, at, detail);
    }
    if (g_plan && g_plan->error_fd >= 0) {
        ssize_t n = write(g_plan->error_fd, &e, sizeof e);
        (void)n;
    }
    _exit(127);
}

// mkdir -p, inside whatever root is current.
void make_dirs(const char* path, mode_t mode) {
    char buf[4096];
    size_t n = strlen(path);
    if (n >= sizeof buf) fail("mkdir", path, ENAMETOOLONG);
    memcpy(buf, path, n + 1);
    for (size_t i = 1; i <= n; ++i) {
        if (buf[i] != '/' && buf[i] != '\0') continue;
        char saved = buf[i];
        buf[i] = '\0';
        if (mkdir(buf, mode) < 0 && errno != EEXIST) fail("mkdir", buf);
        buf[i] = saved;
    }
}

void make_parent_dirs(const char* path) {
    char buf[4096];
    size_t n = strlen(path);
    if (n >= sizeof buf) fail("mkdir", path, ENAMETOOLONG);
    memcpy(buf, path, n + 1);
    char* slash = strrchr(buf, '/');
    if (slash && slash != buf) {
        *slash = '\0';
        make_dirs(buf, 0755);
    }
}

void wait_for_parent(const ChildPlan& p) {
    for (int fd : p.parent_fds)
        if (fd >= 0) close(fd);
    char go = 0;
    ssize_t n;
    do n = read(p.sync_fd, &go, 1); while (n < 0 && errno == EINTR);
    if (n != 1) _exit(0);  // the parent gave up: nothing to report to
    if (!p.sync_twice) close(p.sync_fd);
}

// Into the container's cgroups before anything is charged there (v1; on v2
// clone3 put us there). Writing "0" moves this one thread, which is the whole
// process here, without the kernel's global lock that a write of our pid
// from the parent takes.
void join_cgroup(const ChildPlan& p) {
    for (int fd : p.cgroup_join_fds) {
        ssize_t n;
        do n = write(fd, "0", 1); while (n < 0 && errno == EINTR);
        if (n != 1) fail("join the container's cgroup");
        close(fd);
    }
}

// The parent plugs the network in while this process mounts the container's
// filesystem (both take about as long); sysctls of its interfaces and the
// program wait until it is there.
void wait_for_network(const ChildPlan& p) {
    if (!p.sync_twice) return;
    char go = 0;
    ssize_t n;
    do n = read(p.sync_fd, &go, 1); while (n < 0 && errno == EINTR);
    if (n != 1) _exit(0);  // the parent's network setup failed: it reports that
    close(p.sync_fd);
}

// Until execve this process is a copy of berth: /proc/PID/exe is the host's
// berth binary, /proc/PID/fd holds the supervisor's files. A non-dumpable
// process's /proc/PID/{exe,fd,mem,root,...} and ptrace need CAP_SYS_PTRACE
// in the host's user namespace, which a default container lacks, so a process
// of the container cannot get at either (CVE-2019-5736). fork keeps the flag;
// execve of the container's program resets it (to non-dumpable again for a
// setuid program or one its user cannot read); nothing else turns it back on.
void never_dumpable() {
    if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0) fail("make the process non-dumpable");
}

void reset_signals() {
    struct sigaction dfl {};
    dfl.sa_handler = SIG_DFL;
    for (int s = 1; s < NSIG; ++s)
        if (s != SIGKILL && s != SIGSTOP) sigaction(s, &dfl, nullptr);
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, nullptr);
}

void join_namespaces(const ChildPlan& p) {
    if (p.net_ns_fd >= 0 && setns(p.net_ns_fd, CLONE_NEWNET) < 0) fail("join network namespace");
    if (p.loopback_up) {
        int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        if (s < 0) fail("socket for loopback");
        struct ifreq ifr {};
        memcpy(ifr.ifr_name, "lo", 3);
        if (ioctl(s, SIOCGIFFLAGS, &ifr) < 0) fail("read loopback flags");
        ifr.ifr_flags = static_cast<short>(ifr.ifr_flags | IFF_UP);
        if (ioctl(s, SIOCSIFFLAGS, &ifr) < 0) fail("bring loopback up");
        close(s);
    }
    // Now that we are in our cgroup, that cgroup becomes our root.
    if (unshare(CLONE_NEWCGROUP) < 0) fail("unshare cgroup namespace");
}

void mount_root(const ChildPlan& p) {
    if (mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) < 0) fail("make mounts private");
    if (mount("overlay", p.rootfs, "overlay", 0, p.overlay_options) < 0) fail("mount overlay root on", p.rootfs);
    if (chdir(p.rootfs) < 0) fail("chdir", p.rootfs);
    if (syscall(SYS_pivot_root, ".", ".") < 0) fail("pivot_root", p.rootfs);
    if (umount2(".", MNT_DETACH) < 0) fail("detach old root");
    if (chdir("/") < 0) fail("chdir /");
}

void mount_one(const ChildMount& m) {
    if (m.is_file) {
        make_parent_dirs(m.target);
        // mknod, not open(O_CREAT): opening a lower layer's file for writing would copy
        // it up into the upper dir. Whatever is there already (a symlink too) is kept.
        if (mknod(m.target, S_IFREG | 0644, 0) < 0 && errno != EEXIST) fail("create mount point", m.target);
    } else {
        make_dirs(m.target, 0755);
    }
    if (m.source_fd >= 0) {
        if (move_mount(m.source_fd, "", AT_FDCWD, m.target, MOVE_MOUNT_F_EMPTY_PATH) < 0) fail("bind mount", m.target);
    } else if (mount(m.source, m.target, m.fstype, m.flags, m.data) < 0) {
        fail("mount", m.target);
    }
    if (m.propagation && mount(nullptr, m.target, nullptr, m.propagation, nullptr) < 0)
        fail("set propagation of", m.target);
}

struct Node {
    const char* path;
    mode_t mode;
    unsigned maj, min;
};

void populate_dev() {
    static const Node nodes[] = {
        {"/dev/null", S_IFCHR | 0666, 1, 3},    {"/dev/zero", S_IFCHR | 0666, 1, 5},
        {"/dev/full", S_IFCHR | 0666, 1, 7},    {"/dev/random", S_IFCHR | 0666, 1, 8},
        {"/dev/urandom", S_IFCHR | 0666, 1, 9}, {"/dev/tty", S_IFCHR | 0666, 5, 0},
    };
    mode_t old = umask(0);
    for (const auto& n : nodes)
        if (mknod(n.path, n.mode, makedev(n.maj, n.min)) < 0 && errno != EEXIST) fail("mknod", n.path);
    umask(old);
    static const char* const links[][2] = {
        {"/proc/self/fd", "/dev/fd"},          {"/proc/self/fd/0", "/dev/stdin"},
        {"/proc/self/fd/1", "/dev/stdout"},    {"/proc/self/fd/2", "/dev/stderr"},
        {"pts/ptmx", "/dev/ptmx"},             {"/proc/kcore", "/dev/core"},
    };
    for (const auto& l : links)
        if (symlink(l[0], l[1]) < 0 && errno != EEXIST) fail("symlink", l[1]);
}

void mount_everything(const ChildPlan& p) {
    for (const auto& m : p.mounts) {
        mount_one(m);
        if (m.fstype && strcmp(m.target, "/dev") == 0) populate_dev();
    }
}

// Replaces whatever is at the path (the image may ship a node of its own there).
void make_devices(const ChildPlan& p) {
    mode_t old = umask(0);
    for (const auto& d : p.devices) {
        make_parent_dirs(d.path);
        if (unlink(d.path) < 0 && errno != ENOENT) fail("replace", d.path);
        if (mknod(d.path, d.mode, d.dev) < 0) fail("mknod", d.path);
        if (chown(d.path, d.uid, d.gid) < 0) fail("chown", d.path);
    }
    umask(old);
}

void write_sysctls(const ChildPlan& p) {
    for (const auto& f : p.sysctls) {
        int fd = open(f.path, O_WRONLY | O_CLOEXEC);
        if (fd < 0) fail("sysctl", f.path);
        if (write(fd, f.content, f.length) < 0) fail("sysctl", f.path);
        close(fd);
    }
}

void mask_paths(const ChildPlan& p) {
    for (const char* f : p.masked_files)
        if (mount("/dev/null", f, nullptr, MS_BIND, nullptr) < 0 && errno != ENOENT && errno != ENOTDIR)
            fail("mask", f);
    for (const char* d : p.masked_dirs)
        if (mount("tmpfs", d, "tmpfs", MS_RDONLY, "size=0") < 0 && errno != ENOENT && errno != ENOTDIR)
            fail("mask", d);
    for (const char* r : p.readonly_paths) {
        if (mount(r, r, nullptr, MS_BIND | MS_REC, nullptr) < 0) {
            if (errno == ENOENT) continue;
            fail("bind", r);
        }
        if (mount(nullptr, r, nullptr, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_REC, nullptr) < 0)
            fail("remount read-only", r);
    }
    if (p.read_only_root && mount(nullptr, "/", nullptr, MS_REMOUNT | MS_BIND | MS_RDONLY, nullptr) < 0)
        fail("remount / read-only");
}

void set_limits(const ChildPlan& p) {
    for (size_t i = 0; i < p.rlimit_resources.size(); ++i)
        if (setrlimit(p.rlimit_resources[i], &p.rlimit_values[i]) < 0) fail("setrlimit");
}

void set_identity_and_limits(const ChildPlan& p) {
    if (p.hostname && sethostname(p.hostname, strlen(p.hostname)) < 0) fail("sethostname", p.hostname);
    if (p.domainname && setdomainname(p.domainname, strlen(p.domainname)) < 0) fail("setdomainname", p.domainname);
    set_limits(p);
    make_dirs(p.cwd, 0755);
    if (chdir(p.cwd) < 0) fail("chdir", p.cwd);
}

void connect_stdio(const ChildPlan& p) {
    int null_fd = -1;
    if (p.stdin_fd < 0 || p.stdout_fd < 0 || p.stderr_fd < 0) {
        null_fd = open("/dev/null", O_RDWR | O_CLOEXEC);
        if (null_fd < 0) fail("open /dev/null");
    }
    int fds[3] = {p.stdin_fd < 0 ? null_fd : p.stdin_fd, p.stdout_fd < 0 ? null_fd : p.stdout_fd,
                  p.stderr_fd < 0 ? null_fd : p.stderr_fd};
    for (int i = 0; i < 3; ++i)
        if (fds[i] != i && dup2(fds[i], i) < 0) fail("connect stdio");
        else if (fds[i] == i) fcntl(i, F_SETFD, 0);
    if (setsid() < 0) fail("setsid");
    if (p.tty && ioctl(0, TIOCSCTTY, 0) < 0) fail("set controlling terminal");
    // Nothing else of the parent's reaches the program.
    syscall(SYS_close_range, 3U, ~0U, CLOSE_RANGE_CLOEXEC);
}

void drop_privileges(const ChildPlan& p) {
    if (p.no_new_privileges && prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0) fail("set no_new_privs");
    // Load the filter while CAP_SYS_ADMIN is still ours, so no_new_privs is not required.
    if (p.seccomp) {
        struct sock_fprog prog {};
        prog.len = static_cast<unsigned short>(p.seccomp->size());
        prog.filter = const_cast<sock_filter*>(p.seccomp->data());
        if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog) < 0) fail("load seccomp filter");
    }
    for (int c = 0; c <= 63; ++c)
        if (!(p.capabilities & (CapSet{1} << c)) && prctl(PR_CAPBSET_DROP, c, 0, 0, 0) < 0 && errno != EINVAL)
            fail("drop capability from bounding set");
    if (setgroups(p.groups.size(), p.groups.data()) < 0) fail("setgroups");
    if (setresgid(p.gid, p.gid, p.gid) < 0) fail("setgid");
    if (setresuid(p.uid, p.uid, p.uid) < 0) fail("setuid");
    // Root keeps the granted set; any other user has none effective (as Docker).
    __user_cap_header_struct hdr{_LINUX_CAPABILITY_VERSION_3, 0};
    __user_cap_data_struct data[2]{};
    if (p.uid == 0) {
        data[0].effective = data[0].permitted = static_cast<uint32_t>(p.capabilities);
        data[1].effective = data[1].permitted = static_cast<uint32_t>(p.capabilities >> 32);
    }
    if (syscall(SYS_capset, &hdr, data) < 0) fail("capset");
}

[[noreturn]] void exec_program(const ChildPlan& p) {
    int first_err = 0;
    for (const char* path : p.exec_candidates) {
        execve(path, p.argv.data(), p.envp.data());
        // Like execvp: remember a permission problem, keep looking after ENOENT.
        if (errno != ENOENT && errno != ENOTDIR && first_err == 0) first_err = errno;
    }
    int err = first_err ? first_err : ENOENT;
    fail("exec", p.argv[0], err);
}

// berth's init: PID 1 that runs the program as its child, forwards signals
// to it, reaps every orphan, and exits with the program's status.
volatile pid_t g_main_child = 0;

void forward(int sig) {
    if (g_main_child > 0) kill(g_main_child, sig);
}

[[noreturn]] void run_init(const ChildPlan& p) {
    struct sigaction fw {};
    fw.sa_handler = forward;
    for (int s = 1; s < NSIG; ++s)
        if (s != SIGKILL && s != SIGSTOP && s != SIGCHLD) sigaction(s, &fw, nullptr);
    pid_t child = static_cast<pid_t>(syscall(SYS_clone, SIGCHLD, 0, 0, 0, 0));
    if (child < 0) fail("fork init child");
    if (child == 0) {
        reset_signals();
        exec_program(p);
    }
    g_main_child = child;
    // The init never execs: it must not keep the supervisor's files (locks, pipes, sockets) open.
    syscall(SYS_close_range, 3U, ~0U, 0U);
    for (;;) {
        int st = 0;
        pid_t r = waitpid(-1, &st, 0);
        if (r < 0) {
            if (errno == EINTR) continue;
            _exit(127);
        }
        if (r == child) _exit(WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st));
    }
}

}  // namespace

[[noreturn]] void exec_child_main(const ChildPlan& plan, int container_pidfd) {
    g_plan = &plan;
    never_dumpable();
    reset_signals();
    wait_for_parent(plan);
    join_cgroup(plan);
    if (setns(container_pidfd, CLONE_NEWNS | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWNET | CLONE_NEWPID |
                                   CLONE_NEWCGROUP) < 0)
        fail("enter the container's namespaces");
    pid_t child = static_cast<pid_t>(syscall(SYS_clone, SIGCHLD, 0, 0, 0, 0));
    if (child < 0) fail("fork into the container");
    if (child == 0) {
        never_dumpable();  // inherited through fork; said again so no later edit can lose it
        prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
        if (chdir(plan.cwd) < 0) fail("chdir", plan.cwd);
        set_limits(plan);
        connect_stdio(plan);
        drop_privileges(plan);
        exec_program(plan);
    }
    syscall(SYS_close_range, 3U, ~0U, 0U);  // nothing of the supervisor's stays open here
    for (;;) {
        int st = 0;
        if (waitpid(child, &st, 0) < 0) {
            if (errno == EINTR) continue;
            _exit(127);
        }
        _exit(WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st));
    }
}

[[noreturn]] void child_main(const ChildPlan& plan) {
    g_plan = &plan;
    never_dumpable();  // berth's init never execs: it stays so for its whole life
    reset_signals();
    wait_for_parent(plan);
    join_cgroup(plan);
    join_namespaces(plan);
    mount_root(plan);
    mount_everything(plan);
    make_devices(plan);
    wait_for_network(plan);
    write_sysctls(plan);
    mask_paths(plan);
    set_identity_and_limits(plan);
    connect_stdio(plan);
    drop_privileges(plan);
    // After the uid/gid change, which clears it. The parent is the thread that cloned us.
    if (plan.die_with_parent && prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) < 0) fail("set the parent-death signal");
    if (plan.init) run_init(plan);
    exec_program(plan);
}

}  // namespace berth::runtime
