#include "images/reference.h"

#include "base/error.h"


namespace berth::images {

// The grammar of docker's reference package, matched by hand: std::regex cost a
// `berth run` 2.4 M instructions (20% of it) just to compile these three.
namespace {

bool is_lower_alnum(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); }
bool is_hex(char c) { return (c >= 'a' && c <= 'f') || (c >= '0' && c <= '9'); }
bool is_word(char c) { return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_'; }

}  // namespace

// sha256:[a-f0-9]{64}
bool is_valid_digest(std::string_view d) {
    if (d.size() != 7 + 64 || d.substr(0, 7) != "sha256:") return false;
    for (char c : d.substr(7))
        if (!is_hex(c)) return false;
    return true;
}

// [A-Za-z0-9_][A-Za-z0-9_.-]{0,127}
bool is_valid_tag(std::string_view t) {
    if (t.empty() || t.size() > 128 || !is_word(t[0])) return false;
    for (char c : t.substr(1))
        if (!is_word(c) && c != '.' && c != '-') return false;
    return true;
}

// component(/component)*, component = [a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*
bool is_valid_repository_path(std::string_view p) {
    size_t i = 0, n = p.size();
    while (true) {
        // A component: alnum runs joined by one separator each.
        if (i >= n || !is_lower_alnum(p[i])) return false;
        while (true) {
            while (i < n && is_lower_alnum(p[i])) ++i;
            if (i == n || p[i] == '/') break;
            if (p[i] == '.') ++i;
            else if (p[i] == '_') i += (i + 1 < n && p[i + 1] == '_') ? 2 : 1;
            else if (p[i] == '-') while (i < n && p[i] == '-') ++i;
            else return false;
            if (i >= n || !is_lower_alnum(p[i])) return false;
        }
        if (i == n) return true;
        ++i;  // the '/'
    }
}

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
        if (!is_valid_digest(r.digest)) throw bad("the digest must be sha256: and 64 hex digits");
    }
    // A tag is after the last ':' when no '/' follows it (a ':' before a '/' is a port).
    auto colon = rest.rfind(':');
    if (colon != std::string::npos && rest.find('/', colon) == std::string::npos) {
        r.tag = rest.substr(colon + 1);
        rest = rest.substr(0, colon);
        if (!is_valid_tag(r.tag)) throw bad("the tag \"" + r.tag + "\" is not valid");
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
    if (!is_valid_repository_path(r.path))
        throw bad("the repository \"" + r.path + "\" must be lowercase letters, digits and . _ - separated by /");
    if (r.tag.empty() && r.digest.empty()) r.tag = "latest";
    return r;
}

}  // namespace berth::images
