// Validation of one compose document against schema/compose.schema.json, the
// JSON Schema of exactly the Compose subset berth accepts. The schema is
// compiled into the binary; valijson does the validating. Of all the
// violations valijson finds, the most specific one is reported: the deepest
// key path, an unknown key before a type mismatch, with "did you mean" for a
// misspelt key and the schema's own description of what was expected.
#pragma once

#include "compose/tree.h"

#include <functional>
#include <string_view>

namespace berth::compose {

// What the schema is checked against is a canonical JSON text of the document
// (see validate()). A memo of texts already found valid lets a command run
// again on an unchanged file skip the schema: compiling it is a fixed ~6 M
// instructions per process, most of what `ps`, `run` or `config -q` cost.
// Both members may be empty (no memo). The memo only ever holds valid texts.
struct ValidMemo {
    std::function<bool(std::string_view canonical)> known_valid;
    std::function<void(std::string_view canonical)> remember;
};

// Throws LoadError (file:line:col, key path, what was expected) on the first
// violation; returns normally when the document conforms.
void validate(const Node& root, const ValidMemo& memo = {});

// The schema text, as compiled in.
std::string_view compose_schema();

}  // namespace berth::compose
