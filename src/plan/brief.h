// plan/brief: a service's whole brief, resolved once from the model (and the
// image's defaults) into types the supervisor acts on without parsing a string:
// the restart policy, the health policy merged with the image's (durations in
// ns), the stop signal as a number, published ports as integers, typed log
// options, network attachments in the order they are plugged in, the stop
// grace period and the configuration hash. Pure: no kernel call, no image
// store; a bad value is a berth::Error naming the service and the key.
#pragma once

#include "compose/model.h"

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace berth::plan {

enum class RestartKind { No, Always, UnlessStopped, OnFailure };

struct RestartPolicy {
    RestartKind kind = RestartKind::No;
    std::optional<int> max;  // on-failure: at most this many restarts
    // deploy.restart_policy.delay: this wait before each restart; unset, the
    // wait doubles from 100 ms to a minute (reset after 10 s of running).
    std::optional<int64_t> delay_ms;
    // Whether a container that exited with `code` after `restarts` restarts again.
    bool should_restart(int code, int restarts) const;
};

// What the image says, for what a service may leave to it.
struct ImageDefaults {
    std::string stop_signal;
    struct Health {
        std::vector<std::string> test;
        int64_t interval = 0, timeout = 0, start_period = 0, start_interval = 0;  // ns, 0: unset
        int retries = 0;                                                          // 0: unset
    };
    std::optional<Health> healthcheck;
};

struct HealthPolicy {
    bool enabled = false;
    std::vector<std::string> argv;  // the command run in the container (CMD / CMD-SHELL resolved)
    int64_t interval = 0, timeout = 0, start_period = 0, start_interval = 0;  // ns
    int retries = 3;
    // The first check comes after start_interval while in a start period, else after interval.
    int64_t first_delay() const;
};

struct PublishedPort {
    std::string host_ip;          // "" is every address
    uint16_t first = 0, last = 0;  // host ports: 0 any, first == last a fixed one, else a range
    uint16_t target = 0;
    std::string protocol = "tcp";
    bool fixed() const { return first != 0 && first == last; }
};

enum class LogDriver { JsonFile, Local, None };  // None: any driver berth does not write (none, syslog, …)

struct LogPolicy {
    LogDriver driver = LogDriver::JsonFile;
    int64_t max_size = 0;  // bytes per file, 0 unlimited
    int max_file = 1;      // files kept, rotated ones included
    bool writes() const { return driver != LogDriver::None; }
};

struct NetworkAttachment {
    std::string key;   // the service's name for the network
    std::string name;  // the real network name
    std::string ipv4_address, ipv6_address;  // "" unless fixed in the file
    std::vector<std::string> aliases;
};

struct ServicePlan {
    std::string service;
    RestartPolicy restart;
    HealthPolicy health;
    int stop_signal = 15;           // SIGTERM unless the service or the image says otherwise
    std::optional<int> stop_grace_s;  // stop_grace_period rounded up; unset: the caller's default
    std::vector<PublishedPort> ports;  // empty with network_mode host or none
    LogPolicy log;
    std::vector<NetworkAttachment> networks;  // highest priority first (eth0, default route), then by key
    std::string config_hash;
    std::map<std::string, std::string> config_keys;  // top-level key → short hash, to say what changed
};

// A signal's number from its name ("TERM", "SIGTERM") or its number ("15"); nullopt when it is neither.
std::optional<int> signal_number(const std::string& name);

// The signal that stops a container of `s`: its stop_signal, else the image's (SIGTERM when the image's is
// unknown). Throws Error naming the service when its own stop_signal is not a signal.
int stop_signal(const compose::Service& s, const ImageDefaults& image);

// "8080", "8000-8010" or "" (any) as integers; throws Error for anything else.
PublishedPort published_port(const compose::Port& p);

// The networks a container of `s` is plugged into: highest priority first (eth0, the default route),
// then by key. Throws Error for a network the project does not define.
std::vector<NetworkAttachment> network_attachments(const compose::Project& p, const compose::Service& s);

// The service's brief. Throws berth::Error ("service \"web\": stop_signal …") for what cannot be resolved.
ServicePlan resolve(const compose::Project& p, const std::string& service, const ImageDefaults& image = {});

// The named volume a `type: volume` mount of `container` uses (anonymous ones get a name of their own).
std::string volume_name(const compose::Project& project, const compose::Mount& m, const std::string& container);
// Every named volume a container of `service` mounts.
std::vector<std::string> volume_names(const compose::Project& project, const compose::Service& service,
                                      const std::string& container);

}  // namespace berth::plan
