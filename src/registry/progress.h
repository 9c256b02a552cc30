// What a pull or a push reports as it goes, for a display (cli/transfer.h): the
// status of an image or of one of its blobs, and bytes as they move.
#pragma once

#include <cstdint>
#include <functional>
#include <string>

namespace berth::registry {

struct ProgressEvent {
    std::string image;      // the image as named
    std::string blob;       // 12 hex digits of a blob's digest; "" for the image itself
    std::string status;     // "Downloading", "Pull complete", "Pushing", "Pushed", …
    int64_t done = -1;      // >= 0: a byte update, done of total bytes moved (status stays)
    int64_t total = 0;
    bool finished = false;  // the row's last status
    std::string line;       // the status as one plain line (no terminal); "": none
};

using ProgressSink = std::function<void(const ProgressEvent&)>;

}  // namespace berth::registry
