#include "netns/ipam.h"

#include "base/error.h"
#include "base/hash.h"

#include <arpa/inet.h>

namespace berth::netns {
namespace {

// The number after the slash of `cidr`, 0..max.
int prefix_length(const std::string& cidr, size_t slash, int max, const std::string& what) {
    int prefix = -1;
    try {
        size_t used = 0;
        prefix = std::stoi(cidr.substr(slash + 1), &used);
        if (used != cidr.size() - slash - 1) throw std::invalid_argument("junk");
    } catch (const std::exception&) {
        throw Error("invalid " + what + " \"" + cidr + "\": bad prefix length");
    }
    if (prefix < 0 || prefix > max)
        throw Error("invalid " + what + " \"" + cidr + "\": prefix length must be 0 to " + std::to_string(max));
    return prefix;
}

}  // namespace

uint32_t parse_ipv4(const std::string& text) {
    in_addr a{};
    if (inet_pton(AF_INET, text.c_str(), &a) != 1)
        throw Error("invalid IPv4 address \"" + text + "\"", "write it as four numbers, e.g. 172.20.0.5");
    return ntohl(a.s_addr);
}

std::string format_ipv4(uint32_t ip) {
    in_addr a{htonl(ip)};
    char buf[INET_ADDRSTRLEN];
    inet_ntop(AF_INET, &a, buf, sizeof buf);
    return buf;
}

Ip6 parse_ipv6(const std::string& text) {
    Ip6 a{};
    if (inet_pton(AF_INET6, text.c_str(), a.data()) != 1)
        throw Error("invalid IPv6 address \"" + text + "\"", "write it as e.g. fd00:1::5");
    return a;
}

std::string format_ipv6(const Ip6& ip) {
    char buf[INET6_ADDRSTRLEN];
    inet_ntop(AF_INET6, ip.data(), buf, sizeof buf);
    return buf;
}

namespace {

uint32_t masked(const Subnet& s, uint32_t ip) { return ip & s.mask(); }
Ip6 masked(const Subnet6& s, Ip6 ip) {
    for (int bit = s.prefix; bit < 128; ++bit) ip[bit / 8] &= static_cast<uint8_t>(~(0x80 >> (bit % 8)));
    return ip;
}
std::string format_ip(uint32_t ip) { return format_ipv4(ip); }
std::string format_ip(const Ip6& ip) { return format_ipv6(ip); }

// "ADDRESS/PREFIX" of either family: the prefix in range, no host bits set.
template <typename S, typename ParseIp>
S parse_subnet(const std::string& cidr, int bits, const std::string& what, const char* example, ParseIp parse_ip) {
    auto slash = cidr.find('/');
    if (slash == std::string::npos)
        throw Error("invalid " + what + " \"" + cidr + "\": no prefix length",
                    std::string("write it as ADDRESS/PREFIX, e.g. ") + example);
    S s;
    auto ip = parse_ip(cidr.substr(0, slash));
    s.prefix = prefix_length(cidr, slash, bits, what);
    s.network = masked(s, ip);
    if (s.network != ip)
        throw Error("invalid " + what + " \"" + cidr + "\": host bits are set",
                    "did you mean " + format_ip(s.network) + "/" + std::to_string(s.prefix) + "?");
    return s;
}

}  // namespace

Subnet Subnet::parse(const std::string& cidr) {
    return parse_subnet<Subnet>(cidr, 32, "subnet", "172.20.0.0/16", parse_ipv4);
}

Subnet6 Subnet6::parse(const std::string& cidr) {
    return parse_subnet<Subnet6>(cidr, 128, "IPv6 subnet", "fd00:1::/64", parse_ipv6);
}

std::string Subnet6::str() const { return format_ipv6(network) + "/" + std::to_string(prefix); }

bool Subnet6::contains(const Ip6& ip) const {
    for (int bit = 0; bit < prefix; ++bit) {
        uint8_t m = static_cast<uint8_t>(0x80 >> (bit % 8));
        if ((ip[bit / 8] & m) != (network[bit / 8] & m)) return false;
    }
    return true;
}

std::optional<Ip6> Subnet6::host(uint64_t h) const {
    int host_bits = 128 - prefix;
    if (host_bits < 64 && h >> host_bits) return std::nullopt;
    Ip6 out = network;
    for (int i = 15; i >= 8 && h; --i, h >>= 8) out[i] = static_cast<uint8_t>(out[i] | (h & 0xff));
    return out;
}

Subnet6 ula_subnet(const std::string& network_name) {
    uint64_t h = fnv1a(network_name);
    Subnet6 s;
    s.prefix = 64;
    s.network[0] = 0xfd;
    for (int i = 1; i <= 5; ++i) s.network[i] = static_cast<uint8_t>(h >> (8 * (i - 1)));
    return s;
}

std::string Subnet::str() const { return format_ipv4(network) + "/" + std::to_string(prefix); }

std::vector<PoolRange> default_pool() {
    std::vector<PoolRange> pool;
    for (int b = 17; b <= 31; ++b) pool.push_back({Subnet{(172u << 24) | (static_cast<uint32_t>(b) << 16), 16}, 16});
    pool.push_back({Subnet{(192u << 24) | (168u << 16), 16}, 20});
    return pool;
}

std::vector<PoolRange> parse_pools(const std::string& text) {
    std::vector<PoolRange> pools;
    const std::string hint = "write RANGE:SIZE entries separated by commas, e.g. 10.10.0.0/16:24";
    size_t at = 0;
    while (at <= text.size()) {
        size_t comma = text.find(',', at);
        std::string entry = text.substr(at, comma == std::string::npos ? std::string::npos : comma - at);
        at = comma == std::string::npos ? text.size() + 1 : comma + 1;
        while (!entry.empty() && entry.front() == ' ') entry.erase(0, 1);
        while (!entry.empty() && entry.back() == ' ') entry.pop_back();
        if (entry.empty()) continue;
        auto colon = entry.rfind(':');
        if (colon == std::string::npos) throw Error("address pool \"" + entry + "\": no subnet size", hint);
        PoolRange r;
        try {
            r.range = Subnet::parse(entry.substr(0, colon));
        } catch (Error& e) {
            throw Error("address pool \"" + entry + "\": " + e.what(), hint);
        }
        try {
            size_t used = 0;
            r.size = std::stoi(entry.substr(colon + 1), &used);
            if (used != entry.size() - colon - 1) throw std::invalid_argument("junk");
        } catch (const std::exception&) {
            throw Error("address pool \"" + entry + "\": the size after ':' is not a number", hint);
        }
        if (r.size < r.range.prefix || r.size > 30)
            throw Error("address pool \"" + entry + "\": subnets of size /" + std::to_string(r.size) +
                            " do not fit in " + r.range.str(),
                        "the size must be between the range's prefix (" + std::to_string(r.range.prefix) + ") and 30");
        pools.push_back(r);
    }
    if (pools.empty()) throw Error("no address pool given", hint);
    return pools;
}

std::optional<Subnet> pick_subnet(const std::vector<PoolRange>& pool, const std::vector<Subnet>& taken) {
    for (const auto& r : pool) {
        uint64_t step = uint64_t{1} << (32 - r.size);
        for (uint64_t n = r.range.network; n + step - 1 <= r.range.broadcast(); n += step) {
            Subnet cand{static_cast<uint32_t>(n), r.size};
            bool clash = false;
            for (const auto& t : taken) clash = clash || cand.overlaps(t);
            if (!clash) return cand;
        }
    }
    return std::nullopt;
}

Allocator::Allocator(Subnet subnet, std::optional<uint32_t> gateway, std::optional<Subnet> range)
    : subnet_(subnet), range_(range.value_or(subnet)), gateway_(gateway.value_or(subnet.network + 1)) {
    if (subnet.prefix > 30) throw Error("subnet " + subnet.str() + " is too small for containers", "use a /30 or larger");
    if (!subnet_.contains(gateway_) || gateway_ == subnet_.network || gateway_ == subnet_.broadcast())
        throw Error("gateway " + format_ipv4(gateway_) + " is not a host address of " + subnet_.str());
    if (!subnet_.contains(range_.network) || !subnet_.contains(range_.broadcast()))
        throw Error("ip_range " + range_.str() + " is not inside the subnet " + subnet_.str());
}

std::optional<uint32_t> Allocator::address_of(const std::string& name) const {
    auto it = by_name_.find(name);
    if (it == by_name_.end()) return std::nullopt;
    return it->second;
}

uint32_t Allocator::assign(const std::string& name, std::optional<uint32_t> requested) {
    auto owner = [&](uint32_t ip) -> const std::string* {
        for (const auto& [n, a] : by_name_)
            if (a == ip) return &n;
        return nullptr;
    };
    if (requested) {
        uint32_t ip = *requested;
        if (!subnet_.contains(ip) || ip == subnet_.network || ip == subnet_.broadcast() || ip == gateway_)
            throw Error("address " + format_ipv4(ip) + " for " + name + " is not a free host address of " + subnet_.str());
        if (const std::string* o = owner(ip); o && *o != name)
            throw Error("address " + format_ipv4(ip) + " for " + name + " is already used by " + *o);
        by_name_[name] = ip;
        return ip;
    }
    if (auto it = by_name_.find(name); it != by_name_.end()) return it->second;
    for (uint64_t ip = range_.network; ip <= range_.broadcast(); ++ip) {
        auto a = static_cast<uint32_t>(ip);
        if (a == subnet_.network || a == subnet_.broadcast() || a == gateway_ || owner(a)) continue;
        by_name_[name] = a;
        return a;
    }
    throw Error("network " + subnet_.str() + " has no free address left for " + name,
                "give the network a larger subnet (ipam.config.subnet)");
}

void Allocator::release(const std::string& name) { by_name_.erase(name); }

std::vector<uint32_t> Allocator::addresses() const {
    std::vector<uint32_t> out;
    for (const auto& [_, a] : by_name_) out.push_back(a);
    return out;
}

nlohmann::json Allocator::to_json() const {
    nlohmann::json addrs = nlohmann::json::object();
    for (const auto& [n, a] : by_name_) addrs[n] = format_ipv4(a);
    return {{"subnet", subnet_.str()}, {"range", range_.str()}, {"gateway", format_ipv4(gateway_)}, {"addresses", addrs}};
}

Allocator Allocator::from_json(const nlohmann::json& j) {
    Allocator a(Subnet::parse(j.at("subnet").get<std::string>()), parse_ipv4(j.at("gateway").get<std::string>()),
                Subnet::parse(j.value("range", j.at("subnet").get<std::string>())));
    const nlohmann::json addrs = j.value("addresses", nlohmann::json::object());
    for (const auto& [n, ip] : addrs.items()) a.by_name_[n] = parse_ipv4(ip.get<std::string>());
    return a;
}

}  // namespace berth::netns
