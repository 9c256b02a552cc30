#include "runtime/caps.h"

#include "base/error.h"
#include "base/strings.h"

#include <algorithm>
#include <cctype>
#include <fstream>
#include <linux/capability.h>
#include <sys/prctl.h>

namespace berth::runtime {
namespace {

constexpr const char* kNames[] = {
    "CHOWN", "DAC_OVERRIDE", "DAC_READ_SEARCH", "FOWNER", "FSETID", "KILL", "SETGID", "SETUID",
    "SETPCAP", "LINUX_IMMUTABLE", "NET_BIND_SERVICE", "NET_BROADCAST", "NET_ADMIN", "NET_RAW",
    "IPC_LOCK", "IPC_OWNER", "SYS_MODULE", "SYS_RAWIO", "SYS_CHROOT", "SYS_PTRACE", "SYS_PACCT",
    "SYS_ADMIN", "SYS_BOOT", "SYS_NICE", "SYS_RESOURCE", "SYS_TIME", "SYS_TTY_CONFIG", "MKNOD",
    "LEASE", "AUDIT_WRITE", "AUDIT_CONTROL", "SETFCAP", "MAC_OVERRIDE", "MAC_ADMIN", "SYSLOG",
    "WAKE_ALARM", "BLOCK_SUSPEND", "AUDIT_READ", "PERFMON", "BPF", "CHECKPOINT_RESTORE",
};
constexpr int kKnown = sizeof(kNames) / sizeof(kNames[0]);

}  // namespace

std::optional<int> capability_number(std::string name) {
    for (auto& c : name) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    if (name.rfind("CAP_", 0) == 0) name = name.substr(4);
    for (int i = 0; i < kKnown; ++i)
        if (name == kNames[i]) return i;
    return std::nullopt;
}

std::string capability_name(int cap) {
    if (cap >= 0 && cap < kKnown) return std::string("CAP_") + kNames[cap];
    return "CAP_" + std::to_string(cap);
}

int last_capability() {
    static const int last = [] {
        std::ifstream in("/proc/sys/kernel/cap_last_cap");
        int n = 0;
        if (in >> n && n > 0 && n < 64) return n;
        return CAP_LAST_CAP;
    }();
    return last;
}

CapSet all_capabilities() {
    int last = last_capability();
    return last >= 63 ? ~CapSet{0} : ((CapSet{1} << (last + 1)) - 1);
}

CapSet bounding_capabilities() {
    CapSet s = 0;
    for (int c = 0; c <= last_capability(); ++c)
        if (prctl(PR_CAPBSET_READ, c, 0, 0, 0) == 1) s |= CapSet{1} << c;
    return s;
}

CapSet default_capabilities() {
    CapSet s = 0;
    for (int c : {CAP_CHOWN, CAP_DAC_OVERRIDE, CAP_FSETID, CAP_FOWNER, CAP_MKNOD, CAP_NET_RAW, CAP_SETGID,
                  CAP_SETUID, CAP_SETFCAP, CAP_SETPCAP, CAP_NET_BIND_SERVICE, CAP_SYS_CHROOT, CAP_KILL,
                  CAP_AUDIT_WRITE})
        s |= CapSet{1} << c;
    return s;
}

CapSet apply_cap_changes(CapSet base, const std::vector<std::string>& add, const std::vector<std::string>& drop) {
    auto is_all = [](const std::string& n) {
        std::string u = n;
        for (auto& c : u) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
        return u == "ALL" || u == "CAP_ALL";
    };
    auto bit = [](const std::string& n, const char* key) -> CapSet {
        auto c = capability_number(n);
        if (!c) {
            std::vector<std::string> known;
            for (int i = 0; i < kKnown; ++i) known.emplace_back(kNames[i]);
            std::string guess = closest_match(n, known);
            throw Error(std::string(key) + ": unknown capability \"" + n + "\"",
                        guess.empty() ? "see capabilities(7) for the names" : "did you mean \"" + guess + "\"?");
        }
        return CapSet{1} << *c;
    };
    CapSet s = base;
    bool drop_all = std::any_of(drop.begin(), drop.end(), is_all);
    bool add_all = std::any_of(add.begin(), add.end(), is_all);
    if (drop_all) s = 0;
    if (add_all) {
        s = all_capabilities();
        for (const auto& d : drop)
            if (!is_all(d)) s &= ~bit(d, "cap_drop");
        return s;
    }
    for (const auto& d : drop)
        if (!is_all(d)) s &= ~bit(d, "cap_drop");
    for (const auto& a : add) s |= bit(a, "cap_add");
    return s & all_capabilities();
}

std::vector<std::string> capability_names(CapSet set) {
    std::vector<std::string> out;
    for (int i = 0; i < 64; ++i)
        if (set & (CapSet{1} << i)) out.push_back(capability_name(i));
    return out;
}

}  // namespace berth::runtime
