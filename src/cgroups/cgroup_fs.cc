#include "cgroups/cgroup_fs.h"

#include "base/error.h"
#include "base/fd.h"

#include <cerrno>
#include <chrono>
#include <csignal>
#include <fcntl.h>
#include <fstream>
#include <sstream>
#include <sys/stat.h>
#include <thread>
#include <unistd.h>

namespace berth::cgroups::fs {

std::string read_text(const std::string& path) {
    std::ifstream in(path);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

// One open + one write: the start path of every container goes through here.
void write_value(const std::string& path, const std::string& value, const std::string& hint) {
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

}  // namespace berth::cgroups::fs
