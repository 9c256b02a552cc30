#include "netns/ipam.h"
#include "netns/proxy.h"

#include "base/error.h"

#include <doctest/doctest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <thread>

using namespace berth::netns;

namespace {

int bound_socket(int type, uint16_t* port) {
    int s = socket(AF_INET, type | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(bind(s, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
    socklen_t l = sizeof a;
    getsockname(s, reinterpret_cast<sockaddr*>(&a), &l);
    *port = ntohs(a.sin_port);
    return s;
}

int connect_to(uint16_t port) {
    int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(s, reinterpret_cast<sockaddr*>(&a), sizeof a) < 0) {
        close(s);
        return -1;
    }
    return s;
}

// Runs the loop until `done`. The proxy's handles are unreferenced (they do
// not keep a loop alive), so a referenced timer keeps this one polling.
void run_until(uv_loop_t* loop, const std::atomic<bool>& done) {
    uv_timer_t tick;
    uv_timer_init(loop, &tick);
    uv_timer_start(&tick, [](uv_timer_t*) {}, 1, 1);
    while (!done) uv_run(loop, UV_RUN_ONCE);
    uv_close(reinterpret_cast<uv_handle_t*>(&tick), nullptr);
    uv_run(loop, UV_RUN_NOWAIT);
}

}  // namespace

TEST_CASE("proxy: TCP bytes both ways, half-close, large transfers, refused while not running") {
    uv_loop_t loop;
    uv_loop_init(&loop);
    uint16_t backend_port;
    int backend = bound_socket(SOCK_STREAM, &backend_port);
    REQUIRE(listen(backend, 4) == 0);
    {
        PortProxy proxy(&loop, "127.0.0.1", 0, "tcp");
        REQUIRE(proxy.port() != 0);
        CHECK_FALSE(port_available("127.0.0.1", proxy.port(), "tcp"));

        // Not running yet: the connection is accepted, then closed.
        std::atomic<bool> done{false};
        std::string early;
        std::thread t0([&] {
            int c = connect_to(proxy.port());
            char b[8];
            ssize_t n = c >= 0 ? read(c, b, sizeof b) : -1;
            early = n == 0 ? "closed" : "data";
            close(c);
            done = true;
        });
        run_until(&loop, done);
        t0.join();
        CHECK(early == "closed");

        proxy.set_target(parse_ipv4("127.0.0.1"), backend_port);
        // Backend: reads everything until EOF, then answers with the byte count.
        std::thread server([&] {
            int c = accept(backend, nullptr, nullptr);
            size_t total = 0;
            char b[65536];
            ssize_t n;
            while ((n = read(c, b, sizeof b)) > 0) total += static_cast<size_t>(n);
            std::string reply = "got " + std::to_string(total);
            (void)!write(c, reply.data(), reply.size());
            close(c);
        });
        done = false;
        std::string answer;
        constexpr size_t kBytes = 8 << 20;
        std::thread client([&] {
            int c = connect_to(proxy.port());
            std::string chunk(65536, 'x');
            for (size_t sent = 0; sent < kBytes; sent += chunk.size())
                if (write(c, chunk.data(), chunk.size()) != static_cast<ssize_t>(chunk.size())) break;
            shutdown(c, SHUT_WR);
            char b[64];
            ssize_t n;
            while ((n = read(c, b, sizeof b)) > 0) answer.append(b, static_cast<size_t>(n));
            close(c);
            done = true;
        });
        run_until(&loop, done);
        client.join();
        server.join();
        CHECK(answer == "got " + std::to_string(kBytes));

        // The same port again is a clear error.
        CHECK_THROWS_WITH(PortProxy(&loop, "127.0.0.1", proxy.port(), "tcp"), doctest::Contains("already in use"));
    }
    close(backend);
    uv_run(&loop, UV_RUN_NOWAIT);
    CHECK(uv_loop_close(&loop) == 0);
}

TEST_CASE("proxy: UDP datagrams and their replies") {
    uv_loop_t loop;
    uv_loop_init(&loop);
    uint16_t backend_port;
    int backend = bound_socket(SOCK_DGRAM, &backend_port);
    {
        PortProxy proxy(&loop, "127.0.0.1", 0, "udp");
        proxy.set_target(parse_ipv4("127.0.0.1"), backend_port);
        std::thread server([&] {
            char b[64];
            sockaddr_in from{};
            socklen_t l = sizeof from;
            ssize_t n = recvfrom(backend, b, sizeof b, 0, reinterpret_cast<sockaddr*>(&from), &l);
            std::string r = "echo:" + std::string(b, static_cast<size_t>(std::max<ssize_t>(n, 0)));
            sendto(backend, r.data(), r.size(), 0, reinterpret_cast<sockaddr*>(&from), l);
        });
        std::atomic<bool> done{false};
        std::string reply;
        std::thread client([&] {
            int c = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
            timeval tv{5, 0};
            setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
            sockaddr_in a{};
            a.sin_family = AF_INET;
            a.sin_port = htons(proxy.port());
            a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
            sendto(c, "ping", 4, 0, reinterpret_cast<sockaddr*>(&a), sizeof a);
            char b[64];
            ssize_t n = recv(c, b, sizeof b, 0);
            if (n > 0) reply.assign(b, static_cast<size_t>(n));
            close(c);
            done = true;
        });
        run_until(&loop, done);
        client.join();
        server.join();
        CHECK(reply == "echo:ping");
    }
    close(backend);
    uv_run(&loop, UV_RUN_NOWAIT);
    CHECK(uv_loop_close(&loop) == 0);
}
