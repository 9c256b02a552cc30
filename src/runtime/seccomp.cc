#include "runtime/seccomp.h"

#include "base/error.h"
#include "base/fd.h"

#include <cerrno>
#include <sched.h>
#include <seccomp.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <memory>

namespace berth::runtime {
namespace {

constexpr const char* kRefused[] = {
    "acct", "add_key", "bpf", "clock_adjtime", "clock_settime", "create_module", "delete_module",
    "finit_module", "fsconfig", "fsmount", "fsopen", "fspick", "get_kernel_syms", "get_mempolicy",
    "init_module", "ioperm", "iopl", "kcmp", "kexec_file_load", "kexec_load", "keyctl",
    "lookup_dcookie", "mbind", "mount", "mount_setattr", "move_mount", "move_pages", "name_to_handle_at",
    "nfsservctl", "open_by_handle_at", "open_tree", "perf_event_open", "pivot_root", "query_module", "quotactl", "quotactl_fd", "reboot",
    "request_key", "set_mempolicy", "settimeofday", "stime",
    "swapoff", "swapon", "sysfs", "_sysctl", "umount", "umount2",
    "uselib", "userfaultfd", "ustat", "vm86", "vm86old", "fanotify_init", "lookup_dcookie",
    "syslog",
};

std::vector<sock_filter> build() {
    struct Ctx {
        scmp_filter_ctx c;
        ~Ctx() { seccomp_release(c); }
    } ctx{seccomp_init(SCMP_ACT_ALLOW)};
    if (!ctx.c) throw Error("seccomp: cannot create a filter");
    auto refuse = [&](int nr, unsigned count, const scmp_arg_cmp* cmp, int err) {
        int rc = seccomp_rule_add_array(ctx.c, SCMP_ACT_ERRNO(err), nr, count, cmp);
        if (rc < 0 && rc != -EEXIST) throw Error::sys(-rc, "seccomp: add rule");
    };
    for (const char* name : kRefused) {
        int nr = seccomp_syscall_resolve_name(name);
        if (nr == __NR_SCMP_ERROR || nr < 0) continue;  // not on this architecture
        refuse(nr, 0, nullptr, EPERM);
    }
    // New user namespaces: refused through clone, unshare and setns flags.
    scmp_arg_cmp newuser0 = SCMP_A0(SCMP_CMP_MASKED_EQ, CLONE_NEWUSER, CLONE_NEWUSER);
    scmp_arg_cmp newuser1 = SCMP_A1(SCMP_CMP_MASKED_EQ, CLONE_NEWUSER, CLONE_NEWUSER);
    refuse(SCMP_SYS(clone), 1, &newuser0, EPERM);
    refuse(SCMP_SYS(unshare), 1, &newuser0, EPERM);
    refuse(SCMP_SYS(setns), 1, &newuser1, EPERM);
    // clone3 passes its flags in memory that seccomp cannot read.
    refuse(SCMP_SYS(clone3), 0, nullptr, ENOSYS);

    int fd = memfd_create("berth-seccomp", MFD_CLOEXEC);
    if (fd < 0) throw Error::sys(errno, "seccomp: memfd_create");
    UniqueFd mem(fd);
    if (int rc = seccomp_export_bpf(ctx.c, mem.get()); rc < 0) throw Error::sys(-rc, "seccomp: export");
    struct stat st {};
    if (fstat(mem.get(), &st) < 0) throw Error::sys(errno, "seccomp: fstat");
    std::vector<sock_filter> prog(static_cast<size_t>(st.st_size) / sizeof(sock_filter));
    if (pread(mem.get(), prog.data(), prog.size() * sizeof(sock_filter), 0) !=
        static_cast<ssize_t>(prog.size() * sizeof(sock_filter)))
        throw Error::sys(errno, "seccomp: read program");
    return prog;
}

}  // namespace

const std::vector<sock_filter>& default_seccomp_program() {
    static const std::vector<sock_filter> prog = build();
    return prog;
}

}  // namespace berth::runtime
