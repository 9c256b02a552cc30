#include "runtime/seccomp.h"

#include "base/error.h"
#include "base/fd.h"

#include <cerrno>
#include <sched.h>
#include <seccomp.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <initializer_list>
#include <linux/capability.h>
#include <map>
#include <memory>
#include <mutex>

namespace berth::runtime {
namespace {

// What Docker's default profile refuses, and the capabilities that allow each call again
// (cap_add: [SYS_ADMIN] lets mount through, as in docker). An empty list: always refused.
struct Rule {
    const char* syscall;
    std::initializer_list<int> allowed_by;
};
const Rule kRules[] = {
    {"acct", {CAP_SYS_PACCT}},
    {"add_key", {}},
    {"bpf", {CAP_SYS_ADMIN, CAP_BPF}},
    {"clock_adjtime", {CAP_SYS_TIME}},
    {"clock_settime", {CAP_SYS_TIME}},
    {"create_module", {}},
    {"delete_module", {CAP_SYS_MODULE}},
    {"fanotify_init", {CAP_SYS_ADMIN}},
    {"finit_module", {CAP_SYS_MODULE}},
    {"fsconfig", {CAP_SYS_ADMIN}},
    {"fsmount", {CAP_SYS_ADMIN}},
    {"fsopen", {CAP_SYS_ADMIN}},
    {"fspick", {CAP_SYS_ADMIN}},
    {"get_kernel_syms", {}},
    {"get_mempolicy", {CAP_SYS_NICE}},
    {"init_module", {CAP_SYS_MODULE}},
    {"ioperm", {CAP_SYS_RAWIO}},
    {"iopl", {CAP_SYS_RAWIO}},
    {"kcmp", {CAP_SYS_PTRACE}},
    {"kexec_file_load", {}},
    {"kexec_load", {}},
    {"keyctl", {}},
    {"lookup_dcookie", {CAP_SYS_ADMIN}},
    {"mbind", {CAP_SYS_NICE}},
    {"mount", {CAP_SYS_ADMIN}},
    {"mount_setattr", {CAP_SYS_ADMIN}},
    {"move_mount", {CAP_SYS_ADMIN}},
    {"move_pages", {CAP_SYS_NICE}},
    {"name_to_handle_at", {CAP_SYS_ADMIN}},
    {"nfsservctl", {}},
    {"open_by_handle_at", {CAP_DAC_READ_SEARCH}},
    {"open_tree", {CAP_SYS_ADMIN}},
    {"perf_event_open", {CAP_SYS_ADMIN, CAP_PERFMON}},
    {"pivot_root", {CAP_SYS_ADMIN}},
    {"query_module", {}},
    {"quotactl", {CAP_SYS_ADMIN}},
    {"quotactl_fd", {CAP_SYS_ADMIN}},
    {"reboot", {CAP_SYS_BOOT}},
    {"request_key", {}},
    {"set_mempolicy", {CAP_SYS_NICE}},
    {"settimeofday", {CAP_SYS_TIME}},
    {"stime", {CAP_SYS_TIME}},
    {"swapoff", {}},
    {"swapon", {}},
    {"sysfs", {}},
    {"_sysctl", {}},
    {"syslog", {CAP_SYS_ADMIN, CAP_SYSLOG}},
    {"umount", {CAP_SYS_ADMIN}},
    {"umount2", {CAP_SYS_ADMIN}},
    {"uselib", {}},
    {"userfaultfd", {}},
    {"ustat", {}},
    {"vhangup", {CAP_SYS_TTY_CONFIG}},
    {"vm86", {}},
    {"vm86old", {}},
};

bool holds(CapSet caps, int cap) { return cap < 64 && (caps >> cap) & 1; }

bool allowed(const Rule& r, CapSet caps) {
    for (int cap : r.allowed_by)
        if (holds(caps, cap)) return true;
    return false;
}

// The capabilities the program depends on: two sets that agree on these get the same program.
CapSet gating_mask() {
    CapSet m = CapSet{1} << CAP_SYS_ADMIN;
    for (const Rule& r : kRules)
        for (int cap : r.allowed_by) m |= CapSet{1} << cap;
    return m;
}

std::vector<sock_filter> build(CapSet caps) {
    struct Ctx {
        scmp_filter_ctx c;
        ~Ctx() { seccomp_release(c); }
    } ctx{seccomp_init(SCMP_ACT_ALLOW)};
    if (!ctx.c) throw Error("seccomp: cannot create a filter");
    auto refuse = [&](int nr, unsigned count, const scmp_arg_cmp* cmp, int err) {
        int rc = seccomp_rule_add_array(ctx.c, SCMP_ACT_ERRNO(err), nr, count, cmp);
        if (rc < 0 && rc != -EEXIST) throw Error::sys(-rc, "seccomp: add rule");
    };
    for (const Rule& r : kRules) {
        if (allowed(r, caps)) continue;
        int nr = seccomp_syscall_resolve_name(r.syscall);
        if (nr == __NR_SCMP_ERROR || nr < 0) continue;  // not on this architecture
        refuse(nr, 0, nullptr, EPERM);
    }
    if (!holds(caps, CAP_SYS_ADMIN)) {
        // New user namespaces: refused through clone, unshare and setns flags.
        scmp_arg_cmp newuser0 = SCMP_A0(SCMP_CMP_MASKED_EQ, CLONE_NEWUSER, CLONE_NEWUSER);
        scmp_arg_cmp newuser1 = SCMP_A1(SCMP_CMP_MASKED_EQ, CLONE_NEWUSER, CLONE_NEWUSER);
        refuse(SCMP_SYS(clone), 1, &newuser0, EPERM);
        refuse(SCMP_SYS(unshare), 1, &newuser0, EPERM);
        refuse(SCMP_SYS(setns), 1, &newuser1, EPERM);
        // clone3 passes its flags in memory that seccomp cannot read.
        refuse(SCMP_SYS(clone3), 0, nullptr, ENOSYS);
    }

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

const std::vector<sock_filter>& seccomp_program(CapSet caps) {
    static std::mutex mu;
    static std::map<CapSet, std::vector<sock_filter>> built;  // node-based: references stay valid
    static const CapSet mask = gating_mask();
    std::lock_guard lock(mu);
    auto [it, fresh] = built.try_emplace(caps & mask);
    if (fresh) {
        try {
            it->second = build(caps & mask);
        } catch (...) {
            built.erase(it);
            throw;
        }
    }
    return it->second;
}

const std::vector<sock_filter>& default_seccomp_program() { return seccomp_program(default_capabilities()); }

}  // namespace berth::runtime
