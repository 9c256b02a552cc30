#include "supervisor/readiness.h"

#include <doctest/doctest.h>

using namespace berth;
using namespace berth::supervisor::readiness;
using berth::supervisor::Health;

namespace {

compose::Dependency dep(const char* condition, bool required = true) {
    compose::Dependency d;
    d.condition = condition;
    d.required = required;
    return d;
}

Observed seen(Phase phase, bool started, std::optional<int> code = std::nullopt, Health health = Health::None,
              HasCheck check = HasCheck::Yes) {
    return {"shop-db-1", phase, started, code, health, check};
}

Verdict verdict(const char* condition, const Observed& o) { return judge("db", dep(condition), {o}).verdict; }

}  // namespace

TEST_CASE("condition names") {
    CHECK(condition_of("service_started") == Condition::Started);
    CHECK(condition_of("service_healthy") == Condition::Healthy);
    CHECK(condition_of("service_completed_successfully") == Condition::CompletedSuccessfully);
}

TEST_CASE("no container yet: wait, whatever the condition") {
    for (const char* c : {"service_started", "service_healthy", "service_completed_successfully"})
        CHECK(judge("db", dep(c), {}).verdict == Verdict::Wait);
}

TEST_CASE("service_started: met once it has started, running or not") {
    CHECK(verdict("service_started", seen(Phase::Pending, false)) == Verdict::Wait);
    CHECK(verdict("service_started", seen(Phase::Running, true)) == Verdict::Satisfied);
    CHECK(verdict("service_started", seen(Phase::Exited, true, 1)) == Verdict::Satisfied);
    CHECK(verdict("service_started", seen(Phase::BackOff, true, 1)) == Verdict::Satisfied);
    // A `restart: true` dependent waits again while its dependency is being restarted.
    CHECK(verdict("service_started", seen(Phase::Cycling, true)) == Verdict::Wait);
}

TEST_CASE("service_healthy") {
    const char* c = "service_healthy";
    CHECK(verdict(c, seen(Phase::Pending, false)) == Verdict::Wait);
    CHECK(verdict(c, seen(Phase::Running, true, {}, Health::Starting)) == Verdict::Wait);
    CHECK(verdict(c, seen(Phase::Running, true, {}, Health::Healthy)) == Verdict::Satisfied);
    CHECK(verdict(c, seen(Phase::Cycling, true, {}, Health::Healthy)) == Verdict::Wait);
    // The restart policy brings it back: wait for its next check.
    CHECK(verdict(c, seen(Phase::BackOff, true, 1)) == Verdict::Wait);

    Judgement j = judge("db", dep(c), {seen(Phase::Running, true, {}, Health::Unhealthy)});
    CHECK(j.verdict == Verdict::Failed);
    CHECK(j.reason == "dependency failed to start: container shop-db-1 is unhealthy");
    CHECK(j.failed == 0);

    // Exited before it was healthy: docker's words, with its exit code.
    j = judge("db", dep(c), {seen(Phase::Exited, true, 1)});
    CHECK(j.verdict == Verdict::Failed);
    CHECK(j.reason == "dependency failed to start: container shop-db-1 exited (1)");
    CHECK(judge("db", dep(c), {seen(Phase::Exited, true)}).reason == "dependency failed to start: container shop-db-1 exited (-1)");

    // No healthcheck: it can never be healthy, known before it runs (the supervisor) or once it runs (a record).
    for (Phase p : {Phase::Pending, Phase::Running}) {
        j = judge("db", dep(c), {seen(p, p == Phase::Running, {}, Health::None, HasCheck::No)});
        CHECK(j.verdict == Verdict::Failed);
        CHECK(j.reason == "dependency service \"db\" has no healthcheck, so it can never be service_healthy");
    }
    // An observer that cannot tell yet waits.
    CHECK(verdict(c, seen(Phase::Running, true, {}, Health::None, HasCheck::Unknown)) == Verdict::Wait);
}

TEST_CASE("service_completed_successfully") {
    const char* c = "service_completed_successfully";
    CHECK(verdict(c, seen(Phase::Pending, false)) == Verdict::Wait);
    CHECK(verdict(c, seen(Phase::Running, true)) == Verdict::Wait);
    CHECK(verdict(c, seen(Phase::BackOff, true, 2)) == Verdict::Wait);  // its policy runs it again
    CHECK(verdict(c, seen(Phase::Cycling, true, 0)) == Verdict::Wait);
    CHECK(verdict(c, seen(Phase::Exited, true, 0)) == Verdict::Satisfied);
    Judgement j = judge("job", dep(c), {seen(Phase::Exited, true, 2)});
    CHECK(j.verdict == Verdict::Failed);
    CHECK(j.reason == "service \"job\" didn't complete successfully: exit 2");
}

TEST_CASE("required: false: a failure is a warning, and the dependent goes on") {
    Judgement j = judge("bar", dep("service_healthy", false), {seen(Phase::Running, true, {}, Health::None, HasCheck::No)});
    CHECK(j.verdict == Verdict::Skipped);
    CHECK(j.reason ==
          "optional dependency \"bar\" failed to start: dependency service \"bar\" has no healthcheck, so it can never be "
          "service_healthy");
    // Only a failure is skipped: an optional dependency not ready yet is still waited for.
    CHECK(judge("bar", dep("service_healthy", false), {seen(Phase::Running, true, {}, Health::Starting)}).verdict ==
          Verdict::Wait);
    CHECK(judge("bar", dep("service_started", false), {seen(Phase::Running, true)}).verdict == Verdict::Satisfied);
}

TEST_CASE("every container of the dependency must meet the condition") {
    auto d = dep("service_healthy");
    Observed healthy = seen(Phase::Running, true, {}, Health::Healthy);
    Observed starting = seen(Phase::Running, true, {}, Health::Starting);
    CHECK(judge("db", d, {healthy, healthy}).verdict == Verdict::Satisfied);
    CHECK(judge("db", d, {healthy, starting}).verdict == Verdict::Wait);
    Observed sick = seen(Phase::Running, true, {}, Health::Unhealthy);
    sick.container = "shop-db-2";
    Judgement j = judge("db", d, {starting, sick});  // one that never will: failed, whatever the others do
    CHECK(j.verdict == Verdict::Failed);
    CHECK(j.failed == 1);
    CHECK(j.reason == "dependency failed to start: container shop-db-2 is unhealthy");
}
