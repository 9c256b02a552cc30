// Creating and starting a container (Container::start): its state files and
// overlay, the child's plan (prepare.cc), its pty and cgroup, clone3 into new
// namespaces, the hooks run between the child's two releases, and its error
// pipe. Also Container's move and destruction. Exec is exec.cc; adopt, wait,
// signals and teardown are container_life.cc.
#include "runtime/container_internal.h"

#include <spdlog/spdlog.h>

#include <cerrno>
#include <csignal>
#include <filesystem>
#include <new>
#include <utility>
#include <fcntl.h>
#include <linux/sched.h>
#include <sched.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

namespace fs = std::filesystem;

namespace berth::runtime {

using namespace detail;

namespace {

// mkdir -p of a container's run dir; its parent may be going at this moment (the
// last one-off of a project prunes the project's empty dirs): tried again then.
void make_run_dir(const std::string& dir) {
    if (dir.empty()) return;
    for (int attempt = 0;; ++attempt) {
        std::error_code ec;
        fs::create_directories(dir, ec);
        if (!ec) return;
        if (ec != std::errc::no_such_file_or_directory || attempt == 3)
            throw Error::sys(ec.value(), "create " + dir);
    }
}

// Removes a container's run dir when its start fails before the container exists.
struct RunDirGuard {
    std::string dir;
    ~RunDirGuard() {
        if (dir.empty()) return;
        std::error_code ec;
        fs::remove_all(dir, ec);
    }
};

}  // namespace

Container::Container(Container&& o) noexcept
    : id_(std::move(o.id_)), state_dir_(std::move(o.state_dir_)), run_dir_(std::move(o.run_dir_)),
      spare_dir_(std::move(o.spare_dir_)), pid_(std::exchange(o.pid_, -1)),
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

    // Files and directories of this container: upper and work on the disk, the
    // rest, made again at every start, in the run dir (a tmpfs); removed again
    // when the start fails before the container exists.
    if (!take_spare(spec.spare_dir, spec.state_dir)) make_dir(spec.state_dir);
    const std::string& run_dir = run_dir_of(spec);
    const std::string upper = spec.state_dir + "/upper", work = spec.state_dir + "/work", rootfs = run_dir + "/rootfs";
    make_dir(upper);
    make_dir(work);
    RunDirGuard guard{spec.run_dir};
    make_run_dir(spec.run_dir);
    make_dir(rootfs);
    write_file(run_dir + "/hostname", spec.hostname + "\n");
    write_file(run_dir + "/hosts",
               spec.etc_hosts.empty() ? "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n"
                                      : spec.etc_hosts);
    if (!spec.etc_resolv_conf.empty()) write_file(run_dir + "/resolv.conf", spec.etc_resolv_conf);

    std::string lower = init_layer(spec).value_or("");  // above the image's: its mount points
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
    c.run_dir_ = spec.run_dir;
    c.spare_dir_ = spec.spare_dir;
    guard.dir.clear();  // the container's teardown removes it from here on
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
    std::vector<UniqueFd> join_fds;
    try {
        join_fds = place_in_group(*c.cgroup_->group, args, p.plan);
    } catch (...) {
        c.cgroup_->group->destroy();
        throw;
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

    if (auto err = read_child_error(err_r.get())) {
        c.wait();
        c.teardown(true);
        throw *err;
    }
    return c;
}

}  // namespace berth::runtime
