// The supervisor's loop and scheduling: run() brings the project up, schedule()
// starts what may start, stop_all()/advance_stop() stop in reverse dependency
// order, check_done() ends the loop. The units' own transitions are unit.cc's.
#include "supervisor/supervisor.h"

#include "base/error.h"
#include "base/fdlimit.h"
#include "logs/log_file.h"
#include "supervisor/impl.h"
#include "volumes/volume.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <csignal>
#include <filesystem>
#include <unistd.h>

namespace fs = std::filesystem;

namespace berth::supervisor {

int stop_grace(std::optional<int> stop_grace_s, const UpOptions& o) {
    if (o.stop_timeout) return *o.stop_timeout;
    return stop_grace_s.value_or(10);
}

// ---- UnitHost ----

void Supervisor::Impl::changed(Unit& u) {
    emit_event(u.rec);
    try {
        pstate.write(u.rec);
    } catch (const std::exception& e) {
        spdlog::warn("{}: cannot write state: {}", u.name(), e.what());
    }
}

void Supervisor::Impl::signal(Unit& u, int sig) {
    if (u.inst.container && !u.inst.container->exited()) u.inst.container->kill(sig);
}

void Supervisor::Impl::thaw(Unit& u) {
    try {
        if (u.inst.container) u.inst.container->thaw();
    } catch (const std::exception& e) {
        spdlog::warn("{}: thaw: {}", u.name(), e.what());
    }
}

void Supervisor::Impl::arm_timer(Unit& u, int64_t ms) {
    u.inst.timer.make([this](uv_timer_t* t) { uv_timer_init(&loop, t); }, &u);
    uv_timer_start(u.inst.timer.get(), [](uv_timer_t* t) {
        auto* unit = static_cast<Unit*>(t->data);
        static_cast<Impl*>(&unit->host)->guarded(Callback::Timer, unit, [unit] {
            unit->inst.timer.close();
            unit->on({Event::Timer});
        });
    }, static_cast<uint64_t>(ms), 0);
}

void Supervisor::Impl::cancel_timer(Unit& u) {
    if (u.inst.timer) uv_timer_stop(u.inst.timer.get());
    u.inst.timer.close();
}

// depends_on: {X: {restart: true}}: they stop now and start again once X meets their condition.
void Supervisor::Impl::restart_dependents(Unit& u) {
    for (Unit* d : restart_with(units, u.cp.service)) d->on({.kind = Event::Restart, .grace_s = grace(*d), .by_user = true, .wait_deps = true});
}

// A container that could not start (its first start, a restart, `start`, `up`
// again) is exited with the error in its record, which `ps` and `events` show.
void Supervisor::Impl::start_failed(Unit& u) {
    std::string err = "service \"" + u.cp.service + "\" failed to start: " + u.rec.exit_reason;
    if (!ready_sent) return fail_up(err);
    spdlog::error("{}", err);  // the supervisor's stderr: its log, or the terminal of an attached `up`
    answer_waiters();
    check_done();
}

int64_t Supervisor::Impl::now_ns() const { return logs::now_ns(); }

// ---- events and readiness ----

void Supervisor::Impl::emit_event(const state::ContainerRecord& r) {
    std::string key = r.state + "/" + r.health;
    if (last_event[r.name] == key) return;
    last_event[r.name] = key;
    if (opts.on_container) opts.on_container(r.name, r.state, r.health, r.exit_code);  // notify hook
    std::string action = r.health.empty() || r.state != "running" ? r.state : "health_status: " + r.health;
    if (opts.on_progress && !ready_sent) opts.on_progress(r.name, action);
    if (subscribers.empty()) return;
    nlohmann::json ev = {{"time", logs::format_time(logs::now_ns())}, {"type", "container"}, {"action", action},
                         {"id", r.name}, {"service", r.service}, {"project", r.project}};
    if (r.exit_code && r.state == "exited") ev["exit_code"] = *r.exit_code;
    if (!r.exit_reason.empty() && r.state == "exited") ev["exit_reason"] = r.exit_reason;
    std::erase_if(subscribers, [](const auto& p) { return p->closed(); });
    for (auto& p : subscribers) p->send(ev);
}

// A warning for the person who ran `up`: on stderr attached, through `up -d`'s
// report pipe while it waits, and in the supervisor's log.
void Supervisor::Impl::warn_user(const std::string& w) {
    spdlog::warn("{}", w);
    if (opts.on_progress && !ready_sent) opts.on_progress("", "warning: " + w);
}

void Supervisor::Impl::ready(bool ok, const std::string& err) {
    if (ready_sent) return;
    ready_sent = true;
    if (opts.on_ready) opts.on_ready(ok, err);
}

// `up` fails: it reports the error. Attached, this process is the stack's
// supervisor and `up` ends, so the stack stops; detached, the containers that
// run keep running, as docker compose leaves them, and `up -d`, `start` or
// `down` act on them later. After `up` has reported, a failure is the failing
// unit's alone (start_failed): nothing else stops.
void Supervisor::Impl::fail_up(const std::string& err) {
    if (ready_sent) {
        spdlog::error("{}", err);
        return;
    }
    ready(false, err);
    exit_code = 1;
    if (opts.attach) stop_all(false);
}

// ---- bringing up ----

void Supervisor::Impl::resolve(const compose::Project& p, const std::set<std::string>& services, const char* no_image_hint) {
    std::map<std::string, images::ResolvedImage> imgs;
    std::map<std::string, plan::ServicePlan> plans;
    for (const auto& n : services) {
        const auto& svc = p.services.at(n);
        if (svc.image.empty() && !svc.build) throw Error("service \"" + n + "\" has no image", no_image_hint);
        require_env_files(svc);
        imgs[n] = store.resolve(compose::image_name(p, n, svc));
        plans[n] = brief_of(p, n, imgs[n]);
    }
    for (auto& [n, img] : imgs) images_by_service[n] = std::move(img);
    for (auto& [n, b] : plans) briefs[n] = std::move(b);
}

void Supervisor::Impl::ensure_networks(const std::set<std::string>& services) {
    std::set<std::string> keys;
    for (const auto& n : services)
        for (const auto& [key, _] : project.services.at(n).networks) keys.insert(key);
    if (keys.empty()) return;
    if (!nets) nets = open_networks(pstate.dir());
    if (!nft) nft = std::make_unique<netns::NftQueue>(&loop);
    if (!dns) {
        dns = std::make_unique<netns::DnsServer>(
            &loop, [this](const std::string& asker, const std::string& name) { return dns_lookup(asker, name); },
            netns::host_nameservers());
    }
    supervisor::ensure_networks(*nets, project, keys);
}

Unit* Supervisor::Impl::add_unit(const plan::Change& ch, bool start) {
    plan::ContainerPlan cp{ch.service, ch.index, ch.container};
    auto u = std::make_unique<Unit>(*this, cp, &project.services.at(cp.service), briefs.at(cp.service));
    u->image = images_by_service.at(cp.service);
    if (auto old = pstate.read(cp.name)) u->rec = *old;
    u->rec.name = cp.name;
    u->rec.project = project.name;
    u->rec.service = cp.service;
    u->rec.index = cp.index;
    u->rec.image = compose::image_name(project, u->svc->name, *u->svc);
    u->rec.state = "created";
    u->rec.created_at = logs::format_time(logs::now_ns());
    // A new container, or one whose configuration changed (or --force-recreate): a fresh filesystem.
    bool fresh = ch.action == plan::Action::Recreate || (ch.action == plan::Action::Create && !opts.no_recreate);
    if (start) {
        u->on({.kind = Event::Wait, .recreate = fresh});
    } else {  // it stays created (`create`) until `start`; the next `up` keeps it as made for this configuration
        u->on({.kind = Event::Hold, .recreate = fresh});  // stays Created; its first start makes its filesystem
        u->rec.config_hash = u->brief.config_hash;
        u->rec.config_keys = u->brief.config_keys;
    }
    u->save();
    units.push_back(std::move(u));
    return units.back().get();
}

void Supervisor::Impl::schedule() {
    if (stopping) return;
    // Passes until nothing more starts: a start can satisfy a unit earlier in the list.
    for (bool progress = true; progress;) {
        progress = false;
        for (size_t i = 0; i < units.size(); ++i) {
            Unit* u = units[i].get();
            if (!u->pending()) continue;
            Blocker b = blocker(units, *u, project, opts.no_deps);
            if (b.readiness == Readiness::Failed) {
                std::string logs;
                for (const auto& l : b.dependency->inst.tail) logs += "\n  " + b.dependency->name() + "  | " + l;
                u->on({Event::Hold});  // not started: `up` or `start` tries again
                u->rec.exit_reason = b.failure;
                u->save();
                fail_up(b.failure + (logs.empty() ? "" : "; its last output:" + logs));
                if (stopping) return;
                continue;
            }
            if (b.readiness == Readiness::Ready) {
                for (const auto& w : b.warnings) warn_user(w);
                u->on({Event::Go});
                progress = true;
            }
            if (stopping) return;
        }
    }
    answer_waiters();  // a start above may settle a waiting `up`/`restart`
    bool all_started = std::all_of(units.begin(), units.end(), [&](auto& u) {
        if (!u->started_once()) return false;
        if (!opts.wait_healthy) return true;
        if (u->done()) return u->rec.exit_code == 0;  // a one-shot job that completed
        return u->running() && (!u->brief.health.enabled || u->health() == Health::Healthy);
    });
    if (all_started) ready(true, "");
    if (opts.wait_healthy && !ready_sent)
        for (auto& u : units)
            if (u->health() == Health::Unhealthy || (u->done() && u->rec.exit_code != 0)) {
                fail_up("container " + u->name() + " is " +
                        (u->health() == Health::Unhealthy ? "unhealthy"
                                                          : "exited with code " + std::to_string(u->rec.exit_code.value_or(-1))));
                return;
            }
}

// ---- stopping ----

void Supervisor::Impl::stop_all(bool kill_now) {
    if (!stopping && opts.on_stopping) opts.on_stopping();  // notify hook
    stopping = true;
    for (auto& u : units) u->on({Event::Hold});
    if (kill_now) {
        for (auto& u : units) u->on({Event::Stop, 0, 0, false});
    } else {
        advance_stop();
    }
    check_done();
}

// Reverse dependency order: a service is asked to stop once no container of a
// service that depends on it still runs; a pending restart is cancelled.
void Supervisor::Impl::advance_stop() {
    if (!stopping) return;
    for (auto& u : units)
        if (u->restart_due()) u->on({Event::Stop, 0, 0, false});
    for (Unit* u : next_to_stop(units)) u->on({Event::Stop, 0, grace(*u), false});
}

void Supervisor::Impl::close_unit(Unit& u) {
    cancel_health(u);
    cancel_timer(u);
    if (u.inst.exit_poll) uv_poll_stop(u.inst.exit_poll.get());
    u.inst.exit_poll.close();
    for (auto& p : u.inst.pipes) p.close();
}

void Supervisor::Impl::check_done() {
    bool any_live = std::any_of(units.begin(), units.end(), [](auto& u) { return u->live(); });
    // Attached, `up` ends once what it watches has exited for good (the services named, or those it
    // prints), as docker compose's does; the rest stops with it, this process being their supervisor.
    if (any_live && opts.attach && !stopping) {
        bool any_watched = false, watched_live = false;
        for (auto& u : units)
            if (watched(u->cp.service)) any_watched = true, watched_live |= u->live();
        if (any_watched && !watched_live && ready_sent) return stop_all(false);
    }
    if (any_live) return;
    if (!stopping && !opts.attach) return;  // detached: stays up for control commands
    for (auto& u : units) {
        close_unit(*u);
        if (remove_on_exit) {
            if (u->inst.container) u->inst.container->teardown(true);
            std::error_code ec;
            fs::remove_all(u->rec.bundle_dir, ec);
        }
    }
    if (remove_on_exit)
        for (auto& u : units) pstate.remove(u->name());
    for (auto& p : waiting_peers) p->send({{"ok", true}});
    waiting_peers.clear();
    if (server) server->stop();
    keeper_poll.close();
    sigint.close();
    sigterm.close();
    ready(exit_code == 0, "every container exited");
}

void Supervisor::Impl::answer_waiters() {
    for (auto it = waiters.begin(); it != waiters.end();) {
        bool settled = true;
        for (const auto& n : it->names)
            for (auto& u : units)
                if (u->name() == n) {
                    // until_running: settled once started again (or already done, like a one-shot job).
                    // A unit held back (created: its dependency failed) is settled too.
                    bool held = u->state() == State::Created;
                    bool busy = it->until_running ? u->pending() || u->restart_after_stop() || (!u->running() && !u->done() && !held)
                                                  : u->running() || u->restart_due();
                    if (busy) settled = false;
                }
        if (!settled) {
            ++it;
            continue;
        }
        nlohmann::json reply = {{"ok", true}, {"containers", it->names}};
        if (it->report_failures) {  // `start`: those that could not start, and why
            std::string errors;
            for (const auto& n : it->names)
                for (auto& u : units)
                    if (u->name() == n && !u->running() && !u->rec.exit_reason.empty())
                        errors += (errors.empty() ? "" : "; ") + n + ": " + u->rec.exit_reason;
            if (!errors.empty()) reply = {{"ok", false}, {"error", errors}};
        }
        nlohmann::json codes = nlohmann::json::object();
        for (const auto& n : it->names)
            for (auto& u : units)
                if (u->name() == n && u->rec.exit_code) codes[n] = *u->rec.exit_code;
        reply["exit_codes"] = codes;
        if (auto n = peer_notes.find(it->peer.get()); n != peer_notes.end()) {
            reply.update(n->second);
            peer_notes.erase(n);
        }
        it->peer->send(reply);
        it = waiters.erase(it);
    }
    answer_dependency_waiters();
}

// A dependency whose containers all failed to start (their launch threw) will not meet its
// condition unless someone starts it again: the one-off does not wait for that. A required one
// makes `b` Failed; an optional one is skipped, with a warning.
void Supervisor::Impl::launch_failed(DependencyWaiter& w, Blocker& b) {
    for (const auto& [dep, d] : w.depends_on) {
        if (w.skipped.count(dep)) continue;
        const Unit* failed = nullptr;
        bool any = false, all_failed = true;
        for (auto& u : units) {
            if (u->cp.service != dep) continue;
            any = true;
            if (u->launch_failed()) failed = u.get();
            else all_failed = false;
        }
        if (!any || !all_failed) continue;
        std::string why = "service \"" + dep + "\" failed to start: " + failed->rec.exit_reason;
        if (!d.required) {
            w.skipped.insert(dep);
            w.warnings.push_back("optional dependency \"" + dep + "\" failed to start: " + failed->rec.exit_reason);
            continue;
        }
        b.readiness = Readiness::Failed, b.failure = why, b.dependency = failed;
        return;
    }
}

void Supervisor::Impl::answer_dependency_waiters() {
    std::erase_if(dependency_waiters, [](const auto& w) { return w.peer->closed(); });
    for (auto it = dependency_waiters.begin(); it != dependency_waiters.end();) {
        Blocker b;
        for (;;) {  // judged again once launch_failed skips an optional dependency
            b = blocker(units, it->depends_on, project, false, it->skipped);
            it->skipped.insert(b.skipped.begin(), b.skipped.end());
            it->warnings.insert(it->warnings.end(), b.warnings.begin(), b.warnings.end());
            if (b.readiness != Readiness::Waiting) break;
            size_t skipped = it->skipped.size();
            launch_failed(*it, b);
            if (b.readiness != Readiness::Waiting || it->skipped.size() == skipped) break;
        }
        if (b.readiness == Readiness::Waiting) {
            ++it;
            continue;
        }
        nlohmann::json reply = {{"ok", b.readiness == Readiness::Ready}, {"warnings", it->warnings}};
        if (b.readiness == Readiness::Failed) reply["error"] = b.failure, reply["dependency"] = b.dependency->cp.service;
        it->peer->send(reply);
        it = dependency_waiters.erase(it);
    }
}

// ---- run ----

Supervisor::Supervisor(compose::Project project, UpOptions options)
    : impl_(std::make_unique<Impl>(std::move(project), std::move(options))) {}

Supervisor::~Supervisor() = default;

namespace {

std::set<std::string> wanted_services(const compose::Project& p, const UpOptions& o) {
    std::set<std::string> wanted;
    if (o.services.empty()) {
        for (auto& [n, _] : p.services) wanted.insert(n);
        return wanted;
    }
    for (const auto& n : o.services)
        if (!p.services.count(n)) throw Error("no such service: " + n);
    return o.no_deps ? std::set<std::string>(o.services.begin(), o.services.end()) : plan::with_dependencies(p, o.services);
}

void on_signal(uv_signal_t* h, int) {
    auto* impl = static_cast<Supervisor::Impl*>(h->data);
    impl->guarded(Callback::Signal, nullptr, [impl] {
        if (++impl->interrupts == 1) {
            if (impl->opts.attach) std::fprintf(stderr, "Gracefully stopping... (press Ctrl+C again to force)\n");
            impl->stop_all(false);
        } else {
            impl->stop_all(true);
        }
    });
}

}  // namespace

plan::DiffOptions diff_options(const UpOptions& o, const std::set<std::string>& wanted) {
    plan::DiffOptions d;
    d.services = wanted;
    d.scale = o.scale;
    d.named.insert(o.services.begin(), o.services.end());
    d.force_recreate = o.force_recreate;
    d.force_deps = o.always_recreate_deps;
    d.no_recreate = o.no_recreate;
    d.remove_orphans = o.remove_orphans;
    return d;
}

int Supervisor::run() {
    Impl& s = *impl_;
    raise_fd_limit();  // containers still get the limit we had (base/fdlimit.h)
    uv_loop_init(&s.loop);
    // Closed on every way out: a start that throws (a missing image, a cycle) leaked its loop's
    // memory (LeakSanitizer, an ASan run of the integration suites).
    struct LoopCloser {
        uv_loop_t* loop;
        ~LoopCloser() {
            uv_run(loop, UV_RUN_NOWAIT);  // the close callbacks of the handles released before
            uv_loop_close(loop);
        }
    } closer{&s.loop};
    plan::start_order(s.project);  // a cycle fails here, before anything starts
    std::set<std::string> wanted = wanted_services(s.project, s.opts);
    // Images and briefs resolve before anything starts: a missing image or a bad value is a clear error now.
    s.resolve(s.project, wanted, "set `image:` or `build:`");
    s.lock = UniqueFd(s.pstate.lock_as_supervisor());
    if (auto orph = orphans(s.project); !orph.empty()) {
        if (s.opts.remove_orphans) {
            remove_orphans(s.project);
        } else {
            std::string names;
            for (const auto& n : orph) names += (names.empty() ? "" : ", ") + n;
            std::fprintf(stderr, "warning: found orphan containers (%s) for this project; if you removed or renamed "
                                 "their service, run this command with --remove-orphans to clean them up\n", names.c_str());
        }
    }
    s.pstate.write_project(nlohmann::json{{"name", s.project.name},
                                          {"working_dir", s.project.working_dir},
                                          {"files", s.project.compose_files},
                                          {"supervisor", ::getpid()}});
    fs::create_directories(s.root + "/containers");
    // Live restore: what the keeper holds and still runs is re-adopted, the rest stopped.
    auto held = s.attach_keeper();
    std::vector<state::ContainerRecord> adopt = s.adoptable(held);
    std::set<std::string> adopted, in_use = wanted;
    for (const auto& r : adopt) adopted.insert(r.name), in_use.insert(r.service);
    s.resolve(s.project, in_use, "set `image:` or `build:`");
    s.stop_survivors(adopted);
    s.check_ports(plan::containers(s.project, s.opts.scale), wanted);
    for (const auto& n : wanted)  // external volumes must exist before anything starts
        for (const auto& m : s.project.services.at(n).volumes) {
            auto it = s.project.volumes.find(m.source);
            if (m.type != "volume" || it == s.project.volumes.end() || !it->second.external) continue;
            try {
                volumes::Store(s.root).external(it->second.name);
            } catch (Error& e) {
                throw e.wrap("service \"" + n + "\"");
            }
        }
    try {
        s.ensure_networks(in_use);
    } catch (const std::exception&) {
        // Nothing of the project runs (stop_survivors stopped it, and none was re-adopted): undo the
        // networks made so far, so that a failed `up` (nft or netlink failing on the second network)
        // leaves no bridge. Re-adopted containers keep theirs.
        try {
            if (s.nets && adopt.empty()) s.nets->remove_all();
        } catch (const std::exception& e) {
            spdlog::warn("networks: {}", e.what());
        }
        throw;
    }
    std::map<std::string, Unit*> by_name;
    for (const auto& r : adopt) by_name[r.name] = s.adopt(r, held.at(r.name));
    s.release_held(held, by_name);
    std::vector<plan::Current> current;  // stop_survivors stopped every other one
    for (const auto& r : s.pstate.read_all())
        current.push_back({r.name, r.service, r.config_hash, r.config_keys,  // exited meanwhile, or stopping: not live
                           by_name.count(r.name) > 0 && !held.at(r.name).exit && r.state != "stopping"});
    plan::DiffOptions d = diff_options(s.opts, wanted);
    d.remove_orphans = false;  // handled above, before anything starts
    for (const auto& ch : plan::diff(current, s.project, d)) {
        auto a = by_name.find(ch.container);
        if (a == by_name.end()) {
            s.add_unit(ch, !s.opts.no_start);
            continue;
        }
        if (s.opts.no_start) continue;  // `create`: what runs stays as it is
        if (ch.action == plan::Action::Keep) continue;  // re-adopted as it runs
        if (ch.action == plan::Action::Start && held.at(ch.container).exit) {  // exited while no supervisor ran:
            s.start_after_exit.push_back(a->second);                           // started once its exit is seen
            continue;
        }
        if (ch.action == plan::Action::Start) {  // a stop (`restart`, `stop`) the dead supervisor began: started after it
            a->second->on({Event::Restart, 0, s.grace(*a->second), true});
            continue;
        }
        Unit* u = a->second;  // its configuration changed: recreated, as `up` while up does
        spdlog::info("{}: recreated: {}", u->name(), ch.reason);
        u->on({.kind = Event::Restart, .grace_s = s.grace(*u), .by_user = true, .recreate = ch.action == plan::Action::Recreate,
               .wait_deps = ch.after_dependencies});
    }
    s.server = std::make_unique<control::Server>(&s.loop, s.pstate.control_socket(),
        [&s](const control::Json& req, const std::shared_ptr<control::Peer>& peer) { s.handle(req, peer); });
    s.server->start();
    s.sigint.make([&s](uv_signal_t* h) { uv_signal_init(&s.loop, h); }, &s);
    uv_signal_start(s.sigint.get(), on_signal, SIGINT);
    s.sigterm.make([&s](uv_signal_t* h) { uv_signal_init(&s.loop, h); }, &s);
    uv_signal_start(s.sigterm.get(), on_signal, SIGTERM);
    ::signal(SIGPIPE, SIG_IGN);
    s.watch_keeper();

    if (s.opts.on_loop) s.opts.on_loop(&s.loop);  // notify hook
    s.deliver_exits();
    if (s.opts.no_start) s.ready(true, "");  // `create`: the containers are there, none started
    s.schedule();
    uv_run(&s.loop, UV_RUN_DEFAULT);
    if (s.opts.on_loop_end) s.opts.on_loop_end();  // notify hook
    if (s.keeper) s.keeper->bye();  // a clean end: the keeper goes too
    s.keeper_poll.close();
    s.units.clear();
    s.retired_units.clear();
    s.dns.reset();
    s.nft.reset();  // idle: the loop ran until every nft it started had ended
    return s.exit_code;  // (the closer runs the close callbacks of the handles just released)
}

}  // namespace berth::supervisor
