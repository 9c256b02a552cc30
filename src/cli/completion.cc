// berth completion bash|zsh|fish: a completion script generated from the command
// definitions themselves, so it never lags behind them; `berth __man` (hidden) prints the
// manual page made from the same definitions (cli/manpage.h).
#include "base/error.h"
#include "cli/cli.h"
#include "cli/manpage.h"

#include <cstdio>
#include <memory>
#include <string>

namespace berth::cli {
namespace {

std::string flags_of(const CLI::App* app) {
    std::string out;
    for (const CLI::Option* o : app->get_options()) {
        for (const auto& n : o->get_lnames()) out += " --" + n;
        for (const auto& n : o->get_snames()) out += " -" + n;
    }
    return out;
}

std::string bash_script(const CLI::App& app) {
    std::string commands, cases;
    for (const CLI::App* sub : app.get_subcommands({})) {
        if (sub->get_group().empty()) continue;  // hidden
        commands += " " + sub->get_name();
        std::string nested;
        for (const CLI::App* s2 : sub->get_subcommands({})) nested += " " + s2->get_name();
        cases += "        " + sub->get_name() + ") words_for=\"" + nested + flags_of(sub) + "\" ;;\n";
    }
    return "# bash completion for berth; load with: source <(berth completion bash)\n"
           "_berth() {\n"
           "    local cur=${COMP_WORDS[COMP_CWORD]} cmd=\"\" i words_for\n"
           "    for ((i = 1; i < COMP_CWORD; i++)); do\n"
           "        case ${COMP_WORDS[i]} in -*) ;; *) cmd=${COMP_WORDS[i]}; break ;; esac\n"
           "    done\n"
           "    if [ -z \"$cmd\" ]; then\n"
           "        COMPREPLY=($(compgen -W \"" + commands + flags_of(&app) + "\" -- \"$cur\"))\n"
           "        return\n"
           "    fi\n"
           "    case $cmd in\n" + cases +
           "        *) words_for=\"\" ;;\n"
           "    esac\n"
           "    local services=\"\"\n"
           "    case $cur in -*) ;; *) services=$(berth config --services 2>/dev/null) ;; esac\n"
           "    COMPREPLY=($(compgen -W \"$words_for $services\" -- \"$cur\"))\n"
           "}\n"
           "complete -F _berth berth\n";
}

std::string zsh_script(const CLI::App& app) {
    std::string commands;
    for (const CLI::App* sub : app.get_subcommands({})) {
        if (sub->get_group().empty()) continue;  // hidden
        std::string desc = sub->get_description();
        for (auto& c : desc)
            if (c == '\'' || c == ':') c = ' ';
        commands += "        '" + sub->get_name() + ":" + desc + "'\n";
    }
    return "#compdef berth\n# zsh completion for berth; load with: source <(berth completion zsh)\n"
           "_berth() {\n"
           "    local -a commands\n"
           "    commands=(\n" + commands +
           "    )\n"
           "    if (( CURRENT == 2 )); then\n"
           "        _describe 'command' commands\n"
           "    else\n"
           "        local -a services\n"
           "        services=(${(f)\"$(berth config --services 2>/dev/null)\"})\n"
           "        _describe 'service' services\n"
           "    fi\n"
           "}\n"
           "compdef _berth berth\n";
}

// Single-quoted for fish: ' and \ escaped.
std::string fish_quote(const std::string& s) {
    std::string out = "'";
    for (char c : s) {
        if (c == '\'' || c == '\\') out += '\\';
        out += c;
    }
    return out + "'";
}

// One `complete` line per option of `app`, shown when `condition` holds.
std::string fish_options(const CLI::App* app, const std::string& condition) {
    std::string out;
    for (const CLI::Option* o : app->get_options()) {
        if (o->get_positional()) continue;
        std::string line = "complete -c berth -n " + fish_quote(condition);
        for (const auto& n : o->get_snames()) line += " -s " + n;
        for (const auto& n : o->get_lnames()) line += " -l " + n;
        if (o->get_items_expected_max() != 0) line += " -r";
        out += line + " -d " + fish_quote(o->get_description()) + "\n";
    }
    return out;
}

std::string fish_script(const CLI::App& app) {
    std::string out = "# fish completion for berth; load with: berth completion fish | source\n"
                      "complete -c berth -f\n" + fish_options(&app, "__fish_use_subcommand");
    for (const CLI::App* sub : app.get_subcommands({})) {
        if (sub->get_group().empty()) continue;  // hidden
        const std::string& name = sub->get_name();
        out += "complete -c berth -n '__fish_use_subcommand' -a " + name + " -d " + fish_quote(sub->get_description()) + "\n";
        std::string in = "__fish_seen_subcommand_from " + name;
        out += fish_options(sub, in);
        for (const CLI::App* s2 : sub->get_subcommands({}))
            out += "complete -c berth -n " + fish_quote(in) + " -a " + s2->get_name() + " -d " +
                   fish_quote(s2->get_description()) + "\n";
    }
    // Service names after a command (not after `completion`, `image`, `volume`, `version`).
    out += "complete -c berth -n 'not __fish_use_subcommand; and not __fish_seen_subcommand_from completion image volume version ls' "
           "-a '(berth config --services 2>/dev/null)' -d service\n";
    return out;
}

}  // namespace

void add_completion_command(Cli& cli) {
    auto* cmd = cli.app.add_subcommand("completion", "Print a shell completion script (bash, zsh or fish)");
    auto shell = std::make_shared<std::string>();
    cmd->add_option("SHELL", *shell, "bash, zsh or fish")->required()->check(CLI::IsMember({"bash", "zsh", "fish"}));
    cmd->callback([&cli, shell] {
        cli.action = [&cli, shell] {
            std::string script = *shell == "bash" ? bash_script(cli.app) : *shell == "zsh" ? zsh_script(cli.app) : fish_script(cli.app);
            std::fputs(script.c_str(), stdout);
            return 0;
        };
    });
    // Hidden (no group): the build runs it to write berth.1.
    auto* man = cli.app.add_subcommand("__man", "Print the manual page (groff man format)")->group("");
    man->callback([&cli] {
        cli.action = [&cli] {
            std::fputs(man_page(cli.app, BERTH_VERSION).c_str(), stdout);
            return 0;
        };
    });
}

}  // namespace berth::cli
