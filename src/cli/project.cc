#include "cli/project.h"

#include "compose/loader.h"
#include "state/memo.h"

namespace berth::cli {

compose::Project load_project(const GlobalOptions& g) {
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

}  // namespace berth::cli
