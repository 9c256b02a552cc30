// supervisor/readiness: when a `depends_on` entry lets its dependent start.
// One pure function, `judge`, over what is observed of the dependency's
// containers; the supervisor observes its units (schedule.cc), `berth run`
// observes the project's state records (observe_record, for cli/run_deps.cc),
// and both act on the same verdict and the same words. No kernel call, no
// supervisor type.
#pragma once

#include "compose/model.h"
#include "state/state.h"

#include <optional>
#include <string>
#include <vector>

namespace berth::supervisor::readiness {

enum class Condition { Started, Healthy, CompletedSuccessfully };

// "service_started", "service_healthy", "service_completed_successfully"
// (compose checks the name at load; anything else reads as service_started).
Condition condition_of(const std::string& name);

enum class Phase {
    Pending,   // not started yet (created, waiting for its own dependencies, being created)
    Running,   // its process runs (paused or stopping included)
    Cycling,   // stopped to be started again (`restart`, a recreate, its dependency's restart)
    BackOff,   // exited; its restart policy starts it again after a wait
    Exited,    // exited, and nothing brings it back
};

enum class Probe { None, Starting, Healthy, Unhealthy };
enum class HasCheck { Unknown, No, Yes };  // Unknown: the observer cannot tell yet

// One container of the dependency, as its observer sees it.
struct Observed {
    std::string container;           // its name, for the messages
    Phase phase = Phase::Pending;
    bool started = false;            // it has started at least once
    std::optional<int> exit_code;    // its last exit
    Probe health = Probe::None;      // its health check's verdict while it runs
    HasCheck healthcheck = HasCheck::Unknown;
};

enum class Verdict {
    Satisfied,  // the dependent may start
    Wait,       // not yet
    Failed,     // never will: a required dependency; `reason` says why
    Skipped,    // never will, but it is `required: false`: go on; `reason` is the warning
};

struct Judgement {
    Verdict verdict = Verdict::Wait;
    std::string reason;
    int failed = -1;  // Failed, Skipped: the index in `containers` of the one that failed
};

// What a state record says of a container (`alive`: its recorded process still
// runs), for an observer outside the supervisor (`berth run`). The supervisor
// records "starting" health with the state "running" when the service has a
// healthcheck, so a running record without one has none.
Observed observe_record(const state::ContainerRecord& r, bool alive);

// Whether dependency `service` of `d` (its condition, `required`) is met by its
// `containers` (every one must meet it; none yet is Wait):
// - a Cycling container: Wait, whatever the condition;
// - service_started: it has started once;
// - service_healthy: its check says healthy; unhealthy, exited after a start
//   ("exited (N)", docker's words) or with no healthcheck, it never will be;
// - service_completed_successfully: it exited with 0; another code fails.
Judgement judge(const std::string& service, const compose::Dependency& d, const std::vector<Observed>& containers);

}  // namespace berth::supervisor::readiness
