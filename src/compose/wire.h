// compose/wire: a loaded project as one JSON document for another process,
// and back. `up` while up hands the running supervisor the project the CLI
// loaded (files found, .env read, interpolated, merged, validated) instead of
// the file names, so the supervisor reads no compose file. The document is
// to_json's canonical form (serialize.h) plus what that leaves out: the
// project directory, the files, the environment, the services of inactive
// profiles, and the required env files that were missing. Reading it back normalizes the canonical form (no file
// is read: env_file values are already in `environment`).
#pragma once

#include "compose/model.h"

#include <nlohmann/json.hpp>

namespace berth::compose {

nlohmann::json to_wire(const Project& p);

// Throws berth::Error for a document that is not a project.
Project from_wire(const nlohmann::json& j);

}  // namespace berth::compose
