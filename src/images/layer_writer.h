// Layer writing: an overlayfs upper directory (what one build step changed)
// into an OCI layer tar, the inverse of extract_layer (images/extract.h).
//
// Overlay whiteouts (0/0 character devices) become `.wh.<name>` entries and
// opaque directories (trusted.overlay.opaque=y) get a `.wh..wh..opq` entry;
// owners, modes, xattrs (but overlay's own trusted.overlay.*), symlinks,
// device nodes, FIFOs and hard links are kept. Entries are written in sorted
// order, parents first, with no user/group names, so that the same tree gives
// the same bytes; `zero_mtimes` also zeroes every mtime (reproducible layers).
#pragma once

#include <cstdint>
#include <string>

namespace berth::images {

struct LayerOptions {
    bool gzip = true;          // the blob compressed (media type …tar+gzip), else a plain tar
    bool zero_mtimes = false;  // every mtime 0 (reproducible builds)
};

struct LayerInfo {
    std::string digest;   // sha256 of the blob as written (compressed when gzip)
    std::string diff_id;  // sha256 of the uncompressed tar
    int64_t size = 0;     // bytes of the blob
};

// Writes the layer for `upper` to `out` (replaced atomically). Throws
// berth::Error naming the entry that could not be read.
LayerInfo write_layer(const std::string& upper, const std::string& out, const LayerOptions& opt = {});

}  // namespace berth::images
