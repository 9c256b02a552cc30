// UniqueFd — owns one file descriptor and closes it exactly once; make_pipe()
// returns a pipe as two of them, so no error path can leak an end.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include <fcntl.h>
#include <unistd.h>

#include <utility>

namespace berth {

class UniqueFd {
public:
    UniqueFd() = default;
    explicit UniqueFd(int fd) : fd_(fd) {}
    UniqueFd(UniqueFd&& o) noexcept : fd_(std::exchange(o.fd_, -1)) {}
    UniqueFd& operator=(UniqueFd&& o) noexcept {
        if (this != &o) reset(std::exchange(o.fd_, -1));
        return *this;
    }
    UniqueFd(const UniqueFd&) = delete;
    UniqueFd& operator=(const UniqueFd&) = delete;
    ~UniqueFd() { reset(); }

    int get() const { return fd_; }
    explicit operator bool() const { return fd_ >= 0; }
    int release() { return std::exchange(fd_, -1); }
    void reset(int fd = -1) {
        if (fd_ >= 0) ::close(fd_);
        fd_ = fd;
    }

private:
    int fd_ = -1;
};

// The two ends of a pipe, each owned.
struct Pipe {
    UniqueFd read;
    UniqueFd write;
};

// pipe2(flags) (O_CLOEXEC by default); throws berth::Error "pipe: …" with errno.
Pipe make_pipe(int flags = O_CLOEXEC);

// Writes all of `data` to `fd` (retrying EINTR); stops early when the reader is gone.
void write_all(int fd, std::string_view data);
// Reads `fd` to its end (retrying EINTR), keeping at most `limit` bytes.
std::string read_all(int fd, size_t limit = SIZE_MAX);

}  // namespace berth
