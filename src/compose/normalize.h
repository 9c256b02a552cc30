// Turns the merged, validated Node tree of a project into the typed model.
// Fills defaults as docker compose does (default network, depends_on
// conditions, ports' protocol and mode, bind sources made absolute), folds
// env_file into environment, and runs compose's load-time checks: unknown
// dependencies, dependency cycles, ports out of range, services without image
// or build, duplicate container names. Errors are LoadErrors with locations.
#pragma once

#include "compose/model.h"
#include "compose/tree.h"

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace berth::compose {

struct NormalizeContext {
    std::string project_name;  // already normalized and checked
    std::string project_dir;   // absolute
    std::vector<std::string> profiles;  // active profiles ("*" enables all)
    // The variables for `environment: [NAME]` with no value, and for env_file
    // interpolation (process environment over .env).
    std::map<std::string, std::string> env;
    std::string home;  // for "~" in bind sources
};

Project normalize(const Node& root, const NormalizeContext& ctx);

// Short port syntax ("127.0.0.1:8000-8001:80-81/udp") → one Port per container port.
std::vector<Port> parse_port_spec(const std::string& spec);
// Short volume syntax ("./data:/data:ro") → Mount; relative sources stay relative.
Mount parse_volume_spec(const std::string& spec);

}  // namespace berth::compose
