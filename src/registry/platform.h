// Platforms ("os/architecture[/variant]") and the choice of one manifest from
// an OCI image index or Docker manifest list.
#pragma once

#include <nlohmann/json.hpp>

#include <string>

namespace berth::registry {

struct Platform {
    std::string os, architecture, variant;
    std::string str() const;
};

// The platform of this machine (uname), as OCI names it: linux/amd64, linux/arm64/v8, …
Platform host_platform();
// "linux/arm64/v8", "linux/amd64", "arm64": throws berth::Error for a malformed one.
Platform parse_platform(const std::string& s);
// The descriptor in index["manifests"] for the platform; throws berth::Error listing the
// platforms offered when none fits.
nlohmann::json choose_manifest(const nlohmann::json& index, const Platform& want, const std::string& image);

}  // namespace berth::registry
