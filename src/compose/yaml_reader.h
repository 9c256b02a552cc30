// Reads YAML text into the loader's Node tree, keeping file:line:col for every
// node and map key. Anchors and aliases are resolved; `<<` merge keys are
// applied (explicit keys win over merged ones). Syntax errors and duplicate
// keys are LoadErrors pointing at the spot. A document that is empty yields a
// Null node. This is the only file of berth that includes yaml-cpp for reading.
#pragma once

#include "compose/tree.h"

#include <string>

namespace berth::compose {

Node parse_yaml(const std::string& text, const std::string& filename);
Node read_yaml_file(const std::string& path);  // LoadError when unreadable

}  // namespace berth::compose
