// Layer extraction: one tar layer (any compression libarchive reads, from a file or
// as it downloads) into a directory, refusing any entry that would write outside it, turning OCI
// whiteouts into overlayfs ones, keeping owners, modes, xattrs, times, hard
// links and device nodes.
#pragma once

#include <cstddef>
#include <functional>
#include <memory>
#include <string>

struct archive;

namespace berth::images {

// libarchive's message for the last error of `a`; never null (libarchive may
// fail without setting one, and a null char* into a std::string crashes).
const char* archive_message(archive* a);

// "sha256:<hex>" of a file's bytes, and of its decompressed bytes.
std::string file_digest(const std::string& path);
std::string uncompressed_digest(const std::string& path);

// Extracts `archive` into `dest`, which must not exist yet: everything goes to
// a temporary sibling first, renamed into place on success and removed on
// failure. Throws berth::Error naming the offending entry.
// With expect_diff_id, the digest of the decompressed bytes (computed in the same pass) must
// be it, or nothing is put in place.
void extract_layer(const std::string& archive, const std::string& dest, const std::string& expect_diff_id = {});

// A layer blob's bytes in order, as they arrive: puts up to n bytes in buf and returns how
// many, 0 at the end; throws when the rest will never come.
using LayerSource = std::function<size_t(char* buf, size_t n)>;

// The same, reading the blob (`what`, for messages) from a source: a layer extracted while
// its blob still downloads. dest is put in place only once the source has ended.
void extract_layer(const LayerSource& source, const std::string& what, const std::string& dest, const std::string& expect_diff_id);

// Extracts a whole archive (an image archive, not a layer) into an existing
// directory with the same protections, no whiteout handling.
void extract_plain(const std::string& archive, const std::string& dest);

}  // namespace berth::images
