// Runs a docker-credential-* program: one argument (get, store, erase), text on
// its standard input, its standard output back.
#pragma once

#include <string>

namespace berth::registry {

struct HelperResult {
    int status = -1;     // exit status; -1 when it could not run
    std::string output;  // standard output (error text when it could not run)
};

HelperResult run_helper(const std::string& program, const std::string& verb, const std::string& input);

}  // namespace berth::registry
