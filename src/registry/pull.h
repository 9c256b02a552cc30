// Pulling images into the store: many at once, each in its own thread, their
// layers fetched in parallel; a blob several images share is fetched once
// (the store's per-blob lock makes the second wait and find it there, in this
// process or another). A tag whose digest (HEAD) is the one already stored
// costs no manifest GET.
#pragma once

#include "images/store.h"
#include "registry/progress.h"

#include <functional>
#include <string>
#include <vector>

namespace berth::registry {

struct PullRequest {
    std::string ref;       // as written: busybox, host:5000/app:1@sha256:…
    std::string platform;  // "" for this machine's
};

struct PullResult {
    std::string ref;
    bool ok = false;
    bool updated = false;   // false when the stored image was already the registry's
    std::string digest;     // what the reference resolved to (index or manifest)
    std::string error, hint;
};

struct PullOptions {
    int parallel = 4;  // blobs in flight at once, over all images
    // Progress (lines such as "busybox:latest  Pulled", and bytes); null for none (-q).
    ProgressSink progress;
};

std::vector<PullResult> pull_images(images::Store& store, const std::vector<PullRequest>& reqs, const PullOptions& o);

}  // namespace berth::registry
