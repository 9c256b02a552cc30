// Packet filtering and NAT for berth's bridges, as one nftables table per
// bridge (so that teardown is a single `delete table`, and nothing of anyone
// else's ruleset is touched). The ruleset text is built by a pure function;
// applying it runs nft(8) with the script on stdin, as one atomic transaction.
#pragma once

#include "netns/ipam.h"

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace berth::netns {

// Every bridge berth names itself starts with this; isolation rules match it.
inline constexpr const char* kBridgePrefix = "berth-";
inline constexpr const char* kTablePrefix = "berth_";
// Every bridge berth makes is put in this interface group (IFLA_GROUP), so
// that isolation between berth's networks holds whatever the bridges are
// called (driver_opts may name them) and only berth's bridges are matched.
inline constexpr uint32_t kBridgeGroup = 0xbe27;

struct BridgeRules {
    std::string bridge;
    Subnet subnet;
    bool internal = false;  // no traffic in or out of the bridge but to the host itself
    bool masquerade = true; // outbound NAT for the subnet (not with internal)
    std::optional<Subnet6> subnet6;  // the same again for IPv6, in an ip6 table of the same name
};

std::string table_name(const std::string& bridge);  // berth_<bridge, sanitized>

// Published ports of one container, forwarded by the kernel (DNAT) rather
// than through the userspace proxy: from other hosts (prerouting), from this
// host itself (output; 127.0.0.1 included, with route_localnet on the bridge
// and masquerade), and from containers back to a host address (hairpin).
struct PublishedPort {
    std::string host_ip;  // "", 0.0.0.0 or ::: every local address (both families)
    uint16_t host_port = 0;
    uint16_t target = 0;
    std::string protocol = "tcp";
};
std::string ports_table_name(const std::string& bridge, const std::string& container);
// The rules for the ip table, and for the ip6 table when the container has an
// IPv6 address (subnet6 and address6 set); [::1] is left to the proxy.
std::string ports_ruleset(const std::string& table, const std::string& bridge, const Subnet& subnet, uint32_t address,
                          const std::vector<PublishedPort>& ports, const std::optional<Subnet6>& subnet6 = std::nullopt,
                          const std::optional<Ip6>& address6 = std::nullopt);
// The whole nft script that (re)creates the bridge's table atomically.
std::string ruleset(const BridgeRules& rules);
// Runs `nft -f -` with `script`; throws berth::Error with nft's message.
void nft_apply(const std::string& script);
// A script deleting the table in both families (a missing one is fine).
std::string delete_table_script(const std::string& table);
// A script deleting, of `tables` (as nft_berth_tables gives them), the bridge's
// own table and its containers' port tables (only those with ports_only).
std::string delete_bridge_tables_script(const std::vector<std::string>& tables, const std::string& bridge,
                                        bool ports_only);
// The ip and ip6 tables whose name starts with kTablePrefix, as "FAMILY NAME".
std::vector<std::string> nft_berth_tables();
// Whether nft(8) can be run at all (installed and the kernel has nf_tables).
bool nft_available(std::string* why = nullptr);

// net.ipv4.ip_forward of this network namespace.
bool ip_forward();
void set_ip_forward(bool on);
// net.ipv6.conf.all.forwarding, and whether IPv6 is on at all (not disabled by sysctl or boot option).
bool ip6_forward();
void set_ip6_forward(bool on);
bool ipv6_enabled();

}  // namespace berth::netns
