// supervisor/unit: one container of the project as an explicit state machine.
//
//   Created ─(wait)→ Waiting ─(go)→ Starting → Running ⇄ Paused
//   Running/Paused ─(stop)→ Stopping ─(exit)→ Exited | Restarting | Starting (restart asked)
//   Stopping's sub-state `AfterStop` says which: Exit (a stop: the policy decides), Start (`restart`,
//   a recreate, a dependency's restart) or Wait (a `restart: true` dependent: Waiting until its
//   dependency meets its condition again) or Create (`create` while up recreates it: Created, its
//   next start makes a new filesystem). A user's stop during a restart's stop makes it Exit: final.
//   Running ─(exit)→ Restarting (policy says so) ─(timer)→ Starting, else → Exited
//   Starting ─(launch fails)→ Exited (127, the error as its reason)
//   The next start's filesystem (`Disk`): New after an event with `recreate` (a new container or a
//   changed configuration), Keep again once a start makes it.
//
// `Unit::on` is the one transition function. What a transition does to the
// world (start the container, signal it, arm the unit's timer, write its
// record) goes through UnitHost: the supervisor in production, a fake in
// supervisor_test. What a started container holds (pipes, log, pidfd poll,
// timers, health probe, port listeners) is the unit's Instance, owned here and
// released through RAII owners.
#pragma once

#include "base/fd.h"
#include "base/uv_handle.h"
#include "compose/model.h"
#include "images/store.h"
#include "logs/log_file.h"
#include "netns/netns.h"
#include "plan/brief.h"
#include "plan/plan.h"
#include "runtime/container.h"
#include "supervisor/readiness.h"
#include "state/state.h"

#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace berth::supervisor {

enum class State { Created, Waiting, Starting, Running, Paused, Stopping, Restarting, Exited };
// Stopping's sub-state: what its container's exit leads to (Wait: waiting for its dependencies again,
// a `depends_on: restart: true` dependent of a service being restarted).
enum class AfterStop { Exit, Start, Wait, Create };
enum class Disk { Keep, New };         // the next start's filesystem: the one there, or a new one

const char* state_text(State s);    // as records and `ps` say it: "created", "running", …
const char* health_text(Health h);  // "", "starting", "healthy", "unhealthy"

struct Unit;

// What a unit asks of the world.
class UnitHost {
public:
    virtual ~UnitHost() = default;
    // Starts the unit's container; throws berth::Error when it
    // cannot. Calls u.mark_starting() once it is about to create the container.
    virtual void launch(Unit& u) = 0;  // a new filesystem when u.disk() is New
    virtual void started(Unit& u) = 0;  // it runs and its record says so: ports, exit watch, health checks
    virtual void signal(Unit& u, int sig) = 0;
    virtual void thaw(Unit& u) = 0;
    virtual void arm_timer(Unit& u, int64_t ms) = 0;  // the unit's one timer: restart backoff or stop grace
    virtual void cancel_timer(Unit& u) = 0;
    virtual void changed(Unit& u) = 0;  // write its record, send its event
    virtual bool stopping_all() const = 0;
    virtual void restart_dependents(Unit& u) = 0;  // depends_on with restart: true
    virtual void start_failed(Unit& u) = 0;
    virtual int64_t now_ns() const = 0;
};

// What a started container holds; empty before the first start (and in tests).
struct Instance {
    std::optional<runtime::Container> container;
    std::unique_ptr<logs::LogWriter> log;
    std::string partial[2];        // an unfinished output line per stream
    std::deque<std::string> tail;  // last lines, for error messages
    UvHandle<uv_poll_t> exit_poll;
    UvHandle<uv_pipe_t> pipes[2];
    UvHandle<uv_timer_t> timer;  // restart backoff or stop grace
    UvHandle<uv_timer_t> health_timer;
    UvHandle<uv_poll_t> health_poll;
    std::optional<runtime::ExecProcess> health_proc;
    UniqueFd health_out;
    int64_t health_started = 0;
    int health_failures = 0;
    std::vector<std::unique_ptr<netns::PortProxy>> proxies;  // published ports, for the life of the unit
    // The same ports on [::] for those published on every address (null where
    // the host has no IPv6): forwarded by the kernel to a container with an
    // IPv6 address, else proxied to its IPv4 address.
    std::vector<std::unique_ptr<netns::PortProxy>> proxies6;
    std::string proxies_key;  // the ports configuration they were made for
    uint32_t primary_ip = 0;  // address on the first network: where published ports forward to
    std::string primary_net;  // … and that network's name
    bool published = false;   // kernel forwarding (DNAT) rules are in place
};

struct Event {
    enum Kind {
        Wait,     // `up`/apply: start once its dependencies are met
        Go,       // its dependencies are met (or, by_user, `start`: its stop and backoff forgotten): start now
        Hold,     // a dependency failed: not started, `up` or `start` tries again
        Exit,     // its container exited with `code`
        Stop,     // stop within `grace_s` (by_user: no restart policy brings it back)
        Restart,  // stop within `grace_s` and start again (`restart`, a recreate, a dependency's restart)
        Recreate,  // stop within `grace_s`, then Created with a new filesystem at its next start (`create` while up)
        Timer,    // its timer fired
        Pause,
        Unpause,
    };
    Kind kind;
    int code = 0;
    int grace_s = 0;
    bool by_user = false;
    bool recreate = false;  // Wait, Restart: its next start makes a new filesystem
    bool wait_deps = false;  // Restart: start again once its dependencies are met (depends_on restart: true)
};

struct Unit {
    Unit(UnitHost& host, plan::ContainerPlan cp, const compose::Service* svc, plan::ServicePlan brief);

    UnitHost& host;
    plan::ContainerPlan cp;
    const compose::Service* svc;  // into the supervisor's current model
    images::ResolvedImage image;
    plan::ServicePlan brief;  // svc resolved with image: what the unit acts on
    state::ContainerRecord rec;
    Instance inst;
    int64_t started_ns = 0;

    const std::string& name() const { return cp.name; }
    State state() const { return state_; }
    Health health() const { return health_; }
    bool running() const { return state_ == State::Running || state_ == State::Paused || state_ == State::Stopping; }
    bool pending() const { return state_ == State::Waiting; }
    bool done() const { return state_ == State::Exited; }  // exited, no restart coming
    bool restart_due() const { return state_ == State::Restarting; }
    bool restart_after_stop() const { return state_ == State::Stopping && after_stop_ != AfterStop::Exit; }
    Disk disk() const { return disk_; }
    int64_t backoff_ms() const { return backoff_ms_; }  // the wait before the next policy restart
    bool started_once() const { return starts_ > 0; }
    // Its last start failed (the launch threw: exited, 127, the error as its reason), and nothing since.
    bool launch_failed() const { return state_ == State::Exited && launch_failed_; }
    // Something will still happen to it: it runs, waits for dependencies or for its restart.
    bool live() const { return running() || pending() || restart_due(); }

    // The transition function. Go returns false when the container could not start.
    bool on(const Event& e);

    void set_health(Health h);
    // launch is about to create the container (on the filesystem disk() says, which it makes now).
    void mark_starting();
    // A container that runs already (live restore): running (or paused) without a start.
    void adopt(bool paused);
    void save() { host.changed(*this); }

private:
    void set(State s);
    bool start();
    void exited(int code);
    void stop(int grace_s, bool by_user);

    State state_ = State::Created;
    Health health_ = Health::None;
    AfterStop after_stop_ = AfterStop::Exit;  // meaningful in Stopping only
    Disk disk_ = Disk::Keep;
    int64_t backoff_ms_ = 100;
    int starts_ = 0;
    bool launch_failed_ = false;
};

}  // namespace berth::supervisor
