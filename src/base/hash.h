// FNV-1a: a small, stable (across runs and builds) 64-bit hash for names
// berth derives from other names (bridges, veths, nft tables, anonymous volumes).
#pragma once

#include <cstdint>
#include <string_view>

namespace berth {

inline uint64_t fnv1a(std::string_view s) {
    uint64_t h = 1469598103934665603ull;
    for (unsigned char c : s) {
        h ^= c;
        h *= 1099511628211ull;
    }
    return h;
}

}  // namespace berth
