#include "compose/load_error.h"
#include "compose/input_file.h"
#include "compose/loader.h"

#include "base/error.h"
#include "tests/unit/temp_dir.h"

#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>
#include <sys/stat.h>
#include <unistd.h>

namespace fs = std::filesystem;
using namespace berth::compose;
using berth::test::TempDir;

namespace {

LoadOptions opts_in(const TempDir& d, std::map<std::string, std::string> env = {}) {
    LoadOptions o;
    o.working_dir = d.path.string();
    o.environment = std::move(env);
    return o;
}

}  // namespace

TEST_CASE("discovery finds compose.yaml upward, with its override file") {
    TempDir d;
    d.write("compose.yaml", "services:\n  web: {image: a}\n");
    d.write("compose.override.yaml", "services:\n  web: {image: b}\n");
    fs::create_directories(d.path / "sub/deeper");
    auto files = find_compose_files((d.path / "sub/deeper").string());
    REQUIRE(files.size() == 2);
    CHECK(files[0] == (d.path / "compose.yaml").string());
    LoadOptions o = opts_in(d);
    o.working_dir = (d.path / "sub/deeper").string();
    Project p = load_project(o);
    CHECK(p.services.at("web").image == "b");
    CHECK(p.working_dir == d.path.string());
    CHECK(p.name == normalize_project_name(d.path.filename().string()));
}

TEST_CASE("no compose file is a clear error") {
    TempDir d;
    fs::create_directories(d.path / "empty");
    CHECK(find_compose_files((d.path / "empty").string()).empty() == find_compose_files("/").empty());
    LoadOptions o = opts_in(d);
    o.files = {"missing.yaml"};
    CHECK_THROWS_WITH_AS(load_project(o), doctest::Contains("not found"), berth::Error);
}

TEST_CASE("-f files merge in order; the project name comes from -p, env, name:, directory") {
    TempDir d;
    d.write("base.yaml", "name: fromfile\nservices:\n  web:\n    image: a\n    ports: ['80:80']\n");
    d.write("prod.yaml", "services:\n  web:\n    image: b\n    ports: ['443:443']\n");
    LoadOptions o = opts_in(d);
    o.files = {"base.yaml", "prod.yaml"};
    Project p = load_project(o);
    CHECK(p.name == "fromfile");
    CHECK(p.services.at("web").image == "b");
    CHECK(p.services.at("web").ports.size() == 2);
    o.environment = std::map<std::string, std::string>{{"COMPOSE_PROJECT_NAME", "fromenv"}};
    CHECK(load_project(o).name == "fromenv");
    o.project_name = "fromflag";
    CHECK(load_project(o).name == "fromflag");
    o.project_name = "Bad Name";
    CHECK_THROWS_WITH_AS(load_project(o), doctest::Contains("invalid project name"), berth::Error);
    CHECK(normalize_project_name("My_App.v2") == "my_appv2");
}

TEST_CASE("COMPOSE_FILE and COMPOSE_PROFILES") {
    TempDir d;
    d.write("one.yaml", "services:\n  a: {image: x}\n");
    d.write("two.yaml", "services:\n  b: {image: y, profiles: [extra]}\n");
    Project p = load_project(opts_in(d, {{"COMPOSE_FILE", "one.yaml:two.yaml"}, {"COMPOSE_PROFILES", "extra"}}));
    CHECK(p.services.count("a"));
    CHECK(p.services.count("b"));
}

TEST_CASE("COMPOSE_* from the working dir's .env, --env-file and COMPOSE_ENV_FILES; discovery in --project-directory") {
    TempDir d;
    d.write("proj/other.yaml", "services:\n  a: {image: x, environment: {V: 'x${UNSET}y'}}\n  b: {image: y, profiles: [pb]}\n");
    d.write("proj/.env", "COMPOSE_FILE=other.yaml\n");
    LoadOptions o = opts_in(d);
    o.project_directory = "proj";
    Project p = load_project(o);  // the file named by --project-directory's .env, found there
    CHECK(p.services.count("a"));
    CHECK_FALSE(p.services.count("b"));
    CHECK(p.services.at("a").environment.at("V") == "xy");  // ${UNSET} is ""
    d.write(".env", "COMPOSE_FILE=proj/other.yaml\nCOMPOSE_PROFILES=pb\n");
    p = load_project(opts_in(d));  // the current directory's .env
    CHECK(p.services.count("b"));
    CHECK(load_project(opts_in(d, {{"COMPOSE_PROFILES", ""}})).services.count("b") == 0);  // the process environment wins
    d.write("prof.env", "COMPOSE_PROFILES=pb\nCOMPOSE_FILE=proj/other.yaml\n");
    fs::remove(d.path / ".env");
    o = opts_in(d);
    o.env_files = {"prof.env"};
    CHECK(load_project(o).services.count("b"));
    CHECK(load_project(opts_in(d, {{"COMPOSE_ENV_FILES", (d.path / "prof.env").string()}})).services.count("b"));
    CHECK(load_project(opts_in(d, {{"COMPOSE_ENV_FILES", (d.path / "prof.env").string()}})).environment.at("COMPOSE_PROFILES") == "pb");
}

TEST_CASE("secrets and configs from environment keep their value; an include's env_file feeds its own") {
    TempDir d;
    d.write("child/compose.yaml", "services:\n  inc: {image: x, secrets: [mine]}\nsecrets:\n  mine: {environment: MY_SECRET}\n");
    d.write("secret.env", "MY_SECRET='this-is-secret'\n");
    d.write("compose.yaml", "include:\n  - path: child/compose.yaml\n    env_file: [secret.env]\n"
                            "services:\n  foo: {image: x, configs: [c]}\nconfigs:\n  c: {environment: CONFIG}\n");
    Project p = load_project(opts_in(d, {{"CONFIG", "config"}}));
    CHECK(p.configs.at("c").env_value == "config");
    CHECK(p.secrets.at("mine").content == "this-is-secret");
}

TEST_CASE(".env feeds interpolation; the process environment wins") {
    TempDir d;
    d.write(".env", "TAG=fromdotenv\nPORT=8080\n");
    d.write("compose.yaml", "services:\n  web:\n    image: nginx:${TAG}\n    ports: ['${PORT}:80']\n");
    Project p = load_project(opts_in(d));
    CHECK(p.services.at("web").image == "nginx:fromdotenv");
    CHECK(p.services.at("web").ports[0].published == "8080");
    p = load_project(opts_in(d, {{"TAG", "fromenv"}}));
    CHECK(p.services.at("web").image == "nginx:fromenv");
    LoadOptions o = opts_in(d);
    d.write("other.env", "TAG=other\n");
    o.env_files = {"other.env"};
    CHECK(load_project(o).services.at("web").image == "nginx:other");
}

TEST_CASE("extends in the same file and from another directory") {
    TempDir d;
    d.write("common/base.yaml",
            "services:\n  base:\n    image: base\n    environment: {A: '1', B: '2'}\n    volumes: ['./conf:/conf']\n    env_file: base.env\n");
    d.write("common/base.env", "FROM_BASE=1\n");
    d.write("compose.yaml",
            "services:\n"
            "  tmpl:\n    image: tmpl\n    command: [sleep, '1']\n"
            "  a:\n    extends: tmpl\n    environment: {X: y}\n"
            "  b:\n    extends: {file: common/base.yaml, service: base}\n    environment: {B: '3'}\n");
    Project p = load_project(opts_in(d));
    CHECK(p.services.at("a").image == "tmpl");
    CHECK(p.services.at("a").command->at(0) == "sleep");
    const Service& b = p.services.at("b");
    CHECK(b.image == "base");
    CHECK(b.environment.at("A") == "1");
    CHECK(b.environment.at("B") == "3");
    CHECK(b.environment.at("FROM_BASE") == "1");
    CHECK(b.volumes.at(0).source == (d.path / "common/conf").string());
}

TEST_CASE("extends errors") {
    TempDir d;
    d.write("compose.yaml", "services:\n  a:\n    extends: nope\n");
    CHECK_THROWS_WITH_AS(load_project(opts_in(d)), doctest::Contains("undefined service \"nope\""), LoadError);
    d.write("compose.yaml", "services:\n  a:\n    extends: {file: missing.yaml, service: x}\n");
    CHECK_THROWS_WITH_AS(load_project(opts_in(d)), doctest::Contains("not found"), LoadError);
}

TEST_CASE("include brings another project's resources, with its own .env and paths") {
    TempDir d;
    d.write("db/compose.yaml", "services:\n  db:\n    image: postgres:${PGTAG}\n    volumes: ['./init:/init']\nvolumes:\n  dbdata:\n");
    d.write("db/.env", "PGTAG=16\n");
    d.write("compose.yaml", "include:\n  - db/compose.yaml\nservices:\n  web:\n    image: x\n    depends_on: [db]\n");
    Project p = load_project(opts_in(d));
    CHECK(p.services.at("db").image == "postgres:16");
    CHECK(p.services.at("db").volumes[0].source == (d.path / "db/init").string());
    CHECK(p.volumes.count("dbdata"));
    d.write("compose.yaml", "include:\n  - db/compose.yaml\nservices:\n  db:\n    image: clash\n");
    CHECK_THROWS_WITH_AS(load_project(opts_in(d)), doctest::Contains("also defined by the included file"), LoadError);
    d.write("loop.yaml", "include: [compose.yaml]\nservices: {}\n");
    d.write("compose.yaml", "include: [loop.yaml]\nservices:\n  x: {image: x}\n");
    CHECK_THROWS_WITH_AS(load_project(opts_in(d)), doctest::Contains("include cycle"), LoadError);
}

TEST_CASE("errors name the file, line and column") {
    TempDir d;
    d.write("compose.yaml", "services:\n  web:\n    image: x\n    ports:\n      - '80:99999'\n");
    try {
        load_project(opts_in(d));
        FAIL("expected an error");
    } catch (const LoadError& e) {
        CHECK(std::string(e.what()).find("compose.yaml:5:9: services.web.ports[0]: ") != std::string::npos);
    }
}

TEST_CASE("bad input files: FIFOs, devices, too large, NUL bytes, no services") {
    TempDir d;
    auto error_of = [&](LoadOptions o) -> std::string {
        try {
            load_project(o);
        } catch (const berth::Error& e) {
            return e.what();
        }
        return "(no error)";
    };
    d.write("ok.yaml", "services:\n  web:\n    image: x\n");
    REQUIRE(::mkfifo((d.path / "fifo.yaml").c_str(), 0600) == 0);
    LoadOptions o = opts_in(d);
    o.files = {(d.path / "fifo.yaml").string()};
    CHECK(error_of(o) == "compose file " + (d.path / "fifo.yaml").string() + " is a FIFO (named pipe), not a regular file");
    o.files = {"/dev/zero"};
    CHECK(error_of(o) == "compose file /dev/zero is a character device, not a regular file");
    fs::resize_file(d.write("huge.yaml", ""), kMaxInputFileBytes + 1);
    o.files = {(d.path / "huge.yaml").string()};
    CHECK(error_of(o).find("huge.yaml is too large (more than 16 MiB)") != std::string::npos);

    o.files = {(d.path / "ok.yaml").string()};
    o.env_files = {"/dev/zero"};
    CHECK(error_of(o) == "env file /dev/zero is a character device, not a regular file");
    d.write("nul.env", std::string("A=1\nB=x\0y\n", 10));
    o.env_files = {(d.path / "nul.env").string()};
    CHECK(error_of(o) == (d.path / "nul.env").string() + ":2:4: the file holds a NUL byte");
    o.env_files.clear();

    // env_file: in the compose file points at the entry.
    d.write("envfifo.yaml", "services:\n  web:\n    image: x\n    env_file: fifo.yaml\n");
    o.files = {(d.path / "envfifo.yaml").string()};
    CHECK(error_of(o).find("envfifo.yaml:4:15: services.web.env_file: env file ") != std::string::npos);

    d.write("empty.yaml", "# nothing\n");
    o.files = {(d.path / "empty.yaml").string()};
    CHECK(error_of(o) == (d.path / "empty.yaml").string() + ":1:1: the compose file is empty");
    d.write("name.yaml", "name: p\n");
    o.files = {(d.path / "name.yaml").string()};
    CHECK(error_of(o).find("name.yaml:1:1: services: the project defines no services") != std::string::npos);
    d.write("none.yaml", "services: {}\n");
    o.files = {(d.path / "none.yaml").string()};
    CHECK(error_of(o).find("none.yaml:1:11: services: the project defines no services") != std::string::npos);
    // An override file without services is fine: the project has some.
    o.files = {(d.path / "ok.yaml").string(), (d.path / "name.yaml").string()};
    CHECK(error_of(o) == "(no error)");
}

// The time this takes is bounded by tests/cli/bad_input.sh (CPU time, outside the sanitizers slowdown):
// a unit test checks results, not speed.
TEST_CASE("100,000 environment entries, inline and from an env file, all load") {
    TempDir d;
    std::string y = "services:\n  web:\n    image: x\n    env_file: big.env\n    environment:\n";
    std::string env;
    for (int i = 0; i < 100000; ++i) {
        y += "      K" + std::to_string(i) + ": v\n";
        env += "E" + std::to_string(i) + "=v\n";
    }
    d.write("compose.yaml", y);
    d.write("big.env", env);
    Project p = load_project(opts_in(d));
    const auto& env_map = p.services.at("web").environment;
    CHECK(env_map.size() == 200000);
    CHECK(env_map.count("K99999") == 1);
    CHECK(env_map.count("E99999") == 1);
}
