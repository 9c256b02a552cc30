// berth.1: the manual page in groff man format, generated from the CLI11 command definitions
// (as the completion scripts are), so it never lags behind them. `berth __man` prints it; the
// build writes it with that command (src/cli/CMakeLists.txt) and installs it.
#pragma once

#include <CLI/CLI.hpp>

#include <string>

namespace berth::cli {

std::string man_page(const CLI::App& app, const std::string& version);

}  // namespace berth::cli
