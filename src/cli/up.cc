// berth up [-d] [--abort-on-container-exit] [--exit-code-from S] [--no-deps]
//          [--force-recreate] [--scale S=N] [-t N] [SERVICE…]
// berth down [-v] [-t N]
// berth ps [-a] [-q] [--services] [--format table|json]
#include "base/error.h"
#include "base/fd.h"
#include "cli/cli.h"
#include "cli/build.h"
#include "cli/detach.h"
#include "cli/follow.h"
#include "cli/kept.h"
#include "cli/progress.h"
#include "cli/systemd.h"
#include "cli/up.h"
#include "cli/project.h"
#include "cli/ps_format.h"
#include "cli/pull.h"
#include "compose/depends.h"
#include "compose/wire.h"
#include "control/control.h"
#include "keeper/client.h"
#include "plan/brief.h"
#include "plan/diff.h"
#include "plan/plan.h"
#include "state/state.h"
#include "supervisor/supervisor.h"
#include "volumes/volume.h"

#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <fcntl.h>
#include <poll.h>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <algorithm>
#include <filesystem>
#include <set>
#include <thread>
#include <unistd.h>


namespace berth::cli {
namespace {


supervisor::UpOptions to_options(const UpFlags& f) {
    supervisor::UpOptions o;
    o.services = f.services;
    o.attach = !f.detach;
    if (f.abort_on_exit && f.abort_on_failure)
        throw Error("--abort-on-container-failure cannot be combined with --abort-on-container-exit");
    o.abort_on_container_failure = f.abort_on_failure;
    o.abort_on_container_exit = f.abort_on_exit || (!f.exit_code_from.empty() && !f.abort_on_failure);
    if (!f.exit_code_from.empty()) o.exit_code_from = f.exit_code_from;
    if (!f.attach.empty() && f.attach_dependencies)
        throw Error("--attach cannot be combined with --attach-dependencies");
    o.attach_services = f.attach;
    o.no_attach = f.no_attach;
    o.attach_dependencies = f.attach_dependencies;
    o.no_start = f.no_start;
    if (f.timeout >= 0) o.stop_timeout = f.timeout;
    o.no_deps = f.no_deps;
    o.force_recreate = f.force_recreate;
    o.no_recreate = f.no_recreate;
    o.wait_healthy = f.wait;
    o.remove_orphans = f.remove_orphans;
    if (f.force_recreate && f.no_recreate) throw Error("--force-recreate and --no-recreate cannot be used together");
    for (const auto& s : f.scale) {
        auto eq = s.find('=');
        if (eq == std::string::npos) throw Error("--scale " + s + ": expected SERVICE=NUMBER");
        try {
            o.scale[s.substr(0, eq)] = std::stoi(s.substr(eq + 1));
        } catch (const std::exception&) {
            throw Error("--scale " + s + ": expected SERVICE=NUMBER");
        }
    }
    return o;
}

// `up --dry-run`: the plan's diff against the project's state, as docker compose prints it.
int dry_run(const compose::Project& project, const UpFlags& f, const supervisor::UpOptions& o) {
    std::set<std::string> wanted;
    for (const auto& n : f.services)
        if (!project.services.count(n)) throw Error("no such service: " + n);
    if (f.services.empty()) {
        for (const auto& [n, _] : project.services) wanted.insert(n);
    } else {
        wanted = f.no_deps ? std::set<std::string>(f.services.begin(), f.services.end())
                           : plan::with_dependencies(project, f.services);
    }
    plan::start_order(project);  // a cycle is an error here as in `up`
    for (const auto& n : wanted) plan::resolve(project, n);  // bad values fail as `up` would
    std::vector<plan::Current> current;
    for (const auto& r : state::ProjectState(state::runtime_dir(), project.name).read_all())
        current.push_back({r.name, r.service, r.config_hash, r.config_keys,
                           r.pid > 0 && state::process_alive(r.pid, r.pid_start_time)});
    plan::DiffOptions d;
    d.services = wanted;
    d.scale = o.scale;
    d.force_recreate = o.force_recreate;
    d.no_recreate = o.no_recreate;
    d.remove_orphans = o.remove_orphans;
    for (const auto& ch : plan::diff(current, project, d))
        std::printf("DRY-RUN MODE - %s\n", plan::describe(ch).c_str());
    return 0;
}

// `up` while up: the supervisor recreates what changed and starts what is new.
// Nullopt when it does not answer.
std::optional<int> up_to_supervisor(const GlobalOptions& g, const UpFlags& f, const compose::Project& project,
                                    const state::ProjectState& ps) {
    auto client = control::Client::connect(ps.control_socket());
    if (!client) return std::nullopt;
    // The project as loaded here (files, .env, interpolation, profiles): the supervisor reads no compose file.
    nlohmann::json req = {{"op", "up"},
                          {"project", compose::to_wire(project)},
                          {"services", f.services},
                          {"scale", to_options(f).scale},
                          {"force_recreate", f.force_recreate},
                          {"no_start", f.no_start},
                          {"no_deps", f.no_deps}};
    // No answer (a supervisor dying an instant ago): nullopt, and the caller tries again.
    // An answer that refuses (a missing image, a bad file) is the user's error: thrown.
    std::optional<nlohmann::json> answer;
    try {
        client->send(req);
        answer = client->read_line();
    } catch (const Error&) {
        return std::nullopt;
    }
    if (!answer) return std::nullopt;
    const nlohmann::json& reply = *answer;
    if (!reply.value("ok", false)) {
        std::string hint = reply.value("hint", std::string());
        throw Error(reply.value("error", std::string("the supervisor refused `up`")), hint);
    }
    for (const char* k : {"running", "recreated", "started", "created", "restarted"})
        for (const auto& n : reply.value(k, nlohmann::json::array()))
            std::fprintf(stderr, "Container %s  %s\n", n.get<std::string>().c_str(),
                        std::string(k) == "running" ? "Running" : std::string(k) == "recreated" ? "Recreated"
                                                                : std::string(k) == "created"   ? "Created"
                                                                : std::string(k) == "restarted" ? "Restarted"
                                                                                                : "Started");
    return 0;
}

}  // namespace

int up_command(const GlobalOptions& g, const UpFlags& flags) {
    UpFlags f = flags;
    if (f.wait || f.no_start) f.detach = true;
    compose::Project project = load_project(g);
    compose::activate_services(project, f.services);  // naming a profile's service enables it
    for (const auto& a : f.attach)
        if (!project.services.count(a)) throw Error("cannot attach to services not included in up: " + a);
    if (f.dry_run) return dry_run(project, f, to_options(f));
    if (const char* fd = std::getenv("BERTH_SUPERVISOR_FD"); fd && (f.detach || std::getenv("BERTH_KEPT"))) {
        int report = std::atoi(fd);  // spawned by the keeper: `up -d`'s supervisor, or systemd's `up`'s (cli/kept.h)
        ::unsetenv("BERTH_SUPERVISOR_FD");
        supervisor::UpOptions o = to_options(f);
        if (f.detach) supervise_detached(std::move(project), o, report);
        o.color = use_color(g, 1);
        supervise_kept(std::move(project), o, report);
    }
    // Under systemd (attached: the unit's main process), building and pulling report progress:
    // STATUS= and EXTEND_TIMEOUT_USEC=, so a long build or pull is not cut by the start timeout.
    std::unique_ptr<notify::Notifier> notifier;
    // Under systemd with a keeper (cli/kept.h), the supervisor notifies too: the variables stay for it.
    const bool kept = !f.detach && kept_mode();
    if (!f.detach) notifier = notify::Notifier::from_environment(kept);
    {
        std::vector<std::string> svcs;
        if (f.services.empty() || !f.no_deps) {
            std::set<std::string> all;
            if (f.services.empty())
                for (const auto& [n, _] : project.services) all.insert(n);
            else
                all = plan::with_dependencies(project, f.services);
            svcs.assign(all.begin(), all.end());
        } else {
            svcs = f.services;
        }
        if (f.build && f.no_build) throw Error("--build and --no-build cannot be used together");
        std::function<void(const std::string&)> progress;
        if (notifier)
            progress = [n = notifier.get(), mu = std::make_shared<std::mutex>()](const std::string& what) {
                std::lock_guard lock(*mu);  // a pull's progress comes from its threads
                n->preparing(what);
            };
        BuildFlags bf;
        bf.on_progress = progress;
        ensure_built(project, svcs, f.build ? BuildWhen::Always : f.no_build ? BuildWhen::Never : BuildWhen::Missing, bf);
        ensure_images(project, svcs, f.pull, false, progress);
    }
    state::ProjectState ps(state::runtime_dir(), project.name);
    if (kept) return up_kept(project, [&] { return up_to_supervisor(g, f, project, ps); });
    // A supervisor killed an instant ago may still seem up: a container it was
    // starting holds its lock and socket until that child execs or exits.
    // Attached: the running supervisor applies the file, this process streams the output (cli/follow.h).
    auto before = f.detach || ps.supervisor_pid() <= 0 ? std::map<std::string, long long>{} : log_sizes(ps);
    for (int attempt = 1; ps.supervisor_pid() > 0; ++attempt) {
        if (auto code = up_to_supervisor(g, f, project, ps))
            return f.detach ? *code : follow_attached(ps, follow_spec(project, f, use_color(g, 1)), before);
        if (attempt == 30)
            throw Error("project " + project.name + " is up but its supervisor does not answer",
                        "run `berth down` and `berth up` again");
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    supervisor::UpOptions o = to_options(f);
    o.color = use_color(g, 1);
    if (!f.detach) {
        bool failed = false;
        o.on_ready = [&](bool ok, const std::string& err) {
            if (!ok && err != "every container exited") {
                std::fprintf(stderr, "error: %s\n", err.c_str());
                failed = true;
            }
        };
        notifier = notify_systemd(o, std::move(notifier));  // Type=notify under systemd; null elsewhere
        auto journal = journal_lines(o, project);
        supervisor::Supervisor sup(std::move(project), o);
        int code = sup.run();
        return failed && code == 0 ? 1 : code;
    }
    // Detached: a supervisor process of its own, the keeper's child; we return once it reports.
    Pipe p = make_pipe();  // both ends owned: no path closes one twice or leaks it
    spawn_supervisor(project, p.write.get());
    p.write.reset();
    Progress progress(isatty(2), use_color(g, 2));
    std::string msg;
    char buf[4096];
    ssize_t n;
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(f.wait_timeout);
    for (;;) {
        if (f.wait_timeout > 0) {
            auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
            pollfd pfd{p.read.get(), POLLIN, 0};
            if (left.count() <= 0 || ::poll(&pfd, 1, static_cast<int>(left.count())) == 0) {
                p.read.reset();
                std::string waiting;
                for (const auto& r : state::ProjectState(state::runtime_dir(), project.name).read_all())
                    if (r.state != "running" || (!r.health.empty() && r.health != "healthy"))
                        if (!(r.state == "exited" && r.exit_code == 0))
                            waiting += (waiting.empty() ? "" : ", ") + r.name + " (" + r.state +
                                       (r.health.empty() ? "" : ", " + r.health) + ")";
                throw Error("--wait-timeout: after " + std::to_string(f.wait_timeout) + " s still waiting for " +
                                (waiting.empty() ? std::string("the supervisor") : waiting),
                            "the stack keeps starting in the background; `berth ps` shows it, `berth down` stops it");
            }
        }
        n = ::read(p.read.get(), buf, sizeof buf);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        msg.append(buf, static_cast<size_t>(n));
        size_t nl;
        while (msg.rfind("P\t", 0) == 0 && (nl = msg.find('\n')) != std::string::npos) {
            std::string line = msg.substr(2, nl - 2);
            msg.erase(0, nl + 1);
            auto tab = line.find('\t');
            if (tab == std::string::npos) continue;
            if (line.compare(tab + 1, 9, "warning: ") == 0) std::fprintf(stderr, "%s\n", line.substr(tab + 1).c_str());
            else progress.update(line.substr(0, tab), line.substr(tab + 1));
        }
    }
    p.read.reset();
    if (msg != "OK\n")
        throw Error(msg.rfind("ERR\t", 0) == 0 ? msg.substr(4) : "the supervisor ended before the stack was up");
    return 0;
}

int up_services(const GlobalOptions& g, const std::vector<std::string>& services, const std::vector<std::string>& scale,
                bool no_deps) {
    UpFlags f;
    f.no_deps = no_deps;
    f.detach = true;
    f.services = services;
    f.scale = scale;
    return up_command(g, f);
}

namespace {

int down(const GlobalOptions& g, bool volumes, int timeout, bool remove_orphans) {
    compose::Project project = load_project(g);  // by name alone too (cli/project.h)
    state::ProjectState ps(state::runtime_dir(), project.name);
    std::vector<std::string> names;
    for (const auto& r : ps.read_all()) names.push_back(r.name);
    Progress progress(isatty(2), use_color(g, 2));
    std::vector<std::string> orphan_names = remove_orphans ? std::vector<std::string>{} : supervisor::orphans(project);
    if (int pid = ps.supervisor_pid(); pid > 0 && !orphan_names.empty()) {
        // Orphans stay up under their supervisor: stop and remove only this file's services.
        if (auto c = control::Client::connect(ps.control_socket())) {
            std::vector<std::string> services;
            for (const auto& r : ps.read_all())
                if (project.services.count(r.service) || project.disabled_services.count(r.service))
                    if (std::find(services.begin(), services.end(), r.service) == services.end()) services.push_back(r.service);
            nlohmann::json stop = {{"op", "stop"}, {"services", services}};
            if (timeout >= 0) stop["timeout"] = timeout;
            if (!services.empty()) {
                c->call(stop);
                auto reply = c->call({{"op", "rm"}, {"services", services}});
                for (const auto& n : reply.value("containers", nlohmann::json::array()))
                    progress.update(n.get<std::string>(), "removed");
            }
        }
        for (const auto& n : orphan_names)
            std::fprintf(stderr, "warning: orphan container %s kept; `berth down --remove-orphans` removes it\n", n.c_str());
        return 0;
    }
    if (int pid = ps.supervisor_pid(); pid > 0) {
        auto events = control::Client::connect(ps.control_socket());
        if (events) events->send({{"op", "events"}});
        if (auto c = control::Client::connect(ps.control_socket())) {
            nlohmann::json req = {{"op", "down"}};
            if (timeout >= 0) req["timeout"] = timeout;
            try {
                c->send(req);
                // Progress until the supervisor closes the event stream at its end.
                while (events)
                    if (auto ev = events->read_line()) progress.update(ev->value("id", ""), ev->value("action", ""));
                    else break;
                c->read_line();
            } catch (const Error& e) {
                std::fprintf(stderr, "warning: the supervisor did not answer (%s); cleaning up\n", e.what());
            }
        }
        // The supervisor's project lock goes with its process (a zombie holds no files).
        for (int i = 0; i < 1000 && ps.supervisor_pid() > 0; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(2));
        if (ps.supervisor_pid() > 0) ::kill(pid, SIGKILL);
    }
    keeper::stop(ps.dir());  // after a supervisor's death it held the containers; they go now
    supervisor::cleanup_project(project.name, volumes, &project, remove_orphans);
    std::vector<std::string> kept = remove_orphans ? std::vector<std::string>{} : supervisor::orphans(project);
    for (const auto& name : names)
        if (std::find(kept.begin(), kept.end(), name) == kept.end()) progress.update(name, "removed");
    for (const auto& n : kept)
        std::fprintf(stderr, "warning: orphan container %s kept; `berth down --remove-orphans` removes it\n", n.c_str());
    return 0;
}

int ps_command(const GlobalOptions& g, bool all, bool quiet, bool services, const std::string& format,
               const std::vector<std::string>& only) {
    compose::Project project = load_project(g);
    for (const auto& s : only)
        if (!project.services.count(s)) throw Error("no such service: " + s);
    state::ProjectState ps(state::runtime_dir(), project.name);
    auto records = ps.read_all();
    bool sup_alive = ps.supervisor_pid() > 0;
    nlohmann::json out = nlohmann::json::array();
    std::set<std::string> seen;
    if (format == "table" && !quiet && !services)
        std::printf("%-32s %-14s %-28s %-9s %s\n", "NAME", "SERVICE", "STATUS", "RESTARTS", "PORTS");
    for (auto& r : records) {
        // A record claiming to run whose process is gone died with its supervisor.
        if ((r.state == "running" || r.state == "starting") && !state::process_alive(r.pid, r.pid_start_time))
            r.state = "dead";
        if (!sup_alive && r.state == "restarting") r.state = "exited";
        bool live = r.state == "running" || r.state == "starting" || r.state == "restarting" || r.state == "stopping" || r.state == "paused";
        if (!all && !live) continue;
        if (!only.empty() && std::find(only.begin(), only.end(), r.service) == only.end()) continue;
        if (services) {
            if (seen.insert(r.service).second) std::printf("%s\n", r.service.c_str());
            continue;
        }
        if (quiet) {
            std::printf("%s\n", r.name.c_str());
            continue;
        }
        std::string status = r.state;
        if (r.state == "exited" && r.exit_code) status += " (" + std::to_string(*r.exit_code) + ")";
        if (!r.health.empty()) status += " (" + r.health + ")";
        if (!r.log_paused.empty() && live) status += " (log paused)";  // its disk full: output held, then dropped
        if (format == "json") {
            nlohmann::json j = state::to_json(r);
            add_docker_ps_fields(j, r, project, status);
            out.push_back(j);
        } else {
            std::string ports;
            for (const auto& p : shown_ports(r, project)) ports += (ports.empty() ? "" : ", ") + p;
            // Why it stopped or did not start ("exited (127): bind source … does not exist").
            if (!r.exit_reason.empty() && r.state == "exited") status += ": " + r.exit_reason;
            else if (!r.log_paused.empty() && live) status += ": " + r.log_paused;
            std::printf("%-32s %-14s %-28s %-9d %s\n", r.name.c_str(), r.service.c_str(), status.c_str(), r.restarts,
                        ports.c_str());
        }
    }
    // One object per line, as docker compose prints them (`docker compose ps --format json | jq`).
    if (format == "json" && !quiet && !services)
        for (const auto& j : out) std::printf("%s\n", j.dump().c_str());
    return 0;
}

// stop/start/restart/kill/pause/unpause go to the project's running supervisor.
int project_op(const GlobalOptions& g, const std::string& op, const std::vector<std::string>& services,
               nlohmann::json extra, const char* verb) {
    compose::Project project = load_project(g);
    compose::activate_services(project, services);
    for (const auto& s : services)
        if (!project.services.count(s)) throw Error("no such service: " + s);
    state::ProjectState ps(state::runtime_dir(), project.name);
    auto client = ps.supervisor_pid() > 0 ? control::Client::connect(ps.control_socket()) : std::nullopt;
    if (!client)
        throw Error("project " + project.name + " is not up", "start it with `berth up -d`");
    extra["op"] = op;
    extra["services"] = services;
    nlohmann::json reply = client->call(extra);
    if (!reply.value("ok", false)) throw Error(reply.value("error", "the supervisor refused " + op));
    for (const auto& n : reply.value("containers", nlohmann::json::array()))
        std::fprintf(stderr, "Container %s  %s\n", n.get<std::string>().c_str(), verb);
    // restart: its `restart: true` dependents started again once it was healthy (as docker compose says it).
    if (auto deps = reply.value("dependents", nlohmann::json::array()); !deps.empty()) {
        for (const auto& n : reply.value("containers", nlohmann::json::array()))
            if (auto r = ps.read(n.get<std::string>()); r && r->health == "healthy")
                std::fprintf(stderr, "Container %s  Healthy\n", r->name.c_str());
        for (const auto& n : deps) std::fprintf(stderr, "Container %s  Started\n", n.get<std::string>().c_str());
    }
    return 0;
}

int wait_command(const GlobalOptions& g, const std::vector<std::string>& services, bool down_project) {
    compose::Project project = load_project(g);
    state::ProjectState ps(state::runtime_dir(), project.name);
    auto client = ps.supervisor_pid() > 0 ? control::Client::connect(ps.control_socket()) : std::nullopt;
    if (!client) throw Error("project " + project.name + " is not up", "start it with `berth up -d`");
    nlohmann::json reply = client->call({{"op", "wait"}, {"services", services}});
    if (!reply.value("ok", false)) throw Error(reply.value("error", "wait failed"));
    int first = 0;
    bool have = false;
    for (const auto& n : reply.value("containers", nlohmann::json::array())) {
        auto codes = reply.value("exit_codes", nlohmann::json::object());
        int code = codes.value(n.get<std::string>(), 0);
        std::printf("%d\n", code);
        if (!have) first = code, have = true;
    }
    std::fflush(stdout);
    if (down_project) down(g, false, -1, false);  // --down-project: the whole project goes once they have exited
    return first;
}

int rm_command(const GlobalOptions& g, const std::vector<std::string>& services, bool stop_first) {
    compose::Project project = load_project(g);
    state::ProjectState ps(state::runtime_dir(), project.name);
    auto client = ps.supervisor_pid() > 0 ? control::Client::connect(ps.control_socket()) : std::nullopt;
    if (client) {
        if (stop_first) {
            auto r = client->call({{"op", "stop"}, {"services", services}});
            if (!r.value("ok", false)) throw Error(r.value("error", "stop failed"));
        }
        auto r = client->call({{"op", "rm"}, {"services", services}});
        if (!r.value("ok", false)) throw Error(r.value("error", "rm failed"));
        for (const auto& n : r.value("containers", nlohmann::json::array()))
            std::fprintf(stderr, "Container %s  Removed\n", n.get<std::string>().c_str());
        return 0;
    }
    // No supervisor: remove stopped containers from the state on disk.
    for (const auto& r : ps.read_all()) {
        if (!services.empty() && std::find(services.begin(), services.end(), r.service) == services.end()) continue;
        if (r.pid > 0 && state::process_alive(r.pid, r.pid_start_time)) continue;
        std::error_code ec;
        std::filesystem::remove_all(r.bundle_dir, ec);
        ps.remove(r.name);
        std::fprintf(stderr, "Container %s  Removed\n", r.name.c_str());
    }
    return 0;
}

}  // namespace

void add_up_commands(Cli& cli) {
    auto* up_cmd = cli.app.add_subcommand("up", "Create and start the project's containers");
    auto f = std::make_shared<UpFlags>();
    up_cmd->add_flag("-d,--detach", f->detach, "Run in the background");
    up_cmd->add_flag("--abort-on-container-exit", f->abort_on_exit, "Stop everything if any container stops");
    up_cmd->add_flag("--abort-on-container-failure", f->abort_on_failure,
                     "Stop everything if any container exits with a failure; up ends with its exit code");
    up_cmd->add_option("--attach", f->attach, "Print only these services' output")->type_name("SERVICE");
    up_cmd->add_option("--no-attach", f->no_attach, "Don't print these services' output")->type_name("SERVICE");
    up_cmd->add_flag("--attach-dependencies", f->attach_dependencies, "Print the output of the named services' dependencies too");
    up_cmd->add_flag("--no-start", f->no_start, "Create the containers, start none (as `berth create`)");
    up_cmd->add_option("--exit-code-from", f->exit_code_from, "Return this service's exit code (implies --abort-on-container-exit)");
    up_cmd->add_flag("--no-deps", f->no_deps, "Don't start linked services");
    up_cmd->add_flag("--force-recreate", f->force_recreate, "Recreate containers even if unchanged");
    up_cmd->add_flag("--no-recreate", f->no_recreate, "Keep existing containers even if their configuration changed");
    up_cmd->add_flag("--remove-orphans", f->remove_orphans, "Remove containers of services no longer in the compose file");
    up_cmd->add_flag("--dry-run", f->dry_run, "Print what up would create, recreate (and why), start and remove, and do nothing");
    up_cmd->add_flag("--wait", f->wait, "Return once services are running and healthy (implies -d)");
    up_cmd->add_option("--wait-timeout", f->wait_timeout, "Seconds to wait with --wait");
    up_cmd->add_option("--scale", f->scale, "SERVICE=NUM: number of containers of a service");
    up_cmd->add_option("-t,--timeout", f->timeout, "Seconds to wait for a container to stop");
    up_cmd->add_option("--pull", f->pull, "Pull images: always, missing or never (default: each service's pull_policy)")
        ->check(CLI::IsMember({"always", "missing", "never"}));
    up_cmd->add_flag("--build", f->build, "Build images before starting containers");
    up_cmd->add_flag("--no-build", f->no_build, "Don't build an image, even if it is missing");
    up_cmd->add_option("SERVICE", f->services, "Services to start (with their dependencies)");
    up_cmd->callback([&cli, f] {
        cli.action = [&cli, f] {
            int code = up_command(cli.global, *f);
            // `up -d --scale web=2` with 4 running: as docker compose, web-3 and web-4 go.
            if (code == 0 && (f->detach || f->wait) && !f->scale.empty()) remove_scaled_down(cli.global, f->scale);
            return code;
        };
    });

    auto* down_cmd = cli.app.add_subcommand("down", "Stop and remove the project's containers");
    auto volumes = std::make_shared<bool>(false);
    auto timeout = std::make_shared<int>(-1);
    auto down_orphans = std::make_shared<bool>(false);
    down_cmd->add_flag("--remove-orphans", *down_orphans, "Also remove containers of services no longer in the compose file");
    down_cmd->add_flag("-v,--volumes", *volumes, "Also remove the project's named volumes");
    down_cmd->add_option("-t,--timeout", *timeout, "Seconds to wait for a container to stop");
    down_cmd->callback([&cli, volumes, timeout, down_orphans] {
        cli.action = [&cli, volumes, timeout, down_orphans] { return down(cli.global, *volumes, *timeout, *down_orphans); };
    });

    struct OpSpec {
        const char* name;
        const char* help;
        const char* verb;
        bool timeout;
    };
    for (const OpSpec& spec : {OpSpec{"stop", "Stop services (they stay stopped: no restart policy applies)", "Stopped", true},
                               OpSpec{"start", "Start stopped services", "Started", false},
                               OpSpec{"restart", "Restart services", "Restarted", true},
                               OpSpec{"pause", "Pause services (cgroup freezer)", "Paused", false},
                               OpSpec{"unpause", "Unpause services", "Unpaused", false}}) {
        auto* cmd = cli.app.add_subcommand(spec.name, spec.help);
        auto svcs = std::make_shared<std::vector<std::string>>();
        auto t = std::make_shared<int>(-1);
        cmd->add_option("SERVICE", *svcs, "Services (default: all)");
        if (spec.timeout) cmd->add_option("-t,--timeout", *t, "Seconds to wait before SIGKILL");
        std::string op = spec.name, verb = spec.verb;
        cmd->callback([&cli, svcs, t, op, verb] {
            cli.action = [&cli, svcs, t, op, verb] {
                nlohmann::json extra = nlohmann::json::object();
                if (*t >= 0) extra["timeout"] = *t;
                return project_op(cli.global, op, *svcs, extra, verb.c_str());
            };
        });
    }
    auto* kill_cmd = cli.app.add_subcommand("kill", "Send a signal to services' containers");
    auto ksvcs = std::make_shared<std::vector<std::string>>();
    auto ksig = std::make_shared<std::string>("SIGKILL");
    kill_cmd->add_option("SERVICE", *ksvcs, "Services (default: all)");
    kill_cmd->add_option("-s,--signal", *ksig, "Signal to send (name or number)");
    kill_cmd->callback([&cli, ksvcs, ksig] {
        cli.action = [&cli, ksvcs, ksig] {
            auto sig = plan::signal_number(*ksig);
            if (!sig) throw Error("unknown signal \"" + *ksig + "\"", "use a name such as SIGTERM, SIGHUP, or a number");
            return project_op(cli.global, "kill", *ksvcs, {{"signal", *sig}}, "Killed");
        };
    });
    auto* wait_cmd = cli.app.add_subcommand("wait", "Block until services' containers stop; print their exit codes");
    auto wsvcs = std::make_shared<std::vector<std::string>>();
    auto wdown = std::make_shared<bool>(false);
    wait_cmd->add_option("SERVICE", *wsvcs, "Services (default: all)");
    wait_cmd->add_flag("--down-project", *wdown, "Take the whole project down once they have exited");
    wait_cmd->callback([&cli, wsvcs, wdown] {
        cli.action = [&cli, wsvcs, wdown] { return wait_command(cli.global, *wsvcs, *wdown); };
    });

    auto* rm_cmd = cli.app.add_subcommand("rm", "Remove stopped containers");
    auto rsvcs = std::make_shared<std::vector<std::string>>();
    auto rstop = std::make_shared<bool>(false);
    auto rforce = std::make_shared<bool>(false);
    rm_cmd->add_option("SERVICE", *rsvcs, "Services (default: all)");
    rm_cmd->add_flag("-s,--stop", *rstop, "Stop the containers first");
    rm_cmd->add_flag("-f,--force", *rforce, "Don't ask (berth never asks)");
    rm_cmd->callback([&cli, rsvcs, rstop] { cli.action = [&cli, rsvcs, rstop] { return rm_command(cli.global, *rsvcs, *rstop); }; });

    auto* ps_cmd = cli.app.add_subcommand("ps", "List the project's containers");
    auto all = std::make_shared<bool>(false), quiet = std::make_shared<bool>(false),
         services = std::make_shared<bool>(false);
    auto format = std::make_shared<std::string>("table");
    ps_cmd->add_flag("-a,--all", *all, "Show stopped containers too");
    ps_cmd->add_flag("-q,--quiet", *quiet, "Only names");
    ps_cmd->add_flag("--services", *services, "Only service names");
    ps_cmd->add_option("--format", *format, "table or json")->check(CLI::IsMember({"table", "json"}));
    auto only = std::make_shared<std::vector<std::string>>();
    ps_cmd->add_option("SERVICE", *only, "Only these services' containers");
    ps_cmd->callback([&cli, all, quiet, services, format, only] {
        cli.action = [&cli, all, quiet, services, format, only] {
            return ps_command(cli.global, *all, *quiet, *services, *format, *only);
        };
    });
}

}  // namespace berth::cli
