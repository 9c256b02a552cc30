// Validation of one compose document against schema/compose.schema.json, the
// JSON Schema of exactly the Compose subset berth accepts. The schema is
// compiled into the binary; valijson does the validating. Of all the
// violations valijson finds, the most specific one is reported: the deepest
// key path, an unknown key before a type mismatch, with "did you mean" for a
// misspelt key and the schema's own description of what was expected.
#pragma once

#include "compose/tree.h"

#include <string_view>

namespace berth::compose {

// Throws LoadError (file:line:col, key path, what was expected) on the first
// violation; returns normally when the document conforms.
void validate(const Node& root);

// The schema text, as compiled in.
std::string_view compose_schema();

}  // namespace berth::compose
