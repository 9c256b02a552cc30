// compose's short syntaxes for ports ("127.0.0.1:8000-8001:80-81/udp") and
// volumes ("./data:/data:ro"). The parsers return what went wrong as text
// instead of throwing, so the normalizer can locate it (file:line:col and key
// path) at the node it came from. normalize.h's parse_port_spec and
// parse_volume_spec are the throwing forms of the same.
#pragma once

#include "compose/model.h"

#include <string>
#include <vector>

namespace berth::compose {

// One Port per container port; on a bad spec, `error` says why and the result is empty.
std::vector<Port> read_port_spec(const std::string& spec, std::string& error);
// A published port or range ("8080", "8000-8010"); "" when valid, else why not.
std::string check_published(const std::string& published);
// The Mount; relative sources stay relative. On a bad spec, `error` says why.
Mount read_volume_spec(const std::string& spec, std::string& error);

}  // namespace berth::compose
