#include "cli/run_deps.h"

#include "base/error.h"
#include "base/fd.h"
#include "state/state.h"
#include "supervisor/readiness.h"

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

namespace rd = supervisor::readiness;

// The dependencies' conditions (started, healthy, completed successfully), as
// `up` waits for them before a dependent starts (readiness::judge decides for
// both); a failed optional one warns.
void wait_for_dependencies(const compose::Project& project, const compose::Service& svc) {
    state::ProjectState ps(state::runtime_dir(), project.name);
    std::set<std::string> settled;  // optional dependencies that failed: warned about once
    for (;;) {
        bool all = true;
        auto records = ps.read_all();
        for (const auto& [dep, d] : svc.depends_on) {
            if (!project.services.count(dep) || settled.count(dep)) continue;
            std::vector<rd::Observed> seen;
            for (const auto& r : records)
                if (r.service == dep) seen.push_back(rd::observe_record(r, state::process_alive(r.pid, r.pid_start_time)));
            rd::Judgement j = rd::judge(dep, d, seen);
            if (j.verdict == rd::Verdict::Failed) throw Error(j.reason, "`berth logs " + dep + "` shows its output");
            if (j.verdict == rd::Verdict::Skipped) {
                std::fprintf(stderr, "warning: %s; it is not required: going on\n", j.reason.c_str());
                settled.insert(dep);
                continue;
            }
            all &= j.verdict == rd::Verdict::Satisfied;
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
