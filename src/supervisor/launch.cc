// Starting a unit's container in the supervisor (the production UnitHost's
// launch): its network plan, its spec, its output pipes and log, the runtime's
// start, and the watch on its exit.
#include "base/error.h"
#include "netns/netns.h"
#include "supervisor/impl.h"

#include <spdlog/spdlog.h>

#include <fcntl.h>
#include <filesystem>
#include <unistd.h>

namespace fs = std::filesystem;

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

// A pipe whose ends close themselves.
struct Pipe {
    UniqueFd read, write;
};
Pipe make_pipe(int flags) {
    int fds[2];
    if (pipe2(fds, flags) < 0) throw Error::sys(errno, "pipe");
    return {UniqueFd(fds[0]), UniqueFd(fds[1])};
}

}  // namespace

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

std::vector<netns::Attachment> Supervisor::Impl::plan_network(Unit& u, NetworkSetup& net) {
    std::vector<netns::Attachment> atts;
    auto& rec = u.rec;
    rec.networks.clear();
    rec.networks6.clear();
    u.inst.primary_ip = 0;
    u.inst.primary_net.clear();
    const auto& mode = u.svc->network_mode;
    if (auto shared = shared_network_of(*u.svc)) {
        const std::string& other = *shared;
        Unit* peer = nullptr;
        for (auto& p : units)
            if ((p->cp.service == other || p->name() == other) && p->running()) peer = p.get();
        if (!peer) throw Error("network_mode " + mode + ": no running container of " + other + " to share a network with");
        net.net_ns_path = "/proc/" + std::to_string(peer->inst.container->pid()) + "/ns/net";
        net.embedded_dns = !peer->rec.networks.empty();
        rec.networks = peer->rec.networks;
        rec.networks6 = peer->rec.networks6;
        u.inst.primary_ip = peer->inst.primary_ip;
        return atts;
    }
    if (u.svc->networks.empty() || !nets) return atts;
    for (const auto& sn : u.brief.networks) {  // highest priority first: eth0 and the default route
        const auto& real = sn.name;
        std::optional<uint32_t> want;
        if (!sn.ipv4_address.empty()) want = netns::parse_ipv4(sn.ipv4_address);
        uint32_t ip;
        try {
            ip = nets->assign(real, u.name(), want);
        } catch (Error& e) {
            throw e.wrap("network " + real);
        }
        std::optional<netns::Ip6> ip6;
        try {
            std::optional<netns::Ip6> want6;
            if (!sn.ipv6_address.empty()) want6 = netns::parse_ipv6(sn.ipv6_address);
            ip6 = nets->address6_for(real, ip, want6);
        } catch (Error& e) {
            throw e.wrap("service \"" + u.cp.service + "\": network " + real);
        }
        atts.push_back({real, "eth" + std::to_string(atts.size()), ip, atts.empty(), ip6});
        rec.networks[real] = netns::format_ipv4(ip);
        if (ip6) rec.networks6[real] = netns::format_ipv6(*ip6);
        if (!u.inst.primary_ip) u.inst.primary_ip = ip, u.inst.primary_net = real;
    }
    const auto& svc = *u.svc;
    std::vector<std::string> names{svc.hostname.empty() ? u.name().substr(0, 63) : svc.hostname};
    if (!svc.hostname.empty() && !svc.domainname.empty()) names.insert(names.begin(), svc.hostname + "." + svc.domainname);
    net.own.push_back({netns::format_ipv4(u.inst.primary_ip), names});
    if (auto it = rec.networks6.find(u.inst.primary_net); it != rec.networks6.end()) net.own.push_back({it->second, names});
    net.embedded_dns = true;
    return atts;
}

void Supervisor::Impl::launch(Unit& u) {
    auto& rec = u.rec;
    // The image was resolved at `up`; its layers may have gone since (a stopped container's start).
    for (const auto& dir : u.image.layer_dirs)
        if (!fs::exists(dir))
            throw Error("image " + u.image.record.name + ": layer " + dir + " is missing",
                        "pull or import the image again, then start the service");
    NetworkSetup net;
    std::vector<netns::Attachment> atts = plan_network(u, net);
    runtime::ContainerSpec spec = make_container_spec(project, *u.svc, u.image, u.name(), root, {}, net);
    rec.volumes = plan::volume_names(project, *u.svc, u.name());
    open_ports(u);
    runtime::StartHooks hooks;
    if (!atts.empty())
        hooks.before_continue = [this, &u, atts](pid_t pid) {
            UniqueFd fd(netns::open_netns(pid));
            nets->attach(u.name(), fd.get(), atts);
            dns->serve(u.name(), fd.get(), u.svc->dns);
        };
    if (u.fresh && fs::exists(spec.state_dir)) {
        fs::remove_all(spec.state_dir);  // configuration changed: a new container
        u.inst.log.reset();
    }
    u.fresh = false;
    rec.config_hash = u.brief.config_hash;
    rec.config_keys = u.brief.config_keys;
    rec.bundle_dir = spec.state_dir;
    rec.cgroup = spec.cgroup_parent + "/" + u.name();
    Pipe out = make_pipe(O_CLOEXEC), err = make_pipe(O_CLOEXEC);
    // Bigger pipes: fewer wake-ups when a container writes a lot (best effort).
    fcntl(out.read.get(), F_SETPIPE_SZ, 1 << 20);
    fcntl(err.read.get(), F_SETPIPE_SZ, 1 << 18);
    fs::create_directories(spec.state_dir);
    if (u.brief.log.writes() && !u.inst.log) {
        logs::LogOptions lo;
        lo.max_size = u.brief.log.max_size;
        lo.max_file = u.brief.log.max_file;
        u.inst.log = std::make_unique<logs::LogWriter>(spec.state_dir + "/" + u.name() + "-json.log", lo);
    }
    u.mark_starting();
    u.inst.container.emplace(runtime::Container::start(spec, runtime::Stdio{-1, out.write.get(), err.write.get()}, hooks));
    out.write.reset();
    err.write.reset();
    keeper_add(u, out.read.get(), err.read.get());
    open_output(u, 0, std::move(out.read));
    open_output(u, 1, std::move(err.read));
    rec.pid = u.inst.container->pid();
    rec.pid_start_time = state::process_start_time(rec.pid);
}

void Supervisor::Impl::started(Unit& u) {
    point_proxies(u, u.inst.primary_ip);
    publish_ports(u);
    u.inst.exit_poll.make([this, &u](uv_poll_t* p) { uv_poll_init(&loop, p, u.inst.container->pidfd()); }, &u);
    uv_poll_start(u.inst.exit_poll.get(), UV_READABLE, [](uv_poll_t* p, int, int) {
        auto* unit = static_cast<Unit*>(p->data);
        auto* sup = static_cast<Impl*>(&unit->host);
        sup->guarded(Callback::Exit, unit, [&] { sup->on_exit(*unit); });
    });
    if (u.brief.health.enabled) schedule_health(u, u.brief.health.first_delay());
    if (opts.attach) std::fprintf(stderr, "Container %s  Started\n", u.name().c_str());
}

void Supervisor::Impl::on_exit(Unit& u) {
    if (u.inst.exit_poll) uv_poll_stop(u.inst.exit_poll.get());
    u.inst.exit_poll.close();
    if (keeper) keeper->del(u.name());
    cancel_health(u);
    runtime::ExitStatus st = u.inst.container->wait();
    point_proxies(u, 0);
    unpublish_ports(u);
    if (dns) dns->stop(u.name());
    try {
        u.inst.container->teardown(false);
    } catch (const std::exception& e) {
        spdlog::warn("{}: teardown: {}", u.name(), e.what());
    }
    if (u.inst.log) {
        int was = u.inst.log->error();
        u.inst.log->flush_partial(logs::now_ns());
        report_log_state(u, was);
    }
    u.rec.exit_reason = st.oom_killed ? "OOMKilled" : st.signal ? st.reason() : "";
    u.rec.finished_at = logs::format_time(logs::now_ns());
    u.rec.pid = 0;
    if (opts.attach)
        std::fprintf(stderr, "%s exited with code %d%s\n", u.name().c_str(), st.code, st.oom_killed ? " (OOMKilled)" : "");
    bool again = u.restart_after_stop() && !stopping;
    u.on({Event::Exit, st.code});
    if (again) {  // restarted at once (`restart`, a recreate)
        answer_waiters();
        return;
    }
    if (opts.abort_on_container_exit && !stopping) {
        exit_code = st.code;
        stop_all(false);
    }
    if (opts.exit_code_from && *opts.exit_code_from == u.cp.service) exit_code = st.code;
    answer_waiters();
    advance_stop();
    schedule();
    check_done();
}

}  // namespace berth::supervisor
