// Value syntaxes compose files use: Go-style durations ("1m30s"), Docker byte
// sizes ("512m"), POSIX-shell word splitting for string commands. Each parser
// throws ValueError (a berth::Error) with a message for a person; the normalizer
// turns it into a LoadError with the value's location.
#pragma once

#include "base/error.h"

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace berth::compose {

// A value that does not parse (a duration, a size, a port or volume spec, a command line): the
// one error type, told apart so that the normalizer can add where the value stands.
class ValueError : public Error {
public:
    using Error::Error;
};

// "1m30s", "1.5h", "300ms", "10us", "0" → nanoseconds.
int64_t parse_duration(std::string_view text);
// Nanoseconds → Go's time.Duration.String(): "1m30s", "500ms", "1h0m0s", "0s".
std::string format_duration(int64_t ns);
// "512m", "1g", "1.5GB", "100k", "1024" (binary multiples, case-insensitive) → bytes.
int64_t parse_bytes(std::string_view text);
// A signal as docker reads one (stop_signal, kill -s): a name with or without
// "SIG" in any case (TERM, SIGterm, RTMIN+3, RTMAX-1) or a number 1-64;
// nullopt when it names no signal.
std::optional<int> signal_number(std::string_view text);
// Splits a command line as a POSIX shell would (quotes, backslashes), without
// expansions. Throws on an unterminated quote.
std::vector<std::string> shell_split(std::string_view text);

}  // namespace berth::compose
