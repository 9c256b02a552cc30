// The Unit state machine and the scheduling decisions, driven through a fake
// UnitHost: no container, no kernel, no loop.
#include "base/error.h"
#include "supervisor/schedule.h"
#include "supervisor/unit.h"

#include <doctest/doctest.h>

#include <csignal>

using namespace berth;
using namespace berth::supervisor;

namespace {

constexpr int64_t kS = 1000000000;

struct FakeHost : UnitHost {
    std::vector<std::string> calls;
    std::vector<int64_t> timers;  // armed, in ms
    std::vector<int> signals;
    std::vector<std::string> restarted_with;
    bool fail_launch = false;
    bool stopping = false;
    int launches = 0, saves = 0, failures = 0;
    int64_t now = 1000 * kS;

    void launch(Unit& u) override {
        ++launches;
        if (fail_launch) throw Error("mount /data: No such file or directory");
        u.mark_starting();
        u.rec.pid = 4242;
    }
    void started(Unit&) override { calls.push_back("started"); }
    void signal(Unit&, int sig) override { signals.push_back(sig); }
    void thaw(Unit&) override { calls.push_back("thaw"); }
    void arm_timer(Unit&, int64_t ms) override { timers.push_back(ms); }
    void cancel_timer(Unit&) override { calls.push_back("cancel_timer"); }
    void changed(Unit&) override { ++saves; }
    bool stopping_all() const override { return stopping; }
    void restart_dependents(Unit& u) override { restarted_with.push_back(u.cp.service); }
    void start_failed(Unit&) override { ++failures; }
    int64_t now_ns() const override { return now; }
};

compose::Project project_of(std::map<std::string, compose::Service> services) {
    compose::Project p;
    p.name = "shop";
    for (auto& [n, s] : services) {
        s.name = n;
        s.image = "busybox";
        p.services[n] = s;
    }
    return p;
}

std::unique_ptr<Unit> unit(FakeHost& h, const compose::Project& p, const std::string& service) {
    plan::ContainerPlan cp{service, 1, "shop-" + service + "-1"};
    auto u = std::make_unique<Unit>(h, cp, &p.services.at(service), plan::resolve(p, service));
    u->rec.name = cp.name;
    u->rec.service = service;
    return u;
}

compose::Service with_restart(const std::string& policy) {
    compose::Service s;
    s.restart = policy;
    return s;
}

}  // namespace

TEST_CASE("a unit waits, starts and runs; its record follows") {
    FakeHost h;
    auto p = project_of({{"web", {}}});
    auto u = unit(h, p, "web");
    CHECK(u->state() == State::Created);
    u->on({Event::Wait});
    CHECK(u->pending());
    CHECK(u->live());
    CHECK(u->on({Event::Go}));
    CHECK(u->state() == State::Running);
    CHECK(u->rec.state == "running");
    CHECK(u->started_once());
    CHECK(h.calls.back() == "started");
    u->on({Event::Exit, 0});
    CHECK(u->state() == State::Exited);
    CHECK(u->done());
    CHECK_FALSE(u->live());
    CHECK(h.timers.empty());  // restart: no
}

TEST_CASE("restart backoff doubles up to a minute and resets after a long run") {
    FakeHost h;
    auto p = project_of({{"web", with_restart("always")}});
    auto u = unit(h, p, "web");
    u->on({Event::Go});
    for (int i = 0; i < 12; ++i) {
        h.now += kS;  // a short run
        u->on({Event::Exit, 1});
        CHECK(u->state() == State::Restarting);
        CHECK(u->rec.state == "restarting");
        CHECK(u->restart_due());
        u->on({Event::Timer});
        CHECK(u->state() == State::Running);
    }
    REQUIRE(h.timers.size() == 12);
    CHECK(h.timers[0] == 100);
    CHECK(h.timers[1] == 200);
    CHECK(h.timers[2] == 400);
    CHECK(h.timers[10] == 60000);
    CHECK(h.timers[11] == 60000);
    CHECK(u->rec.restarts == 12);
    CHECK(h.restarted_with.size() == 12);  // dependents with restart: true go with it
    h.now += 11 * kS;  // ran more than 10 s: the backoff starts again
    u->on({Event::Exit, 1});
    CHECK(h.timers.back() == 100);
}

TEST_CASE("on-failure restarts failures only, up to its count") {
    FakeHost h;
    auto p = project_of({{"job", with_restart("on-failure:2")}, {"ok", with_restart("on-failure")}});
    auto u = unit(h, p, "job");
    u->on({Event::Go});
    u->on({Event::Exit, 3});
    CHECK(u->restart_due());
    u->on({Event::Timer});
    u->on({Event::Exit, 3});
    CHECK(u->restart_due());
    u->on({Event::Timer});
    u->on({Event::Exit, 3});
    CHECK(u->done());
    CHECK(u->rec.restarts == 2);
    auto ok = unit(h, p, "ok");
    ok->on({Event::Go});
    ok->on({Event::Exit, 0});
    CHECK(ok->done());
}

TEST_CASE("a user's stop is final: no restart policy brings it back") {
    FakeHost h;
    auto s = with_restart("always");
    s.stop_signal = "SIGQUIT";
    auto p = project_of({{"web", s}});
    auto u = unit(h, p, "web");
    u->on({Event::Go});
    u->on({Event::Stop, 0, 5, true});
    CHECK(u->state() == State::Stopping);
    CHECK(u->running());
    CHECK(h.signals == std::vector<int>{SIGQUIT});
    CHECK(h.timers.back() == 5000);
    u->on({Event::Timer});  // the grace period is over
    CHECK(h.signals.back() == SIGKILL);
    u->on({Event::Exit, 137});
    CHECK(u->done());
    CHECK(u->rec.stopped_by_user);
    // `start` clears it: then the policy applies again.
    u->rec.stopped_by_user = false;
    CHECK(u->on({Event::Go}));
    u->on({Event::Exit, 1});
    CHECK(u->restart_due());
    // A stop while a restart is due cancels it.
    u->on({Event::Stop, 0, 10, true});
    CHECK(u->done());
    CHECK(h.calls.back() == "cancel_timer");
}

TEST_CASE("stop with no grace kills at once; a paused one is thawed first") {
    FakeHost h;
    auto p = project_of({{"web", {}}});
    auto u = unit(h, p, "web");
    u->on({Event::Go});
    u->on({Event::Pause});
    CHECK(u->rec.state == "paused");
    u->on({Event::Stop, 0, 0, false});
    CHECK(h.calls.back() == "thaw");
    CHECK(h.signals == std::vector<int>{SIGTERM, SIGKILL});
    CHECK(h.timers.empty());
}

TEST_CASE("restart: stop, then start again at once, whatever the policy") {
    FakeHost h;
    auto p = project_of({{"web", {}}});
    auto u = unit(h, p, "web");
    u->on({Event::Go});
    u->on({Event::Restart, 0, 10, true});
    CHECK(u->state() == State::Stopping);
    CHECK(u->restart_after_stop());
    u->on({Event::Exit, 143});
    CHECK(u->state() == State::Running);
    CHECK(h.launches == 2);
    CHECK_FALSE(u->rec.stopped_by_user);
    // Stopping everything: the restart does not happen.
    u->on({Event::Restart, 0, 10, true});
    h.stopping = true;
    u->on({Event::Exit, 143});
    CHECK(u->done());
    CHECK(h.launches == 2);
}

TEST_CASE("a one-off's dependencies, judged as a unit's: optional failures warn and are skipped") {
    FakeHost h;
    compose::Service db, cache, plain;
    db.healthcheck = compose::Healthcheck{};
    db.healthcheck->test = {"CMD", "true"};
    auto p = project_of({{"db", db}, {"cache", cache}, {"plain", plain}});
    Units units;
    for (const char* n : {"db", "cache"}) units.push_back(unit(h, p, n));
    Unit& udb = *units[0];
    Unit& ucache = *units[1];
    std::map<std::string, compose::Dependency> deps;  // what `berth run` sends: the one-off's depends_on
    deps["db"].condition = "service_healthy";
    deps["cache"].condition = "service_healthy";
    deps["cache"].required = false;
    for (auto& u : units) u->on({Event::Go});
    Blocker b = blocker(units, deps, p, false);
    CHECK(b.readiness == Readiness::Waiting);
    REQUIRE(b.warnings.size() == 1);  // cache has no healthcheck: it never will be healthy, but is optional
    CHECK(b.warnings[0] == "optional dependency \"cache\" failed to start: dependency service \"cache\" has no "
                           "healthcheck, so it can never be service_healthy");
    CHECK(b.skipped == std::vector<std::string>{"cache"});
    // Skipped once, it is not judged again (its warning is not repeated).
    std::set<std::string> skip{"cache"};
    CHECK(blocker(units, deps, p, false, skip).warnings.empty());
    udb.set_health(Health::Healthy);
    CHECK(blocker(units, deps, p, false, skip).readiness == Readiness::Ready);
    // A required one that fails: Failed, the optional one's warning kept beside it.
    udb.set_health(Health::Unhealthy);
    b = blocker(units, deps, p, false);
    CHECK(b.readiness == Readiness::Failed);
    CHECK(b.failure == "dependency failed to start: container shop-db-1 is unhealthy");
    CHECK(b.dependency == &udb);
    CHECK(b.warnings.size() == 1);
    // A dependency the project does not have is not waited for; one it has but runs nothing of is.
    udb.set_health(Health::Healthy);
    deps["gone"] = {};
    CHECK(blocker(units, deps, p, false, skip).readiness == Readiness::Ready);
    deps["plain"] = {};
    CHECK(blocker(units, deps, p, false, skip).readiness == Readiness::Waiting);
    ucache.on({Event::Exit, 0});
    CHECK(blocker(units, deps, p, false, skip).readiness == Readiness::Waiting);  // skipped stays skipped
}

TEST_CASE("a failed launch leaves it exited with code 127 and the error") {
    FakeHost h;
    h.fail_launch = true;
    auto p = project_of({{"web", with_restart("always")}});
    auto u = unit(h, p, "web");
    u->on({Event::Wait});
    CHECK_FALSE(u->on({Event::Go}));
    CHECK(u->done());
    CHECK(u->rec.exit_code == 127);
    CHECK(u->rec.exit_reason == "mount /data: No such file or directory");
    CHECK(h.failures == 1);
    CHECK(h.timers.empty());  // no restart loop on a start that cannot succeed
    CHECK(u->launch_failed());
    h.fail_launch = false;  // `start` again, and it starts: its failure is forgotten
    CHECK(u->on({.kind = Event::Go, .by_user = true}));
    CHECK_FALSE(u->launch_failed());
    u->on({Event::Stop, 0, 0, true});
    u->on({Event::Exit, 137});
    CHECK(u->done());
    CHECK_FALSE(u->launch_failed());  // an exit is no failed launch
}

TEST_CASE("dependency conditions") {
    FakeHost h;
    compose::Service web, db, job, plain;
    web.depends_on["db"].condition = "service_healthy";
    web.depends_on["job"].condition = "service_completed_successfully";
    db.healthcheck = compose::Healthcheck{};
    db.healthcheck->test = {"CMD", "true"};
    auto p = project_of({{"web", web}, {"db", db}, {"job", job}, {"plain", plain}});
    Units units;
    for (const char* n : {"db", "job", "web"}) units.push_back(unit(h, p, n));
    Unit& udb = *units[0];
    Unit& ujob = *units[1];
    Unit& uweb = *units[2];
    for (auto& u : units) u->on({Event::Wait});
    CHECK(blocker(units, uweb, p, false).readiness == Readiness::Waiting);
    udb.on({Event::Go});
    ujob.on({Event::Go});
    CHECK(blocker(units, uweb, p, false).readiness == Readiness::Waiting);  // db is only starting its health
    udb.set_health(Health::Healthy);
    CHECK(blocker(units, uweb, p, false).readiness == Readiness::Waiting);  // job still runs
    ujob.on({Event::Exit, 0});
    CHECK(blocker(units, uweb, p, false).readiness == Readiness::Ready);
    udb.set_health(Health::Unhealthy);
    Blocker b = blocker(units, uweb, p, false);
    CHECK(b.readiness == Readiness::Failed);
    CHECK(b.failure == "dependency failed to start: container shop-db-1 is unhealthy");
    CHECK(b.dependency == &udb);
    udb.set_health(Health::Healthy);
    ujob.on({Event::Go});
    ujob.on({Event::Exit, 2});
    b = blocker(units, uweb, p, false);
    CHECK(b.readiness == Readiness::Failed);
    CHECK(b.failure == "service \"job\" didn't complete successfully: exit 2");
    std::string failure;
    CHECK_FALSE(condition_met(units, "job", "service_healthy", failure));
    CHECK(failure == "dependency failed to start: container shop-job-1 exited (2)");  // docker's words, with the code
    // service_healthy on a service without a health check can never be met.
    ujob.on({Event::Go});
    failure.clear();
    CHECK_FALSE(condition_met(units, "job", "service_healthy", failure));
    CHECK(failure.find("has no healthcheck") != std::string::npos);
    // A required dependency with no container blocks, unless --no-deps.
    compose::Service needs;
    needs.depends_on["plain"] = {};
    auto p2 = project_of({{"needs", needs}, {"plain", plain}});
    Units only;
    only.push_back(unit(h, p2, "needs"));
    CHECK(blocker(only, *only[0], p2, false).readiness == Readiness::Waiting);
    CHECK(blocker(only, *only[0], p2, true).readiness == Readiness::Ready);
}

TEST_CASE("stop order: dependents first; restart: true dependents restart with their dependency") {
    FakeHost h;
    compose::Service web, api, db;
    web.depends_on["api"] = {};
    api.depends_on["db"].restart = true;
    auto p = project_of({{"web", web}, {"api", api}, {"db", db}});
    Units units;
    for (const char* n : {"db", "api", "web"}) units.push_back(unit(h, p, n));
    for (auto& u : units) u->on({Event::Go});
    auto next = next_to_stop(units);
    REQUIRE(next.size() == 1);
    CHECK(next[0]->cp.service == "web");
    next[0]->on({Event::Stop, 0, 10, false});
    CHECK(next_to_stop(units).empty());  // web is stopping but still runs: api waits
    units[2]->on({Event::Exit, 0});
    next = next_to_stop(units);
    REQUIRE(next.size() == 1);
    CHECK(next[0]->cp.service == "api");
    auto with_db = restart_with(units, "db");
    REQUIRE(with_db.size() == 1);
    CHECK(with_db[0]->cp.service == "api");
    CHECK(restart_with(units, "api").empty());  // web depends on api without restart: true
}

TEST_CASE("live restore: an adopted unit runs without a launch; its exit meets its restart policy") {
    FakeHost h;
    auto p = project_of({{"web", with_restart("on-failure")}});
    auto u = unit(h, p, "web");
    u->rec.pid = 777;
    u->rec.restarts = 2;
    u->adopt(false);
    CHECK(h.launches == 0);  // never started again
    CHECK(u->state() == State::Running);
    CHECK(u->rec.state == "running");
    CHECK(u->rec.pid == 777);
    CHECK(u->started_once());
    CHECK(h.calls.empty());  // the supervisor re-adopts its pipes and ports itself (restore.cc)
    u->on({Event::Exit, 3});  // seen from the keeper
    CHECK(u->state() == State::Restarting);
    CHECK(u->rec.exit_code == 3);
    CHECK(u->rec.restarts == 3);  // carried on
    u->on({Event::Timer});
    CHECK(h.launches == 1);
    CHECK(u->state() == State::Running);
}

TEST_CASE("live restore: a paused container is re-adopted paused, and stops like any other") {
    FakeHost h;
    auto p = project_of({{"db", {}}});
    auto u = unit(h, p, "db");
    u->adopt(true);
    CHECK(u->state() == State::Paused);
    CHECK(u->running());
    u->on({Event::Stop, 5, 5, true});
    CHECK(h.calls.back() == "thaw");  // a frozen process cannot take its stop signal
    CHECK(u->state() == State::Stopping);
    u->on({Event::Exit, 0});
    CHECK(u->done());
}

// branch arch (issue 12): the flags folded into the state machine (AfterStop, Disk, `start` by the user).
TEST_CASE("a restart's stop is Stopping with AfterStop::Start; a user's stop then makes it final") {
    FakeHost h;
    auto p = project_of({{"web", with_restart("always")}});
    auto u = unit(h, p, "web");
    u->on({Event::Go});
    u->on({.kind = Event::Restart, .grace_s = 10, .by_user = true});
    CHECK(u->state() == State::Stopping);
    CHECK(u->restart_after_stop());
    u->on({.kind = Event::Stop, .grace_s = 10, .by_user = true});
    CHECK(u->state() == State::Stopping);
    CHECK_FALSE(u->restart_after_stop());
    u->on({Event::Exit, 143});
    CHECK(u->done());  // neither the restart nor `restart: always` brings it back
    CHECK(u->rec.stopped_by_user);
    CHECK(h.launches == 1);
    CHECK(h.timers == std::vector<int64_t>{10000, 10000});
}

TEST_CASE("recreate: the next start makes a new filesystem, once; a failed start keeps asking for it") {
    FakeHost h;
    auto p = project_of({{"web", {}}});
    auto u = unit(h, p, "web");
    CHECK(u->disk() == Disk::Keep);
    u->on({.kind = Event::Wait, .recreate = true});
    CHECK(u->disk() == Disk::New);
    h.fail_launch = true;
    CHECK_FALSE(u->on({Event::Go}));
    CHECK(u->disk() == Disk::New);  // launch threw before making it
    h.fail_launch = false;
    CHECK(u->on({Event::Go}));
    CHECK(u->disk() == Disk::Keep);  // made by this start
    // A recreate of a running one: stopped, then started on a new filesystem.
    u->on({.kind = Event::Restart, .grace_s = 5, .by_user = true, .recreate = true});
    CHECK(u->disk() == Disk::New);
    CHECK(u->restart_after_stop());
    u->on({Event::Exit, 143});
    CHECK(u->state() == State::Running);
    CHECK(u->disk() == Disk::Keep);
    // A plain restart keeps the filesystem.
    u->on({.kind = Event::Restart, .grace_s = 5, .by_user = true});
    CHECK(u->disk() == Disk::Keep);
}

TEST_CASE("`create` while up recreates: stopped, then Created with a new filesystem; no policy restarts it") {
    FakeHost h;
    auto p = project_of({{"web", with_restart("always")}});
    auto u = unit(h, p, "web");
    u->on({Event::Go});
    u->on({.kind = Event::Recreate, .grace_s = 3, .by_user = true});
    CHECK(u->state() == State::Stopping);
    CHECK(u->disk() == Disk::New);
    CHECK(h.signals.size() == 1);  // its stop signal; SIGKILL only when the grace timer fires
    CHECK(h.timers.back() == 3000);
    u->on({Event::Exit, 143});
    CHECK(u->state() == State::Created);
    CHECK(u->rec.state == "created");
    CHECK_FALSE(u->rec.stopped_by_user);
    CHECK(h.launches == 1);  // not started again, `restart: always` notwithstanding
    u->on({Event::Go});      // a later `start`: on the new filesystem
    CHECK(h.launches == 2);
    CHECK(u->disk() == Disk::Keep);
    // An exited one is made Created at once.
    u->on({.kind = Event::Stop, .grace_s = 0, .by_user = true});
    u->on({Event::Exit, 137});
    CHECK(u->done());
    u->on({.kind = Event::Recreate, .grace_s = 3, .by_user = true});
    CHECK(u->state() == State::Created);
    CHECK(u->disk() == Disk::New);
}

TEST_CASE("`start` by the user forgets the user's stop and the backoff") {
    FakeHost h;
    auto p = project_of({{"web", with_restart("always")}});
    auto u = unit(h, p, "web");
    u->on({Event::Go});
    for (int i = 0; i < 3; ++i) {
        h.now += kS;
        u->on({Event::Exit, 1});
        u->on({Event::Timer});
    }
    CHECK(u->backoff_ms() == 800);
    u->on({.kind = Event::Stop, .grace_s = 1, .by_user = true});
    u->on({Event::Exit, 137});
    CHECK(u->rec.stopped_by_user);
    CHECK(u->on({.kind = Event::Go, .by_user = true}));
    CHECK_FALSE(u->rec.stopped_by_user);
    CHECK(u->backoff_ms() == 100);
    h.now += kS;
    u->on({Event::Exit, 1});
    CHECK(u->restart_due());
    CHECK(h.timers.back() == 100);
    // The scheduler's Go (dependencies met) keeps both.
    u->on({Event::Timer});
    h.now += kS;
    u->on({Event::Exit, 1});
    CHECK(h.timers.back() == 200);
}

TEST_CASE("depends_on restart: true: the dependent stops and waits until its dependency is back and healthy") {
    FakeHost h;
    compose::Service web, db;
    web.depends_on["db"].condition = "service_healthy";
    web.depends_on["db"].restart = true;
    db.healthcheck = compose::Healthcheck{};
    db.healthcheck->test = {"CMD", "true"};
    auto p = project_of({{"web", web}, {"db", db}});
    Units units;
    for (const char* n : {"db", "web"}) units.push_back(unit(h, p, n));
    Unit& udb = *units[0];
    Unit& uweb = *units[1];
    udb.on({Event::Go});
    udb.set_health(Health::Healthy);
    uweb.on({Event::Go});
    REQUIRE(restart_with(units, "db") == std::vector<Unit*>{&uweb});
    udb.on({Event::Restart, 0, 10, true});
    uweb.on({.kind = Event::Restart, .grace_s = 10, .by_user = true, .wait_deps = true});
    CHECK(uweb.state() == State::Stopping);
    // db, stopping to restart, meets no condition even though it was healthy a moment ago.
    CHECK(blocker(units, uweb, p, false).readiness == Readiness::Waiting);
    uweb.on({Event::Exit, 0});
    CHECK(uweb.pending());  // waits, not started at once
    CHECK(uweb.rec.state == "exited");
    int launches = h.launches;
    udb.on({Event::Exit, 0});  // db starts again at once (restart asked), its health starting
    CHECK(h.launches == launches + 1);
    CHECK(udb.health() == Health::Starting);
    CHECK(blocker(units, uweb, p, false).readiness == Readiness::Waiting);
    udb.set_health(Health::Healthy);
    CHECK(blocker(units, uweb, p, false).readiness == Readiness::Ready);
    CHECK(uweb.on({Event::Go}));
    CHECK(uweb.state() == State::Running);
}

TEST_CASE("Restart with wait_deps of a unit that does not run: it waits for its dependencies") {
    FakeHost h;
    auto p = project_of({{"web", {}}});
    auto u = unit(h, p, "web");
    u->on({.kind = Event::Restart, .grace_s = 10, .by_user = true, .wait_deps = true});
    CHECK(u->pending());
    CHECK(h.launches == 0);
}
