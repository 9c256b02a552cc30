// Docker's default seccomp policy as a compiled BPF program. The program is
// built once, before clone, with libseccomp; the child only hands it to the
// kernel (prctl(PR_SET_SECCOMP)), which is async-signal-safe.
#pragma once

#include <linux/filter.h>
#include <vector>

namespace berth::runtime {

// Everything allowed except what Docker's default profile refuses: kernel
// modules, mount/umount, reboot, kexec, bpf, keyrings, open_by_handle_at,
// new user namespaces (clone/unshare/setns with CLONE_NEWUSER), swap, clock
// setting, accounting, perf, ptrace-adjacent and obsolete calls. Refused
// calls fail with EPERM; clone3 fails with ENOSYS so libcs fall back to clone,
// whose flags can be checked. Throws berth::Error if libseccomp fails.
const std::vector<sock_filter>& default_seccomp_program();

}  // namespace berth::runtime
