#include "supervisor/readiness.h"

namespace berth::supervisor::readiness {
namespace {

std::string code_of(const Observed& c) { return std::to_string(c.exit_code.value_or(-1)); }

// One container against the condition: Satisfied, Wait or Failed (with why).
Judgement one(const std::string& service, Condition cond, const Observed& c) {
    if (c.phase == Phase::Cycling) return {Verdict::Wait, "", -1};  // met again once it is back
    auto fail = [](std::string why) { return Judgement{Verdict::Failed, std::move(why), -1}; };
    switch (cond) {
    case Condition::CompletedSuccessfully:
        if (c.phase == Phase::Exited && c.exit_code && *c.exit_code != 0)
            return fail("service \"" + service + "\" didn't complete successfully: exit " + code_of(c));
        if (c.phase == Phase::Exited && c.exit_code == 0) return {Verdict::Satisfied, "", -1};
        return {Verdict::Wait, "", -1};
    case Condition::Healthy:
        if (c.health == Health::Unhealthy)
            return fail("dependency failed to start: container " + c.container + " is unhealthy");
        if (c.phase == Phase::Exited && c.started)  // docker's words: "container X exited (1)"
            return fail("dependency failed to start: container " + c.container + " exited (" + code_of(c) + ")");
        if (c.healthcheck == HasCheck::No)
            return fail("dependency service \"" + service + "\" has no healthcheck, so it can never be service_healthy");
        if (c.health == Health::Healthy) return {Verdict::Satisfied, "", -1};
        return {Verdict::Wait, "", -1};
    case Condition::Started:
        return {c.started ? Verdict::Satisfied : Verdict::Wait, "", -1};
    }
    return {Verdict::Wait, "", -1};
}

}  // namespace

Condition condition_of(const std::string& name) {
    if (name == "service_healthy") return Condition::Healthy;
    if (name == "service_completed_successfully") return Condition::CompletedSuccessfully;
    return Condition::Started;
}

Judgement judge(const std::string& service, const compose::Dependency& d, const std::vector<Observed>& containers) {
    Condition cond = condition_of(d.condition);
    bool all = !containers.empty();
    for (size_t i = 0; i < containers.size(); ++i) {
        Judgement j = one(service, cond, containers[i]);
        if (j.verdict == Verdict::Failed) {
            j.failed = static_cast<int>(i);
            if (!d.required) {  // an optional dependency that failed: a warning, and go on
                j.verdict = Verdict::Skipped;
                j.reason = "optional dependency \"" + service + "\" failed to start: " + j.reason;
            }
            return j;
        }
        all &= j.verdict == Verdict::Satisfied;
    }
    return {all ? Verdict::Satisfied : Verdict::Wait, "", -1};
}

}  // namespace berth::supervisor::readiness
