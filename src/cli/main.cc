#include "base/error.h"
#include "cli/cli.h"
#include "keeper/keeper.h"

#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <cstdio>
#include <string_view>

namespace berth::cli {

bool use_color(const GlobalOptions& g, int fd) {
    if (g.ansi == "always") return true;
    if (g.ansi == "never") return false;
    return ::isatty(fd) && !std::getenv("NO_COLOR");
}

namespace {

using Registrar = void (*)(Cli&);

// Every command file's registration function, in `berth --help` order.
constexpr Registrar kRegistrars[] = {add_version_command, add_config_command,  add_image_commands,
                                     add_run_command,     add_up_commands,     add_down_command,
                                     add_service_op_commands, add_ps_command, add_logs_command,
                                     add_exec_command,    add_inspect_commands, add_volume_commands,
                                     add_cp_command,      add_pull_commands,   add_project_commands, add_build_commands, add_push_command,
                                     add_create_command,  add_completion_command};

// Which registration function makes each top-level command. Building CLI11's whole command
// tree costs more than the rest of `berth version` (bench/startup_bench.sh): main registers
// only the file of the command being run. A command missing here (a new one, `completion`,
// which walks the tree) gets every file registered, so this table can make berth slower but
// never wrong; tests/cli/commands.sh checks each command's help against it.
struct CommandFile {
    std::string_view name;
    Registrar add;
};
constexpr CommandFile kCommandFiles[] = {
    {"version", add_version_command}, {"config", add_config_command}, {"image", add_image_commands},
    {"run", add_run_command},         {"up", add_up_commands},        {"down", add_down_command},
    {"stop", add_service_op_commands}, {"start", add_service_op_commands}, {"restart", add_service_op_commands},
    {"pause", add_service_op_commands}, {"unpause", add_service_op_commands}, {"kill", add_service_op_commands},
    {"wait", add_service_op_commands}, {"rm", add_service_op_commands}, {"events", add_project_commands},
    {"ls", add_project_commands},     {"ps", add_ps_command},         {"logs", add_logs_command},
    {"exec", add_exec_command},       {"port", add_inspect_commands}, {"inspect", add_inspect_commands},
    {"top", add_inspect_commands},    {"stats", add_inspect_commands}, {"volume", add_volume_commands},
    {"cp", add_cp_command},           {"pull", add_pull_commands},    {"login", add_pull_commands},
    {"logout", add_pull_commands},    {"images", add_pull_commands},  {"scale", add_project_commands},
    {"build", add_build_commands},      {"builder", add_build_commands},
    {"push", add_push_command},       {"create", add_create_command}, {"attach", add_logs_command},
    {"volumes", add_volume_commands},
};

// The registration function of the command named on the command line, or nullptr for all of
// them (no command, or an unknown one). CLI11 shows the named command's help for
// `berth --help up` as for `berth up --help`.
Registrar command_file(CLI::App& app, int argc, char** argv) {
    auto word = command_word(app, argc, argv);
    if (!word) return nullptr;
    for (const CommandFile& c : kCommandFiles)
        if (c.name == *word) return c.add;
    return nullptr;
}

// The command, with berth's errors printed for a person.
int run_action(Cli& cli) {
    auto& g = cli.global;
    try {
        return cli.action();
    } catch (const berth::Error& e) {
        bool color = use_color(g, 2);
        std::fprintf(stderr, "%serror:%s %s\n", color ? "\033[31m" : "", color ? "\033[0m" : "",
                     e.what());
        if (!e.hint().empty()) std::fprintf(stderr, "%s\n", e.hint().c_str());
        return e.exit_status();
    } catch (const std::exception& e) {
        std::fprintf(stderr, "error: %s\n", e.what());
        return 1;
    }
}

}  // namespace

}  // namespace berth::cli

std::vector<std::string>& berth::cli::process_argv() {
    static std::vector<std::string> argv;
    return argv;
}

int main(int argc, char** argv) {
    using namespace berth::cli;
    // The per-project keeper (keeper/keeper.h): started by `up -d`, never by a person.
    if (argc == 3 && std::string_view(argv[1]) == "__keeper") return berth::keeper::keeper_main(argv[2]);
    process_argv().assign(argv, argv + argc);
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

    if (auto word = command_word(app, argc, argv)) g.command = *word;
    if (Registrar add = command_file(app, argc, argv)) {
        add(cli);
    } else {
        for (Registrar r : kRegistrars) r(cli);
    }
    add_unsupported_options(cli);
    one_value_per_occurrence(app);

    if (auto unknown = unknown_command(app, argc, argv)) {
        std::fprintf(stderr, "berth: %s\n", unknown->c_str());
        return 1;
    }
    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
        // `berth run --build web`'s problem is --build, not what else is missing.
        if (cli.unsupported.empty() || e.get_exit_code() == 0) return app.exit(e);
    }

    auto logger = spdlog::stderr_color_mt("berth");
    spdlog::set_default_logger(logger);
    spdlog::set_pattern("%^%l%$: %v");
    spdlog::set_level(g.verbose ? spdlog::level::debug : spdlog::level::warn);

    if (!cli.unsupported.empty()) {
        std::fprintf(stderr, "berth: `%s` is not supported by berth (yet); `berth %s--help` lists what it has\n",
                     cli.unsupported.c_str(), g.command.empty() ? "" : (g.command + " ").c_str());
        return 1;
    }
    if (!cli.action) return 0;
    // The command's result leaves through std::exit: stdio is flushed and static objects
    // (spdlog's registry) are destroyed, but the parse tree on this stack is not taken apart
    // piece by piece (CLI11's destructors were 3 % of a `run --rm`'s samples).
    std::exit(run_action(cli));
}
