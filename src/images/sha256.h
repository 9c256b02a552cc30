// Sha256: an incremental SHA-256 over libcrypto, giving "sha256:<hex>" as OCI
// digests are written. Internal to the images module.
#pragma once

#include <openssl/evp.h>

#include <memory>
#include <string>

namespace berth::images {

struct Sha256 {
    std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx{EVP_MD_CTX_new(), EVP_MD_CTX_free};
    Sha256() { EVP_DigestInit_ex(ctx.get(), EVP_sha256(), nullptr); }
    void update(const void* p, size_t n) { EVP_DigestUpdate(ctx.get(), p, n); }
    std::string hex() {
        unsigned char md[EVP_MAX_MD_SIZE];
        unsigned len = 0;
        EVP_DigestFinal_ex(ctx.get(), md, &len);
        static const char* d = "0123456789abcdef";
        std::string s = "sha256:";
        for (unsigned i = 0; i < len; ++i) {
            s += d[md[i] >> 4];
            s += d[md[i] & 15];
        }
        return s;
    }
};

}  // namespace berth::images
