#include "state/state.h"

#include "base/error.h"
#include "base/fd.h"

#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace fs = std::filesystem;

namespace berth::state {

std::string runtime_dir() {
    const char* v = std::getenv("BERTH_RUNTIME_DIR");
    return v && *v ? v : "/run/berth";
}

std::string state_root() {
    const char* v = std::getenv("BERTH_ROOT");
    return v && *v ? v : "/var/lib/berth";
}

nlohmann::json to_json(const ContainerRecord& r) {
    nlohmann::json j = {
        {"name", r.name}, {"project", r.project}, {"service", r.service}, {"index", r.index},
        {"image", r.image}, {"config_hash", r.config_hash}, {"state", r.state}, {"health", r.health},
        {"pid", r.pid}, {"pid_start_time", r.pid_start_time}, {"exit_reason", r.exit_reason},
        {"restarts", r.restarts}, {"stopped_by_user", r.stopped_by_user}, {"cgroup", r.cgroup},
        {"bundle_dir", r.bundle_dir}, {"ports", r.ports}, {"networks", r.networks}, {"networks6", r.networks6}, {"volumes", r.volumes}, {"created_at", r.created_at},
        {"started_at", r.started_at}, {"finished_at", r.finished_at}};
    if (!r.config_keys.empty()) j["config_keys"] = r.config_keys;
    j["exit_code"] = r.exit_code ? nlohmann::json(*r.exit_code) : nlohmann::json(nullptr);
    nlohmann::json log = nlohmann::json::array();
    for (const auto& h : r.health_log)
        log.push_back({{"start", h.start}, {"end", h.end}, {"exit_code", h.exit_code}, {"output", h.output}});
    j["health_log"] = log;
    if (!r.log_paused.empty()) j["log_paused"] = r.log_paused;
    return j;
}

ContainerRecord record_from_json(const nlohmann::json& j) {
    ContainerRecord r;
    r.name = j.value("name", "");
    r.project = j.value("project", "");
    r.service = j.value("service", "");
    r.index = j.value("index", 1);
    r.image = j.value("image", "");
    r.config_hash = j.value("config_hash", "");
    if (j.contains("config_keys") && j["config_keys"].is_object())
        r.config_keys = j["config_keys"].get<std::map<std::string, std::string>>();
    r.state = j.value("state", "created");
    r.health = j.value("health", "");
    r.pid = j.value("pid", 0);
    r.pid_start_time = j.value("pid_start_time", uint64_t{0});
    if (j.contains("exit_code") && j["exit_code"].is_number_integer()) r.exit_code = j["exit_code"].get<int>();
    r.exit_reason = j.value("exit_reason", "");
    r.restarts = j.value("restarts", 0);
    r.stopped_by_user = j.value("stopped_by_user", false);
    r.cgroup = j.value("cgroup", "");
    r.bundle_dir = j.value("bundle_dir", "");
    r.ports = j.value("ports", std::vector<std::string>{});
    r.networks = j.value("networks", std::map<std::string, std::string>{});
    r.networks6 = j.value("networks6", std::map<std::string, std::string>{});
    r.volumes = j.value("volumes", std::vector<std::string>{});
    r.created_at = j.value("created_at", "");
    r.started_at = j.value("started_at", "");
    r.finished_at = j.value("finished_at", "");
    if (j.contains("health_log") && j["health_log"].is_array())
        for (const auto& h : j["health_log"])
            r.health_log.push_back({h.value("start", ""), h.value("end", ""), h.value("exit_code", 0), h.value("output", "")});
    r.log_paused = j.value("log_paused", "");
    return r;
}

uint64_t process_start_time(int pid) {
    if (pid <= 0) return 0;
    UniqueFd fd(::open(("/proc/" + std::to_string(pid) + "/stat").c_str(), O_RDONLY | O_CLOEXEC));
    if (!fd) return 0;
    std::string s = read_all(fd.get(), 4096);
    size_t close = s.rfind(')');  // the command may hold spaces and parentheses
    if (close == std::string::npos || close + 1 >= s.size() || s[close + 1] != ' ') return 0;
    // Fields after the command start at 3 (state); starttime is field 22.
    const char* field = s.c_str() + close + 2;
    for (int i = 3; i < 22; ++i) {
        field = std::strchr(field, ' ');
        if (!field) return 0;
        ++field;
    }
    char* end = nullptr;
    errno = 0;
    unsigned long long v = std::strtoull(field, &end, 10);
    if (end == field || errno != 0 || (*end != ' ' && *end != '\n' && *end != '\0')) return 0;
    return v;
}

bool process_alive(int pid, uint64_t start_time) {
    if (pid <= 0) return false;
    uint64_t now = process_start_time(pid);
    return now != 0 && (start_time == 0 || now == start_time);
}

void write_file_atomic(const std::string& path, const std::string& data, unsigned mode) {
    std::string tmp = path + ".tmp." + std::to_string(::getpid());
    UniqueFd fd(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode));
    if (!fd) throw Error::sys(errno, "create " + tmp);
    size_t off = 0;
    while (off < data.size()) {
        ssize_t n = ::write(fd.get(), data.data() + off, data.size() - off);
        if (n < 0) {
            if (errno == EINTR) continue;
            int e = errno;
            ::unlink(tmp.c_str());
            throw Error::sys(e, "write " + tmp);
        }
        off += static_cast<size_t>(n);
    }
    fd.reset();
    if (::rename(tmp.c_str(), path.c_str()) != 0) {
        int e = errno;
        ::unlink(tmp.c_str());
        throw Error::sys(e, "rename " + tmp + " to " + path);
    }
}

ProjectState::ProjectState(std::string runtime_dir, std::string project)
    : dir_(std::move(runtime_dir) + "/" + std::move(project)) {}

void ProjectState::write(const ContainerRecord& r) const {
    std::error_code ec;
    fs::create_directories(dir_ + "/containers", ec);
    if (ec) throw Error::sys(ec.value(), "create " + dir_ + "/containers");
    write_file_atomic(dir_ + "/containers/" + r.name + ".json", to_json(r).dump(2) + "\n");
}

std::optional<ContainerRecord> ProjectState::read(const std::string& name) const {
    std::ifstream f(dir_ + "/containers/" + name + ".json");
    if (!f) return std::nullopt;
    try {
        return record_from_json(nlohmann::json::parse(f));
    } catch (const std::exception& e) {
        spdlog::warn("skipping unreadable state {}/containers/{}.json: {}", dir_, name, e.what());
        return std::nullopt;
    }
}

std::vector<ContainerRecord> ProjectState::read_all() const {
    std::vector<ContainerRecord> out;
    std::error_code ec;
    for (const auto& e : fs::directory_iterator(dir_ + "/containers", ec)) {
        std::string file = e.path().filename().string();
        if (file.size() < 6 || file.substr(file.size() - 5) != ".json") continue;
        if (auto r = read(file.substr(0, file.size() - 5))) out.push_back(*r);
    }
    std::sort(out.begin(), out.end(), [](auto& a, auto& b) { return a.name < b.name; });
    return out;
}

void ProjectState::remove(const std::string& name) const {
    std::string p = dir_ + "/containers/" + name + ".json";
    if (::unlink(p.c_str()) != 0 && errno != ENOENT) throw Error::sys(errno, "remove " + p);
}

void ProjectState::write_project(const nlohmann::json& project) const {
    std::error_code ec;
    fs::create_directories(dir_, ec);
    if (ec) throw Error::sys(ec.value(), "create " + dir_);
    write_file_atomic(dir_ + "/project.json", project.dump() + "\n");
}

std::optional<nlohmann::json> ProjectState::read_project() const {
    std::ifstream f(dir_ + "/project.json");
    if (!f) return std::nullopt;
    try {
        return nlohmann::json::parse(f);
    } catch (const std::exception&) {
        return std::nullopt;
    }
}

int ProjectState::supervisor_pid() const {
    UniqueFd fd(::open((dir_ + "/lock").c_str(), O_RDONLY | O_CLOEXEC));
    if (!fd) return 0;
    if (::flock(fd.get(), LOCK_EX | LOCK_NB) == 0) return 0;  // nobody holds it
    std::ifstream f(dir_ + "/supervisor.pid");
    int pid = 0;
    f >> pid;
    return pid;
}

int ProjectState::lock_as_supervisor() const {
    std::error_code ec;
    fs::create_directories(dir_, ec);
    if (ec) throw Error::sys(ec.value(), "create " + dir_);
    int fd = ::open((dir_ + "/lock").c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) throw Error::sys(errno, "open " + dir_ + "/lock");
    if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
        ::close(fd);
        throw Error("another berth supervisor already runs this project (see " + dir_ + "/supervisor.pid)",
                    "use `berth ps`, or `berth down` to stop it");
    }
    write_file_atomic(dir_ + "/supervisor.pid", std::to_string(::getpid()) + "\n");
    return fd;
}

void ProjectState::remove_all() const {
    std::error_code ec;
    fs::remove_all(dir_, ec);
    if (ec) throw Error::sys(ec.value(), "remove " + dir_);
}

void prune_empty_project(const std::string& runtime_dir, const std::string& project) {
    // rmdir removes only empty directories: a supervisor's lock or any record
    // keeps them (and an `up` starting at this moment keeps its own).
    std::string dir = runtime_dir + "/" + project;
    for (const std::string& d : {dir + "/runs/containers", dir + "/runs", dir + "/containers", dir + "/ctr", dir})
        if (::rmdir(d.c_str()) < 0 && errno != ENOENT) return;
}

std::vector<std::string> list_projects(const std::string& runtime_dir) {
    std::vector<std::string> out;
    std::error_code ec;
    for (const auto& e : fs::directory_iterator(runtime_dir, ec))
        if (e.is_directory()) out.push_back(e.path().filename().string());
    std::sort(out.begin(), out.end());
    return out;
}

}  // namespace berth::state
