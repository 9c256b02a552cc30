#include "cli/cli.h"

#include <nlohmann/json.hpp>

#include <cstdio>
#include <memory>

#ifndef BERTH_VERSION
#define BERTH_VERSION "0.0.0"
#endif

namespace berth::cli {

void add_version_command(Cli& cli) {
    auto* cmd = cli.app.add_subcommand("version", "Show the berth version");
    // Option storage lives as long as the callback that owns it.
    auto format = std::make_shared<std::string>("text");
    cmd->add_option("--format", *format, "Output format")->check(CLI::IsMember({"text", "json"}));
    auto short_only = std::make_shared<bool>(false);
    cmd->add_flag("--short", *short_only, "Print only the version number");
    cmd->callback([&cli, short_only, format] {
        cli.action = [short_only, format] {
            if (*format == "json") {
                std::printf("%s\n", nlohmann::json{{"version", BERTH_VERSION}}.dump().c_str());
            } else if (*short_only) {
                std::printf("%s\n", BERTH_VERSION);
            } else {
                std::printf("berth version %s\n", BERTH_VERSION);
            }
            return 0;
        };
    });
}

}  // namespace berth::cli
