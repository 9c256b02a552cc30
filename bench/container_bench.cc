// container_bench: the cost of one container, start to gone.
//
// For N containers (default 100), one after another: create (overlay root,
// namespaces, v1/v2 cgroup with memory, cpu and pids limits, mounts,
// pivot_root, caps, seccomp) → exec /bin/true → reap → teardown (cgroup and
// upper dir removed). Prints the median and p90 per container. When crun is
// installed, runs `crun run` N times on the same rootfs (a bundle with a
// config.json of the same namespaces and limits) and prints both side by
// side with the ratio. Run it as root inside `unshare --mount --net`.
//
// Then the same containers each plugged into a bridge (a veth made in its
// namespace, addressed, up, default route: berth's network setup, run while
// the container mounts its filesystem), to show what networking adds to a
// container's start.
//
//   container_bench [N]
#include "netns/link.h"
#include "netns/network.h"
#include "runtime/container.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <fcntl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <linux/magic.h>
#include <sys/wait.h>
#include <unistd.h>
#include <vector>

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;
using berth::runtime::Container;
using berth::runtime::ContainerSpec;

namespace {

double ms_since(Clock::time_point t) { return std::chrono::duration<double, std::milli>(Clock::now() - t).count(); }

struct Stats {
    double median, p90;
};
Stats stats(std::vector<double> v) {
    std::sort(v.begin(), v.end());
    return {v[v.size() / 2], v[v.size() * 9 / 10]};
}

void make_rootfs(const std::string& dir) {
    for (const char* d : {"/bin", "/etc", "/proc", "/sys", "/dev", "/tmp"}) fs::create_directories(dir + d);
    fs::copy_file("/bin/busybox", dir + "/bin/busybox", fs::copy_options::overwrite_existing);
    for (const char* a : {"true", "sh"}) {
        std::error_code ec;
        fs::create_symlink("busybox", dir + "/bin/" + a, ec);
    }
    std::ofstream(dir + "/etc/passwd") << "root:x:0:0:root:/root:/bin/sh\n";
}

std::vector<double> bench_berth(const std::string& root, const std::string& layer, int n,
                                berth::netns::Networks* nets = nullptr) {
    std::vector<double> t;
    for (int i = 0; i < n; ++i) {
        ContainerSpec s;
        s.id = "bench-" + std::to_string(i);
        s.state_dir = root + "/c/" + s.id;
        // As berth's containers: the mount points from a shared init layer, the generated
        // files and the root's mount point in a run dir (all on this tmpfs here).
        s.run_dir = root + "/run/" + s.id;
        s.init_layers_dir = root + "/init";
        s.layers = {layer};
        s.argv = {"/bin/true"};
        s.hostname = s.id;
        s.cgroup_parent = "berth-bench";
        s.limits.memory = 64LL << 20;
        s.limits.cpus = 1.0;
        s.limits.pids = 100;
        berth::runtime::StartHooks hooks;
        uint32_t ip = 0;
        if (nets) {
            ip = nets->assign("bench_net", s.id);
            hooks.before_continue = [&](pid_t pid) {
                int fd = berth::netns::open_netns(pid);
                nets->attach(s.id, fd, {{"bench_net", "eth0", ip, true}});
                close(fd);
            };
        }
        auto start = Clock::now();
        Container c = Container::start(s, {}, hooks);
        auto st = c.wait();
        c.teardown(true);
        t.push_back(ms_since(start));
        if (st.code != 0) {
            std::fprintf(stderr, "berth container exited %d\n", st.code);
            std::exit(1);
        }
    }
    return t;
}

// A crun bundle equivalent to berth's container: same namespaces, limits, rootfs.
void write_crun_bundle(const std::string& bundle, const std::string& rootfs) {
    fs::create_directories(bundle);
    std::ofstream(bundle + "/config.json") << R"({
 "ociVersion": "1.0.2",
 "process": {"terminal": false, "user": {"uid": 0, "gid": 0}, "args": ["/bin/true"],
   "env": ["PATH=/bin"], "cwd": "/",
   "capabilities": {"bounding": ["CAP_CHOWN","CAP_KILL"], "effective": ["CAP_CHOWN","CAP_KILL"], "permitted": ["CAP_CHOWN","CAP_KILL"]},
   "noNewPrivileges": false},
 "root": {"path": ")" + rootfs + R"(", "readonly": true},
 "hostname": "crun",
 "mounts": [
  {"destination": "/proc", "type": "proc", "source": "proc"},
  {"destination": "/dev", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid","strictatime","mode=755","size=65536k"]},
  {"destination": "/dev/pts", "type": "devpts", "source": "devpts", "options": ["nosuid","noexec","newinstance","ptmxmode=0666","mode=0620"]},
  {"destination": "/dev/shm", "type": "tmpfs", "source": "shm", "options": ["nosuid","noexec","nodev","mode=1777","size=65536k"]},
  {"destination": "/sys", "type": "sysfs", "source": "sysfs", "options": ["nosuid","noexec","nodev","ro"]}
 ],
 "linux": {
  "resources": {"memory": {"limit": 67108864}, "cpu": {"quota": 100000, "period": 100000}, "pids": {"limit": 100}},
  "namespaces": [{"type": "pid"}, {"type": "network"}, {"type": "ipc"}, {"type": "uts"}, {"type": "mount"}, {"type": "cgroup"}],
  "maskedPaths": ["/proc/kcore","/proc/keys","/proc/latency_stats","/proc/timer_list","/proc/sched_debug","/sys/firmware"],
  "readonlyPaths": ["/proc/bus","/proc/fs","/proc/irq","/proc/sys","/proc/sysrq-trigger"]
 }
})";
}

std::vector<double> bench_crun(const std::string& crun, const std::string& bundle, const std::string& state, int n) {
    std::vector<double> t;
    for (int i = 0; i < n; ++i) {
        std::string id = "berth-bench-crun-" + std::to_string(i);
        auto start = Clock::now();
        pid_t pid = fork();
        if (pid == 0) {
            int null = open("/dev/null", O_RDWR);
            dup2(null, 1);
            execl(crun.c_str(), "crun", "--root", state.c_str(), "run", "--bundle", bundle.c_str(), id.c_str(),
                  static_cast<char*>(nullptr));
            _exit(127);
        }
        int status = 0;
        waitpid(pid, &status, 0);
        t.push_back(ms_since(start));
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
            std::fprintf(stderr, "crun run failed (status %d): not timing a failure\n", status);
            return {};
        }
    }
    return t;
}

std::string find_crun() {
    for (const char* p : {"/usr/bin/crun", "/usr/local/bin/crun"})
        if (access(p, X_OK) == 0) return p;
    return {};
}

}  // namespace

int main(int argc, char** argv) {
    int n = argc > 1 ? std::atoi(argv[1]) : 100;
    if (geteuid() != 0) {
        std::fprintf(stderr, "container_bench needs root\n");
        return 1;
    }
    char tmpl[] = "/tmp/berth-bench-XXXXXX";
    std::string root = mkdtemp(tmpl);
    // Upper dirs on tmpfs, as /run would give them; the layer too.
    mount("tmpfs", root.c_str(), "tmpfs", 0, "size=256m");
    std::string layer = root + "/layer";
    make_rootfs(layer);
    fs::create_directories(root + "/c");

    bench_berth(root, layer, 5);  // warm up: seccomp program, cgroup parents, page cache
    Stats b = stats(bench_berth(root, layer, n));
    std::printf("berth: %d containers, median %.2f ms, p90 %.2f ms per container (create, exec /bin/true, reap, teardown)\n",
                n, b.median, b.p90);

    {
        // With a network: the bench's own namespace (unshare --net) gets a bridge.
        berth::netns::Netlink host;
        host.set_up("lo");
        berth::netns::Networks nets(root + "/net/networks.json", root + "/net/networks.lock");
        berth::netns::NetworkConfig cfg;
        cfg.name = "bench_net";
        nets.ensure(cfg);
        bench_berth(root, layer, 5, &nets);
        for (int i = 0; i < 5; ++i) nets.release("bench-" + std::to_string(i));
        Stats w = stats(bench_berth(root, layer, n, &nets));
        std::printf("berth with a veth on a bridge: median %.2f ms, p90 %.2f ms per container; networking adds %.2f ms "
                    "(median)\n",
                    w.median, w.p90, w.median - b.median);
        nets.remove_all();
    }

    std::string crun = find_crun();
    bool made_hugetlb_dir = false, mounted_hugetlb = false;
    if (crun.empty()) {
        std::printf("crun: not installed, no comparison\n");
    } else {
        // crun 1.8 refuses this hybrid cgroup layout until hugetlb is bound to a v1 hierarchy.
        // The mount is in our private mount namespace, but the directory is on the host's
        // /sys/fs/cgroup tmpfs: make it a cgroup mount every time (else crun writes its
        // "cgroups" as plain files there, for good) and take the directory away after.
        const char* hugetlb = "/sys/fs/cgroup/hugetlb";
        made_hugetlb_dir = mkdir(hugetlb, 0755) == 0;
        struct statfs sf {};
        if (statfs(hugetlb, &sf) == 0 && sf.f_type != CGROUP_SUPER_MAGIC)
            mounted_hugetlb = mount("none", hugetlb, "cgroup", 0, "hugetlb") == 0;
        std::string bundle = root + "/bundle";
        write_crun_bundle(bundle, layer);
        std::string state = root + "/crun-state";
        fs::create_directories(state);
        bench_crun(crun, bundle, state, 3);
        auto ct = bench_crun(crun, bundle, state, n);
        if (ct.empty()) {
            std::printf("crun: failed to run, no comparison\n");
        } else {
            Stats c = stats(ct);
            std::printf("crun:  %d containers, median %.2f ms, p90 %.2f ms per container\n", n, c.median, c.p90);
            std::printf("ratio berth/crun (median): %.2f (target <= 0.80)\n", b.median / c.median);
        }
    }
    if (mounted_hugetlb) {
        for (int i = 0; i < n; ++i)  // crun removes its groups; these are what it may leave
            rmdir(("/sys/fs/cgroup/hugetlb/berth-bench-crun-" + std::to_string(i)).c_str());
        umount2("/sys/fs/cgroup/hugetlb", MNT_DETACH);
    }
    if (made_hugetlb_dir) rmdir("/sys/fs/cgroup/hugetlb");
    for (const char* ctl : {"memory", "pids", "cpu", "cpuacct", "freezer", "cpu,cpuacct"})
        rmdir(("/sys/fs/cgroup/" + std::string(ctl) + "/berth-bench").c_str());
    rmdir("/sys/fs/cgroup/berth-bench");
    umount2(root.c_str(), MNT_DETACH);
    rmdir(root.c_str());
    return 0;
}
