// berth ls [-a] [-q] [--format table|json]: the projects, as docker compose ls.
// berth scale SERVICE=N…: a service's number of containers (`up -d --scale`).
// berth events [--json]: the project's container events as they happen.
#include "base/error.h"
#include "cli/cli.h"
#include "cli/project.h"
#include "control/control.h"
#include "state/state.h"

#include <nlohmann/json.hpp>

#include <cstdio>
#include <map>
#include <memory>

namespace berth::cli {
namespace {

// docker's STATUS: each state with its count, "running(2), exited(1)".
std::string status_of(const std::map<std::string, int>& counts) {
    std::string out;
    for (const auto& [state, n] : counts) out += (out.empty() ? "" : ", ") + state + "(" + std::to_string(n) + ")";
    return out;
}

int ls_command(const std::string& format, bool all, bool quiet) {
    nlohmann::json out = nlohmann::json::array();
    for (const auto& name : state::list_projects(state::runtime_dir())) {
        state::ProjectState ps(state::runtime_dir(), name);
        std::map<std::string, int> counts;
        for (auto& r : ps.read_all()) {
            bool alive = state::process_alive(r.pid, r.pid_start_time);
            if ((r.state == "running" || r.state == "paused" || r.state == "starting") && !alive) r.state = "exited";
            ++counts[r.state];
        }
        // A project shows while something of it runs; a stopped one only with --all.
        bool running = counts.count("running") || counts.count("paused") || counts.count("restarting");
        if (!all && !running) continue;
        std::string files;
        if (auto p = ps.read_project(); p && p->contains("files"))
            for (const auto& f : (*p)["files"]) files += (files.empty() ? "" : ",") + f.get<std::string>();
        out.push_back({{"Name", name}, {"Status", counts.empty() ? "exited(0)" : status_of(counts)}, {"ConfigFiles", files}});
    }
    if (quiet) {
        for (const auto& p : out) std::printf("%s\n", p["Name"].get<std::string>().c_str());
        return 0;
    }
    if (format == "json") {
        std::printf("%s\n", out.dump().c_str());
        return 0;
    }
    std::printf("%-20s %-24s %s\n", "NAME", "STATUS", "CONFIG FILES");
    for (const auto& p : out)
        std::printf("%-20s %-24s %s\n", p["Name"].get<std::string>().c_str(), p["Status"].get<std::string>().c_str(),
                    p["ConfigFiles"].get<std::string>().c_str());
    return 0;
}

int scale_command(const GlobalOptions& g, const std::vector<std::string>& args, bool no_deps) {
    std::vector<std::string> services;
    for (const auto& a : args) {
        auto eq = a.find('=');
        if (eq == std::string::npos || eq == 0 || eq + 1 == a.size() || a.find_first_not_of("0123456789", eq + 1) != std::string::npos)
            throw Error("scale " + a + ": expected SERVICE=NUMBER", "for example: berth scale web=3");
        services.push_back(a.substr(0, eq));
    }
    int code = up_services(g, services, args, no_deps);
    remove_scaled_down(g, args);
    return code;
}

}  // namespace

// Fewer than there are: the replicas above the number stop and go, the others stay as they are.
void remove_scaled_down(const GlobalOptions& g, const std::vector<std::string>& args) {
    compose::Project project = load_project(g);
    state::ProjectState ps(state::runtime_dir(), project.name);
    std::vector<std::string> surplus;
    for (const auto& a : args) {
        std::string service = a.substr(0, a.find('='));
        int n = std::stoi(a.substr(a.find('=') + 1));
        for (const auto& r : ps.read_all())
            if (r.service == service && r.index > n) surplus.push_back(r.name);
    }
    if (surplus.empty()) return;
    auto client = ps.supervisor_pid() > 0 ? control::Client::connect(ps.control_socket()) : std::nullopt;
    if (!client) throw Error("project " + project.name + " is not up", "start it with `berth up -d`");
    for (const char* op : {"stop", "rm"}) {
        nlohmann::json reply = client->call({{"op", op}, {"containers", surplus}});
        if (!reply.value("ok", false)) throw Error(reply.value("error", std::string("scale: ") + op + " failed"));
    }
    for (const auto& n : surplus) std::fprintf(stderr, "Container %s  Removed\n", n.c_str());
}

namespace {

int events_command(const GlobalOptions& g, bool json) {
    compose::Project project = load_project(g);
    state::ProjectState ps(state::runtime_dir(), project.name);
    auto client = ps.supervisor_pid() > 0 ? control::Client::connect(ps.control_socket()) : std::nullopt;
    if (!client) throw Error("project " + project.name + " is not up", "start it with `berth up -d`");
    client->send({{"op", "events"}});
    while (auto ev = client->read_line()) {
        if (json) {
            std::printf("%s\n", ev->dump().c_str());
        } else {
            std::printf("%s container %s %s (service=%s)\n", ev->value("time", "").c_str(), ev->value("action", "").c_str(),
                        ev->value("id", "").c_str(), ev->value("service", "").c_str());
        }
        std::fflush(stdout);
    }
    return 0;
}

}  // namespace

void add_project_commands(Cli& cli) {
    auto* ls_cmd = cli.app.add_subcommand("ls", "List projects (those running; -a: all)");
    auto format = std::make_shared<std::string>("table");
    auto all = std::make_shared<bool>(false), quiet = std::make_shared<bool>(false);
    ls_cmd->add_option("--format", *format, "table or json")->check(CLI::IsMember({"table", "json"}));
    ls_cmd->add_flag("-a,--all", *all, "Show stopped projects too");
    ls_cmd->add_flag("-q,--quiet", *quiet, "Only names");
    ls_cmd->callback([&cli, format, all, quiet] { cli.action = [=] { return ls_command(*format, *all, *quiet); }; });

    auto* scale_cmd = cli.app.add_subcommand("scale", "Set the number of containers of services");
    auto args = std::make_shared<std::vector<std::string>>();
    auto no_deps = std::make_shared<bool>(false);
    scale_cmd->add_option("SERVICE=REPLICAS", *args, "Service and its number of containers")->required();
    scale_cmd->add_flag("--no-deps", *no_deps, "Don't start linked services");
    scale_cmd->callback([&cli, args, no_deps] {
        cli.action = [&cli, args, no_deps] { return scale_command(cli.global, *args, *no_deps); };
    });

    auto* ev_cmd = cli.app.add_subcommand("events", "Stream container events of the project");
    auto evjson = std::make_shared<bool>(false);
    ev_cmd->add_flag("--json", *evjson, "One JSON object per line");
    ev_cmd->callback([&cli, evjson] { cli.action = [&cli, evjson] { return events_command(cli.global, *evjson); }; });
}

}  // namespace berth::cli
