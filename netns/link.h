// Links, addresses and routes over rtnetlink (libnl-route-3): berth never runs `ip`.
//
// A Netlink object owns one NETLINK_ROUTE socket. A socket belongs to the
// network namespace it was created in, so Netlink(netns_fd) briefly enters the
// container's namespace on this thread, opens the socket and comes back: every
// later call on it acts inside the container.
#pragma once

#include "netns/ipam.h"

#include <cstdint>
#include <functional>
#include <optional>
#include <utility>
#include <string>
#include <vector>

struct nl_sock;

namespace berth::netns {

class Netlink {
public:
    Netlink();                       // in this thread's network namespace
    explicit Netlink(int netns_fd);  // in the namespace `netns_fd` refers to
    ~Netlink();
    Netlink(const Netlink&) = delete;
    Netlink& operator=(const Netlink&) = delete;

    bool link_exists(const std::string& name);
    int ifindex(const std::string& name);  // throws when there is no such link
    // A bridge (in interface group `group` when not 0); returns false (and
    // changes nothing) when a link of that name exists.
    bool create_bridge(const std::string& name, int mtu, uint32_t group = 0);
    void set_group(const std::string& name, uint32_t group);
    // Removes a link; a missing one is not an error.
    void delete_link(const std::string& name);
    void set_up(const std::string& name, bool up = true);
    void set_up(int ifindex);
    void set_mtu(const std::string& name, int mtu);
    // Adds ip/prefix to the link; an address already there is not an error.
    void add_address(const std::string& name, uint32_t ip, int prefix);
    void add_address(int ifindex, uint32_t ip, int prefix);
    // A veth pair: `host_name` here, enslaved to the bridge `master_index` and
    // up; its peer created directly inside the namespace `peer_netns_fd` as `peer_name`.
    void create_veth(const std::string& host_name, int master_index, int mtu, const std::string& peer_name,
                     int peer_netns_fd);
    void add_default_route(int ifindex, uint32_t gateway);
    // IPv6: the address is usable at once (no duplicate address detection:
    // berth hands each address out once); the route is ::/0 via `gateway`.
    void add_address6(const std::string& name, const Ip6& ip, int prefix);
    void add_address6(int ifindex, const Ip6& ip, int prefix);
    void add_default_route6(int ifindex, const Ip6& gateway);
    // IPv4 destinations of the main routing table (default route excluded).
    std::vector<Subnet> routed_subnets();
    // Names of the links whose name starts with `prefix`.
    std::vector<std::string> links_with_prefix(const std::string& prefix);
    // Names of the links in interface group `group`.
    std::vector<std::string> links_in_group(uint32_t group);
    // The first IPv4 address of a link and its prefix length (nullopt: none).
    std::optional<std::pair<uint32_t, int>> ipv4_address(const std::string& name);

private:
    void connect();
    std::vector<std::string> links_where(const std::function<bool(const std::string& name, uint32_t group)>& keep);
    nl_sock* sk_ = nullptr;
};

// Opens /proc/PID/ns/net (O_CLOEXEC); throws berth::Error.
int open_netns(int pid);

// Runs `fn` on this thread inside the network namespace `netns_fd`, then
// comes back. Sockets made in `fn` stay in that namespace for good; that is
// how berth reaches into a container without a process there.
void in_netns(int netns_fd, const std::function<void()>& fn);

}  // namespace berth::netns
