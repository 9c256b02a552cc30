#include "compose/units.h"

#include <doctest/doctest.h>

#include <stdexcept>

using namespace berth::compose;

TEST_CASE("durations parse as Go's time.ParseDuration") {
    CHECK(parse_duration("1m30s") == 90'000'000'000LL);
    CHECK(parse_duration("1.5h") == 5'400'000'000'000LL);
    CHECK(parse_duration("300ms") == 300'000'000LL);
    CHECK(parse_duration("10us") == 10'000LL);
    CHECK(parse_duration("2h45m") == (2 * 3600 + 45 * 60) * 1'000'000'000LL);
    CHECK(parse_duration("0") == 0);
    CHECK(parse_duration("-5s") == -5'000'000'000LL);
    CHECK_THROWS_AS(parse_duration("10"), ValueError);
    CHECK_THROWS_AS(parse_duration("1x"), ValueError);
    CHECK_THROWS_AS(parse_duration(""), ValueError);
    CHECK_THROWS_AS(parse_duration("s"), ValueError);
    CHECK_THROWS_AS(parse_duration("1..5s"), ValueError);
}

TEST_CASE("durations print as Go's Duration.String") {
    CHECK(format_duration(90'000'000'000LL) == "1m30s");
    CHECK(format_duration(3600'000'000'000LL) == "1h0m0s");
    CHECK(format_duration(10'000'000'000LL) == "10s");
    CHECK(format_duration(1'500'000'000LL) == "1.5s");
    CHECK(format_duration(500'000'000LL) == "500ms");
    CHECK(format_duration(0) == "0s");
    CHECK(format_duration(1500) == "1.5\xC2\xB5s");
    CHECK(format_duration(-2'000'000'000LL) == "-2s");
}

TEST_CASE("byte sizes use binary multiples") {
    CHECK(parse_bytes("512m") == 536870912LL);
    CHECK(parse_bytes("1g") == 1073741824LL);
    CHECK(parse_bytes("1GB") == 1073741824LL);
    CHECK(parse_bytes("1.5k") == 1536);
    CHECK(parse_bytes("1024") == 1024);
    CHECK(parse_bytes("64MiB") == 67108864LL);
    CHECK(parse_bytes("100b") == 100);
    CHECK_THROWS_AS(parse_bytes("lots"), ValueError);
    CHECK_THROWS_AS(parse_bytes("12q"), ValueError);
    CHECK_THROWS_AS(parse_bytes(""), ValueError);
}

TEST_CASE("commands split as a POSIX shell would") {
    using V = std::vector<std::string>;
    CHECK(shell_split("echo hello world") == V{"echo", "hello", "world"});
    CHECK(shell_split("sh -c 'echo $HOME && ls'") == V{"sh", "-c", "echo $HOME && ls"});
    CHECK(shell_split("echo \"a \\\"b\\\" c\"") == V{"echo", "a \"b\" c"});
    CHECK(shell_split("a\\ b c") == V{"a b", "c"});
    CHECK(shell_split("  spaced   out  ") == V{"spaced", "out"});
    CHECK(shell_split("x''y") == V{"xy"});
    CHECK(shell_split("''") == V{""});
    CHECK(shell_split("").empty());
    CHECK_THROWS_AS(shell_split("echo 'oops"), ValueError);
    CHECK_THROWS_AS(shell_split("echo \"oops"), ValueError);
}

TEST_CASE("a number too large for any duration or size is out of range, not \"stold\"") {
    std::string digits(5000, '9');
    auto message = [](auto f) -> std::string {
        try {
            f();
        } catch (const ValueError& e) {
            return e.what();
        }
        return "(no error)";
    };
    std::string m = message([&] { parse_bytes(digits); });
    CHECK(m.rfind("value out of range: \"9999", 0) == 0);
    CHECK(m.find("(5000 characters)") != std::string::npos);  // the value is cut in the message
    CHECK(m.size() < 200);
    CHECK(message([&] { parse_bytes(digits + "g"); }).rfind("value out of range", 0) == 0);
    CHECK(message([] { parse_bytes("9000000p"); }).rfind("value out of range", 0) == 0);
    CHECK(message([&] { parse_duration(digits + "s"); }).rfind("value out of range", 0) == 0);
    CHECK(message([] { parse_duration("3000000h"); }).rfind("value out of range", 0) == 0);
    CHECK(parse_duration("2500000h") == 2500000LL * 3600 * 1'000'000'000LL);
}
