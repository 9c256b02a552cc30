#include "base/error.h"
#include "cgroups/cgroups.h"

#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>

using namespace berth::cgroups;
namespace fs = std::filesystem;

namespace {
const char* kHybrid =
    "31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755\n"
    "32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu\n"
    "33 31 0:30 / /sys/fs/cgroup/cpuacct rw,relatime - cgroup cgroup rw,cpuacct\n"
    "34 31 0:31 / /sys/fs/cgroup/cpuset rw,relatime - cgroup cgroup rw,cpuset\n"
    "35 31 0:32 / /sys/fs/cgroup/memory rw,relatime shared:9 - cgroup cgroup rw,memory\n"
    "37 31 0:34 / /sys/fs/cgroup/freezer rw,relatime - cgroup cgroup rw,freezer\n"
    "39 31 0:36 / /sys/fs/cgroup/pids rw,relatime - cgroup cgroup rw,pids\n"
    "40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,name=systemd\n"
    "41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw\n";
const char* kPureV2 =
    "25 30 0:23 / /sys rw,nosuid,nodev,noexec,relatime shared:7 - sysfs sysfs rw\n"
    "26 25 0:24 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:8 - cgroup2 cgroup2 rw,nsdelegate\n";

std::string slurp(const std::string& p) {
    std::ifstream in(p);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}
}  // namespace

TEST_CASE("mountinfo: v1 controllers of a hybrid layout, v2 mount point") {
    V1Mounts m = parse_v1_mounts(kHybrid);
    CHECK(m.memory == "/sys/fs/cgroup/memory");
    CHECK(m.cpu == "/sys/fs/cgroup/cpu");
    CHECK(m.cpuacct == "/sys/fs/cgroup/cpuacct");
    CHECK(m.pids == "/sys/fs/cgroup/pids");
    CHECK(m.freezer == "/sys/fs/cgroup/freezer");
    CHECK(parse_v2_mount(kHybrid) == "/sys/fs/cgroup/unified");
    CHECK(parse_v1_mounts(kPureV2).memory.empty());
    CHECK(parse_v2_mount(kPureV2) == "/sys/fs/cgroup");
    V1Mounts co = parse_v1_mounts("1 2 0:1 / /sys/fs/cgroup/cpu,cpuacct rw - cgroup cgroup rw,cpu,cpuacct\n");
    CHECK(co.cpu == co.cpuacct);
}

TEST_CASE("conversions as runc makes them") {
    CHECK(cpu_quota_us(1.5) == 150000);
    CHECK(cpu_quota_us(0.01) == 1000);
    CHECK(shares_to_weight(1024) == 39);
    CHECK(shares_to_weight(2) == 1);
    CHECK(shares_to_weight(262144) == 10000);
    CHECK(flat_key("low 0\nhigh 0\nmax 3\noom 1\noom_kill 2\n", "oom_kill") == 2);
    CHECK(flat_key("oom_kill_disable 0\nunder_oom 0\noom_kill 0\n", "oom_kill") == 0);
    CHECK_FALSE(flat_key("a 1\n", "oom_kill"));
}

TEST_CASE("v2 backend writes the unified hierarchy's files") {
    std::string root = fs::temp_directory_path() / ("berth-cg2-" + std::to_string(getpid()));
    fs::create_directories(root);
    std::ofstream(root + "/cgroup.subtree_control") << "";
    // The test stands in for the kernel: create the group's files beforehand.
    fs::create_directories(root + "/berth/c1");
    std::ofstream(root + "/berth/cgroup.subtree_control") << "";
    for (const char* f : {"memory.max", "memory.swap.max", "memory.low", "cpu.max", "cpu.weight", "cpuset.cpus",
                          "pids.max", "cgroup.procs"})
        std::ofstream(root + "/berth/c1/" + f) << "";
    std::ofstream(root + "/berth/c1/memory.events") << "low 0\nhigh 0\nmax 5\noom 1\noom_kill 1\n";
    auto m = make_v2(root);
    CHECK(m->version() == 2);
    Limits l;
    l.memory = 64 << 20;
    l.memory_swap = 96 << 20;
    l.memory_reservation = 32 << 20;
    l.cpus = 0.5;
    l.cpu_shares = 512;
    l.cpuset_cpus = "0";
    l.pids = 100;
    auto g = m->create("berth/c1", l);
    CHECK(slurp(root + "/berth/c1/memory.max") == "67108864");
    CHECK(slurp(root + "/berth/c1/memory.swap.max") == "33554432");
    CHECK(slurp(root + "/berth/c1/memory.low") == "33554432");
    CHECK(slurp(root + "/berth/c1/cpu.max") == "50000 100000");
    CHECK(slurp(root + "/berth/c1/cpu.weight") == "20");
    CHECK(slurp(root + "/berth/c1/pids.max") == "100");
    CHECK(slurp(root + "/cgroup.subtree_control") == "+memory +pids +cpu +cpuset");
    CHECK(g->dir_fd() >= 0);
    g->attach(4242);
    CHECK(slurp(root + "/berth/c1/cgroup.procs") == "4242");
    CHECK(g->oom_killed());
    fs::remove_all(root);
}

TEST_CASE("destroy removes berth's parent group once it is empty, never a user's" * doctest::skip(geteuid() != 0)) {
    auto m = detect();
    std::string mine = "berth-unit-" + std::to_string(getpid());
    std::string users = "unit-user-" + std::to_string(getpid());
    // Every hierarchy the manager uses holds the parent: look at one of them through procs of a group.
    auto a = m->create(mine + "/a", {});
    auto b = m->create(mine + "/b", {});
    auto where = [&](const std::string& rel) {
        for (const char* h : {"/sys/fs/cgroup/memory", "/sys/fs/cgroup/pids", "/sys/fs/cgroup"})
            if (fs::exists(std::string(h) + "/" + rel)) return true;
        return false;
    };
    REQUIRE(where(mine + "/a"));
    a->destroy();
    CHECK_FALSE(where(mine + "/a"));
    CHECK(where(mine));  // b still lives in it
    b->destroy();
    CHECK_FALSE(where(mine));  // the last group took berth's parent with it
    auto u = m->create(users + "/c", {});
    u->destroy();
    CHECK(where(users));  // a parent berth does not own stays
    for (const char* h : {"memory", "pids", "cpu", "cpuacct", "freezer", "cpuset", "devices"})
        ::rmdir(("/sys/fs/cgroup/" + std::string(h) + "/" + users).c_str());
    ::rmdir(("/sys/fs/cgroup/" + users).c_str());
}

// ---------------- device access ----------------

namespace {
using T = DeviceRule::Type;

// A reference interpreter for the instructions device_program emits, standing
// in for the kernel: returns the program's verdict for one access.
int run_program(const std::vector<bpf_insn>& p, int type, unsigned access, uint32_t major, uint32_t minor) {
    uint32_t ctx[3] = {access << 16 | static_cast<uint32_t>(type), major, minor};
    uint64_t r[11] = {};
    for (size_t pc = 0; pc < p.size(); ++pc) {
        const bpf_insn& i = p[pc];
        uint64_t imm = static_cast<uint64_t>(static_cast<int64_t>(i.imm));
        switch (i.code) {
        case BPF_LDX | BPF_W | BPF_MEM: REQUIRE(i.src_reg == 1); r[i.dst_reg] = ctx[i.off / 4]; break;
        case BPF_ALU64 | BPF_AND | BPF_K: r[i.dst_reg] &= imm; break;
        case BPF_ALU64 | BPF_RSH | BPF_K: r[i.dst_reg] >>= i.imm; break;
        case BPF_ALU64 | BPF_MOV | BPF_X: r[i.dst_reg] = r[i.src_reg]; break;
        case BPF_ALU64 | BPF_MOV | BPF_K: r[i.dst_reg] = imm; break;
        case BPF_JMP32 | BPF_JNE | BPF_K:
            REQUIRE(i.off > 0);  // forward only
            if (static_cast<uint32_t>(r[i.dst_reg]) != static_cast<uint32_t>(i.imm)) pc += i.off;
            break;
        case BPF_JMP | BPF_EXIT: return static_cast<int>(r[0]);
        default: FAIL("unexpected opcode " << int(i.code)); return -1;
        }
    }
    FAIL("fell off the program's end");
    return -1;
}
constexpr int kBlk = BPF_DEVCG_DEV_BLOCK, kChr = BPF_DEVCG_DEV_CHAR;
constexpr unsigned kR = BPF_DEVCG_ACC_READ, kW = BPF_DEVCG_ACC_WRITE, kM = BPF_DEVCG_ACC_MKNOD;

std::vector<DeviceRule> with(std::vector<DeviceRule> extra) {
    std::vector<DeviceRule> r = default_device_rules();
    r.insert(r.end(), extra.begin(), extra.end());
    return r;
}
}  // namespace

TEST_CASE("device rules parse as devices.allow writes them, and bad ones say why") {
    CHECK(parse_device_rule("c 1:3 rwm") == DeviceRule{T::Char, 1, 3, DeviceRule::kAll});
    CHECK(parse_device_rule("b *:* m") == DeviceRule{T::Block, DeviceRule::kAny, DeviceRule::kAny, DeviceRule::kMknod});
    CHECK(parse_device_rule("a") == allow_all_devices());
    CHECK(parse_device_rule("a *:* rwm") == allow_all_devices());
    CHECK(parse_device_rule("c 1:3 mr") == DeviceRule{T::Char, 1, 3, DeviceRule::kRead | DeviceRule::kMknod});
    CHECK(parse_device_rule("b 7:*") == DeviceRule{T::Block, 7, DeviceRule::kAny, DeviceRule::kAll});
    CHECK(parse_device_rule("c 136:* rw").to_string() == "c 136:* rw");
    CHECK(allow_all_devices().to_string() == "a *:* rwm");
    CHECK(parse_device_rule("b 7:* m").to_string() == "b 7:* m");
    for (const char* bad : {"", "x 1:3 rwm", "c 1:3 rwx", "c 1-3 rw", "c a:3 rw", "c 1:3 rw extra", "c 1:", "c",
                            "a 1:3 rwm", "c 99999999999:1 r", "cc 1:3 r"})
        CHECK_THROWS_AS(parse_device_rule(bad), berth::Error);
    try {
        parse_device_rule("c 1:3 rwx");
    } catch (const berth::Error& e) {
        CHECK(std::string(e.what()) == "invalid device rule \"c 1:3 rwx\": access 'x' is not r, w or m");
        CHECK(e.hint().find("c 1:3 rwm") != std::string::npos);
    }
}

TEST_CASE("the default device list is docker's") {
    std::vector<std::string> got;
    for (const auto& r : default_device_rules()) got.push_back(r.to_string());
    CHECK(got == std::vector<std::string>{"c *:* m", "b *:* m", "c 1:3 rwm", "c 1:5 rwm", "c 1:7 rwm", "c 1:8 rwm",
                                          "c 1:9 rwm", "c 5:0 rwm", "c 5:1 rwm", "c 5:2 rwm", "c 136:* rwm"});
}

TEST_CASE("the v2 device program: its shape, and its verdicts") {
    auto p = device_program(default_device_rules());
    // 6 to load the context, 6 for each mknod-only wildcard rule, 5 for each of
    // the 8 exact rwm rules, 4 for pts (minor *), 2 for the final deny.
    CHECK(p.size() == 6 + 2 * 6 + 8 * 5 + 4 + 2);
    CHECK(p.back().code == (BPF_JMP | BPF_EXIT));
    CHECK(p[p.size() - 2].imm == 0);  // deny when nothing matched
    CHECK(run_program(p, kChr, kR | kW, 1, 3) == 1);     // /dev/null
    CHECK(run_program(p, kChr, kR, 1, 9) == 1);          // /dev/urandom
    CHECK(run_program(p, kChr, kR | kW, 136, 7) == 1);   // /dev/pts/7
    CHECK(run_program(p, kChr, kR | kW, 5, 2) == 1);     // ptmx
    CHECK(run_program(p, kBlk, kM, 7, 0) == 1);          // mknod of a loop device
    CHECK(run_program(p, kChr, kM, 1, 1) == 1);          // mknod of /dev/mem
    CHECK(run_program(p, kBlk, kR, 7, 0) == 0);          // but not reading it
    CHECK(run_program(p, kBlk, kW, 7, 0) == 0);
    CHECK(run_program(p, kChr, kR, 1, 1) == 0);          // /dev/mem
    CHECK(run_program(p, kChr, kR, 1, 4) == 0);          // /dev/port
    CHECK(run_program(p, kBlk, kR, 1, 3) == 0);          // a block device with null's numbers
    CHECK(run_program(p, kChr, kR | kM, 10, 200) == 0);  // tun is not in the list

    auto w = device_program(with({parse_device_rule("b 7:* r"), parse_device_rule("c 10:200 rwm")}));
    CHECK(w.size() == p.size() + (1 + 3 + 1 + 2) + (1 + 1 + 1 + 2));
    CHECK(run_program(w, kBlk, kR, 7, 3) == 1);
    CHECK(run_program(w, kBlk, kR | kW, 7, 3) == 0);  // r only
    CHECK(run_program(w, kBlk, kR, 8, 0) == 0);
    CHECK(run_program(w, kChr, kR | kW, 10, 200) == 1);
    CHECK(run_program(w, kChr, kR, 10, 201) == 0);
    CHECK(run_program(w, kChr, kR, 1, 3) == 1);

    // Allow-all ends the program: nothing after it may be unreachable.
    auto a = device_program(with({allow_all_devices(), parse_device_rule("c 1:1 r")}));
    CHECK(a.size() == p.size() - 2 + 2);
    CHECK(run_program(a, kBlk, kR | kW, 8, 0) == 1);
    auto big = device_program({parse_device_rule("c 4294967295:* r")});
    CHECK(run_program(big, kChr, kR, 4294967295u, 0) == 1);
    CHECK(run_program(big, kChr, kR, 1, 0) == 0);
}

TEST_CASE("v1 backend: devices.deny then devices.allow, and joining changes nothing") {
    std::string root = fs::temp_directory_path() / ("berth-cg1d-" + std::to_string(getpid()));
    fs::create_directories(root + "/devices/berth/c1");
    for (const char* f : {"devices.deny", "devices.allow", "cgroup.procs"})
        std::ofstream(root + "/devices/berth/c1/" + f) << "";
    V1Mounts mounts;
    mounts.devices = root + "/devices";
    CHECK(parse_v1_mounts("36 31 0:33 / /sys/fs/cgroup/devices rw - cgroup cgroup rw,devices\n").devices ==
          "/sys/fs/cgroup/devices");
    auto m = make_v1(mounts);
    Limits l;
    l.devices = std::vector<DeviceRule>{parse_device_rule("b 7:* r"), parse_device_rule("c 1:3 rwm")};
    auto g = m->create("berth/c1", l);
    CHECK(slurp(root + "/devices/berth/c1/devices.deny") == "a");
    CHECK(slurp(root + "/devices/berth/c1/devices.allow") == "c 1:3 rwm");  // the last of two writes
    std::ofstream(root + "/devices/berth/c1/devices.deny") << "";
    auto j = m->create("berth/c1", {});
    CHECK(slurp(root + "/devices/berth/c1/devices.deny").empty());
    j->attach(4242);
    CHECK(slurp(root + "/devices/berth/c1/cgroup.procs") == "4242");  // an exec joins the devices group too
    auto none = make_v1(V1Mounts{});
    CHECK_THROWS_AS(none->create("berth/c2", l), berth::Error);  // rules asked for, no controller: refused
    Limits all;
    all.devices = std::vector<DeviceRule>{allow_all_devices()};
    CHECK_NOTHROW(none->create("berth/c3", all));
    fs::remove_all(root);
}

namespace {
// In a forked child moved into `g`: makes `node` (a block device 240:0) with
// mknod when asked (exit 254 if that fails), then opens `path` read-only;
// 0 or open's errno.
int open_in_group(Group& g, const std::string& path, const std::string& node = {}) {
    int go[2];
    REQUIRE(pipe(go) == 0);
    pid_t pid = fork();
    if (pid == 0) {
        char c;
        close(go[1]);
        if (read(go[0], &c, 1) != 1) _exit(100);
        if (!node.empty()) {
            unlink(node.c_str());
            if (mknod(node.c_str(), S_IFBLK | 0600, makedev(240, 0)) < 0) _exit(254);
        }
        int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
        _exit(fd >= 0 ? 0 : errno);
    }
    close(go[0]);
    g.attach(pid);
    REQUIRE(write(go[1], "x", 1) == 1);
    close(go[1]);
    int st = 0;
    waitpid(pid, &st, 0);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}
bool unified_usable() {
    return geteuid() == 0 && parse_v2_mount(slurp("/proc/self/mountinfo")) == "/sys/fs/cgroup/unified";
}
}  // namespace

TEST_CASE("v2 device program in the kernel: a process in the group opens only what the rules allow" *
          doctest::skip(!unified_usable())) {
    // The hybrid layout's cgroup2 mount has no controllers, but takes device programs.
    auto m = make_v2("/sys/fs/cgroup/unified");
    std::string parent = "berth-devtest-" + std::to_string(getpid());
    std::string dir = fs::temp_directory_path() / parent;
    fs::create_directories(dir);
    // Block major 240 is reserved for local use and unregistered here: an
    // allowed open fails with ENXIO from the (missing) driver, a denied one
    // with EPERM from the program before any driver is asked.
    std::string node = dir + "/blk";
    Limits def;
    def.devices = default_device_rules();
    auto g = m->create(parent + "/default", def);
    CHECK(open_in_group(*g, "/dev/null") == 0);
    CHECK(open_in_group(*g, node, node) == EPERM);  // mknod allowed (exit 254 otherwise), open refused
    Limits wide;
    wide.devices = with({parse_device_rule("b 240:0 r")});
    auto w = m->create(parent + "/wide", wide);
    CHECK(open_in_group(*w, node) == ENXIO);  // past the program
    CHECK(open_in_group(*w, "/dev/null") == 0);
    // A group made again over a stale one keeps only the new program.
    auto again = m->create(parent + "/wide", def);
    CHECK(open_in_group(*again, node) == EPERM);
    auto again2 = m->create(parent + "/wide", wide);
    CHECK(open_in_group(*again2, node) == ENXIO);
    g->destroy();
    again2->destroy();
    CHECK_FALSE(fs::exists("/sys/fs/cgroup/unified/" + parent));  // berth's parent went with the last group
    fs::remove_all(dir);
}

TEST_CASE("a group whose setup fails is removed again, by either backend") {
    std::string root = fs::temp_directory_path() / ("berth-cgfail-" + std::to_string(getpid()));
    // v2: the directory is made, then memory.max cannot be written (a plain
    // directory, not cgroupfs, has no such file): create throws, nothing stays.
    fs::create_directories(root + "/v2");
    std::ofstream(root + "/v2/cgroup.subtree_control") << "";
    Limits l;
    l.memory = 64 << 20;
    auto v2 = make_v2(root + "/v2");
    CHECK_THROWS_AS(v2->create("berth/c1", l), berth::Error);
    CHECK_FALSE(fs::exists(root + "/v2/berth/c1"));
    CHECK_FALSE(fs::exists(root + "/v2/berth"));  // berth's own parent went with it
    // v1: the same with memory.limit_in_bytes, in every controller's hierarchy.
    V1Mounts mounts;
    mounts.memory = root + "/memory";
    mounts.pids = root + "/pids";
    fs::create_directories(mounts.memory);
    fs::create_directories(mounts.pids);
    auto v1 = make_v1(mounts);
    CHECK_THROWS_AS(v1->create("berth/c1", l), berth::Error);
    CHECK_FALSE(fs::exists(root + "/memory/berth"));
    CHECK_FALSE(fs::exists(root + "/pids/berth"));
    // With nothing to write, the same create succeeds and leaves the group.
    auto g = v1->create("berth/c2", {});
    CHECK(fs::is_directory(root + "/pids/berth/c2"));
    fs::remove_all(root);
}
