// Real containers on a busybox rootfs, as root, inside the private mount and
// network namespace CTest starts this program in (unshare --mount --net).
// After every container: no mount, cgroup or directory of it remains.
#include "base/error.h"
#include "runtime/container.h"

#include <doctest/doctest.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace fs = std::filesystem;
using namespace berth::runtime;

namespace {

std::string slurp(const std::string& path) {
    std::ifstream in(path);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

// A busybox image layer, made once per test run.
struct Fixture {
    std::string root;
    std::string layer;
    std::string cgroup_parent;

    Fixture() {
        char tmpl[] = "/tmp/berth-rt-XXXXXX";
        root = mkdtemp(tmpl);
        layer = root + "/layer";
        cgroup_parent = "berth-test-" + std::to_string(getpid());
        for (const char* d : {"", "/bin", "/etc", "/proc", "/sys", "/dev", "/tmp", "/root", "/home/app"})
            fs::create_directories(layer + d);
        fs::copy_file("/bin/busybox", layer + "/bin/busybox");
        FILE* list = popen("/bin/busybox --list", "r");
        REQUIRE(list);
        char name[128];
        while (fgets(name, sizeof name, list)) {
            std::string n(name);
            while (!n.empty() && n.back() == '\n') n.pop_back();
            if (!n.empty() && n != "busybox") fs::create_symlink("busybox", layer + "/bin/" + n);
        }
        pclose(list);
        std::ofstream(layer + "/etc/passwd") << "root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000::/home/app:/bin/sh\n";
        std::ofstream(layer + "/etc/group") << "root:x:0:\napp:x:1000:\n";
        std::ofstream(layer + "/etc/marker") << "from-the-image\n";
        chmod((layer + "/tmp").c_str(), 01777);
    }
    ~Fixture() {
        for (const auto& h : fs::directory_iterator("/sys/fs/cgroup")) {
            std::error_code ec;
            fs::path dir = h.path() / cgroup_parent;
            if (!fs::exists(dir, ec)) continue;
            // A test that failed half-way leaves its container's group below ours: deepest first
            // (a cgroup directory goes with rmdir alone, its files with it).
            std::vector<fs::path> groups;
            for (const auto& e : fs::recursive_directory_iterator(dir, ec))
                if (e.is_directory(ec)) groups.push_back(e.path());
            for (auto it = groups.rbegin(); it != groups.rend(); ++it) rmdir(it->c_str());
            rmdir(dir.c_str());
        }
        fs::remove_all(root);
    }

    ContainerSpec spec(const std::string& id, std::vector<std::string> argv) const {
        ContainerSpec s;
        s.id = id;
        s.state_dir = root + "/containers/" + id;
        fs::create_directories(root + "/containers");
        s.layers = {layer};
        s.argv = std::move(argv);
        s.env = {"PATH=/bin", "HOME=/root"};
        s.hostname = id;
        s.cgroup_parent = cgroup_parent;
        return s;
    }
};

Fixture& fixture() {
    static Fixture f;
    return f;
}

// Nothing of container `id` may be left: mounts, cgroup dirs, state dir.
void check_no_leftovers(const ContainerSpec& s) {
    std::string mounts = slurp("/proc/self/mountinfo");
    CHECK_MESSAGE(mounts.find(s.state_dir) == std::string::npos, "a mount of " << s.id << " remains");
    for (const auto& h : fs::directory_iterator("/sys/fs/cgroup")) {
        fs::path dir = h.path() / s.cgroup_parent / s.id;
        CHECK_MESSAGE(!fs::exists(dir), dir << " remains");
    }
    CHECK_MESSAGE(!fs::exists(s.state_dir), s.state_dir << " remains");
}

struct Result {
    ExitStatus status;
    std::string out;
};

Result run(const ContainerSpec& s) {
    int p[2];
    REQUIRE(pipe2(p, O_CLOEXEC) == 0);
    Result r;
    {
        Container c = Container::start(s, Stdio{-1, p[1], p[1]});
        close(p[1]);
        char buf[4096];
        ssize_t n;
        while ((n = read(p[0], buf, sizeof buf)) > 0) r.out.append(buf, static_cast<size_t>(n));
        close(p[0]);
        r.status = c.wait();
        c.teardown(true);
    }
    check_no_leftovers(s);
    return r;
}


}  // namespace

TEST_CASE("a container runs its command as PID 1 and returns its exit code") {
    auto r = run(fixture().spec("basic", {"sh", "-c", "echo pid=$$; exit 3"}));
    CHECK(r.out == "pid=1\n");
    CHECK(r.status.code == 3);
    CHECK(r.status.reason() == "exited with code 3");
}

TEST_CASE("it sees only its own processes, its hostname and its image's files") {
    auto r = run(fixture().spec("iso1", {"sh", "-c", "ls /proc > /tmp/l; grep -c '^[0-9]' /tmp/l; hostname; cat /etc/marker; "
                                                      "cat /etc/hostname; ip -o link | wc -l; ping -c1 -W1 127.0.0.1 >/dev/null && echo lo-up"}));
    CHECK(r.status.code == 0);
    CHECK(r.out == "2\niso1\nfrom-the-image\niso1\n1\nlo-up\n");  // sh + ls; loopback only, and up
}

TEST_CASE("it cannot mount, load modules or see masked /proc files") {
    auto r = run(fixture().spec("deny", {"sh", "-c",
                                         "mount -t tmpfs none /mnt 2>/dev/null && echo mounted; "
                                         "echo x 2>/dev/null > /proc/sys/kernel/hostname && echo wrote; "
                                         "wc -c < /proc/timer_list; wc -c < /proc/keys; "
                                         "touch /sys/x 2>/dev/null && echo sys-writable; echo done"}));
    CHECK(r.out == "0\n0\ndone\n");
}

TEST_CASE("seccomp refuses module loading and new user namespaces; unconfined and privileged allow more") {
    auto s = fixture().spec("sec", {"sh", "-c",
                                    "insmod /bin/busybox 2>&1 | grep -o 'Operation not permitted'; "
                                    "unshare -U true 2>/dev/null && echo userns-allowed; echo end"});
    auto r = run(s);
    CHECK(r.out == "Operation not permitted\nend\n");
    s = fixture().spec("unconf", {"sh", "-c", "unshare -U true && echo userns-allowed"});
    s.seccomp = false;
    CHECK(run(s).out == "userns-allowed\n");
    s = fixture().spec("priv", {"sh", "-c", "grep CapEff /proc/self/status; touch /sys/kernel/x 2>&1 | grep -c Read-only"});
    s.privileged = true;
    r = run(s);
    char want[40];
    snprintf(want, sizeof want, "CapEff:\t%016llx\n0\n", static_cast<unsigned long long>(bounding_capabilities()));
    CHECK(r.out == want);
}

TEST_CASE("cap_add widens seccomp as docker does: SYS_ADMIN mounts and makes user namespaces") {
    auto s = fixture().spec("capadm", {"sh", "-c",
                                       "mount -t tmpfs none /tmp && echo mounted; umount /tmp && echo unmounted; "
                                       "unshare -U true && echo userns-allowed; echo end"});
    s.capabilities = apply_cap_changes(default_capabilities(), {"SYS_ADMIN"}, {});
    CHECK(run(s).out == "mounted\nunmounted\nuserns-allowed\nend\n");
    // The same command without the capability is refused (EPERM, not a missing target).
    s = fixture().spec("capdef", {"sh", "-c", "mount -t tmpfs none /tmp 2>&1; echo end"});
    CHECK(run(s).out == "mount: permission denied (are you root?)\nend\n");
}

TEST_CASE("it has exactly Docker's default capabilities, and none as another user") {
    char want[32];
    snprintf(want, sizeof want, "%016llx", static_cast<unsigned long long>(default_capabilities()));
    auto r = run(fixture().spec("caps", {"sh", "-c", "grep -E '^Cap(Eff|Bnd)' /proc/self/status"}));
    CHECK(r.out == "CapEff:\t" + std::string(want) + "\nCapBnd:\t" + std::string(want) + "\n");

    auto s = fixture().spec("user", {"sh", "-c", "id -u; id -g; id -G; grep CapEff /proc/self/status; pwd"});
    s.uid = 1000;
    s.gid = 1000;
    s.groups = {1000, 4242};
    s.cwd = "/home/app/work";
    r = run(s);
    CHECK(r.out == "1000\n1000\n1000 4242\nCapEff:\t0000000000000000\n/home/app/work\n");
}

TEST_CASE("a missing program is reported through the error pipe") {
    auto s = fixture().spec("missing", {"/nope", "arg"});
    CHECK_THROWS_WITH_AS(Container::start(s, Stdio{}), "exec /nope: No such file or directory", berth::Error);
    check_no_leftovers(s);
    s = fixture().spec("missing2", {"no-such-tool"});
    CHECK_THROWS_WITH_AS(Container::start(s, Stdio{}), "exec no-such-tool: No such file or directory",
                         berth::Error);
    check_no_leftovers(s);
}

TEST_CASE("memory limit: the kernel kills it and the reason is OOMKilled") {
    auto s = fixture().spec("oom", {"dd", "if=/dev/zero", "of=/dev/null", "bs=64M", "count=1"});
    s.limits.memory = 16LL << 20;
    s.limits.memory_swap = 16LL << 20;
    auto r = run(s);
    CHECK(r.status.signal == SIGKILL);
    CHECK(r.status.oom_killed);
    CHECK(r.status.reason() == "OOMKilled");
}

TEST_CASE("pids limit: forks beyond it fail") {
    auto s = fixture().spec("pids", {"sh", "-c", "for i in 1 2 3 4 5 6 7 8; do sleep 2 & done 2>&1; echo end"});
    s.limits.pids = 4;
    auto r = run(s);
    CHECK(r.out.find("can't fork") != std::string::npos);
}

TEST_CASE("init: true runs berth's init as PID 1 and the program as PID 2") {
    auto s = fixture().spec("init", {"sh", "-c", "echo $$; cat /proc/1/cmdline | tr '\\0' ' '; echo; exit 5"});
    s.init = true;
    auto r = run(s);
    CHECK(r.out.substr(0, 2) == "2\n");
    CHECK(r.status.code == 5);
}

TEST_CASE("read_only root, tmpfs and bind mounts, sysctls, environment") {
    std::string host_dir = fixture().root + "/shared";
    fs::create_directories(host_dir);
    std::ofstream(host_dir + "/in.txt") << "host-data\n";
    auto s = fixture().spec("mounts", {"sh", "-c",
                                        "touch /x 2>/dev/null && echo root-writable; "
                                        "echo t > /scratch/t && cat /scratch/t; "
                                        "cat /data/in.txt; echo c > /data/out.txt; "
                                        "echo r 2>/dev/null > /ro/r && echo ro-writable; "
                                        "cat /proc/sys/net/ipv4/ip_unprivileged_port_start; echo $GREETING"});
    s.read_only = true;
    auto mount = [](MountSpec::Type type, std::string source, std::string target, bool read_only = false) {
        MountSpec m;
        m.type = type;
        m.source = std::move(source);
        m.target = std::move(target);
        m.read_only = read_only;
        return m;
    };
    s.mounts.push_back(mount(MountSpec::Type::Tmpfs, "", "/scratch"));
    s.mounts.back().size = 1 << 20;
    s.mounts.push_back(mount(MountSpec::Type::Bind, host_dir, "/data"));
    s.mounts.push_back(mount(MountSpec::Type::Bind, host_dir, "/ro", true));
    s.sysctls["net.ipv4.ip_unprivileged_port_start"] = "80";
    s.env.push_back("GREETING=hi there");
    auto r = run(s);
    CHECK(r.out == "t\nhost-data\n80\nhi there\n");
    CHECK(slurp(host_dir + "/out.txt") == "c\n");
    CHECK_FALSE(fs::exists(host_dir + "/r"));
}

TEST_CASE("a hook runs before the child continues, and a failing hook leaves nothing") {
    auto s = fixture().spec("hook", {"true"});
    pid_t seen = 0;
    StartHooks hooks;
    hooks.before_continue = [&](pid_t pid) { seen = pid; };
    {
        Container c = Container::start(s, Stdio{}, hooks);
        CHECK(seen == c.pid());
        CHECK(c.wait().code == 0);
    }
    check_no_leftovers(s);
    auto s2 = fixture().spec("hook2", {"true"});
    hooks.before_continue = [](pid_t) { throw berth::Error("network setup failed"); };
    CHECK_THROWS_WITH_AS(Container::start(s2, Stdio{}, hooks), "network setup failed", berth::Error);
    check_no_leftovers(s2);
}

TEST_CASE("exec runs a process inside a running container") {
    auto s = fixture().spec("execd", {"sleep", "30"});
    {
        Container c = Container::start(s, Stdio{});
        int p[2];
        REQUIRE(pipe2(p, O_CLOEXEC) == 0);
        ExecSpec es;
        es.argv = {"sh", "-c", "hostname; cat /proc/1/cmdline | tr '\\0' ' '; echo; grep CapEff /proc/self/status; "
                               "ls /proc | grep -c '^[0-9]'; grep -v ':/$' /proc/self/cgroup; exit 6"};
        es.env = {"PATH=/bin"};
        ExecProcess e = c.exec(es, Stdio{-1, p[1], p[1]});
        close(p[1]);
        std::string out;
        char buf[4096];
        ssize_t n;
        while ((n = read(p[0], buf, sizeof buf)) > 0) out.append(buf, static_cast<size_t>(n));
        close(p[0]);
        CHECK(e.wait().code == 6);
        char caps[32];
        snprintf(caps, sizeof caps, "%016llx", static_cast<unsigned long long>(default_capabilities()));
        // sleep (PID 1), the joining process, sh, ls: the container's own pid namespace. In every
        // hierarchy it is where PID 1 is, the root of the container's cgroup namespace.
        CHECK(out == "execd\nsleep 30 \nCapEff:\t" + std::string(caps) + "\n4\n");
        es.argv = {"/missing"};
        CHECK_THROWS_WITH_AS(c.exec(es, Stdio{}), "exec /missing: No such file or directory", berth::Error);
        // A health check past its timeout: killed, then waited for at once, its pidfd made
        // non-blocking by libuv's poll watcher. The wait blocks until it is gone (it answered
        // EAGAIN before, and `up --wait` died of it).
        es.argv = {"sleep", "30"};
        ExecProcess slow = c.exec(es, Stdio{});
        REQUIRE(fcntl(slow.pidfd(), F_SETFL, fcntl(slow.pidfd(), F_GETFL) | O_NONBLOCK) == 0);
        CHECK_FALSE(slow.try_wait().has_value());
        slow.kill(SIGKILL);
        CHECK(slow.wait().signal == SIGKILL);
        c.kill(SIGKILL);
        REQUIRE(fcntl(c.pidfd(), F_SETFL, fcntl(c.pidfd(), F_GETFL) | O_NONBLOCK) == 0);
        CHECK(c.wait().signal == SIGKILL);
        c.teardown(true);
    }
    check_no_leftovers(s);
}
