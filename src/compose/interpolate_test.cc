#include "compose/dotenv.h"
#include "compose/interpolate.h"
#include "compose/load_error.h"
#include "compose/validate.h"
#include "compose/yaml_reader.h"

#include <doctest/doctest.h>

#include <map>

using namespace berth::compose;

namespace {
Lookup env(std::map<std::string, std::string> m) {
    return [m](const std::string& k) -> std::optional<std::string> {
        auto it = m.find(k);
        if (it == m.end()) return std::nullopt;
        return it->second;
    };
}
}  // namespace

TEST_CASE("interpolate: compose's substitution forms") {
    auto e = env({{"SET", "v"}, {"EMPTY", ""}, {"B", "inner"}});
    CHECK(interpolate("$SET-${SET}", e) == "v-v");
    CHECK(interpolate("a$UNSET.b", e) == "a.b");
    CHECK(interpolate("${EMPTY:-d}|${EMPTY-d}|${UNSET-d}", e) == "d||d");
    CHECK(interpolate("${EMPTY:+alt}|${EMPTY+alt}|${SET:+alt}|${UNSET+alt}", e) == "|alt|alt|");
    CHECK(interpolate("${UNSET:-${B:-x}}", e) == "inner");
    CHECK(interpolate("${UNSET:-${ALSO:-deep}}/end", e) == "deep/end");
    CHECK(interpolate("$$HOME $${SET}", e) == "$HOME ${SET}");
    CHECK(interpolate("${SET:?must}", e) == "v");
    CHECK(interpolate("${EMPTY?must}", e) == "");
    CHECK(interpolate("no dollars", e) == "no dollars");
}

TEST_CASE("interpolate: errors") {
    auto e = env({{"EMPTY", ""}});
    CHECK_THROWS_WITH_AS(interpolate("${EMPTY:?set it first}", e),
                         "required variable EMPTY is missing a value: set it first", InterpolationError);
    CHECK_THROWS_WITH_AS(interpolate("${NOPE?}", e), "required variable NOPE is missing a value",
                         InterpolationError);
    CHECK_THROWS_AS(interpolate("${UNCLOSED", e), InterpolationError);
    CHECK_THROWS_AS(interpolate("${}", e), InterpolationError);
    CHECK_THROWS_AS(interpolate("${A*B}", e), InterpolationError);
    CHECK_THROWS_AS(interpolate("cost $ 5", e), InterpolationError);
    CHECK_THROWS_AS(interpolate("end$", e), InterpolationError);
}

TEST_CASE("interpolate_tree: values only, errors carry the location and key path") {
    Node doc = parse_yaml("services:\n  web:\n    image: \"nginx:${TAG:-1.25}\"\n    labels:\n      $KEY: x\n",
                          "c.yaml");
    interpolate_tree(doc, env({}));
    CHECK(doc.find("services")->find("web")->find("image")->text == "nginx:1.25");
    CHECK(doc.find("services")->find("web")->find("labels")->find("$KEY"));

    Node bad = parse_yaml("services:\n  web:\n    ports: [\"80\", \"${P:?need P}\"]\n", "c.yaml");
    try {
        interpolate_tree(bad, env({}));
        FAIL("expected an error");
    } catch (const LoadError& err) {
        CHECK(err.key_path() == "services.web.ports[1]");
        CHECK(err.location().line == 3);
        CHECK(std::string(err.what()).find("need P") != std::string::npos);
    }
}

TEST_CASE("dotenv: quoting, comments, export, inheritance, expansion") {
    const char* text =
        "# comment\n"
        "A=plain value  # trailing comment\n"
        "export B = spaced\n"
        "C='single $A \\n'\n"
        "D=\"double ${A}\\n\\\"q\\\" \\$lit\"\n"
        "E=\"multi\n"
        "line\"\n"
        "F=${B}-${OUTER}\n"
        "G: yaml style\n"
        "OUTER\n"
        "H=a#b\n"
        "EMPTY=\n";
    auto vars = parse_dotenv(text, ".env", env({{"OUTER", "out"}}));
    std::map<std::string, std::string> m(vars.begin(), vars.end());
    CHECK(m.at("A") == "plain value");
    CHECK(m.at("B") == "spaced");
    CHECK(m.at("C") == "single $A \\n");
    CHECK(m.at("D") == "double plain value\n\"q\" $lit");
    CHECK(m.at("E") == "multi\nline");
    CHECK(m.at("F") == "spaced-out");
    CHECK(m.at("G") == "yaml style");
    CHECK(m.at("OUTER") == "out");
    CHECK(m.at("H") == "a#b");
    CHECK(m.at("EMPTY") == "");
    CHECK(vars.front().first == "A");  // file order is kept
}

TEST_CASE("dotenv: the environment wins inside values; errors name the line") {
    auto vars = parse_dotenv("X=file\nY=${X}\n", ".env", env({{"X", "env"}}));
    CHECK(vars[1].second == "env");
    try {
        parse_dotenv("OK=1\nBAD KEY=2\n", "my.env", env({}));
        FAIL("expected an error");
    } catch (const LoadError& err) {
        CHECK(err.location().file == "my.env");
        CHECK(err.location().line == 2);
    }
    CHECK_THROWS_AS(parse_dotenv("Q=\"never closed\n", "e", env({})), LoadError);
    CHECK_THROWS_AS(parse_dotenv("Q='x' junk\n", "e", env({})), LoadError);
}

TEST_CASE("raw env files: values as written") {
    auto vars = parse_raw_env("# comment\nTEST_VAR='{\"key\": \"value\"}'\n\n  B = $X \"q\"\r\nEMPTY=\nNOEQ\n");
    REQUIRE(vars.size() == 4);
    CHECK(vars[0] == std::pair<std::string, std::string>{"TEST_VAR", "'{\"key\": \"value\"}'"});
    CHECK(vars[1] == std::pair<std::string, std::string>{"B", " $X \"q\""});
    CHECK(vars[2] == std::pair<std::string, std::string>{"EMPTY", ""});
    CHECK(vars[3] == std::pair<std::string, std::string>{"NOEQ", ""});
}

namespace {
std::string validation_error(const std::string& yaml) {
    try {
        validate(parse_yaml(yaml, "c.yaml"));
    } catch (const LoadError& e) {
        return e.what() + (e.hint().empty() ? std::string() : " | " + e.hint());
    }
    return "";
}
}  // namespace

TEST_CASE("validate: accepts the subset, x- extensions anywhere compose allows them") {
    CHECK(validation_error("x-common: &c {a: 1}\n"
                           "services:\n"
                           "  web:\n"
                           "    image: nginx\n"
                           "    x-note: hi\n"
                           "    ports: [80, \"8080:80\", {target: 81, published: 8081}]\n"
                           "    environment: {A: 1, B: true, C: null}\n"
                           "    depends_on: {db: {condition: service_healthy}}\n"
                           "    healthcheck: {test: [CMD, \"true\"], interval: 5s}\n"
                           "  db: {image: postgres}\n"
                           "volumes: {data: }\n"
                           "networks: {back: {internal: true}}\n") == "");
}

TEST_CASE("validate: the most specific violation, with location, path and expectation") {
    std::string e = validation_error("services:\n  web:\n    image: x\n    prots: [80]\n");
    CHECK(e.find("c.yaml:4:5: services.web.prots: unknown key \"prots\"") != std::string::npos);
    CHECK(e.find("did you mean \"ports\"?") != std::string::npos);

    e = validation_error("servces: {}\n");
    CHECK(e.find("did you mean \"services\"?") != std::string::npos);

    e = validation_error("services:\n  web:\n    image: x\n    build: {contxt: .}\n");
    CHECK(e.find("services.web.build.contxt") != std::string::npos);
    CHECK(e.find("did you mean \"context\"?") != std::string::npos);

    e = validation_error("services:\n  web:\n    image: x\n    depends_on: {db: {condition: healthy}}\n");
    CHECK(e.find("c.yaml:4:34: services.web.depends_on.db.condition: invalid value \"healthy\"") != std::string::npos);
    CHECK(e.find("service_healthy") != std::string::npos);

    e = validation_error("services:\n  web:\n    image: x\n    tty: [1]\n");
    CHECK(e.find("services.web.tty: expected a boolean (true or false), got a list") != std::string::npos);

    e = validation_error("services:\n  web:\n    image: x\n    ports:\n      - 80\n      - {published: 80}\n");
    CHECK(e.find("services.web.ports[1]: missing required key \"target\"") != std::string::npos);

    e = validation_error("services:\n  \"my web\": {image: x}\n");
    CHECK(e.find("invalid name \"my web\"") != std::string::npos);

    CHECK(validation_error("- a\n- b\n").find("must be a mapping") != std::string::npos);
}

TEST_CASE("a variable whose value is not UTF-8 is an error naming it") {
    Lookup lookup = [](const std::string& name) -> std::optional<std::string> {
        if (name == "BAD") return std::string("x\xff");
        return std::nullopt;
    };
    CHECK_THROWS_WITH(interpolate("a ${BAD} b", lookup), doctest::Contains("variable BAD is not valid UTF-8"));
    CHECK_THROWS_WITH(interpolate("${BAD:-x}", lookup), doctest::Contains("variable BAD"));
    CHECK(interpolate("${OTHER:-ok}", lookup) == "ok");
}

TEST_CASE("an env file that is not UTF-8 is refused with its line") {
    try {
        parse_dotenv("OK=1\nBAD=\xfe\n", "bad.env", env({}));
        FAIL("expected an error");
    } catch (const LoadError& e) {
        CHECK(e.location().line == 2);
        CHECK(std::string(e.what()).find("not valid UTF-8") != std::string::npos);
    }
}
