#include "netns/network.h"

#include "base/error.h"
#include "base/fd.h"
#include "base/files.h"
#include "base/hash.h"
#include "netns/firewall.h"
#include "netns/link.h"

#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include <fcntl.h>
#include <sys/file.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>

namespace fs = std::filesystem;

namespace berth::netns {
namespace {

std::string hex(uint64_t v, int digits) {
    char buf[17];
    std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(v));
    return std::string(buf + 16 - digits);
}

void write_atomic(const std::string& path, const std::string& text) {
    files::create_directories(fs::path(path).parent_path());
    std::string tmp = path + ".tmp";
    {
        std::ofstream f(tmp, std::ios::trunc);
        f << text;
        f.flush();
        if (!f) throw Error("cannot write " + tmp);
    }
    files::rename(tmp, path);
}

nlohmann::json cfg_json(const NetworkConfig& c) {
    nlohmann::json j = {{"name", c.name}, {"bridge", c.bridge}, {"external", c.external},
                        {"internal", c.internal}, {"mtu", c.mtu}};
    if (c.subnet) j["subnet"] = c.subnet->str();
    if (c.gateway) j["gateway"] = format_ipv4(*c.gateway);
    if (c.ip_range) j["ip_range"] = c.ip_range->str();
    if (c.ipv6) j["ipv6"] = true;
    if (c.subnet6) j["subnet6"] = c.subnet6->str();
    if (c.gateway6) j["gateway6"] = format_ipv6(*c.gateway6);
    return j;
}

NetworkConfig cfg_from_json(const nlohmann::json& j) {
    NetworkConfig c;
    c.name = j.at("name");
    c.bridge = j.value("bridge", "");
    c.external = j.value("external", false);
    c.internal = j.value("internal", false);
    c.mtu = j.value("mtu", 0);
    if (j.contains("subnet")) c.subnet = Subnet::parse(j["subnet"]);
    if (j.contains("gateway")) c.gateway = parse_ipv4(j["gateway"]);
    if (j.contains("ip_range")) c.ip_range = Subnet::parse(j["ip_range"]);
    c.ipv6 = j.value("ipv6", false);
    if (j.contains("subnet6")) c.subnet6 = Subnet6::parse(j["subnet6"]);
    if (j.contains("gateway6")) c.gateway6 = parse_ipv6(j["gateway6"]);
    return c;
}

// This thread's network namespace, as "net:[INODE]".
std::string netns_id() {
    std::error_code ec;
    auto t = fs::read_symlink("/proc/thread-self/ns/net", ec);
    return ec ? std::string("unknown") : t.string();
}

// The IPv6 side of a network, from its configuration (nothing of it is state).
void derive_ipv6(const NetworkConfig& cfg, std::optional<Subnet6>& subnet6, Ip6& gateway6) {
    subnet6.reset();
    if (!cfg.ipv6 || cfg.external) return;
    Subnet6 s = cfg.subnet6 ? *cfg.subnet6 : ula_subnet(cfg.name);
    if (s.prefix > 124)
        throw Error("network " + cfg.name + ": IPv6 subnet " + s.str() + " is too small", "use a /64, or at most a /124");
    Ip6 gw = cfg.gateway6 ? *cfg.gateway6 : *s.host(1);
    if (!s.contains(gw))
        throw Error("network " + cfg.name + ": IPv6 gateway " + format_ipv6(gw) + " is outside " + s.str());
    subnet6 = s;
    gateway6 = gw;
}

}  // namespace

FileLock::FileLock(const std::string& path) {
    files::create_directories(fs::path(path).parent_path());
    fd_.reset(::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600));
    if (!fd_) throw Error::sys(errno, "open " + path);
    while (flock(fd_.get(), LOCK_EX) < 0)
        if (errno != EINTR) throw Error::sys(errno, "lock " + path);
}

std::string bridge_name(const std::string& network) { return kBridgePrefix + hex(fnv1a(network), 9); }

std::string veth_name(const std::string& container, const std::string& network) {
    return "veth" + hex(fnv1a(container + "\n" + network), 11);
}

Networks::Networks(std::string state_file, std::string lock_file)
    : state_file_(std::move(state_file)), lock_file_(std::move(lock_file)) {
    std::ifstream f(state_file_);
    if (!f) return;
    try {
        auto j = nlohmann::json::parse(f);
        for (const auto& [name, n] : j.at("networks").items()) {
            Net net(cfg_from_json(n.at("config")), n.at("bridge"), n.value("created", false),
                    Allocator::from_json(n.at("addresses")));
            derive_ipv6(net.cfg, net.subnet6, net.gateway6);
            nets_.emplace(name, std::move(net));
        }
    } catch (const std::exception& e) {
        spdlog::warn("{}: unreadable network state, starting afresh: {}", state_file_, e.what());
        nets_.clear();
    }
}

const Networks::Net& Networks::get(const std::string& network) const {
    auto it = nets_.find(network);
    if (it == nets_.end()) throw Error("network " + network + " is not set up");
    return it->second;
}
const Subnet& Networks::subnet(const std::string& n) const { return get(n).alloc.subnet(); }
uint32_t Networks::gateway(const std::string& n) const { return get(n).alloc.gateway(); }
std::optional<Subnet6> Networks::subnet6(const std::string& n) const { return get(n).subnet6; }
std::optional<Ip6> Networks::gateway6(const std::string& n) const {
    const Net& net = get(n);
    return net.subnet6 ? std::optional<Ip6>(net.gateway6) : std::nullopt;
}

std::optional<Ip6> Networks::address6_for(const std::string& n, uint32_t ip, std::optional<Ip6> requested) const {
    const Net& net = get(n);
    if (requested) {
        if (!net.subnet6)
            throw Error("ipv6_address " + format_ipv6(*requested) + " given, but network " + n + " has no IPv6",
                        "add `enable_ipv6: true` to the network");
        if (!net.subnet6->contains(*requested))
            throw Error("ipv6_address " + format_ipv6(*requested) + " is outside the subnet " + net.subnet6->str());
        return requested;
    }
    if (!net.subnet6) return std::nullopt;
    auto a = net.subnet6->host(ip - net.alloc.subnet().network);
    if (!a)
        throw Error("network " + n + ": IPv6 subnet " + net.subnet6->str() + " is too small for the host numbers of " +
                        net.alloc.subnet().str(),
                    "give the network a larger IPv6 subnet (a /64 fits any IPv4 subnet)");
    return a;
}

void Networks::ensure(const NetworkConfig& cfg) {
    FileLock lock(lock_file_);
    Netlink nl;
    std::string br = cfg.bridge.empty() ? bridge_name(cfg.name) : cfg.bridge;
    // An external network is another berth project's (its hashed bridge) or a bridge of that name.
    if (cfg.external && cfg.bridge.empty() && cfg.name.size() <= 15 && !nl.link_exists(br) && nl.link_exists(cfg.name))
        br = cfg.name;
    if (br.size() > 15) throw Error("network " + cfg.name + ": bridge name \"" + br + "\" is longer than 15 characters");
    auto old = nets_.find(cfg.name);
    if (old != nets_.end() && old->second.bridge != br) nets_.erase(old);  // renamed: start afresh
    bool exists = nl.link_exists(br);
    if (auto f = nets_.find(cfg.name); f != nets_.end()) f->second.bridge_index = 0;  // it may be re-made below

    if (cfg.external) {
        if (!exists)
            throw Error("network " + cfg.name + " is external but bridge " + br + " does not exist",
                        "create it first, or remove `external: true`");
        // Adopt the bridge's own subnet when the file does not give one.
        Subnet sub;
        std::optional<uint32_t> gw = cfg.gateway;
        if (cfg.subnet) {
            sub = *cfg.subnet;
        } else if (auto have = nl.ipv4_address(br)) {
            sub.prefix = have->second;
            sub.network = have->first & sub.mask();
            if (!gw) gw = have->first;  // the bridge's own address is the containers' gateway
        } else {
            throw Error("network " + cfg.name + ": the external bridge " + br + " has no IPv4 address",
                        "give the bridge an address, or set ipam.config.subnet for the network");
        }
        if (!nets_.count(cfg.name))
            nets_.emplace(cfg.name, Net(cfg, br, false, Allocator(sub, gw, cfg.ip_range)));
        save();
        return;
    }

    auto it = nets_.find(cfg.name);
    bool same_config = it != nets_.end() && it->second.cfg.subnet == cfg.subnet &&
                       it->second.cfg.gateway == cfg.gateway && it->second.cfg.ip_range == cfg.ip_range &&
                       it->second.cfg.ipv6 == cfg.ipv6 && it->second.cfg.subnet6 == cfg.subnet6 &&
                       it->second.cfg.gateway6 == cfg.gateway6;
    if (it == nets_.end() || !same_config) {
        Subnet sub;
        if (exists) {
            // A bridge left by an earlier run with another configuration: start afresh.
            nl.delete_link(br);
            exists = false;
        }
        auto routed = nl.routed_subnets();
        if (cfg.subnet) {
            sub = *cfg.subnet;
            for (const auto& r : routed)
                if (r.overlaps(sub))
                    throw Error("network " + cfg.name + ": subnet " + sub.str() + " overlaps " + r.str() +
                                    ", which this host already routes",
                                "choose another `ipam.config.subnet`, or leave it out to let berth pick one");
        } else {
            std::vector<Subnet> taken = routed;
            for (const auto& [n, net] : nets_)
                if (n != cfg.name) taken.push_back(net.alloc.subnet());
            auto picked = pick_subnet(pools_, taken);
            if (!picked)
                throw Error("network " + cfg.name + ": no free subnet left in the address pool",
                            "remove unused networks, set `ipam.config.subnet`, or give berth more room in "
                            "BERTH_ADDRESS_POOLS");
            sub = *picked;
        }
        if (cfg.gateway && !sub.contains(*cfg.gateway))
            throw Error("network " + cfg.name + ": gateway " + format_ipv4(*cfg.gateway) + " is outside " + sub.str());
        if (cfg.ip_range && !sub.contains(cfg.ip_range->network))
            throw Error("network " + cfg.name + ": ip_range " + cfg.ip_range->str() + " is outside " + sub.str());
        nets_.erase(cfg.name);
        it = nets_.emplace(cfg.name, Net(cfg, br, true, Allocator(sub, cfg.gateway, cfg.ip_range))).first;
    }
    Net& net = it->second;
    net.cfg = cfg;
    net.created = true;
    derive_ipv6(cfg, net.subnet6, net.gateway6);
    save();  // before the kernel objects: a crash from here on still cleans them up
    try {
        if (!exists) {
            nl.create_bridge(br, cfg.mtu, kBridgeGroup);
        } else {
            if (cfg.mtu > 0) nl.set_mtu(br, cfg.mtu);
            nl.set_group(br, kBridgeGroup);  // one made by an older berth
        }
    } catch (Error& e) {
        if (cfg.mtu > 0 && e.hint().empty())  // the kernel says only "invalid argument"
            e.set_hint("the network's MTU is " + std::to_string(cfg.mtu) +
                       " (driver_opts com.docker.network.driver.mtu): a bridge takes 68 to 65535");
        throw;
    }
    nl.add_address(br, net.alloc.gateway(), net.alloc.subnet().prefix);
    if (net.subnet6) {
        if (!ipv6_enabled())
            throw Error("network " + cfg.name + " enables IPv6, but IPv6 is disabled on this host",
                        "enable it (sysctl net.ipv6.conf.all.disable_ipv6=0) or remove `enable_ipv6`");
        nl.add_address6(br, net.gateway6, net.subnet6->prefix);
    }
    nl.set_up(br);
    // Published ports reached at 127.0.0.1 are DNATed to the bridge: let the
    // kernel route loopback-sourced packets out of this bridge (and only it).
    if (std::ofstream rl("/proc/sys/net/ipv4/conf/" + br + "/route_localnet"); rl) rl << "1\n";

    std::string why;
    if (!nft_available(&why)) {
        static bool warned = false;
        if (!warned)
            spdlog::warn("nftables is not usable ({}): networks are neither isolated from each other nor NATed outward",
                         why.substr(0, why.find('\n')));
        warned = true;
    } else {
        std::string script;
        if (exists && swept_.insert(cfg.name).second)
            // Adopting a bridge an earlier run left (its supervisor was
            // killed): its containers' port tables go, before any of ours start.
            script = delete_bridge_tables_script(nft_berth_tables(), br, true);
        nft_apply(script + ruleset({br, net.alloc.subnet(), cfg.internal, !cfg.internal, net.subnet6}));
    }
    if (!cfg.internal && !ip_forward()) {
        // Outbound access needs forwarding. Remember that berth switched it
        // on, so that the last berth network to go switches it off again.
        set_ip_forward(true);
        write_atomic(lock_file_ + ".forward", netns_id() + "\n");
    }
    if (net.subnet6 && !cfg.internal && !ip6_forward()) {
        set_ip6_forward(true);
        write_atomic(lock_file_ + ".forward6", netns_id() + "\n");
    }
}

uint32_t Networks::assign(const std::string& network, const std::string& container, std::optional<uint32_t> requested) {
    auto it = nets_.find(network);
    if (it == nets_.end()) throw Error("network " + network + " is not set up");
    auto before = it->second.alloc.address_of(container);
    uint32_t ip = it->second.alloc.assign(container, requested);
    if (before != ip) save();  // a restart keeps its address: nothing to write then
    return ip;
}

uint32_t Networks::transient_address(const std::string& network, const std::string& container,
                                     const std::vector<uint32_t>& also_taken) const {
    const Net& n = get(network);
    const Subnet& s = n.alloc.subnet();
    uint32_t hosts = s.broadcast() - s.network - 1;
    uint32_t span = std::min<uint32_t>(1024, hosts / 2);  // the allocator fills from the bottom
    if (span == 0) throw Error("network " + network + " has no room for a one-off container");
    auto used = n.alloc.addresses();
    used.push_back(n.alloc.gateway());
    used.insert(used.end(), also_taken.begin(), also_taken.end());
    uint32_t start = static_cast<uint32_t>(fnv1a(container) % span);
    for (uint32_t i = 0; i < span; ++i) {
        uint32_t ip = s.broadcast() - 1 - (start + i) % span;
        if (std::find(used.begin(), used.end(), ip) == used.end()) return ip;
    }
    throw Error("network " + network + " has no free address for a one-off container");
}

void Networks::release(const std::string& container) {
    for (auto& [_, n] : nets_) n.alloc.release(container);
    save();
}

void Networks::attach(const std::string& container, int netns_fd, const std::vector<Attachment>& atts) {
    if (!host_) host_ = std::make_unique<Netlink>();  // one socket for every container's host side
    Netlink& host = *host_;
    Netlink inside(netns_fd);
    for (const auto& a : atts) {
        Net& net = get(a.network);
        std::string veth = veth_name(container, a.network);
        auto bridge_gone = [&] {
            return Error("network " + a.network + ": its bridge " + net.bridge + " is gone (deleted while the project ran?)",
                         "`berth down` then `berth up` make it again");
        };
        if (!net.bridge_index && !host.link_exists(net.bridge)) throw bridge_gone();
        if (!net.bridge_index) net.bridge_index = host.ifindex(net.bridge);
        try {
            host.create_veth(veth, net.bridge_index, net.cfg.mtu, a.ifname, netns_fd);
        } catch (const Error&) {
            // The previous run's namespace may still be on its way out with the
            // old pair, or the bridge was re-made under us: look again and retry.
            if (!host.link_exists(net.bridge)) throw bridge_gone();
            net.bridge_index = host.ifindex(net.bridge);
            if (host.link_exists(veth)) host.delete_link(veth);
            host.create_veth(veth, net.bridge_index, net.cfg.mtu, a.ifname, netns_fd);
        }
        int index = inside.ifindex(a.ifname);
        inside.add_address(index, a.address, net.alloc.subnet().prefix);
        if (net.subnet6 && a.address6) inside.add_address6(index, *a.address6, net.subnet6->prefix);
        inside.set_up(index);
        if (a.default_route && !net.cfg.internal) {
            inside.add_default_route(index, net.alloc.gateway());
            if (net.subnet6 && a.address6) inside.add_default_route6(index, net.gateway6);
        }
    }
}

std::string Networks::publish_script(const std::string& container, const std::string& network, uint32_t address,
                                     const std::vector<PublishedPort>& ports, const std::optional<Ip6>& address6) const {
    const Net& net = get(network);
    if (ports.empty() || net.cfg.internal || !nft_available()) return "";
    return ports_ruleset(ports_table_name(net.bridge, container), net.bridge, net.alloc.subnet(), address, ports,
                         net.subnet6, address6);
}

std::string Networks::unpublish_script(const std::string& container, const std::string& network) const {
    auto it = nets_.find(network);
    return it == nets_.end() ? "" : delete_table_script(ports_table_name(it->second.bridge, container));
}

bool Networks::publish(const std::string& container, const std::string& network, uint32_t address,
                       const std::vector<PublishedPort>& ports, const std::optional<Ip6>& address6) {
    std::string script = publish_script(container, network, address, ports, address6);
    if (script.empty()) return false;
    nft_apply(script);
    return true;
}

void Networks::unpublish(const std::string& container, const std::string& network) {
    if (std::string script = unpublish_script(container, network); !script.empty()) nft_apply(script);
}

void Networks::save() const {
    nlohmann::json j;
    j["networks"] = nlohmann::json::object();
    for (const auto& [name, n] : nets_)
        j["networks"][name] = {{"config", cfg_json(n.cfg)}, {"bridge", n.bridge}, {"created", n.created},
                               {"addresses", n.alloc.to_json()}};
    write_atomic(state_file_, j.dump(2) + "\n");
}

void Networks::remove_all() {
    FileLock lock(lock_file_);
    Netlink nl;
    // Every table of these bridges (their own and their containers' published
    // ports) goes in one nft transaction: one exec, however many there are.
    if (nft_available()) {
        std::string script;
        auto tables = nft_berth_tables();
        for (const auto& [name, n] : nets_)
            if (n.created) script += delete_bridge_tables_script(tables, n.bridge, false);
        try {
            if (!script.empty()) nft_apply(script);
        } catch (const std::exception& e) {
            spdlog::warn("networks: {}", e.what());
        }
    }
    for (const auto& [name, n] : nets_) {
        if (!n.created) continue;
        try {
            nl.delete_link(n.bridge);
        } catch (const std::exception& e) {
            spdlog::warn("network {}: {}", name, e.what());
        }
    }
    nets_.clear();
    std::error_code ec;
    fs::remove(state_file_, ec);
    // Only in the namespace where berth switched it on, once no berth bridge is left there.
    bool none_left = nl.links_in_group(kBridgeGroup).empty();
    for (bool v6 : {false, true}) {
        std::string path = lock_file_ + (v6 ? ".forward6" : ".forward");
        std::ifstream marker(path);
        std::string where;
        if (!(marker >> where) || where != netns_id() || !none_left) continue;
        try {
            v6 ? set_ip6_forward(false) : set_ip_forward(false);
        } catch (const std::exception& e) {
            spdlog::warn("{}", e.what());
        }
        fs::remove(path, ec);
    }
}

void remove_networks(const std::string& state_file) {
    if (!files::exists(state_file)) return;
    Networks(state_file, fs::path(state_file).parent_path().parent_path() / "networks.lock").remove_all();
}

}  // namespace berth::netns
