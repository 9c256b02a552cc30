// From a ContainerSpec (or an ExecSpec) to the ChildPlan that the cloned
// child reads: mounts, security, devices, process, exec candidates; and the
// small helpers the container files share (container_internal.h).
#include "runtime/container_internal.h"

#include "base/fdlimit.h"
#include "runtime/mount_data.h"
#include "runtime/seccomp.h"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fcntl.h>
#include <linux/sched.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/utsname.h>
#include <unistd.h>

namespace berth::runtime::detail {
namespace {

constexpr const char* kDefaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

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

}  // namespace

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
    const std::string& generated = run_dir_of(spec);
    bind(generated + "/hostname", "/etc/hostname", true, false, 0, false);
    bind(generated + "/hosts", "/etc/hosts", true, false, 0, false);
    if (!spec.etc_resolv_conf.empty()) bind(generated + "/resolv.conf", "/etc/resolv.conf", true, false, 0, false);

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
    p.plan.die_with_parent = spec.die_with_parent;
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

std::optional<Error> read_child_error(int fd) {
    ChildError ce{};
    ssize_t n;
    do n = ::read(fd, &ce, sizeof ce); while (n < 0 && errno == EINTR);
    if (n != static_cast<ssize_t>(sizeof ce)) return std::nullopt;
    return child_error(ce);
}

std::vector<UniqueFd> place_in_group(cgroups::Group& group, clone_args& args, ChildPlan& plan) {
    std::vector<UniqueFd> fds;
    if (group.dir_fd() >= 0) {
        args.flags |= CLONE_INTO_CGROUP;
        args.cgroup = static_cast<uint64_t>(group.dir_fd());
        return fds;
    }
    fds = group.join_fds();
    for (const auto& fd : fds) plan.cgroup_join_fds.push_back(fd.get());
    return fds;
}

}  // namespace berth::runtime::detail
