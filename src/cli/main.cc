#include "base/error.h"
#include "cli/cli.h"

#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <cstdio>

namespace berth::cli {

bool use_color(const GlobalOptions& g, int fd) {
    if (g.ansi == "always") return true;
    if (g.ansi == "never") return false;
    return ::isatty(fd) && !std::getenv("NO_COLOR");
}

}  // namespace berth::cli

int main(int argc, char** argv) {
    using namespace berth::cli;
    Cli cli;
    auto& app = cli.app;
    auto& g = cli.global;
    app.require_subcommand(1);
    app.fallthrough();
    app.set_help_all_flag("--help-all", "Show help for every command");
    app.add_option("-f,--file", g.files, "Compose configuration files")->type_name("FILE");
    app.add_option("-p,--project-name", g.project_name, "Project name")->type_name("NAME");
    app.add_option("--project-directory", g.project_directory,
                   "Alternate working directory (default: the first compose file's directory)")
        ->type_name("DIR");
    app.add_option("--env-file", g.env_files, "Alternate environment files")->type_name("FILE");
    app.add_option("--profile", g.profiles, "Enable a profile")->type_name("PROFILE");
    app.add_option("--ansi", g.ansi, "Control when to print ANSI control characters")
        ->check(CLI::IsMember({"never", "always", "auto"}))
        ->default_str("auto");
    app.add_flag("--verbose", g.verbose, "Print debug logs on stderr");

    add_version_command(cli);
    add_config_command(cli);
    add_image_commands(cli);
    add_run_command(cli);
    add_up_commands(cli);
    add_logs_command(cli);
    add_exec_command(cli);
    add_inspect_commands(cli);
    add_volume_commands(cli);
    add_cp_command(cli);
    add_completion_command(cli);
    one_value_per_occurrence(app);

    if (auto unknown = unknown_command(app, argc, argv)) {
        std::fprintf(stderr, "berth: %s\n", unknown->c_str());
        return 1;
    }
    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
        return app.exit(e);
    }

    auto logger = spdlog::stderr_color_mt("berth");
    spdlog::set_default_logger(logger);
    spdlog::set_pattern("%^%l%$: %v");
    spdlog::set_level(g.verbose ? spdlog::level::debug : spdlog::level::warn);

    if (!cli.action) return 0;
    try {
        return cli.action();
    } catch (const berth::Error& e) {
        bool color = use_color(g, 2);
        std::fprintf(stderr, "%serror:%s %s\n", color ? "\033[31m" : "", color ? "\033[0m" : "",
                     e.what());
        if (!e.hint().empty()) std::fprintf(stderr, "%s\n", e.hint().c_str());
        return 1;
    } catch (const std::exception& e) {
        std::fprintf(stderr, "error: %s\n", e.what());
        return 1;
    }
}
