#include "state/state.h"

#include "base/error.h"

#include <doctest/doctest.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <csignal>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace fs = std::filesystem;
using namespace berth::state;

namespace {
struct TempDir {
    std::string path;
    TempDir() {
        char t[] = "/tmp/berth-state-XXXXXX";
        path = ::mkdtemp(t);
    }
    ~TempDir() { fs::remove_all(path); }
};
}  // namespace

TEST_CASE("container records round-trip through disk") {
    TempDir d;
    ProjectState ps(d.path, "shop");
    ContainerRecord r;
    r.name = "shop-web-1";
    r.project = "shop";
    r.service = "web";
    r.state = "running";
    r.pid = 1234;
    r.exit_code = 137;
    r.exit_reason = "OOMKilled";
    r.pid_start_time = 987654;
    r.ports = {"0.0.0.0:8080->80/tcp"};
    r.networks = {{"app_default", "172.18.0.2"}};
    r.health_log.push_back({"a", "b", 1, "boom"});
    ps.write(r);
    auto back = ps.read("shop-web-1");
    REQUIRE(back);
    CHECK(back->pid == 1234);
    CHECK(*back->exit_code == 137);
    CHECK(back->exit_reason == "OOMKilled");
    CHECK(back->pid_start_time == 987654);
    CHECK(back->ports == r.ports);
    CHECK(back->networks == r.networks);
    CHECK(back->health_log.at(0).output == "boom");
    CHECK(ps.read_all().size() == 1);
    ps.remove("shop-web-1");
    CHECK(ps.read_all().empty());
    CHECK_FALSE(ps.read("missing"));
    CHECK(list_projects(d.path) == std::vector<std::string>{"shop"});
}

TEST_CASE("a torn record is skipped, not fatal") {
    TempDir d;
    ProjectState ps(d.path, "p");
    fs::create_directories(ps.dir() + "/containers");
    write_file_atomic(ps.dir() + "/containers/bad.json", "{not json");
    CHECK(ps.read_all().empty());
}

TEST_CASE("process liveness guards against pid reuse") {
    uint64_t me = process_start_time(::getpid());
    CHECK(me > 0);
    CHECK(process_alive(::getpid(), me));
    CHECK_FALSE(process_alive(::getpid(), me + 1));
    pid_t child = ::fork();
    if (child == 0) ::_exit(0);
    ::waitpid(child, nullptr, 0);
    CHECK_FALSE(process_alive(child, 0));
}

TEST_CASE("a process's start time is found past a command holding spaces and parentheses") {
    int ready[2];
    REQUIRE(::pipe(ready) == 0);
    pid_t child = ::fork();
    if (child == 0) {
        ::prctl(PR_SET_NAME, "a) 1 2 (b", 0, 0, 0);
        char c = 1;
        (void)!::write(ready[1], &c, 1);
        ::pause();
        ::_exit(0);
    }
    char c = 0;
    REQUIRE(::read(ready[0], &c, 1) == 1);
    // The same process seen from here: its start time is that of a fork of this one, not 0,
    // and neither field 22 counted from the first ')' (the name's) nor garbage.
    std::ifstream f("/proc/" + std::to_string(child) + "/stat");
    std::string line((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
    CHECK(line.find("(a) 1 2 (b)") != std::string::npos);
    std::istringstream rest(line.substr(line.rfind(')') + 2));
    std::string field;
    for (int i = 3; i <= 22; ++i) rest >> field;
    CHECK(process_start_time(child) == std::stoull(field));
    CHECK(process_start_time(child) >= process_start_time(::getpid()));
    ::kill(child, SIGKILL);
    ::waitpid(child, nullptr, 0);
    ::close(ready[0]);
    ::close(ready[1]);
}

TEST_CASE("one supervisor per project") {
    TempDir d;
    ProjectState ps(d.path, "p");
    CHECK(ps.supervisor_pid() == 0);
    int fd = ps.lock_as_supervisor();
    // flock is per open file description: a second open in this process conflicts too.
    CHECK(ps.supervisor_pid() == ::getpid());
    CHECK_THROWS_AS(ps.lock_as_supervisor(), berth::Error);
    ::close(fd);
    CHECK(ps.supervisor_pid() == 0);
}
