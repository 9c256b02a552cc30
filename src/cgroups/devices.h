// cgroups device access: which device nodes a container's processes may open
// (read, write) or make (mknod). A list of allow rules over a default deny, as
// runc and crun keep it: on v1 the `devices` controller's devices.deny and
// devices.allow, on v2 a BPF_PROG_TYPE_CGROUP_DEVICE program built from the
// rules and attached to the group's directory.
#pragma once

#include "base/fd.h"

#include <cstdint>
#include <linux/bpf.h>
#include <string>
#include <string_view>
#include <vector>

namespace berth::cgroups {

struct DeviceRule {
    enum class Type : char { All = 'a', Block = 'b', Char = 'c' };
    static constexpr int64_t kAny = -1;  // "*" for a major or minor
    static constexpr unsigned kRead = 1, kWrite = 2, kMknod = 4, kAll = 7;

    Type type = Type::All;
    int64_t major = kAny, minor = kAny;
    unsigned access = kAll;

    // "c 1:3 rwm", "b *:* m", "a *:* rwm": what devices.allow takes.
    std::string to_string() const;
    bool operator==(const DeviceRule&) const = default;
};

// Parses "TYPE MAJOR:MINOR [ACCESS]" (TYPE a, b or c; MAJOR and MINOR a number
// or *; ACCESS some of r, w, m, default rwm) or a bare "a". Throws berth::Error.
DeviceRule parse_device_rule(std::string_view text);

// "rwm", "r", "mw": DeviceRule access bits. Throws berth::Error.
unsigned parse_device_access(std::string_view text);

// Docker's and runc's default: mknod of any char or block device, and read and
// write of null, zero, full, random, urandom, tty, console, ptmx and pts/*.
const std::vector<DeviceRule>& default_device_rules();

// Every device, every access (privileged containers).
DeviceRule allow_all_devices();

// The BPF_PROG_TYPE_CGROUP_DEVICE program that returns 1 (allow) when a rule
// matches the access and 0 otherwise.
std::vector<bpf_insn> device_program(const std::vector<DeviceRule>& rules);

// Loads the program into the kernel; throws berth::Error with the verifier's log.
UniqueFd load_device_program(const std::vector<bpf_insn>& insns);

// Attaches the program to the cgroup2 directory `cgroup_fd` as BPF_CGROUP_DEVICE
// with BPF_F_ALLOW_MULTI, then detaches any other device program attached
// there directly (a stale group's), so that exactly these rules apply.
void attach_device_program(int cgroup_fd, int prog_fd);

}  // namespace berth::cgroups
