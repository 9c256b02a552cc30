#include "supervisor/unit.h"

#include <algorithm>
#include <csignal>

namespace berth::supervisor {
namespace {
constexpr int64_t kSecond = 1000000000;
}

const char* state_text(State s) {
    switch (s) {
    case State::Created:
    case State::Waiting: return "created";
    case State::Starting: return "starting";
    case State::Running: return "running";
    case State::Paused: return "paused";
    case State::Stopping: return "stopping";
    case State::Restarting: return "restarting";
    case State::Exited: return "exited";
    }
    return "";
}

const char* health_text(Health h) {
    switch (h) {
    case Health::None: return "";
    case Health::Starting: return "starting";
    case Health::Healthy: return "healthy";
    case Health::Unhealthy: return "unhealthy";
    }
    return "";
}

Unit::Unit(UnitHost& h, plan::ContainerPlan c, const compose::Service* s, plan::ServicePlan b)
    : host(h), cp(std::move(c)), svc(s), brief(std::move(b)) {}

// Waiting keeps the record's state: the container is as it was until it starts.
void Unit::set(State s) {
    state_ = s;
    if (s != State::Waiting) rec.state = state_text(s);
}

void Unit::set_health(Health h) {
    health_ = h;
    rec.health = health_text(h);
}

void Unit::mark_starting() {
    disk_ = Disk::Keep;  // made now: the next start keeps it
    set(State::Starting);
    save();
}

void Unit::adopt(bool paused) {
    ++starts_;
    started_ns = host.now_ns();
    set(paused ? State::Paused : State::Running);
    set_health(brief.health.enabled ? Health::Starting : Health::None);
    save();
}

bool Unit::on(const Event& e) {
    if (e.recreate) disk_ = Disk::New;
    switch (e.kind) {
    case Event::Wait:
        rec.stopped_by_user = false;
        if (e.by_user) backoff_ms_ = 100;  // `start` of what depends on others: as Go by_user does
        set(State::Waiting);
        return true;
    case Event::Go:
        if (e.by_user) {  // `start`: a user's earlier stop and the backoff are forgotten
            rec.stopped_by_user = false;
            backoff_ms_ = 100;
        }
        return start();
    case Event::Hold:
        if (state_ == State::Waiting) state_ = State::Created;
        return true;
    case Event::Exit:
        exited(e.code);
        return true;
    case Event::Stop:
        stop(e.grace_s, e.by_user);
        return true;
    case Event::Restart:
        if (running()) {
            // A dependent already restarting to wait for its dependency keeps waiting.
            bool waits = e.wait_deps || (state_ == State::Stopping && after_stop_ == AfterStop::Wait);
            stop(e.grace_s, e.by_user);
            after_stop_ = waits ? AfterStop::Wait : AfterStop::Start;
        } else if (!restart_due()) {
            rec.stopped_by_user = false;
            if (e.wait_deps) {  // started by the scheduler once its dependencies are met again
                set(State::Waiting);
                return true;
            }
            return start();
        }
        return true;
    case Event::Recreate:
        disk_ = Disk::New;
        if (running()) {
            stop(e.grace_s, true);
            after_stop_ = AfterStop::Create;
        } else {
            if (restart_due()) host.cancel_timer(*this);
            rec.stopped_by_user = false;
            set(State::Created);
            save();
        }
        return true;
    case Event::Timer:
        if (state_ == State::Restarting) {
            if (!host.stopping_all()) return start();
            set(State::Exited);
            save();
        } else if (running()) {
            host.signal(*this, SIGKILL);  // the stop grace period is over
        }
        return true;
    case Event::Pause:
        if (state_ == State::Running) set(State::Paused), save();
        return true;
    case Event::Unpause:
        if (state_ == State::Paused) set(State::Running), save();
        return true;
    }
    return true;
}

// False when it cannot start: then it is exited (127) with the error as its exit reason.
bool Unit::start() {
    state_ = State::Starting;
    try {
        host.launch(*this);
    } catch (const std::exception& e) {
        rec.exit_code = 127;  // as docker reports a container that could not start
        rec.exit_reason = e.what();
        rec.pid = 0;
        rec.finished_at = logs::format_time(host.now_ns());
        launch_failed_ = true;
        set(State::Exited);
        save();
        host.start_failed(*this);
        return false;
    }
    launch_failed_ = false;
    ++starts_;
    started_ns = host.now_ns();
    rec.started_at = logs::format_time(started_ns);
    rec.exit_code.reset();
    rec.exit_reason.clear();
    set(State::Running);
    set_health(brief.health.enabled ? Health::Starting : Health::None);
    save();
    host.started(*this);
    return true;
}

void Unit::exited(int code) {
    rec.exit_code = code;
    set_health(Health::None);
    host.cancel_timer(*this);
    AfterStop then = state_ == State::Stopping ? after_stop_ : AfterStop::Exit;
    after_stop_ = AfterStop::Exit;
    if (then == AfterStop::Create) {  // `create` recreated it: made anew by its next start
        rec.stopped_by_user = false;
        set(State::Created);
        save();
        return;
    }
    if (then != AfterStop::Exit && !host.stopping_all()) {
        rec.stopped_by_user = false;
        set(State::Exited);
        save();
        if (then == AfterStop::Wait) set(State::Waiting);  // the scheduler starts it once its dependencies are met
        else start();
        return;
    }
    bool ran_long = host.now_ns() - started_ns > 10 * kSecond;
    if (ran_long) backoff_ms_ = 100;
    if (!host.stopping_all() && !rec.stopped_by_user && brief.restart.should_restart(code, rec.restarts)) {
        set(State::Restarting);
        rec.restarts++;
        save();
        host.restart_dependents(*this);
        host.arm_timer(*this, brief.restart.delay_ms.value_or(backoff_ms_));
        backoff_ms_ = std::min<int64_t>(backoff_ms_ * 2, 60000);
    } else {
        set(State::Exited);
        save();
    }
}

void Unit::stop(int grace_s, bool by_user) {
    rec.stopped_by_user = by_user || rec.stopped_by_user;
    if (state_ == State::Restarting) {  // a restart was due: cancel it
        host.cancel_timer(*this);
        set(State::Exited);
        save();
        return;
    }
    if (state_ == State::Waiting) state_ = State::Created;
    if (!running()) return;
    after_stop_ = AfterStop::Exit;  // a restart's stop that the user (or `down`) stops: it stays stopped
    if (state_ == State::Paused) host.thaw(*this);  // a frozen process cannot take its stop signal
    set(State::Stopping);
    save();
    host.signal(*this, brief.stop_signal);
    if (grace_s <= 0) {
        host.signal(*this, SIGKILL);
        return;
    }
    host.arm_timer(*this, static_cast<int64_t>(grace_s) * 1000);
}

}  // namespace berth::supervisor
