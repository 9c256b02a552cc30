#include "logs/log_file.h"

#include <doctest/doctest.h>
#include <unistd.h>

#include <filesystem>

namespace fs = std::filesystem;
using namespace berth::logs;

namespace {
struct TempDir {
    std::string path;
    TempDir() {
        char t[] = "/tmp/berth-logs-XXXXXX";
        path = ::mkdtemp(t);
    }
    ~TempDir() { fs::remove_all(path); }
};
}  // namespace

TEST_CASE("times format and parse as RFC 3339 with nanoseconds") {
    int64_t t = 1795526175123456789LL;
    std::string s = format_time(t);
    CHECK(s == "2026-11-24T13:16:15.123456789Z");
    CHECK(parse_time(s) == t);
    CHECK(parse_time("2026-11-24T14:16:15+01:00") == 1795526175000000000LL);
    CHECK(parse_time("2026-11-24T13:16:15.5Z") == 1795526175500000000LL);
    CHECK(parse_time("yesterday") == -1);
    CHECK(parse_time("2026-11-24T13:16:15") == -1);
}

TEST_CASE("lines split from any chunking and partial lines stay whole") {
    TempDir d;
    std::string path = d.path + "/c.log";
    {
        LogWriter w(path, {});
        w.write(Stream::Stdout, "hel", 1);
        w.write(Stream::Stderr, "err line\n", 2);
        w.write(Stream::Stdout, "lo\nsecond\nthi", 3);
        w.write(Stream::Stdout, "rd", 4);
    }  // the destructor writes the unterminated "third"
    auto entries = read_log(path);
    REQUIRE(entries.size() == 4);
    CHECK(entries[0].text == "err line\n");
    CHECK(entries[0].stream == Stream::Stderr);
    CHECK(entries[1].text == "hello\n");
    CHECK(entries[2].text == "second\n");
    CHECK(entries[3].text == "third");
}

TEST_CASE("binary bytes and quotes are escaped, lines longer than the cap come back whole") {
    TempDir d;
    std::string path = d.path + "/c.log";
    std::string big(LogWriter::kMaxLine * 2 + 10, 'x');
    {
        LogWriter w(path, {});
        w.write(Stream::Stdout, std::string("a\"b\\c\x01\xff\xc3\xa9\n", 10), 1);
        w.write(Stream::Stdout, big + "\n", 2);
    }
    auto entries = read_log(path);
    REQUIRE(entries.size() == 2);
    CHECK(entries[0].text == "a\"b\\c\x01\xEF\xBF\xBD\xc3\xa9\n");
    CHECK(entries[1].text == big + "\n");
}

TEST_CASE("rotation keeps at most max_file files under max_size") {
    TempDir d;
    std::string path = d.path + "/c.log";
    {
        LogWriter w(path, {2000, 3});
        for (int i = 0; i < 500; ++i) w.write(Stream::Stdout, "line number " + std::to_string(i) + "\n", i);
    }
    int files = 0;
    for (auto& e : fs::directory_iterator(d.path)) {
        ++files;
        CHECK(fs::file_size(e.path()) <= 2000);
    }
    CHECK(files == 3);
    auto entries = read_log(path);
    REQUIRE_FALSE(entries.empty());
    CHECK(entries.back().text == "line number 499\n");
    for (size_t i = 1; i < entries.size(); ++i) CHECK(entries[i - 1].time_ns < entries[i].time_ns);
}
