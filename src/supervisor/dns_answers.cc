// What the embedded DNS server answers for a container: the project's service
// names, container names, hostnames, network aliases and `links`, on the
// networks the asker shares, and one-off containers (`berth run`).
#include "supervisor/impl.h"

#include <algorithm>
#include <cctype>
#include <filesystem>

namespace fs = std::filesystem;

namespace berth::supervisor {
namespace {

std::string lower(std::string s) {
    for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return s;
}

// `r`'s addresses on `net` (a network the asker is on), each once; IPv6 only
// where the asker has IPv6 on that network too.
void add_addresses(const state::ContainerRecord& r, const std::string& net, const state::ContainerRecord& asker,
                   netns::DnsAnswer& out) {
    uint32_t v4 = netns::parse_ipv4(r.networks.at(net));
    if (std::find(out.v4.begin(), out.v4.end(), v4) == out.v4.end()) out.v4.push_back(v4);
    auto six = r.networks6.find(net);
    if (six == r.networks6.end() || !asker.networks6.count(net)) return;
    netns::Ip6 v6 = netns::parse_ipv6(six->second);
    if (std::find(out.v6.begin(), out.v6.end(), v6) == out.v6.end()) out.v6.push_back(v6);
}

}  // namespace

std::optional<netns::DnsAnswer> Supervisor::Impl::dns_lookup(const std::string& asker, const std::string& qname) {
    Unit* a = nullptr;
    for (auto& u : units)
        if (u->name() == asker) a = u.get();
    if (!a) return std::nullopt;
    // `links: [db:database]`: "database" is db's name for this container only.
    std::string linked;
    for (const auto& l : a->svc->links) {
        auto colon = l.find(':');
        std::string alias = colon == std::string::npos ? l : l.substr(colon + 1);
        if (lower(alias) == qname) linked = l.substr(0, colon);
    }
    netns::DnsAnswer out;
    for (auto& u : units) {
        if (!u->running()) continue;
        for (const auto& [net, ip] : u->rec.networks) {
            if (!a->rec.networks.count(net)) continue;  // only the networks the asker shares
            bool match = lower(u->cp.service) == qname || lower(u->name()) == qname ||
                         (!u->svc->hostname.empty() && lower(u->svc->hostname) == qname) || u->cp.service == linked;
            if (!match)
                for (const auto& sn : u->brief.networks) {
                    if (sn.name != net) continue;
                    for (const auto& al : sn.aliases) match |= lower(al) == qname;
                }
            if (match) add_addresses(u->rec, net, a->rec, out);
        }
    }
    if (out.empty()) lookup_one_off(*a, qname, out);
    if (out.empty()) return std::nullopt;
    return out;
}

// One-off containers (`berth run`) record themselves under runs/: their
// container names ("<project>-<service>-run-…" or `--name`) resolve too. With
// none running, a forwarded lookup costs one stat here.
void Supervisor::Impl::lookup_one_off(const Unit& asker, const std::string& qname, netns::DnsAnswer& out) {
    auto runs = state::one_off_state(state::runtime_dir(), project.name);
    std::error_code ec;
    if (fs::is_empty(runs.dir() + "/containers", ec) || ec) return;
    for (const auto& r : runs.read_all()) {
        if (lower(r.name) != qname || !state::process_alive(r.pid, r.pid_start_time)) continue;
        for (const auto& [net, _] : r.networks)
            if (asker.rec.networks.count(net)) add_addresses(r, net, asker.rec, out);
    }
}

}  // namespace berth::supervisor
