// Reads a compose input file (a compose file, a .env or env_file) whole, with
// bounds: it must be a regular file (a FIFO or a device such as /dev/zero
// would hang or never end) and at most kMaxInputFileBytes long. docker
// compose has no such limit; berth refuses rather than run out of memory.
#pragma once

#include <cstddef>
#include <string>

namespace berth::compose {

constexpr size_t kMaxInputFileBytes = 16u << 20;  // 16 MiB

// `what` names the file for a person ("compose file", "env file").
// Throws berth::Error naming the path on any refusal.
std::string read_input_file(const std::string& path, const std::string& what);

}  // namespace berth::compose
