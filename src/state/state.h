// state: what must survive the supervisor, on disk under the runtime dir.
//
//   $BERTH_RUNTIME_DIR (default /run/berth)/<project>/
//       lock               flock'd by the project's supervisor while it runs
//       supervisor.pid     its pid
//       control.sock       its control socket
//       project.json       the resolved project the supervisor runs (canonical JSON)
//       containers/<name>.json   one record per container, rewritten atomically
//       ctr/<name>/        a container's files made at each start: the root's
//                          mount point and the generated hostname, hosts and
//                          resolv.conf (runtime::ContainerSpec::run_dir)
//
// Any command can read these whether a supervisor runs or not; `down` after a
// kill -9 of the supervisor finds everything it must clean up here. Writes are
// atomic (temp file + rename), so a reader never sees half a record.
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace berth::state {

// $BERTH_RUNTIME_DIR or /run/berth; $BERTH_ROOT or /var/lib/berth.
std::string runtime_dir();
std::string state_root();

struct HealthResult {
    std::string start, end;  // RFC 3339
    int exit_code = 0;
    std::string output;
};

struct ContainerRecord {
    std::string name;
    std::string project;
    std::string service;
    int index = 1;
    std::string image;
    std::string config_hash;
    std::map<std::string, std::string> config_keys;  // per-key hashes of the configuration (plan::config_keys)
    // created, starting, running, stopping, exited, restarting, paused, dead
    std::string state = "created";
    std::string health;  // "", starting, healthy, unhealthy
    int pid = 0;
    uint64_t pid_start_time = 0;  // /proc/<pid>/stat field 22: guards against pid reuse
    std::optional<int> exit_code;
    std::string exit_reason;  // "", OOMKilled, "killed by signal 9", …
    int restarts = 0;
    bool stopped_by_user = false;
    std::string cgroup;       // the container's cgroup (backend-specific path)
    std::string bundle_dir;   // upper/work dirs and per-container files
    std::vector<std::string> ports;  // "0.0.0.0:8080->80/tcp"
    std::map<std::string, std::string> networks;  // network name → the container's IPv4 address on it
    std::map<std::string, std::string> networks6;  // … and its IPv6 address, on networks with IPv6
    std::vector<std::string> volumes;  // named volumes it mounts
    std::string created_at, started_at, finished_at;
    std::vector<HealthResult> health_log;  // the last few results
    std::string log_paused;  // why its log cannot be written ("No space left on device"), "" while it can
};

nlohmann::json to_json(const ContainerRecord& r);
ContainerRecord record_from_json(const nlohmann::json& j);

// Reads a process's start time (clock ticks since boot), 0 when it is gone.
uint64_t process_start_time(int pid);
// True when `pid` still runs and is the process recorded with `start_time`.
bool process_alive(int pid, uint64_t start_time);

class ProjectState {
public:
    ProjectState(std::string runtime_dir, std::string project);

    const std::string& dir() const { return dir_; }
    std::string control_socket() const { return dir_ + "/control.sock"; }

    void write(const ContainerRecord& r) const;  // atomic
    std::optional<ContainerRecord> read(const std::string& name) const;
    std::vector<ContainerRecord> read_all() const;  // sorted by name; unreadable records skipped with a warning
    void remove(const std::string& name) const;

    void write_project(const nlohmann::json& project) const;
    std::optional<nlohmann::json> read_project() const;

    // The running supervisor's pid, or 0 when none holds the project lock.
    int supervisor_pid() const;
    // Takes the project lock for this process (a supervisor). Throws when
    // another live supervisor holds it. The returned fd keeps the lock.
    int lock_as_supervisor() const;

    // Removes the whole project directory (after `down`).
    void remove_all() const;

private:
    std::string dir_;
};

// Removes the project's runtime directory when nothing is left in it (after the
// last one-off container of a project that is not up): `ls` no longer lists it.
void prune_empty_project(const std::string& runtime_dir, const std::string& project);

// A container's run dir (runtime::ContainerSpec::run_dir): <runtime_dir>/<project>/ctr/<name>.
inline std::string container_run_dir(const std::string& runtime_dir, const std::string& project,
                                     const std::string& name) {
    return runtime_dir + "/" + project + "/ctr/" + name;
}

// Projects with a directory under the runtime dir.
std::vector<std::string> list_projects(const std::string& runtime_dir);

// The records of a project's one-off containers (`berth run`): the project's
// state dir's runs/ (removed with it).
inline ProjectState one_off_state(const std::string& runtime_dir, const std::string& project) {
    return ProjectState(runtime_dir, project + "/runs");
}

// Writes `data` to `path` atomically (temp file in the same dir, fsync, rename).
void write_file_atomic(const std::string& path, const std::string& data, unsigned mode = 0644);

}  // namespace berth::state
