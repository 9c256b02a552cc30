// supervisor/readiness: when a `depends_on` entry lets its dependent start.
// One pure function, `judge`, over what is observed of the dependency's
// containers; the supervisor observes its units (schedule.cc) and acts on the
// verdict both for a waiting unit and for `berth run`'s one-off (the control op
// wait_dependencies, which cli/run_deps.cc sends). It also owns Health, the
// health check's verdict the units keep and `judge` reads. No kernel call, no
// supervisor type.
#pragma once

#include "compose/model.h"

#include <optional>
#include <string>
#include <vector>

namespace berth::supervisor {

// A container's health check verdict while it runs (None: it has no check, or it does not run);
// the unit keeps it (unit.h), readiness judges by it.
enum class Health { None, Starting, Healthy, Unhealthy };

}  // namespace berth::supervisor

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

enum class HasCheck { Unknown, No, Yes };  // Unknown: the observer cannot tell yet

// One container of the dependency, as its observer sees it.
struct Observed {
    std::string container;           // its name, for the messages
    Phase phase = Phase::Pending;
    bool started = false;            // it has started at least once
    std::optional<int> exit_code;    // its last exit
    Health health = Health::None;    // its health check's verdict while it runs
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

// Whether dependency `service` of `d` (its condition, `required`) is met by its
// `containers` (every one must meet it; none yet is Wait):
// - a Cycling container: Wait, whatever the condition;
// - service_started: it has started once;
// - service_healthy: its check says healthy; unhealthy, exited after a start
//   ("exited (N)", docker's words) or with no healthcheck, it never will be;
// - service_completed_successfully: it exited with 0; another code fails.
Judgement judge(const std::string& service, const compose::Dependency& d, const std::vector<Observed>& containers);

}  // namespace berth::supervisor::readiness
