#include "cgroups/cgroups.h"

#include "base/error.h"
#include "base/fd.h"

#include <spdlog/spdlog.h>

#include <cerrno>
#include <csignal>
#include <fcntl.h>
#include <fstream>
#include <sstream>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <thread>
#include <unistd.h>

#ifndef CGROUP2_SUPER_MAGIC
#define CGROUP2_SUPER_MAGIC 0x63677270
#endif

namespace berth::cgroups {
namespace {

std::string read_text(const std::string& path) {
    std::ifstream in(path);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

// One open + one write: the start path of every container goes through here.
void write_value(const std::string& path, const std::string& value, const std::string& hint = {}) {
    int fd = ::open(path.c_str(), O_WRONLY | O_CLOEXEC);
    if (fd < 0) throw Error::sys(errno, "cgroup: open " + path);
    UniqueFd f(fd);
    if (::write(fd, value.data(), value.size()) < 0) {
        Error e = Error::sys(errno, "cgroup: write " + value + " to " + path);
        if (!hint.empty()) e.set_hint(hint);
        throw e;
    }
}

bool exists(const std::string& path) { return ::access(path.c_str(), F_OK) == 0; }

void make_dirs(const std::string& root, const std::string& rel) {
    // A parent may vanish between its mkdir and its child's (another berth
    // removing the last group under it, see remove_empty_parents): start over.
    for (int attempt = 0;; ++attempt) {
        std::string cur = root;
        size_t start = 0;
        bool vanished = false;
        while (start <= rel.size()) {
            size_t slash = rel.find('/', start);
            cur += "/" + rel.substr(start, slash == std::string::npos ? std::string::npos : slash - start);
            if (::mkdir(cur.c_str(), 0755) < 0 && errno != EEXIST) {
                if (errno == ENOENT && attempt < 5) {
                    vanished = true;
                    break;
                }
                throw Error::sys(errno, "cgroup: mkdir " + cur);
            }
            if (slash == std::string::npos) break;
            start = slash + 1;
        }
        if (!vanished) return;
    }
}

// After a group is gone: its parents that berth made (their first component
// starts with "berth", as the default parent "berth" does) go too once empty.
// A parent still holding groups refuses (EBUSY) and stays; a cgroup_parent of
// the user's own is never touched.
void remove_empty_parents(const std::string& root, const std::string& rel) {
    if (rel.rfind("berth", 0) != 0) return;
    std::string parent = rel;
    for (;;) {
        auto slash = parent.rfind('/');
        if (slash == std::string::npos) return;
        parent.resize(slash);
        if (::rmdir((root + "/" + parent).c_str()) < 0) return;  // busy (other groups), or already gone
    }
}

std::vector<pid_t> read_procs(const std::string& dir) {
    std::vector<pid_t> out;
    std::istringstream in(read_text(dir + "/cgroup.procs"));
    pid_t p;
    while (in >> p) out.push_back(p);
    return out;
}

int64_t read_int(const std::string& path) {
    std::istringstream in(read_text(path));
    int64_t v = 0;
    in >> v;
    return v;
}

// Removes one group directory, killing leftovers first; waits (briefly) for
// the kernel to let go of exiting tasks.
void remove_dir(const std::string& dir) {
    if (!exists(dir)) return;
    for (int attempt = 0; attempt < 200; ++attempt) {
        if (::rmdir(dir.c_str()) == 0 || errno == ENOENT) return;
        if (errno != EBUSY) throw Error::sys(errno, "cgroup: rmdir " + dir);
        for (pid_t p : read_procs(dir)) ::kill(p, SIGKILL);
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    throw Error("cgroup: " + dir + " stays busy", "a process in it does not die; see its cgroup.procs");
}

std::string cpus_hint() {
    return "this machine has CPUs 0-" + std::to_string(std::thread::hardware_concurrency() - 1);
}

// ---------------- v1 ----------------

class V1Group : public Group {
public:
    V1Group(const V1Mounts& m, std::string rel) : m_(m), rel_(std::move(rel)) {}

    void setup(const Limits& l) {
        if (!m_.memory.empty()) dirs_.push_back(m_.memory + "/" + rel_);
        if (!m_.pids.empty()) dirs_.push_back(m_.pids + "/" + rel_);
        if (!m_.cpu.empty()) dirs_.push_back(m_.cpu + "/" + rel_);
        if (!m_.cpuacct.empty() && m_.cpuacct != m_.cpu) dirs_.push_back(m_.cpuacct + "/" + rel_);
        if (!m_.freezer.empty()) dirs_.push_back(m_.freezer + "/" + rel_);
        if (!m_.devices.empty()) dirs_.push_back(m_.devices + "/" + rel_);  // joined even when not set up here
        if (!l.cpuset_cpus.empty() && !m_.cpuset.empty()) dirs_.push_back(m_.cpuset + "/" + rel_);
        for (const auto& d : dirs_) {
            std::string root = d.substr(0, d.size() - rel_.size() - 1);
            make_dirs(root, rel_);
        }
        std::string mem = m_.memory + "/" + rel_;
        if (l.memory && !m_.memory.empty()) write_value(mem + "/memory.limit_in_bytes", std::to_string(*l.memory));
        if (l.memory_swap && !m_.memory.empty()) {
            if (exists(mem + "/memory.memsw.limit_in_bytes")) {
                write_value(mem + "/memory.memsw.limit_in_bytes", std::to_string(*l.memory_swap));
            } else {
                static bool warned = false;
                if (!warned) spdlog::warn("swap accounting is off in this kernel: memswap_limit is not applied");
                warned = true;
            }
        }
        if (l.memory_reservation && !m_.memory.empty())
            write_value(mem + "/memory.soft_limit_in_bytes", std::to_string(*l.memory_reservation));
        std::string cpu = m_.cpu + "/" + rel_;
        if (l.cpus && *l.cpus > 0 && !m_.cpu.empty()) {
            write_value(cpu + "/cpu.cfs_period_us", "100000");
            write_value(cpu + "/cpu.cfs_quota_us", std::to_string(cpu_quota_us(*l.cpus)));
        }
        if (l.cpu_shares && !m_.cpu.empty()) write_value(cpu + "/cpu.shares", std::to_string(*l.cpu_shares));
        if (l.pids && *l.pids > 0 && !m_.pids.empty())
            write_value(m_.pids + "/" + rel_ + "/pids.max", std::to_string(*l.pids));
        if (!l.cpuset_cpus.empty() && !m_.cpuset.empty()) setup_cpuset(l.cpuset_cpus);
        if (l.devices) setup_devices(*l.devices);
    }

    const std::string& path() const override { return rel_; }

    void attach(pid_t pid) override {
        std::string p = std::to_string(pid);
        for (const auto& d : dirs_) write_value(d + "/cgroup.procs", p);
    }
    int dir_fd() const override { return -1; }

    bool oom_killed() const override {
        if (m_.memory.empty()) return false;
        auto n = flat_key(read_text(m_.memory + "/" + rel_ + "/memory.oom_control"), "oom_kill");
        return n && *n > 0;
    }
    void freeze() override { set_freezer("FROZEN"); }
    void thaw() override { set_freezer("THAWED"); }
    int64_t memory_usage() const override {
        return m_.memory.empty() ? 0 : read_int(m_.memory + "/" + rel_ + "/memory.usage_in_bytes");
    }
    int64_t cpu_usage_ns() const override {
        return m_.cpuacct.empty() ? 0 : read_int(m_.cpuacct + "/" + rel_ + "/cpuacct.usage");
    }
    int64_t pids_current() const override {
        return m_.pids.empty() ? 0 : read_int(m_.pids + "/" + rel_ + "/pids.current");
    }
    std::vector<pid_t> procs() const override {
        return dirs_.empty() ? std::vector<pid_t>{} : read_procs(dirs_.front());
    }
    void destroy() override {
        for (const auto& d : dirs_) {
            remove_dir(d);
            remove_empty_parents(d.substr(0, d.size() - rel_.size() - 1), rel_);
        }
        dirs_.clear();
    }

private:
    // Deny everything, then allow each rule, before any process joins.
    void setup_devices(const std::vector<DeviceRule>& rules) {
        if (m_.devices.empty()) {
            if (rules.size() == 1 && rules.front() == allow_all_devices()) return;
            throw Error("cgroup: the devices controller is not mounted: container device access cannot be limited",
                        "mount the v1 devices controller (mount -t cgroup -o devices cgroup /sys/fs/cgroup/devices)");
        }
        std::string dir = m_.devices + "/" + rel_;
        write_value(dir + "/devices.deny", "a");
        for (const auto& r : rules) write_value(dir + "/devices.allow", r.to_string());
    }

    void set_freezer(const char* state) {
        if (m_.freezer.empty()) throw Error("cgroup: the freezer controller is not mounted");
        write_value(m_.freezer + "/" + rel_ + "/freezer.state", state);
    }

    // A new v1 cpuset group starts with no cpus and mems: fill both from the
    // parent chain before anything may join.
    void setup_cpuset(const std::string& cpus) {
        std::string cur = m_.cpuset;
        size_t start = 0;
        std::string mems = read_text(cur + "/cpuset.mems");
        while (!mems.empty() && mems.back() == '\n') mems.pop_back();
        std::string all_cpus = read_text(cur + "/cpuset.cpus");
        while (!all_cpus.empty() && all_cpus.back() == '\n') all_cpus.pop_back();
        for (;;) {
            size_t slash = rel_.find('/', start);
            cur += "/" + rel_.substr(start, slash == std::string::npos ? std::string::npos : slash - start);
            bool leaf = slash == std::string::npos;
            std::string have = read_text(cur + "/cpuset.mems");
            if (have.empty() || have == "\n") write_value(cur + "/cpuset.mems", mems);
            if (leaf) {
                write_value(cur + "/cpuset.cpus", cpus, cpus_hint());
                break;
            }
            have = read_text(cur + "/cpuset.cpus");
            if (have.empty() || have == "\n") write_value(cur + "/cpuset.cpus", all_cpus);
            start = slash + 1;
        }
    }

    V1Mounts m_;
    std::string rel_;
    std::vector<std::string> dirs_;
};

class V1Manager : public Manager {
public:
    explicit V1Manager(V1Mounts m) : m_(std::move(m)) {}
    int version() const override { return 1; }
    std::unique_ptr<Group> create(const std::string& rel, const Limits& l) override {
        auto g = std::make_unique<V1Group>(m_, rel);
        try {
            g->setup(l);
        } catch (...) {
            try {
                g->destroy();
            } catch (...) {
            }
            throw;
        }
        return g;
    }

private:
    V1Mounts m_;
};

// ---------------- v2 ----------------

class V2Group : public Group {
public:
    V2Group(std::string root, std::string rel) : root_(std::move(root)), rel_(std::move(rel)), dir_(root_ + "/" + rel_) {}

    void setup(const Limits& l) {
        enable_controllers();
        make_dirs(root_, rel_);
        if (l.memory) write_value(dir_ + "/memory.max", std::to_string(*l.memory));
        if (l.memory_swap) {
            std::string v = "max";
            if (*l.memory_swap >= 0 && l.memory) v = std::to_string(std::max<int64_t>(0, *l.memory_swap - *l.memory));
            if (exists(dir_ + "/memory.swap.max")) write_value(dir_ + "/memory.swap.max", v);
        }
        if (l.memory_reservation) write_value(dir_ + "/memory.low", std::to_string(*l.memory_reservation));
        if (l.cpus && *l.cpus > 0) write_value(dir_ + "/cpu.max", std::to_string(cpu_quota_us(*l.cpus)) + " 100000");
        if (l.cpu_shares) write_value(dir_ + "/cpu.weight", std::to_string(shares_to_weight(*l.cpu_shares)));
        if (!l.cpuset_cpus.empty()) write_value(dir_ + "/cpuset.cpus", l.cpuset_cpus, cpus_hint());
        if (l.pids && *l.pids > 0) write_value(dir_ + "/pids.max", std::to_string(*l.pids));
        int fd = ::open(dir_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0) throw Error::sys(errno, "cgroup: open " + dir_);
        fd_.reset(fd);
        if (l.devices) {
            UniqueFd prog = load_device_program(device_program(*l.devices));
            attach_device_program(fd_.get(), prog.get());
            device_prog_ = std::move(prog);
        }
    }

    const std::string& path() const override { return rel_; }
    void attach(pid_t pid) override { write_value(dir_ + "/cgroup.procs", std::to_string(pid)); }
    int dir_fd() const override { return fd_.get(); }
    bool oom_killed() const override {
        auto n = flat_key(read_text(dir_ + "/memory.events"), "oom_kill");
        return n && *n > 0;
    }
    void freeze() override { write_value(dir_ + "/cgroup.freeze", "1"); }
    void thaw() override { write_value(dir_ + "/cgroup.freeze", "0"); }
    int64_t memory_usage() const override { return read_int(dir_ + "/memory.current"); }
    int64_t cpu_usage_ns() const override {
        auto us = flat_key(read_text(dir_ + "/cpu.stat"), "usage_usec");
        return us ? *us * 1000 : 0;
    }
    int64_t pids_current() const override { return read_int(dir_ + "/pids.current"); }
    std::vector<pid_t> procs() const override { return read_procs(dir_); }
    void destroy() override {
        fd_.reset();
        device_prog_.reset();
        if (!exists(dir_)) return;
        if (exists(dir_ + "/cgroup.kill")) {
            try {
                write_value(dir_ + "/cgroup.kill", "1");
            } catch (const Error&) {
            }
        }
        remove_dir(dir_);
        remove_empty_parents(root_, rel_);
    }

private:
    // Controllers must be enabled in every ancestor's subtree_control.
    void enable_controllers() {
        std::string cur = root_;
        size_t start = 0;
        for (;;) {
            size_t slash = rel_.find('/', start);
            if (slash == std::string::npos) {
                try_enable(cur);
                break;
            }
            try_enable(cur);
            cur += "/" + rel_.substr(start, slash - start);
            if (::mkdir(cur.c_str(), 0755) < 0 && errno != EEXIST) throw Error::sys(errno, "cgroup: mkdir " + cur);
            start = slash + 1;
        }
    }
    static void try_enable(const std::string& dir) {
        std::string have = read_text(dir + "/cgroup.subtree_control");
        std::string want;
        for (const char* c : {"memory", "pids", "cpu", "cpuset"})
            if (have.find(c) == std::string::npos) want += std::string(want.empty() ? "" : " ") + "+" + c;
        if (want.empty()) return;
        try {
            write_value(dir + "/cgroup.subtree_control", want);
        } catch (const Error& e) {
            spdlog::debug("{}", e.what());  // a controller may be unavailable; limits on it then fail clearly
        }
    }

    std::string root_, rel_, dir_;
    UniqueFd fd_;
    // The device program stays attached to the directory (until the group is
    // removed) whether or not this fd is open; the fd is berth's handle on it.
    UniqueFd device_prog_;
};

class V2Manager : public Manager {
public:
    explicit V2Manager(std::string root) : root_(std::move(root)) {}
    int version() const override { return 2; }
    std::unique_ptr<Group> create(const std::string& rel, const Limits& l) override {
        auto g = std::make_unique<V2Group>(root_, rel);
        try {
            g->setup(l);
        } catch (...) {
            try {
                g->destroy();
            } catch (...) {
            }
            throw;
        }
        return g;
    }

private:
    std::string root_;
};

}  // namespace

std::unique_ptr<Manager> make_v2(std::string root) { return std::make_unique<V2Manager>(std::move(root)); }
std::unique_ptr<Manager> make_v1(V1Mounts mounts) { return std::make_unique<V1Manager>(std::move(mounts)); }

std::unique_ptr<Manager> detect() {
    struct statfs fs {};
    if (::statfs("/sys/fs/cgroup", &fs) == 0 && fs.f_type == CGROUP2_SUPER_MAGIC &&
        !read_text("/sys/fs/cgroup/cgroup.controllers").empty())
        return make_v2("/sys/fs/cgroup");
    V1Mounts m = parse_v1_mounts(read_text("/proc/self/mountinfo"));
    if (m.memory.empty() && m.pids.empty() && m.cpu.empty())
        throw Error("no usable cgroup hierarchy found",
                    "mount cgroup2 on /sys/fs/cgroup, or the v1 memory, cpu and pids controllers");
    return make_v1(std::move(m));
}

}  // namespace berth::cgroups
