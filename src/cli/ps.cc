// berth ps [-a] [-q] [--services] [--format table|json] [SERVICE…]: the
// project's containers from its state records (a record claiming to run whose
// process is gone shows as dead), as docker compose ps prints them.
#include "base/error.h"
#include "cli/cli.h"
#include "cli/project.h"
#include "cli/ps_format.h"
#include "state/state.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cstdio>
#include <memory>
#include <set>
#include <string>
#include <vector>

namespace berth::cli {
namespace {

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

}  // namespace

void add_ps_command(Cli& cli) {
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
