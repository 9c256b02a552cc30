// berth stop|start|restart|pause|unpause [-t N] [SERVICE…], kill [-s SIG],
// wait [--down-project], rm [-s] [-f]: operations on services, asked of the
// project's running supervisor over its control socket (rm without one removes
// stopped containers from the state on disk).
#include "base/error.h"
#include "cli/cli.h"
#include "cli/project.h"
#include "compose/depends.h"
#include "control/control.h"
#include "plan/brief.h"
#include "state/state.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

namespace berth::cli {
namespace {

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

int wait_command(const GlobalOptions& g, const std::vector<std::string>& services, bool then_down) {
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
    if (then_down) down_project(g, false, -1, false);  // --down-project: the whole project goes once they have exited
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

void add_service_op_commands(Cli& cli) {
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
}

}  // namespace berth::cli
