#include "notify/notify.h"

#include <doctest/doctest.h>
#include <uv.h>

#include <chrono>
#include <cstdlib>
#include <string>
#include <thread>
#include <sys/socket.h>
#include <unistd.h>

using namespace berth;
using namespace berth::notify;

namespace {

// A datagram socket bound where a Notifier sends: systemd's side.
struct Listener {
    UniqueFd fd{::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0)};
    std::string name;
    explicit Listener(std::string n) : name(std::move(n)) {
        auto a = socket_address(name);
        REQUIRE(a);
        REQUIRE(::bind(fd.get(), reinterpret_cast<const sockaddr*>(&a->first), a->second) == 0);
    }
    std::string next() {
        char buf[4096];
        ssize_t n = ::recv(fd.get(), buf, sizeof buf, 0);
        return n < 0 ? std::string() : std::string(buf, static_cast<size_t>(n));
    }
};

std::string abstract_name() { return "@berth-notify-test-" + std::to_string(::getpid()); }

}  // namespace

TEST_CASE("status_line counts running, healthy and names who is waited for") {
    std::map<std::string, ContainerStatus> c;
    c["app-db-1"] = {"running", "starting", {}};
    c["app-web-1"] = {"created", "", {}};
    c["app-migrate-1"] = {"exited", "", 0};
    c["app-cache-1"] = {"running", "", {}};
    CHECK(status_line(c) == "3/4 running, 0/1 healthy, waiting for app-db-1, app-web-1");
    c["app-db-1"].health = "healthy";
    c["app-web-1"].state = "running";
    CHECK(status_line(c) == "4/4 running, 1/1 healthy");
    c["app-migrate-1"].exit_code = 2;  // a failed one-shot job is not there
    CHECK(status_line(c) == "3/4 running, 1/1 healthy, waiting for app-migrate-1");
    CHECK(status_line({}) == "0/0 running");
    std::map<std::string, ContainerStatus> many;
    for (char c = 'a'; c <= 'h'; ++c) many[std::string(1, c)] = {"created", "", {}};
    CHECK(status_line(many) == "0/8 running, waiting for a, b, c, d, e and 3 more");
}

TEST_CASE("socket_address: paths and abstract names") {
    auto p = socket_address("/run/systemd/notify");
    REQUIRE(p);
    CHECK(std::string(p->first.sun_path) == "/run/systemd/notify");
    auto a = socket_address("@abc");
    REQUIRE(a);
    CHECK(a->first.sun_path[0] == '\0');
    CHECK(std::string(a->first.sun_path + 1, 3) == "abc");
    CHECK(a->second == offsetof(sockaddr_un, sun_path) + 4);
    CHECK_FALSE(socket_address("relative/path"));
    CHECK_FALSE(socket_address("@"));
    CHECK_FALSE(socket_address("/" + std::string(200, 'x')));
}

TEST_CASE("Notifier: STATUS with EXTEND before READY, READY once, STOPPING once") {
    Listener l(abstract_name());
    Notifier n(l.name, 0);
    n.container("s-db-1", {"created", "", {}});  // before the loop runs: recorded, not sent
    CHECK(l.next() == "");
    uv_loop_t loop;
    uv_loop_init(&loop);
    n.start(&loop);
    CHECK(l.next() == "STATUS=0/1 running, waiting for s-db-1\nEXTEND_TIMEOUT_USEC=30000000");
    n.container("s-db-1", {"running", "starting", {}});
    CHECK(l.next() == "STATUS=1/1 running, 0/1 healthy, waiting for s-db-1\nEXTEND_TIMEOUT_USEC=30000000");
    n.container("s-db-1", {"running", "starting", {}});  // no change: nothing sent
    n.container("s-db-1", {"running", "healthy", {}});
    CHECK(l.next() == "STATUS=1/1 running, 1/1 healthy\nEXTEND_TIMEOUT_USEC=30000000");
    n.ready();
    n.ready();
    CHECK(l.next() == "READY=1\nSTATUS=1/1 running, 1/1 healthy");
    n.container("s-db-1", {"running", "unhealthy", {}});
    CHECK(l.next() == "STATUS=1/1 running, 0/1 healthy, waiting for s-db-1");
    n.stopping();
    n.stopping();
    CHECK(l.next() == "STOPPING=1\nSTATUS=stopping");
    n.container("s-db-1", {"exited", "", 0});  // no STATUS while stopping
    CHECK(l.next() == "");
    n.stop();
    uv_run(&loop, UV_RUN_NOWAIT);
    CHECK(uv_loop_close(&loop) == 0);
}

TEST_CASE("Notifier: preparing (images built or pulled) sends STATUS on a change, then extensions at most once a second") {
    Listener l(abstract_name());
    Notifier n(l.name, 0);
    n.preparing("building the image of web");
    CHECK(l.next() == "STATUS=building the image of web\nEXTEND_TIMEOUT_USEC=30000000");
    n.preparing("building the image of web");  // a step's line within the second: nothing
    CHECK(l.next() == "");
    std::this_thread::sleep_for(std::chrono::milliseconds(1100));
    n.preparing("building the image of web");
    CHECK(l.next() == "EXTEND_TIMEOUT_USEC=30000000");
    n.preparing("pulling images");  // another phase: at once, with its STATUS
    CHECK(l.next() == "STATUS=pulling images\nEXTEND_TIMEOUT_USEC=30000000");
    n.container("s-web-1", {"created", "", {}});
    uv_loop_t loop;
    uv_loop_init(&loop);
    n.start(&loop);
    CHECK(l.next() == "STATUS=0/1 running, waiting for s-web-1\nEXTEND_TIMEOUT_USEC=30000000");
    n.preparing("pulling images");  // the stack runs: the containers' progress counts now
    CHECK(l.next() == "");
    n.stop();
    uv_run(&loop, UV_RUN_NOWAIT);
    CHECK(uv_loop_close(&loop) == 0);
}

TEST_CASE("Notifier: the watchdog pings at once and does not keep the loop alive") {
    Listener l(abstract_name());
    uv_loop_t loop;
    uv_loop_init(&loop);
    {
        Notifier n(l.name, 2'000'000);
        n.start(&loop);
        CHECK(l.next() == "STATUS=0/0 running\nEXTEND_TIMEOUT_USEC=30000000");
        CHECK(l.next() == "WATCHDOG=1");
        CHECK(uv_run(&loop, UV_RUN_DEFAULT) == 0);  // returns: the timer is unreferenced
        n.stop();
        uv_run(&loop, UV_RUN_NOWAIT);
    }
    CHECK(uv_loop_close(&loop) == 0);
}

TEST_CASE("from_environment: WATCHDOG_PID of another process disables the watchdog; the variables are unset") {
    Listener l(abstract_name());
    ::setenv("NOTIFY_SOCKET", l.name.c_str(), 1);
    ::setenv("WATCHDOG_USEC", "4000000", 1);
    ::setenv("WATCHDOG_PID", std::to_string(::getpid() + 1).c_str(), 1);
    auto n = Notifier::from_environment();
    REQUIRE(n);
    CHECK(n->watchdog_usec() == 0);
    CHECK(std::getenv("NOTIFY_SOCKET") == nullptr);
    CHECK(std::getenv("WATCHDOG_USEC") == nullptr);
    ::setenv("NOTIFY_SOCKET", l.name.c_str(), 1);
    ::setenv("WATCHDOG_USEC", "4000000", 1);
    ::setenv("WATCHDOG_PID", std::to_string(::getpid()).c_str(), 1);
    CHECK(Notifier::from_environment()->watchdog_usec() == 4000000);
    CHECK_FALSE(Notifier::from_environment());  // unset now
    ::setenv("NOTIFY_SOCKET", "not/absolute", 1);
    CHECK_FALSE(Notifier::from_environment());
}
