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
    if (state_ == State::Running) {  // a retry of the same download reopened the file: what
        size_ = std::max(size_, size);  // it holds is read from there, the rest passed anew
        filling_.clear();
        filling_at_ = passed_ = size;
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
    size_ = filling_at_ = passed_ = size;
    buf_.resize(1 << 17);
    filling_.reserve(2 * kBatch);
    batch_.reserve(2 * kBatch);
    state_ = State::Running;
    thread_ = std::thread([this, dest] {
        try {
            extract_layer([this](const char** out) { return read(out); }, what_, dest, diff_id_);
        } catch (...) {
            error_ = std::current_exception();
        }
        std::lock_guard g(mu_);  // whatever it took from memory, it is done with
        taken_ = has_batch_ = false;
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
    keep();
    {
        std::lock_guard l(mu_);
        if (state_ != State::Running || reader_gone_) return;
        if (at != filling_at_ + static_cast<int64_t>(filling_.size())) {  // not the next bytes
            state_ = State::Dropped;  // (Client::download never does that) the stored blob is extracted instead
            cv_.notify_all();
            return;
        }
        passed_ = at + static_cast<int64_t>(n);
    }
    filling_.insert(filling_.end(), p, p + n);  // the downloader's own: no lock
    if (filling_.size() < kBatch) return;
    // Hand the batch over once the extractor is done with the last one (it may still be
    // working on it: this download is then a batch ahead, which is as far as it goes).
    std::unique_lock l(mu_);
    cv_.wait(l, [&] { return !has_batch_ || reader_gone_ || state_ != State::Running; });
    if (state_ != State::Running || reader_gone_) return;
    std::swap(filling_, batch_);
    batch_at_ = filling_at_;
    filling_at_ += static_cast<int64_t>(batch_.size());
    filling_.clear();
    has_batch_ = true;
    cv_.notify_all();
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
        taken_ = has_batch_ = false;
        cv_.notify_all();
    }
    auto in_batch = [&] { return has_batch_ && batch_at_ <= off_ && off_ < batch_at_ + static_cast<int64_t>(batch_.size()); };
    cv_.wait(l, [&] { return state_ != State::Running || off_ < size_ || in_batch(); });
    if (state_ == State::Dropped) throw Dropped{};
    if (in_batch()) {
        size_t skip = static_cast<size_t>(off_ - batch_at_);
        *out = batch_.data() + skip;
        size_t n = batch_.size() - skip;
        off_ += static_cast<int64_t>(n);
        from_memory_ += static_cast<int64_t>(n);
        taken_ = true;
        return n;
    }
    // A kept prefix, or (once the download ended) its last bytes: they are in the ingest file.
    int64_t limit = has_batch_ && off_ < batch_at_ ? batch_at_ : size_;
    size_t want = static_cast<size_t>(std::min<int64_t>(static_cast<int64_t>(buf_.size()), limit - off_));
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
        if (state_ == State::Running) {
            state_ = State::Ended;
            size_ = std::max(size_, passed_);  // the last partial batch is read from the file
        }
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
