// Errors the compose loader reports: always where (file:line:col), which key
// (services.web.ports[1]) and what was expected; optionally how to fix it.
#pragma once

#include "base/error.h"
#include "compose/tree.h"

namespace berth::compose {

// what() reads: "compose.yaml:12:7: services.web.ports[1]: invalid port \"99999\": …"
class LoadError : public berth::Error {
public:
    LoadError(const Location& loc, const std::string& path, const std::string& message,
              std::string hint = {});
    const Location& location() const { return loc_; }
    const std::string& key_path() const { return path_; }

private:
    Location loc_;
    std::string path_;
};

}  // namespace berth::compose
