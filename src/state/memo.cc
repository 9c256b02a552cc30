#include "state/memo.h"

#include "state/state.h"

#include "base/sha256.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <vector>

namespace berth::state {

namespace {

std::string binary_identity() {
    struct stat st {};
    if (::stat("/proc/self/exe", &st) != 0) return {};
    return std::to_string(st.st_dev) + ":" + std::to_string(st.st_ino) + ":" + std::to_string(st.st_size) +
           ":" + std::to_string(st.st_mtim.tv_sec) + "." + std::to_string(st.st_mtim.tv_nsec);
}

// Removes the entries of `dir` when there are `limit` or more.
void trim(const std::string& dir, int limit) {
    DIR* d = ::opendir(dir.c_str());
    if (!d) return;
    std::vector<std::string> names;
    while (dirent* e = ::readdir(d))
        if (e->d_name[0] != '.') names.emplace_back(e->d_name);
    ::closedir(d);
    if (static_cast<int>(names.size()) < limit) return;
    for (const auto& n : names) ::unlink((dir + "/" + n).c_str());
}

}  // namespace

Memo::Memo(std::string dir, int limit) : dir_(std::move(dir)), binary_id_(binary_identity()), limit_(limit) {}

std::string Memo::entry_path(std::string_view text) const { Sha256 h;
    h.update(binary_id_);
    h.update("\n", 1);
    h.update(text);
    return dir_ + "/" + h.hex(); }

bool Memo::contains(std::string_view text) const {
    if (binary_id_.empty()) return false;
    return ::access(entry_path(text).c_str(), F_OK) == 0;
}

void Memo::add(std::string_view text) const {
    if (binary_id_.empty()) return;
    // An add follows a miss, which cost far more than this directory walk.
    trim(dir_, limit_);
    std::string path = entry_path(text);
    int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0 && errno == ENOENT) {
        // The directory (and its parents, the runtime dir included) on first use.
        for (size_t pos = dir_.find('/', 1); pos != std::string::npos; pos = dir_.find('/', pos + 1))
            ::mkdir(dir_.substr(0, pos).c_str(), 0755);
        ::mkdir(dir_.c_str(), 0700);
        fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    }
    if (fd >= 0) ::close(fd);
}

Memo compose_valid_memo() { return Memo(runtime_dir() + "/memo/compose-valid"); }

}  // namespace berth::state
