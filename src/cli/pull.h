// Images from registries for the commands that start containers: `up` and
// `run` call ensure_images() before anything starts.
#pragma once

#include "compose/model.h"

#include <functional>
#include <string>
#include <vector>

namespace berth::cli {

// Pulls the images of these services that their pull_policy (or `override`, from
// --pull always|missing|never, when set) asks for, all at once. Progress lines on stderr
// unless quiet. Throws berth::Error naming the service whose image failed.
// `on_progress` (`up` under systemd) is called with "pulling images" before and at each
// progress line, possibly from the pull's threads.
void ensure_images(const compose::Project& project, const std::vector<std::string>& services,
                   const std::string& override_policy, bool quiet,
                   const std::function<void(const std::string& what)>& on_progress = {});

}  // namespace berth::cli
