// IPv4 address management for berth's networks: subnets picked from a pool
// that avoids every network the host already routes (and every other berth
// network), and per-network address assignment that is stable for a
// container name across restarts (the state is plain JSON the caller stores).
// Pure logic: no kernel calls, so everything here is unit-tested without root.
#pragma once

#include <nlohmann/json.hpp>

#include <array>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace berth::netns {

uint32_t parse_ipv4(const std::string& text);  // throws berth::Error
std::string format_ipv4(uint32_t ip);

struct Subnet {
    uint32_t network = 0;  // host order, host bits zero
    int prefix = 0;        // 0..32
    static Subnet parse(const std::string& cidr);  // "172.18.0.0/16"; throws berth::Error
    std::string str() const;
    uint32_t mask() const { return prefix == 0 ? 0 : ~uint32_t{0} << (32 - prefix); }
    uint32_t broadcast() const { return network | ~mask(); }
    bool contains(uint32_t ip) const { return (ip & mask()) == network; }
    bool overlaps(const Subnet& o) const { return contains(o.network) || o.contains(network); }
    bool operator==(const Subnet& o) const { return network == o.network && prefix == o.prefix; }
};

// ---- IPv6 ----
// A network with IPv6 has one IPv6 subnet beside its IPv4 one. A container's
// IPv6 address carries the same host number as its IPv4 address (…::5 for
// x.y.z.5 when both subnets start at zero), so it is as stable as the IPv4
// one without a second allocator; a static ipv6_address is used as given.
using Ip6 = std::array<uint8_t, 16>;
Ip6 parse_ipv6(const std::string& text);  // throws berth::Error
std::string format_ipv6(const Ip6& ip);

struct Subnet6 {
    Ip6 network{};  // host bits zero
    int prefix = 0;  // 0..128
    static Subnet6 parse(const std::string& cidr);  // "fd00:1::/64"; throws berth::Error
    std::string str() const;
    bool contains(const Ip6& ip) const;
    bool overlaps(const Subnet6& o) const { return contains(o.network) || o.contains(network); }
    // network + host; nullopt when `host` does not fit in the host bits.
    std::optional<Ip6> host(uint64_t host) const;
    bool operator==(const Subnet6& o) const { return network == o.network && prefix == o.prefix; }
};
// A unique-local /64 for a network that enables IPv6 without naming a subnet:
// fd00::/8 with 40 bits of a hash of the network's name, as RFC 4193 asks.
Subnet6 ula_subnet(const std::string& network_name);

// Docker's default pools: 172.17.0.0/16 … 172.31.0.0/16, then 192.168.0.0/16 in /20s.
struct PoolRange {
    Subnet range;
    int size;  // prefix length of the subnets taken from it
};
std::vector<PoolRange> default_pool();
// Pools written as "RANGE:SIZE[,RANGE:SIZE…]", e.g. "10.10.0.0/16:24" (what
// docker's default-address-pools holds); throws berth::Error naming the entry.
std::vector<PoolRange> parse_pools(const std::string& text);

// The first subnet of the pool that overlaps none of `taken`; nullopt when the pool is exhausted.
std::optional<Subnet> pick_subnet(const std::vector<PoolRange>& pool, const std::vector<Subnet>& taken);

// Addresses of one network. The gateway takes the first host address unless
// given; containers get the lowest free address of `range` (default: the
// subnet), and keep it for as long as their name holds it.
class Allocator {
public:
    Allocator(Subnet subnet, std::optional<uint32_t> gateway = std::nullopt, std::optional<Subnet> range = std::nullopt);

    uint32_t gateway() const { return gateway_; }
    const Subnet& subnet() const { return subnet_; }
    // The address of `name`: its earlier one, the requested static one, or
    // the lowest free. Throws berth::Error when the static address is outside
    // the subnet or taken by another name, or when the network is full.
    uint32_t assign(const std::string& name, std::optional<uint32_t> requested = std::nullopt);
    void release(const std::string& name);
    std::optional<uint32_t> address_of(const std::string& name) const;
    std::vector<uint32_t> addresses() const;  // every address held by a name

    nlohmann::json to_json() const;
    static Allocator from_json(const nlohmann::json& j);

private:
    Subnet subnet_, range_;
    uint32_t gateway_;
    std::map<std::string, uint32_t> by_name_;
};

}  // namespace berth::netns
