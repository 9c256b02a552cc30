#include "images/stream.h"

#include "base/error.h"
#include "images/extract.h"

#include <algorithm>
#include <cerrno>
#include <fcntl.h>
#include <filesystem>
#include <sys/file.h>
#include <unistd.h>

namespace berth::images {

LayerStream::LayerStream(Store& store, std::string diff_id, std::string what)
    : store_(store), diff_id_(std::move(diff_id)), what_(std::move(what)) {}

LayerStream::~LayerStream() {
    drop();
    if (thread_.joinable()) thread_.join();
}

void LayerStream::opened(int fd, int64_t size) {
    std::lock_guard l(mu_);
    if (state_ == State::Running) {  // a retry of the same download reopened the file
        size_ = std::max(size_, size);
        cv_.notify_all();
        return;
    }
    if (state_ != State::Idle) return;
    state_ = State::Dropped;  // unless all below works
    std::string dest = store_.layer_dir(diff_id_);
    if (std::filesystem::exists(dest)) return;
    lock_ = UniqueFd(store_.lock_layer(diff_id_, false));
    if (!lock_ || std::filesystem::exists(dest)) return;  // another process extracts (or did) it
    fd_ = UniqueFd(::fcntl(fd, F_DUPFD_CLOEXEC, 0));
    if (!fd_) return;
    size_ = size;
    buf_.resize(1 << 17);
    state_ = State::Running;
    thread_ = std::thread([this, dest] {
        try {
            extract_layer([this](const char** out) { return read(out); }, what_, dest, diff_id_);
        } catch (...) {
            error_ = std::current_exception();
        }
        std::lock_guard g(mu_);  // whatever it took from memory, it is done with
        taken_ = false;
        reader_gone_ = true;
        cv_.notify_all();
    });
}

void LayerStream::grew(int64_t size) {
    std::lock_guard l(mu_);
    if (state_ != State::Running) return;
    size_ = size;
    cv_.notify_all();
}

void LayerStream::pass(const char* p, size_t n, int64_t at, const std::function<void()>& keep) {
    {
        std::lock_guard l(mu_);
        if (state_ == State::Running) {
            chunk_ = p, chunk_at_ = at, chunk_n_ = n;
            cv_.notify_all();
        }
    }
    std::exception_ptr failed;
    try {
        keep();
    } catch (...) {
        failed = std::current_exception();
    }
    {
        // p is the caller's only until this returns: wait until the extractor is done with it.
        // It also waits for an extractor that is behind (it reads the file up to `at`, then
        // takes p): a download that ran ahead would leave the extractor reading the file to
        // the end, as it decompresses, hashes and writes more per byte than the download.
        int64_t end = at + static_cast<int64_t>(n);
        std::unique_lock l(mu_);
        cv_.wait(l, [&] { return !taken_ && (off_ >= end || reader_gone_ || state_ != State::Running || failed); });
        chunk_ = nullptr;
        if (!failed && state_ == State::Running) size_ = at + static_cast<int64_t>(n);
        cv_.notify_all();
    }
    if (failed) std::rethrow_exception(failed);
}

void LayerStream::restarted() { drop(); }

int64_t LayerStream::bytes_from_memory() const {
    std::lock_guard l(mu_);
    return from_memory_;
}

int64_t LayerStream::bytes_from_file() const {
    std::lock_guard l(mu_);
    return from_file_;
}

void LayerStream::drop() {
    std::lock_guard l(mu_);
    if (state_ == State::Running || state_ == State::Idle) state_ = State::Dropped;
    cv_.notify_all();
}

size_t LayerStream::read(const char** out) {
    std::unique_lock l(mu_);
    if (taken_) {  // libarchive asks again only once it is done with the last block
        taken_ = false;
        cv_.notify_all();
    }
    auto in_chunk = [&] { return chunk_ && chunk_at_ <= off_ && off_ < chunk_at_ + static_cast<int64_t>(chunk_n_); };
    cv_.wait(l, [&] { return state_ != State::Running || off_ < size_ || in_chunk(); });
    if (state_ == State::Dropped) throw Dropped{};
    if (in_chunk()) {
        size_t skip = static_cast<size_t>(off_ - chunk_at_);
        *out = chunk_ + skip;
        size_t n = chunk_n_ - skip;
        off_ += static_cast<int64_t>(n);
        from_memory_ += static_cast<int64_t>(n);
        taken_ = true;
        return n;
    }
    // Behind the download (or after it): the bytes are in the ingest file.
    size_t want = static_cast<size_t>(std::min<int64_t>(static_cast<int64_t>(buf_.size()), size_ - off_));
    int64_t at = off_;
    l.unlock();
    if (want == 0) return 0;  // ended, and all read
    ssize_t got;
    do got = ::pread(fd_.get(), buf_.data(), want, at);
    while (got < 0 && errno == EINTR);
    if (got < 0) throw Error::sys(errno, "read " + what_);
    if (got == 0) throw Error("the download of " + what_ + " is shorter than it said");
    l.lock();
    off_ += got;
    from_file_ += got;
    *out = buf_.data();
    return static_cast<size_t>(got);
}

bool LayerStream::finish() {
    {
        std::lock_guard l(mu_);
        if (state_ == State::Running) state_ = State::Ended;
        cv_.notify_all();
    }
    if (thread_.joinable()) thread_.join();
    fd_.reset();
    lock_.reset();
    if (state_ != State::Ended) return false;
    if (error_) std::rethrow_exception(error_);
    return true;
}

}  // namespace berth::images
