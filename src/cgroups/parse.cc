#include "base/strings.h"
#include "cgroups/cgroups.h"

#include <algorithm>
#include <cmath>
#include <sstream>

namespace berth::cgroups {

namespace {
// mountinfo: id parent maj:min root mountpoint opts [optional...] - fstype source superopts
struct MountLine {
    std::string point, fstype, superopts;
};
std::vector<MountLine> mount_lines(const std::string& text) {
    std::vector<MountLine> out;
    std::istringstream in(text);
    std::string line;
    while (std::getline(in, line)) {
        std::vector<std::string> f;
        std::istringstream ls(line);
        std::string w;
        while (ls >> w) f.push_back(w);
        auto dash = std::find(f.begin(), f.end(), "-");
        if (f.size() < 5 || dash == f.end() || dash + 3 > f.end()) continue;
        out.push_back({f[4], *(dash + 1), *(dash + 3)});
    }
    return out;
}
}  // namespace

V1Mounts parse_v1_mounts(const std::string& mountinfo) {
    V1Mounts m;
    for (const auto& l : mount_lines(mountinfo)) {
        if (l.fstype != "cgroup") continue;
        for (const auto& opt : split(l.superopts, ',')) {
            if (opt == "memory" && m.memory.empty()) m.memory = l.point;
            else if (opt == "cpu" && m.cpu.empty()) m.cpu = l.point;
            else if (opt == "cpuacct" && m.cpuacct.empty()) m.cpuacct = l.point;
            else if (opt == "pids" && m.pids.empty()) m.pids = l.point;
            else if (opt == "cpuset" && m.cpuset.empty()) m.cpuset = l.point;
            else if (opt == "freezer" && m.freezer.empty()) m.freezer = l.point;
            else if (opt == "devices" && m.devices.empty()) m.devices = l.point;
        }
    }
    return m;
}

std::optional<std::string> parse_v2_mount(const std::string& mountinfo) {
    for (const auto& l : mount_lines(mountinfo))
        if (l.fstype == "cgroup2") return l.point;
    return std::nullopt;
}

int64_t cpu_quota_us(double cpus, int64_t period_us) {
    return static_cast<int64_t>(std::llround(cpus * static_cast<double>(period_us)));
}

uint64_t shares_to_weight(int64_t shares) {
    if (shares <= 0) return 0;
    shares = std::clamp<int64_t>(shares, 2, 262144);
    return 1 + (static_cast<uint64_t>(shares) - 2) * 9999 / 262142;
}

std::optional<int64_t> flat_key(const std::string& text, const std::string& key) {
    std::istringstream in(text);
    std::string k;
    int64_t v;
    while (in >> k >> v)
        if (k == key) return v;
    return std::nullopt;
}

}  // namespace berth::cgroups
