// supervisor/launch: the one launch path of a container, the same for the
// supervisor's units (unit_host.cc) and `berth run`'s one-off (one_off.cc):
//
//   brief (brief_of) → the project's networks (ensure_networks) →
//   addresses on them (address_networks) → spec (make_container_spec, with
//   the /etc/hosts names of own_names) → record (record_launch) → after
//   clone, before exec: plugged into its networks (plug_networks).
//
// Who picks the addresses is the only difference between a unit and a one-off:
// a unit keeps a stable address (its fixed ipv4_address, else the allocator's);
// a one-off takes a transient one the allocator will not hand out.
#pragma once

#include "compose/model.h"
#include "images/store.h"
#include "netns/netns.h"
#include "plan/brief.h"
#include "runtime/spec.h"
#include "state/state.h"
#include "base/fd.h"

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include <sys/types.h>

namespace berth::supervisor {

// What plan needs of an image: its stop signal and health check.
plan::ImageDefaults image_defaults(const images::ImageConfig& c);

// The service's brief, merged with its image's defaults: the first step of every launch.
plan::ServicePlan brief_of(const compose::Project& p, const std::string& service, const images::ResolvedImage& image);

// What the network layer needs of a compose network: bridge, subnets, MTU. Throws Error for a driver or
// a driver_opts value berth cannot honour.
netns::NetworkConfig network_config(const compose::Network& n);

// The project's networks (its networks.json under `project_dir`), taking subnets from
// BERTH_ADDRESS_POOLS when it is set.
std::unique_ptr<netns::Networks> open_networks(const std::string& project_dir);

// Bridges, subnets and firewall tables of these networks (keys of the project's `networks:`).
void ensure_networks(netns::Networks& nets, const compose::Project& project, const std::set<std::string>& keys);

// An address on one network: IPv4, and its IPv6 twin on a network with IPv6.
using PickAddress = std::function<std::pair<uint32_t, std::optional<netns::Ip6>>(const plan::NetworkAttachment&)>;
// A unit's: its fixed ipv4_address/ipv6_address, else the allocator's, the same across restarts.
PickAddress stable_address(netns::Networks& nets, const std::string& container);
// A one-off's: from the top of the subnet, none of `taken` (the other one-offs'); recorded by the caller.
PickAddress transient_address(netns::Networks& nets, const std::string& container, std::vector<uint32_t> taken);

// Where a container is on its networks.
struct Addresses {
    std::vector<netns::Attachment> atts;        // eth0 (the default route) first
    std::map<std::string, std::string> v4, v6;  // network → address, as records hold them
    uint32_t primary_ip = 0;                    // on the first network: where published ports forward to
    std::string primary_net;
};

// The brief's networks in its order (priority first), each with the address `pick` gives, skipping those
// that `nets` does not have. A pick's error names the network.
Addresses address_networks(const netns::Networks& nets, const std::vector<plan::NetworkAttachment>& networks,
                           const PickAddress& pick);

// The names a container has for itself in /etc/hosts and DNS: hostname.domainname, then hostname (its
// name cut to 63 characters without one).
std::vector<std::string> own_names(const compose::Service& s, const std::string& container);

// The /etc/hosts entries of a container's own addresses (its primary IPv4, and IPv6 when it has one).
std::vector<netns::HostsEntry> own_hosts(const compose::Service& s, const std::string& container, const Addresses& a);

// The record's share of a launch: where its files are (`down` removes them), its cgroup (`down` finds a
// container by it when its pid was never recorded), its addresses, the named volumes it mounts
// (`volume rm` refuses them while it runs).
void record_launch(state::ContainerRecord& rec, const runtime::ContainerSpec& spec, const compose::Project& project,
                   const compose::Service& svc, const Addresses& a);

// Plugs the started (not yet running) container `pid` into its networks; its network namespace, for
// more (the DNS server).
UniqueFd plug_networks(netns::Networks& nets, const std::string& container, pid_t pid, const Addresses& a);

}  // namespace berth::supervisor
