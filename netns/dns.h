// The embedded DNS server: answers containers' questions about each other's
// names, and forwards the rest to the host's resolvers.
//
// Each served container gets a UDP and a TCP socket bound to 127.0.0.11:53
// inside its own network namespace (sockets stay in the namespace they were
// made in), all driven by the supervisor's libuv loop. So the server always
// knows which container asks, and answers with the names of the networks that
// container is on; its /etc/resolv.conf says `nameserver 127.0.0.11`.
// A container cannot take the supervisor's fds: see DnsLimits.
#pragma once

#include "netns/ipam.h"

#include <uv.h>

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace berth::netns {

inline constexpr const char* kDnsAddress = "127.0.0.11";

// ---- the wire format (pure; unit-tested) ----
struct DnsQuery {
    uint16_t id = 0;
    std::string name;  // lower case, no trailing dot
    uint16_t qtype = 0, qclass = 0;
    size_t question_end = 0;  // offset just past the first question
};
// nullopt for anything that is not a well-formed standard query with one question.
std::optional<DnsQuery> parse_dns_query(const uint8_t* msg, size_t len);
// A name's addresses, IPv4 and IPv6.
struct DnsAnswer {
    std::vector<uint32_t> v4;
    std::vector<Ip6> v6;
    bool empty() const { return v4.empty() && v6.empty(); }
};
// The response to `query` (its header and first question copied): A records
// for answer.v4 when the question asks for A, AAAA records for answer.v6 when
// it asks for AAAA (both for ANY); rcode 0 or 3 (NXDOMAIN), 2 (SERVFAIL).
std::string dns_response(const uint8_t* msg, const DnsQuery& q, const DnsAnswer& answer, int rcode, uint32_t ttl = 600);
inline std::string dns_response(const uint8_t* msg, const DnsQuery& q, const std::vector<uint32_t>& ips, int rcode,
                                uint32_t ttl = 600) {
    return dns_response(msg, q, DnsAnswer{ips, {}}, rcode, ttl);
}

// The resolvers of a resolv.conf text (loopback ones included: the server runs on the host).
std::vector<std::string> nameservers_of(const std::string& resolv_conf);
// Those of this host's /etc/resolv.conf.
std::vector<std::string> host_nameservers();

// What containers may hold of the server (and so of the supervisor's fds):
// TCP connections are capped per container and in all, and closed when idle.
struct DnsLimits {
    size_t tcp_per_asker = 32;  // beyond: the container's least recently used connection is closed
    size_t tcp_total = 256;     // beyond: that of the container holding the most (at most a quarter of RLIMIT_NOFILE)
    uint64_t tcp_idle_ms = 5000;  // no query for this long: closed (a slow or silent client too)
    size_t tcp_unread_bytes = 256 * 1024;  // replies queued for a client that does not read them: closed
};

class DnsServer {
public:
    // Returns the addresses of `name` as `asker` sees them; nullopt when the
    // name is not one of berth's (then the question is forwarded).
    using Lookup = std::function<std::optional<DnsAnswer>(const std::string& asker, const std::string& name)>;

    DnsServer(uv_loop_t* loop, Lookup lookup, std::vector<std::string> upstream, DnsLimits limits = {});
    ~DnsServer();
    DnsServer(const DnsServer&) = delete;
    DnsServer& operator=(const DnsServer&) = delete;

    // Starts answering inside the network namespace `netns_fd` for `asker`.
    // `upstream` (the service's `dns:`) replaces the host's resolvers when not empty.
    void serve(const std::string& asker, int netns_fd, const std::vector<std::string>& upstream = {});
    void stop(const std::string& asker);
    // Open TCP connections: of `asker`, or of every container when empty.
    size_t tcp_connections(const std::string& asker = {}) const;

    struct Impl;

private:
    std::unique_ptr<Impl> impl_;
};

}  // namespace berth::netns
