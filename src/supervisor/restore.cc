// Live restore (keeper/keeper.h says who holds what while no supervisor
// runs): a new supervisor attaches to the project's keeper, re-adopts the
// containers it holds that still run — their pipes, log, addresses, DNS,
// published ports and health checks, without a restart — and learns their
// exits from the keeper, their reaper now. Each container this supervisor
// starts is handed to the keeper (a dup of its pipes' read ends) at once.
#include "base/error.h"
#include "netns/netns.h"
#include "supervisor/impl.h"

#include <spdlog/spdlog.h>

#include <fcntl.h>
#include <sys/syscall.h>
#include <unistd.h>

namespace berth::supervisor {

std::map<std::string, keeper::Held> Supervisor::Impl::attach_keeper() {
    std::map<std::string, keeper::Held> held;
    try {
        keeper = keeper::Client::connect(pstate.dir());
        if (!keeper) return held;
        for (auto& h : keeper->hello()) held[h.name] = std::move(h);
        // A supervisor `up -d` had the keeper spawn; not `up` in a terminal, whose
        // containers would go to init, not to the keeper, should it die.
        keeper_is_parent = ::getppid() == keeper::running_pid(pstate.dir());
        int fl = ::fcntl(keeper->fd(), F_GETFL);
        ::fcntl(keeper->fd(), F_SETFL, fl | O_NONBLOCK);  // read by the loop from here on
    } catch (const std::exception& e) {
        spdlog::warn("project {}: keeper: {}", project.name, e.what());
        keeper.reset();
        held.clear();
    }
    return held;
}

std::vector<state::ContainerRecord> Supervisor::Impl::adoptable(const std::map<std::string, keeper::Held>& held) const {
    std::vector<state::ContainerRecord> out;
    for (auto& r : pstate.read_all()) {
        auto h = held.find(r.name);
        if (h == held.end() || r.pid <= 0 || h->second.pid != r.pid) continue;
        if (!project.services.count(r.service)) continue;  // an orphan: left as it is
        if (r.state != "running" && r.state != "paused" && r.state != "stopping") continue;
        if (!h->second.exit && !state::process_alive(r.pid, r.pid_start_time)) continue;
        out.push_back(std::move(r));
    }
    return out;
}

Unit* Supervisor::Impl::adopt(const state::ContainerRecord& r, keeper::Held& h) {
    plan::ContainerPlan cp{r.service, r.index, r.name};
    auto owned = std::make_unique<Unit>(*this, cp, &project.services.at(r.service), briefs.at(r.service));
    Unit& u = *owned;
    units.push_back(std::move(owned));
    u.image = images_by_service.at(r.service);
    u.rec = r;
    NetworkSetup net;
    runtime::ContainerSpec spec = make_container_spec(project, *u.svc, u.image, u.name(), root, {}, net);
    // A pidfd only for the container itself: one that exited while no supervisor
    // ran was reaped by the keeper, and its pid may belong to another process by
    // now (a stop or recreate would signal that one). The start time, read once
    // the pidfd pins whoever has the pid, says whether it is still the container.
    UniqueFd pidfd;
    if (!h.exit) {
        pidfd.reset(static_cast<int>(syscall(SYS_pidfd_open, r.pid, 0)));
        if (pidfd && !state::process_alive(r.pid, r.pid_start_time)) pidfd.reset();
    }
    u.inst.container.emplace(runtime::Container::adopt(spec, r.pid, std::move(pidfd)));
    if (u.brief.log.writes()) {
        logs::LogOptions lo;
        lo.max_size = u.brief.log.max_size;
        lo.max_file = u.brief.log.max_file;
        u.inst.log = std::make_unique<logs::LogWriter>(r.bundle_dir + "/" + u.name() + "-json.log", lo);
    }
    if (h.out) open_output(u, 0, std::move(h.out));
    if (h.err) open_output(u, 1, std::move(h.err));
    for (const auto& sn : u.brief.networks)  // as plan_network chose: the first network is the primary one
        if (auto it = r.networks.find(sn.name); it != r.networks.end() && !u.inst.primary_ip) {
            u.inst.primary_ip = netns::parse_ipv4(it->second);
            u.inst.primary_net = sn.name;
        }
    if (!h.exit) {
        try {
            if (dns && !r.networks.empty() && !shared_network_of(*u.svc)) {
                UniqueFd ns(netns::open_netns(r.pid));
                dns->serve(u.name(), ns.get(), u.svc->dns);
            }
            open_ports(u);
            point_proxies(u, u.inst.primary_ip);
            publish_ports(u);
        } catch (const std::exception& e) {
            spdlog::warn("{}: re-adopted without its network services: {}", u.name(), e.what());
        }
    }
    spdlog::info("{}: re-adopted (pid {}){}", u.name(), r.pid, h.exit ? ", exited while no supervisor ran" : "");
    u.adopt(r.state == "paused");
    if (h.exit) {
        exited_meanwhile.push_back({&u, *h.exit});
    } else {
        if (u.brief.health.enabled) schedule_health(u, u.brief.health.first_delay());
        if (r.state == "stopping") u.on({Event::Stop, 0, grace(u), r.stopped_by_user});  // its stop goes on
    }
    return &u;
}

void Supervisor::Impl::release_held(std::map<std::string, keeper::Held>& held, const std::map<std::string, Unit*>& adopted) {
    if (!keeper) return;
    for (auto& [name, h] : held) {
        if (adopted.count(name)) continue;
        auto r = pstate.read(name);
        bool orphan = r && !project.services.count(r->service);
        if (orphan && r->pid == h.pid && !h.exit && state::process_alive(r->pid, r->pid_start_time)) keeper->drain(name);
        else keeper->del(name);
    }
}

void Supervisor::Impl::keeper_add(Unit& u, int out, int err) {
    if (!keeper || !keeper_is_parent) return;
    logs::LogOptions lo;
    lo.max_size = u.brief.log.max_size;
    lo.max_file = u.brief.log.max_file;
    keeper->add(u.name(), u.inst.container->pid(), u.inst.log ? u.inst.log->path() : "", lo, out, err);
}

void Supervisor::Impl::watch_keeper() {
    if (!keeper) return;
    keeper_poll.make([this](uv_poll_t* p) { uv_poll_init(&loop, p, keeper->fd()); }, this);
    uv_poll_start(keeper_poll.get(), UV_READABLE, [](uv_poll_t* p, int, int) {
        auto* sup = static_cast<Impl*>(p->data);
        sup->guarded(Callback::Keeper, nullptr, [sup] { sup->on_keeper(); });
    });
}

void Supervisor::Impl::deliver_exits() {
    auto list = std::move(exited_meanwhile);
    exited_meanwhile.clear();
    for (auto& [u, x] : list) {
        if (!u->inst.container || u->inst.container->exited()) continue;
        u->inst.container->set_exit(x.code, x.signal);
        on_exit(*u);
    }
    for (Unit* u : start_after_exit)
        if (u->done()) {  // its restart policy did not bring it back: `up` does
            u->rec.stopped_by_user = false;
            u->on({Event::Wait});
        }
    start_after_exit.clear();
}

// Exits of adopted containers (the keeper's children). Should the keeper go,
// their pidfds still say when they end (with an unknown status).
void Supervisor::Impl::on_keeper() {
    while (keeper && !keeper->gone()) {
        std::optional<keeper::Exit> x = keeper->read_exit();
        if (!x) break;
        for (auto& u : units) {
            auto& c = u->inst.container;
            if (!c || !c->adopted() || c->pid() != x->pid || c->exited()) continue;
            c->set_exit(x->code, x->signal);
            on_exit(*u);
            break;
        }
    }
    if (keeper && keeper->gone()) keeper_gone();
}

}  // namespace berth::supervisor
