// runtime::Container — one running container made from a ContainerSpec.
//
// start() prepares everything that allocates (paths, argv, the seccomp
// program, the cgroup) in the parent, then clone3()s a child into new pid,
// mount, uts, ipc, net and cgroup namespaces. The child waits on a sync pipe
// until the parent has attached it to its cgroup and run the caller's hook
// (network setup), then sets itself up top to bottom (see child.cc) and
// execs. Any failure in the child comes back over a CLOEXEC error pipe as
// errno plus the step that failed, and start() throws it as berth::Error.
#pragma once

#include "base/fd.h"
#include "runtime/spec.h"

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>
#include <csignal>
#include <sys/types.h>

namespace berth::runtime {

// The container's stdin/stdout/stderr; -1 means /dev/null. With spec.tty the
// three are ignored and a pty is made: Container::pty_master() is its master.
struct Stdio {
    int in = -1, out = -1, err = -1;
};

struct ExitStatus {
    int code = 0;        // exit code, or 128 + signal as a shell reports it
    int signal = 0;      // the signal that ended it, 0 if it exited
    bool oom_killed = false;
    std::string reason() const;  // "exited with code 3", "killed by SIGKILL", "OOMKilled"
};

struct StartHooks {
    // Runs in the parent once the child exists and is in its cgroup, while the
    // child mounts its filesystem; the child runs nothing of the container's
    // (sysctls, the program) before it returns. E.g. network setup in the
    // child's namespace (/proc/PID/ns/net). When it throws, the child exits.
    std::function<void(pid_t)> before_continue;
};

class CgroupHandle;  // defined in container_internal.h over the cgroups module

// A process run inside a running container (exec, health checks).
struct ExecSpec {
    std::vector<std::string> argv;
    std::vector<std::string> env;  // "K=V"; PATH decides where argv[0] is looked up
    std::string cwd = "/";
    uid_t uid = 0;
    gid_t gid = 0;
    std::vector<gid_t> groups;
};

class ExecProcess {
public:
    pid_t pid() const { return pid_; }
    int pidfd() const { return pidfd_.get(); }
    ExitStatus wait();                      // blocks
    std::optional<ExitStatus> try_wait();   // nullopt while it runs
    void kill(int sig);                     // its program dies with it
    static ExecProcess adopt(pid_t pid, UniqueFd pidfd);

private:
    pid_t pid_ = -1;
    UniqueFd pidfd_;
    std::optional<ExitStatus> status_;
};

// Joins a container this process did not start (`berth exec` from the CLI):
// its PID 1 `pid`, its cgroup (relative path, e.g. "berth/web-1") and the
// capability set and seccomp mode it runs with.
// `manager`: the hierarchy's manager; null, the machine's (detected once).
ExecProcess exec_in(pid_t pid, const std::string& cgroup, CapSet capabilities, bool seccomp,
                    bool no_new_privileges, const ExecSpec& spec, const Stdio& stdio, int pty_slave = -1,
                    cgroups::Manager* manager = nullptr);

class Container {
public:
    // `manager` makes the container's group; null, the machine's manager
    // (cgroups::detect(), once per process).
    static Container start(const ContainerSpec& spec, const Stdio& stdio, const StartHooks& hooks = {},
                           cgroups::Manager* manager = nullptr);

    // A container this process did not start (live restore): its PID 1 `pid`,
    // held by `pidfd`, made from `spec` (its cgroup is joined, nothing else
    // done). It is not this process's child: its exit status comes from its
    // reaper through set_exit(); wait() until then only waits for the end.
    static Container adopt(const ContainerSpec& spec, pid_t pid, UniqueFd pidfd, cgroups::Manager* manager = nullptr);
    // The exit of an adopted container, as its reaper saw it.
    ExitStatus set_exit(int code, int signal);
    bool adopted() const { return adopted_; }

    Container(Container&&) noexcept;
    Container& operator=(Container&&) noexcept;
    ~Container();  // kills, reaps and tears down if still running

    const std::string& id() const { return id_; }
    pid_t pid() const { return pid_; }
    int pidfd() const { return pidfd_.get(); }     // readable when the container has exited
    int pty_master() const { return pty_.get(); }  // -1 without tty
    UniqueFd take_pty_master() { return std::move(pty_); }

    // Blocks until the container's PID 1 ends and reaps it.
    ExitStatus wait();
    // Reaps it if it has ended; nullopt while it runs.
    std::optional<ExitStatus> try_wait();
    bool exited() const { return status_.has_value(); }
    // Sends a signal to PID 1 (through the pidfd: never a recycled pid).
    void kill(int sig);

    // Starts a process in the container's namespaces and cgroup, with the
    // container's capabilities and seccomp filter. Errors of the exec itself
    // (no such program) are thrown, as for start().
    ExecProcess exec(const ExecSpec& spec, const Stdio& stdio);

    // The cgroup's view, for stats and `pause`.
    bool oom_killed() const;
    void freeze();  // every process of the container stops (cgroup freezer)
    void thaw();

    // Removes the cgroup (killing any process left in it), the run dir and,
    // when remove_files, the container's upper and work dirs. Idempotent.
    void teardown(bool remove_files = true);

private:
    Container() = default;
    ExitStatus finish(const siginfo_t& info);

    std::string id_;
    std::string state_dir_;
    std::string run_dir_;  // removed at every teardown: made again at every start
    std::string spare_dir_;
    pid_t pid_ = -1;
    UniqueFd pidfd_;
    UniqueFd pty_;
    std::unique_ptr<CgroupHandle> cgroup_;
    std::optional<ExitStatus> status_;
    bool torn_down_ = false;
    CapSet capabilities_ = 0;
    bool seccomp_ = true;
    bool no_new_privileges_ = false;
    bool adopted_ = false;
};

}  // namespace berth::runtime
