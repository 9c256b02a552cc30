#include "supervisor/schedule.h"

namespace berth::supervisor {

Unit* unit_of(const Units& units, const std::string& service) {
    for (auto& u : units)
        if (u->cp.service == service) return u.get();
    return nullptr;
}

namespace {

readiness::Phase phase_of(const Unit& u) {
    using readiness::Phase;
    if (u.restart_after_stop()) return Phase::Cycling;
    if (u.running()) return Phase::Running;
    if (u.restart_due()) return Phase::BackOff;
    if (u.done()) return Phase::Exited;
    return Phase::Pending;
}

// `service`'s units and what readiness::judge sees of each.
std::vector<readiness::Observed> observe(const Units& units, const std::string& service, std::vector<const Unit*>& of) {
    std::vector<readiness::Observed> out;
    for (auto& u : units) {
        if (u->cp.service != service) continue;
        of.push_back(u.get());
        out.push_back({u->name(), phase_of(*u), u->started_once(), u->rec.exit_code, u->health(),
                       u->brief.health.enabled ? readiness::HasCheck::Yes : readiness::HasCheck::No});
    }
    return out;
}

}  // namespace

bool condition_met(const Units& units, const std::string& service, const std::string& cond, std::string& failure) {
    std::vector<const Unit*> of;
    compose::Dependency d;
    d.condition = cond;
    auto j = readiness::judge(service, d, observe(units, service, of));
    if (j.verdict == readiness::Verdict::Failed) failure = j.reason;
    return j.verdict == readiness::Verdict::Satisfied;
}

Blocker blocker(const Units& units, const std::map<std::string, compose::Dependency>& depends_on,
                const compose::Project& p, bool no_deps, const std::set<std::string>& skip) {
    Blocker b{Readiness::Ready, "", nullptr, {}, {}};
    for (const auto& [dep, d] : depends_on) {
        if (skip.count(dep)) continue;
        if (!unit_of(units, dep)) {
            if (d.required && !no_deps && p.services.count(dep)) b.readiness = Readiness::Waiting;
            continue;
        }
        std::vector<const Unit*> of;
        auto j = readiness::judge(dep, d, observe(units, dep, of));
        switch (j.verdict) {
        case readiness::Verdict::Satisfied: break;
        case readiness::Verdict::Wait: b.readiness = Readiness::Waiting; break;
        case readiness::Verdict::Skipped: b.warnings.push_back(j.reason), b.skipped.push_back(dep); break;
        case readiness::Verdict::Failed:
            b.readiness = Readiness::Failed, b.failure = j.reason, b.dependency = of[j.failed];
            return b;
        }
    }
    return b;
}

Blocker blocker(const Units& units, const Unit& u, const compose::Project& p, bool no_deps) {
    return blocker(units, u.svc->depends_on, p, no_deps);
}

std::vector<Unit*> next_to_stop(const Units& units) {
    std::vector<Unit*> out;
    for (auto& u : units) {
        if (!u->running() || u->state() == State::Stopping) continue;
        bool dependents_running = false;
        for (auto& other : units)
            if (other->running() && other->svc->depends_on.count(u->cp.service)) dependents_running = true;
        if (!dependents_running) out.push_back(u.get());
    }
    return out;
}

std::vector<Unit*> restart_with(const Units& units, const std::string& service) {
    std::vector<Unit*> out;
    for (auto& u : units) {
        auto it = u->svc->depends_on.find(service);
        if (it != u->svc->depends_on.end() && it->second.restart && u->running()) out.push_back(u.get());
    }
    return out;
}

}  // namespace berth::supervisor
