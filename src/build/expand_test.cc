#include "base/error.h"
#include "build/expand.h"

#include <doctest/doctest.h>

#include <map>

using namespace berth::build;

namespace {

const std::map<std::string, std::string> kEnv = {
    {"PWD", "/home"}, {"SHELL", "bash"}, {"EMPTY", ""}, {"FILE", "archive.tar.gz"}, {"P", "a/b/c"}};

Lookup env() {
    return [](const std::string& n) -> std::optional<std::string> {
        auto it = kEnv.find(n);
        return it == kEnv.end() ? std::nullopt : std::optional(it->second);
    };
}

std::string w(std::string_view s, char escape = '\\') {
    ExpandOptions o;
    o.escape = escape;
    return expand_word(s, env(), o);
}

std::string err(std::string_view s) {
    try {
        w(s);
    } catch (const berth::Error& e) {
        return e.message();
    }
    return "no error";
}

}  // namespace

// Cases from docker's shell/envVarTest where they apply to Linux.
TEST_CASE("variable forms") {
    CHECK(w("hello") == "hello");
    CHECK(w("he'll'o") == "hello");
    CHECK(w("$PWD") == "/home");
    CHECK(w("${PWD}") == "/home");
    CHECK(w("${PWD}x") == "/homex");
    CHECK(w("$PWDx") == "");
    CHECK(w("$UNSET") == "");
    CHECK(w("${UNSET:-def}") == "def");
    CHECK(w("${EMPTY:-def}") == "def");
    CHECK(w("${EMPTY-def}") == "");
    CHECK(w("${UNSET-def}") == "def");
    CHECK(w("${PWD:-def}") == "/home");
    CHECK(w("${PWD:+alt}") == "alt");
    CHECK(w("${EMPTY:+alt}") == "");
    CHECK(w("${EMPTY+alt}") == "alt");
    CHECK(w("${UNSET+alt}") == "");
    CHECK(w("${UNSET:-${SHELL}}") == "bash");
    CHECK(w("${UNSET:-'a b'}") == "a b");
    CHECK(w("${PWD:?}") == "/home");
    CHECK(w("${FILE%.*}") == "archive.tar");
    CHECK(w("${FILE%%.*}") == "archive");
    CHECK(w("${FILE#*.}") == "tar.gz");
    CHECK(w("${FILE##*.}") == "gz");
    CHECK(w("${P/\\//-}") == "a-b/c");
    CHECK(w("${P//\\//-}") == "a-b-c");
    CHECK(w("$") == "$");
    CHECK(w("a$") == "a$");
    CHECK(w("$1") == "");
}

TEST_CASE("quotes and escapes") {
    CHECK(w("'$PWD'") == "$PWD");          // no expansion inside single quotes
    CHECK(w("\"$PWD\"") == "/home");       // expansion inside double quotes
    CHECK(w("\"'$PWD'\"") == "'/home'");
    CHECK(w("\\$PWD") == "$PWD");          // an escaped $
    CHECK(w("\"\\$PWD\"") == "$PWD");
    CHECK(w("\"a\\b\"") == "a\\b");        // \ stays before other characters in double quotes
    CHECK(w("a\\ b") == "a b");
    CHECK(w("'a\\'") == "a\\");            // no escaping in single quotes
    CHECK(w("`$PWD", '`') == "$PWD");      // the backtick escape
    CHECK(w("c:\\dir\\$PWD", '`') == "c:\\dir\\/home");
    CHECK(w("abc\\") == "abc");            // a trailing escape is dropped
}

TEST_CASE("errors") {
    CHECK(err("${UNSET:?}") == "failed to process \"${UNSET:?}\": UNSET: is not allowed to be unset");
    CHECK(err("${EMPTY:?}") == "failed to process \"${EMPTY:?}\": EMPTY: is not allowed to be empty");
    CHECK(err("${UNSET:?set it}") == "failed to process \"${UNSET:?set it}\": UNSET: set it");
    CHECK(err("${EMPTY?}") == "no error");
    CHECK(err("${PWD") == "failed to process \"${PWD\": syntax error: missing '}'");
    CHECK(err("${}") == "failed to process \"${}\": syntax error: bad substitution");
    CHECK(err("${:x}") == "failed to process \"${:x}\": syntax error: bad substitution");
    CHECK(err("${PWD:=x}") == "failed to process \"${PWD:=x}\": unsupported modifier (:=) in substitution");
    CHECK(err("${PWD:#x}") == "failed to process \"${PWD:#x}\": unsupported modifier (:#) in substitution");
    CHECK(err("he'llo").find("matching single-quote") != std::string::npos);
    CHECK(err("'open") == "failed to process \"'open\": unexpected end of statement while looking for matching single-quote");
    CHECK(err("\"open") == "failed to process \"\"open\": unexpected end of statement while looking for matching double-quote");
}

TEST_CASE("word splitting after expansion") {
    ExpandOptions o;
    auto ws = expand_words("a  \"b c\" ${SHELL} 'd e'f ${EMPTY}", env(), o);
    CHECK(ws == std::vector<std::string>{"a", "b c", "bash", "d ef"});
    auto lookup = [](const std::string& n) -> std::optional<std::string> {
        if (n == "PORTS") return std::string("80 443/tcp");
        return std::nullopt;
    };
    CHECK(expand_words("$PORTS 8080", lookup, o) == std::vector<std::string>{"80", "443/tcp", "8080"});
    o.skip_unset = true;
    CHECK(expand_word("${X:-y} $X", nullptr, o) == "${X:-y} $X");
}

TEST_CASE("shell patterns") {
    CHECK(shell_pattern_match("*.gz", "a.tar.gz"));
    CHECK(shell_pattern_match("a?c", "abc"));
    CHECK_FALSE(shell_pattern_match("a?c", "ac"));
    CHECK(shell_pattern_match("a\\*", "a*"));
    CHECK_FALSE(shell_pattern_match("a\\*", "ab"));
    CHECK(shell_pattern_match("*", ""));
}

TEST_CASE("pattern substitution corner cases") {
    auto lookup = [](const std::string& n) -> std::optional<std::string> {
        if (n == "V") return std::string("aXbXc");
        if (n == "LONG") return std::string(3000, 'a');
        return std::nullopt;
    };
    CHECK(expand_word("${V/X/-}", lookup) == "a-bXc");
    CHECK(expand_word("${V//X/-}", lookup) == "a-b-c");
    CHECK(expand_word("${V/*X/-}", lookup) == "-c");  // greedy
    CHECK(expand_word("${V/Y/-}", lookup) == "aXbXc");
    CHECK(expand_word("${V//?/.}", lookup) == ".....");
    CHECK(expand_word("${UNSET/a/b}", lookup) == "");
    // No match in a long value stays cheap (a leading '*' is tried once).
    CHECK(expand_word("${LONG/*z/-}", lookup) == std::string(3000, 'a'));
    CHECK(expand_word("${LONG##*a}", lookup) == "");
    CHECK(expand_word("${LONG%a*}", lookup) == std::string(2999, 'a'));
}
