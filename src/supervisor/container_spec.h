// From a compose service and its image to a runtime::ContainerSpec: the one
// place where compose's rules for merging a service with its image live
// (entrypoint/command, environment, user, working_dir, limits, mounts), as a
// pure translation and, beside it, the disk work its mounts need.
#pragma once

#include "compose/model.h"
#include "images/store.h"
#include "netns/netns.h"
#include "runtime/container.h"
#include "runtime/spec.h"
#include "runtime/user.h"

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

// A service whose required env_file is missing loads (other services' commands
// work) but makes no container: this throws the error saying which file.
void require_env_files(const compose::Service& s);

// `network_mode: service:NAME` or `container:NAME`: that NAME, whose network namespace the service joins.
std::optional<std::string> shared_network_of(const compose::Service& s);

// The user the container runs as: run's -u, the service's, the image's.
std::string user_of(const compose::Service& s, const images::ResolvedImage& image, const RunOverrides& o);

// The environment of a container of `s`: the image's, then the service's (a NAME without a value
// removes the image's NAME), then `extra` (K=V, or K taken from berth's environment when set there).
std::vector<std::string> container_env(const compose::Service& s, const images::ResolvedImage& image,
                                       const std::vector<std::string>& extra = {});

// What security_opt asks: no_new_privileges, and seccomp unless unconfined. Throws Error for what
// berth does not support.
struct SecurityOpts {
    bool no_new_privileges = false;
    bool seccomp = true;
};
SecurityOpts security_opts(const compose::Service& s);

// A process run in a running container of `s` (`berth exec`, health checks): argv in the container's
// environment (container_env with `extra_env`), as root in "/" unless `user` (resolved in the image's
// layers with the service's group_add; "" is root) or `workdir` is given; `berth exec` passes -u/-w or
// else the service's and the image's.
runtime::ExecSpec exec_spec(const compose::Service& s, const images::ResolvedImage& image, std::vector<std::string> argv,
                            const std::vector<std::string>& extra_env = {},
                            const std::optional<std::string>& user = std::nullopt, const std::string& workdir = "");

// Pure: the service merged with its image (entrypoint/command, environment,
// user `who`, working_dir, hostname, resolv.conf and hosts, mounts, limits,
// capabilities). Named volumes' mounts have the volume's name as their source
// until prepare_mounts; nothing on disk is looked at or made.
runtime::ContainerSpec translate(const compose::Project& project, const compose::Service& service,
                                 const images::ResolvedImage& image, const std::string& container_name,
                                 const std::string& state_root, const runtime::ResolvedUser& who,
                                 const RunOverrides& o = {}, const NetworkSetup& net = {});

// The disk side: bind sources made (or refused without create_host_path),
// named volumes made, mounted and filled from the image on first use; the
// volume mounts' sources set to their directories.
void prepare_mounts(runtime::ContainerSpec& spec, const compose::Project& project, const compose::Service& service,
                    const std::string& state_root);

// The one launch path's spec (the supervisor's units and `berth run`): the
// user read from the image's layers, translate, then prepare_mounts.
runtime::ContainerSpec make_container_spec(const compose::Project& project, const compose::Service& service,
                                           const images::ResolvedImage& image, const std::string& container_name,
                                           const std::string& state_root, const RunOverrides& o = {},
                                           const NetworkSetup& net = {});

}  // namespace berth::supervisor
