// The control socket's operations, one function each: down, ping, events, up
// (apply: `up` while up), wait_dependencies (`berth run`'s), stop, start, restart,
// wait, rm, kill, pause, unpause.
#include "base/error.h"
#include "compose/wire.h"
#include "supervisor/impl.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <csignal>
#include <filesystem>
#include <unistd.h>

namespace fs = std::filesystem;

namespace berth::supervisor {
namespace {

void reply_names(const std::shared_ptr<control::Peer>& peer, const std::vector<Unit*>& targets) {
    std::vector<std::string> names;
    for (auto* u : targets) names.push_back(u->name());
    peer->send({{"ok", true}, {"containers", names}});
}

std::vector<std::string> names_of(const std::vector<Unit*>& targets) {
    std::vector<std::string> names;
    for (auto* u : targets) names.push_back(u->name());
    return names;
}

}  // namespace

void Supervisor::Impl::handle(const control::Json& req, const std::shared_ptr<control::Peer>& peer) {
    std::string op = req.value("op", "");
    if (op == "down") return op_down(req, peer);
    if (op == "ping") return peer->send({{"ok", true}, {"pid", ::getpid()}});
    if (op == "events") return subscribers.push_back(peer);
    if (op == "up") return op_up(req, peer);
    if (op == "wait_dependencies") return op_wait_dependencies(req, peer);
    std::set<std::string> wanted;
    for (const auto& s : req.value("services", nlohmann::json::array())) wanted.insert(s.get<std::string>());
    for (const auto& s : wanted)
        if (!unit_of(units, s)) return peer->send({{"ok", false}, {"error", "no such service in the running project: " + s}});
    std::set<std::string> named;  // "containers": only these (scale's surplus replicas)
    for (const auto& c : req.value("containers", nlohmann::json::array())) named.insert(c.get<std::string>());
    std::vector<Unit*> targets;
    for (auto& u : units)
        if ((wanted.empty() || wanted.count(u->cp.service)) && (named.empty() || named.count(u->name())))
            targets.push_back(u.get());
    int timeout = req.contains("timeout") && req["timeout"].is_number() ? req["timeout"].get<int>() : -1;
    try {
        if (op == "stop") op_stop(targets, timeout, peer);
        else if (op == "start") op_start(targets, peer);
        else if (op == "restart") op_restart(targets, timeout, peer);
        else if (op == "wait") op_wait(targets, peer);
        else if (op == "rm") op_rm(targets, peer);
        else if (op == "kill") op_kill(targets, req.value("signal", SIGKILL), peer);
        else if (op == "pause" || op == "unpause") op_pause(targets, op == "pause", peer);
        else peer->send({{"ok", false}, {"error", "unknown op \"" + op + "\""}});
    } catch (const std::exception& e) {
        peer->send({{"ok", false}, {"error", e.what()}});
    }
}

void Supervisor::Impl::op_down(const control::Json& req, const std::shared_ptr<control::Peer>& peer) {
    if (req.contains("timeout") && req["timeout"].is_number()) opts.stop_timeout = req["timeout"].get<int>();
    remove_on_exit = true;
    waiting_peers.push_back(peer);
    stop_all(false);
}

void Supervisor::Impl::op_up(const control::Json& req, const std::shared_ptr<control::Peer>& peer) {
    try {
        // The CLI loaded the files (and enabled the services it names): the project comes whole.
        compose::Project loaded = compose::from_wire(req.value("project", nlohmann::json()));
        if (loaded.name != project.name)
            throw Error("the project sent is " + loaded.name + ", this supervisor runs " + project.name);
        for (const auto& [s, n] : req.value("scale", std::map<std::string, int>{})) opts.scale[s] = n;  // up --scale
        UpOptions f;
        f.services = req.value("services", std::vector<std::string>{});
        f.force_recreate = req.value("force_recreate", false);
        f.always_recreate_deps = req.value("always_recreate_deps", false);
        f.no_recreate = req.value("no_recreate", false);
        f.no_deps = req.value("no_deps", false);
        f.no_start = req.value("no_start", false);
        apply(std::move(loaded), f, peer);
    } catch (const Error& e) {
        peer->send({{"ok", false}, {"error", e.what()}, {"hint", e.hint()}});
    } catch (const std::exception& e) {
        peer->send({{"ok", false}, {"error", e.what()}});
    }
}

// `up` while up: services whose configuration changed are recreated, new ones
// started, the rest keep running untouched (plan::diff decides).
void Supervisor::Impl::apply(compose::Project next, const UpOptions& f, const std::shared_ptr<control::Peer>& peer) {
    const std::vector<std::string>& services = f.services;
    const bool no_deps = f.no_deps, no_start = f.no_start;
    plan::start_order(next);
    std::set<std::string> wanted;
    if (services.empty()) {
        for (auto& [n, _] : next.services) wanted.insert(n);
    } else if (no_deps) {  // up --no-deps SERVICE: its dependencies stay as they are
        wanted.insert(services.begin(), services.end());
    } else {
        wanted = plan::with_dependencies(next, services);
    }
    resolve(next, wanted, "set `image:` or `build:`");
    retired.push_back(std::move(project));
    project = std::move(next);
    ensure_networks(wanted);
    nlohmann::json changed = nlohmann::json::array(), started = nlohmann::json::array(), kept = nlohmann::json::array(),
                   created = nlohmann::json::array(), restarted = nlohmann::json::array();
    std::vector<std::string> waiting;
    std::vector<plan::Current> current;
    std::map<std::string, Unit*> by_name;
    for (auto& u : units) {
        auto it = project.services.find(u->cp.service);
        if (it == project.services.end()) continue;  // an orphan: left as it is
        u->svc = &it->second;
        // A service whose image changed (rebuilt, pulled anew) is recreated, as compose does.
        std::string hash = u->rec.config_hash;
        auto img = images_by_service.find(u->cp.service);
        if (img != images_by_service.end() && !u->image.record.id.empty() && img->second.record.id != u->image.record.id)
            hash = "image changed";
        current.push_back({u->name(), u->cp.service, hash, u->rec.config_keys, u->running() || u->restart_due()});
        by_name[u->name()] = u.get();
    }
    plan::DiffOptions d = diff_options(f, wanted);
    d.scale = opts.scale;  // the request's --scale is in opts already
    for (const auto& ch : plan::diff(current, project, d)) {
        if (ch.action == plan::Action::Create && no_start) {  // `create` while up
            add_unit(ch, false);
            created.push_back(ch.container);
            continue;
        }
        if (no_start) {  // `create` while up: what changed (all, with --force-recreate) is stopped and left
            if (ch.action == plan::Action::Recreate) {  // Created, made anew by its next start, as docker compose
                Unit* u = by_name.at(ch.container);
                u->image = images_by_service.at(u->cp.service);
                u->brief = briefs.at(u->cp.service);
                u->on({.kind = Event::Recreate, .grace_s = grace(*u), .by_user = true});
                u->rec.config_hash = u->brief.config_hash;  // made for this configuration: the next `up` starts it
                u->rec.config_keys = u->brief.config_keys;
                u->save();
                changed.push_back(u->name());
            }
            continue;
        }
        if (ch.action == plan::Action::Create) {
            add_unit(ch);
            started.push_back(ch.container);
            waiting.push_back(ch.container);
            continue;
        }
        Unit* u = by_name.at(ch.container);
        if (ch.action == plan::Action::Keep) {
            kept.push_back(u->name());
            continue;
        }
        bool differs = ch.action == plan::Action::Recreate;
        if (differs) spdlog::info("{}: recreated: {}", u->name(), ch.reason);
        u->image = images_by_service.at(u->cp.service);
        u->brief = briefs.at(u->cp.service);
        waiting.push_back(u->name());
        (differs ? changed : started).push_back(u->name());
        if (u->running()) {
            // One in a recreated service's namespaces starts again once that one runs.
            u->on({.kind = Event::Restart, .grace_s = grace(*u), .by_user = true, .recreate = differs,
                   .wait_deps = ch.after_dependencies});
            // Its `restart: true` dependents start again once it is back (docker compose's up does so).
            for (Unit* d : restart_with(units, u->cp.service))
                if (std::find(waiting.begin(), waiting.end(), d->name()) == waiting.end())
                    waiting.push_back(d->name()), restarted.push_back(d->name());
            restart_dependents(*u);
        } else {
            u->on({.kind = Event::Wait, .recreate = differs});
        }
    }
    pstate.write_project(nlohmann::json{{"name", project.name}, {"working_dir", project.working_dir},
                                        {"files", project.compose_files}, {"supervisor", ::getpid()}});
    for (const auto& n : restarted) kept.erase(std::remove(kept.begin(), kept.end(), n), kept.end());
    schedule();
    if (no_start) waiters.push_back({peer, changed.get<std::vector<std::string>>(), false});  // once stopped
    else waiters.push_back({peer, waiting, true});
    peer_notes[peer.get()] = {{"recreated", changed}, {"started", started}, {"running", kept}, {"created", created},
                             {"restarted", restarted}};
    answer_waiters();
}

void Supervisor::Impl::op_stop(const std::vector<Unit*>& targets, int timeout, const std::shared_ptr<control::Peer>& peer) {
    for (auto* u : targets) u->on({Event::Stop, 0, timeout >= 0 ? timeout : grace(*u), true});
    waiters.push_back({peer, names_of(targets), false});
    answer_waiters();
}

// `start`: the containers named, and what they depend on, started as `up` starts them (dependency
// order, conditions); answered once they run, or with the errors of those that could not start.
void Supervisor::Impl::op_start(const std::vector<Unit*>& targets, const std::shared_ptr<control::Peer>& peer) {
    std::vector<std::string> services;
    for (auto* u : targets) services.push_back(u->cp.service);
    std::set<std::string> with = plan::with_dependencies(project, services);
    std::vector<Unit*> all;
    for (auto& u : units)
        if (std::find(targets.begin(), targets.end(), u.get()) != targets.end() ||
            (with.count(u->cp.service) && std::find(services.begin(), services.end(), u->cp.service) == services.end()))
            all.push_back(u.get());
    std::vector<std::string> names;
    for (auto* u : all) {
        names.push_back(u->name());
        if (u->running() || u->restart_due() || u->pending()) continue;
        u->rec.exit_reason.clear();
        u->on({.kind = Event::Wait, .by_user = true});  // its stop and backoff forgotten
    }
    schedule();
    waiters.push_back({peer, names, true, true});
    answer_waiters();
}

// `restart`: the targets, and their `restart: true` dependents once the targets meet their
// condition again (healthy); answered when all of them run again.
void Supervisor::Impl::op_restart(const std::vector<Unit*>& targets, int timeout, const std::shared_ptr<control::Peer>& peer) {
    std::vector<std::string> names = names_of(targets);
    nlohmann::json dependents = nlohmann::json::array();
    for (auto* u : targets) {
        bool was_running = u->running();
        u->on({Event::Restart, 0, timeout >= 0 ? timeout : grace(*u), true});
        if (!was_running) continue;
        for (Unit* d : restart_with(units, u->cp.service))
            if (std::find(names.begin(), names.end(), d->name()) == names.end())
                names.push_back(d->name()), dependents.push_back(d->name());
        restart_dependents(*u);
    }
    waiters.push_back({peer, names, true});
    peer_notes[peer.get()] = {{"containers", names_of(targets)}, {"dependents", dependents}};
    answer_waiters();
}

void Supervisor::Impl::op_wait(const std::vector<Unit*>& targets, const std::shared_ptr<control::Peer>& peer) {
    waiters.push_back({peer, names_of(targets), false});
    peer_notes[peer.get()] = nlohmann::json::object();
    answer_waiters();
}

// `berth run`'s one-off waits for its service's dependencies, as `up` waits before a dependent
// starts: {"depends_on": {SERVICE: {"condition": …, "required": …}}}. Answered once each is met
// (or is optional and failed: "warnings"), or with the first required one that failed ("error",
// "dependency"), by answer_dependency_waiters as the units change.
void Supervisor::Impl::op_wait_dependencies(const control::Json& req, const std::shared_ptr<control::Peer>& peer) {
    DependencyWaiter w{peer, {}, {}, {}};
    try {
        const nlohmann::json deps = req.value("depends_on", nlohmann::json::object());
        for (const auto& item : deps.items()) {
            compose::Dependency d;
            d.condition = item.value().value("condition", d.condition);
            d.required = item.value().value("required", d.required);
            w.depends_on[item.key()] = d;
        }
    } catch (const std::exception& e) {
        return peer->send({{"ok", false}, {"error", std::string("wait_dependencies: ") + e.what()}});
    }
    dependency_waiters.push_back(std::move(w));
    answer_dependency_waiters();
}

void Supervisor::Impl::op_rm(const std::vector<Unit*>& targets, const std::shared_ptr<control::Peer>& peer) {
    nlohmann::json removed = nlohmann::json::array();
    for (auto it = units.begin(); it != units.end();) {
        Unit* u = it->get();
        bool target = std::find(targets.begin(), targets.end(), u) != targets.end();
        if (!target || u->running() || u->restart_due()) {
            ++it;
            continue;
        }
        close_unit(*u);
        if (u->inst.container) u->inst.container->teardown(true);
        std::error_code ec;
        fs::remove_all(u->rec.bundle_dir, ec);
        pstate.remove(u->name());
        if (nets) nets->release(u->name());  // its addresses go back to the networks
        removed.push_back(u->name());
        retired_units.push_back(std::move(*it));  // handles close asynchronously
        it = units.erase(it);
    }
    peer->send({{"ok", true}, {"containers", removed}});
}

void Supervisor::Impl::op_kill(const std::vector<Unit*>& targets, int sig, const std::shared_ptr<control::Peer>& peer) {
    for (auto* u : targets)
        if (u->running()) signal(*u, sig);
    reply_names(peer, targets);
}

void Supervisor::Impl::op_pause(const std::vector<Unit*>& targets, bool pause, const std::shared_ptr<control::Peer>& peer) {
    for (auto* u : targets)  // as docker: nothing changes when one of them cannot
        if (pause == (u->state() == State::Paused))
            return peer->send({{"ok", false},
                               {"error", "container " + u->name() + (pause ? " is already paused" : " is not paused")}});
    for (auto* u : targets) {
        if (!u->running()) continue;
        if (pause) u->inst.container->freeze(), u->on({Event::Pause});
        else u->inst.container->thaw(), u->on({Event::Unpause});
    }
    reply_names(peer, targets);
}

}  // namespace berth::supervisor
