// sha256: SHA-256 digests in hex, for image blobs, config hashes and memo keys.
//
// Uses OpenSSL's direct SHA-256 routines, not the EVP interface: in OpenSSL 3
// the first EVP digest of a process fetches its algorithm through the provider
// machinery, ~5 M instructions, more than a whole `berth ps` otherwise costs.
#pragma once

#include <openssl/sha.h>

#include <string>
#include <string_view>

namespace berth {

class Sha256 {
public:
    Sha256();
    void update(const void* data, size_t n);
    void update(std::string_view s) { update(s.data(), s.size()); }
    // The digest as 64 lowercase hex digits; the object is spent afterwards.
    std::string hex();

private:
    SHA256_CTX ctx_;
};

// The hex digest of `data` (64 lowercase hex digits, no "sha256:" prefix).
std::string sha256_hex(std::string_view data);

}  // namespace berth
