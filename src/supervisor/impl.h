// supervisor/impl: the supervisor's insides, shared by its files: the loop and
// its handles, the project and the units, the network services, the control
// peers waiting for an answer. It is every unit's UnitHost. Internal: nothing
// outside src/supervisor includes it.
#pragma once

#include "base/fd.h"
#include "base/uv_handle.h"
#include "compose/model.h"
#include "control/control.h"
#include "images/store.h"
#include "keeper/client.h"
#include "netns/netns.h"
#include "plan/brief.h"
#include "plan/diff.h"
#include "plan/plan.h"
#include "state/state.h"
#include "supervisor/container_spec.h"
#include "supervisor/launch.h"
#include "supervisor/schedule.h"
#include "supervisor/supervisor.h"
#include "supervisor/unit.h"

#include <uv.h>

#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

namespace berth::supervisor {

// `up --remove-orphans`, under the supervisor's lock: the orphans go, the rest stays (cleanup.cc).
void remove_orphans(const compose::Project& model);

// Seconds a container has to exit after its stop signal: -t, stop_grace_period, or 10.
int stop_grace(std::optional<int> stop_grace_s, const UpOptions& o);

// The libuv callbacks of the supervisor, named for logs and for BERTH_TEST_FAULT (guard.cc).
enum class Callback { Timer, Exit, Output, HealthTimer, HealthDone, Keeper, Signal };

struct Supervisor::Impl final : UnitHost {
    compose::Project project;
    UpOptions opts;
    uv_loop_t loop{};
    std::string root = state::state_root();
    state::ProjectState pstate{state::runtime_dir(), project.name};
    images::Store store{root};
    Units units;
    std::unique_ptr<control::Server> server;
    UvHandle<uv_signal_t> sigint, sigterm;
    UniqueFd lock;
    bool stopping = false;  // everything is being stopped (signal, down, abort-on-container-exit)
    bool remove_on_exit = false;
    bool ready_sent = false;
    int interrupts = 0;
    int exit_code = 0;
    std::vector<std::shared_ptr<control::Peer>> waiting_peers;
    struct Waiter {
        std::shared_ptr<control::Peer> peer;
        std::vector<std::string> names;  // answered once none of these runs or restarts
        bool until_running = false;      // restart: answered once all run again
        bool report_failures = false;    // start: those that could not start make the answer an error
    };
    std::vector<Waiter> waiters;
    // `berth run`'s wait for its service's dependencies (op "wait_dependencies").
    struct DependencyWaiter {
        std::shared_ptr<control::Peer> peer;
        std::map<std::string, compose::Dependency> depends_on;
        std::set<std::string> skipped;      // optional ones that failed: warned of once, not judged again
        std::vector<std::string> warnings;  // … what was said of them
    };
    std::vector<DependencyWaiter> dependency_waiters;
    std::map<const control::Peer*, nlohmann::json> peer_notes;  // extra fields for a waiter's reply
    std::deque<compose::Project> retired;  // earlier models: units may still point into them
    std::map<std::string, images::ResolvedImage> images_by_service;
    std::map<std::string, plan::ServicePlan> briefs;  // of the services acted on, resolved before they start
    std::vector<std::shared_ptr<control::Peer>> subscribers;  // `events`
    Units retired_units;                                       // removed by `rm`, freed with the loop
    std::unique_ptr<netns::Networks> nets;
    std::unique_ptr<netns::DnsServer> dns;
    std::unique_ptr<netns::NftQueue> nft;  // DNAT rules of published ports, installed beside the loop
    std::map<std::string, std::string> last_event;  // name → state+health last sent
    std::unique_ptr<keeper::Client> keeper;  // the project's keeper, when one runs (keeper/keeper.h)
    UvHandle<uv_poll_t> keeper_poll;         // its exit reports
    std::vector<std::pair<Unit*, keeper::Exit>> exited_meanwhile;  // adopted, exited while no supervisor ran
    std::vector<Unit*> start_after_exit;  // … of the services `up` starts: started again, as `up` starts what exited

    Impl(compose::Project p, UpOptions o) : project(std::move(p)), opts(std::move(o)) {}

    // ---- UnitHost (unit_host.cc, supervisor.cc) ----
    void launch(Unit& u) override;
    void started(Unit& u) override;
    void signal(Unit& u, int sig) override;
    void thaw(Unit& u) override;
    void arm_timer(Unit& u, int64_t ms) override;
    void cancel_timer(Unit& u) override;
    void changed(Unit& u) override;
    bool stopping_all() const override { return stopping; }
    void restart_dependents(Unit& u) override;
    void start_failed(Unit& u) override;
    int64_t now_ns() const override;

    int grace(const Unit& u) const { return stop_grace(u.brief.stop_grace_s, opts); }

    // ---- the loop and scheduling (supervisor.cc) ----
    // Images and briefs of these services: a missing image or a bad value fails before anything starts.
    void resolve(const compose::Project& p, const std::set<std::string>& services, const char* no_image_hint);
    // Bridges, addresses and firewall tables of the networks these services use.
    void ensure_networks(const std::set<std::string>& services);
    Unit* add_unit(const plan::Change& ch, bool start = true);
    void emit_event(const state::ContainerRecord& r);
    void ready(bool ok, const std::string& err);
    void fail_up(const std::string& err);
    void warn_user(const std::string& warning);
    void schedule();
    void stop_all(bool kill_now);
    void advance_stop();
    void check_done();
    void answer_waiters();  // … and the dependency waiters
    void answer_dependency_waiters();
    void launch_failed(DependencyWaiter& w, Blocker& b);
    void on_exit(Unit& u);  // its pidfd turned readable
    void close_unit(Unit& u);

    // ---- libuv callbacks (guard.cc) ----
    // Runs a libuv callback's body. An exception must never unwind through uv_run: it would end
    // the supervisor, and every container's supervision with it. A failure is logged and handled
    // for its unit (callback_failed); the loop goes on.
    template <class F>
    void guarded(Callback where, Unit* u, F&& body) noexcept {
        try {
            inject_fault(where, u);
            body();
        } catch (const std::exception& e) {
            callback_failed(where, u, e.what());
        } catch (...) {
            callback_failed(where, u, "unknown exception");
        }
    }
    // A callback threw: a health check counts as failed, an exit is handled once more with the
    // container's status made known (else the unit is marked exited, 255, with the error), a
    // stop's grace timer kills, a restart's is retried, the keeper is treated as gone.
    void callback_failed(Callback where, Unit* u, const std::string& err) noexcept;
    // Tests only: BERTH_TEST_FAULT=WHERE:CONTAINER[@N][,…] throws at the start of that callback
    // (its first N calls; WHERE: timer, exit, output, health-timer, health-done, keeper, signal;
    // CONTAINER * for the project's own callbacks).
    static void inject_fault(Callback where, const Unit* u);
    void exit_failed(Unit& u, const std::string& err);
    void keeper_gone();  // its connection broke: adopted containers' pidfds say when they end

    // ---- starting a container (unit_host.cc, on launch.h's path) ----
    // The addresses of this container on its networks (stable across restarts),
    // its /etc/hosts entries, or the namespace it shares (network_mode).
    Addresses plan_network(Unit& u, NetworkSetup& net);

    // ---- published ports (ports.cc) ----
    // Fixed published ports: taken twice in the file, or already taken on the host, fail `up` now.
    void check_ports(const std::vector<plan::ContainerPlan>& plans, const std::set<std::string>& wanted);
    void open_ports(Unit& u);
    void publish_ports(Unit& u);
    void point_proxies(Unit& u, uint32_t ip);
    void unpublish_ports(Unit& u);

    // ---- output of containers (output.cc) ----
    void open_output(Unit& u, int stream, UniqueFd fd);
    void on_output(Unit& u, int stream, const char* data, size_t n);
    void emit_line(Unit& u, int stream, std::string_view line);
    bool printed(const std::string& service) const;  // attached: its output is printed
    bool watched(const std::string& service) const;  // attached: `up` ends once these have exited
    void report_log_state(Unit& u, int was);  // a log paused by a failing write, or resumed

    // ---- health checks (health.cc) ----
    void schedule_health(Unit& u, int64_t delay_ns);
    void cancel_health(Unit& u);
    void run_health(Unit& u);
    void health_done(Unit& u, bool timed_out);
    void record_health(Unit& u, int code, const std::string& output);

    // ---- DNS answers (dns_answers.cc) ----
    std::optional<netns::DnsAnswer> dns_lookup(const std::string& asker, const std::string& name);
    void lookup_one_off(const Unit& asker, const std::string& qname, netns::DnsAnswer& out);

    // ---- control operations (control_ops.cc), one function per op ----
    void handle(const control::Json& req, const std::shared_ptr<control::Peer>& peer);
    // `up` (and `create`: f.no_start) while up, with its request's flags; the scale is opts.scale.
    void apply(compose::Project next, const UpOptions& f, const std::shared_ptr<control::Peer>& peer);
    void op_down(const control::Json& req, const std::shared_ptr<control::Peer>& peer);
    void op_up(const control::Json& req, const std::shared_ptr<control::Peer>& peer);
    void op_stop(const std::vector<Unit*>& targets, int timeout, const std::shared_ptr<control::Peer>& peer);
    void op_start(const std::vector<Unit*>& targets, const std::shared_ptr<control::Peer>& peer);
    void op_restart(const std::vector<Unit*>& targets, int timeout, const std::shared_ptr<control::Peer>& peer);
    void op_wait(const std::vector<Unit*>& targets, const std::shared_ptr<control::Peer>& peer);
    void op_wait_dependencies(const control::Json& req, const std::shared_ptr<control::Peer>& peer);
    void op_rm(const std::vector<Unit*>& targets, const std::shared_ptr<control::Peer>& peer);
    void op_kill(const std::vector<Unit*>& targets, int sig, const std::shared_ptr<control::Peer>& peer);
    void op_pause(const std::vector<Unit*>& targets, bool pause, const std::shared_ptr<control::Peer>& peer);

    // ---- what a gone supervisor left (cleanup.cc) ----
    // Stops what it left running, but for the containers named in `adopted`.
    void stop_survivors(const std::set<std::string>& adopted);

    // ---- live restore (restore.cc) ----
    // Attaches to the project's keeper, if one runs: the containers it holds.
    std::map<std::string, keeper::Held> attach_keeper();
    // Of the project's records, those whose container the keeper holds and that still run
    // (or exited while no supervisor ran): to re-adopt.
    std::vector<state::ContainerRecord> adoptable(const std::map<std::string, keeper::Held>& held) const;
    Unit* adopt(const state::ContainerRecord& r, keeper::Held& h);
    // What the keeper holds that was not adopted: stopped (the keeper forgets it) or an orphan
    // kept running (the keeper goes on draining its output).
    void release_held(std::map<std::string, keeper::Held>& held, const std::map<std::string, Unit*>& adopted);
    bool keeper_is_parent = false;  // containers we start are re-parented to the keeper should we die
    void watch_keeper();    // its exit reports, in the loop
    void on_keeper();       // … one arrived
    void deliver_exits();   // exits of adopted containers that ended while no supervisor ran
    void keeper_add(Unit& u, int out, int err);  // a started container's pipes, held against our death
};

}  // namespace berth::supervisor
