// Directory listing shared by the modules that walk trees in a stable order
// (the build context walk, the layer writer).
#pragma once

#include <string>
#include <vector>

namespace berth {

// The names in `dir` but "." and "..", sorted bytewise. Throws berth::Error.
std::vector<std::string> sorted_dir_entries(const std::string& dir);

}  // namespace berth
