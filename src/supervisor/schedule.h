// supervisor/schedule: the decisions over a project's units that depend on
// more than one unit: depends_on conditions, what may start, the stop order,
// `restart: true` dependents. Pure: it reads units' states and records.
#pragma once

#include "supervisor/readiness.h"
#include "supervisor/unit.h"

#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

namespace berth::supervisor {

using Units = std::vector<std::unique_ptr<Unit>>;

Unit* unit_of(const Units& units, const std::string& service);

// Whether every container of `service` meets `condition` (service_started,
// service_healthy, service_completed_successfully), as readiness::judge says.
// When it never will, `failure` says why.
bool condition_met(const Units& units, const std::string& service, const std::string& condition, std::string& failure);

enum class Readiness { Ready, Waiting, Failed };
struct Blocker {
    Readiness readiness = Readiness::Ready;
    std::string failure;     // Failed: why
    const Unit* dependency = nullptr;  // Failed: the dependency's unit that failed
    std::vector<std::string> warnings;  // optional (required: false) dependencies that failed
    std::vector<std::string> skipped;   // … their names
};
// Whether `depends_on` lets its dependent start (each dependency judged by readiness::judge). A
// required dependency the project has but runs no container of blocks it (unless no_deps).
// Dependencies named in `skip` are not judged (`berth run`'s wait: optional ones it warned of).
Blocker blocker(const Units& units, const std::map<std::string, compose::Dependency>& depends_on,
                const compose::Project& p, bool no_deps, const std::set<std::string>& skip = {});
// … of unit `u`.
Blocker blocker(const Units& units, const Unit& u, const compose::Project& p, bool no_deps);

// Stopping everything: the running units no running unit depends on (reverse dependency order).
std::vector<Unit*> next_to_stop(const Units& units);

// Running units that depend on `service` with `restart: true`.
std::vector<Unit*> restart_with(const Units& units, const std::string& service);

}  // namespace berth::supervisor
