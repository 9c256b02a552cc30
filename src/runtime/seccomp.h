// Docker's default seccomp policy as a compiled BPF program. The program is
// built once, before clone, with libseccomp; the child only hands it to the
// kernel (prctl(PR_SET_SECCOMP)), which is async-signal-safe.
#pragma once

#include "runtime/caps.h"

#include <linux/filter.h>
#include <vector>

namespace berth::runtime {

// Everything allowed except what Docker's default profile refuses: kernel
// modules, mount/umount, reboot, kexec, bpf, keyrings, open_by_handle_at,
// new user namespaces (clone/unshare/setns with CLONE_NEWUSER), swap, clock
// setting, accounting, perf, ptrace-adjacent and obsolete calls. Refused
// calls fail with EPERM; clone3 fails with ENOSYS so libcs fall back to clone,
// whose flags can be checked. As in Docker's profile, capabilities widen it:
// SYS_ADMIN allows mount, umount, new user namespaces, bpf, perf...; SYS_MODULE
// module loading; SYS_TIME clock setting; SYS_BOOT reboot; SYS_PTRACE kcmp;
// SYS_RAWIO iopl/ioperm; SYS_NICE the NUMA calls; DAC_READ_SEARCH
// open_by_handle_at; and so on. One program per distinct set, built once and
// kept (the reference stays valid). Throws berth::Error if libseccomp fails.
const std::vector<sock_filter>& seccomp_program(CapSet caps);
// The program for Docker's default capabilities.
const std::vector<sock_filter>& default_seccomp_program();

}  // namespace berth::runtime
