#include "plan/brief.h"

#include "base/error.h"

#include <doctest/doctest.h>

#include <array>

#include <csignal>

using namespace berth;

namespace {

constexpr int64_t kS = 1000000000;

compose::Project one(compose::Service s) {
    compose::Project p;
    p.name = "shop";
    s.name = "web";
    s.image = "busybox";
    for (const char* n : {"front", "back", "default"}) {
        compose::Network net;
        net.name = std::string("shop_") + n;
        p.networks[n] = net;
    }
    p.services["web"] = s;
    return p;
}

plan::ServicePlan brief(compose::Service s, const plan::ImageDefaults& img = {}) {
    return plan::resolve(one(std::move(s)), "web", img);
}

}  // namespace

TEST_CASE("restart policy: kinds and counts, deploy's condition first") {
    compose::Service s;
    CHECK(brief(s).restart.kind == plan::RestartKind::No);
    s.restart = "always";
    CHECK(brief(s).restart.kind == plan::RestartKind::Always);
    s.restart = "unless-stopped";
    CHECK(brief(s).restart.kind == plan::RestartKind::UnlessStopped);
    s.restart = "on-failure:3";
    auto r = brief(s).restart;
    CHECK(r.kind == plan::RestartKind::OnFailure);
    CHECK(r.max == 3);
    CHECK(r.should_restart(1, 2));
    CHECK_FALSE(r.should_restart(1, 3));
    CHECK_FALSE(r.should_restart(0, 0));
    s.restart = "on-failure";
    CHECK(brief(s).restart.should_restart(2, 1000));
    s.deploy = compose::Deploy{};
    s.deploy->restart_condition = "none";
    CHECK(brief(s).restart.kind == plan::RestartKind::No);
    s.deploy->restart_condition = "any";
    CHECK(brief(s).restart.should_restart(0, 99));
    s.deploy->restart_condition = "on-failure";
    s.deploy->restart_max_attempts = 1;
    CHECK(brief(s).restart.max == 1);
    CHECK_FALSE(brief(s).restart.delay_ms);  // unset: the doubling backoff
    s.deploy->restart_delay = 250'000'000;
    CHECK(brief(s).restart.delay_ms == 250);
    s.deploy->restart_condition.clear();
    CHECK(brief(s).restart.delay_ms == 250);  // with `restart:` too
    s.restart = "on-failure:x";
    CHECK_THROWS_AS(brief(s), Error);
}

TEST_CASE("stop signal: names, numbers, the image's; an unknown name is an error naming the service") {
    compose::Service s;
    CHECK(brief(s).stop_signal == SIGTERM);
    plan::ImageDefaults img;
    img.stop_signal = "SIGQUIT";
    CHECK(brief(s, img).stop_signal == SIGQUIT);
    img.stop_signal = "SIGNOPE";
    CHECK(brief(s, img).stop_signal == SIGTERM);  // the image's unknown name: SIGTERM, as before
    s.stop_signal = "INT";
    CHECK(brief(s, img).stop_signal == SIGINT);
    s.stop_signal = "9";
    CHECK(brief(s).stop_signal == 9);
    s.stop_signal = "SIGBOGUS";
    try {
        brief(s);
        FAIL("no error");
    } catch (const Error& e) {
        CHECK(std::string(e.what()).find("service \"web\": stop_signal: unknown signal \"SIGBOGUS\"") != std::string::npos);
        CHECK_FALSE(e.hint().empty());
    }
    CHECK_FALSE(plan::signal_number("0"));
    CHECK_FALSE(plan::signal_number("15x"));
    CHECK(plan::signal_number("SIGHUP") == SIGHUP);
}

TEST_CASE("stop grace rounds up to whole seconds") {
    compose::Service s;
    CHECK_FALSE(brief(s).stop_grace_s);
    s.stop_grace_period = 1500000000;
    CHECK(brief(s).stop_grace_s == 2);
}

TEST_CASE("health: the service's fields over the image's over the defaults") {
    compose::Service s;
    CHECK_FALSE(brief(s).health.enabled);
    plan::ImageDefaults img;
    img.healthcheck = plan::ImageDefaults::Health{{"CMD-SHELL", "true"}, 7 * kS, 0, 0, 0, 5};
    auto h = brief(s, img).health;
    CHECK(h.enabled);
    CHECK(h.argv == std::vector<std::string>{"/bin/sh", "-c", "true"});
    CHECK(h.interval == 7 * kS);
    CHECK(h.timeout == 30 * kS);
    CHECK(h.start_interval == 5 * kS);
    CHECK(h.retries == 5);
    CHECK(h.first_delay() == 7 * kS);
    s.healthcheck = compose::Healthcheck{};
    s.healthcheck->test = {"CMD", "check", "--fast"};
    s.healthcheck->start_period = 60 * kS;
    s.healthcheck->retries = 2;
    h = brief(s, img).health;
    CHECK(h.argv == std::vector<std::string>{"check", "--fast"});
    CHECK(h.interval == 7 * kS);
    CHECK(h.retries == 2);
    CHECK(h.first_delay() == 5 * kS);  // in a start period: the start interval
    s.healthcheck->disable = true;
    CHECK_FALSE(brief(s, img).health.enabled);
    img.healthcheck->test = {"NONE"};
    s.healthcheck.reset();
    CHECK_FALSE(brief(s, img).health.enabled);
}

TEST_CASE("published ports as integers; none with network_mode host") {
    compose::Service s;
    s.ports = {{"", "ingress", "", 80, "8080", "tcp", ""}, {"", "ingress", "127.0.0.1", 53, "5300-5310", "udp", ""},
               {"", "ingress", "", 9000, "", "tcp", ""}};
    auto ports = brief(s).ports;
    REQUIRE(ports.size() == 3);
    CHECK(ports[0].fixed());
    CHECK(ports[0].first == 8080);
    CHECK(ports[0].target == 80);
    CHECK(ports[1].first == 5300);
    CHECK(ports[1].last == 5310);
    CHECK(ports[1].host_ip == "127.0.0.1");
    CHECK(ports[1].protocol == "udp");
    CHECK(ports[2].first == 0);
    CHECK_FALSE(ports[2].fixed());
    s.ports[0].published = "90-80";
    CHECK_THROWS_AS(brief(s), Error);
    s.ports[0].published = "70000";
    CHECK_THROWS_AS(brief(s), Error);
    s.network_mode = "host";
    CHECK(brief(s).ports.empty());
}

TEST_CASE("log options typed") {
    compose::Service s;
    CHECK(brief(s).log.driver == plan::LogDriver::JsonFile);
    s.logging = compose::Logging{"local", {{"max-size", "1k"}, {"max-file", "0"}}};
    auto l = brief(s).log;
    CHECK(l.driver == plan::LogDriver::Local);
    CHECK(l.max_size == 1024);
    CHECK(l.max_file == 1);
    s.logging = compose::Logging{"none", {}};
    CHECK_FALSE(brief(s).log.writes());
    s.logging = compose::Logging{"json-file", {{"max-file", "three"}}};
    CHECK_THROWS_AS(brief(s), Error);
}

TEST_CASE("network attachments: priority first, then by key, with real names") {
    compose::Service s;
    s.networks["back"] = {};
    s.networks["default"] = {};
    s.networks["front"] = {};
    s.networks["front"].priority = 10;
    s.networks["back"].ipv4_address = "10.0.0.5";
    auto n = brief(s).networks;
    REQUIRE(n.size() == 3);
    CHECK(n[0].key == "front");
    CHECK(n[0].name == "shop_front");
    CHECK(n[1].key == "back");
    CHECK(n[1].ipv4_address == "10.0.0.5");
    CHECK(n[2].key == "default");
    s.networks["nowhere"] = {};
    CHECK_THROWS_AS(brief(s), Error);
}

TEST_CASE("volume names: named, project-defined, anonymous per container") {
    compose::Project p = one({});
    compose::Volume v;
    v.name = "shop_data";
    p.volumes["data"] = v;
    auto& s = p.services["web"];
    for (auto [type, source, target] : {std::array<const char*, 3>{"volume", "data", "/data"},
                                         {"volume", "", "/cache"}, {"bind", "/tmp", "/host"}}) {
        compose::Mount m;
        m.type = type;
        m.source = source;
        m.target = target;
        s.volumes.push_back(m);
    }
    auto names = plan::volume_names(p, s, "shop-web-1");
    REQUIRE(names.size() == 2);
    CHECK(names[0] == "shop_data");
    CHECK(names[1].rfind("shop-web-1-anon-", 0) == 0);
    CHECK(plan::volume_names(p, s, "shop-web-2")[1] != names[1]);
}
