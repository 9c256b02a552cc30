#include "runtime/container.h"

#include "base/error.h"
#include "base/fdlimit.h"
#include "cgroups/cgroups.h"
#include "runtime/child.h"
#include "runtime/mount_data.h"
#include "runtime/seccomp.h"

#include <spdlog/spdlog.h>

#include <cerrno>
#include <csignal>
#include <cstring>
#include <deque>
#include <new>
#include <utility>
#include <fcntl.h>
#include <poll.h>
#include <filesystem>
#include <fstream>
#include <linux/sched.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/utsname.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

namespace fs = std::filesystem;

namespace berth::runtime {

// The container's cgroup, through the cgroups module.
class CgroupHandle {
public:
    explicit CgroupHandle(std::unique_ptr<cgroups::Group> g) : group(std::move(g)) {}
    std::unique_ptr<cgroups::Group> group;
};

namespace {

// Blocks until the child behind `pidfd` has exited and reaps it. libuv's uv_poll_init makes the fd
// O_NONBLOCK, and on such a pidfd waitid() without WNOHANG answers EAGAIN while the child still
// runs (Linux 5.10+): that happens when a caller kills a child and waits for it at once (a health
// check past its timeout). Then wait for the pidfd to turn readable and ask again.
bool wait_exit(int pidfd, siginfo_t& info) {
    for (;;) {
        if (waitid(static_cast<idtype_t>(P_PIDFD), static_cast<id_t>(pidfd), &info, WEXITED) == 0) return true;
        if (errno == EINTR) continue;
        if (errno != EAGAIN) return false;
        pollfd p{pidfd, POLLIN, 0};
        if (::poll(&p, 1, -1) < 0 && errno != EINTR) return false;
    }
}

constexpr const char* kDefaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

// The machine's manager, for callers that pass none.
cgroups::Manager& cgroup_manager(cgroups::Manager* given) {
    if (given) return *given;
    static std::unique_ptr<cgroups::Manager> m = cgroups::detect();
    return *m;
}

void write_file(const std::string& path, const std::string& content) {
    int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) throw Error::sys(errno, "create " + path);
    UniqueFd f(fd);
    if (::write(fd, content.data(), content.size()) != static_cast<ssize_t>(content.size()))
        throw Error::sys(errno, "write " + path);
}

void make_dir(const std::string& path) {
    if (::mkdir(path.c_str(), 0755) < 0 && errno != EEXIST) throw Error::sys(errno, "mkdir " + path);
}

// A detached copy of `path`'s mount tree, read-only if asked: the child
// attaches it inside its own namespace with move_mount after pivot_root, so a
// bind source is resolved on the host and its target inside the container.
UniqueFd detached_tree(const std::string& path, bool recursive, bool read_only) {
    int fd = ::open_tree(AT_FDCWD, path.c_str(),
                         OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | (recursive ? AT_RECURSIVE : 0));
    if (fd < 0) throw Error::sys(errno, "bind source " + path);
    UniqueFd tree(fd);
    if (read_only) {
        struct mount_attr attr {};
        attr.attr_set = MOUNT_ATTR_RDONLY;
        if (::mount_setattr(fd, "", AT_EMPTY_PATH | (recursive ? AT_RECURSIVE : 0), &attr, sizeof attr) < 0)
            throw Error::sys(errno, "make bind of " + path + " read-only");
    }
    return tree;
}

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

// Overlay's `volatile` option exists since Linux 5.10.
bool overlay_volatile_supported() {
    static const bool ok = [] {
        utsname u{};
        if (uname(&u) != 0) return false;
        int major = 0, minor = 0;
        if (std::sscanf(u.release, "%d.%d", &major, &minor) != 2) return false;
        return major > 5 || (major == 5 && minor >= 10);
    }();
    return ok;
}

unsigned long propagation_flag(const std::string& p) {
    if (p.empty()) return 0;
    if (p == "private") return MS_PRIVATE;
    if (p == "rprivate") return MS_PRIVATE | MS_REC;
    if (p == "shared") return MS_SHARED;
    if (p == "rshared") return MS_SHARED | MS_REC;
    if (p == "slave") return MS_SLAVE;
    if (p == "rslave") return MS_SLAVE | MS_REC;
    throw Error("unknown bind propagation \"" + p + "\"",
                "use private, rprivate, shared, rshared, slave or rslave");
}

void prepare_mounts(const ContainerSpec& spec, Prepared& p) {
    auto& m = p.plan.mounts;
    const unsigned long nse = MS_NOSUID | MS_NOEXEC | MS_NODEV;
    auto fs_mount = [&](const char* src, const char* target, const char* type, unsigned long flags,
                        const char* data) {
        ChildMount cm;
        cm.source = src;
        cm.target = target;
        cm.fstype = type;
        cm.flags = flags;
        cm.data = data;
        m.push_back(cm);
    };
    fs_mount("proc", "/proc", "proc", nse, nullptr);
    fs_mount("tmpfs", "/dev", "tmpfs", MS_NOSUID | MS_STRICTATIME, "mode=755,size=65536k");
    fs_mount("devpts", "/dev/pts", "devpts", MS_NOSUID | MS_NOEXEC, "newinstance,ptmxmode=0666,mode=0620,gid=5");
    fs_mount("shm", "/dev/shm", "tmpfs", nse,
             p.keep("mode=1777,size=" + std::to_string(spec.shm_size.value_or(64LL << 20))));
    fs_mount("mqueue", "/dev/mqueue", "mqueue", nse, nullptr);
    fs_mount("sysfs", "/sys", "sysfs", nse | (spec.privileged ? 0 : MS_RDONLY), nullptr);

    auto bind = [&](const std::string& host, const std::string& target, bool is_file, bool ro,
                    unsigned long propagation, bool recursive) {
        ChildMount cm;
        cm.source_fd = p.keep_fd(detached_tree(host, recursive, ro));
        cm.target = p.keep(target);
        cm.is_file = is_file;
        cm.propagation = propagation;
        m.push_back(cm);
    };
    bind(spec.state_dir + "/hostname", "/etc/hostname", true, false, 0, false);
    bind(spec.state_dir + "/hosts", "/etc/hosts", true, false, 0, false);
    if (!spec.etc_resolv_conf.empty())
        bind(spec.state_dir + "/resolv.conf", "/etc/resolv.conf", true, false, 0, false);

    int files = 0;
    for (const auto& ms : spec.mounts) {
        if (ms.target.empty() || ms.target[0] != '/')
            throw Error("mount target \"" + ms.target + "\" must be an absolute path");
        if (ms.type == MountSpec::Type::Tmpfs) {
            unsigned long flags = MS_NOSUID | MS_NODEV | (ms.read_only ? MS_RDONLY : 0);
            std::string data = detail::tmpfs_data(ms, flags);
            fs_mount("tmpfs", p.keep(ms.target), "tmpfs", flags, p.keep(data));
            continue;
        }
        if (ms.type == MountSpec::Type::File) {
            bind(detail::made_file(spec, ms, ++files), ms.target, true, true, 0, false);
            continue;
        }
        struct stat st {};
        if (::stat(ms.source.c_str(), &st) < 0)
            throw Error::sys(errno, "bind source " + ms.source).wrap("mount " + ms.target);
        bind(ms.source, ms.target, !S_ISDIR(st.st_mode), ms.read_only, propagation_flag(ms.propagation), true);
    }
}

// What the child reported through its error pipe, as the error berth shows.
Error child_error(ChildError& ce) {
    ce.step[sizeof ce.step - 1] = '\0';
    Error err(std::string(ce.step) + ": " + std::strerror(ce.err));
    if (std::strncmp(ce.step, "exec ", 5) == 0) {
        // As docker: 127 when the program is not there, 126 when it cannot be run.
        bool missing = ce.err == ENOENT || ce.err == ENOTDIR;
        err.set_exit_status(missing ? 127 : 126);
        if (missing) err.set_hint("check the command and the image's PATH");
    }
    return err;
}

void prepare_security(const ContainerSpec& spec, Prepared& p) {
    if (!spec.privileged) {
        p.plan.masked_files = {"/proc/kcore", "/proc/keys", "/proc/latency_stats", "/proc/timer_list",
                               "/proc/timer_stats", "/proc/sched_debug"};
        p.plan.masked_dirs = {"/proc/asound", "/proc/acpi", "/proc/scsi", "/sys/firmware",
                              "/sys/devices/virtual/powercap"};
        p.plan.readonly_paths = {"/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"};
    }
    p.plan.capabilities = spec.privileged ? bounding_capabilities() : (spec.capabilities & bounding_capabilities());
    p.plan.no_new_privileges = spec.no_new_privileges;
    p.plan.seccomp = (spec.seccomp && !spec.privileged) ? &seccomp_program(p.plan.capabilities) : nullptr;
}

void prepare_exec(const std::vector<std::string>& argv, const std::vector<std::string>& env, Prepared& p);

// The devices the container may use (the cgroup's rules), and the nodes of
// `devices` for the child to make, with the host's numbers, mode and owner.
std::vector<cgroups::DeviceRule> prepare_devices(const ContainerSpec& spec, Prepared& p) {
    std::vector<cgroups::DeviceRule> rules = cgroups::default_device_rules();
    for (const auto& d : spec.devices) {
        if (d.target.empty() || d.target[0] != '/')
            throw Error("device target \"" + d.target + "\" must be an absolute path");
        struct stat st {};
        if (::stat(d.source.c_str(), &st) < 0) throw Error::sys(errno, "device " + d.source);
        if (!S_ISCHR(st.st_mode) && !S_ISBLK(st.st_mode))
            throw Error("device " + d.source + " is not a device node",
                        "`devices:` takes character or block devices, such as /dev/ttyUSB0");
        unsigned access = 0;
        try {
            access = cgroups::parse_device_access(d.permissions);
        } catch (Error& e) {
            throw e.wrap("device " + d.source);
        }
        rules.push_back({S_ISBLK(st.st_mode) ? cgroups::DeviceRule::Type::Block : cgroups::DeviceRule::Type::Char,
                         major(st.st_rdev), minor(st.st_rdev), access});
        p.plan.devices.push_back({p.keep(d.target), st.st_mode & (S_IFMT | 07777), st.st_rdev, st.st_uid, st.st_gid});
    }
    for (const auto& text : spec.device_cgroup_rules) rules.push_back(cgroups::parse_device_rule(text));
    if (spec.privileged) return {cgroups::allow_all_devices()};
    return rules;
}

// A process in a container gets the fd limit its starter had before raising
// its own (base/fdlimit.h); a spec's own limits, set after, win.
void inherit_fd_limit(Prepared& p) {
    if (auto l = original_fd_limit()) {
        p.plan.rlimit_resources.push_back(RLIMIT_NOFILE);
        p.plan.rlimit_values.push_back(*l);
    }
}

void prepare_process(const ContainerSpec& spec, Prepared& p) {
    if (spec.argv.empty())
        throw Error("no command to run", "the image has no Entrypoint or Cmd: set `command:` for the service");
    prepare_exec(spec.argv, spec.env, p);
    p.plan.cwd = p.keep(spec.cwd.empty() ? "/" : spec.cwd);
    p.plan.uid = spec.uid;
    p.plan.gid = spec.gid;
    p.plan.groups = spec.groups;
    p.plan.init = spec.init;
    p.plan.hostname = spec.hostname.empty() ? nullptr : p.keep(spec.hostname);
    p.plan.domainname = spec.domainname.empty() ? nullptr : p.keep(spec.domainname);
    inherit_fd_limit(p);
    for (const auto& r : spec.rlimits) {
        p.plan.rlimit_resources.push_back(r.resource);
        p.plan.rlimit_values.push_back({r.soft, r.hard});
    }
    bool own_net = !spec.host_network;
    for (const auto& [name, value] : spec.sysctls) {
        check_sysctl(name, own_net);
        std::string file = "/proc/sys/" + name;
        for (size_t i = 10; i < file.size(); ++i)
            if (file[i] == '.') file[i] = '/';
        const char* content = p.keep(value);
        p.plan.sysctls.push_back({p.keep(file), content, value.size()});
    }
}

void prepare_exec(const std::vector<std::string>& argv, const std::vector<std::string>& env, Prepared& p) {
    if (argv.empty()) throw Error("no command to run");
    for (const auto& a : argv) p.plan.argv.push_back(const_cast<char*>(p.keep(a)));
    p.plan.argv.push_back(nullptr);
    std::string path = kDefaultPath;
    bool has_path = false;
    for (const auto& e : env) {
        p.plan.envp.push_back(const_cast<char*>(p.keep(e)));
        if (e.rfind("PATH=", 0) == 0) {
            path = e.substr(5);
            has_path = true;
        }
    }
    if (!has_path) p.plan.envp.push_back(const_cast<char*>(p.keep(std::string("PATH=") + kDefaultPath)));
    p.plan.envp.push_back(nullptr);
    const std::string& prog = argv[0];
    if (prog.find('/') != std::string::npos) {
        p.plan.exec_candidates.push_back(p.keep(prog));
    } else {
        size_t start = 0;
        for (;;) {
            size_t colon = path.find(':', start);
            std::string dir = path.substr(start, colon == std::string::npos ? std::string::npos : colon - start);
            if (dir.empty()) dir = ".";
            p.plan.exec_candidates.push_back(p.keep(dir + "/" + prog));
            if (colon == std::string::npos) break;
            start = colon + 1;
        }
    }
}

UniqueFd open_pty(UniqueFd& slave) {
    int m = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
    if (m < 0) throw Error::sys(errno, "open a pseudo-terminal");
    UniqueFd master(m);
    char name[128];
    if (grantpt(m) < 0 || unlockpt(m) < 0 || ptsname_r(m, name, sizeof name) != 0)
        throw Error::sys(errno, "set up the pseudo-terminal");
    int s = ::open(name, O_RDWR | O_NOCTTY | O_CLOEXEC);
    if (s < 0) throw Error::sys(errno, std::string("open ") + name);
    slave.reset(s);
    return master;
}

std::string signal_name(int sig) {
    const char* abbrev = sigabbrev_np(sig);
    return abbrev ? std::string("SIG") + abbrev : "signal " + std::to_string(sig);
}

}  // namespace

std::string ExitStatus::reason() const {
    if (oom_killed) return "OOMKilled";
    if (signal) return "killed by " + signal_name(signal);
    return "exited with code " + std::to_string(code);
}

Container::Container(Container&& o) noexcept
    : id_(std::move(o.id_)), state_dir_(std::move(o.state_dir_)), pid_(std::exchange(o.pid_, -1)),
      pidfd_(std::move(o.pidfd_)), pty_(std::move(o.pty_)), cgroup_(std::move(o.cgroup_)),
      status_(std::move(o.status_)), torn_down_(std::exchange(o.torn_down_, true)),
      capabilities_(o.capabilities_), seccomp_(o.seccomp_), no_new_privileges_(o.no_new_privileges_),
      adopted_(o.adopted_) {}

Container& Container::operator=(Container&& o) noexcept {
    if (this != &o) {
        this->~Container();
        new (this) Container(std::move(o));
    }
    return *this;
}

Container::~Container() {
    if (pid_ > 0 && !torn_down_) {
        try {
            teardown(true);
        } catch (const std::exception& e) {
            spdlog::warn("container {}: teardown: {}", id_, e.what());
        }
    }
}

Container Container::start(const ContainerSpec& spec, const Stdio& stdio, const StartHooks& hooks,
                           cgroups::Manager* manager) {
    if (spec.layers.empty()) throw Error("container " + spec.id + ": the image has no layers");
    if (spec.state_dir.empty()) throw Error("container " + spec.id + ": no state directory");

    // Checked before anything is written: a bad device leaves nothing behind.
    Prepared p;
    cgroups::Limits limits = spec.limits;
    limits.devices = prepare_devices(spec, p);

    // Files and directories of this container.
    make_dir(spec.state_dir);
    const std::string upper = spec.state_dir + "/upper", work = spec.state_dir + "/work",
                      rootfs = spec.state_dir + "/rootfs";
    make_dir(upper);
    make_dir(work);
    make_dir(rootfs);
    write_file(spec.state_dir + "/hostname", spec.hostname + "\n");
    write_file(spec.state_dir + "/hosts",
               spec.etc_hosts.empty() ? "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n"
                                      : spec.etc_hosts);
    if (!spec.etc_resolv_conf.empty()) write_file(spec.state_dir + "/resolv.conf", spec.etc_resolv_conf);

    std::string lower;
    for (const auto& l : spec.layers) lower += (lower.empty() ? "" : ":") + l;
    std::string options = "lowerdir=" + lower + ",upperdir=" + upper + ",workdir=" + work;
    // The writable layer is scratch space: mount it `volatile`, so that the
    // unmount at the container's exit does not sync the whole upper
    // filesystem (exits waited ~0.5 s behind berth's own log writes to it).
    // Overlay then marks the work dir, and refuses it again until the mark is
    // gone. The mark matters only after a host crash, and berth never reuses a
    // writable layer across one: its records live in /run, so after a reboot
    // every container is recreated from scratch.
    if (overlay_volatile_supported()) {
        std::error_code ec;
        fs::remove_all(work + "/work/incompat", ec);
        options += ",volatile";
    }
    if (options.size() >= 4096)
        throw Error("container " + spec.id + ": too many image layers for one overlay mount",
                    "flatten the image or give its layers shorter paths (BERTH_ROOT)");
    p.plan.rootfs = p.keep(rootfs);
    p.plan.overlay_options = p.keep(options);
    p.plan.read_only_root = spec.read_only;
    prepare_mounts(spec, p);
    prepare_security(spec, p);
    prepare_process(spec, p);

    Container c;
    c.id_ = spec.id;
    c.state_dir_ = spec.state_dir;
    c.capabilities_ = p.plan.capabilities;
    c.seccomp_ = p.plan.seccomp != nullptr;
    c.no_new_privileges_ = spec.no_new_privileges;

    UniqueFd pty_slave;
    if (spec.tty) {
        c.pty_ = open_pty(pty_slave);
        p.plan.stdin_fd = p.plan.stdout_fd = p.plan.stderr_fd = pty_slave.get();
        p.plan.tty = true;
    } else {
        p.plan.stdin_fd = stdio.in;
        p.plan.stdout_fd = stdio.out;
        p.plan.stderr_fd = stdio.err;
    }
    if (!spec.net_ns_path.empty())
        p.plan.net_ns_fd = p.keep_fd(UniqueFd(::open(spec.net_ns_path.c_str(), O_RDONLY | O_CLOEXEC)));
    if (!spec.net_ns_path.empty() && p.plan.net_ns_fd < 0)
        throw Error::sys(errno, "open network namespace " + spec.net_ns_path);

    // The cgroup exists, with its limits, before the child does.
    c.cgroup_ = std::make_unique<CgroupHandle>(
        cgroup_manager(manager).create(spec.cgroup_parent + "/" + spec.id, limits));

    int sync[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sync) < 0) throw Error::sys(errno, "socketpair");
    UniqueFd sync_r(sync[0]), sync_w(sync[1]);
    auto [err_r, err_w] = make_pipe();
    p.plan.sync_fd = sync_r.get();
    p.plan.sync_twice = static_cast<bool>(hooks.before_continue);
    p.plan.error_fd = err_w.get();
    p.plan.parent_fds[0] = sync_w.get();
    p.plan.parent_fds[1] = err_r.get();

    clone_args args{};
    int pidfd = -1;
    args.flags = CLONE_PIDFD | CLONE_NEWPID | CLONE_NEWNS | CLONE_NEWUTS | CLONE_NEWIPC;
    if (spec.net_ns_path.empty() && !spec.host_network) {
        args.flags |= CLONE_NEWNET;
        p.plan.loopback_up = true;
    }
    args.pidfd = reinterpret_cast<uint64_t>(&pidfd);
    args.exit_signal = SIGCHLD;
    int cg_fd = c.cgroup_->group->dir_fd();
    std::vector<UniqueFd> join_fds;
    if (cg_fd >= 0) {
        args.flags |= CLONE_INTO_CGROUP;
        args.cgroup = static_cast<uint64_t>(cg_fd);
    } else {
        try {
            join_fds = c.cgroup_->group->join_fds();
        } catch (...) {
            c.cgroup_->group->destroy();
            throw;
        }
        for (const auto& fd : join_fds) p.plan.cgroup_join_fds.push_back(fd.get());
    }
    long r = syscall(SYS_clone3, &args, sizeof args);
    if (r == 0) child_main(p.plan);
    if (r < 0) {
        int e = errno;
        c.cgroup_->group->destroy();
        throw Error::sys(e, "clone3");
    }
    c.pid_ = static_cast<pid_t>(r);
    c.pidfd_.reset(pidfd);
    sync_r.reset();
    err_w.reset();
    pty_slave.reset();
    p.child_fds.clear();
    join_fds.clear();

    // Release the child in two steps when there is a hook: it mounts its
    // filesystem while the hook (the network) runs here, and goes on to its
    // program only after the second byte. MSG_NOSIGNAL: a child that died
    // early is reported through the error pipe, not by SIGPIPE.
    char go = 1;
    try {
        if (::send(sync_w.get(), &go, 1, MSG_NOSIGNAL) != 1) throw Error::sys(errno, "container " + spec.id + ": release the child");
        if (hooks.before_continue) {
            hooks.before_continue(c.pid_);
            (void)::send(sync_w.get(), &go, 1, MSG_NOSIGNAL);
        }
    } catch (...) {
        sync_w.reset();  // the child sees EOF and exits quietly
        c.wait();
        c.teardown(true);
        throw;
    }
    sync_w.reset();

    ChildError ce{};
    ssize_t n;
    do n = ::read(err_r.get(), &ce, sizeof ce); while (n < 0 && errno == EINTR);
    if (n == static_cast<ssize_t>(sizeof ce)) {
        c.wait();
        c.teardown(true);
        throw child_error(ce);
    }
    return c;
}

Container Container::adopt(const ContainerSpec& spec, pid_t pid, UniqueFd pidfd, cgroups::Manager* manager) {
    Container c;
    c.id_ = spec.id;
    c.state_dir_ = spec.state_dir;
    c.pid_ = pid;
    c.pidfd_ = std::move(pidfd);
    c.adopted_ = true;
    c.capabilities_ = spec.privileged ? bounding_capabilities() : (spec.capabilities & bounding_capabilities());
    c.seccomp_ = spec.seccomp && !spec.privileged;
    c.no_new_privileges_ = spec.no_new_privileges;
    // The group exists: create() joins it and changes nothing.
    c.cgroup_ = std::make_unique<CgroupHandle>(cgroup_manager(manager).create(spec.cgroup_parent + "/" + spec.id, {}));
    return c;
}

ExitStatus Container::set_exit(int code, int signal) {
    if (status_) return *status_;
    siginfo_t info{};
    info.si_code = signal ? CLD_KILLED : CLD_EXITED;
    info.si_status = signal ? signal : code;
    return finish(info);
}

ExitStatus Container::finish(const siginfo_t& info) {
    ExitStatus st;
    if (info.si_code == CLD_EXITED) {
        st.code = info.si_status;
    } else {
        st.signal = info.si_status;
        st.code = 128 + info.si_status;
    }
    if (cgroup_ && cgroup_->group) {
        try {
            st.oom_killed = cgroup_->group->oom_killed();
        } catch (const std::exception&) {
        }
    }
    status_ = st;
    return st;
}

ExitStatus Container::wait() {
    if (status_) return *status_;
    siginfo_t info{};
    if (adopted_) {  // not our child: wait for its end; its status is its reaper's to tell
        if (!pidfd_) return set_exit(128 + SIGKILL, SIGKILL);
        pollfd p{pidfd_.get(), POLLIN, 0};
        while (::poll(&p, 1, -1) < 0 && errno == EINTR) {
        }
        return set_exit(128 + SIGKILL, SIGKILL);
    }
    if (!wait_exit(pidfd_.get(), info)) throw Error::sys(errno, "wait for container " + id_);
    return finish(info);
}

std::optional<ExitStatus> Container::try_wait() {
    if (status_) return status_;
    if (adopted_) return std::nullopt;
    siginfo_t info{};
    if (waitid(static_cast<idtype_t>(P_PIDFD), static_cast<id_t>(pidfd_.get()), &info, WEXITED | WNOHANG) < 0)
        throw Error::sys(errno, "wait for container " + id_);
    if (info.si_pid == 0) return std::nullopt;
    return finish(info);
}

void Container::kill(int sig) {
    if (status_ || !pidfd_) return;
    if (syscall(SYS_pidfd_send_signal, pidfd_.get(), sig, nullptr, 0) < 0 && errno != ESRCH)
        throw Error::sys(errno, "signal container " + id_);
}

void Container::freeze() {
    if (!cgroup_ || !cgroup_->group) throw Error("container " + id_ + " has no cgroup");
    cgroup_->group->freeze();
}

void Container::thaw() {
    if (!cgroup_ || !cgroup_->group) throw Error("container " + id_ + " has no cgroup");
    cgroup_->group->thaw();
}

bool Container::oom_killed() const {
    return cgroup_ && cgroup_->group && cgroup_->group->oom_killed();
}

namespace {
ExitStatus status_of(const siginfo_t& info) {
    ExitStatus st;
    if (info.si_code == CLD_EXITED) {
        st.code = info.si_status;
    } else {
        st.signal = info.si_status;
        st.code = 128 + info.si_status;
    }
    return st;
}
}  // namespace

ExitStatus ExecProcess::wait() {
    if (status_) return *status_;
    siginfo_t info{};
    if (!wait_exit(pidfd_.get(), info)) throw Error::sys(errno, "wait for exec");
    status_ = status_of(info);
    return *status_;
}

std::optional<ExitStatus> ExecProcess::try_wait() {
    if (status_) return status_;
    siginfo_t info{};
    if (waitid(static_cast<idtype_t>(P_PIDFD), static_cast<id_t>(pidfd_.get()), &info, WEXITED | WNOHANG) < 0)
        throw Error::sys(errno, "wait for exec");
    if (info.si_pid == 0) return std::nullopt;
    status_ = status_of(info);
    return status_;
}

void ExecProcess::kill(int sig) {
    if (!status_ && pidfd_) syscall(SYS_pidfd_send_signal, pidfd_.get(), sig, nullptr, 0);
}

ExecProcess ExecProcess::adopt(pid_t pid, UniqueFd pidfd) {
    ExecProcess p;
    p.pid_ = pid;
    p.pidfd_ = std::move(pidfd);
    return p;
}

namespace {

ExecProcess exec_with(int container_pidfd, cgroups::Group* group, CapSet caps, bool seccomp, bool nnp,
                      const ExecSpec& es, const Stdio& stdio, const std::string& what, int pty_slave) {
    Prepared p;
    prepare_exec(es.argv, es.env, p);
    inherit_fd_limit(p);
    p.plan.cwd = p.keep(es.cwd.empty() ? "/" : es.cwd);
    p.plan.uid = es.uid;
    p.plan.gid = es.gid;
    p.plan.groups = es.groups;
    p.plan.capabilities = caps & bounding_capabilities();
    p.plan.no_new_privileges = nnp;
    p.plan.seccomp = seccomp ? &seccomp_program(p.plan.capabilities) : nullptr;
    if (pty_slave >= 0) {
        p.plan.stdin_fd = p.plan.stdout_fd = p.plan.stderr_fd = pty_slave;
        p.plan.tty = true;
    } else {
        p.plan.stdin_fd = stdio.in;
        p.plan.stdout_fd = stdio.out;
        p.plan.stderr_fd = stdio.err;
    }

    auto [sync_r, sync_w] = make_pipe();
    auto [err_r, err_w] = make_pipe();
    p.plan.sync_fd = sync_r.get();
    p.plan.error_fd = err_w.get();
    p.plan.parent_fds[0] = sync_w.get();
    p.plan.parent_fds[1] = err_r.get();

    clone_args args{};
    int pidfd = -1;
    args.flags = CLONE_PIDFD;
    args.pidfd = reinterpret_cast<uint64_t>(&pidfd);
    args.exit_signal = SIGCHLD;
    // Born in the container's cgroup (v2), or joining it by itself (v1): see cgroups::Group::attach.
    std::vector<UniqueFd> join_fds;
    if (group && group->dir_fd() >= 0) {
        args.flags |= CLONE_INTO_CGROUP;
        args.cgroup = static_cast<uint64_t>(group->dir_fd());
    } else if (group) {
        join_fds = group->join_fds();
        for (const auto& fd : join_fds) p.plan.cgroup_join_fds.push_back(fd.get());
    }
    long r = syscall(SYS_clone3, &args, sizeof args);
    if (r == 0) exec_child_main(p.plan, container_pidfd);
    if (r < 0) throw Error::sys(errno, "clone3");
    ExecProcess proc = ExecProcess::adopt(static_cast<pid_t>(r), UniqueFd(pidfd));
    sync_r.reset();
    err_w.reset();
    join_fds.clear();
    char go = 1;
    if (::write(sync_w.get(), &go, 1) != 1) {
        proc.kill(SIGKILL);
        proc.wait();
        throw Error::sys(errno, "exec in " + what);
    }
    sync_w.reset();
    ChildError ce{};
    ssize_t n;
    do n = ::read(err_r.get(), &ce, sizeof ce); while (n < 0 && errno == EINTR);
    if (n == static_cast<ssize_t>(sizeof ce)) {
        proc.wait();
        throw child_error(ce);
    }
    return proc;
}

}  // namespace

ExecProcess Container::exec(const ExecSpec& es, const Stdio& stdio) {
    if (status_ || !pidfd_) throw Error("container " + id_ + " is not running");
    return exec_with(pidfd_.get(), cgroup_ ? cgroup_->group.get() : nullptr, capabilities_, seccomp_,
                     no_new_privileges_, es, stdio, id_, -1);
}

ExecProcess exec_in(pid_t pid, const std::string& cgroup, CapSet caps, bool seccomp, bool nnp, const ExecSpec& es,
                    const Stdio& stdio, int pty_slave, cgroups::Manager* manager) {
    int fd = static_cast<int>(syscall(SYS_pidfd_open, pid, 0));
    if (fd < 0) throw Error::sys(errno, "the container's process " + std::to_string(pid));
    UniqueFd pidfd(fd);
    std::unique_ptr<cgroups::Group> group;
    if (!cgroup.empty()) group = cgroup_manager(manager).create(cgroup, {});  // exists: joins it, changes nothing
    return exec_with(pidfd.get(), group.get(), caps, seccomp, nnp, es, stdio, cgroup, pty_slave);
}

void Container::teardown(bool remove_files) {
    if (torn_down_) return;
    if (pid_ > 0 && !status_) {
        kill(SIGKILL);
        wait();
    }
    if (cgroup_ && cgroup_->group) cgroup_->group->destroy();
    if (remove_files && !state_dir_.empty()) {
        std::error_code ec;
        fs::remove_all(state_dir_, ec);
        if (ec) spdlog::warn("container {}: remove {}: {}", id_, state_dir_, ec.message());
    }
    torn_down_ = true;
}

}  // namespace berth::runtime
