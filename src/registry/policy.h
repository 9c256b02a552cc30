// Compose's pull_policy as a decision: should an image be pulled now?
#pragma once

#include <cstdint>
#include <optional>
#include <string>

namespace berth::registry {

enum class PullPolicy { Missing, Always, Never, Build, Refresh, Periodic };

struct ParsedPolicy {
    PullPolicy policy = PullPolicy::Missing;
    int64_t period = 0;  // seconds, for Periodic (daily, weekly, every_<duration>)
};

// "" (missing), missing, if_not_present, always, never, build, refresh, daily, weekly,
// every_12h, every_1d2h30m… Throws berth::Error for anything else.
ParsedPolicy parse_pull_policy(const std::string& s);

// Whether to pull given whether the image is in the store and when it was stored
// (unix seconds); Never and Build never pull.
bool should_pull(const ParsedPolicy& p, bool present, int64_t stored_at, int64_t now);

}  // namespace berth::registry
