#include "cli/run_deps.h"

#include "base/error.h"
#include "base/fd.h"
#include "control/control.h"
#include "state/state.h"

#include <nlohmann/json.hpp>

#include <cstdio>
#include <fcntl.h>
#include <string>
#include <unistd.h>
#include <vector>

namespace berth::cli {
namespace {

// The dependencies' conditions (started, healthy, completed successfully), as
// `up` waits for them before a dependent starts: the project's supervisor
// answers once each is met or failed (readiness::judge decides, as the units
// change); a failed optional one warns.
void wait_for_dependencies(const compose::Project& project, const compose::Service& svc) {
    nlohmann::json deps = nlohmann::json::object();
    for (const auto& [dep, d] : svc.depends_on)
        if (project.services.count(dep)) deps[dep] = {{"condition", d.condition}, {"required", d.required}};
    state::ProjectState ps(state::runtime_dir(), project.name);
    auto client = ps.supervisor_pid() > 0 ? control::Client::connect(ps.control_socket()) : std::nullopt;
    if (!client) throw Error("project " + project.name + " has no supervisor to wait for " + svc.name + "'s dependencies",
                             "`berth up -d` starts it");
    nlohmann::json reply = client->call({{"op", "wait_dependencies"}, {"depends_on", deps}});
    for (const auto& w : reply.value("warnings", nlohmann::json::array()))
        std::fprintf(stderr, "warning: %s; it is not required: going on\n", w.get<std::string>().c_str());
    if (reply.value("ok", false)) return;
    std::string dep = reply.value("dependency", "");
    throw Error(reply.value("error", "the supervisor could not wait for the dependencies"),
                dep.empty() ? "" : "`berth logs " + dep + "` shows its output");
}

}  // namespace

// What SERVICE depends on, brought up as `up -d` would (status lines on
// stderr, so the one-off's stdout stays its own), then waited for.
void start_dependencies(const GlobalOptions& g, const compose::Project& project, const compose::Service& svc) {
    std::vector<std::string> deps;
    for (const auto& [dep, _] : svc.depends_on)
        if (project.services.count(dep)) deps.push_back(dep);
    if (deps.empty()) return;
    std::fflush(stdout);
    UniqueFd saved(::fcntl(1, F_DUPFD_CLOEXEC, 3));
    ::dup2(2, 1);
    auto restore = [&] {
        std::fflush(stdout);
        if (saved.get() >= 0) ::dup2(saved.get(), 1);
    };
    try {
        up_services(g, deps);
    } catch (...) {
        restore();
        throw;
    }
    restore();
    wait_for_dependencies(project, svc);
}

}  // namespace berth::cli
