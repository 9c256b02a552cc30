#include "compose/load_error.h"
#include "compose/yaml_reader.h"

#include <doctest/doctest.h>

#include <regex>
#include <string>
#include <vector>

using namespace berth::compose;

TEST_CASE("yaml reader keeps locations and scalar styles") {
    Node root = parse_yaml("services:\n  web:\n    image: \"nginx\"\n    ports:\n      - 80\n", "c.yaml");
    REQUIRE(root.is_map());
    const Node* web = root.find("services")->find("web");
    REQUIRE(web);
    const MapEntry* img = web->find_entry("image");
    REQUIRE(img);
    CHECK(img->key_loc.line == 3);
    CHECK(img->key_loc.column == 5);
    CHECK(img->value.text == "nginx");
    CHECK_FALSE(img->value.plain);
    CHECK(img->value.scalar_type() == ScalarType::String);
    const Node& port = web->find("ports")->items.at(0);
    CHECK(port.scalar_type() == ScalarType::Int);
    CHECK(port.loc.str() == "c.yaml:5:9");
}

TEST_CASE("yaml core schema types") {
    Node r = parse_yaml("a: ~\nb: yes\nc: True\nd: 0x1F\ne: 1.5e3\nf: '1'\ng:\nh: .inf\n", "t");
    CHECK(r.find("a")->scalar_type() == ScalarType::Null);
    CHECK(r.find("b")->scalar_type() == ScalarType::String);  // YAML 1.2: yes is a string
    CHECK(r.find("c")->scalar_type() == ScalarType::Bool);
    CHECK(r.find("d")->scalar_type() == ScalarType::Int);
    CHECK(r.find("e")->scalar_type() == ScalarType::Float);
    CHECK(r.find("f")->scalar_type() == ScalarType::String);
    CHECK(r.find("g")->is_null());
    CHECK(r.find("h")->scalar_type() == ScalarType::Float);
}

TEST_CASE("anchors, aliases and merge keys") {
    Node r = parse_yaml(
        "x-base: &base\n  image: busybox\n  restart: always\n"
        "services:\n  a:\n    <<: *base\n    restart: 'no'\n", "t");
    const Node* a = r.find("services")->find("a");
    CHECK(a->find("image")->text == "busybox");
    CHECK(a->find("restart")->text == "no");
    CHECK(a->entries.front().key == "restart");  // explicit keys first
}

TEST_CASE("syntax errors and duplicate keys point at the spot") {
    try {
        parse_yaml("services:\n  web:\n    image: a\n    image: b\n", "dup.yaml");
        FAIL("expected an error");
    } catch (const LoadError& e) {
        CHECK(e.location().line == 4);
        CHECK(std::string(e.what()).find("duplicate key \"image\"") != std::string::npos);
    }
    try {
        parse_yaml("services:\n  web: [a, b\n", "bad.yaml");
        FAIL("expected an error");
    } catch (const LoadError& e) {
        CHECK(std::string(e.what()).rfind("bad.yaml:", 0) == 0);
        CHECK(std::string(e.what()).find("invalid YAML") != std::string::npos);
    }
    CHECK_THROWS_AS(parse_yaml("a: 1\n---\nb: 2\n", "t"), LoadError);
    CHECK(parse_yaml("", "t").is_null());
    CHECK(parse_yaml("# only a comment\n", "t").is_null());
}

TEST_CASE("a non-scalar key is refused") {
    CHECK_THROWS_AS(parse_yaml("? [a, b]\n: 1\n", "t"), LoadError);
}

TEST_CASE("!reset and !override tags are kept") {
    Node r = parse_yaml("ports: !reset []\nenv: !override\n  A: 1\nx: !reset null\n", "t");
    CHECK(r.find("ports")->tag == "!reset");
    CHECK(r.find("env")->tag == "!override");
    CHECK(r.find("x")->tag == "!reset");
    CHECK(r.find("x")->scalar_type() == ScalarType::Null);
}

TEST_CASE("a top-level `,` is an error, not a hang (yaml-cpp 0.7 loops on it)") {
    // Each of these made YAML::LoadAll loop forever, allocating, before the probe.
    const char* inputs[] = {",", "\n,\n", "{a: 1}\n,", "[a]\n, b",
                            ", uncomment the following line\n    #image: x\n    command: y\n"};
    for (const char* text : inputs) {
        CAPTURE(text);
        try {
            parse_yaml(text, "comma.yaml");
            FAIL("expected an error");
        } catch (const LoadError& e) {
            CHECK(std::string(e.what()).rfind("comma.yaml:", 0) == 0);
            CHECK(std::string(e.what()).find("unexpected `,`") != std::string::npos);
        }
    }
    // Several real documents, empty ones included, are still counted as such.
    CHECK_THROWS_WITH_AS(parse_yaml("---\n---\n", "t"), doctest::Contains("one YAML document"),
                         LoadError);
    CHECK(parse_yaml("a: [1, 2]\n", "t").find("a")->items.size() == 2);
}

TEST_CASE("text that is not UTF-8 is refused at its line and column") {
    try {
        parse_yaml("services:\n  db:\n    image: my\xff\xffsql\n", "u.yaml");
        FAIL("expected an error");
    } catch (const LoadError& e) {
        CHECK(e.location().line == 3);
        CHECK(e.location().column == 14);
        CHECK(std::string(e.what()).find("not valid UTF-8 (byte 0xFF)") != std::string::npos);
    }
    CHECK_THROWS_AS(parse_yaml("a: \xc0\xaf\n", "t"), LoadError);          // overlong
    CHECK_THROWS_AS(parse_yaml("a: \xed\xa0\x80\n", "t"), LoadError);      // surrogate
    CHECK_THROWS_AS(parse_yaml("a: \xe2\x82\n", "t"), LoadError);          // truncated
    CHECK(parse_yaml("a: \"h\xc3\xa9llo \xe2\x82\xac \xf0\x9f\x90\xb3\"\n", "t").find("a")->text ==
          "h\xc3\xa9llo \xe2\x82\xac \xf0\x9f\x90\xb3");
}

TEST_CASE("an alias bomb is refused quickly, at the spot where it exceeds the bound") {
    std::string y = "a: &a [x, x, x, x, x, x, x, x, x, x]\n";
    std::string prev = "a";
    for (std::string l : {"b", "c", "d", "e", "f", "g", "h", "i"}) {
        y += l + ": &" + l + " [";
        for (int i = 0; i < 10; ++i) y += (i ? ", *" : "*") + prev;
        y += "]\n";
        prev = l;
    }
    try {
        parse_yaml(y, "bomb.yaml");
        FAIL("expected an error");
    } catch (const LoadError& e) {
        CHECK(std::string(e.what()).find("bomb.yaml:") == 0);
        CHECK(std::string(e.what()).find("expands to more than 1000000 values") != std::string::npos);
    }
    // Aliases used a reasonable number of times are fine.
    Node ok = parse_yaml("a: &a [1, 2]\nb: [*a, *a, *a]\n", "ok.yaml");
    CHECK(ok.find("b")->items.size() == 3);
}

TEST_CASE("deep nesting and NUL bytes are refused with their place") {
    std::string deep(5000, '[');
    CHECK_THROWS_AS(parse_yaml("x: " + deep + "\n", "deep.yaml"), LoadError);
    std::string deep_ok(150, '[');
    deep_ok += std::string(150, ']');
    CHECK(parse_yaml("x: " + deep_ok + "\n", "ok.yaml").is_map());
    try {
        parse_yaml(std::string("a: 1\nb: \"x\0y\"\n", 14), "nul.yaml");
        FAIL("expected an error");
    } catch (const LoadError& e) {
        CHECK(std::string(e.what()) == "nul.yaml:2:6: the file holds a NUL byte");
    }
}

TEST_CASE("a map of 100,000 keys reads in linear time") {
    std::string y = "env:\n";
    for (int i = 0; i < 100000; ++i) y += "  K" + std::to_string(i) + ": v\n";
    Node n = parse_yaml(y, "big.yaml");  // was quadratic: the duplicate-key check scanned every key
    CHECK(n.find("env")->entries.size() == 100000);
    CHECK_THROWS_AS(parse_yaml(y + "  K5: again\n", "big.yaml"), LoadError);  // duplicates still found
}

// The hand-written matchers in tree.cc against the core schema's regular
// expressions, on edge cases and on every short string over a small alphabet.
TEST_CASE("scalar types match the YAML 1.2 core schema's expressions") {
    const std::regex null_re("^(~|null|Null|NULL|)$");
    const std::regex bool_re("^(true|True|TRUE|false|False|FALSE)$");
    const std::regex int_re("^([-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+)$");
    const std::regex float_re(
        "^([-+]?(\\.[0-9]+|[0-9]+(\\.[0-9]*)?)([eE][-+]?[0-9]+)?|[-+]?\\.(inf|Inf|INF)|\\.(nan|NaN|NAN))$");
    auto oracle = [&](const std::string& t) {
        if (std::regex_match(t, null_re)) return ScalarType::Null;
        if (std::regex_match(t, bool_re)) return ScalarType::Bool;
        if (std::regex_match(t, int_re)) return ScalarType::Int;
        if (std::regex_match(t, float_re)) return ScalarType::Float;
        return ScalarType::String;
    };
    std::vector<std::string> cases{"", "~", "null", "NULL", "nUll", "true", "False", "tRue", "yes",
                                   "0", "-0", "+12", "0o17", "0o8", "0o", "0x1F", "0xg", "0x", "1_000",
                                   "1.", ".5", "-.5", "1.5e3", "1e", "1e+", "1E-7", "+.inf", ".Inf",
                                   "-.INF", ".nan", "-.nan", "+.NaN", ".", "-", "+", "e3", "1.2.3",
                                   "080", "00x1", " 1", "1 "};
    const std::string alphabet = "0179.+-eExo";
    std::vector<std::string> all{""};
    for (int len = 1; len <= 4; ++len) {
        std::vector<std::string> next;
        for (const auto& p : all)
            if (p.size() == size_t(len - 1))
                for (char c : alphabet) next.push_back(p + c);
        all.insert(all.end(), next.begin(), next.end());
    }
    cases.insert(cases.end(), all.begin(), all.end());
    size_t mismatches = 0;
    for (const auto& t : cases) {
        Node n = Node::scalar(t, true, Location{"t", 1, 1});
        if (n.scalar_type() != oracle(t)) {
            ++mismatches;
            INFO("scalar: \"" << t << "\"");
            CHECK(n.scalar_type() == oracle(t));
        }
    }
    CHECK(mismatches == 0);
    CHECK(cases.size() > 16000);
    Node quoted = Node::scalar("12", false, Location{"t", 1, 1});
    CHECK(quoted.scalar_type() == ScalarType::String);
}
