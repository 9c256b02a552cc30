// supervisor: one libuv loop that runs a project's containers.
//
// Every container is a Unit, an explicit state machine (unit.h: created →
// waiting → starting → running [⇄ paused] → stopping → exited, and restarting
// between runs). Everything is event-driven: a container's exit arrives as its
// pidfd turning readable, its output through pipes, signals through
// uv_signal; timers exist only for what is scheduled (health checks, restart
// backoff, stop grace periods). Each change is written to the project's state
// files, so `ps` and `down` work without this process.
#pragma once

#include "compose/model.h"
#include "plan/diff.h"

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

struct uv_loop_s;

namespace berth::supervisor {

struct UpOptions {
    std::vector<std::string> services;    // empty: all active services
    std::map<std::string, int> scale;     // --scale web=3
    bool attach = true;                   // print containers' output with a name prefix
    bool color = false;                   // … colored per service (a terminal, --ansi)
    bool abort_on_container_exit = false;
    bool abort_on_container_failure = false;  // … only on an exit with a non-zero code, which `up` ends with
    bool no_start = false;                    // create the containers, start none (`create`)
    // Whose output an attached `up` prints: --attach (these only), else the services named (all of
    // them when none is), with their dependencies under --attach-dependencies; less --no-attach.
    std::vector<std::string> attach_services, no_attach;
    bool attach_dependencies = false;
    std::optional<std::string> exit_code_from;
    std::optional<int> stop_timeout;      // -t, seconds
    bool no_deps = false;
    bool force_recreate = false;           // of the services named (all when none is)
    bool always_recreate_deps = false;    // their dependencies too
    bool no_recreate = false;             // keep existing containers even if their configuration changed
    bool wait_healthy = false;            // --wait: ready means running and, with a healthcheck, healthy
    bool remove_orphans = false;
    // Called on each container state change ("running", "health_status: healthy", …).
    std::function<void(const std::string& name, const std::string& action)> on_progress;
    // Called once: everything requested is started (ok) or `up` failed (error text).
    std::function<void(bool ok, const std::string& error)> on_ready;
    // Hooks for systemd's notification protocol (cli/up.cc, notify/notify.h):
    // every container state change for the whole run, not only until ready;
    std::function<void(const std::string& name, const std::string& state, const std::string& health,
                       std::optional<int> exit_code)> on_container;
    // the stack begins to stop (a signal, `down`, --abort-on-container-exit);
    std::function<void()> on_stopping;
    // the loop runs / has ended: a caller's handles on it (a watchdog timer) start in on_loop,
    // must not keep the loop alive (uv_unref), and are closed in on_loop_end.
    std::function<void(uv_loop_s* loop)> on_loop;
    std::function<void()> on_loop_end;
    // A whole line of a container's output; true: taken (sent to the journal), not printed.
    std::function<bool(const std::string& service, const std::string& container, std::string_view line)> on_line;
};

// The plan::diff options these flags make, acting on `wanted` (up, up while up, `up --dry-run`).
plan::DiffOptions diff_options(const UpOptions& o, const std::set<std::string>& wanted);

class Supervisor {
public:
    Supervisor(compose::Project project, UpOptions options);
    ~Supervisor();

    // Runs until the stack is stopped (signal, `down`/`stop` over the control
    // socket, --abort-on-container-exit, or every container done for good).
    // Returns the exit code `up` should end with.
    int run();

    struct Impl;  // supervisor.cc

private:
    std::unique_ptr<Impl> impl_;
};

// `down` without (or after) a supervisor: kills what the state files say still
// runs, removes cgroups, container dirs and the project's state; with
// remove_volumes also the project's named volumes. Returns the names removed.
// Orphans (containers of services no longer in `model`) are kept unless
// remove_orphans; with no model every container goes.
std::vector<std::string> cleanup_project(const std::string& project, bool remove_volumes,
                                         const compose::Project* model, bool remove_orphans = true);

// Named volumes mounted by a running container of any project: volume → container.
std::map<std::string, std::string> volumes_in_use();

// Names of the project's containers (from its state) whose service `model` no longer has.
std::vector<std::string> orphans(const compose::Project& model);

}  // namespace berth::supervisor
