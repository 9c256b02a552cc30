#include "images/reference.h"

#include "base/error.h"

#include <regex>

namespace berth::images {

std::string Reference::str() const {
    std::string s = domain + "/" + path;
    if (!tag.empty()) s += ":" + tag;
    if (!digest.empty()) s += "@" + digest;
    return s;
}

std::string Reference::familiar() const {
    std::string p = path;
    if (domain == "docker.io" && p.rfind("library/", 0) == 0) p = p.substr(8);
    std::string s = domain == "docker.io" ? p : domain + "/" + p;
    if (!tag.empty()) s += ":" + tag;
    if (!digest.empty()) s += "@" + digest;
    return s;
}

Reference parse_reference(const std::string& name) {
    auto bad = [&](const std::string& why) {
        return Error("invalid image reference \"" + name + "\": " + why,
                     "write NAME[:TAG] or NAME@sha256:DIGEST, e.g. busybox:1.36 or registry.local:5000/team/app");
    };
    if (name.empty()) throw bad("it is empty");
    if (name.size() > 255 * 2) throw bad("it is too long");
    Reference r;
    std::string rest = name;
    if (auto at = rest.find('@'); at != std::string::npos) {
        r.digest = rest.substr(at + 1);
        rest = rest.substr(0, at);
        static const std::regex digest_re("sha256:[a-f0-9]{64}");
        if (!std::regex_match(r.digest, digest_re)) throw bad("the digest must be sha256: and 64 hex digits");
    }
    // A tag is after the last ':' when no '/' follows it (a ':' before a '/' is a port).
    auto colon = rest.rfind(':');
    if (colon != std::string::npos && rest.find('/', colon) == std::string::npos) {
        r.tag = rest.substr(colon + 1);
        rest = rest.substr(0, colon);
        static const std::regex tag_re("[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}");
        if (!std::regex_match(r.tag, tag_re)) throw bad("the tag \"" + r.tag + "\" is not valid");
    }
    auto slash = rest.find('/');
    std::string first = rest.substr(0, slash);
    if (slash != std::string::npos &&
        (first.find('.') != std::string::npos || first.find(':') != std::string::npos || first == "localhost")) {
        r.domain = first;
        r.path = rest.substr(slash + 1);
    } else {
        r.domain = "docker.io";
        r.path = rest;
    }
    if (r.domain == "index.docker.io") r.domain = "docker.io";
    if (r.domain == "docker.io" && r.path.find('/') == std::string::npos) r.path = "library/" + r.path;
    static const std::regex path_re("[a-z0-9]+(?:(?:[._]|__|[-]+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:[._]|__|[-]+)[a-z0-9]+)*)*");
    if (!std::regex_match(r.path, path_re))
        throw bad("the repository \"" + r.path + "\" must be lowercase letters, digits and . _ - separated by /");
    if (r.tag.empty() && r.digest.empty()) r.tag = "latest";
    return r;
}

}  // namespace berth::images
