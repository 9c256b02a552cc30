// The v1 backend: one hierarchy per controller (memory, cpu, cpuacct, pids,
// cpuset, freezer, devices), a group being the same relative directory in each.
#include "cgroups/cgroup_fs.h"
#include "cgroups/cgroups.h"

#include "base/error.h"
#include "base/fd.h"

#include <cerrno>
#include <fcntl.h>

#include <spdlog/spdlog.h>

namespace berth::cgroups {
namespace {

using namespace fs;

class V1Group : public BackendGroup {
public:
    V1Group(const V1Mounts& m, std::string rel) : m_(m), rel_(std::move(rel)) {}

    void setup(const Limits& l) override {
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
    std::vector<UniqueFd> join_fds() const override {
        std::vector<UniqueFd> fds;
        for (const auto& d : dirs_) {
            int fd = ::open((d + "/tasks").c_str(), O_WRONLY | O_CLOEXEC);
            if (fd < 0) throw Error::sys(errno, "cgroup: open " + d + "/tasks");
            fds.emplace_back(fd);
        }
        return fds;
    }

    bool oom_killed() const override {
        if (m_.memory.empty()) return false;
        auto n = flat_key(read_text(m_.memory + "/" + rel_ + "/memory.oom_control"), "oom_kill");
        return n && *n > 0;
    }
    // Freezing is asynchronous: the state reads FREEZING until every task has
    // stopped. Like runc, ask again until it reads FROZEN (a task that was
    // forking may have escaped the first pass), for at most about a second.
    void freeze() override {
        for (int i = 0; i < 200; ++i) {
            set_freezer("FROZEN");
            if (read_text(m_.freezer + "/" + rel_ + "/freezer.state").rfind("FROZEN", 0) == 0) return;
            ::usleep(i < 10 ? 1000 : 5000);
        }
        throw Error("cgroup " + rel_ + ": still freezing after 1 s", "a task may be in an uninterruptible sleep; try again");
    }
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

protected:
    std::unique_ptr<BackendGroup> new_group(const std::string& rel) override { return std::make_unique<V1Group>(m_, rel); }

private:
    V1Mounts m_;
};

}  // namespace

std::unique_ptr<Manager> make_v1(V1Mounts mounts) { return std::make_unique<V1Manager>(std::move(mounts)); }

}  // namespace berth::cgroups
