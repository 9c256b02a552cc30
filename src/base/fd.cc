#include "base/fd.h"

#include "base/error.h"

#include <cerrno>

namespace berth {

Pipe make_pipe(int flags) {
    int fds[2];
    if (::pipe2(fds, flags) < 0) throw Error::sys(errno, "pipe");
    return Pipe{UniqueFd(fds[0]), UniqueFd(fds[1])};
}

void write_all(int fd, std::string_view data) {
    size_t off = 0;
    while (off < data.size()) {
        ssize_t n = ::write(fd, data.data() + off, data.size() - off);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        off += static_cast<size_t>(n);
    }
}

std::string read_all(int fd, size_t limit) {
    std::string out;
    char buf[4096];
    for (;;) {
        ssize_t n = ::read(fd, buf, sizeof buf);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        if (out.size() < limit) out.append(buf, std::min(static_cast<size_t>(n), limit - out.size()));
    }
    return out;
}

}  // namespace berth
