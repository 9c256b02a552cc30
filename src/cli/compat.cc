// docker compose's options that berth does not have (from docker compose's
// reference pages, tests/cli/data/compose_reference.txt): registered hidden on
// their command, so that typing one says so by name, instead of CLI11's
// generic "arguments were not expected".
#include "cli/cli.h"

#include <memory>
#include <string>

namespace berth::cli {
namespace {

struct Unsupported {
    const char* command;  // "" for the global options
    const char* option;   // the long name, without "--"
    const char* shorthand;
    bool takes_value;
};

constexpr Unsupported kUnsupported[] = {
    {"", "all-resources", "", false},
    {"", "compatibility", "", false},
    {"", "dry-run", "", false},
    {"", "parallel", "", true},
    {"", "progress", "", true},
    {"build", "builder", "", true},
    {"build", "check", "", false},
    {"build", "memory", "m", true},
    {"build", "print", "", false},
    {"build", "provenance", "", true},
    {"build", "push", "", false},
    {"build", "sbom", "", true},
    {"build", "with-dependencies", "", false},
    {"attach", "detach-keys", "", true},
    {"config", "environment", "", false},
    {"config", "hash", "", true},
    {"config", "lock-image-digests", "", false},
    {"config", "models", "", false},
    {"config", "no-consistency", "", false},
    {"config", "no-env-resolution", "", false},
    {"config", "no-interpolate", "", false},
    {"config", "no-normalize", "", false},
    {"config", "no-path-resolution", "", false},
    {"config", "resolve-image-digests", "", false},
    {"config", "variables", "", false},
    {"cp", "all", "", false},
    {"create", "quiet-pull", "", false},
    {"cp", "follow-link", "L", false},
    {"down", "rmi", "", true},
    {"events", "since", "", true},
    {"events", "until", "", true},
    {"kill", "remove-orphans", "", false},
    {"ls", "filter", "", true},
    {"ps", "filter", "", true},
    {"push", "include-deps", "", false},
    {"ps", "no-trunc", "", false},
    {"ps", "orphans", "", false},
    {"ps", "status", "", true},
    {"pull", "ignore-buildable", "", false},
    {"pull", "policy", "", true},
    {"restart", "no-deps", "", false},
    {"rm", "volumes", "v", false},
    {"run", "build", "", false},
    {"run", "label", "l", true},
    {"run", "quiet", "q", false},
    {"run", "quiet-build", "", false},
    {"run", "quiet-pull", "", false},
    {"run", "remove-orphans", "", false},
    {"run", "use-aliases", "", false},
    {"start", "wait", "", false},
    {"start", "wait-timeout", "", true},
    {"stats", "all", "a", false},
    {"stats", "no-trunc", "", false},
    {"up", "menu", "", false},
    {"up", "no-color", "", false},
    {"up", "no-log-prefix", "", false},
    {"up", "quiet-build", "", false},
    {"up", "quiet-pull", "", false},
    {"up", "renew-anon-volumes", "V", false},
    {"up", "timestamps", "", false},
    {"up", "watch", "w", false},
    {"up", "yes", "y", false},
};

}  // namespace

void add_unsupported_options(Cli& cli) {
    for (const Unsupported& u : kUnsupported) {
        CLI::App* app = &cli.app;
        if (*u.command) {
            app = nullptr;
            for (CLI::App* sub : cli.app.get_subcommands([](CLI::App*) { return true; }))
                if (sub->get_name() == u.command) app = sub;
            if (!app) continue;  // the command's file is not registered in this run
        }
        std::string name = std::string("--") + u.option;
        if (app->get_option_no_throw(name)) continue;  // berth has it after all
        if (*u.shorthand && !app->get_option_no_throw(std::string("-") + u.shorthand) &&
            !(app == &cli.app || app->get_parent()->get_option_no_throw(std::string("-") + u.shorthand)))
            name = std::string("-") + u.shorthand + "," + name;
        std::string what = std::string("docker compose ") + (*u.command ? std::string(u.command) + " " : "") + "--" + u.option;
        auto used = [&cli, what] { cli.unsupported = what; };
        CLI::Option* opt = u.takes_value
                               ? app->add_option_function<std::string>(name, [used](const std::string&) { used(); })
                               : app->add_flag_callback(name, used);
        opt->group("");  // hidden from --help
    }
}

}  // namespace berth::cli
