#include "cli/cli.h"

namespace berth::cli {

void add_config_command(Cli& cli) {
    cli.app.add_subcommand("config", "Parse, resolve and render the compose file in canonical form");
}

}  // namespace berth::cli
