// berth down [-v] [-t N] [--remove-orphans]: the project's containers stopped
// by its supervisor (or, none running, cleaned up from the state on disk) and
// removed, with its networks; named volumes too with -v. Orphans (services no
// longer in the file) stay unless --remove-orphans.
#include "base/error.h"
#include "cli/cli.h"
#include "cli/progress.h"
#include "cli/project.h"
#include "control/control.h"
#include "keeper/client.h"
#include "state/state.h"
#include "supervisor/supervisor.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <memory>
#include <string>
#include <thread>
#include <unistd.h>
#include <vector>

namespace berth::cli {

int down_project(const GlobalOptions& g, bool volumes, int timeout, bool remove_orphans) {
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

void add_down_command(Cli& cli) {
    auto* down_cmd = cli.app.add_subcommand("down", "Stop and remove the project's containers");
    auto volumes = std::make_shared<bool>(false);
    auto timeout = std::make_shared<int>(-1);
    auto down_orphans = std::make_shared<bool>(false);
    down_cmd->add_flag("--remove-orphans", *down_orphans, "Also remove containers of services no longer in the compose file");
    down_cmd->add_flag("-v,--volumes", *volumes, "Also remove the project's named volumes");
    down_cmd->add_option("-t,--timeout", *timeout, "Seconds to wait for a container to stop");
    down_cmd->callback([&cli, volumes, timeout, down_orphans] {
        cli.action = [&cli, volumes, timeout, down_orphans] { return down_project(cli.global, *volumes, *timeout, *down_orphans); };
    });
}

}  // namespace berth::cli
