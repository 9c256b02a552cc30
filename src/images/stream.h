// LayerStream: a layer extracted in its own thread while its blob downloads,
// so a pull decompresses, hashes the diff_id and writes files at the same time
// as the bytes arrive instead of after. The bytes come from memory when the
// extractor keeps up: the downloader passes each chunk as it arrives (pass()),
// the extractor works on that same memory while the downloader writes it to
// the ingest file and hashes it, and the downloader goes on once both are
// done; no byte is read back. An extractor that falls behind, or starts after
// the download did (a resumed blob's kept prefix), reads the ingest file
// instead until it catches up. The layer is put in place only after the blob's
// digest was verified (finish()); a download that starts over, or a layer
// another process is already extracting, drops the stream and the caller
// extracts from the stored blob as before (Store::ensure_layer_checked).
#pragma once

#include "base/fd.h"
#include "images/store.h"

#include <condition_variable>
#include <cstdint>
#include <exception>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace berth::images {

class LayerStream {
public:
    LayerStream(Store& store, std::string diff_id, std::string what);
    ~LayerStream();  // abandons an unfinished extraction and waits for its thread
    LayerStream(const LayerStream&) = delete;
    LayerStream& operator=(const LayerStream&) = delete;

    // The downloader's side. opened(): its ingest file (fd, not kept) holds `size` bytes
    // (more than 0 when a download resumes: the extractor reads them from the file first);
    // grew(): it holds `size` now; restarted(): it was emptied to start over, and the stream
    // is dropped.
    void opened(int fd, int64_t size);
    void grew(int64_t size);
    void restarted();
    // A chunk of the blob as it arrives, bytes [at, at + n) of it, with `keep` writing it to
    // the ingest file (and hashing it): the extractor takes them from `p` while keep() runs,
    // and pass() returns once it is done with them (the download waits for the extraction,
    // one chunk at a time); then grew(at + n). Without a running extraction, only keep().
    void pass(const char* p, size_t n, int64_t at, const std::function<void()>& keep);
    // Once the blob is verified and stored: waits for the extraction. True when the layer is
    // in place; false when nothing was streamed (extract the stored blob instead). Throws
    // berth::Error when the layer is bad (its diff_id, its tar).
    bool finish();

    // Bytes the extractor took from memory and read from the file so far (for tests).
    int64_t bytes_from_memory() const;
    int64_t bytes_from_file() const;

private:
    enum class State { Idle, Running, Ended, Dropped };
    struct Dropped {};
    size_t read(const char** out);
    void drop();

    Store& store_;
    std::string diff_id_, what_;
    mutable std::mutex mu_;
    std::condition_variable cv_;
    State state_ = State::Idle;
    int64_t size_ = 0;           // bytes in the ingest file
    const char* chunk_ = nullptr;  // a chunk being passed: bytes [chunk_at_, chunk_at_ + chunk_n_)
    int64_t chunk_at_ = 0;
    size_t chunk_n_ = 0;
    bool taken_ = false;         // the extractor works on chunk_'s memory
    bool reader_gone_ = false;   // the extractor's thread ended (done, failed or dropped)
    int64_t off_ = 0;            // the next byte the extractor reads
    int64_t from_memory_ = 0, from_file_ = 0;
    std::vector<char> buf_;      // the extractor's, for reads from the file
    UniqueFd fd_, lock_;
    std::thread thread_;
    std::exception_ptr error_;
};

}  // namespace berth::images
