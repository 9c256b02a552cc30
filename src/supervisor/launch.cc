#include "supervisor/launch.h"

#include "base/error.h"

#include <cstdlib>

namespace berth::supervisor {
namespace {

int driver_opt_int(const compose::Network& n, const std::string& key) {
    auto it = n.driver_opts.find(key);
    if (it == n.driver_opts.end()) return 0;
    try {
        return std::stoi(it->second);
    } catch (...) {
        throw Error("network " + n.name + ": driver_opts " + key + " must be a number, not \"" + it->second + "\"");
    }
}

}  // namespace

plan::ImageDefaults image_defaults(const images::ImageConfig& c) {
    plan::ImageDefaults d;
    d.stop_signal = c.stop_signal;
    if (c.healthcheck) {
        const auto& h = *c.healthcheck;
        d.healthcheck = plan::ImageDefaults::Health{h.test, h.interval, h.timeout, h.start_period, h.start_interval, h.retries};
    }
    return d;
}

plan::ServicePlan brief_of(const compose::Project& p, const std::string& service, const images::ResolvedImage& image) {
    return plan::resolve(p, service, image_defaults(image.config));
}

netns::NetworkConfig network_config(const compose::Network& n) {
    if (!n.driver.empty() && n.driver != "bridge")
        throw Error("network " + n.name + ": driver \"" + n.driver + "\" is not supported on one node", "use the bridge driver");
    netns::NetworkConfig c;
    c.name = n.name;
    c.external = n.external;
    c.internal = n.internal;
    if (auto it = n.driver_opts.find("com.docker.network.bridge.name"); it != n.driver_opts.end()) c.bridge = it->second;
    c.mtu = driver_opt_int(n, "com.docker.network.driver.mtu");
    c.ipv6 = n.enable_ipv6.value_or(false);
    bool have4 = false, have6 = false;
    for (const auto& ipam : n.ipam_config) {
        if (ipam.subnet.find(':') != std::string::npos) {
            if (have6) continue;
            have6 = true;
            if (!c.ipv6)
                throw Error("IPv6 subnet " + ipam.subnet + " given, but IPv6 is not enabled",
                            "add `enable_ipv6: true` to the network");
            c.subnet6 = netns::Subnet6::parse(ipam.subnet);
            if (!ipam.gateway.empty()) c.gateway6 = netns::parse_ipv6(ipam.gateway);
            continue;
        }
        if (have4) continue;
        have4 = true;
        if (!ipam.subnet.empty()) c.subnet = netns::Subnet::parse(ipam.subnet);
        if (!ipam.gateway.empty()) c.gateway = netns::parse_ipv4(ipam.gateway);
        if (!ipam.ip_range.empty()) c.ip_range = netns::Subnet::parse(ipam.ip_range);
    }
    return c;
}

std::unique_ptr<netns::Networks> open_networks(const std::string& project_dir) {
    auto nets = std::make_unique<netns::Networks>(project_dir + "/networks.json", state::runtime_dir() + "/networks.lock");
    if (const char* pools = std::getenv("BERTH_ADDRESS_POOLS"); pools && *pools) {
        try {
            nets->set_pools(netns::parse_pools(pools));
        } catch (Error& e) {
            throw e.wrap("BERTH_ADDRESS_POOLS");
        }
    }
    return nets;
}

void ensure_networks(netns::Networks& nets, const compose::Project& project, const std::set<std::string>& keys) {
    for (const auto& key : keys) {
        auto it = project.networks.find(key);
        if (it == project.networks.end()) throw Error("undefined network " + key);
        try {
            nets.ensure(network_config(it->second));
        } catch (Error& e) {
            throw e.wrap("network " + it->second.name);
        }
    }
}

PickAddress stable_address(netns::Networks& nets, const std::string& container) {
    return [&nets, container](const plan::NetworkAttachment& sn) {
        std::optional<uint32_t> want;
        if (!sn.ipv4_address.empty()) want = netns::parse_ipv4(sn.ipv4_address);
        uint32_t ip;
        try {
            ip = nets.assign(sn.name, container, want);
        } catch (Error& e) {
            throw e.wrap("network " + sn.name);
        }
        std::optional<netns::Ip6> want6;
        if (!sn.ipv6_address.empty()) want6 = netns::parse_ipv6(sn.ipv6_address);
        return std::make_pair(ip, nets.address6_for(sn.name, ip, want6));
    };
}

PickAddress transient_address(netns::Networks& nets, const std::string& container, std::vector<uint32_t> taken) {
    return [&nets, container, taken](const plan::NetworkAttachment& sn) {
        uint32_t ip = nets.transient_address(sn.name, container, taken);
        return std::make_pair(ip, nets.address6_for(sn.name, ip));
    };
}

Addresses address_networks(const netns::Networks& nets, const std::vector<plan::NetworkAttachment>& networks,
                           const PickAddress& pick) {
    Addresses a;
    for (const auto& sn : networks) {  // highest priority first: eth0 and the default route
        if (!nets.has(sn.name)) continue;
        auto [ip, ip6] = pick(sn);
        a.atts.push_back({sn.name, "eth" + std::to_string(a.atts.size()), ip, a.atts.empty(), ip6});
        a.v4[sn.name] = netns::format_ipv4(ip);
        if (ip6) a.v6[sn.name] = netns::format_ipv6(*ip6);
        if (!a.primary_ip) a.primary_ip = ip, a.primary_net = sn.name;
    }
    return a;
}

std::vector<std::string> own_names(const compose::Service& s, const std::string& container) {
    std::vector<std::string> names{s.hostname.empty() ? container.substr(0, 63) : s.hostname};
    if (!s.hostname.empty() && !s.domainname.empty()) names.insert(names.begin(), s.hostname + "." + s.domainname);
    return names;
}

std::vector<netns::HostsEntry> own_hosts(const compose::Service& s, const std::string& container, const Addresses& a) {
    std::vector<netns::HostsEntry> out;
    if (!a.primary_ip) return out;
    auto names = own_names(s, container);
    out.push_back({netns::format_ipv4(a.primary_ip), names});
    if (auto it = a.v6.find(a.primary_net); it != a.v6.end()) out.push_back({it->second, names});
    return out;
}

void record_launch(state::ContainerRecord& rec, const runtime::ContainerSpec& spec, const compose::Project& project,
                   const compose::Service& svc, const Addresses& a) {
    rec.bundle_dir = spec.state_dir;
    rec.cgroup = spec.cgroup_parent + "/" + spec.id;
    rec.volumes = plan::volume_names(project, svc, rec.name);
    rec.networks = a.v4;
    rec.networks6 = a.v6;
}

UniqueFd plug_networks(netns::Networks& nets, const std::string& container, pid_t pid, const Addresses& a) {
    UniqueFd fd(netns::open_netns(pid));
    nets.attach(container, fd.get(), a.atts);
    return fd;
}

}  // namespace berth::supervisor
