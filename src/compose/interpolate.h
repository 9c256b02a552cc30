// Variable interpolation with compose's syntax, applied to scalar values.
//
//   $VAR  ${VAR}                 value, or "" (with a warning) when unset
//   ${VAR:-default} ${VAR-default}  default when unset-or-empty / unset
//   ${VAR:?message} ${VAR?message}  error when unset-or-empty / unset
//   ${VAR:+alt}     ${VAR+alt}      alt when set-and-non-empty / set
//   $$                            a literal $
// Defaults, messages and alternatives may nest further ${...}.
// Keys are never interpolated, as in compose.
#pragma once

#include "compose/tree.h"

#include <functional>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>

namespace berth::compose {

// Returns the variable's value, or nullopt when it is not set.
using Lookup = std::function<std::optional<std::string>(const std::string&)>;

// A template error, without location (interpolate_tree adds file:line:col).
class InterpolationError : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

// Called once per unset variable that defaulted to "" (may be empty).
using UnsetWarning = std::function<void(const std::string& name)>;

std::string interpolate(std::string_view text, const Lookup& lookup,
                        const UnsetWarning& warn = {});

// Interpolates every scalar value below root in place; throws LoadError
// naming the scalar's location and key path. Unset variables warn once each
// through spdlog, as compose does.
void interpolate_tree(Node& root, const Lookup& lookup, const std::string& path = "");

}  // namespace berth::compose
