// berth create [--build|--no-build] [--force-recreate|--no-recreate] [--pull P]
//              [--remove-orphans] [--scale S=N] [SERVICE…]
// The containers of the services (with their dependencies), created and not
// started: `up --no-start`. `berth start` starts them.
#include "cli/cli.h"
#include "cli/up.h"

#include <memory>

namespace berth::cli {

void add_create_command(Cli& cli) {
    auto* cmd = cli.app.add_subcommand("create", "Create the services' containers without starting them");
    auto f = std::make_shared<UpFlags>();
    f->no_start = true;
    cmd->add_flag("--build", f->build, "Build images before creating containers");
    cmd->add_flag("--no-build", f->no_build, "Don't build an image, even if it is missing");
    cmd->add_flag("--force-recreate", f->force_recreate, "Recreate containers even if unchanged");
    cmd->add_flag("--no-recreate", f->no_recreate, "Keep existing containers even if their configuration changed");
    cmd->add_option("--pull", f->pull, "Pull images: always, missing or never (default: each service's pull_policy)")
        ->check(CLI::IsMember({"always", "missing", "never"}));
    cmd->add_flag("--remove-orphans", f->remove_orphans, "Remove containers of services no longer in the compose file");
    cmd->add_option("--scale", f->scale, "SERVICE=NUM: number of containers of a service");
    cmd->add_flag_function("-y,--yes", [](int64_t) {}, "Don't ask (berth never asks)");
    cmd->add_option("SERVICE", f->services, "Services to create (with their dependencies)");
    cmd->callback([&cli, f] { cli.action = [&cli, f] { return up_command(cli.global, *f); }; });
}

}  // namespace berth::cli
