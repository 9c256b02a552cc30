// From a compose service and its image to a runtime::ContainerSpec: the one
// place where compose's rules for merging a service with its image live
// (entrypoint/command, environment, user, working_dir, limits, mounts).
#pragma once

#include "compose/model.h"
#include "images/store.h"
#include "netns/files.h"
#include "runtime/spec.h"

#include <optional>
#include <string>
#include <vector>

namespace berth::supervisor {

struct RunOverrides {  // `berth run` flags
    std::optional<std::vector<std::string>> command;
    std::optional<std::string> entrypoint;
    std::vector<std::string> env;  // K=V or K (taken from berth's environment)
    std::optional<std::string> user;
    std::optional<std::string> workdir;
};

// What the network layer decided for one container, before it starts.
struct NetworkSetup {
    bool embedded_dns = false;  // resolv.conf names berth's DNS server (127.0.0.11)
    std::vector<netns::HostsEntry> own;  // the container's addresses and names, for /etc/hosts
    std::string net_ns_path;    // network_mode service:/container:: the namespace to join
};

// `network_mode: service:NAME` or `container:NAME`: that NAME, whose network namespace the service joins.
std::optional<std::string> shared_network_of(const compose::Service& s);

runtime::ContainerSpec make_container_spec(const compose::Project& project, const compose::Service& service,
                                           const images::ResolvedImage& image, const std::string& container_name,
                                           const std::string& state_root, const RunOverrides& o = {},
                                           const NetworkSetup& net = {});

}  // namespace berth::supervisor
