// Health checks: the unit's probe, run in its container on the brief's
// schedule (start period, start interval, interval, timeout, retries), and its
// results in the record (the last five) and the unit's health.
#include "compose/units.h"
#include "supervisor/impl.h"

#include <spdlog/spdlog.h>

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <csignal>

namespace berth::supervisor {

void Supervisor::Impl::schedule_health(Unit& u, int64_t delay_ns) {
    if (!u.inst.health_timer) u.inst.health_timer.make([this](uv_timer_t* t) { uv_timer_init(&loop, t); }, &u);
    uv_timer_start(u.inst.health_timer.get(), [](uv_timer_t* t) {
        auto* unit = static_cast<Unit*>(t->data);
        auto* sup = static_cast<Impl*>(&unit->host);
        sup->guarded(Callback::HealthTimer, unit, [&] { sup->run_health(*unit); });
    }, static_cast<uint64_t>(std::max<int64_t>(delay_ns / 1000000, 1)), 0);
}

void Supervisor::Impl::cancel_health(Unit& u) {
    auto& in = u.inst;
    if (in.health_timer) uv_timer_stop(in.health_timer.get());
    in.health_timer.close();
    if (in.health_poll) uv_poll_stop(in.health_poll.get());
    in.health_poll.close();
    if (in.health_proc) {
        in.health_proc->kill(SIGKILL);
        try {
            in.health_proc->wait();
        } catch (const std::exception& e) {
            spdlog::warn("{}: health check: {}", u.name(), e.what());
        }
        in.health_proc.reset();
    }
    in.health_out.reset();
}

void Supervisor::Impl::run_health(Unit& u) {
    if (!u.running()) return;
    auto& in = u.inst;
    int p[2];
    if (pipe2(p, O_CLOEXEC | O_NONBLOCK) < 0) return schedule_health(u, u.brief.health.interval);
    UniqueFd out(p[0]), in_child(p[1]);
    runtime::ExecSpec es = exec_spec(*u.svc, u.image, u.brief.health.argv);  // as root in "/", in the container's environment
    in.health_started = logs::now_ns();
    try {
        in.health_proc.emplace(in.container->exec(es, runtime::Stdio{-1, in_child.get(), in_child.get()}));
    } catch (const std::exception& e) {
        record_health(u, 1, e.what());
        return;
    }
    in_child.reset();
    in.health_out = std::move(out);
    in.health_poll.make([this, &u](uv_poll_t* h) { uv_poll_init(&loop, h, u.inst.health_proc->pidfd()); }, &u);
    uv_poll_start(in.health_poll.get(), UV_READABLE, [](uv_poll_t* h, int, int) {
        auto* unit = static_cast<Unit*>(h->data);
        auto* sup = static_cast<Impl*>(&unit->host);
        sup->guarded(Callback::HealthDone, unit, [&] { sup->health_done(*unit, false); });
    });
    uv_timer_start(in.health_timer.get(), [](uv_timer_t* t) {
        auto* unit = static_cast<Unit*>(t->data);
        auto* sup = static_cast<Impl*>(&unit->host);
        sup->guarded(Callback::HealthDone, unit, [&] { sup->health_done(*unit, true); });
    }, static_cast<uint64_t>(std::max<int64_t>(u.brief.health.timeout / 1000000, 1)), 0);
}

void Supervisor::Impl::health_done(Unit& u, bool timed_out) {
    auto& in = u.inst;
    uv_timer_stop(in.health_timer.get());
    uv_poll_stop(in.health_poll.get());
    in.health_poll.close();
    if (timed_out) in.health_proc->kill(SIGKILL);
    // A wait that fails throws to the callback's guard (guard.cc), which counts the check as failed.
    runtime::ExitStatus st = in.health_proc->wait();
    in.health_proc.reset();
    std::string output;
    char buf[4096];
    ssize_t n;
    while ((n = ::read(in.health_out.get(), buf, sizeof buf)) > 0 && output.size() < 4096)
        output.append(buf, static_cast<size_t>(n));
    in.health_out.reset();
    if (timed_out) output = "Health check exceeded timeout (" + compose::format_duration(u.brief.health.timeout) + ")";
    record_health(u, timed_out ? -1 : st.code, output);
}

void Supervisor::Impl::record_health(Unit& u, int code, const std::string& output) {
    state::HealthResult r;
    r.start = logs::format_time(u.inst.health_started);
    r.end = logs::format_time(logs::now_ns());
    r.exit_code = code;
    r.output = output;
    u.rec.health_log.push_back(r);
    if (u.rec.health_log.size() > 5) u.rec.health_log.erase(u.rec.health_log.begin());
    bool in_start_period = logs::now_ns() - u.started_ns < u.brief.health.start_period;
    if (code == 0) {
        u.inst.health_failures = 0;
        u.set_health(Health::Healthy);
    } else if (!in_start_period) {
        if (++u.inst.health_failures >= u.brief.health.retries) u.set_health(Health::Unhealthy);
    }
    u.save();
    if (u.running())
        schedule_health(u, u.health() == Health::Starting && in_start_period ? u.brief.health.start_interval
                                                                              : u.brief.health.interval);
    schedule();
}

}  // namespace berth::supervisor
