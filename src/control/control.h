// control: the supervisor's unix socket, JSON lines both ways.
//
// A client sends one request object per line: {"op": "ps"} …; the server
// answers each with one object ({"ok": true, …} or {"ok": false, "error": "…"}),
// or, for streaming ops such as "events", with many lines until either side
// closes. Server runs on the supervisor's libuv loop; Client is blocking, for
// CLI commands.
#pragma once

#include <nlohmann/json.hpp>
#include <uv.h>

#include <functional>
#include <memory>
#include <optional>
#include <string>

namespace berth::control {

using Json = nlohmann::json;

// One connected client, as the server sees it. send() queues a line.
class Peer {
public:
    virtual ~Peer() = default;
    virtual void send(const Json& msg) = 0;
    virtual void close() = 0;
    virtual bool closed() const = 0;
};

// The server's reading of a client's byte stream as request lines (pure; fuzzed).
// Blank lines are skipped; a line that is not one JSON object is Malformed; a
// line longer than max_line (with or without its newline) is TooLong, and the
// stream is then dead: next() keeps returning TooLong.
class RequestReader {
public:
    enum class Result { Request, Malformed, TooLong, NeedMore };
    explicit RequestReader(size_t max_line = 1 << 20) : max_line_(max_line) {}
    void feed(const char* data, size_t n) { buf_.append(data, n); }
    // The next line's verdict; with Request, `request` holds the object.
    Result next(Json& request);
    size_t last_line_bytes() const { return last_; }

private:
    std::string buf_;
    size_t start_ = 0;    // where the next line begins in buf_
    size_t scanned_ = 0;  // buf_ holds no newline in [start_, scanned_)
    size_t last_ = 0;
    size_t max_line_;
    bool dead_ = false;
};

// Called for each request line; reply through `peer` (now or later).
using Handler = std::function<void(const Json& request, const std::shared_ptr<Peer>& peer)>;

class Server {
public:
    Server(uv_loop_t* loop, std::string path, Handler handler);
    ~Server();
    Server(const Server&) = delete;
    Server& operator=(const Server&) = delete;

    void start();  // binds (replacing a stale socket file) and listens; throws berth::Error
    void stop();   // closes the listener and every peer

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

class Client {
public:
    // Connects to the socket; nullopt when nothing listens there.
    static std::optional<Client> connect(const std::string& path);
    Client(Client&&) noexcept;
    Client& operator=(Client&&) noexcept;
    ~Client();

    Json call(const Json& request);           // one request, one reply; throws berth::Error
    void send(const Json& request);
    std::optional<Json> read_line();          // next line of a stream; nullopt at EOF

private:
    explicit Client(int fd) : fd_(fd) {}
    int fd_ = -1;
    std::string buf_;
};

}  // namespace berth::control
