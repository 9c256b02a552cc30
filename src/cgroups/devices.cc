#include "cgroups/devices.h"

#include "base/error.h"
#include "base/strings.h"

#include <spdlog/spdlog.h>

#include <cerrno>
#include <charconv>
#include <cstring>
#include <sstream>
#include <sys/syscall.h>
#include <unistd.h>

namespace berth::cgroups {

// ---------------- rules ----------------

namespace {

Error bad_rule(std::string_view text, const std::string& why) {
    return Error("invalid device rule \"" + std::string(text) + "\": " + why,
                 "write TYPE MAJOR:MINOR ACCESS: TYPE a, b or c, MAJOR and MINOR a number or *, "
                 "ACCESS some of r, w, m (e.g. \"c 1:3 rwm\", \"b 7:* r\")");
}

int64_t device_number(std::string_view text, std::string_view s, const char* what) {
    if (s == "*") return DeviceRule::kAny;
    uint32_t v = 0;
    auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (s.empty() || ec != std::errc{} || end != s.data() + s.size())
        throw bad_rule(text, std::string(what) + " \"" + std::string(s) + "\" is not a number or *");
    return v;
}

std::string number_text(int64_t n) { return n == DeviceRule::kAny ? "*" : std::to_string(n); }

}  // namespace

std::string DeviceRule::to_string() const {
    std::string acc;
    if (access & kRead) acc += 'r';
    if (access & kWrite) acc += 'w';
    if (access & kMknod) acc += 'm';
    return std::string(1, static_cast<char>(type)) + " " + number_text(major) + ":" + number_text(minor) + " " + acc;
}

DeviceRule parse_device_rule(std::string_view text) {
    std::istringstream in{std::string(text)};
    std::vector<std::string> f;
    for (std::string w; in >> w;) f.push_back(w);
    if (f.empty()) throw bad_rule(text, "it is empty");
    DeviceRule r;
    if (f[0] == "a" || f[0] == "b" || f[0] == "c") r.type = static_cast<DeviceRule::Type>(f[0][0]);
    else throw bad_rule(text, "the type \"" + f[0] + "\" is not a (all), b (block) or c (char)");
    if (f.size() == 1 && r.type == DeviceRule::Type::All) return r;
    if (f.size() < 2 || f.size() > 3) throw bad_rule(text, "expected TYPE MAJOR:MINOR [ACCESS]");
    auto colon = f[1].find(':');
    if (colon == std::string::npos) throw bad_rule(text, "\"" + f[1] + "\" is not MAJOR:MINOR");
    std::string_view nums = f[1];
    r.major = device_number(text, nums.substr(0, colon), "major");
    r.minor = device_number(text, nums.substr(colon + 1), "minor");
    if (r.type == DeviceRule::Type::All && (r.major != DeviceRule::kAny || r.minor != DeviceRule::kAny))
        throw bad_rule(text, "type a covers every device: write \"a *:* rwm\"");
    if (f.size() == 3) {
        try {
            r.access = parse_device_access(f[2]);
        } catch (const Error& e) {
            throw bad_rule(text, e.message());
        }
    }
    return r;
}

unsigned parse_device_access(std::string_view text) {
    if (text.empty()) throw Error("the device access is empty", "write some of r, w and m");
    unsigned access = 0;
    for (char c : text) {
        if (c == 'r') access |= DeviceRule::kRead;
        else if (c == 'w') access |= DeviceRule::kWrite;
        else if (c == 'm') access |= DeviceRule::kMknod;
        else throw Error(std::string("access '") + c + "' is not r, w or m", "write some of r, w and m");
    }
    return access;
}

const std::vector<DeviceRule>& default_device_rules() {
    using T = DeviceRule::Type;
    constexpr auto any = DeviceRule::kAny;
    constexpr auto rwm = DeviceRule::kAll;
    static const std::vector<DeviceRule> rules = {
        {T::Char, any, any, DeviceRule::kMknod},
        {T::Block, any, any, DeviceRule::kMknod},
        {T::Char, 1, 3, rwm},   // null
        {T::Char, 1, 5, rwm},   // zero
        {T::Char, 1, 7, rwm},   // full
        {T::Char, 1, 8, rwm},   // random
        {T::Char, 1, 9, rwm},   // urandom
        {T::Char, 5, 0, rwm},   // tty
        {T::Char, 5, 1, rwm},   // console
        {T::Char, 5, 2, rwm},   // ptmx
        {T::Char, 136, any, rwm},  // pts/*
    };
    return rules;
}

DeviceRule allow_all_devices() { return {}; }

// ---------------- the v2 program ----------------

namespace {

bpf_insn insn(uint8_t code, uint8_t dst, uint8_t src, int16_t off, int32_t imm) {
    bpf_insn i{};
    i.code = code;
    i.dst_reg = dst & 0xf;
    i.src_reg = src & 0xf;
    i.off = off;
    i.imm = imm;
    return i;
}

// Registers the prologue fills from struct bpf_cgroup_dev_ctx (R1):
// access_type = access << 16 | type, then major, then minor.
constexpr uint8_t kType = 2, kAccess = 3, kMajor = 4, kMinor = 5, kScratch = 1;

// 32-bit compares (JMP32, Linux 5.1): a major or minor is a u32.
constexpr uint8_t kJne = BPF_JMP32 | BPF_JNE | BPF_K;
bpf_insn jne_imm(uint8_t reg, int32_t imm) { return insn(kJne, reg, 0, 0, imm); }

unsigned bpf_access(unsigned access) {
    return ((access & DeviceRule::kRead) ? BPF_DEVCG_ACC_READ : 0) |
           ((access & DeviceRule::kWrite) ? BPF_DEVCG_ACC_WRITE : 0) |
           ((access & DeviceRule::kMknod) ? BPF_DEVCG_ACC_MKNOD : 0);
}

// One rule: each test that fails jumps past the block to the next rule; a
// block whose tests all pass returns 1. `unconditional` says it has no test.
std::vector<bpf_insn> rule_block(const DeviceRule& r, bool& unconditional) {
    std::vector<bpf_insn> b;
    if (r.type != DeviceRule::Type::All)
        b.push_back(jne_imm(kType, r.type == DeviceRule::Type::Block ? BPF_DEVCG_DEV_BLOCK : BPF_DEVCG_DEV_CHAR));
    unsigned all = BPF_DEVCG_ACC_READ | BPF_DEVCG_ACC_WRITE | BPF_DEVCG_ACC_MKNOD;
    unsigned acc = bpf_access(r.access);
    if (acc != all) {  // the access asked for must lie within the rule's
        b.push_back(insn(BPF_ALU64 | BPF_MOV | BPF_X, kScratch, kAccess, 0, 0));
        b.push_back(insn(BPF_ALU64 | BPF_AND | BPF_K, kScratch, 0, 0, static_cast<int32_t>(all & ~acc)));
        b.push_back(jne_imm(kScratch, 0));
    }
    if (r.major != DeviceRule::kAny) b.push_back(jne_imm(kMajor, static_cast<int32_t>(r.major)));
    if (r.minor != DeviceRule::kAny) b.push_back(jne_imm(kMinor, static_cast<int32_t>(r.minor)));
    unconditional = b.empty();
    b.push_back(insn(BPF_ALU64 | BPF_MOV | BPF_K, BPF_REG_0, 0, 0, 1));
    b.push_back(insn(BPF_JMP | BPF_EXIT, 0, 0, 0, 0));
    for (size_t i = 0; i < b.size(); ++i)
        if (b[i].code == kJne) b[i].off = static_cast<int16_t>(b.size() - i - 1);
    return b;
}

long bpf(int cmd, union bpf_attr& attr) { return ::syscall(SYS_bpf, cmd, &attr, sizeof attr); }

uint64_t ptr(const void* p) { return static_cast<uint64_t>(reinterpret_cast<uintptr_t>(p)); }

}  // namespace

std::vector<bpf_insn> device_program(const std::vector<DeviceRule>& rules) {
    std::vector<bpf_insn> p = {
        insn(BPF_LDX | BPF_W | BPF_MEM, kType, BPF_REG_1, 0, 0),
        insn(BPF_ALU64 | BPF_AND | BPF_K, kType, 0, 0, 0xffff),
        insn(BPF_LDX | BPF_W | BPF_MEM, kAccess, BPF_REG_1, 0, 0),
        insn(BPF_ALU64 | BPF_RSH | BPF_K, kAccess, 0, 0, 16),
        insn(BPF_LDX | BPF_W | BPF_MEM, kMajor, BPF_REG_1, 4, 0),
        insn(BPF_LDX | BPF_W | BPF_MEM, kMinor, BPF_REG_1, 8, 0),
    };
    for (const auto& r : rules) {
        bool unconditional = false;
        auto b = rule_block(r, unconditional);
        p.insert(p.end(), b.begin(), b.end());
        if (unconditional) return p;  // anything after would be unreachable, which the verifier refuses
    }
    p.push_back(insn(BPF_ALU64 | BPF_MOV | BPF_K, BPF_REG_0, 0, 0, 0));
    p.push_back(insn(BPF_JMP | BPF_EXIT, 0, 0, 0, 0));
    return p;
}

UniqueFd load_device_program(const std::vector<bpf_insn>& insns) {
    static const char license[] = "Apache";
    union bpf_attr a;
    std::memset(&a, 0, sizeof a);
    a.prog_type = BPF_PROG_TYPE_CGROUP_DEVICE;
    a.insns = ptr(insns.data());
    a.insn_cnt = static_cast<uint32_t>(insns.size());
    a.license = ptr(license);
    long fd = bpf(BPF_PROG_LOAD, a);  // bpf fds are close-on-exec
    if (fd >= 0) return UniqueFd(static_cast<int>(fd));
    int err = errno;
    // Again with the verifier's log, for the message.
    std::string log(1 << 16, '\0');
    a.log_buf = ptr(log.data());
    a.log_size = static_cast<uint32_t>(log.size());
    a.log_level = 1;
    fd = bpf(BPF_PROG_LOAD, a);
    if (fd >= 0) return UniqueFd(static_cast<int>(fd));
    log.resize(std::strlen(log.c_str()));
    Error e = Error::sys(err, "cgroup: load the device access program");
    e.set_hint(log.empty() ? "the kernel needs CONFIG_CGROUP_BPF, and berth CAP_SYS_ADMIN"
                           : "the kernel's verifier said: " + std::string(trim(log)));
    throw e;
}

void attach_device_program(int cgroup_fd, int prog_fd) {
    union bpf_attr a;
    std::memset(&a, 0, sizeof a);
    a.target_fd = static_cast<uint32_t>(cgroup_fd);
    a.attach_bpf_fd = static_cast<uint32_t>(prog_fd);
    a.attach_type = BPF_CGROUP_DEVICE;
    a.attach_flags = BPF_F_ALLOW_MULTI;
    if (bpf(BPF_PROG_ATTACH, a) < 0) throw Error::sys(errno, "cgroup: attach the device access program");

    // Others attached here (a group left from before, with its rules) go.
    struct bpf_prog_info info {};
    union bpf_attr q;
    std::memset(&q, 0, sizeof q);
    q.info.bpf_fd = static_cast<uint32_t>(prog_fd);
    q.info.info_len = sizeof info;
    q.info.info = ptr(&info);
    if (bpf(BPF_OBJ_GET_INFO_BY_FD, q) < 0) throw Error::sys(errno, "cgroup: read the device program's id");
    uint32_t ids[64];
    std::memset(&q, 0, sizeof q);
    q.query.target_fd = static_cast<uint32_t>(cgroup_fd);
    q.query.attach_type = BPF_CGROUP_DEVICE;
    q.query.prog_ids = ptr(ids);
    q.query.prog_cnt = 64;
    if (bpf(BPF_PROG_QUERY, q) < 0) throw Error::sys(errno, "cgroup: list the group's device programs");
    for (uint32_t i = 0; i < q.query.prog_cnt && i < 64; ++i) {
        if (ids[i] == info.id) continue;
        union bpf_attr g;
        std::memset(&g, 0, sizeof g);
        g.prog_id = ids[i];
        long old = bpf(BPF_PROG_GET_FD_BY_ID, g);
        if (old < 0) continue;  // detached meanwhile
        UniqueFd old_fd(static_cast<int>(old));
        std::memset(&a, 0, sizeof a);
        a.target_fd = static_cast<uint32_t>(cgroup_fd);
        a.attach_bpf_fd = static_cast<uint32_t>(old_fd.get());
        a.attach_type = BPF_CGROUP_DEVICE;
        if (bpf(BPF_PROG_DETACH, a) < 0 && errno != ENOENT)
            throw Error::sys(errno, "cgroup: detach an old device program");
        spdlog::debug("cgroup: detached old device program {}", ids[i]);
    }
}

}  // namespace berth::cgroups
