// Small string helpers shared by every module.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace berth {

std::vector<std::string> split(std::string_view s, char sep);
std::string_view trim(std::string_view s);
std::string join(const std::vector<std::string>& parts, std::string_view sep);
// Levenshtein distance, for "did you mean" suggestions.
size_t edit_distance(std::string_view a, std::string_view b);
// The candidate closest to `word`, or "" when none is close enough to suggest.
std::string closest_match(std::string_view word, const std::vector<std::string>& candidates);
// The offset of the first byte that is not part of a well-formed UTF-8
// sequence (overlong forms and surrogates included); nullopt when all are.
std::optional<size_t> first_invalid_utf8(std::string_view s);
// Sets "KEY=VALUE" in an environment list: replaces the entry for KEY, or
// appends one. A `kv` without '=' names the whole string as its key.
void set_env(std::vector<std::string>& env, const std::string& kv);

}  // namespace berth
