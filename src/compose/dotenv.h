// .env files as compose reads them (the project's .env, --env-file, a
// service's env_file):
//
//   KEY=value            unquoted: trimmed, " #" starts a comment, interpolated
//   export KEY=value     "export " is ignored
//   KEY="a\nb $X"        double quotes: \n \r \t \\ \" \$ escapes, interpolated,
//                        may span lines
//   KEY='lit $X'         single quotes: literal, may span lines
//   KEY: value           YAML-style separator, as compose accepts
//   KEY                  no "=": inherits KEY from the environment if set
//   # comment, blank lines
//
// Variables in values resolve first through `lookup` (the environment wins),
// then through keys defined earlier in the same file.
#pragma once

#include "compose/interpolate.h"

#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace berth::compose {

using EnvList = std::vector<std::pair<std::string, std::string>>;

// Throws LoadError naming filename:line:col on a malformed line.
EnvList parse_dotenv(std::string_view text, const std::string& filename, const Lookup& lookup);

// env_file's `format: raw`: KEY=VALUE lines taken as written (quotes kept,
// nothing interpolated); blank lines and lines starting with # are skipped.
EnvList parse_raw_env(std::string_view text);

// Reads and parses the file; throws berth::Error when it cannot be read.
EnvList read_dotenv_file(const std::string& path, const Lookup& lookup);

}  // namespace berth::compose
