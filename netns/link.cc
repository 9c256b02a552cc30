#include "netns/link.h"

#include "base/error.h"
#include "base/fd.h"

#include <netlink/netlink.h>
#include <netlink/route/addr.h>
#include <netlink/route/link.h>
#include <netlink/route/link/bridge.h>
#include <netlink/route/link/veth.h>
#include <netlink/route/route.h>

#include <arpa/inet.h>
#include <fcntl.h>
#include <linux/if.h>
#include <sched.h>

#include <memory>

namespace berth::netns {
namespace {

Error nl_error(int err, const std::string& what) { return Error(what + ": " + nl_geterror(err)); }

struct LinkPut {
    void operator()(rtnl_link* l) const { rtnl_link_put(l); }
};
using LinkPtr = std::unique_ptr<rtnl_link, LinkPut>;
struct AddrPut {
    void operator()(nl_addr* a) const { nl_addr_put(a); }
};
using AddrPtr = std::unique_ptr<nl_addr, AddrPut>;
struct CachePut {
    void operator()(nl_cache* c) const { nl_cache_free(c); }
};
using CachePtr = std::unique_ptr<nl_cache, CachePut>;

AddrPtr ipv4_addr(uint32_t ip, int prefix) {
    uint32_t be = htonl(ip);
    AddrPtr a(nl_addr_build(AF_INET, &be, sizeof be));
    if (!a) throw Error("out of memory building a netlink address");
    nl_addr_set_prefixlen(a.get(), prefix);
    return a;
}

AddrPtr ipv6_addr(const Ip6& ip, int prefix) {
    AddrPtr a(nl_addr_build(AF_INET6, ip.data(), ip.size()));
    if (!a) throw Error("out of memory building a netlink address");
    nl_addr_set_prefixlen(a.get(), prefix);
    return a;
}

LinkPtr get_link(nl_sock* sk, const std::string& name) {
    rtnl_link* l = nullptr;
    int err = rtnl_link_get_kernel(sk, 0, name.c_str(), &l);
    if (err == -NLE_OBJ_NOTFOUND || err == -NLE_NODEV) return nullptr;
    if (err < 0) throw nl_error(err, "look up link " + name);
    return LinkPtr(l);
}

// ::/0 or 0.0.0.0/0 via `gateway` on the link `index`.
void add_default_route(nl_sock* sk, int family, int index, AddrPtr dst, AddrPtr gateway, const std::string& gw_text) {
    std::unique_ptr<rtnl_route, void (*)(rtnl_route*)> r(rtnl_route_alloc(), rtnl_route_put);
    rtnl_route_set_family(r.get(), static_cast<uint8_t>(family));
    rtnl_route_set_table(r.get(), RT_TABLE_MAIN);
    rtnl_route_set_scope(r.get(), RT_SCOPE_UNIVERSE);
    rtnl_route_set_protocol(r.get(), RTPROT_BOOT);
    rtnl_route_set_type(r.get(), RTN_UNICAST);
    rtnl_route_set_dst(r.get(), dst.get());
    rtnl_nexthop* nh = rtnl_route_nh_alloc();  // owned by the route once added
    rtnl_route_nh_set_gateway(nh, gateway.get());
    rtnl_route_nh_set_ifindex(nh, index);
    rtnl_route_add_nexthop(r.get(), nh);
    if (int err = rtnl_route_add(sk, r.get(), NLM_F_CREATE | NLM_F_EXCL); err < 0 && err != -NLE_EXIST)
        throw nl_error(err, "add the default route via " + gw_text);
}

}  // namespace

int open_netns(int pid) {
    std::string path = "/proc/" + std::to_string(pid) + "/ns/net";
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) throw Error::sys(errno, "open " + path);
    return fd;
}

void Netlink::connect() {
    sk_ = nl_socket_alloc();
    if (!sk_) throw Error("out of memory allocating a netlink socket");
    if (int err = nl_connect(sk_, NETLINK_ROUTE); err < 0) {
        nl_socket_free(sk_);
        sk_ = nullptr;
        throw nl_error(err, "connect to rtnetlink");
    }
}

Netlink::Netlink() { connect(); }

Netlink::Netlink(int netns_fd) {
    in_netns(netns_fd, [this] { connect(); });
}

void in_netns(int netns_fd, const std::function<void()>& fn) {
    UniqueFd self(::open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC));
    if (!self) throw Error::sys(errno, "open /proc/thread-self/ns/net");
    if (setns(netns_fd, CLONE_NEWNET) < 0) throw Error::sys(errno, "enter the container's network namespace");
    std::exception_ptr failed;
    try {
        fn();
    } catch (...) {
        failed = std::current_exception();
    }
    if (setns(self.get(), CLONE_NEWNET) < 0) {
        // Staying in the container's namespace would misroute everything after: give up loudly.
        std::perror("berth: cannot return to the host network namespace");
        std::abort();
    }
    if (failed) std::rethrow_exception(failed);
}

Netlink::~Netlink() {
    if (sk_) nl_socket_free(sk_);
}

bool Netlink::link_exists(const std::string& name) { return get_link(sk_, name) != nullptr; }

int Netlink::ifindex(const std::string& name) {
    auto l = get_link(sk_, name);
    if (!l) throw Error("no network link named " + name);
    return rtnl_link_get_ifindex(l.get());
}

bool Netlink::create_bridge(const std::string& name, int mtu, uint32_t group) {
    LinkPtr l(rtnl_link_bridge_alloc());
    if (!l) throw Error("out of memory allocating a bridge");
    rtnl_link_set_name(l.get(), name.c_str());
    if (group) rtnl_link_set_group(l.get(), group);
    if (mtu > 0) rtnl_link_set_mtu(l.get(), static_cast<unsigned>(mtu));
    int err = rtnl_link_add(sk_, l.get(), NLM_F_CREATE | NLM_F_EXCL);
    if (err == -NLE_EXIST) return false;
    if (err < 0) throw nl_error(err, "create bridge " + name);
    return true;
}

void Netlink::delete_link(const std::string& name) {
    auto l = get_link(sk_, name);
    if (!l) return;
    int err = rtnl_link_delete(sk_, l.get());
    if (err < 0 && err != -NLE_OBJ_NOTFOUND && err != -NLE_NODEV) throw nl_error(err, "delete link " + name);
}

void Netlink::set_up(const std::string& name, bool up) {
    auto l = get_link(sk_, name);
    if (!l) throw Error("no network link named " + name);
    LinkPtr change(rtnl_link_alloc());
    if (up) rtnl_link_set_flags(change.get(), IFF_UP);
    else rtnl_link_unset_flags(change.get(), IFF_UP);
    if (int err = rtnl_link_change(sk_, l.get(), change.get(), 0); err < 0)
        throw nl_error(err, std::string(up ? "bring up " : "bring down ") + name);
}

void Netlink::set_up(int ifindex) {
    LinkPtr orig(rtnl_link_alloc()), change(rtnl_link_alloc());
    rtnl_link_set_ifindex(orig.get(), ifindex);
    rtnl_link_set_flags(change.get(), IFF_UP);
    if (int err = rtnl_link_change(sk_, orig.get(), change.get(), 0); err < 0)
        throw nl_error(err, "bring up link " + std::to_string(ifindex));
}

void Netlink::set_group(const std::string& name, uint32_t group) {
    auto l = get_link(sk_, name);
    if (!l) throw Error("no network link named " + name);
    if (rtnl_link_get_group(l.get()) == group) return;
    LinkPtr change(rtnl_link_alloc());
    rtnl_link_set_group(change.get(), group);
    if (int err = rtnl_link_change(sk_, l.get(), change.get(), 0); err < 0)
        throw nl_error(err, "set the interface group of " + name);
}

void Netlink::set_mtu(const std::string& name, int mtu) {
    auto l = get_link(sk_, name);
    if (!l) throw Error("no network link named " + name);
    LinkPtr change(rtnl_link_alloc());
    rtnl_link_set_mtu(change.get(), static_cast<unsigned>(mtu));
    if (int err = rtnl_link_change(sk_, l.get(), change.get(), 0); err < 0)
        throw nl_error(err, "set the MTU of " + name);
}

void Netlink::add_address(const std::string& name, uint32_t ip, int prefix) { add_address(ifindex(name), ip, prefix); }

void Netlink::add_address(int index, uint32_t ip, int prefix) {
    std::unique_ptr<rtnl_addr, void (*)(rtnl_addr*)> a(rtnl_addr_alloc(), rtnl_addr_put);
    rtnl_addr_set_ifindex(a.get(), index);
    auto local = ipv4_addr(ip, prefix);
    rtnl_addr_set_local(a.get(), local.get());
    if (prefix < 31) {
        uint32_t bcast = ip | (prefix == 0 ? ~0u : ~(~0u << (32 - prefix)));
        auto b = ipv4_addr(bcast, prefix);
        rtnl_addr_set_broadcast(a.get(), b.get());
    }
    int err = rtnl_addr_add(sk_, a.get(), 0);
    if (err < 0 && err != -NLE_EXIST)
        throw nl_error(err, "add address " + format_ipv4(ip) + "/" + std::to_string(prefix) + " to link " + std::to_string(index));
}

void Netlink::create_veth(const std::string& host_name, int master_index, int mtu, const std::string& peer_name,
                          int peer_netns_fd) {
    std::unique_ptr<rtnl_link, void (*)(rtnl_link*)> l(rtnl_link_veth_alloc(), rtnl_link_veth_release);
    if (!l) throw Error("out of memory allocating a veth pair");
    rtnl_link_set_name(l.get(), host_name.c_str());
    rtnl_link_set_master(l.get(), master_index);
    rtnl_link_set_flags(l.get(), IFF_UP);
    if (mtu > 0) rtnl_link_set_mtu(l.get(), static_cast<unsigned>(mtu));
    LinkPtr peer(rtnl_link_veth_get_peer(l.get()));
    rtnl_link_set_name(peer.get(), peer_name.c_str());
    rtnl_link_set_ns_fd(peer.get(), peer_netns_fd);
    if (mtu > 0) rtnl_link_set_mtu(peer.get(), static_cast<unsigned>(mtu));
    if (int err = rtnl_link_add(sk_, l.get(), NLM_F_CREATE | NLM_F_EXCL); err < 0)
        throw nl_error(err, "create veth " + host_name);
}


void Netlink::add_address6(const std::string& name, const Ip6& ip, int prefix) { add_address6(ifindex(name), ip, prefix); }

void Netlink::add_address6(int index, const Ip6& ip, int prefix) {
    std::unique_ptr<rtnl_addr, void (*)(rtnl_addr*)> a(rtnl_addr_alloc(), rtnl_addr_put);
    rtnl_addr_set_ifindex(a.get(), index);
    auto local = ipv6_addr(ip, prefix);
    rtnl_addr_set_local(a.get(), local.get());
    rtnl_addr_set_flags(a.get(), IFA_F_NODAD);
    int err = rtnl_addr_add(sk_, a.get(), 0);
    if (err < 0 && err != -NLE_EXIST)
        throw nl_error(err, "add address " + format_ipv6(ip) + "/" + std::to_string(prefix) + " to link " +
                                std::to_string(index));
}


void Netlink::add_default_route(int index, uint32_t gateway) {
    netns::add_default_route(sk_, AF_INET, index, ipv4_addr(0, 0), ipv4_addr(gateway, 32), format_ipv4(gateway));
}

void Netlink::add_default_route6(int index, const Ip6& gateway) {
    netns::add_default_route(sk_, AF_INET6, index, ipv6_addr(Ip6{}, 0), ipv6_addr(gateway, 128), format_ipv6(gateway));
}

std::vector<Subnet> Netlink::routed_subnets() {
    nl_cache* raw = nullptr;
    if (int err = rtnl_route_alloc_cache(sk_, AF_INET, 0, &raw); err < 0) throw nl_error(err, "list routes");
    CachePtr cache(raw);
    std::vector<Subnet> out;
    for (nl_object* o = nl_cache_get_first(raw); o; o = nl_cache_get_next(o)) {
        auto* r = reinterpret_cast<rtnl_route*>(o);
        if (rtnl_route_get_table(r) != RT_TABLE_MAIN) continue;
        nl_addr* dst = rtnl_route_get_dst(r);
        if (!dst || nl_addr_get_family(dst) != AF_INET || nl_addr_get_len(dst) != 4) continue;
        int prefix = static_cast<int>(nl_addr_get_prefixlen(dst));
        if (prefix == 0) continue;
        uint32_t be;
        std::memcpy(&be, nl_addr_get_binary_addr(dst), 4);
        Subnet s;
        s.prefix = prefix;
        s.network = ntohl(be) & s.mask();
        out.push_back(s);
    }
    return out;
}

std::vector<std::string> Netlink::links_where(const std::function<bool(const std::string&, uint32_t)>& keep) {
    nl_cache* raw = nullptr;
    if (int err = rtnl_link_alloc_cache(sk_, AF_UNSPEC, &raw); err < 0) throw nl_error(err, "list links");
    CachePtr cache(raw);
    std::vector<std::string> out;
    for (nl_object* o = nl_cache_get_first(raw); o; o = nl_cache_get_next(o)) {
        auto* l = reinterpret_cast<rtnl_link*>(o);
        const char* n = rtnl_link_get_name(l);
        if (n && keep(n, rtnl_link_get_group(l))) out.emplace_back(n);
    }
    return out;
}

std::vector<std::string> Netlink::links_with_prefix(const std::string& prefix) {
    return links_where([&](const std::string& n, uint32_t) { return n.rfind(prefix, 0) == 0; });
}

std::vector<std::string> Netlink::links_in_group(uint32_t group) {
    return links_where([&](const std::string&, uint32_t g) { return g == group; });
}

std::optional<std::pair<uint32_t, int>> Netlink::ipv4_address(const std::string& name) {
    int index = ifindex(name);
    nl_cache* raw = nullptr;
    if (int err = rtnl_addr_alloc_cache(sk_, &raw); err < 0) throw nl_error(err, "list addresses");
    CachePtr cache(raw);
    for (nl_object* o = nl_cache_get_first(raw); o; o = nl_cache_get_next(o)) {
        auto* a = reinterpret_cast<rtnl_addr*>(o);
        if (rtnl_addr_get_ifindex(a) != index || rtnl_addr_get_family(a) != AF_INET) continue;
        nl_addr* local = rtnl_addr_get_local(a);
        if (!local || nl_addr_get_len(local) != 4) continue;
        uint32_t be;
        std::memcpy(&be, nl_addr_get_binary_addr(local), 4);
        return std::make_pair(ntohl(be), rtnl_addr_get_prefixlen(a));
    }
    return std::nullopt;
}


}  // namespace berth::netns
