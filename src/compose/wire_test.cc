// branch arch (issue 12): a project sent to the supervisor comes back the same (`up` while up).
#include "compose/loader.h"
#include "compose/serialize.h"
#include "compose/wire.h"

#include "base/error.h"
#include "tests/unit/temp_dir.h"

#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>
#include <unistd.h>

namespace fs = std::filesystem;
using namespace berth::compose;
using berth::test::TempDir;

namespace {

const char* kRich = R"(
name: shop
x-common: &common
  restart: on-failure:3
services:
  web:
    <<: *common
    image: nginx:1.25
    command: ["nginx", "-g", "daemon off;"]
    entrypoint: /docker-entrypoint.sh
    environment:
      A: "1"
      B: $${literal}
      FROM_ENV: ${FROM_ENV}
      UNSET:
    env_file: [web.env]
    ports: ["127.0.0.1:8080:80", "9000-9001:9000-9001/udp", "443"]
    expose: ["8443"]
    volumes: ["./html:/usr/share/nginx/html:ro", "data:/data", "/var/cache"]
    tmpfs: ["/run:size=64k"]
    depends_on:
      db: {condition: service_healthy, restart: true}
    healthcheck:
      test: ["CMD-SHELL", "wget -qO- localhost || exit 1"]
      interval: 1m30s
      timeout: 5s
      retries: 4
      start_period: 2s
    stop_signal: SIGQUIT
    stop_grace_period: 20s
    labels: {tier: front}
    networks:
      front: {aliases: [www], priority: 10, ipv4_address: 10.9.0.5}
      back: {}
    mem_limit: 256m
    cpus: 0.5
    ulimits: {nofile: {soft: 1024, hard: 2048}, nproc: 512}
    logging: {driver: json-file, options: {max-size: 10m, max-file: "3"}}
    secrets: [token]
    configs: [{source: conf, target: /etc/app.conf}]
    sysctls: {net.core.somaxconn: "1024"}
    cap_add: [NET_ADMIN]
    extra_hosts: ["host.example:10.0.0.1"]
    x-note: {keep: me}
  db:
    image: postgres:16
    init: true
    user: "999:999"
    working_dir: /var/lib/postgresql
    deploy: {replicas: 2, resources: {limits: {memory: 512M, pids: 100}}}
    networks: [back]
    healthcheck: {test: ["CMD", "pg_isready"], interval: 2s}
  debug:
    image: busybox
    profiles: [tools]
    network_mode: "service:web"
networks:
  front:
    ipam: {config: [{subnet: 10.9.0.0/24, gateway: 10.9.0.1}]}
    driver_opts: {com.docker.network.driver.mtu: "1400"}
  back: {internal: true, enable_ipv6: true, ipam: {config: [{subnet: "fd00:9::/64"}]}}
volumes:
  data: {labels: {keep: "yes"}}
secrets:
  token: {file: ./token.txt}
configs:
  conf: {content: "hello"}
)";

}  // namespace

TEST_CASE("a project sent over the wire comes back the same") {
    TempDir d;
    d.write("compose.yaml", kRich);
    d.write("web.env", "FROM_FILE=yes\nA=overridden-by-environment\n");
    d.write("token.txt", "secret\n");
    LoadOptions o;
    o.working_dir = d.path.string();
    o.environment = std::map<std::string, std::string>{{"FROM_ENV", "env-value"}, {"HOME", "/home/u"}};
    Project p = load_project(o);
    REQUIRE(p.disabled_services.count("debug"));

    nlohmann::json wire = to_wire(p);
    // What crosses a socket: text.
    Project back = from_wire(nlohmann::json::parse(wire.dump()));
    CHECK(to_json(back).dump(2) == to_json(p).dump(2));
    CHECK(back.name == "shop");
    CHECK(back.working_dir == p.working_dir);
    CHECK(back.compose_files == p.compose_files);
    CHECK(back.environment == p.environment);
    CHECK(back.disabled_services.count("debug"));
    CHECK_FALSE(back.services.count("debug"));
    CHECK(service_to_json(back.disabled_services.at("debug")) == service_to_json(p.disabled_services.at("debug")));
    CHECK(back.services.at("web").environment.at("FROM_FILE") == "yes");  // env_file's, not read again
    CHECK(back.services.at("web").environment.at("A") == "1");
}

TEST_CASE("something that is not a project is refused with an Error") {
    CHECK_THROWS_AS(from_wire(nlohmann::json::array()), berth::Error);
    CHECK_THROWS_AS(from_wire(nlohmann::json{{"project", 3}}), berth::Error);
}

TEST_CASE("a missing required env_file still says so after the wire") {
    TempDir d;
    d.write("compose.yaml", "services:\n  a:\n    image: busybox\n    env_file: [gone.env]\n  b:\n    image: busybox\n");
    LoadOptions o;
    o.working_dir = d.path.string();
    o.environment = std::map<std::string, std::string>{};
    Project p = load_project(o);
    REQUIRE_FALSE(p.services.at("a").missing_env_file.empty());
    Project back = from_wire(nlohmann::json::parse(to_wire(p).dump()));
    CHECK(back.services.at("a").missing_env_file == p.services.at("a").missing_env_file);
    CHECK(back.services.at("b").missing_env_file.empty());
}
