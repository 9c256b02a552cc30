// The production UnitHost's launch, started and exit: a unit's container on
// the one launch path (launch.h) with the supervisor's stable addresses and
// DNS server, its output pipes and log, the runtime's start, the watch on its
// exit and what its exit undoes.
#include "base/error.h"
#include "netns/netns.h"
#include "supervisor/launch.h"
#include "supervisor/impl.h"

#include <spdlog/spdlog.h>

#include <fcntl.h>
#include <filesystem>
#include <unistd.h>

namespace fs = std::filesystem;

namespace berth::supervisor {
Addresses Supervisor::Impl::plan_network(Unit& u, NetworkSetup& net) {
    Addresses a;
    u.rec.networks.clear();  // a start that fails from here on leaves none recorded
    u.rec.networks6.clear();
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
        a.v4 = peer->rec.networks;
        a.v6 = peer->rec.networks6;
        u.inst.primary_ip = peer->inst.primary_ip;
        return a;
    }
    if (u.svc->networks.empty() || !nets) return a;
    a = address_networks(*nets, u.brief.networks, stable_address(*nets, u.name()));
    u.inst.primary_ip = a.primary_ip;
    u.inst.primary_net = a.primary_net;
    net.own = own_hosts(*u.svc, u.name(), a);
    net.embedded_dns = true;
    return a;
}

void Supervisor::Impl::launch(Unit& u) {
    auto& rec = u.rec;
    // The image was resolved at `up`; its layers may have gone since (a stopped container's start).
    for (const auto& dir : u.image.layer_dirs)
        if (!fs::exists(dir))
            throw Error("image " + u.image.record.name + ": layer " + dir + " is missing",
                        "pull or import the image again, then start the service");
    NetworkSetup net;
    Addresses addrs = plan_network(u, net);
    runtime::ContainerSpec spec = make_container_spec(project, *u.svc, u.image, u.name(), root, {}, net);
    record_launch(rec, spec, project, *u.svc, addrs);
    open_ports(u);
    runtime::StartHooks hooks;
    if (!addrs.atts.empty())
        hooks.before_continue = [this, &u, addrs](pid_t pid) {
            UniqueFd fd = plug_networks(*nets, u.name(), pid, addrs);
            dns->serve(u.name(), fd.get(), u.svc->dns);
        };
    if (u.disk() == Disk::New && fs::exists(spec.state_dir)) {
        fs::remove_all(spec.state_dir);  // configuration changed: a new container
        u.inst.log.reset();
    }
    rec.config_hash = u.brief.config_hash;
    rec.config_keys = u.brief.config_keys;
    Pipe out = make_pipe(O_CLOEXEC), err = make_pipe(O_CLOEXEC);
    // Bigger pipes: fewer wake-ups when a container writes a lot (best effort).
    fcntl(out.read.get(), F_SETPIPE_SZ, 1 << 20);
    fcntl(err.read.get(), F_SETPIPE_SZ, 1 << 18);
    fs::create_directories(spec.state_dir);
    images::keep_image(store, u.image, spec.state_dir);  // exec reads it there, whatever becomes of the name
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
    if (opts.attach && printed(u.cp.service)) {  // in the log stream, as docker compose prints it
        std::fprintf(stdout, "%s exited with code %d%s\n", u.name().c_str(), st.code, st.oom_killed ? " (OOMKilled)" : "");
        std::fflush(stdout);
    }
    bool again = u.restart_after_stop() && !stopping;
    u.on({Event::Exit, st.code});
    if (again) {  // restarted at once (`restart`, a recreate), or waiting for its dependencies
        schedule();
        answer_waiters();
        return;
    }
    bool abort = (opts.abort_on_container_exit || (opts.abort_on_container_failure && st.code != 0)) &&
                 watched(u.cp.service);
    if (abort && !stopping) {
        exit_code = st.code;
        if (opts.attach) std::fprintf(stderr, "Aborting on container exit...\n");
        stop_all(false);
    }
    if (opts.exit_code_from && *opts.exit_code_from == u.cp.service) exit_code = st.code;
    answer_waiters();
    advance_stop();
    schedule();
    check_done();
}

}  // namespace berth::supervisor
