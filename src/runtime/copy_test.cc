#include "base/error.h"
#include "runtime/copy.h"

#include <doctest/doctest.h>

#include <sched.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <csignal>
#include <cstdio>
#include <stdexcept>

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

namespace {

// Runs `fn` in a forked child (a copy that hangs or a signal that kills must
// not take the test runner with it): 0 when it returned, 1 when it threw
// berth::Error whose message holds `expect`, 2 another exception, 3 a wrong
// message, 128 + N when signal N killed it, -1 when it still ran after `seconds`.
template <class F>
int in_child(F fn, const std::string& expect, int seconds) {
    pid_t pid = ::fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
        int code = 0;
        try {
            fn();
        } catch (const Error& e) {
            code = std::string(e.what()).find(expect) != std::string::npos ? 1 : 3;
            if (code == 3) std::fprintf(stderr, "unexpected message: %s\n", e.what());
        } catch (...) {
            code = 2;
        }
        ::_exit(code);
    }
    int st = 0;
    for (int i = 0; i < seconds * 20; ++i) {
        if (::waitpid(pid, &st, WNOHANG) == pid) return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
        ::usleep(50000);
    }
    ::kill(pid, SIGKILL);
    ::waitpid(pid, &st, 0);
    return -1;
}

void big_file(const fs::path& p, size_t mib) {
    std::ofstream f(p, std::ios::binary);
    std::string block(1 << 20, 'x');
    for (size_t i = 0; i < mib; ++i) f << block;
}

}  // namespace

// The host side failing while the worker still writes (more than a pipe's
// worth): the worker must see the pipe close, not block on it forever.
TEST_CASE("copy out: a host-side failure ends the copy instead of hanging") {
    if (::geteuid() != 0) return;
    TempDir t;
    big_file(t.path / "big", 4);
    std::ofstream(t.path / "file") << "a regular file";
    int r = in_child([&] { runtime::copy_out_of(::getpid(), (t.path / "big").string(), (t.path / "file/sub").string()); },
                     "cannot write", 20);
    CHECK(r == 1);
}

// The container's side failing while berth still writes: its error is
// reported; SIGPIPE must not kill berth first.
TEST_CASE("copy in: a container-side failure is reported, not a SIGPIPE") {
    if (::geteuid() != 0) return;
    TempDir t;
    fs::create_directories(t.path / "src");
    big_file(t.path / "src/big", 4);
    std::ofstream(t.path / "file") << "a regular file";
    int r = in_child([&] { runtime::copy_into(::getpid(), (t.path / "src").string(), (t.path / "file/sub").string(), false); },
                     "cannot write", 20);
    CHECK(r == 1);
}

// A full disk on the host: the copy fails, it does not end "successfully"
// with a truncated file.
TEST_CASE("copy out: a write error on the host (a full disk) is an error") {
    if (::geteuid() != 0) return;
    TempDir t;
    big_file(t.path / "big", 2);
    fs::create_directories(t.path / "small");
    int r = in_child(
        [&] {
            if (::unshare(CLONE_NEWNS) < 0 || ::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) < 0 ||
                ::mount("tmpfs", (t.path / "small").c_str(), "tmpfs", 0, "size=256k") < 0)
                throw std::runtime_error("no private tmpfs");
            runtime::copy_out_of(::getpid(), (t.path / "big").string(), (t.path / "small/big").string());
        },
        "cannot write", 20);
    CHECK(r == 1);
}
