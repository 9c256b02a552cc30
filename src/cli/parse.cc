// Command-line rules CLI11 does not give by default, applied to the whole
// command tree once every command is registered.
#include "cli/cli.h"

#include <algorithm>
#include <array>
#include <string_view>

namespace berth::cli {
namespace {

// Edits from a to b, a swap of two neighbours counting as one ("lgos" is one from "logs").
size_t edit_distance(std::string_view a, std::string_view b) {
    std::vector<std::vector<size_t>> d(a.size() + 1, std::vector<size_t>(b.size() + 1));
    for (size_t i = 0; i <= a.size(); ++i) d[i][0] = i;
    for (size_t j = 0; j <= b.size(); ++j) d[0][j] = j;
    for (size_t i = 1; i <= a.size(); ++i)
        for (size_t j = 1; j <= b.size(); ++j) {
            d[i][j] = std::min({d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1)});
            if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1])
                d[i][j] = std::min(d[i][j], d[i - 2][j - 2] + 1);
        }
    return d[a.size()][b.size()];
}

// docker compose commands berth does not have yet: named as such, not as typos.
constexpr std::array kNotYet{"alpha", "bridge", "commit", "export", "publish", "watch"};

}  // namespace

void one_value_per_occurrence(CLI::App& app) {
    for (CLI::Option* opt : app.get_options())
        if (!opt->get_positional()) opt->allow_extra_args(false);
    for (CLI::App* sub : app.get_subcommands([](CLI::App*) { return true; })) one_value_per_occurrence(*sub);
}

std::optional<std::string> command_word(CLI::App& app, int argc, char** argv) {
    for (int i = 1; i < argc; ++i) {
        std::string_view arg = argv[i];
        if (arg == "--") return std::nullopt;
        if (arg.size() > 1 && arg[0] == '-') {
            // An option of berth's own: skip its value when it is the next word.
            bool attached = arg.find('=') != std::string_view::npos || (arg[1] != '-' && arg.size() > 2);
            std::string name(arg.substr(0, arg.find('=')));
            if (arg[1] != '-' && arg.size() > 2) name = std::string(arg.substr(0, 2));
            const CLI::Option* opt = app.get_option_no_throw(name);
            if (opt && opt->get_items_expected_max() > 0 && !attached) ++i;
            continue;
        }
        return std::string(arg);
    }
    return std::nullopt;
}

std::optional<std::string> unknown_command(CLI::App& app, int argc, char** argv) {
    if (auto named = command_word(app, argc, argv)) {
        const std::string& word = *named;
        for (const CLI::App* sub : app.get_subcommands([](CLI::App*) { return true; }))
            if (sub->check_name(word)) return std::nullopt;
        if (std::find(kNotYet.begin(), kNotYet.end(), word) != kNotYet.end())
            return "\"" + word + "\" is a docker compose command that berth does not have yet; `berth --help` lists the commands it has";
        std::string best;
        size_t best_d = 3;  // suggest only near misses
        for (const CLI::App* sub : app.get_subcommands([](CLI::App*) { return true; })) {
            size_t d = edit_distance(word, sub->get_name());
            if (d < best_d) best_d = d, best = sub->get_name();
        }
        std::string msg = "unknown command \"" + word + "\"";
        if (!best.empty()) msg += "; did you mean \"" + best + "\"?";
        return msg + " (`berth --help` lists the commands)";
    }
    return std::nullopt;
}

}  // namespace berth::cli
