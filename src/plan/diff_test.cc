#include "plan/diff.h"

#include "plan/plan.h"

#include <doctest/doctest.h>

#include <algorithm>

using namespace berth;

namespace {

compose::Project shop() {
    compose::Project p;
    p.name = "shop";
    for (const char* n : {"web", "db"}) {
        compose::Service s;
        s.name = n;
        s.image = "busybox";
        p.services[n] = s;
    }
    return p;
}

plan::Current up_to_date(const compose::Project& p, const std::string& service, bool live) {
    return {"shop-" + service + "-1", service, plan::config_hash(p, service), plan::config_keys(p, service), live};
}

plan::DiffOptions all(const compose::Project& p) {
    plan::DiffOptions o;
    for (const auto& [n, _] : p.services) o.services.insert(n);
    return o;
}

}  // namespace

TEST_CASE("nothing exists: every container is created, in plan order") {
    auto p = shop();
    auto d = plan::diff({}, p, all(p));
    REQUIRE(d.size() == 2);
    CHECK(d[0].action == plan::Action::Create);
    CHECK(d[0].container == "shop-db-1");
    CHECK(plan::describe(d[1]) == "Container shop-web-1  Create");
}

TEST_CASE("unchanged: running ones kept, stopped ones started") {
    auto p = shop();
    auto d = plan::diff({up_to_date(p, "web", true), up_to_date(p, "db", false)}, p, all(p));
    REQUIRE(d.size() == 2);
    CHECK(d[0].action == plan::Action::Start);
    CHECK(d[1].action == plan::Action::Keep);
    CHECK(plan::describe(d[1]) == "Container shop-web-1  Running");
}

TEST_CASE("a changed key is recreated and named") {
    auto p = shop();
    std::vector<plan::Current> cur{up_to_date(p, "web", true), up_to_date(p, "db", true)};
    p.services["web"].image = "nginx";
    p.services["web"].environment["A"] = "1";
    auto d = plan::diff(cur, p, all(p));
    CHECK(d[0].action == plan::Action::Keep);
    CHECK(d[1].action == plan::Action::Recreate);
    CHECK(d[1].reason == "environment, image changed");
    CHECK(plan::describe(d[1]) == "Container shop-web-1  Recreate (environment, image changed)");
    auto keep = all(p);
    keep.no_recreate = true;
    CHECK(plan::diff(cur, p, keep)[1].action == plan::Action::Keep);
    cur[0].config_keys.clear();  // a record of an older berth: the change, without its key
    CHECK(plan::diff(cur, p, all(p))[1].reason == "configuration changed");
}

TEST_CASE("a network's definition is a key of the services on it") {
    auto p = shop();
    compose::Network n;
    n.name = "shop_default";
    p.networks["default"] = n;
    p.services["web"].networks["default"] = {};
    std::vector<plan::Current> cur{up_to_date(p, "web", true)};
    p.networks["default"].internal = true;
    auto d = plan::diff(cur, p, all(p));
    CHECK(d[1].action == plan::Action::Recreate);
    CHECK(d[1].reason == "network default changed");
}

TEST_CASE("--force-recreate SERVICE recreates SERVICE, not its unchanged dependencies (unless --always-recreate-deps)") {
    auto p = shop();
    std::vector<plan::Current> cur{up_to_date(p, "web", true), up_to_date(p, "db", true)};
    auto o = all(p);
    o.named = {"web"};
    o.force_recreate = true;
    auto d = plan::diff(cur, p, o);
    REQUIRE(d.size() == 2);
    CHECK(d[0].container == "shop-db-1");
    CHECK(d[0].action == plan::Action::Keep);
    CHECK(d[1].action == plan::Action::Recreate);
    CHECK(d[1].reason == "forced");
    o.force_deps = true;
    d = plan::diff(cur, p, o);
    CHECK(d[0].action == plan::Action::Recreate);
    o.force_recreate = false;  // --always-recreate-deps alone: the dependency only
    d = plan::diff(cur, p, o);
    CHECK(d[0].action == plan::Action::Recreate);
    CHECK(d[1].action == plan::Action::Keep);
}

TEST_CASE("a container in a recreated service's namespaces is recreated with it, down a chain") {
    auto p = shop();
    p.services["web"].network_mode = "service:db";
    compose::Service side;
    side.name = "side";
    side.image = "busybox";
    side.ipc = "service:web";
    p.services["side"] = side;
    std::vector<plan::Current> cur{up_to_date(p, "web", true), up_to_date(p, "db", true), up_to_date(p, "side", true)};
    auto d = plan::diff(cur, p, all(p));
    for (const auto& ch : d) CHECK(ch.action == plan::Action::Keep);
    p.services["db"].environment["V"] = "2";
    d = plan::diff(cur, p, all(p));
    REQUIRE(d.size() == 3);
    for (const auto& ch : d) CHECK(ch.action == plan::Action::Recreate);
    CHECK_FALSE(d[0].after_dependencies);  // db: its own change
    for (const auto& ch : d)
        if (ch.service == "web") CHECK(ch.reason == "network_mode: service:db recreated");
        else if (ch.service == "side") CHECK(ch.reason == "ipc: service:web recreated");
    CHECK(std::count_if(d.begin(), d.end(), [](const plan::Change& c) { return c.after_dependencies; }) == 2);
}

TEST_CASE("force, scale, services acted on, orphans") {
    auto p = shop();
    std::vector<plan::Current> cur{up_to_date(p, "web", true), {"shop-old-1", "old", "x", {}, false}};
    auto o = all(p);
    o.force_recreate = true;
    auto d = plan::diff(cur, p, o);
    CHECK(d[1].action == plan::Action::Recreate);
    CHECK(d[1].reason == "forced");
    CHECK(d.size() == 2);  // the orphan is left alone
    o = {};
    o.services = {"web"};
    o.scale["web"] = 2;
    o.remove_orphans = true;
    d = plan::diff(cur, p, o);
    REQUIRE(d.size() == 3);
    CHECK(d[0].action == plan::Action::Keep);
    CHECK(d[1].action == plan::Action::Create);
    CHECK(d[1].container == "shop-web-2");
    CHECK(d[1].index == 2);
    CHECK(d[2].action == plan::Action::Remove);
    CHECK(plan::describe(d[2]) == "Container shop-old-1  Remove (orphan)");
}
