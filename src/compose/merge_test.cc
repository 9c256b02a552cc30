#include "compose/merge.h"
#include "compose/yaml_reader.h"

#include <doctest/doctest.h>

using namespace berth::compose;

namespace {

Node merged(const std::string& a, const std::string& b) {
    Node base = parse_yaml(a, "a.yaml");
    merge_documents(base, parse_yaml(b, "b.yaml"));
    return base;
}

const Node& web(const Node& doc) { return *doc.find("services")->find("web"); }

}  // namespace

TEST_CASE("maps merge, scalars are replaced") {
    Node d = merged("services:\n  web:\n    image: a\n    hostname: h\n",
                    "services:\n  web:\n    image: b\n    user: u\n");
    CHECK(web(d).find("image")->text == "b");
    CHECK(web(d).find("hostname")->text == "h");
    CHECK(web(d).find("user")->text == "u");
    CHECK(web(d).find("image")->loc.file == "b.yaml");
}

TEST_CASE("sequences append without repeating scalars") {
    Node d = merged("services:\n  web:\n    dns: [1.1.1.1]\n    expose: ['80']\n",
                    "services:\n  web:\n    dns: [8.8.8.8]\n    expose: ['80', '81']\n");
    REQUIRE(web(d).find("dns")->items.size() == 2);
    CHECK(web(d).find("dns")->items[1].text == "8.8.8.8");
    CHECK(web(d).find("expose")->items.size() == 2);
}

TEST_CASE("command, entrypoint and healthcheck.test are replaced") {
    Node d = merged("services:\n  web:\n    command: [echo, foo]\n    healthcheck:\n      test: [CMD, a]\n      retries: 3\n",
                    "services:\n  web:\n    command: [echo, bar]\n    healthcheck:\n      test: [CMD, b]\n");
    const Node& cmd = *web(d).find("command");
    REQUIRE(cmd.items.size() == 2);
    CHECK(cmd.items[1].text == "bar");
    CHECK(web(d).find("healthcheck")->find("test")->items[1].text == "b");
    CHECK(web(d).find("healthcheck")->find("retries")->text == "3");
}

TEST_CASE("environment merges across list and map forms") {
    Node d = merged("services:\n  web:\n    environment:\n      - A=1\n      - B=2\n",
                    "services:\n  web:\n    environment:\n      B: 3\n      C: 4\n");
    const Node& env = *web(d).find("environment");
    REQUIRE(env.is_map());
    CHECK(env.find("A")->text == "1");
    CHECK(env.find("B")->text == "3");
    CHECK(env.find("C")->text == "4");
}

TEST_CASE("depends_on and networks merge as mappings") {
    Node d = merged("services:\n  web:\n    depends_on: [db]\n    networks: [front]\n",
                    "services:\n  web:\n    depends_on:\n      cache:\n        condition: service_healthy\n    networks:\n      back: {}\n");
    const Node& deps = *web(d).find("depends_on");
    REQUIRE(deps.is_map());
    CHECK(deps.find("db"));
    CHECK(deps.find("cache")->find("condition")->text == "service_healthy");
    CHECK(web(d).find("networks")->find("front"));
    CHECK(web(d).find("networks")->find("back"));
}

TEST_CASE("!reset removes and !override replaces") {
    Node d = merged("services:\n  web:\n    ports: ['8080:80']\n    environment:\n      FOO: bar\n      KEEP: x\n",
                    "services:\n  web:\n    ports: !override ['8443:443']\n    environment:\n      FOO: !reset null\n");
    const Node& ports = *web(d).find("ports");
    REQUIRE(ports.items.size() == 1);
    CHECK(ports.items[0].text == "8443:443");
    CHECK_FALSE(web(d).find("environment")->find("FOO"));
    CHECK(web(d).find("environment")->find("KEEP"));
    Node r = merged("services:\n  web:\n    ports: ['8080:80']\n", "services:\n  web:\n    ports: !reset []\n");
    CHECK_FALSE(web(r).find("ports"));
}

TEST_CASE("logging with another driver drops the old options") {
    Node d = merged("services:\n  web:\n    logging:\n      driver: json-file\n      options: {max-size: 1m}\n",
                    "services:\n  web:\n    logging:\n      driver: none\n");
    CHECK(web(d).find("logging")->find("driver")->text == "none");
    CHECK_FALSE(web(d).find("logging")->find("options"));
}

TEST_CASE("a build string merges with a build mapping") {
    Node d = merged("services:\n  web:\n    build: ./app\n",
                    "services:\n  web:\n    build:\n      target: dev\n");
    const Node& b = *web(d).find("build");
    REQUIRE(b.is_map());
    CHECK(b.find("context")->text == "./app");
    CHECK(b.find("target")->text == "dev");
}
