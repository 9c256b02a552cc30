#include "base/error.h"
#include "control/control.h"

#include <doctest/doctest.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>

#include <filesystem>
#include <thread>

using namespace berth::control;

TEST_CASE("requests and streamed replies over the control socket") {
    char t[] = "/tmp/berth-ctl-XXXXXX";
    std::string dir = ::mkdtemp(t);
    std::string path = dir + "/control.sock";
    uv_loop_t loop;
    uv_loop_init(&loop);
    uv_async_t quit;
    uv_async_init(&loop, &quit, [](uv_async_t* a) { uv_close(reinterpret_cast<uv_handle_t*>(a), nullptr); });
    Server* server_ptr = nullptr;
    Server server(&loop, path, [&](const Json& req, const std::shared_ptr<Peer>& peer) {
        std::string op = req.value("op", "");
        if (op == "echo") peer->send({{"ok", true}, {"echo", req["value"]}});
        else if (op == "stream") {
            for (int i = 0; i < 3; ++i) peer->send({{"ok", true}, {"n", i}});
            peer->close();
        } else if (op == "stop") {
            peer->send({{"ok", true}});
            server_ptr->stop();
            uv_async_send(&quit);
        } else {
            peer->send({{"ok", false}, {"error", "unknown op " + op}});
        }
    });
    server_ptr = &server;
    server.start();
    std::thread loop_thread([&] { uv_run(&loop, UV_RUN_DEFAULT); });

    auto c = Client::connect(path);
    REQUIRE(c);
    CHECK(c->call({{"op", "echo"}, {"value", "hi"}})["echo"] == "hi");
    CHECK_THROWS_WITH_AS(c->call({{"op", "nope"}}), doctest::Contains("unknown op nope"), berth::Error);
    auto s = Client::connect(path);
    s->send({{"op", "stream"}});
    int n = 0;
    while (auto line = s->read_line()) CHECK((*line)["n"] == n++);
    CHECK(n == 3);
    auto bad = Client::connect(path);
    bad->send({{"x", 1}});
    auto stop = Client::connect(path);
    stop->call({{"op", "stop"}});
    loop_thread.join();
    uv_loop_close(&loop);
    CHECK_FALSE(Client::connect(path));
    std::filesystem::remove_all(dir);
}

TEST_CASE("a supervisor that hangs up gets a clear error, not a broken pipe") {
    char t[] = "/tmp/berth-ctl-XXXXXX";
    std::string dir = ::mkdtemp(t);
    std::string path = dir + "/control.sock";
    // What libuv does out of fds: accept, close at once.
    int l = ::socket(AF_UNIX, SOCK_STREAM, 0);
    sockaddr_un a{};
    a.sun_family = AF_UNIX;
    std::strncpy(a.sun_path, path.c_str(), sizeof a.sun_path - 1);
    REQUIRE(::bind(l, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
    REQUIRE(::listen(l, 4) == 0);
    for (int big : {0, 1}) {
        auto c = Client::connect(path);
        REQUIRE(c);
        ::close(::accept(l, nullptr, nullptr));
        std::string error, hint;
        try {
            c->call({{"op", "ps"}, {"pad", std::string(big ? 1 << 20 : 1, 'x')}});
        } catch (const berth::Error& e) {
            error = e.what();
            hint = e.hint();
        }
        CHECK(error.find("the supervisor closed the connection") == 0);
        CHECK(hint.find("supervisor.log") != std::string::npos);
    }
    ::close(l);
    std::filesystem::remove_all(dir);
}

TEST_CASE("the request reader splits lines, refuses malformed and oversized ones") {
    RequestReader r(64);
    Json req;
    std::string in = "{\"op\":\"ps\"}\n\n[1]\n{\"op\":";
    r.feed(in.data(), in.size());
    CHECK(r.next(req) == RequestReader::Result::Request);
    CHECK(req["op"] == "ps");
    CHECK(r.next(req) == RequestReader::Result::Malformed);  // an array, not an object
    CHECK(r.next(req) == RequestReader::Result::NeedMore);   // half a line
    std::string rest = "\"ping\"}\n";
    r.feed(rest.data(), rest.size());
    CHECK(r.next(req) == RequestReader::Result::Request);
    CHECK(req["op"] == "ping");
    // A line longer than the limit, fed in pieces without a newline: refused, and the stream is dead.
    std::string piece(40, 'x');
    r.feed(piece.data(), piece.size());
    CHECK(r.next(req) == RequestReader::Result::NeedMore);
    r.feed(piece.data(), piece.size());
    CHECK(r.next(req) == RequestReader::Result::TooLong);
    std::string ok = "\n{\"op\":\"ps\"}\n";
    r.feed(ok.data(), ok.size());
    CHECK(r.next(req) == RequestReader::Result::TooLong);
    // A long line that arrives whole with its newline is refused too.
    RequestReader r2(8);
    std::string whole = "{\"op\":\"pingping\"}\n";
    r2.feed(whole.data(), whole.size());
    CHECK(r2.next(req) == RequestReader::Result::TooLong);
}
