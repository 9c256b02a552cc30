// What a killed build leaves, swept by the next one. Each scratch dir is
// flock()ed by its live build (ScratchDir); one whose lock is free belongs to
// a build that died (kill -9): its build network's bridge and nft table, its
// RUN container (cgroup "berth/build-<dir>", and any process still in it), the
// overlay mounts under it and its files go.
#include "base/fd.h"
#include "build/builder_internal.h"
#include "cgroups/cgroups.h"
#include "netns/network.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <ctime>
#include <fcntl.h>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <sys/file.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

namespace fs = std::filesystem;

namespace berth::build::detail {
namespace {

// A dir still hidden (".name") is being made: its lock comes right after mkdir.
constexpr time_t kHiddenGrace = 60;

std::string unescape_mountinfo(const std::string& s) {
    std::string out;
    for (size_t i = 0; i < s.size(); ++i) {
        if (s[i] == '\\' && i + 3 < s.size() && std::isdigit(static_cast<unsigned char>(s[i + 1]))) {
            out += static_cast<char>(std::stoi(s.substr(i + 1, 3), nullptr, 8));
            i += 3;
        } else {
            out += s[i];
        }
    }
    return out;
}

// Unmounts everything mounted at or under `dir` in this mount namespace, deepest first.
void unmount_under(const std::string& dir) {
    std::ifstream in("/proc/self/mountinfo");
    std::vector<std::string> points;
    for (std::string line; std::getline(in, line);) {
        std::istringstream f(line);
        std::string id, parent, dev, root, point;
        f >> id >> parent >> dev >> root >> point;
        point = unescape_mountinfo(point);
        if (point == dir || point.rfind(dir + "/", 0) == 0) points.push_back(point);
    }
    std::sort(points.begin(), points.end(), [](const auto& a, const auto& b) { return a.size() > b.size(); });
    for (const auto& p : points)
        if (::umount2(p.c_str(), MNT_DETACH) < 0 && errno != EINVAL && errno != ENOENT)
            spdlog::warn("build sweep: umount {}: {}", p, std::strerror(errno));
}

void sweep_one(const BuildRequest& req, const std::string& dir, const std::string& name) {
    std::string nets = dir + "/networks.json";
    if (::access(nets.c_str(), F_OK) == 0) {
        std::string lock = req.runtime_dir.empty() ? dir + "/networks.lock" : req.runtime_dir + "/networks.lock";
        netns::Networks(nets, lock).remove_all();
    }
    // A RUN's container (its state dir is ctr/): its group joined as Container::adopt does, then
    // destroyed, killing what still runs in it.
    if (name[0] != '.' && ::access((dir + "/ctr").c_str(), F_OK) == 0)
        cgroups::detect()->create("berth/" + run_container_id(name), {})->destroy();
    unmount_under(dir);
    std::error_code ec;
    fs::remove_all(dir, ec);
    if (ec) spdlog::warn("build sweep: remove {}: {}", dir, ec.message());
}

}  // namespace

std::string run_container_id(const std::string& scratch_name) { return "build-" + scratch_name; }

size_t sweep_dead_builds(const BuildRequest& req) {
    std::string base = req.state_root + "/build-tmp";
    std::error_code ec;
    size_t swept = 0;
    for (fs::directory_iterator it(base, ec), end; !ec && it != end; it.increment(ec)) {
        std::string name = it->path().filename().string();
        std::string dir = it->path().string();
        UniqueFd fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
        if (!fd || ::flock(fd.get(), LOCK_EX | LOCK_NB) < 0) continue;  // a live build's
        struct stat st {};
        if (name[0] == '.' && (::fstat(fd.get(), &st) < 0 || std::time(nullptr) - st.st_mtime < kHiddenGrace)) continue;
        try {
            sweep_one(req, dir, name);
            ++swept;
        } catch (const std::exception& e) {
            spdlog::warn("build sweep: {}: {}", dir, e.what());
        }
    }
    return swept;
}

}  // namespace berth::build::detail
