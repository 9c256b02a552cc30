#include "cli/project.h"

#include "base/error.h"
#include "compose/loader.h"
#include "state/memo.h"
#include "state/state.h"
#include "volumes/volume.h"

#include <algorithm>
#include <array>
#include <string_view>

namespace berth::cli {

namespace {

compose::Project load_files(const GlobalOptions& g) {
    compose::LoadOptions opts;
    opts.files = g.files;
    opts.project_name = g.project_name;
    opts.project_directory = g.project_directory;
    opts.env_files = g.env_files;
    opts.profiles = g.profiles;
    // Documents found valid before (by this very binary) skip the schema.
    const state::Memo memo = state::compose_valid_memo();
    opts.valid_memo.known_valid = [&memo](std::string_view doc) { return memo.contains(doc); };
    opts.valid_memo.remember = [&memo](std::string_view doc) { memo.add(doc); };
    return compose::load_project(opts);
}

// The commands that act on a project that exists, and so can find it by name.
bool acts_on_existing(const std::string& command) {
    static constexpr std::array<std::string_view, 19> kByName = {
        "ps", "logs", "top", "stats", "port", "inspect", "events", "wait", "stop", "start", "restart",
        "kill", "pause", "unpause", "rm", "down", "exec", "cp", "images"};
    return std::find(kByName.begin(), kByName.end(), command) != kByName.end();
}

}  // namespace

std::optional<compose::Project> project_from_state(const GlobalOptions& g) {
    if (g.project_name.empty() || !g.files.empty()) return std::nullopt;
    state::ProjectState ps(state::runtime_dir(), g.project_name);
    auto recorded = ps.read_project();
    if (!recorded) return std::nullopt;
    GlobalOptions from_state = g;
    from_state.files = recorded->value("files", std::vector<std::string>{});
    from_state.project_directory = recorded->value("working_dir", "");
    try {
        if (!from_state.files.empty()) return load_files(from_state);
    } catch (const Error&) {
        // The files changed or went away since: the state alone still names what exists.
    }
    compose::Project p;
    p.name = g.project_name;
    for (const auto& r : ps.read_all()) p.services[r.service].name = r.service;
    for (const auto& v : volumes::Store(state::state_root()).list())
        if (v.project == p.name) p.volumes[v.name].name = v.name;
    return p;
}

compose::Project load_project(const GlobalOptions& g) {
    try {
        return load_files(g);
    } catch (const Error&) {
        if (!acts_on_existing(g.command)) throw;
        if (auto p = project_from_state(g)) return std::move(*p);
        throw;
    }
}

}  // namespace berth::cli
