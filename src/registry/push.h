// Pushing images from the store to their registries: each blob the registry
// already has is skipped after a HEAD, a blob the store knows from another
// repository of the same registry is mounted from there, the rest uploaded
// (one PUT, or PATCH chunks), then the manifest is PUT with its media type,
// so the registry keeps the image's manifest digest.
#pragma once

#include "images/store.h"
#include "registry/progress.h"

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace berth::registry {

struct PushResult {
    std::string ref;
    bool ok = false;
    std::string digest;  // of the manifest, as the registry names it
    int64_t manifest_size = 0;
    int uploaded = 0, mounted = 0, existed = 0;  // blobs
    int64_t bytes_uploaded = 0;
    std::string error, hint;
};

struct PushOptions {
    int parallel = 4;   // blobs in flight at once
    int64_t chunk = 0;  // > 0: blobs larger than this go up in PATCH chunks of this size
    // Progress (lines such as "abc123def456: Pushed", and bytes); null for none (-q).
    ProgressSink progress;
};

// The chunk size from $BERTH_PUSH_CHUNK_SIZE (bytes), else 0 (one PUT per blob).
int64_t push_chunk_from_env();

std::vector<PushResult> push_images(images::Store& store, const std::vector<std::string>& refs, const PushOptions& o);

}  // namespace berth::registry
