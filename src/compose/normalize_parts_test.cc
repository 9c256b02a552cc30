// The seams of the normalizer: stop_signal checked at load, env_file read
// through the context (no file I/O in the normalizer), short syntax errors
// located at their node, and the one table of service fields.
#include "compose/depends.h"
#include "compose/load_error.h"
#include "compose/normalize.h"
#include "compose/serialize.h"
#include "compose/service_fields.h"
#include "compose/short_syntax.h"
#include "compose/units.h"
#include "compose/yaml_reader.h"

#include <doctest/doctest.h>

#include <csignal>
#include <set>

using namespace berth::compose;

namespace {

NormalizeContext context() {
    NormalizeContext ctx;
    ctx.project_name = "proj";
    ctx.project_dir = "/srv/proj";
    ctx.home = "/home/me";
    ctx.env = {{"FROM_ENV", "yes-env"}};
    return ctx;
}

std::string error_of(const std::string& yaml, const NormalizeContext& ctx = context()) {
    try {
        normalize(parse_yaml(yaml, "compose.yaml"), ctx);
    } catch (const LoadError& e) {
        return e.what();
    }
    return "(no error)";
}

}  // namespace

TEST_CASE("signal_number reads signals as docker does") {
    CHECK(signal_number("SIGTERM") == SIGTERM);
    CHECK(signal_number("TERM") == SIGTERM);
    CHECK(signal_number("sigint") == SIGINT);
    CHECK(signal_number("Quit") == SIGQUIT);
    CHECK(signal_number("SIGUSR1") == SIGUSR1);
    CHECK(signal_number("9") == 9);
    CHECK(signal_number("64") == 64);
    CHECK(signal_number("SIGCLD") == SIGCHLD);
    CHECK(signal_number("IOT") == SIGABRT);
    CHECK(signal_number("RTMIN") == 34);
    CHECK(signal_number("SIGRTMIN+3") == 37);
    CHECK(signal_number("RTMAX-1") == 63);
    CHECK(signal_number("RTMAX") == 64);
    CHECK_FALSE(signal_number(""));
    CHECK_FALSE(signal_number("SIG"));
    CHECK_FALSE(signal_number("0"));
    CHECK_FALSE(signal_number("65"));
    CHECK_FALSE(signal_number("9x"));
    CHECK_FALSE(signal_number("-9"));
    CHECK_FALSE(signal_number("SIGFOO"));
    CHECK_FALSE(signal_number("RTMIN+16"));
    CHECK_FALSE(signal_number("RTMIN-1"));
    CHECK_FALSE(signal_number("RTMAX+1"));
}

TEST_CASE("an unknown stop_signal is a load error at its node; a known one is kept as written") {
    std::string err = error_of("services:\n  web:\n    image: x\n    stop_signal: SIGFOO\n");
    CHECK(err.find("compose.yaml:4:18: services.web.stop_signal: unknown signal \"SIGFOO\"") == 0);
    for (std::string sig : {"SIGINT", "quit", "9", "SIGRTMIN+2"}) {
        Project p = normalize(parse_yaml("services:\n  web:\n    image: x\n    stop_signal: " + sig + "\n", "c.yaml"), context());
        CHECK(p.services.at("web").stop_signal == sig);
    }
}

TEST_CASE("env_file is read through the context, not from disk") {
    NormalizeContext ctx = context();
    std::vector<std::string> asked;
    ctx.read_env_file = [&](const std::string& path, const Lookup& lookup) -> std::optional<EnvList> {
        asked.push_back(path);
        if (path == "/srv/proj/missing.env") return std::nullopt;
        return EnvList{{"FROM_FILE", "1"}, {"A", "file"}, {"SEEN", lookup("FROM_ENV").value_or("?")}};
    };
    Project p = normalize(parse_yaml(R"(
services:
  web:
    image: x
    environment: {A: inline}
    env_file: [a.env, {path: missing.env, required: false}]
)", "compose.yaml"), ctx);
    CHECK(asked == std::vector<std::string>{"/srv/proj/a.env", "/srv/proj/missing.env"});
    const Service& s = p.services.at("web");
    CHECK(s.env_file == std::vector<std::string>{"/srv/proj/a.env"});
    CHECK(s.environment.at("A") == "inline");  // environment wins over env_file
    CHECK(s.environment.at("FROM_FILE") == "1");
    CHECK(s.environment.at("SEEN") == "yes-env");
    CHECK(s.missing_env_file.empty());  // the optional one is not missing
    // A required one that is missing loads (ps, logs, exec of other services work) and is marked.
    Project missing = normalize(parse_yaml("services:\n  web:\n    image: x\n    env_file: missing.env\n  db:\n    image: y\n",
                                           "compose.yaml"), ctx);
    CHECK(missing.services.at("web").missing_env_file == "/srv/proj/missing.env");
    CHECK(missing.services.at("db").missing_env_file.empty());
    // format: raw asks the reader for the file as written (an empty lookup).
    bool raw_asked = false;
    ctx.read_env_file = [&](const std::string&, const Lookup& lookup) -> std::optional<EnvList> {
        raw_asked = !lookup;
        return EnvList{{"Q", "'quoted'"}};
    };
    Project raw = normalize(parse_yaml("services:\n  web:\n    image: x\n    env_file: [{path: r.env, format: raw}]\n",
                                       "compose.yaml"), ctx);
    CHECK(raw_asked);
    CHECK(raw.services.at("web").environment.at("Q") == "'quoted'");
    CHECK(error_of("services:\n  web:\n    image: x\n    env_file: [{path: r.env, format: yaml}]\n", ctx)
              .find("unknown env_file format \"yaml\"") != std::string::npos);
    // Without a reader (no loader), an env_file is refused rather than read behind the caller's back.
    CHECK(error_of("services:\n  web:\n    image: x\n    env_file: a.env\n").find("env files are not read here") !=
          std::string::npos);
}

TEST_CASE("short syntax errors come back as text, and the normalizer locates them") {
    std::string error;
    CHECK(read_port_spec("99999:80", error).empty());
    CHECK(error == "port 99999 in \"99999:80\" is out of range 1-65535");
    CHECK(read_port_spec("8080:80", error).size() == 1);
    CHECK(error.empty());
    read_volume_spec("a:/b:bogus", error);
    CHECK(error.find("invalid volume mode \"bogus\"") == 0);
    CHECK(check_published("70000").find("out of range") != std::string::npos);
    CHECK(check_published("8000-8010").empty());
    CHECK(error_of("services:\n  web:\n    image: x\n    ports: [\"1-3:4-5\"]\n") ==
          "compose.yaml:4:13: services.web.ports[0]: invalid port \"1-3:4-5\": the host range has 3 ports but the "
          "container range has 2");
    CHECK(error_of("services:\n  web:\n    image: x\n    volumes: [\"a:/b:bogus\"]\n").find(
              "compose.yaml:4:15: services.web.volumes[0]: invalid volume mode") == 0);
}

TEST_CASE("one table of service fields: unique keys, each read is also written") {
    std::set<std::string_view> keys;
    for (const auto& f : service_fields()) {
        CHECK_MESSAGE(keys.insert(f.key).second, "duplicate key ", f.key);
        CHECK(service_field(f.key) == &f);
        // Only the keys read elsewhere (env_file) or dropped (extends, develop) have no reader.
        if (!f.read) CHECK((f.key == "env_file" || f.key == "extends" || f.key == "develop"));
        if (!f.write) CHECK((f.key == "extends" || f.key == "develop"));
    }
    CHECK(keys.size() == 67);  // the 67 keys the old if-chain knew
    CHECK(service_field("imgae") == nullptr);
    CHECK(service_field("") == nullptr);
    // A service using every printed key round-trips through the table in compose-go's order.
    Project p = normalize(parse_yaml(R"(
services:
  web:
    working_dir: /w
    image: x
    cap_add: [NET_ADMIN]
    profiles: [p]
    tty: true
    stop_signal: SIGINT
)", "compose.yaml"), [] {
        NormalizeContext c = context();
        c.profiles = {"p"};
        return c;
    }());
    auto j = service_to_json(p.services.at("web"));
    std::vector<std::string> order;
    for (auto it = j.begin(); it != j.end(); ++it) order.push_back(it.key());
    CHECK(order == std::vector<std::string>{"profiles", "cap_add", "image", "networks", "stop_signal", "tty", "working_dir"});
}

TEST_CASE("walk_dependencies: dependencies first, else by name; or the first cycle") {
    Project p;
    p.services["web"].depends_on["db"];
    p.services["web"].depends_on["cache"];
    p.services["db"];
    p.services["cache"].depends_on["db"];
    p.services["api"].depends_on["gone"];  // not active: skipped
    DependencyWalk w = walk_dependencies(p);
    CHECK(w.order == std::vector<std::string>{"api", "db", "cache", "web"});
    CHECK(w.cycle.empty());
    p.services["db"].depends_on["web"];
    w = walk_dependencies(p);
    CHECK(w.cycle == std::vector<std::string>{"cache", "db", "web", "cache"});
    CHECK(error_of("services:\n  a: {image: x, depends_on: [b]}\n  b: {image: x, depends_on: [a]}\n") ==
          "compose.yaml:3:3: services.b.depends_on: dependency cycle: a -> b -> a");
}

TEST_CASE("activate_services: a named service of an inactive profile, and its required dependencies") {
    Project p;
    p.services["regular"];
    p.disabled_services["foo"].depends_on["db"];
    p.disabled_services["foo"].depends_on["opt"].required = false;
    p.disabled_services["db"];
    p.disabled_services["opt"];
    p.disabled_services["bar"];
    activate_services(p, {"foo", "nosuch"});
    CHECK(p.services.count("foo"));
    CHECK(p.services.count("db"));
    CHECK_FALSE(p.services.count("opt"));  // required: false stays off
    CHECK(p.disabled_services.count("bar"));
    CHECK_FALSE(p.services.count("nosuch"));
    CHECK(p.services.count("regular"));
}

// branch arch (issue 12): `run`/`up` of a profile's service that is the only one on the default network.
TEST_CASE("activate_services makes the default network for the first service on it") {
    Project p;
    p.name = "demo";
    Service s;
    s.name = "c";
    s.image = "busybox";
    s.profiles = {"test"};
    s.networks["default"] = {};
    p.disabled_services["c"] = s;
    activate_services(p, {"c"});
    REQUIRE(p.networks.count("default"));
    CHECK(p.networks.at("default").name == "demo_default");
}
