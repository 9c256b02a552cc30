// Linux capabilities by name, Docker's default set, and cap_add/cap_drop.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace berth::runtime {

using CapSet = uint64_t;  // bit n = capability n

// "CHOWN", "cap_chown" and "CAP_CHOWN" all name capability 0; nullopt if unknown.
std::optional<int> capability_number(std::string name);
std::string capability_name(int cap);  // "CAP_CHOWN"

// The highest capability this kernel knows (/proc/sys/kernel/cap_last_cap).
int last_capability();
CapSet all_capabilities();
// What this process may still hand out: its own bounding set (privileged gets this).
CapSet bounding_capabilities();

// Docker's default: CHOWN DAC_OVERRIDE FSETID FOWNER MKNOD NET_RAW SETGID SETUID
// SETFCAP SETPCAP NET_BIND_SERVICE SYS_CHROOT KILL AUDIT_WRITE.
CapSet default_capabilities();

// Applies compose's cap_add and cap_drop ("ALL" allowed in both) to `base`, as
// Docker does: drop ALL first empties the set, then adds apply; add ALL gives
// every capability, then drops apply. Throws berth::Error on an unknown name.
CapSet apply_cap_changes(CapSet base, const std::vector<std::string>& add,
                         const std::vector<std::string>& drop);

std::vector<std::string> capability_names(CapSet set);

}  // namespace berth::runtime
