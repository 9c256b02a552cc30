// libFuzzer target: compose's variable interpolation and the .env parser.
// Any bytes give a value or an InterpolationError / berth::Error, never a
// crash, a hang or another exception; text without '$' is returned unchanged;
// a .env file yields only non-empty keys.
#include "base/error.h"
#include "compose/dotenv.h"
#include "compose/interpolate.h"

#include <cstdint>
#include <cstdlib>
#include <string>

using namespace berth::compose;

namespace {
std::optional<std::string> lookup(const std::string& name) {
    if (name == "SET") return std::string("value");
    if (name == "EMPTY") return std::string();
    if (name == "SELF") return std::string("${SELF}");  // a value is never interpolated again
    if (name == "BYTES") return std::string("a\xff\xfe$");
    return std::nullopt;
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    if (size == 0) return 0;
    // The first byte picks the parser, so one corpus serves both.
    bool dotenv = data[0] & 1;
    std::string text(reinterpret_cast<const char*>(data) + 1, size - 1);
    if (!dotenv) {
        try {
            size_t warned = 0;
            std::string out = interpolate(text, lookup, [&](const std::string&) { ++warned; });
            if (text.find('$') == std::string::npos && out != text) std::abort();
        } catch (const InterpolationError&) {
        }
        return 0;
    }
    try {
        EnvList env = parse_dotenv(text, "fuzz.env", lookup);
        for (const auto& [k, v] : env)
            if (k.empty()) std::abort();
    } catch (const berth::Error&) {
    } catch (const InterpolationError&) {
    }
    return 0;
}
