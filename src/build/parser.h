// The Dockerfile parser: text → build::Dockerfile (build/ast.h).
//
// Follows docker's rules: parser directives (`# syntax=`, `# escape=`,
// `# check=`) only at the top, case-insensitive, each at most once; comments;
// line continuations with the escape token (also across comment lines and
// empty lines, and inside JSON arrays); shell and exec (JSON) forms, a JSON
// array that does not parse falling back to shell form; flags; here-documents
// on RUN, COPY and ADD; ARG before the first FROM (the global scope).
// No variable is expanded here (see build/stages.h).
//
// Errors are berth::Error with the message
// "Dockerfile:LINE:COL: INSTRUCTION: what is wrong" and a hint when the fix is
// known; bad input never crashes the parser.
#pragma once

#include "build/ast.h"

#include <string>
#include <string_view>

namespace berth::build {

// `filename` is what error messages name (e.g. "Dockerfile", "app/Dockerfile.dev").
Dockerfile parse_dockerfile(std::string_view text, const std::string& filename = "Dockerfile");

// Reads and parses the file at `path`; errors name it as `display` (default: the path).
Dockerfile load_dockerfile(const std::string& path, const std::string& display = {});

}  // namespace berth::build
