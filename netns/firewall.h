// Packet filtering and NAT for berth's bridges, as one nftables table per
// bridge (so that teardown is a single `delete table`, and nothing of anyone
// else's ruleset is touched). The ruleset text is built by a pure function;
// applying it runs nft(8) with the script on stdin, as one atomic transaction.
#pragma once

#include "netns/ipam.h"

#include <string>
#include <vector>

namespace berth::netns {

// Every bridge berth names itself starts with this; isolation rules match it.
inline constexpr const char* kBridgePrefix = "berth-";
inline constexpr const char* kTablePrefix = "berth_";

struct BridgeRules {
    std::string bridge;
    Subnet subnet;
    bool internal = false;  // no traffic in or out of the bridge but to the host itself
    bool masquerade = true; // outbound NAT for the subnet (not with internal)
};

std::string table_name(const std::string& bridge);  // berth_<bridge, sanitized>
// The whole nft script that (re)creates the bridge's table atomically.
std::string ruleset(const BridgeRules& rules);
// Runs `nft -f -` with `script`; throws berth::Error with nft's message.
void nft_apply(const std::string& script);
// Deletes the table when it exists.
void nft_delete_table(const std::string& table);
// Names of the ip tables starting with kTablePrefix.
std::vector<std::string> nft_berth_tables();
// Whether nft(8) can be run at all (installed and the kernel has nf_tables).
bool nft_available(std::string* why = nullptr);

// net.ipv4.ip_forward of this network namespace.
bool ip_forward();
void set_ip_forward(bool on);

}  // namespace berth::netns
