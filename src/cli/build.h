// Building the images of services with `build:` (cli/build.cc): `berth build`,
// and the builds `up` and `run` make before they start anything.
#pragma once

#include "compose/model.h"

#include <functional>
#include <string>
#include <vector>

namespace berth::cli {

struct BuildFlags {
    bool no_cache = false, pull = false, quiet = false;
    std::vector<std::string> build_args;  // K=V, or K to take $K
    // Called with "building the image of SERVICE" before each build and at each of its
    // progress events (`up` under systemd: STATUS= and EXTEND_TIMEOUT_USEC=).
    std::function<void(const std::string& what)> on_progress;
    std::vector<std::string> secrets;     // id=ID[,src=FILE|,env=VAR]
    std::vector<std::string> ssh;         // default, or ID=SOCKET
};

enum class BuildWhen { Missing, Always, Never };

// Builds the images of these services that have `build:`: when missing (or
// pull_policy: build), always (`up --build`), or never (`up --no-build`: a
// missing image is then an error later, when it is resolved).
void ensure_built(const compose::Project& project, const std::vector<std::string>& services, BuildWhen when,
                  const BuildFlags& flags = {});

}  // namespace berth::cli
