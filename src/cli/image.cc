#include "cli/cli.h"

namespace berth::cli {

void add_image_commands(Cli& cli) {
    cli.app.add_subcommand("image", "Manage images")->require_subcommand(1);
}

}  // namespace berth::cli
