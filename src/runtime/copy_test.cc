#include "base/error.h"
#include "runtime/copy.h"

#include <doctest/doctest.h>

#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

namespace fs = std::filesystem;
using namespace berth;

namespace {

struct TempDir {
    fs::path path;
    TempDir() {
        char tmpl[] = "/tmp/berth-copy-test-XXXXXX";
        path = ::mkdtemp(tmpl);
    }
    ~TempDir() {
        std::error_code ec;
        fs::remove_all(path, ec);
    }
};

std::string slurp(const fs::path& p) {
    std::ifstream f(p);
    std::stringstream s;
    s << f.rdbuf();
    return s.str();
}

size_t open_fds() {
    size_t n = 0;
    for ([[maybe_unused]] const auto& e : fs::directory_iterator("/proc/self/fd")) ++n;
    return n;
}

}  // namespace

// The worker joins the mount namespace of a pid; this process's own namespace
// stands in for a container's (setns needs CAP_SYS_ADMIN: root only).
TEST_CASE("copy: a tree into and back out of a mount namespace, owners and links kept") {
    if (::geteuid() != 0) return;
    TempDir t;
    fs::create_directories(t.path / "src/sub");
    std::ofstream(t.path / "src/a.txt") << "alpha";
    std::ofstream(t.path / "src/sub/b.txt") << "beta";
    fs::create_symlink("a.txt", t.path / "src/link");
    REQUIRE(::chown((t.path / "src/a.txt").c_str(), 1234, 1234) == 0);
    fs::create_directories(t.path / "in");

    runtime::copy_into(::getpid(), (t.path / "src").string(), (t.path / "in").string(), true);
    CHECK(slurp(t.path / "in/src/a.txt") == "alpha");
    CHECK(slurp(t.path / "in/src/sub/b.txt") == "beta");
    CHECK(fs::read_symlink(t.path / "in/src/link") == "a.txt");
    struct stat st {};
    REQUIRE(::stat((t.path / "in/src/a.txt").c_str(), &st) == 0);
    CHECK(st.st_uid == 1234);

    // Out, to a name that does not exist yet: the copy takes that name, as cp does.
    runtime::copy_out_of(::getpid(), (t.path / "in/src/sub/b.txt").string(), (t.path / "b-copy").string());
    CHECK(slurp(t.path / "b-copy") == "beta");
}

TEST_CASE("copy: the worker's error comes back, and failed copies leak no fd") {
    if (::geteuid() != 0) return;
    TempDir t;
    size_t before = open_fds();
    for (int i = 0; i < 20; ++i) {
        CHECK_THROWS_WITH_AS(runtime::copy_out_of(::getpid(), (t.path / "missing").string(), (t.path / "x").string()),
                             doctest::Contains("missing"), Error);
        CHECK_THROWS_AS(runtime::copy_into(::getpid(), (t.path / "missing").string(), t.path.string(), false), Error);
    }
    CHECK(open_fds() == before);
    // A pid that is no process: refused before any fork.
    CHECK_THROWS_WITH_AS(runtime::copy_into(999999999, t.path.string(), "/tmp", false),
                         doctest::Contains("mount namespace"), Error);
}
