// Loads the compose project named by the global options (-f, -p,
// --project-directory, --env-file, --profile), for every command that needs one.
#pragma once

#include "cli/cli.h"
#include "compose/model.h"

namespace berth::cli {

compose::Project load_project(const GlobalOptions& g);

}  // namespace berth::cli
