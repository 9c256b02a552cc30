#include "registry/policy.h"

#include "base/error.h"

#include <cctype>

namespace berth::registry {

ParsedPolicy parse_pull_policy(const std::string& s) {
    if (s.empty() || s == "missing" || s == "if_not_present") return {PullPolicy::Missing};
    if (s == "always") return {PullPolicy::Always};
    if (s == "never") return {PullPolicy::Never};
    if (s == "build") return {PullPolicy::Build};
    if (s == "refresh") return {PullPolicy::Refresh};
    if (s == "daily") return {PullPolicy::Periodic, 86400};
    if (s == "weekly") return {PullPolicy::Periodic, 7 * 86400};
    auto bad = [&] {
        return Error("invalid pull_policy \"" + s + "\"",
                     "use always, missing, never, build, refresh, daily, weekly or every_<duration> (e.g. every_12h)");
    };
    if (s.rfind("every_", 0) != 0 || s.size() == 6) throw bad();
    int64_t total = 0;
    size_t i = 6;
    while (i < s.size()) {
        size_t start = i;
        while (i < s.size() && std::isdigit(static_cast<unsigned char>(s[i]))) ++i;
        if (i == start || i == s.size() || i - start > 9) throw bad();
        int64_t n = std::stoll(s.substr(start, i - start));
        switch (s[i++]) {
        case 'w': total += n * 7 * 86400; break;
        case 'd': total += n * 86400; break;
        case 'h': total += n * 3600; break;
        case 'm': total += n * 60; break;
        case 's': total += n; break;
        default: throw bad();
        }
    }
    if (total <= 0) throw bad();
    return {PullPolicy::Periodic, total};
}

bool should_pull(const ParsedPolicy& p, bool present, int64_t stored_at, int64_t now) {
    switch (p.policy) {
    case PullPolicy::Never:
    case PullPolicy::Build: return false;
    case PullPolicy::Always:
    case PullPolicy::Refresh: return true;
    case PullPolicy::Missing: return !present;
    case PullPolicy::Periodic: return !present || now - stored_at >= p.period;
    }
    return !present;
}

}  // namespace berth::registry
