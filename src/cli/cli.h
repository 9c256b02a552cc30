// The command line: global options shared by every command, and one
// registration function per command file (cli/config.cc, cli/image.cc, …).
// A command's callback sets `Cli::action`; main() runs it after parsing so
// that errors are printed once, in one place.
#pragma once

#include <CLI/CLI.hpp>

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace berth::cli {

struct GlobalOptions {
    std::vector<std::string> files;         // -f/--file
    std::string project_name;               // -p/--project-name
    std::string project_directory;          // --project-directory
    std::vector<std::string> env_files;     // --env-file
    std::vector<std::string> profiles;      // --profile
    std::string ansi = "auto";              // --ansi never|always|auto
    bool verbose = false;                   // --verbose: debug logs on stderr
    std::string command;                    // the command's name ("ps", "up"…), set by main
};

struct Cli {
    CLI::App app{"berth: run Compose stacks from kernel primitives, no daemon", "berth"};
    GlobalOptions global;
    std::function<int()> action;  // set by the chosen command
    std::string unsupported;      // a docker compose option berth lacks was given (cli/compat.cc)
};

// True when colored output should be written to `fd` under --ansi.
bool use_color(const GlobalOptions& g, int fd);

// A repeatable option takes exactly one value per occurrence, as in docker
// (`run -e A=1 web env`: "web" is the service, not a second value of -e).
void one_value_per_occurrence(CLI::App& app);
// The first word that is not one of berth's global options or its value (the
// command's name, if any); the options must be registered before.
std::optional<std::string> command_word(CLI::App& app, int argc, char** argv);
// When the first word that is not one of berth's options names no command:
// what to tell the user (the nearest command, or that berth lacks it yet).
std::optional<std::string> unknown_command(CLI::App& app, int argc, char** argv);

// `up -d SERVICE…` (with their dependencies): `run` starts what its service depends on with it.
// With `scale` ("web=3"), as `up --scale`.
int up_services(const GlobalOptions& g, const std::vector<std::string>& services,
                const std::vector<std::string>& scale = {}, bool no_deps = false);
// `down` (cli/down.cc), also `wait --down-project`'s end.
int down_project(const GlobalOptions& g, bool volumes, int timeout, bool remove_orphans);
// After `scale web=2` or `up -d --scale web=2`: the replicas above the number ("web=2") are
// stopped and removed by the running supervisor; the others stay as they are.
void remove_scaled_down(const GlobalOptions& g, const std::vector<std::string>& scale);

// docker compose's options berth lacks, hidden on their commands: using one
// sets Cli::unsupported, and main says so instead of running anything.
void add_unsupported_options(Cli& cli);

// Bytes as docker prints them: 1.5MB (cli/image.cc).
std::string human_size(int64_t bytes);

// One per command file.
void add_version_command(Cli& cli);
void add_config_command(Cli& cli);
void add_image_commands(Cli& cli);
void add_run_command(Cli& cli);
void add_up_commands(Cli& cli);  // up
void add_down_command(Cli& cli);
void add_service_op_commands(Cli& cli);  // stop, start, restart, pause, unpause, kill, wait, rm
void add_ps_command(Cli& cli);
void add_logs_command(Cli& cli);  // logs, attach
void add_exec_command(Cli& cli);
void add_inspect_commands(Cli& cli);
void add_completion_command(Cli& cli);
void add_volume_commands(Cli& cli);  // volume …, volumes
void add_cp_command(Cli& cli);
void add_pull_commands(Cli& cli);  // pull, login, logout
void add_build_commands(Cli& cli);  // build, builder prune
void add_image_pull_command(Cli& cli, CLI::App* image);
void add_project_commands(Cli& cli);  // ls, scale, events
void add_push_command(Cli& cli);  // push
void add_create_command(Cli& cli);  // create (up --no-start)
void add_image_push_command(Cli& cli, CLI::App* image);

// The command line berth was started with (`up -d` has the keeper run it again as the supervisor).
std::vector<std::string>& process_argv();

}  // namespace berth::cli
