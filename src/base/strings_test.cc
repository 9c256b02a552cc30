#include "base/strings.h"
#include "base/error.h"

#include <cerrno>
#include <doctest/doctest.h>

using namespace berth;

TEST_CASE("split keeps empty fields") {
    CHECK(split("a::b", ':') == std::vector<std::string>{"a", "", "b"});
    CHECK(split("", ':') == std::vector<std::string>{""});
}

TEST_CASE("trim and join") {
    CHECK(trim("  x y \n") == "x y");
    CHECK(trim("   ").empty());
    CHECK(join({"a", "b", "c"}, ", ") == "a, b, c");
}

TEST_CASE("closest_match suggests near words only") {
    std::vector<std::string> keys{"image", "ports", "volumes", "environment"};
    CHECK(closest_match("imgae", keys) == "image");
    CHECK(closest_match("enviroment", keys) == "environment");
    CHECK(closest_match("zzzzzzzz", keys).empty());
}

TEST_CASE("Error wraps context and keeps errno") {
    Error e = Error::sys(ENOENT, "open /x");
    e.wrap("service web");
    CHECK(std::string(e.what()) == "service web: open /x: No such file or directory");
    CHECK(e.code() == ENOENT);
}

TEST_CASE("set_env replaces the entry for a key, or appends") {
    std::vector<std::string> env{"PATH=/bin", "HOME=/root", "HOMEDIR=/x"};
    set_env(env, "HOME=/home/u");
    CHECK(env == std::vector<std::string>{"PATH=/bin", "HOME=/home/u", "HOMEDIR=/x"});
    set_env(env, "TERM=xterm");
    CHECK(env.back() == "TERM=xterm");
    CHECK(env.size() == 4);
    // A prefix of another key's name is a different key.
    set_env(env, "HOMED=1");
    CHECK(env.size() == 5);
    CHECK(env[2] == "HOMEDIR=/x");
}
