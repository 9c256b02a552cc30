#include "compose/input_file.h"

#include "base/error.h"
#include "base/fd.h"

#include <cerrno>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace berth::compose {
namespace {

const char* kind_of(mode_t m) {
    if (S_ISDIR(m)) return "a directory";
    if (S_ISFIFO(m)) return "a FIFO (named pipe)";
    if (S_ISCHR(m)) return "a character device";
    if (S_ISBLK(m)) return "a block device";
    if (S_ISSOCK(m)) return "a socket";
    return "a special file";
}

std::string mib(size_t n) { return std::to_string(n >> 20) + " MiB"; }

}  // namespace

std::string read_input_file(const std::string& path, const std::string& what) {
    // O_NONBLOCK: opening a FIFO for reading must not wait for a writer.
    UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY));
    if (!fd) throw Error::sys(errno, "read " + what + " " + path);
    struct stat st {};
    if (::fstat(fd.get(), &st) < 0) throw Error::sys(errno, "read " + what + " " + path);
    if (!S_ISREG(st.st_mode))
        throw Error(what + " " + path + " is " + kind_of(st.st_mode) + ", not a regular file",
                    "name a regular file; berth does not read compose or env files from pipes or devices");
    std::string too_large = what + " " + path + " is too large (more than " + mib(kMaxInputFileBytes) + ")";
    if (static_cast<uint64_t>(st.st_size) > kMaxInputFileBytes)
        throw Error(too_large, "berth reads compose and env files of up to " + mib(kMaxInputFileBytes));
    std::string out;
    out.reserve(static_cast<size_t>(st.st_size));
    char buf[1 << 16];
    for (;;) {
        ssize_t n = ::read(fd.get(), buf, sizeof buf);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) throw Error::sys(errno, "read " + what + " " + path);
        if (n == 0) break;
        // The file may grow while it is read (or be a /proc file reporting size 0).
        if (out.size() + static_cast<size_t>(n) > kMaxInputFileBytes)
            throw Error(too_large, "berth reads compose and env files of up to " + mib(kMaxInputFileBytes));
        out.append(buf, static_cast<size_t>(n));
    }
    return out;
}

}  // namespace berth::compose
