#include "state/memo.h"

#include <doctest/doctest.h>
#include <unistd.h>

#include <filesystem>

namespace fs = std::filesystem;
using berth::state::Memo;

namespace {
struct MemoDir {
    std::string path;
    MemoDir() {
        char t[] = "/tmp/berth-memo-XXXXXX";
        path = ::mkdtemp(t);
    }
    ~MemoDir() { fs::remove_all(path); }
};
size_t entries(const std::string& dir) {
    if (!fs::exists(dir)) return 0;
    return static_cast<size_t>(std::distance(fs::directory_iterator(dir), fs::directory_iterator()));
}
}  // namespace

TEST_CASE("a memo remembers texts across instances, in a directory it makes") {
    MemoDir t;
    std::string dir = t.path + "/run/memo/compose-valid";
    Memo a(dir);
    CHECK_FALSE(a.contains("{\"services\":{}}"));
    a.add("{\"services\":{}}");
    CHECK(a.contains("{\"services\":{}}"));
    CHECK_FALSE(a.contains("{\"services\":{\"x\":{}}}"));
    Memo b(dir);  // another process, the same binary
    CHECK(b.contains("{\"services\":{}}"));
    CHECK(fs::is_regular_file(a.entry_path("{\"services\":{}}")));
    CHECK(fs::file_size(a.entry_path("{\"services\":{}}")) == 0);
    a.add("{\"services\":{}}");  // twice is harmless
    CHECK(entries(dir) == 1);
}

TEST_CASE("a memo stays bounded") {
    MemoDir t;
    Memo m(t.path + "/m", 4);
    for (int i = 0; i < 10; ++i) m.add("text " + std::to_string(i));
    CHECK(entries(t.path + "/m") <= 4);
    CHECK(m.contains("text 9"));  // the newest survives the trim
}

TEST_CASE("a memo that cannot be written only costs time") {
    Memo m("/proc/berth-no-such-dir/memo");
    m.add("x");
    CHECK_FALSE(m.contains("x"));
}
