#include "compose/load_error.h"
#include "compose/normalize.h"
#include "compose/units.h"
#include "compose/yaml_reader.h"

#include <doctest/doctest.h>

#include <stdexcept>

using namespace berth::compose;

namespace {

Project norm(const std::string& yaml, std::vector<std::string> profiles = {}) {
    NormalizeContext ctx;
    ctx.project_name = "proj";
    ctx.project_dir = "/srv/proj";
    ctx.home = "/home/me";
    ctx.profiles = std::move(profiles);
    ctx.env = {{"FROM_ENV", "yes-env"}};
    return normalize(parse_yaml(yaml, "compose.yaml"), ctx);
}

std::string error_of(const std::string& yaml) {
    try {
        norm(yaml);
    } catch (const LoadError& e) {
        return e.what();
    }
    return "(no error)";
}

}  // namespace

TEST_CASE("short port syntax") {
    auto p = parse_port_spec("8080:80");
    REQUIRE(p.size() == 1);
    CHECK(p[0].target == 80);
    CHECK(p[0].published == "8080");
    CHECK(p[0].protocol == "tcp");
    p = parse_port_spec("80");
    CHECK(p[0].published.empty());
    p = parse_port_spec("127.0.0.1:5000-5001:6000-6001/udp");
    REQUIRE(p.size() == 2);
    CHECK(p[1].host_ip == "127.0.0.1");
    CHECK(p[1].target == 6001);
    CHECK(p[1].published == "5001");
    CHECK(p[1].protocol == "udp");
    p = parse_port_spec("3000-3002");
    CHECK(p.size() == 3);
    p = parse_port_spec("8000-8010:80");
    REQUIRE(p.size() == 1);
    CHECK(p[0].published == "8000-8010");
    p = parse_port_spec("127.0.0.1::5000");
    CHECK(p[0].host_ip == "127.0.0.1");
    CHECK(p[0].published.empty());
    p = parse_port_spec("[::1]:6001:6001");
    CHECK(p[0].host_ip == "::1");
    CHECK(p[0].target == 6001);
    p = parse_port_spec("::1:6001:6001");
    CHECK(p[0].host_ip == "::1");
    CHECK_THROWS_AS(parse_port_spec("99999:80"), berth::compose::ValueError);
    CHECK_THROWS_AS(parse_port_spec("80:0"), berth::compose::ValueError);
    CHECK_THROWS_AS(parse_port_spec("1-3:4-5"), berth::compose::ValueError);
    CHECK_THROWS_AS(parse_port_spec("80/icmp"), berth::compose::ValueError);
    CHECK_THROWS_AS(parse_port_spec("abc"), berth::compose::ValueError);
    CHECK_THROWS_AS(parse_port_spec("10-5"), berth::compose::ValueError);
}

TEST_CASE("short volume syntax") {
    Mount m = parse_volume_spec("./data:/data:ro");
    CHECK(m.type == "bind");
    CHECK(m.source == "./data");
    CHECK(m.read_only);
    m = parse_volume_spec("db:/var/lib/db");
    CHECK(m.type == "volume");
    CHECK(m.source == "db");
    m = parse_volume_spec("/cache");
    CHECK(m.type == "volume");
    CHECK(m.source.empty());
    m = parse_volume_spec("/host:/ctr:rw,rshared");
    CHECK(m.bind_propagation == "rshared");
    CHECK_FALSE(m.read_only);
    m = parse_volume_spec("data:/d:nocopy");
    CHECK(m.volume_nocopy);
    m = parse_volume_spec("~/x:/x:z");
    CHECK(m.type == "bind");
    CHECK(m.bind_selinux == "z");
    CHECK_THROWS_AS(parse_volume_spec("data:relative"), berth::compose::ValueError);
    CHECK_THROWS_AS(parse_volume_spec("a:/b:bogus"), berth::compose::ValueError);
    CHECK_THROWS_AS(parse_volume_spec("./x:/y:nocopy"), berth::compose::ValueError);
    CHECK_THROWS_AS(parse_volume_spec("a:b:c:d"), berth::compose::ValueError);
}

TEST_CASE("a service normalizes with compose's defaults") {
    Project p = norm(R"(
services:
  web:
    image: nginx
    command: echo "hello world"
    entrypoint: []
    environment: [A=1, FROM_ENV, MISSING]
    ports: ["8080:80", {target: 443, published: 8443}]
    volumes: ["./site:/usr/share/nginx/html:ro", "cache:/cache", "~/conf:/conf"]
    depends_on: [db]
    healthcheck:
      test: curl -f localhost
      interval: 1m30s
    mem_limit: 512m
    cpus: "1.5"
    restart: on-failure:3
    stop_grace_period: 30s
    ulimits: {nofile: {soft: 1024, hard: 2048}, nproc: 100}
    extra_hosts: ["somehost:162.242.195.82", "v6=::1"]
  db:
    image: postgres
    networks: [back]
volumes:
  cache:
networks:
  back:
)");
    const Service& w = p.services.at("web");
    CHECK(*w.command == std::vector<std::string>{"echo", "hello world"});
    CHECK(w.entrypoint->empty());
    CHECK(w.environment.at("A") == "1");
    CHECK(w.environment.at("FROM_ENV") == "yes-env");
    CHECK_FALSE(w.environment.at("MISSING").has_value());
    REQUIRE(w.ports.size() == 2);
    CHECK(w.ports[1].published == "8443");
    CHECK(w.volumes[0].source == "/srv/proj/site");
    CHECK(w.volumes[0].read_only);
    CHECK(w.volumes[2].source == "/home/me/conf");
    CHECK(w.depends_on.at("db").condition == "service_started");
    CHECK(w.depends_on.at("db").required);
    CHECK(w.healthcheck->test == std::vector<std::string>{"CMD-SHELL", "curl -f localhost"});
    CHECK(*w.healthcheck->interval == 90'000'000'000LL);
    CHECK(*w.mem_limit == 536870912LL);
    CHECK(*w.cpus == doctest::Approx(1.5));
    CHECK(w.restart == "on-failure:3");
    CHECK(w.ulimits.at("nofile").hard == 2048);
    CHECK(w.ulimits.at("nproc").soft == 100);
    CHECK(w.extra_hosts == std::vector<std::string>{"somehost=162.242.195.82", "v6=::1"});
    CHECK(w.networks.count("default"));
    CHECK(p.networks.at("default").name == "proj_default");
    CHECK(p.networks.at("back").name == "proj_back");
    CHECK(p.volumes.at("cache").name == "proj_cache");
    CHECK(p.services.at("db").networks.count("back"));
    CHECK_FALSE(p.services.at("db").networks.count("default"));
}

TEST_CASE("profiles enable services") {
    std::string yaml = "services:\n  a: {image: x}\n  dbg: {image: x, profiles: [debug]}\n";
    CHECK(norm(yaml).services.size() == 1);
    CHECK(norm(yaml).disabled_services.count("dbg"));
    CHECK(norm(yaml, {"debug"}).services.size() == 2);
    CHECK(norm(yaml, {"*"}).services.size() == 2);
    CHECK(error_of("services:\n  a: {image: x, depends_on: [dbg]}\n  dbg: {image: x, profiles: [debug]}\n")
              .find("is disabled") != std::string::npos);
}

TEST_CASE("load-time checks") {
    CHECK(error_of("services:\n  a: {image: x, depends_on: [b]}\n  b: {image: x, depends_on: [c]}\n  c: {image: x, depends_on: [a]}\n")
              .find("dependency cycle: a -> b -> c -> a") != std::string::npos);
    CHECK(error_of("services:\n  a: {image: x, depends_on: [a]}\n").find("depends on itself") != std::string::npos);
    std::string e = error_of("services:\n  web: {image: x, depends_on: [dbb]}\n  db: {image: x}\n");
    CHECK(e.find("compose.yaml:2:") == 0);
    CHECK(e.find("undefined service \"dbb\"") != std::string::npos);
    CHECK(error_of("services:\n  a: {command: x}\n").find("neither an image nor a build") != std::string::npos);
    CHECK(error_of("services:\n  a: {image: x, ports: ['70000:80']}\n").find("out of range") != std::string::npos);
    CHECK(error_of("services:\n  a: {image: x, ports: [{target: 0}]}\n").find("out of range") != std::string::npos);
    CHECK(error_of("services:\n  a: {image: x, container_name: c}\n  b: {image: x, container_name: c}\n")
              .find("already used by service \"a\"") != std::string::npos);
    CHECK(error_of("services:\n  a: {image: x, container_name: c, scale: 2}\n").find("replicas") != std::string::npos);
    CHECK(error_of("services:\n  a: {image: x, networks: [nope]}\n").find("undefined network \"nope\"") != std::string::npos);
    CHECK(error_of("services:\n  a: {image: x, volumes: ['data:/d']}\n").find("undefined volume \"data\"") != std::string::npos);
    CHECK(error_of("services:\n  a: {image: x, restart: sometimes}\n").find("invalid restart policy") != std::string::npos);
    CHECK(error_of("services:\n  a: {image: x, stop_grace_period: 10}\n").find("missing unit") != std::string::npos);
    CHECK(error_of("services:\n  a: {image: x, mem_limit: lots}\n").find("invalid size") != std::string::npos);
    CHECK(error_of("services:\n  a: {image: x, command: 'echo \"x'}\n").find("unterminated") != std::string::npos);
    CHECK(error_of("services:\n  a: {image: x, secrets: [s]}\n").find("undefined secret") != std::string::npos);
    CHECK(error_of("services:\n  a: {image: x, ulimits: {nofile: {soft: 10, hard: 5}}}\n").find("above the hard") != std::string::npos);
    CHECK(error_of("services:\n  a: {image: x, healthcheck: {test: [CURL, x]}}\n").find("CMD") != std::string::npos);
}

TEST_CASE("deploy, legacy limits and secrets") {
    Project p = norm(R"(
services:
  a:
    image: x
    deploy:
      replicas: 3
      resources:
        limits: {cpus: '0.25', memory: 1g, pids: 50}
        reservations: {memory: 128m}
    pids_limit: 10
    cpu_shares: 512
    secrets: [token, {source: cert, target: /etc/ssl/c.pem, mode: 0400}]
secrets:
  token: {file: ./token.txt}
  cert: {environment: FROM_ENV}
)");
    const Service& a = p.services.at("a");
    CHECK(*a.deploy->replicas == 3);
    CHECK(*a.deploy->limits.cpus == doctest::Approx(0.25));
    CHECK(*a.deploy->limits.memory == 1073741824LL);
    CHECK(*a.deploy->limits.pids == 50);
    CHECK(*a.deploy->reservations.memory == 134217728LL);
    CHECK(*a.pids_limit == 10);
    CHECK(*a.cpu_shares == 512);
    CHECK(a.secrets[1].target == "/etc/ssl/c.pem");
    CHECK(*a.secrets[1].mode == 0400);
    CHECK(p.secrets.at("token").file == "/srv/proj/token.txt");
}

TEST_CASE("devices: short and long forms, device_cgroup_rules as written") {
    auto p = norm("services:\n  a:\n    image: x\n    devices: [/dev/ttyUSB0, '/dev/sda:/dev/xvda:r',\n"
                  "      {source: /dev/loop3, target: /dev/l, permissions: rw}]\n"
                  "    device_cgroup_rules: ['c 1:3 mr', 'b 7:* rwm']\n");
    const auto& s = p.services.at("a");
    REQUIRE(s.devices.size() == 3);
    CHECK(s.devices[0].source == "/dev/ttyUSB0");
    CHECK(s.devices[0].target == "/dev/ttyUSB0");
    CHECK(s.devices[0].permissions == "rwm");
    CHECK(s.devices[1].target == "/dev/xvda");
    CHECK(s.devices[1].permissions == "r");
    CHECK(s.devices[2].source == "/dev/loop3");
    CHECK(s.devices[2].target == "/dev/l");
    CHECK(s.devices[2].permissions == "rw");
    CHECK(s.device_cgroup_rules == std::vector<std::string>{"c 1:3 mr", "b 7:* rwm"});
    std::string e = error_of("services:\n  a:\n    image: x\n    devices: ['/dev/sda:/dev/xvda:rwx']\n");
    CHECK(e.find("compose.yaml:4:") == 0);
    CHECK(e.find("device permissions \"rwx\"") != std::string::npos);
    CHECK(error_of("services:\n  a: {image: x, devices: ['vendor.com/gpu=all']}\n").find("absolute host path") != std::string::npos);
    CHECK(error_of("services:\n  a: {image: x, devices: ['/dev/a:rel']}\n").find("must be an absolute path") != std::string::npos);
    CHECK(error_of("services:\n  a: {image: x, devices: ['/dev/a:/dev/b:r:x']}\n").find("invalid device") != std::string::npos);
    CHECK(error_of("services:\n  a: {image: x, devices: [{source: /dev/a, mode: r}]}\n").find("unknown key") != std::string::npos);
}

TEST_CASE("cpus, grace periods and health-check durations are refused out of range") {
    std::string web = "services:\n  web:\n    image: x\n";
    CHECK(error_of(web + "    cpus: 1e308\n") == "compose.yaml:4:11: services.web.cpus: value out of range: \"1e308\"");
    CHECK(error_of(web + "    cpus: .inf\n").find("services.web.cpus: ") != std::string::npos);
    CHECK(error_of(web + "    cpus: -1\n") == "compose.yaml:4:11: services.web.cpus: must not be negative, got \"-1\"");
    CHECK(error_of(web + "    deploy:\n      resources:\n        limits:\n          cpus: '-2'\n")
              .find("compose.yaml:7:17: services.web.deploy.resources.limits.cpus: must not be negative") == 0);
    CHECK(error_of(web + "    stop_grace_period: -1s\n")
              .find("compose.yaml:4:24: services.web.stop_grace_period: must not be negative") == 0);
    for (std::string k : {"interval", "timeout", "start_period", "start_interval"})
        CHECK_MESSAGE(error_of(web + "    healthcheck:\n      " + k + ": -30s\n")
                          .find("services.web.healthcheck." + k + ": must not be negative") != std::string::npos,
                      k);
    CHECK(norm(web + "    cpus: 0.5\n    stop_grace_period: 0s\n").services.at("web").cpus == 0.5);
}

TEST_CASE("build's network, extra_hosts, shm_size, additional_contexts, secrets, ssh and entitlements") {
    Project p = norm(R"(
services:
  a:
    build:
      context: app
      network: host
      extra_hosts: ["db:10.0.0.2", "cache=10.0.0.3"]
      shm_size: 8m
      additional_contexts:
        lib: ../lib
        base: docker-image://alpine:3
      secrets: [tok, {source: tok, target: other}]
      ssh: [default]
      entitlements: [network.host]
secrets:
  tok: {file: ./tok.txt}
)");
    const Build& b = *p.services.at("a").build;
    CHECK(b.network == "host");
    CHECK(b.extra_hosts == std::vector<std::string>{"db=10.0.0.2", "cache=10.0.0.3"});
    CHECK(b.shm_size == 8 * 1024 * 1024);
    CHECK(b.additional_contexts.at("lib") == "/srv/lib");
    CHECK(b.additional_contexts.at("base") == "docker-image://alpine:3");
    REQUIRE(b.secrets.size() == 2);
    CHECK(b.secrets[1].target == "other");
    CHECK(b.ssh == std::vector<std::string>{"default"});
    CHECK(b.entitlements == std::vector<std::string>{"network.host"});
    CHECK(b.ignored.empty());
    // A network's name loads (as docker compose), to be refused when it builds, saying where and why.
    auto refused = [&](const std::string& yaml) {
        Project p = norm(yaml);
        const Build& b = *p.services.at("a").build;
        return b.network_refused + " | " + b.network_refused_hint;
    };
    CHECK(refused("services:\n  a:\n    build: {context: ., network: mynet}\n") ==
          "compose.yaml:3:34: services.a.build.network: unknown build network mode \"mynet\": berth builds on default, none or "
          "host, as docker compose | write network: default (the build's own bridge, with outbound access), none, or host; "
          "to reach a service while building, use network: host and the port it publishes");
    // A project network, by its key or its real name: named as such.
    std::string net = "networks:\n  back: {}\nservices:\n  a:\n    build: {context: ., network: NAME}\n    networks: [back]\n";
    for (std::string name : {"back", "proj_back"})
        CHECK(refused(std::string(net).replace(net.find("NAME"), 4, name)).find(
                  "services.a.build.network: RUN steps cannot join the project network \"back\": build.network is a network "
                  "mode (default, none or host), not a compose network, as with docker compose") != std::string::npos);
    CHECK(refused("services:\n  a:\n    build: {context: ., network: none}\n") == " | ");
    CHECK(error_of("services:\n  a:\n    build: {context: ., secrets: [nope]}\n").find("undefined secret \"nope\"") != std::string::npos);
    CHECK(error_of("services:\n  a:\n    build: {context: ., additional_contexts: {x: 'https://h/r.git'}}\n")
              .find("local directory or docker-image://") != std::string::npos);
}
