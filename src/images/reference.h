// Image references, normalized as Docker does:
//   busybox            → docker.io/library/busybox:latest
//   me/app:1           → docker.io/me/app:1
//   localhost:5000/x   → localhost:5000/x:latest
//   x@sha256:<64 hex>  keeps the digest (no tag added)
#pragma once

#include <string>
#include <string_view>

namespace berth::images {

struct Reference {
    std::string domain;      // docker.io, localhost:5000, …
    std::string path;        // library/busybox
    std::string tag;         // latest (empty when digest is set and no tag was given)
    std::string digest;      // sha256:…, or empty
    std::string str() const; // the full normalized name
    std::string familiar() const;  // as `docker images` shows it: busybox:latest
};

// The parts of the grammar, as docker's reference package defines them.
bool is_valid_digest(std::string_view d);           // sha256:<64 lowercase hex>
bool is_valid_tag(std::string_view t);              // [A-Za-z0-9_][A-Za-z0-9_.-]{0,127}
bool is_valid_repository_path(std::string_view p);  // lowercase components joined by '/'

// Throws berth::Error with what is wrong and how the name should look.
Reference parse_reference(const std::string& name);
inline std::string normalize_name(const std::string& name) { return parse_reference(name).str(); }

}  // namespace berth::images
