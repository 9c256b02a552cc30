// berth completion bash|zsh: a completion script generated from the command
// definitions themselves, so it never lags behind them.
#include "base/error.h"
#include "cli/cli.h"

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

}  // namespace

void add_completion_command(Cli& cli) {
    auto* cmd = cli.app.add_subcommand("completion", "Print a shell completion script (bash or zsh)");
    auto shell = std::make_shared<std::string>();
    cmd->add_option("SHELL", *shell, "bash or zsh")->required()->check(CLI::IsMember({"bash", "zsh"}));
    cmd->callback([&cli, shell] {
        cli.action = [&cli, shell] {
            std::fputs((*shell == "bash" ? bash_script(cli.app) : zsh_script(cli.app)).c_str(), stdout);
            return 0;
        };
    });
}

}  // namespace berth::cli
