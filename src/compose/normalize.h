// Turns the merged, validated Node tree of a project into the typed model.
// Fills defaults as docker compose does (default network, depends_on
// conditions, ports' protocol and mode, bind sources made absolute), folds
// env_file into environment, and runs compose's load-time checks: unknown
// dependencies, dependency cycles, ports out of range, unknown stop signals,
// services without image or build, duplicate container names. Errors are
// LoadErrors with locations. It touches no file: env files are read through
// the context's read_env_file, which the loader provides.
//
// The work is split by seam: node_read.h (typed reads of nodes),
// short_syntax.h (port and volume strings), normalize_top.cc,
// normalize_service.cc with service_fields.h (one table of service keys,
// shared with serialize.cc), normalize_check.cc (project checks).
#pragma once

#include "compose/dotenv.h"
#include "compose/model.h"
#include "compose/tree.h"

#include <functional>
#include <map>
#include <optional>
#include <set>
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
    // Reads a service's env_file (an absolute path; ${VAR} in it through
    // `lookup`): nullopt when there is no such file; throws on a bad one.
    // An empty lookup asks for `format: raw` (the file as written). Unset: an
    // env_file entry is an error.
    std::function<std::optional<EnvList>(const std::string& path, const Lookup& lookup)> read_env_file;
    // Set: exactly these services are active, whatever their profiles (a project sent over the wire,
    // wire.h, whose sender decided it).
    std::optional<std::set<std::string>> active_services;
};

Project normalize(const Node& root, const NormalizeContext& ctx);

// Short port syntax ("127.0.0.1:8000-8001:80-81/udp") → one Port per container
// port; throws ValueError (units.h; short_syntax.h has the non-throwing form).
std::vector<Port> parse_port_spec(const std::string& spec);
// Short volume syntax ("./data:/data:ro") → Mount; relative sources stay relative.
Mount parse_volume_spec(const std::string& spec);

}  // namespace berth::compose
