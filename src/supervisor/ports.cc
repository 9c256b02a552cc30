// Published ports: the check before `up` starts anything, the listeners
// (proxies) a unit keeps for its life, and the kernel's forwarding (DNAT) while
// its container runs.
#include "base/error.h"
#include "netns/netns.h"
#include "supervisor/impl.h"

#include <spdlog/spdlog.h>

#include <cerrno>
#include <cstring>

namespace berth::supervisor {
namespace {

std::string port_text(uint16_t host_port, const plan::PublishedPort& p) {
    return (p.host_ip.empty() ? "0.0.0.0" : p.host_ip) + ":" + std::to_string(host_port) + "->" + std::to_string(p.target) +
           "/" + p.protocol;
}

}  // namespace

void Supervisor::Impl::check_ports(const std::vector<plan::ContainerPlan>& plans, const std::set<std::string>& wanted) {
    std::map<std::string, std::string> owner;  // "ip:port/proto" → container
    for (const auto& cp : plans) {
        if (!wanted.count(cp.service)) continue;
        for (const auto& p : briefs.at(cp.service).ports) {
            if (!p.fixed()) continue;  // any port, or a range: chosen at start
            std::string key = (p.host_ip.empty() ? "0.0.0.0" : p.host_ip) + ":" + std::to_string(p.first) + "/" + p.protocol;
            auto [it, fresh] = owner.emplace(key, cp.name);
            if (!fresh)
                throw Error("port " + key + " is published by both " + it->second + " and " + cp.name,
                            "a fixed host port serves one container: use a range (\"8000-8010:80\") or drop the host port");
            int err = netns::port_bind_error(p.host_ip, p.first, p.protocol);
            if (err == EADDRINUSE)
                throw Error("service \"" + cp.service + "\": port " + key + " is already in use on the host",
                            "stop what listens there, or publish another host port in `ports:`");
            if (err == EADDRNOTAVAIL)
                throw Error("service \"" + cp.service + "\": cannot publish port " + key + ": " + p.host_ip +
                                " is not an address of this host (or its interface is down)",
                            "publish on an address the host has, or leave the address out to publish on all");
            if (err != 0)
                throw Error::sys(err, "service \"" + cp.service + "\": cannot publish port " + key);
        }
    }
}

// Listeners for the published ports, made once and kept while the
// configuration stays the same (a restart keeps its host ports).
void Supervisor::Impl::open_ports(Unit& u) {
    auto& in = u.inst;
    if (u.svc->network_mode == "host" || u.svc->network_mode == "none") {
        in.proxies.clear();
        in.proxies6.clear();
        u.rec.ports.clear();
        return;
    }
    std::string key;
    for (const auto& p : u.brief.ports)
        key += p.host_ip + "|" + std::to_string(p.first) + "-" + std::to_string(p.last) + "|" + std::to_string(p.target) +
               "|" + p.protocol + ";";
    if (key == in.proxies_key && in.proxies.size() == u.brief.ports.size()) return;
    in.proxies.clear();
    in.proxies6.clear();
    u.rec.ports.clear();
    in.proxies_key.clear();
    for (const auto& p : u.brief.ports) {
        std::unique_ptr<netns::PortProxy> proxy;
        if (p.first != p.last) {  // a range: the first port of it that binds
            for (uint32_t port = p.first; port <= p.last && !proxy; ++port) {
                try {
                    proxy = std::make_unique<netns::PortProxy>(&loop, p.host_ip, static_cast<uint16_t>(port), p.protocol);
                } catch (const Error&) {
                }
            }
            if (!proxy)
                throw Error("service \"" + u.cp.service + "\": every port of " + std::to_string(p.first) + "-" +
                            std::to_string(p.last) + "/" + p.protocol + " is in use on the host");
        } else {
            try {
                proxy = std::make_unique<netns::PortProxy>(&loop, p.host_ip, p.first, p.protocol);
            } catch (Error& e) {
                throw e.wrap("service \"" + u.cp.service + "\"");
            }
        }
        u.rec.ports.push_back(port_text(proxy->port(), p));
        std::unique_ptr<netns::PortProxy> proxy6;
        if ((p.host_ip.empty() || p.host_ip == "0.0.0.0") && netns::ipv6_enabled()) {
            try {
                proxy6 = std::make_unique<netns::PortProxy>(&loop, "::", proxy->port(), p.protocol);
            } catch (const Error& e) {
                spdlog::warn("service \"{}\": published on IPv4 only: {}", u.cp.service, e.what());
            }
        }
        if (proxy6)  // shown as docker shows it: "[::]:8080->80/tcp" after the IPv4 one
            u.rec.ports.push_back("[::]:" + std::to_string(proxy6->port()) + "->" + std::to_string(p.target) + "/" + p.protocol);
        in.proxies.push_back(std::move(proxy));
        in.proxies6.push_back(std::move(proxy6));
    }
    in.proxies_key = key;
}

// The kernel forwards published ports while the container runs (DNAT): far
// faster than the proxy, which stays as the fallback and holds the port.
// nft runs beside the loop (NftQueue, in order); until the rules are in,
// the proxy forwards.
void Supervisor::Impl::publish_ports(Unit& u) {
    auto& in = u.inst;
    if (in.proxies.empty() || in.primary_net.empty()) return;  // no network of its own (network_mode): the proxy forwards
    std::vector<netns::PublishedPort> pp;
    for (size_t i = 0; i < in.proxies.size(); ++i)
        pp.push_back({u.brief.ports[i].host_ip, in.proxies[i]->port(), u.brief.ports[i].target, u.brief.ports[i].protocol});
    std::optional<netns::Ip6> ip6;
    if (auto it = u.rec.networks6.find(in.primary_net); it != u.rec.networks6.end()) ip6 = netns::parse_ipv6(it->second);
    std::string script = nets->publish_script(u.name(), in.primary_net, in.primary_ip, pp, ip6);
    if (script.empty()) return;
    in.published = true;
    nft->apply(std::move(script), [n = u.name()](const std::string& err) {
        if (!err.empty()) spdlog::warn("{}: published ports go through the proxy only: {}", n, err);
    });
}

// Where the proxies forward: the container's address, or 0 (refuse) while it does not run.
void Supervisor::Impl::point_proxies(Unit& u, uint32_t ip) {
    for (size_t i = 0; i < u.inst.proxies.size(); ++i)
        for (auto* p : {u.inst.proxies[i].get(), u.inst.proxies6[i].get()})
            if (p) p->set_target(ip, u.brief.ports[i].target);
}

void Supervisor::Impl::unpublish_ports(Unit& u) {
    if (!u.inst.published) return;
    u.inst.published = false;
    nft->apply(nets->unpublish_script(u.name(), u.inst.primary_net), [n = u.name()](const std::string& err) {
        if (!err.empty()) spdlog::warn("{}: {}", n, err);
    });
}

}  // namespace berth::supervisor
