// A project's networks: the bridge, its address and firewall table, and the
// addresses handed to containers, kept in one JSON state file so that they
// survive a restart of the supervisor and can be torn down without it.
#pragma once

#include "netns/firewall.h"
#include "netns/ipam.h"
#include "netns/link.h"
#include "base/fd.h"

#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

namespace berth::netns {

struct NetworkConfig {
    std::string name;    // the real network name, e.g. myapp_default
    std::string bridge;  // empty: bridge_name(name) (external: that, or a bridge called `name`)
    bool external = false;  // an existing bridge: used, never created nor removed
    bool internal = false;
    int mtu = 0;            // 0: the kernel's default
    std::optional<Subnet> subnet;
    std::optional<uint32_t> gateway;
    std::optional<Subnet> ip_range;
    // IPv6 beside IPv4 (enable_ipv6): the subnet (default: ula_subnet(name))
    // and the bridge's address (default: the subnet's first host).
    bool ipv6 = false;
    std::optional<Subnet6> subnet6;
    std::optional<Ip6> gateway6;
};

// An exclusive flock on a file, held for the object's life: the networks
// lock serializes subnet and one-off address choices on this host.
class FileLock {
public:
    explicit FileLock(const std::string& path);

private:
    UniqueFd fd_;
};

// "berth-" and 9 hex digits of a hash of the name: fits IFNAMSIZ, stable, collision-free in practice.
std::string bridge_name(const std::string& network);
// The host end of a container's veth on a network (15 characters).
std::string veth_name(const std::string& container, const std::string& network);

struct Attachment {
    std::string network;
    std::string ifname;     // inside the container: eth0, eth1, …
    uint32_t address = 0;
    bool default_route = false;
    std::optional<Ip6> address6 = std::nullopt;  // on networks with IPv6
};

class Networks {
public:
    // state_file: the project's networks.json; lock_file: serializes subnet
    // choice between projects on this host.
    Networks(std::string state_file, std::string lock_file);

    // Creates the bridge (or adopts the one left by an earlier run), gives it
    // the gateway address, brings it up and installs its firewall table.
    void ensure(const NetworkConfig& cfg);
    bool has(const std::string& network) const { return nets_.count(network) > 0; }
    // Where subnets not given in the file come from (default: default_pool()).
    void set_pools(std::vector<PoolRange> pools) { pools_ = std::move(pools); }
    const Subnet& subnet(const std::string& network) const;
    uint32_t gateway(const std::string& network) const;
    // The network's IPv6 subnet and gateway; nullopt when it has no IPv6.
    std::optional<Subnet6> subnet6(const std::string& network) const;
    std::optional<Ip6> gateway6(const std::string& network) const;
    // The IPv6 address that goes with the IPv4 address `ip` on the network:
    // `requested` (a static ipv6_address, checked against the subnet), else
    // the same host number; nullopt without IPv6. Throws when the IPv6 subnet
    // is too small to hold that host number.
    std::optional<Ip6> address6_for(const std::string& network, uint32_t ip,
                                    std::optional<Ip6> requested = std::nullopt) const;

    // The container's stable address on the network (requested: a static ipv4_address).
    uint32_t assign(const std::string& network, const std::string& container,
                    std::optional<uint32_t> requested = std::nullopt);
    void release(const std::string& container);
    // An address for a one-off container (`berth run`) that the supervisor's
    // allocator will not hand out: from the top of the subnet, none of
    // `also_taken` (the other one-off containers'); the caller records it.
    uint32_t transient_address(const std::string& network, const std::string& container,
                               const std::vector<uint32_t>& also_taken = {}) const;

    // Plugs a started container (its network namespace `netns_fd`) into its
    // networks: a veth per network, created inside the namespace, addressed,
    // up, and a default route through the first attachment marked so.
    void attach(const std::string& container, int netns_fd, const std::vector<Attachment>& atts);

    // Kernel forwarding (DNAT) of a running container's published ports, on
    // its network `network`; false when nftables is not usable (then only the
    // userspace proxy forwards). unpublish removes the rules.
    bool publish(const std::string& container, const std::string& network, uint32_t address,
                 const std::vector<PublishedPort>& ports, const std::optional<Ip6>& address6 = std::nullopt);
    void unpublish(const std::string& container, const std::string& network);
    // The same as nft scripts, for a caller that runs nft itself (NftQueue):
    // "" when there is nothing to install (no ports, internal, no nftables).
    std::string publish_script(const std::string& container, const std::string& network, uint32_t address,
                               const std::vector<PublishedPort>& ports,
                               const std::optional<Ip6>& address6 = std::nullopt) const;
    std::string unpublish_script(const std::string& container, const std::string& network) const;

    // Removes every bridge and table this project made, and the state file.
    void remove_all();
    void save() const;


private:
    struct Net {
        Net(NetworkConfig c, std::string b, bool made, Allocator a)
            : cfg(std::move(c)), bridge(std::move(b)), created(made), alloc(std::move(a)) {}
        NetworkConfig cfg;
        std::string bridge;
        bool created = false;  // made by berth (removed by remove_all)
        Allocator alloc;
        int bridge_index = 0;  // looked up on first attach (0: not yet)
        std::optional<Subnet6> subnet6;  // set when the network has IPv6
        Ip6 gateway6{};
    };
    std::string state_file_, lock_file_;
    std::map<std::string, Net> nets_;
    std::set<std::string> swept_;  // networks whose leftover port tables were removed
    std::unique_ptr<Netlink> host_;  // rtnetlink in this namespace, made on first attach
    std::vector<PoolRange> pools_ = default_pool();
    const Net& get(const std::string& network) const;
    Net& get(const std::string& network) { return const_cast<Net&>(std::as_const(*this).get(network)); }
};

// Removes a network state file's bridges and tables (for `down` without a supervisor).
void remove_networks(const std::string& state_file);

}  // namespace berth::netns
