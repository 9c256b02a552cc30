#include "cli/project.h"

#include "compose/loader.h"

namespace berth::cli {

compose::Project load_project(const GlobalOptions& g) {
    compose::LoadOptions opts;
    opts.files = g.files;
    opts.project_name = g.project_name;
    opts.project_directory = g.project_directory;
    opts.env_files = g.env_files;
    opts.profiles = g.profiles;
    return compose::load_project(opts);
}

}  // namespace berth::cli
