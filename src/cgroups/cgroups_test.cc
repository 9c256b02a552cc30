#include "cgroups/cgroups.h"

#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>
#include <sstream>
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
    for (const char* h : {"memory", "pids", "cpu", "cpuacct", "freezer", "cpuset"})
        ::rmdir(("/sys/fs/cgroup/" + std::string(h) + "/" + users).c_str());
    ::rmdir(("/sys/fs/cgroup/" + users).c_str());
}
