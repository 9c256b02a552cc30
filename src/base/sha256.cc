#include "base/sha256.h"

// The direct routines are deprecated in OpenSSL 3 in favour of EVP, whose fetch is what costs.
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"

namespace berth {

Sha256::Sha256() { SHA256_Init(&ctx_); }

void Sha256::update(const void* data, size_t n) { SHA256_Update(&ctx_, data, n); }

std::string Sha256::hex() {
    unsigned char md[SHA256_DIGEST_LENGTH];
    SHA256_Final(md, &ctx_);
    static const char digits[] = "0123456789abcdef";
    std::string out;
    out.reserve(2 * SHA256_DIGEST_LENGTH);
    for (unsigned char b : md) {
        out += digits[b >> 4];
        out += digits[b & 15];
    }
    return out;
}

std::string sha256_hex(std::string_view data) {
    Sha256 h;
    h.update(data);
    return h.hex();
}

}  // namespace berth
