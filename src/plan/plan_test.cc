#include "plan/plan.h"

#include "base/error.h"

#include <doctest/doctest.h>

#include <algorithm>

using namespace berth;

namespace {

compose::Project stack() {
    compose::Project p;
    p.name = "shop";
    auto add = [&](const std::string& name, std::vector<std::string> deps) {
        compose::Service s;
        s.name = name;
        s.image = "busybox";
        for (auto& d : deps) s.depends_on[d] = compose::Dependency{};
        s.networks["default"] = {};
        p.services[name] = s;
    };
    add("web", {"api"});
    add("api", {"db", "cache"});
    add("db", {});
    add("cache", {});
    add("worker", {"db"});
    compose::Network n;
    n.name = "shop_default";
    p.networks["default"] = n;
    return p;
}

size_t pos(const std::vector<std::string>& v, const std::string& x) {
    return static_cast<size_t>(std::find(v.begin(), v.end(), x) - v.begin());
}

}  // namespace

TEST_CASE("start order puts dependencies first") {
    auto order = plan::start_order(stack());
    REQUIRE(order.size() == 5);
    CHECK(pos(order, "db") < pos(order, "api"));
    CHECK(pos(order, "cache") < pos(order, "api"));
    CHECK(pos(order, "api") < pos(order, "web"));
    CHECK(pos(order, "db") < pos(order, "worker"));
}

TEST_CASE("a cycle is named") {
    auto p = stack();
    p.services["db"].depends_on["web"] = {};
    CHECK_THROWS_WITH_AS(plan::start_order(p), doctest::Contains("dependency cycle"), Error);
}

TEST_CASE("containers are named and scaled as compose names them") {
    auto p = stack();
    p.services["worker"].scale = 3;
    p.services["db"].container_name = "the-db";
    auto cs = plan::containers(p);
    CHECK(cs.size() == 7);
    CHECK(std::any_of(cs.begin(), cs.end(), [](auto& c) { return c.name == "shop-worker-3" && c.index == 3; }));
    CHECK(std::any_of(cs.begin(), cs.end(), [](auto& c) { return c.name == "the-db"; }));
    CHECK(plan::containers(p, {{"worker", 1}}).size() == 5);
}

TEST_CASE("config hash changes with the service's configuration only") {
    auto p = stack();
    std::string web = plan::config_hash(p, "web"), db = plan::config_hash(p, "db");
    CHECK(web.size() == 64);
    CHECK(plan::config_hash(p, "web") == web);
    p.services["web"].environment["X"] = "1";
    CHECK(plan::config_hash(p, "web") != web);
    CHECK(plan::config_hash(p, "db") == db);
    p.services["db"].scale = 4;
    CHECK(plan::config_hash(p, "db") == db);
    p.networks["default"].internal = true;
    CHECK(plan::config_hash(p, "db") != db);
}

TEST_CASE("dependencies and dependents") {
    auto p = stack();
    auto deps = plan::with_dependencies(p, {"web"});
    CHECK(deps == std::set<std::string>{"web", "api", "db", "cache"});
    auto d = plan::dependents(p, "db");
    CHECK(d == std::vector<std::string>{"api", "worker"});
}
