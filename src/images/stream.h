// LayerStream: a layer extracted in its own thread while its blob downloads,
// reading the ingest file as it grows, so a pull decompresses, hashes the
// diff_id and writes files at the same time as the bytes arrive instead of
// after. The layer is put in place only after the blob's digest was verified
// (finish()); a download that starts over, or a layer another process is
// already extracting, drops the stream and the caller extracts from the stored
// blob as before (Store::ensure_layer_checked).
#pragma once

#include "base/fd.h"
#include "images/store.h"

#include <condition_variable>
#include <cstdint>
#include <exception>
#include <mutex>
#include <string>
#include <thread>

namespace berth::images {

class LayerStream {
public:
    LayerStream(Store& store, std::string diff_id, std::string what);
    ~LayerStream();  // abandons an unfinished extraction and waits for its thread
    LayerStream(const LayerStream&) = delete;
    LayerStream& operator=(const LayerStream&) = delete;

    // The downloader's side. opened(): its ingest file (fd, not kept) holds `size` bytes
    // (more than 0 when a download resumes); grew(): it holds `size` now; restarted(): it
    // was emptied to start over, and the stream is dropped.
    void opened(int fd, int64_t size);
    void grew(int64_t size);
    void restarted();
    // Once the blob is verified and stored: waits for the extraction. True when the layer is
    // in place; false when nothing was streamed (extract the stored blob instead). Throws
    // berth::Error when the layer is bad (its diff_id, its tar).
    bool finish();

private:
    enum class State { Idle, Running, Ended, Dropped };
    struct Dropped {};
    size_t read(char* buf, size_t n);
    void drop();

    Store& store_;
    std::string diff_id_, what_;
    std::mutex mu_;
    std::condition_variable cv_;
    State state_ = State::Idle;
    int64_t size_ = 0;
    int64_t off_ = 0;  // the reader's, in its thread only
    UniqueFd fd_, lock_;
    std::thread thread_;
    std::exception_ptr error_;
};

}  // namespace berth::images
