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
