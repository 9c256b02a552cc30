// Loads a compose project the way docker compose does: finds the files,
// reads .env, interpolates, validates each file against schema/, resolves
// `include` and `extends`, merges the files in order and normalizes the result
// into the typed model. This is the compose module's front door.
#pragma once

#include "compose/model.h"
#include "compose/validate.h"

#include <map>
#include <optional>
#include <string>
#include <vector>

namespace berth::compose {

struct LoadOptions {
    std::vector<std::string> files;         // -f, in order; empty → COMPOSE_FILE or discovery
    std::string project_name;               // -p
    std::string project_directory;          // --project-directory
    std::vector<std::string> env_files;     // --env-file; empty → <project dir>/.env if present
    std::vector<std::string> profiles;      // --profile; empty → COMPOSE_PROFILES
    std::string working_dir;                // "" → the current directory
    // The process environment; nullopt → this process's environ.
    std::optional<std::map<std::string, std::string>> environment;
    // Documents already known to match the schema (see validate.h); empty → none.
    ValidMemo valid_memo;
};

Project load_project(const LoadOptions& opts);

// The compose files a bare `berth` finds from `dir` upward: the first of
// compose.yaml, compose.yml, docker-compose.yaml, docker-compose.yml, followed
// by its override file (compose.override.yaml …) when one sits beside it.
// Empty when none is found up to the root.
std::vector<std::string> find_compose_files(const std::string& dir);

// compose's project-name rules: lowercase letters, digits, '-' and '_',
// starting with a letter or digit. normalize_project_name() lowercases and
// drops other characters (used for directory names); is_valid_project_name()
// checks a name the user gave.
std::string normalize_project_name(const std::string& raw);
bool is_valid_project_name(const std::string& name);

}  // namespace berth::compose
