// A container's life after its start: adopting one this process did not
// start (live restore), waiting for its exit (with its OOM kill read from
// the cgroup), signalling, freezing and thawing it, and its teardown.
#include "runtime/container_internal.h"

#include <spdlog/spdlog.h>

#include <cerrno>
#include <csignal>
#include <filesystem>
#include <poll.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

namespace fs = std::filesystem;

namespace berth::runtime {

namespace detail {

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

}  // namespace detail

namespace {

std::string signal_name(int sig) {
    const char* abbrev = sigabbrev_np(sig);
    return abbrev ? std::string("SIG") + abbrev : "signal " + std::to_string(sig);
}

}  // namespace

using namespace detail;

std::string ExitStatus::reason() const {
    if (oom_killed) return "OOMKilled";
    if (signal) return "killed by " + signal_name(signal);
    return "exited with code " + std::to_string(code);
}

Container Container::adopt(const ContainerSpec& spec, pid_t pid, UniqueFd pidfd, cgroups::Manager* manager) {
    Container c;
    c.id_ = spec.id;
    c.state_dir_ = spec.state_dir;
    c.run_dir_ = spec.run_dir;
    c.spare_dir_ = spec.spare_dir;
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
    ExitStatus st = status_of(info);
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

void Container::teardown(bool remove_files) {
    if (torn_down_) return;
    if (pid_ > 0 && !status_) {
        kill(SIGKILL);
        wait();
    }
    if (cgroup_ && cgroup_->group) cgroup_->group->destroy();
    if (!run_dir_.empty()) {
        std::error_code ec;
        fs::remove_all(run_dir_, ec);
        if (ec) spdlog::warn("container {}: remove {}: {}", id_, run_dir_, ec.message());
    }
    if (remove_files && !state_dir_.empty()) recycle_state_dir(spare_dir_, state_dir_, id_);
    torn_down_ = true;
}

}  // namespace berth::runtime
