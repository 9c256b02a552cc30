// The typed Project model: what a compose file means once loaded, merged,
// interpolated, validated and normalized. Plain data: no yaml-cpp type and no
// kernel call appears here. Everything downstream (plan, supervisor, `config`)
// reads this and nothing else of the compose files.
//
// Invariants after load():
//  - paths (bind sources, env_file, build context, secret/config files) are absolute;
//  - every service has at least one network unless network_mode is set;
//  - ports have ranges expanded to one entry per container port;
//  - durations are nanoseconds, byte sizes are bytes;
//  - maps are ordered by key, so output and config hashes are stable.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace berth::compose {

using Nanos = int64_t;  // durations, in nanoseconds
using Bytes = int64_t;  // sizes, in bytes

struct Port {
    std::string name;
    std::string mode = "ingress";
    std::string host_ip;
    uint32_t target = 0;
    std::string published;  // "" (ephemeral), "8080" or a host range "8000-8010"
    std::string protocol = "tcp";
    std::string app_protocol;
};

struct Device {  // `devices:` "/dev/src[:/dev/dst[:rwm]]" or {source, target, permissions}
    std::string source;
    std::string target;
    std::string permissions = "rwm";
};

struct Mount {
    std::string type;  // bind, volume, tmpfs, npipe, cluster
    std::string source;
    std::string target;
    bool read_only = false;
    std::string consistency;
    // bind
    std::string bind_propagation;
    std::optional<bool> bind_create_host_path;
    std::string bind_selinux;  // "z" or "Z"
    bool has_bind = false;
    // volume
    bool has_volume = false;
    bool volume_nocopy = false;
    std::string volume_subpath;
    // tmpfs
    bool has_tmpfs = false;
    std::optional<Bytes> tmpfs_size;
    std::optional<uint32_t> tmpfs_mode;
};

struct Dependency {
    std::string condition = "service_started";
    bool required = true;
    bool restart = false;
};

struct Healthcheck {
    std::vector<std::string> test;  // ["CMD", …], ["CMD-SHELL", "…"] or ["NONE"]
    std::optional<Nanos> interval, timeout, start_period, start_interval;
    std::optional<uint64_t> retries;
    bool disable = false;
};

struct ServiceNetwork {
    std::vector<std::string> aliases;
    std::string ipv4_address, ipv6_address;
    std::optional<int> priority;
    std::string mac_address;
    bool is_null = true;  // listed with no options (`networks: [a]` or `a:`)
};

struct Ulimit {
    int64_t soft = 0, hard = 0;
};

struct FileRef {  // a service's use of a secret or config
    std::string source;
    std::string target;
    std::optional<uint32_t> mode;
    std::string uid, gid;
};

struct Build {
    std::string context;
    std::string dockerfile;
    std::string dockerfile_inline;
    std::map<std::string, std::optional<std::string>> args;
    std::string target;
    std::map<std::string, std::string> labels;
    std::vector<std::string> tags;   // more names for the image
    bool no_cache = false, pull = false;
    std::string network;                   // "", "default", "none", "host"; else refused when it builds:
    std::string network_refused, network_refused_hint;  // "file:line:col: key: why" (docker compose loads it too)
    std::vector<std::string> extra_hosts;  // "host:ip"
    std::optional<Bytes> shm_size;
    std::map<std::string, std::string> additional_contexts;  // name → absolute dir, or docker-image://…
    std::vector<FileRef> secrets;          // top-level secrets RUN --mount=type=secret reads (target: the id)
    std::vector<std::string> ssh;          // "default", "id=path": agents RUN --mount=type=ssh reaches
    std::vector<std::string> entitlements; // "network.host": RUN --network=host allowed
    std::vector<std::string> ignored;  // keys berth's builder does not honour yet (warned)
};

struct Logging {
    std::string driver;
    std::map<std::string, std::string> options;
};

struct ResourceSpec {
    std::optional<double> cpus;
    std::optional<Bytes> memory;
    std::optional<int64_t> pids;
};

struct Deploy {
    std::optional<uint64_t> replicas;
    ResourceSpec limits, reservations;
    bool has_resources = false;
    std::string restart_condition;  // deploy.restart_policy.condition
    std::optional<uint64_t> restart_max_attempts;
    std::optional<Nanos> restart_delay;  // deploy.restart_policy.delay: a fixed wait between restarts
};

struct Service {
    std::string name;
    std::optional<Build> build;
    std::vector<std::string> cap_add, cap_drop;
    std::string cgroup_parent;
    std::optional<std::vector<std::string>> command;     // unset ≠ empty
    std::optional<std::vector<std::string>> entrypoint;  // unset ≠ empty
    std::vector<FileRef> configs;
    std::string container_name;
    std::optional<int64_t> cpu_shares;
    std::optional<double> cpus;
    std::string cpuset;
    std::map<std::string, Dependency> depends_on;
    std::optional<Deploy> deploy;
    std::vector<std::string> device_cgroup_rules;  // "c 1:3 rwm"
    std::vector<Device> devices;
    std::vector<std::string> dns, dns_opt, dns_search;
    std::string domainname;
    std::map<std::string, std::optional<std::string>> environment;
    std::vector<std::string> env_file;  // absolute paths, already folded into environment
    std::string missing_env_file;       // a required env_file that does not exist: making a container fails
    std::vector<std::string> expose;
    std::vector<std::string> extra_hosts;  // "host:ip"
    std::vector<std::string> group_add;
    std::optional<Healthcheck> healthcheck;
    std::string hostname;
    std::string image;
    std::optional<bool> init;
    std::string ipc;
    std::map<std::string, std::string> labels;
    std::vector<std::string> links;
    std::optional<Logging> logging;
    std::string mac_address;
    std::optional<Bytes> mem_limit, mem_reservation, memswap_limit, shm_size;
    std::string network_mode;
    std::map<std::string, ServiceNetwork> networks;
    bool oom_kill_disable = false;
    std::optional<int64_t> oom_score_adj;
    std::string pid;
    std::optional<int64_t> pids_limit;
    std::string platform;
    std::vector<Port> ports;
    bool privileged = false;
    std::vector<std::string> profiles;
    std::string pull_policy;
    bool read_only = false;
    std::string restart;  // "", no, always, on-failure[:N], unless-stopped
    std::optional<uint64_t> scale;
    std::vector<FileRef> secrets;
    std::vector<std::string> security_opt;
    std::optional<Nanos> stop_grace_period;
    std::string stop_signal;
    std::map<std::string, std::string> sysctls;
    std::vector<std::string> tmpfs;
    bool tty = false;
    bool stdin_open = false;
    std::map<std::string, Ulimit> ulimits;
    std::string user;
    std::string userns_mode;
    std::vector<Mount> volumes;
    std::vector<std::string> volumes_from;
    std::string working_dir;
    std::map<std::string, std::string> extensions_json;  // x-* keys, as JSON text
};

struct IpamConfig {
    std::string subnet, ip_range, gateway;
};

struct Network {
    std::string name;  // the real name (project_key unless `name:` or external)
    std::string driver;
    std::map<std::string, std::string> driver_opts;
    bool external = false;
    bool internal = false;
    bool attachable = false;
    std::optional<bool> enable_ipv6;
    std::string ipam_driver;
    std::vector<IpamConfig> ipam_config;
    std::map<std::string, std::string> labels;
};

struct Volume {
    std::string name;
    std::string driver;
    std::map<std::string, std::string> driver_opts;
    bool external = false;
    std::map<std::string, std::string> labels;
};

struct FileObject {  // a top-level secret or config
    std::string name;
    std::string file;  // absolute
    std::string environment;
    std::string env_value;  // environment's value when loaded (not printed by `config`)
    std::string content;
    bool external = false;
};

struct Project;
// The image a service runs: `image:`, or for a service built without one,
// "<project>-<service>" as compose names it.
std::string image_name(const Project& p, const std::string& service_name, const struct Service& svc);

struct Project {
    std::string name;
    std::string working_dir;                 // the project directory, absolute
    std::vector<std::string> compose_files;  // absolute paths, in merge order
    std::map<std::string, Service> services;           // active (profile-enabled) services
    std::map<std::string, Service> disabled_services;  // known but not in an active profile
    std::map<std::string, Network> networks;
    std::map<std::string, Volume> volumes;
    std::map<std::string, FileObject> secrets;
    std::map<std::string, FileObject> configs;
    // The variables the files were interpolated with: the process environment,
    // then --env-file/.env (not printed by `config`; `run -e NAME` reads it).
    std::map<std::string, std::string> environment;
};

}  // namespace berth::compose
