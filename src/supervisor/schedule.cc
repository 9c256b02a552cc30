#include "supervisor/schedule.h"

namespace berth::supervisor {

Unit* unit_of(const Units& units, const std::string& service) {
    for (auto& u : units)
        if (u->cp.service == service) return u.get();
    return nullptr;
}

bool condition_met(const Units& units, const std::string& service, const std::string& cond, std::string& failure) {
    bool any = false;
    for (auto& u : units) {
        if (u->cp.service != service) continue;
        any = true;
        if (u->restart_after_stop()) return false;  // being restarted: met again once it is back
        if (cond == "service_completed_successfully") {
            if (u->done() && u->rec.exit_code && *u->rec.exit_code != 0) {
                failure = "service \"" + service + "\" didn't complete successfully: exit " + std::to_string(*u->rec.exit_code);
                return false;
            }
            if (!(u->done() && u->rec.exit_code == 0)) return false;
        } else if (cond == "service_healthy") {
            if (u->health() == Health::Unhealthy) {
                failure = "dependency failed to start: container " + u->name() + " is unhealthy";
                return false;
            }
            if (u->done() && u->started_once()) {  // docker's words: "container X exited (1)"
                failure = "dependency failed to start: container " + u->name() + " exited (" +
                          std::to_string(u->rec.exit_code.value_or(-1)) + ")";
                return false;
            }
            if (!u->brief.health.enabled) {
                failure = "dependency service \"" + service + "\" has no healthcheck, so it can never be service_healthy";
                return false;
            }
            if (u->health() != Health::Healthy) return false;
        } else {
            if (!u->started_once()) return false;
        }
    }
    return any;
}

Blocker blocker(const Units& units, const Unit& u, const compose::Project& p, bool no_deps) {
    Blocker b{Readiness::Ready, "", nullptr, {}};
    for (const auto& [dep, d] : u.svc->depends_on) {
        if (!unit_of(units, dep)) {
            if (d.required && !no_deps && p.services.count(dep)) b.readiness = Readiness::Waiting;
            continue;
        }
        std::string failure;
        if (!condition_met(units, dep, d.condition, failure)) {
            if (!failure.empty() && !d.required) {  // an optional dependency that failed: a warning, and go on
                b.warnings.push_back("optional dependency \"" + dep + "\" failed to start: " + failure);
                continue;
            }
            b.readiness = Readiness::Waiting;
            if (!failure.empty()) return {Readiness::Failed, failure, unit_of(units, dep), {}};
        }
    }
    return b;
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
