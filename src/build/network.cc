// RUN's network: the build's own bridge (made on the first RUN that needs it,
// removed when the build ends, as docker's builds use its default bridge), the
// host's network, or none; /etc/hosts with extra_hosts, the host's resolv.conf.
#include "base/error.h"
#include "build/builder_internal.h"
#include "netns/netns.h"

#include <fstream>
#include <iterator>
#include <random>

namespace berth::build::detail {

BuildNetwork::BuildNetwork(const BuildRequest& req) : req_(req) {}

BuildNetwork::~BuildNetwork() {
    std::lock_guard lock(mu_);
    if (!nets_) return;
    try {
        nets_->remove_all();
    } catch (const Error&) {  // nothing more to do at the end of a build
    }
}

void BuildNetwork::ensure_locked() {
    if (nets_) return;
    dir_ = std::make_unique<ScratchDir>(req_.state_root);
    std::random_device rd;
    char name[32];
    std::snprintf(name, sizeof name, "berth-build-%08x", rd());
    name_ = name;
    std::string lock = req_.runtime_dir.empty() ? dir_->path() + "/networks.lock" : req_.runtime_dir + "/networks.lock";
    nets_ = std::make_unique<netns::Networks>(dir_->path() + "/networks.json", lock);
    netns::NetworkConfig cfg;
    cfg.name = name_;
    nets_->ensure(cfg);
}

std::string BuildNetwork::mode(const std::string& run_network) const {
    std::string m = run_network.empty() || run_network == "default" ? req_.network : run_network;
    return m.empty() ? "default" : m;
}

void BuildNetwork::configure(runtime::ContainerSpec& spec, const std::string& run_network, runtime::StartHooks& hooks) {
    std::string m = mode(run_network);
    std::vector<netns::HostsEntry> own;
    std::ifstream f("/etc/resolv.conf");
    std::string host_resolv(std::istreambuf_iterator<char>(f), {});
    if (m == "host" && run_network == "host" && req_.network != "host" && !req_.allow_host_network)
        throw Error("RUN --network=host needs the network.host entitlement",
                    "add `entitlements: [network.host]` (or `network: host`) under the service's build:");
    if (m == "host") {
        spec.host_network = true;
        spec.etc_resolv_conf = host_resolv;
    } else if (m == "default") {
        uint32_t ip = 0;
        {
            std::lock_guard lock(mu_);
            ensure_locked();
            ip = nets_->assign(name_, spec.id);
        }
        own.push_back({netns::format_ipv4(ip), {spec.hostname}});
        // The host's nameservers that a container can reach (not the host's loopback).
        std::vector<std::string> servers;
        for (const auto& s : netns::host_nameservers())
            if (s.rfind("127.", 0) != 0 && s != "::1") servers.push_back(s);
        spec.etc_resolv_conf = netns::resolv_conf(servers, {}, {}, host_resolv);
        std::string id = spec.id;
        hooks.before_continue = [this, id, ip](pid_t pid) {
            UniqueFd ns(netns::open_netns(pid));
            std::lock_guard lock(mu_);
            nets_->attach(id, ns.get(), {{name_, "eth0", ip, true}});
        };
    } else if (m != "none") {
        throw Error("RUN --network=" + m + " is not supported", "use default, none or host");
    }
    spec.etc_hosts = netns::hosts_file(own, req_.extra_hosts);
}

void BuildNetwork::release(const std::string& id) {
    std::lock_guard lock(mu_);
    if (nets_) nets_->release(id);
}

}  // namespace berth::build::detail
