// Images from registries for the commands that start containers: `up` and
// `run` call ensure_images() before anything starts.
#pragma once

#include "compose/model.h"

#include <string>
#include <vector>

namespace berth::cli {

// Pulls the images of these services that their pull_policy (or `override`, from
// --pull always|missing|never, when set) asks for, all at once. Progress lines on stderr
// unless quiet. Throws berth::Error naming the service whose image failed.
void ensure_images(const compose::Project& project, const std::vector<std::string>& services,
                   const std::string& override_policy, bool quiet);

}  // namespace berth::cli
