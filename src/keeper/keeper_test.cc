#include "keeper/client.h"
#include "keeper/keeper.h"
#include "keeper/wire.h"

#include <doctest/doctest.h>
#include <fcntl.h>
#include <sys/file.h>

#include <atomic>
#include <chrono>
#include <csignal>
#include <filesystem>
#include <poll.h>
#include <set>
#include <sys/socket.h>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>

using namespace berth;
using namespace berth::keeper;

namespace {

struct TempDir {
    std::string path;
    TempDir() {
        char t[] = "/tmp/keeper-test-XXXXXX";
        path = ::mkdtemp(t);
    }
    ~TempDir() { std::filesystem::remove_all(path); }
};

// Runs a keeper's loop beside the test until it ends or the test is done.
struct Running {
    Keeper& k;
    std::atomic<bool> stop{false}, ended{false};
    std::thread t;
    explicit Running(Keeper& keeper) : k(keeper) {
        t = std::thread([this] {
            while (!stop && k.step(20)) {
            }
            ended = true;
        });
    }
    ~Running() {
        stop = true;
        t.join();
    }
};

template <class F>
bool eventually(F f) {
    for (int i = 0; i < 300; ++i) {
        if (f()) return true;
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return false;
}

std::string texts(const std::string& log) {
    std::string s;
    for (const auto& e : logs::read_log(log)) s += e.text;
    return s;
}

}  // namespace

TEST_CASE("wire: fields and descriptors arrive as sent") {
    int sv[2];
    REQUIRE(::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) == 0);
    UniqueFd a(sv[0]), b(sv[1]);
    Pipe p = make_pipe();
    REQUIRE(send_message(a.get(), {"add", "web-1", "", "x y"}, {p.read.get()}));
    auto m = recv_message(b.get());
    REQUIRE(m);
    CHECK(m->fields == std::vector<std::string>{"add", "web-1", "", "x y"});
    REQUIRE(m->fds.size() == 1);
    write_all(p.write.get(), "hi");
    char buf[4]{};
    CHECK(::read(m->fds[0].get(), buf, sizeof buf) == 2);
    CHECK(std::string(buf) == "hi");
    CHECK(m->at(9).empty());
    a.reset();
    CHECK_FALSE(recv_message(b.get()));  // the peer is gone
}

TEST_CASE("keeper: drains a dead supervisor's pipes into the log, records the exit, hands both back") {
    TempDir d;
    Keeper k(d.path);  // blocks SIGCHLD here: the loop's thread inherits it
    CHECK(running_pid(d.path) == ::getpid());
    Pipe gate = make_pipe(), out = make_pipe();
    pid_t child = ::fork();
    if (child == 0) {
        ::close(gate.write.get());
        char c;
        (void)::read(gate.read.get(), &c, 1);
        _exit(3);
    }
    gate.read.reset();
    Running loop(k);
    std::string log = d.path + "/web-1-json.log";
    {
        auto c1 = Client::connect(d.path);
        REQUIRE(c1);
        CHECK(c1->hello().empty());
        c1->add("web-1", child, log, {}, out.read.get(), -1);
        out.read.reset();
        write_all(out.write.get(), "zero\n");  // read by nobody while the supervisor is attached
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
        CHECK_FALSE(std::filesystem::exists(log));
    }  // closed without BYE: the supervisor died
    write_all(out.write.get(), "one\ntwo");
    CHECK(eventually([&] { return texts(log) == "zero\none\n"; }));
    gate.write.reset();  // the child exits 3; the keeper reaps it
    CHECK(eventually([&] { return ::kill(child, 0) != 0; }));
    auto c2 = Client::connect(d.path);
    REQUIRE(c2);
    auto held = c2->hello();
    REQUIRE(held.size() == 1);
    CHECK(held[0].name == "web-1");
    CHECK(held[0].pid == child);
    REQUIRE(held[0].exit);
    CHECK(held[0].exit->code == 3);
    CHECK(held[0].exit->signal == 0);
    CHECK(texts(log) == "zero\none\ntwo");  // the partial line flushed at the handover
    REQUIRE(held[0].out);
    CHECK_FALSE(held[0].err);
    write_all(out.write.get(), "three\n");  // the supervisor reads from here on
    char buf[16]{};
    CHECK(::read(held[0].out.get(), buf, sizeof buf) == 6);
    CHECK(std::string(buf) == "three\n");
    c2->del("web-1");
    c2->bye();
    c2.reset();
    CHECK(eventually([&] { return loop.ended.load(); }));  // a clean end with nothing held
}

TEST_CASE("keeper: spawns the supervisor with its report pipe, reaps it, ends when nothing is left") {
    TempDir d;
    Keeper k(d.path);
    Running loop(k);
    Pipe report = make_pipe();
    auto c = Client::connect(d.path);
    REQUIRE(c);
    pid_t pid = c->spawn("/bin/sh", d.path, {"sh", "-c", "echo \"$PWD $X\" >/proc/self/fd/$BERTH_SUPERVISOR_FD"}, {"X=42"},
                         report.write.get());
    CHECK(pid > 0);
    report.write.reset();
    CHECK(read_all(report.read.get()) == d.path + " 42\n");
    c.reset();
    CHECK(eventually([&] { return loop.ended.load(); }));
    CHECK(::kill(pid, 0) != 0);  // reaped
}

TEST_CASE("keeper: reports an exit at once to an attached supervisor; QUIT ends it") {
    TempDir d;
    Keeper k(d.path);
    Running loop(k);
    auto c = Client::connect(d.path);
    REQUIRE(c);
    c->hello();
    pid_t child = ::fork();
    if (child == 0) {
        ::pause();
        _exit(0);
    }
    c->add("db-1", child, "", {}, -1, -1);
    // The add travels over the socket: kill only once the keeper holds it (else, on a
    // loaded machine, it may reap a pid it does not know yet and report nothing).
    REQUIRE(eventually([&] { return k.held() == 1; }));
    ::kill(child, SIGKILL);
    pollfd p{c->fd(), POLLIN, 0};
    REQUIRE(::poll(&p, 1, 3000) == 1);
    auto x = c->read_exit();
    REQUIRE(x);
    CHECK(x->pid == child);
    CHECK(x->signal == SIGKILL);
    CHECK(x->code == 128 + SIGKILL);
    c->quit();
    CHECK(eventually([&] { return loop.ended.load(); }));
}

// The supervisor's end of the keeper socket is non-blocking (its loop polls
// it): a burst of messages the keeper is slow to read must wait for room, not
// throw EAGAIN (out of a libuv callback: the supervisor's end).
TEST_CASE("wire: a full non-blocking socket waits for a reader that comes late") {
    int sv[2];
    REQUIRE(::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, sv) == 0);
    UniqueFd a(sv[0]), b(sv[1]);
    constexpr int kMessages = 2000;  // far more than the socket holds (~300 of these)
    std::atomic<int> got{0};
    std::thread reader([&] {
        std::this_thread::sleep_for(std::chrono::milliseconds(300));
        while (got < kMessages) {
            pollfd p{b.get(), POLLIN, 0};
            if (::poll(&p, 1, 5000) != 1) break;
            bool would_block = false;
            if (recv_message(b.get(), &would_block)) ++got;
            else if (!would_block) break;
        }
    });
    bool all_sent = true;
    try {
        for (int i = 0; i < kMessages && all_sent; ++i) all_sent = send_message(a.get(), {"del", "web-" + std::to_string(i)});
    } catch (const std::exception& e) {
        all_sent = false;
        MESSAGE(e.what());
    }
    reader.join();
    CHECK(all_sent);
    CHECK(got == kMessages);
}

// Many of the containers it reaps exit while the attached supervisor reads
// nothing for a while: every exit reaches it, and the keeper goes on (a full
// socket used to throw out of the keeper's loop and end the keeper).
TEST_CASE("keeper: a burst of exits to a supervisor that reads late all arrive") {
    TempDir d;
    Keeper k(d.path);
    Running loop(k);
    auto c = Client::connect(d.path);
    REQUIRE(c);
    c->hello();
    constexpr size_t kChildren = 800;
    Pipe gate = make_pipe();
    std::set<pid_t> kids;
    for (size_t i = 0; i < kChildren; ++i) {
        pid_t p = ::fork();
        REQUIRE(p >= 0);
        if (p == 0) {
            ::close(gate.write.get());
            char ch;
            (void)::read(gate.read.get(), &ch, 1);
            _exit(0);
        }
        kids.insert(p);
        c->add("c-" + std::to_string(i), p, "", {}, -1, -1);
    }
    REQUIRE(eventually([&] { return k.held() == kChildren; }));
    gate.write.reset();  // all exit at once; the supervisor is busy elsewhere
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
    std::set<pid_t> seen;
    while (seen.size() < kChildren) {
        pollfd p{c->fd(), POLLIN, 0};
        if (::poll(&p, 1, 5000) != 1) break;
        auto x = c->read_exit();
        if (c->gone()) break;
        if (x && kids.count(x->pid)) seen.insert(x->pid);
    }
    CHECK(seen.size() == kChildren);
    CHECK_FALSE(loop.ended.load());
    c->quit();
    CHECK(eventually([&] { return loop.ended.load(); }));
}

// A keeper's pid file was read, and meanwhile that keeper ended and its pid went to
// another process: keeper.pid (a new keeper's, not written yet, or a stale one)
// names a live process that is not the keeper. stop() must not kill it.
TEST_CASE("keeper: stop() never signals a process that merely reuses the keeper's pid") {
    TempDir d;
    pid_t other = ::fork();
    if (other == 0) {
        ::pause();
        _exit(0);
    }
    {
        // The lock held as a live keeper holds it (both kinds), the pid file naming `other`
        // with a start time that is not its own: the pid was reused since.
        UniqueFd lock(::open((d.path + "/keeper.lock").c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644));
        REQUIRE(lock);
        REQUIRE(::flock(lock.get(), LOCK_EX | LOCK_NB) == 0);
        struct flock fl{};
        fl.l_type = F_WRLCK;
        fl.l_whence = SEEK_SET;
        REQUIRE(::fcntl(lock.get(), F_OFD_SETLK, &fl) == 0);
        UniqueFd pf(::open((d.path + "/keeper.pid").c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0644));
        write_all(pf.get(), std::to_string(other) + " 1\n");
        stop(d.path);
    }
    int st = 0;
    CHECK(::waitpid(other, &st, WNOHANG) == 0);  // still running
    ::kill(other, SIGKILL);
    ::waitpid(other, &st, 0);
}

// Commands probe whether a keeper runs (running_pid) while `up -d` starts one: a
// probe that takes the lock, even for an instant, makes the starting keeper fail
// ("another keeper runs") with none running.
TEST_CASE("keeper: a probe of running_pid never makes a starting keeper fail") {
    TempDir d;
    std::atomic<bool> done{false};
    auto probing = [&] {
        while (!done) (void)running_pid(d.path);
    };
    std::thread probes[2] = {std::thread(probing), std::thread(probing)};
    int failed = 0;
    for (int i = 0; i < 3000; ++i) {
        try {
            Keeper k(d.path);
            CHECK(running_pid(d.path) == ::getpid());
        } catch (const std::exception&) {
            ++failed;
        }
    }
    done = true;
    for (auto& t : probes) t.join();
    CHECK(failed == 0);
}
