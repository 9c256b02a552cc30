// berth up [-d] [--abort-on-container-exit] [--exit-code-from S] [--no-deps]
//          [--force-recreate] [--scale S=N] [-t N] [--dry-run] [SERVICE…]
// (down: cli/down.cc; ps: cli/ps.cc; stop, start, restart, pause, unpause, kill, wait, rm: cli/service_ops.cc)
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
    o.always_recreate_deps = f.always_recreate_deps;
    o.no_recreate = f.no_recreate;
    o.wait_healthy = f.wait;
    o.remove_orphans = f.remove_orphans;
    if (f.force_recreate && f.no_recreate) throw Error("--force-recreate and --no-recreate cannot be used together");
    if (f.always_recreate_deps && f.no_recreate)
        throw Error("--always-recreate-deps and --no-recreate cannot be used together");
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
    for (const auto& ch : plan::diff(current, project, supervisor::diff_options(o, wanted)))
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
                          {"always_recreate_deps", f.always_recreate_deps},
                          {"no_recreate", f.no_recreate},
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
    for (auto [key, said] : {std::pair{"running", "Running"}, {"recreated", "Recreated"}, {"started", "Started"},
                             {"created", "Created"}, {"restarted", "Restarted"}})
        for (const auto& n : reply.value(key, nlohmann::json::array()))
            std::fprintf(stderr, "Container %s  %s\n", n.get<std::string>().c_str(), said);
    return 0;
}

// Detached: a supervisor process of its own, the keeper's child; returns once it reports the
// stack up (its progress shown meanwhile), throws what it reports instead. `handed_over`: an
// attached `up SERVICE…` streams while that supervisor runs detached (BERTH_DETACH tells it so).
void start_detached(const GlobalOptions& g, const UpFlags& f, const compose::Project& project, bool handed_over = false) {
    Pipe p = make_pipe();
    spawn_supervisor(project, p.write.get(), false, handed_over ? std::vector<std::string>{"BERTH_DETACH=1"}
                                                                : std::vector<std::string>{});
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
    if (msg != "OK\n")
        throw Error(msg.rfind("ERR\t", 0) == 0 ? msg.substr(4) : "the supervisor ended before the stack was up");
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
    const bool handed_over = std::getenv("BERTH_DETACH") != nullptr;  // an attached `up SERVICE…`'s supervisor
    if (const char* fd = std::getenv("BERTH_SUPERVISOR_FD"); fd && (f.detach || handed_over || std::getenv("BERTH_KEPT"))) {
        int report = std::atoi(fd);  // spawned by the keeper: `up -d`'s supervisor, or systemd's `up`'s (cli/kept.h)
        ::unsetenv("BERTH_SUPERVISOR_FD");
        ::unsetenv("BERTH_DETACH");
        if (handed_over) f.detach = true;
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
    const FollowSpec spec = follow_spec(project, f, use_color(g, 1));  // before anything starts: its time
    for (int attempt = 1; ps.supervisor_pid() > 0; ++attempt) {
        if (auto code = up_to_supervisor(g, f, project, ps)) return f.detach ? *code : follow_attached(ps, spec, before);
        if (attempt == 30)
            throw Error("project " + project.name + " is up but its supervisor does not answer",
                        "run `berth down` and `berth up` again");
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    supervisor::UpOptions o = to_options(f);
    o.color = use_color(g, 1);
    // An attached `up SERVICE…` on a project that is not up: as docker compose, neither its end
    // nor Ctrl-C stops what SERVICE depends on. So the supervisor is a detached one (the keeper's
    // child, as `up -d` starts it) and this process streams, as `up` while up does.
    if (!f.detach && !f.services.empty() && !o.abort_on_container_exit && !o.abort_on_container_failure && !notifier) {
        auto before = log_sizes(ps);
        start_detached(g, f, project, true);
        return follow_attached(ps, spec, before);
    }
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
    start_detached(g, f, project);
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
    up_cmd->add_flag("--always-recreate-deps", f->always_recreate_deps, "Recreate dependent containers too");
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
}

}  // namespace berth::cli
