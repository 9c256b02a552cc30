// The canonical form of a project, as `docker compose config` prints it:
// long-form ports and volumes, depends_on as a mapping, environment as a
// mapping, durations as Go durations, sizes in bytes, keys in compose-go's
// order. to_json() builds it; to_yaml() writes any such JSON as block YAML
// with strings quoted wherever a YAML reader would take them for something else.
#pragma once

#include "compose/model.h"

#include <nlohmann/json.hpp>

#include <string>

namespace berth::compose {

nlohmann::ordered_json to_json(const Project& project);
nlohmann::ordered_json service_to_json(const Service& service);
std::string to_yaml(const nlohmann::ordered_json& value);

}  // namespace berth::compose
