#include "images/stream.h"

#include "base/error.h"
#include "images/extract.h"

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
        cv_.notify_one();
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
    state_ = State::Running;
    thread_ = std::thread([this, dest] {
        try {
            extract_layer([this](char* buf, size_t n) { return read(buf, n); }, what_, dest, diff_id_);
        } catch (...) {
            error_ = std::current_exception();
        }
    });
}

void LayerStream::grew(int64_t size) {
    std::lock_guard l(mu_);
    if (state_ != State::Running) return;
    size_ = size;
    cv_.notify_one();
}

void LayerStream::restarted() { drop(); }

void LayerStream::drop() {
    std::lock_guard l(mu_);
    if (state_ == State::Running || state_ == State::Idle) state_ = State::Dropped;
    cv_.notify_one();
}

size_t LayerStream::read(char* buf, size_t n) {
    std::unique_lock l(mu_);
    cv_.wait(l, [&] { return state_ != State::Running || off_ < size_; });
    if (state_ == State::Dropped) throw Dropped{};
    size_t want = static_cast<size_t>(std::min<int64_t>(static_cast<int64_t>(n), size_ - off_));
    l.unlock();
    if (want == 0) return 0;  // ended, and all read
    ssize_t got;
    do got = ::pread(fd_.get(), buf, want, off_);
    while (got < 0 && errno == EINTR);
    if (got < 0) throw Error::sys(errno, "read " + what_);
    if (got == 0) throw Error("the download of " + what_ + " is shorter than it said");
    off_ += got;
    return static_cast<size_t>(got);
}

bool LayerStream::finish() {
    {
        std::lock_guard l(mu_);
        if (state_ == State::Running) state_ = State::Ended;
        cv_.notify_one();
    }
    if (thread_.joinable()) thread_.join();
    fd_.reset();
    lock_.reset();
    if (state_ != State::Ended) return false;
    if (error_) std::rethrow_exception(error_);
    return true;
}

}  // namespace berth::images
