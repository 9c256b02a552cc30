// A process run inside a running container (Container::exec, exec_in for a
// container this process did not start, health checks): its plan, born in
// the container's cgroup (v2) or joining it itself (v1: the child writes 0 to
// each tasks fd), entering the container's namespaces through its pidfd; and
// ExecProcess, which waits for and signals it.
#include "runtime/container_internal.h"

#include "runtime/seccomp.h"

#include <cerrno>
#include <csignal>
#include <linux/sched.h>
#include <sched.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

namespace berth::runtime {

using namespace detail;

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
    if (group) join_fds = place_in_group(*group, args, p.plan);
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
    if (auto err = read_child_error(err_r.get())) {
        proc.wait();
        throw *err;
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

}  // namespace berth::runtime
