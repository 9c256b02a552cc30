#include "control/control.h"

#include "base/error.h"

#include <spdlog/spdlog.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <set>

namespace berth::control {

namespace {

constexpr size_t kMaxLine = 1 << 20;     // a request line longer is refused, and its client closed
constexpr size_t kMaxUnread = 16 << 20;  // replies queued for a client that does not read them

// A client the supervisor hung up on: out of fds (libuv then accepts and
// closes at once), or its request was refused.
Error dropped(int err) {
    Error e = Error::sys(err, "the supervisor closed the connection before answering");
    e.set_hint("it may be out of file descriptors: see $BERTH_RUNTIME_DIR/<project>.supervisor.log");
    return e;
}

struct Connection : Peer, std::enable_shared_from_this<Connection> {
    uv_pipe_t pipe{};
    RequestReader reader{kMaxLine};
    bool is_closed = false;
    Handler* handler = nullptr;
    std::set<std::shared_ptr<Connection>>* registry = nullptr;
    std::shared_ptr<Connection> self;  // keeps this alive until uv_close's callback

    void send(const Json& msg) override {
        if (is_closed) return;
        if (uv_stream_get_write_queue_size(reinterpret_cast<uv_stream_t*>(&pipe)) > kMaxUnread) {
            close();  // a client that does not read what it asked for
            return;
        }
        auto* req = new uv_write_t;
        auto* data = new std::string(msg.dump(-1, ' ', false, Json::error_handler_t::replace) + "\n");
        req->data = data;
        uv_buf_t buf = uv_buf_init(data->data(), static_cast<unsigned>(data->size()));
        int rc = uv_write(req, reinterpret_cast<uv_stream_t*>(&pipe), &buf, 1, [](uv_write_t* r, int) {
            delete static_cast<std::string*>(r->data);
            delete r;
        });
        if (rc != 0) {
            delete data;
            delete req;
            close();
        }
    }

    void close() override {
        if (is_closed) return;
        is_closed = true;
        if (registry) registry->erase(shared_from_this());
        uv_close(reinterpret_cast<uv_handle_t*>(&pipe), [](uv_handle_t* h) {
            auto* c = static_cast<Connection*>(h->data);
            c->self.reset();  // may delete c
        });
    }

    bool closed() const override { return is_closed; }

    void on_data(const char* data, size_t n) {
        reader.feed(data, n);
        Json req;
        while (!is_closed) {
            RequestReader::Result r = reader.next(req);
            if (r == RequestReader::Result::NeedMore) break;
            if (r == RequestReader::Result::TooLong) {
                spdlog::warn("control socket: a request line over {} bytes refused, its client closed", kMaxLine);
                send({{"ok", false}, {"error", "request line too long"}});
                close();
                break;
            }
            if (r == RequestReader::Result::Malformed) {
                spdlog::warn("control socket: a malformed request ({} bytes) refused", reader.last_line_bytes());
                send({{"ok", false}, {"error", "malformed request: expected one JSON object per line"}});
                continue;
            }
            auto keep = shared_from_this();
            try {
                (*handler)(req, keep);
            } catch (const std::exception& e) {
                send({{"ok", false}, {"error", e.what()}});
            }
        }
    }
};

}  // namespace

RequestReader::Result RequestReader::next(Json& request) {
    for (;;) {
        if (dead_) return Result::TooLong;
        size_t nl = buf_.find('\n', scanned_);
        if (nl == std::string::npos) {
            scanned_ = buf_.size();
            if (buf_.size() - start_ > max_line_) {
                dead_ = true;
                buf_.clear();
                continue;
            }
            if (start_ > 0 && start_ * 2 >= buf_.size()) {  // drop what was read, in amortised O(1)
                buf_.erase(0, start_);
                scanned_ -= start_;
                start_ = 0;
            }
            return Result::NeedMore;
        }
        size_t len = nl - start_;
        std::string_view line(buf_.data() + start_, len);
        start_ = scanned_ = nl + 1;
        last_ = len;
        if (len > max_line_) {
            dead_ = true;
            buf_.clear();
            continue;
        }
        if (line.empty()) continue;
        request = Json::parse(line, nullptr, false);
        if (request.is_discarded() || !request.is_object()) return Result::Malformed;
        return Result::Request;
    }
}

struct Server::Impl {
    uv_loop_t* loop;
    std::string path;
    Handler handler;
    uv_pipe_t listener{};
    bool listening = false;
    std::set<std::shared_ptr<Connection>> peers;
};

Server::Server(uv_loop_t* loop, std::string path, Handler handler) : impl_(std::make_unique<Impl>()) {
    impl_->loop = loop;
    impl_->path = std::move(path);
    impl_->handler = std::move(handler);
}

Server::~Server() { stop(); }

void Server::start() {
    Impl* im = impl_.get();
    ::unlink(im->path.c_str());  // a stale socket of a dead supervisor
    uv_pipe_init(im->loop, &im->listener, 0);
    im->listener.data = im;
    int rc = uv_pipe_bind(&im->listener, im->path.c_str());
    if (rc == 0) rc = uv_listen(reinterpret_cast<uv_stream_t*>(&im->listener), 64, [](uv_stream_t* server, int status) {
        if (status < 0) {
            spdlog::warn("control socket: accept: {}", uv_strerror(status));
            return;
        }
        auto* im = static_cast<Impl*>(server->data);
        auto c = std::make_shared<Connection>();
        uv_pipe_init(im->loop, &c->pipe, 0);
        c->pipe.data = c.get();
        c->self = c;
        c->handler = &im->handler;
        c->registry = &im->peers;
        if (uv_accept(server, reinterpret_cast<uv_stream_t*>(&c->pipe)) != 0) {
            c->close();
            return;
        }
        im->peers.insert(c);
        uv_read_start(
            reinterpret_cast<uv_stream_t*>(&c->pipe),
            [](uv_handle_t*, size_t suggested, uv_buf_t* buf) {
                buf->base = new char[suggested];
                buf->len = suggested;
            },
            [](uv_stream_t* s, ssize_t n, const uv_buf_t* buf) {
                auto* c = static_cast<Connection*>(s->data);
                if (n > 0) c->on_data(buf->base, static_cast<size_t>(n));
                else if (n < 0) c->close();
                delete[] buf->base;
            });
    });
    if (rc != 0) {
        uv_close(reinterpret_cast<uv_handle_t*>(&im->listener), nullptr);
        throw Error("listen on " + im->path + ": " + uv_strerror(rc));
    }
    ::chmod(im->path.c_str(), 0600);
    im->listening = true;
}

void Server::stop() {
    Impl* im = impl_.get();
    auto peers = im->peers;
    for (auto& p : peers) p->close();
    im->peers.clear();
    if (im->listening) {
        im->listening = false;
        uv_close(reinterpret_cast<uv_handle_t*>(&im->listener), nullptr);
        ::unlink(im->path.c_str());
    }
}

std::optional<Client> Client::connect(const std::string& path) {
    int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) throw Error::sys(errno, "socket");
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    if (path.size() >= sizeof addr.sun_path) {
        ::close(fd);
        throw Error("control socket path too long: " + path, "use a shorter BERTH_RUNTIME_DIR");
    }
    std::strncpy(addr.sun_path, path.c_str(), sizeof addr.sun_path - 1);
    if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
        ::close(fd);
        return std::nullopt;
    }
    return Client(fd);
}

Client::Client(Client&& o) noexcept : fd_(o.fd_), buf_(std::move(o.buf_)) { o.fd_ = -1; }
Client& Client::operator=(Client&& o) noexcept {
    if (this != &o) {
        if (fd_ >= 0) ::close(fd_);
        fd_ = o.fd_;
        buf_ = std::move(o.buf_);
        o.fd_ = -1;
    }
    return *this;
}
Client::~Client() {
    if (fd_ >= 0) ::close(fd_);
}

void Client::send(const Json& request) {
    std::string line = request.dump() + "\n";
    size_t off = 0;
    while (off < line.size()) {
        ssize_t n = ::send(fd_, line.data() + off, line.size() - off, MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EINTR) continue;
            if (errno == EPIPE || errno == ECONNRESET) throw dropped(errno);
            throw Error::sys(errno, "send to the supervisor");
        }
        off += static_cast<size_t>(n);
    }
}

std::optional<Json> Client::read_line() {
    for (;;) {
        size_t nl = buf_.find('\n');
        if (nl != std::string::npos) {
            std::string line = buf_.substr(0, nl);
            buf_.erase(0, nl + 1);
            Json j = Json::parse(line, nullptr, false);
            if (j.is_discarded()) throw Error("the supervisor sent a malformed reply");
            return j;
        }
        char chunk[65536];
        ssize_t n = ::recv(fd_, chunk, sizeof chunk, 0);
        if (n < 0) {
            if (errno == EINTR) continue;
            if (errno == ECONNRESET) throw dropped(errno);
            throw Error::sys(errno, "read from the supervisor");
        }
        if (n == 0) return std::nullopt;
        buf_.append(chunk, static_cast<size_t>(n));
    }
}

Json Client::call(const Json& request) {
    send(request);
    auto reply = read_line();
    if (!reply) throw Error("the supervisor closed the connection without answering",
                            "it may be out of file descriptors: see $BERTH_RUNTIME_DIR/<project>.supervisor.log");
    if (!reply->value("ok", false)) throw Error(reply->value("error", std::string("the supervisor refused the request")));
    return *reply;
}

}  // namespace berth::control
