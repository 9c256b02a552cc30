#include "registry/platform.h"

#include "base/error.h"

#include <sys/utsname.h>

namespace berth::registry {
namespace {

// Docker's normalisation: arm64 is v8 unless said otherwise, arm is v7.
Platform normalized(Platform p) {
    if (p.architecture == "aarch64") p.architecture = "arm64";
    if (p.architecture == "x86_64" || p.architecture == "x86-64") p.architecture = "amd64";
    if (p.architecture == "arm64" && p.variant.empty()) p.variant = "v8";
    if (p.architecture == "arm" && p.variant.empty()) p.variant = "v7";
    if (p.architecture == "amd64" && p.variant == "v1") p.variant.clear();
    return p;
}

}  // namespace

std::string Platform::str() const { return os + "/" + architecture + (variant.empty() ? "" : "/" + variant); }

Platform host_platform() {
    utsname u{};
    ::uname(&u);
    std::string m = u.machine;
    Platform p{"linux", m, ""};
    if (m == "x86_64") p.architecture = "amd64";
    else if (m == "aarch64" || m == "arm64") p.architecture = "arm64", p.variant = "v8";
    else if (m == "armv7l") p.architecture = "arm", p.variant = "v7";
    else if (m == "armv6l") p.architecture = "arm", p.variant = "v6";
    else if (m == "i386" || m == "i686") p.architecture = "386";
    return p;
}

Platform parse_platform(const std::string& s) {
    std::vector<std::string> parts;
    size_t start = 0;
    for (;;) {
        auto slash = s.find('/', start);
        parts.push_back(s.substr(start, slash - start));
        if (slash == std::string::npos) break;
        start = slash + 1;
    }
    for (const auto& p : parts)
        if (p.empty()) throw Error("invalid platform \"" + s + "\"", "write OS/ARCH[/VARIANT], e.g. linux/arm64/v8");
    Platform p;
    if (parts.size() == 1) p = {"linux", parts[0], ""};
    else if (parts.size() == 2) p = {parts[0], parts[1], ""};
    else if (parts.size() == 3) p = {parts[0], parts[1], parts[2]};
    else throw Error("invalid platform \"" + s + "\"", "write OS/ARCH[/VARIANT], e.g. linux/arm64/v8");
    return normalized(p);
}

nlohmann::json choose_manifest(const nlohmann::json& index, const Platform& want_in, const std::string& image) {
    Platform want = normalized(want_in);
    std::string offered;
    const nlohmann::json* loose = nullptr;  // same os/arch, variant unspecified in the index
    for (const auto& d : index.value("manifests", nlohmann::json::array())) {
        if (!d.is_object() || !d.contains("platform") || !d["platform"].is_object()) continue;
        const auto& pj = d["platform"];
        Platform p = normalized({pj.value("os", ""), pj.value("architecture", ""), pj.value("variant", "")});
        if (p.os == "unknown") continue;  // attestation manifests
        offered += (offered.empty() ? "" : ", ") + p.str();
        if (p.os != want.os || p.architecture != want.architecture) continue;
        if (p.variant == want.variant) return d;
        if (pj.value("variant", "").empty() && !loose) loose = &d;
    }
    if (loose) return *loose;
    throw Error("image " + image + " has no variant for " + want.str() +
                    (offered.empty() ? std::string(" (its index names no platforms)") : "; it offers " + offered),
                "set `platform:` on the service to one of those if this machine can run it");
}

}  // namespace berth::registry
