// The v2 backend: the unified hierarchy, a group being one directory with the
// controllers enabled down its ancestors, devices limited by a BPF program.
#include "cgroups/cgroup_fs.h"
#include "cgroups/cgroups.h"

#include "base/error.h"
#include "base/fd.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cerrno>
#include <fcntl.h>
#include <sys/stat.h>

namespace berth::cgroups {
namespace {

using namespace fs;

class V2Group : public BackendGroup {
public:
    V2Group(std::string root, std::string rel) : root_(std::move(root)), rel_(std::move(rel)), dir_(root_ + "/" + rel_) {}

    void setup(const Limits& l) override {
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
    std::vector<UniqueFd> join_fds() const override { return {}; }
    bool oom_killed() const override {
        auto n = flat_key(read_text(dir_ + "/memory.events"), "oom_kill");
        return n && *n > 0;
    }
    // Asynchronous as on v1: cgroup.events says "frozen 1" once every task stopped.
    void freeze() override {
        write_value(dir_ + "/cgroup.freeze", "1");
        for (int i = 0; i < 200; ++i) {
            if (read_text(dir_ + "/cgroup.events").find("frozen 1") != std::string::npos) return;
            ::usleep(i < 10 ? 1000 : 5000);
        }
        throw Error("cgroup " + path() + ": still freezing after 1 s", "a task may be in an uninterruptible sleep; try again");
    }
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

protected:
    std::unique_ptr<BackendGroup> new_group(const std::string& rel) override { return std::make_unique<V2Group>(root_, rel); }

private:
    std::string root_;
};

}  // namespace

std::unique_ptr<Manager> make_v2(std::string root) { return std::make_unique<V2Manager>(std::move(root)); }

}  // namespace berth::cgroups
