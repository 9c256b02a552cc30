// The supervisor's libuv callbacks failing: what is done for the unit whose
// callback threw, so that the exception never unwinds through uv_run (see
// Impl::guarded), and the test-only fault injection that proves it.
#include "base/error.h"
#include "supervisor/impl.h"

#include <spdlog/spdlog.h>

#include <csignal>
#include <cstdlib>
#include <map>
#include <string_view>

namespace berth::supervisor {
namespace {

const char* callback_name(Callback c) {
    switch (c) {
    case Callback::Timer: return "timer";
    case Callback::Exit: return "exit";
    case Callback::Output: return "output";
    case Callback::HealthTimer: return "health-timer";
    case Callback::HealthDone: return "health-done";
    case Callback::Keeper: return "keeper";
    case Callback::Signal: return "signal";
    }
    return "callback";
}

// Runs `step`; its failure is logged, never thrown (we are handling a failure already).
template <class F>
void try_step(const std::string& who, const char* what, F&& step) noexcept {
    try {
        step();
    } catch (const std::exception& e) {
        spdlog::error("{}: {}: {}", who, what, e.what());
    } catch (...) {
        spdlog::error("{}: {}: unknown exception", who, what);
    }
}

}  // namespace

void Supervisor::Impl::inject_fault(Callback where, const Unit* u) {
    static const char* spec = std::getenv("BERTH_TEST_FAULT");
    static std::map<std::string, long> fired;  // per item: times thrown
    if (!spec || !*spec) return;
    std::string want = std::string(callback_name(where)) + ":" + (u ? u->name() : std::string("*"));
    std::string_view list(spec);
    while (!list.empty()) {
        size_t comma = list.find(',');
        std::string item(list.substr(0, comma));
        size_t at = item.find('@');  // WHERE:CONTAINER@N: only its first N calls
        long times = at == std::string::npos ? -1 : std::strtol(item.c_str() + at + 1, nullptr, 10);
        if (item.substr(0, at) == want && (times < 0 || fired[item]++ < times))
            throw Error("injected fault (BERTH_TEST_FAULT=" + item + ")");
        if (comma == std::string_view::npos) break;
        list.remove_prefix(comma + 1);
    }
}

void Supervisor::Impl::callback_failed(Callback where, Unit* u, const std::string& err) noexcept {
    std::string who = u ? u->name() : "project " + project.name;
    try_step(who, "log", [&] { spdlog::error("{}: {} callback failed: {}", who, callback_name(where), err); });
    if (!u) {
        if (where == Callback::Keeper) try_step(who, "keeper", [&] { keeper_gone(); });
        else if (where == Callback::Signal) try_step(who, "stop", [&] { stop_all(interrupts > 1); });
        return;
    }
    switch (where) {
    case Callback::HealthTimer:
    case Callback::HealthDone:  // a check that could not run or be read counts as failed
        try_step(who, "health check", [&] {
            cancel_health(*u);
            record_health(*u, 1, "health check failed in the supervisor: " + err);
        });
        break;
    case Callback::Exit:
        try_step(who, "exit", [&] { exit_failed(*u, err); });
        break;
    case Callback::Timer:
        try_step(who, "timer", [&] {
            if (u->state() == State::Stopping) signal(*u, SIGKILL);   // its grace is over: its exit is watched
            else if (u->restart_due()) arm_timer(*u, 1000);           // the restart is tried again
        });
        break;
    case Callback::Output:  // the chunk is lost to the log; the next read tries again
    case Callback::Keeper:
    case Callback::Signal:
        break;
    }
    try_step(who, "schedule", [&] {
        answer_waiters();
        schedule();
        check_done();
    });
}

// The container ended (its pidfd said so) but handling it threw: its status is
// made known without a blocking wait and the exit handled once more; should
// that fail too, the unit is marked exited (255) with the error as its reason.
void Supervisor::Impl::exit_failed(Unit& u, const std::string& err) {
    if (u.inst.exit_poll) uv_poll_stop(u.inst.exit_poll.get());
    u.inst.exit_poll.close();
    auto& c = u.inst.container;
    if (!c || c->exited() || !u.running()) return;
    try {
        if (!c->try_wait()) {
            c->kill(SIGKILL);
            c->set_exit(255, 0);  // reaped later by the container's destructor or the keeper
        }
    } catch (const std::exception&) {
        c->set_exit(255, 0);
    }
    try {
        on_exit(u);
        return;
    } catch (const std::exception& e) {
        spdlog::error("{}: exit handled a second time: {}", u.name(), e.what());
    }
    u.rec.exit_reason = "the supervisor failed to handle its exit: " + err;
    u.rec.pid = 0;
    if (u.running()) u.on({Event::Exit, 255});
}

// The keeper's connection broke or could not be read: adopted containers'
// exits come from their pidfds from now on (with an unknown status).
void Supervisor::Impl::keeper_gone() {
    spdlog::warn("project {}: its keeper is gone: the containers' output is lost should this supervisor die", project.name);
    keeper_poll.close();
    keeper.reset();
    for (auto& u : units) {
        auto& c = u->inst.container;
        if (!c || !c->adopted() || c->exited() || c->pidfd() < 0 || u->inst.exit_poll) continue;
        Unit* unit = u.get();
        u->inst.exit_poll.make([this, unit](uv_poll_t* p) { uv_poll_init(&loop, p, unit->inst.container->pidfd()); }, unit);
        uv_poll_start(u->inst.exit_poll.get(), UV_READABLE, [](uv_poll_t* p, int, int) {
            auto* x = static_cast<Unit*>(p->data);
            auto* sup = static_cast<Impl*>(&x->host);
            sup->guarded(Callback::Exit, x, [&] { sup->on_exit(*x); });
        });
    }
}

}  // namespace berth::supervisor
