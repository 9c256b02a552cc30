// libFuzzer target: the control socket. Any byte stream, cut into any chunks,
// gives the request reader requests (JSON objects), Malformed or TooLong
// verdicts, never a crash, a hang or an exception. Then the same bytes go to a
// real Server over its unix socket on a libuv loop, with a handler that
// answers, streams, closes the peer mid-request and throws: the server answers
// or closes, and never crashes, leaks or uses a closed connection.
#include "control/control.h"

#include <spdlog/spdlog.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <stdexcept>
#include <string>

using berth::control::Json;
using berth::control::Peer;
using berth::control::RequestReader;
using berth::control::Server;

namespace {

void reader(const char* p, size_t n, size_t chunk) {
    RequestReader reader(512);  // a small limit, so that the fuzzer reaches it
    Json req;
    bool dead = false;
    for (size_t off = 0; off < n && !dead; off += chunk) {
        reader.feed(p + off, std::min(chunk, n - off));
        for (;;) {
            RequestReader::Result r = reader.next(req);
            if (r == RequestReader::Result::NeedMore) break;
            if (r == RequestReader::Result::TooLong) {
                dead = true;
                break;
            }
            if (r == RequestReader::Result::Request && !req.is_object()) std::abort();
        }
    }
}

struct Fixture {
    uv_loop_t loop{};
    std::string dir, path;
    std::unique_ptr<Server> server;
    Fixture() {
        spdlog::set_level(spdlog::level::off);  // a warning per malformed line would drown the fuzzer's output
        uv_loop_init(&loop);
        char t[] = "/tmp/berth-control-fuzz-XXXXXX";
        if (!::mkdtemp(t)) std::abort();
        dir = t;
        path = dir + "/control.sock";
        // The fixture lives as long as the process: its socket and directory go at exit, as
        // libFuzzer ends a timed run (each CI run left a /tmp/berth-control-fuzz-* behind).
        static const Fixture* self;
        self = this;
        std::atexit([] {
            ::unlink(self->path.c_str());
            ::rmdir(self->dir.c_str());
        });
        server = std::make_unique<Server>(&loop, path, [](const Json& req, const std::shared_ptr<Peer>& peer) {
            std::string op = req.value("op", "");  // throws on a non-string op: the server answers the error
            if (op == "stream") {
                for (int i = 0; i < 3; ++i) peer->send({{"ok", true}, {"n", i}});
            } else if (op == "close") {
                peer->close();
                peer->send({{"ok", true}});  // after close: dropped
            } else if (op == "throw") {
                throw std::runtime_error("handler failed");
            } else {
                peer->send({{"ok", true}, {"echo", req}});
            }
        });
        server->start();
    }
};

void server(const char* p, size_t n) {
    static Fixture* f = new Fixture;  // for the process's life
    int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::strncpy(addr.sun_path, f->path.c_str(), sizeof addr.sun_path - 1);
    if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) std::abort();
    size_t off = 0;
    bool eof = false, shut = false;
    char buf[65536];
    for (int round = 0; round < 10000 && !eof; ++round) {
        if (off < n) {
            ssize_t w = ::send(fd, p + off, n - off, MSG_NOSIGNAL);
            if (w > 0) off += static_cast<size_t>(w);
            else if (w < 0 && errno != EAGAIN) off = n;  // the server closed on us
        }
        if (off == n && !shut) {
            ::shutdown(fd, SHUT_WR);  // all sent (or nothing to send): the server sees EOF
            shut = true;
        }
        uv_run(&f->loop, UV_RUN_NOWAIT);
        for (;;) {
            ssize_t r = ::recv(fd, buf, sizeof buf, 0);
            if (r > 0) continue;
            if (r == 0 || errno != EAGAIN) eof = true;
            break;
        }
    }
    if (!eof) std::abort();  // the server neither closed nor finished with a client that had sent everything
    ::close(fd);
    uv_run(&f->loop, UV_RUN_NOWAIT);  // the server's close callbacks
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    if (size == 0) return 0;
    // First byte: the chunk size the reader gets the stream in (1..256).
    size_t chunk = static_cast<size_t>(data[0]) + 1;
    const char* p = reinterpret_cast<const char*>(data) + 1;
    reader(p, size - 1, chunk);
    server(p, size - 1);
    return 0;
}
