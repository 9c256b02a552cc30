#include "cli/run_deps.h"

#include "base/error.h"
#include "base/fd.h"
#include "state/state.h"

#include <chrono>
#include <cstdio>
#include <fcntl.h>
#include <set>
#include <string>
#include <thread>
#include <unistd.h>
#include <vector>

namespace berth::cli {
namespace {

// The dependencies' conditions (started, healthy, completed successfully), as
// `up` waits for them before a dependent starts; a failed optional one warns.
void wait_for_dependencies(const compose::Project& project, const compose::Service& svc) {
    state::ProjectState ps(state::runtime_dir(), project.name);
    std::set<std::string> warned;
    auto since = std::chrono::steady_clock::now();
    for (;;) {
        // A running dependency still without a health status after a while has no healthcheck.
        bool no_health_yet = std::chrono::steady_clock::now() - since > std::chrono::seconds(2);
        bool all = true;
        auto records = ps.read_all();
        for (const auto& [dep, d] : svc.depends_on) {
            if (!project.services.count(dep) || warned.count(dep)) continue;
            bool ready = false;
            std::string failure;
            for (const auto& r : records) {
                if (r.service != dep) continue;
                bool alive = (r.state == "running" || r.state == "starting") && state::process_alive(r.pid, r.pid_start_time);
                bool exited = !alive && r.state != "restarting" && r.state != "created" && r.state != "starting";
                std::string code = std::to_string(r.exit_code.value_or(-1));
                if (d.condition == "service_healthy") {
                    if (alive && r.health == "healthy") ready = true;
                    else if (alive && r.health.empty() && no_health_yet)
                        failure = "dependency " + dep + " (" + r.name + ") has no healthcheck, so it can never be service_healthy";
                    else if (r.health == "unhealthy") failure = "dependency " + dep + " (" + r.name + ") is unhealthy";
                    else if (exited) failure = "dependency " + dep + " (" + r.name + ") exited with code " + code + " before it was healthy";
                } else if (d.condition == "service_completed_successfully") {
                    if (exited && r.exit_code == 0) ready = true;
                    else if (exited) failure = "dependency " + dep + " (" + r.name + ") exited with code " + code;
                } else if (alive || exited) {
                    ready = true;
                }
            }
            if (!failure.empty()) {
                if (d.required) throw Error(failure, "`berth logs " + dep + "` shows its output");
                std::fprintf(stderr, "warning: %s; it is not required: going on\n", failure.c_str());
                warned.insert(dep);
                continue;
            }
            all &= ready;
        }
        if (all) return;
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
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
