// Helpers the store's files share (store.cc, ingest.cc), and the registry client reads blobs with.
#pragma once

#include <nlohmann/json.hpp>

#include "base/error.h"
#include "base/fd.h"

#include <cerrno>
#include <fcntl.h>
#include <string>
#include <sys/file.h>

namespace berth::images::detail {

// The index annotation that holds an image's name.
inline constexpr const char* kRefName = "org.opencontainers.image.ref.name";

std::string read_all(const std::string& path);
nlohmann::json read_json(const std::string& path, const std::string& what);
void write_atomic(const std::string& path, const std::string& data);
std::string hex_of(const std::string& digest);  // checks "sha256:<64 hex>"
// Marks a directory as the top of unrelated trees for ext4's inode allocator (chattr +T): the
// layers it holds then go to block groups of their own. On a busy ext4 without a journal,
// creating an inode in a group with many recently deleted ones scans past all of them;
// extracting a 270-file busybox layer measured 2-3x faster this way. Elsewhere a no-op.
void mark_top_directory(const std::string& dir);

// An flock on a lock file (made if missing), held until destruction.
class FileLock {
public:
    FileLock(const std::string& path, int op) : fd_(::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644)) {
        if (!fd_) throw Error::sys(errno, "open " + path);
        while (::flock(fd_.get(), op) < 0)
            if (errno != EINTR) throw Error::sys(errno, "lock " + path);
    }
    int release() { return fd_.release(); }

private:
    UniqueFd fd_;
};

// The exclusive lock every change of the image index takes.
class IndexLock : public FileLock {
public:
    explicit IndexLock(const std::string& images_dir) : FileLock(images_dir + "/index.lock", LOCK_EX) {}
};

}  // namespace berth::images::detail
