// cli/up: `up`'s flags and body, shared by the commands that are `up` with
// other defaults: `create` (up --no-start), `scale`, `run`'s dependencies.
#pragma once

#include "cli/cli.h"

#include <string>
#include <vector>

namespace berth::cli {

struct UpFlags {
    bool detach = false, abort_on_exit = false, abort_on_failure = false, no_deps = false, force_recreate = false,
         always_recreate_deps = false, no_recreate = false;
    bool wait = false, remove_orphans = false, dry_run = false;
    bool no_start = false;  // create the containers, start none (`create`, `up --no-start`)
    int wait_timeout = 0;
    std::string exit_code_from;
    std::vector<std::string> scale;
    int timeout = -1;
    std::vector<std::string> services;
    std::vector<std::string> attach, no_attach;  // --attach, --no-attach: whose output an attached `up` prints
    bool attach_dependencies = false;
    std::string pull;  // --pull always|missing|never
    bool build = false, no_build = false;
};

// `berth up` with these flags (also in the process the keeper spawns as the detached supervisor).
int up_command(const GlobalOptions& g, const UpFlags& flags);

}  // namespace berth::cli
