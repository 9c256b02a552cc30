// What an attached `up` on a running project follows (cli/follow.h).
#include "cli/follow.h"

#include "cli/up.h"
#include "logs/log_file.h"
#include "plan/plan.h"

#include <algorithm>

namespace berth::cli {

FollowSpec follow_spec(const compose::Project& project, const UpFlags& f, bool color) {
    FollowSpec spec;
    spec.color = color;
    spec.since_ns = logs::now_ns();
    spec.stop_on_ctrl_c = f.services;
    if (!f.attach.empty()) {
        spec.printed.insert(f.attach.begin(), f.attach.end());
    } else if (f.services.empty()) {
        for (const auto& [n, _] : project.services) spec.printed.insert(n);
    } else if (f.attach_dependencies) {
        spec.printed = plan::with_dependencies(project, f.services);
    } else {
        spec.printed.insert(f.services.begin(), f.services.end());
    }
    for (const auto& n : f.no_attach) spec.printed.erase(n);
    if (!f.services.empty()) spec.watched.insert(f.services.begin(), f.services.end());
    else spec.watched = spec.printed;
    if (spec.watched.empty())
        for (const auto& [n, _] : project.services) spec.watched.insert(n);
    return spec;
}

}  // namespace berth::cli
