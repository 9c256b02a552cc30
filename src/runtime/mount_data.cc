#include "runtime/mount_data.h"

#include "base/error.h"
#include "base/fd.h"

#include <cerrno>
#include <cstdio>
#include <fcntl.h>
#include <fstream>
#include <iterator>
#include <map>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

namespace berth::runtime::detail {

// A tmpfs mount's data: mode and size, then the short syntax's options; the
// flag words among them (ro, noexec…) go into `flags` instead.
std::string tmpfs_data(const MountSpec& ms, unsigned long& flags) {
    char mode[16];
    snprintf(mode, sizeof mode, "%o", ms.mode.value_or(01777));
    std::string data = std::string("mode=") + mode;
    if (ms.size) data += ",size=" + std::to_string(*ms.size);
    static const std::map<std::string, std::pair<unsigned long, bool>> words = {
        {"ro", {MS_RDONLY, true}},     {"rw", {MS_RDONLY, false}},    {"noexec", {MS_NOEXEC, true}},
        {"exec", {MS_NOEXEC, false}},  {"nosuid", {MS_NOSUID, true}}, {"suid", {MS_NOSUID, false}},
        {"nodev", {MS_NODEV, true}},   {"dev", {MS_NODEV, false}},    {"noatime", {MS_NOATIME, true}},
        {"atime", {MS_NOATIME, false}}, {"nodiratime", {MS_NODIRATIME, true}}, {"diratime", {MS_NODIRATIME, false}},
        {"strictatime", {MS_STRICTATIME, true}}, {"relatime", {MS_RELATIME, true}}};
    size_t start = 0;
    while (start <= ms.tmpfs_options.size()) {
        size_t end = ms.tmpfs_options.find(',', start);
        if (end == std::string::npos) end = ms.tmpfs_options.size();
        std::string opt = ms.tmpfs_options.substr(start, end - start);
        start = end + 1;
        if (opt.empty()) continue;
        if (auto it = words.find(opt); it != words.end()) {
            if (it->second.second) flags |= it->second.first;
            else flags &= ~it->second.first;
        } else {
            data += "," + opt;
        }
    }
    return data;
}

// A config's or secret's file, written into the state dir with its owner and
// mode: the source of a read-only bind.
std::string made_file(const ContainerSpec& spec, const MountSpec& ms, int n) {
    std::string content;
    if (ms.content) {
        content = *ms.content;
    } else {
        std::ifstream in(ms.source, std::ios::binary);
        if (!in) throw Error::sys(errno, "read " + ms.source).wrap("mount " + ms.target);
        content.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
    }
    std::string dir = spec.state_dir + "/files";
    if (::mkdir(dir.c_str(), 0700) < 0 && errno != EEXIST) throw Error::sys(errno, "mkdir " + dir);
    std::string path = spec.state_dir + "/files/" + std::to_string(n);
    ::unlink(path.c_str());
    int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) throw Error::sys(errno, "create " + path);
    UniqueFd f(fd);
    if (::write(fd, content.data(), content.size()) != static_cast<ssize_t>(content.size()))
        throw Error::sys(errno, "write " + path);
    if (::fchown(fd, ms.file_uid, ms.file_gid) < 0) throw Error::sys(errno, "chown " + path);
    if (::fchmod(fd, ms.mode.value_or(0444)) < 0) throw Error::sys(errno, "chmod " + path);
    return path;
}

}  // namespace berth::runtime::detail
