#include "logs/log_file.h"

#include <doctest/doctest.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <filesystem>
#include <fstream>

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

TEST_CASE("a write that fails stalls the writer: entries held, then dropped and counted, resumed when it works") {
    // RLIMIT_FSIZE makes write() fail (EFBIG) past a size, as a full disk does (ENOSPC).
    TempDir d;
    std::string path = d.path + "/c.log";
    struct rlimit old {};
    REQUIRE(::getrlimit(RLIMIT_FSIZE, &old) == 0);
    auto old_handler = std::signal(SIGXFSZ, SIG_IGN);
    std::string line(99, 'y');
    line += '\n';
    size_t written = 0;
    {
        LogWriter w(path, {});
        struct rlimit lim = old;
        lim.rlim_cur = 64 * 1024;
        REQUIRE(::setrlimit(RLIMIT_FSIZE, &lim) == 0);
        while (w.error() == 0 && written < 100000) {
            w.write(Stream::Stdout, line, 1);
            w.flush();
            ++written;
        }
        CHECK(w.error() == EFBIG);
        // Keep writing: 1 MiB is held, the rest dropped and counted.
        for (int i = 0; i < 20000; ++i, ++written) {
            w.write(Stream::Stdout, line, 2);
            w.flush();
        }
        CHECK(w.error() == EFBIG);
        uint64_t dropped = w.dropped_lines();
        CHECK(dropped > 5000);
        CHECK(dropped < 20000);
        REQUIRE(::setrlimit(RLIMIT_FSIZE, &old) == 0);
        w.write(Stream::Stdout, "after\n", 3);
        w.flush();
        CHECK(w.error() == 0);
        // Every line of the file is a whole entry: the stall cut none.
        std::ifstream in(path);
        std::string text;
        size_t lines = 0, bad = 0;
        LogEntry e;
        bool partial = false;
        while (std::getline(in, text)) {
            ++lines;
            if (!parse_line(text, e, partial)) ++bad;
        }
        CHECK(bad == 0);
        CHECK(lines == written - dropped + 2);  // what was kept, the note of the loss, "after"
        auto entries = read_log(path);
        REQUIRE(entries.size() >= 2);
        CHECK(entries[entries.size() - 2].text == "[berth: " + std::to_string(dropped) + " lines of output lost: cannot write the log]\n");
        CHECK(entries.back().text == "after\n");
    }
    ::setrlimit(RLIMIT_FSIZE, &old);
    std::signal(SIGXFSZ, old_handler);
}
