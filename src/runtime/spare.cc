// Spare state dirs: a removed container's dir, emptied down to an empty upper/
// and work/, kept for the next container to take by a rename instead of making
// three directories on the disk. Each new inode costs: on an ext4 without a
// journal every allocation first skips the inodes freed in the last 30 s
// (find_inode_bit -> recently_deleted), so a `berth run --rm` loop slowed down
// run after run. A few spares at most; a dir that cannot be emptied is removed.
#include "runtime/container_internal.h"

#include <spdlog/spdlog.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <sys/xattr.h>
#include <unistd.h>

namespace fs = std::filesystem;

namespace berth::runtime::detail {
namespace {

constexpr int kMaxSpares = 4;

// Overlay's own marks on the upper dir's root (uuid, impure, origin): a new mount starts without.
bool strip_overlay_xattrs(const std::string& dir) {
    char names[4096];
    ssize_t n = ::llistxattr(dir.c_str(), names, sizeof names);
    if (n < 0) return errno == ENOTSUP;
    for (ssize_t at = 0; at < n; at += static_cast<ssize_t>(std::strlen(names + at)) + 1)
        if (std::strncmp(names + at, "trusted.overlay.", 16) == 0 && ::lremovexattr(dir.c_str(), names + at) < 0)
            return false;
    return true;
}

// Everything in `state_dir` but an empty upper/ and work/; false when something stays.
bool empty_to_spare(const std::string& state_dir) {
    std::error_code ec;
    for (const auto& e : fs::directory_iterator(state_dir, ec)) {
        std::string name = e.path().filename().string();
        if (name != "upper" && name != "work") fs::remove_all(e.path(), ec);
        if (ec) return false;
    }
    if (ec) return false;
    for (const char* sub : {"/upper", "/work"}) {
        for (const auto& e : fs::directory_iterator(state_dir + sub, ec)) {
            fs::remove_all(e.path(), ec);
            if (ec) return false;
        }
        if (ec) return false;
    }
    return strip_overlay_xattrs(state_dir + "/upper");
}

}  // namespace

bool take_spare(const std::string& spare_dir, const std::string& state_dir) {
    if (spare_dir.empty() || ::access(state_dir.c_str(), F_OK) == 0) return false;
    std::error_code ec;
    for (const auto& e : fs::directory_iterator(spare_dir, ec)) {
        // Another berth may take the same one first: then it is gone (ENOENT), try the next.
        if (::rename(e.path().c_str(), state_dir.c_str()) == 0) return true;
        if (errno != ENOENT) return false;
    }
    return false;
}

void recycle_state_dir(const std::string& spare_dir, const std::string& state_dir, const std::string& id) {
    std::error_code ec;
    if (!spare_dir.empty() && ::access((state_dir + "/upper").c_str(), F_OK) == 0 && empty_to_spare(state_dir)) {
        int spares = 0;
        for (auto it = fs::directory_iterator(spare_dir, ec); !ec && it != fs::directory_iterator(); it.increment(ec))
            ++spares;
        if (spares < kMaxSpares) {
            fs::create_directories(spare_dir, ec);
            if (::rename(state_dir.c_str(), (spare_dir + "/" + id).c_str()) == 0) return;
        }
    }
    fs::remove_all(state_dir, ec);
    if (ec) spdlog::warn("container {}: remove {}: {}", id, state_dir, ec.message());
}

}  // namespace berth::runtime::detail
