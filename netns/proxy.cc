#include "netns/proxy.h"

#include "base/error.h"
#include "base/fd.h"
#include "base/uv_handle.h"

#include <spdlog/spdlog.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <cstdlib>
#include <cstring>
#include <map>

namespace berth::netns {
namespace {

constexpr size_t kHighWater = 1 << 20;  // stop reading a side whose peer has this much queued
constexpr size_t kChunk = 64 * 1024;
constexpr uint64_t kUdpIdleMs = 30000;

// host_ip "" or 0.0.0.0: every IPv4 address; "::" every IPv6 address; else that address.
sockaddr_storage make_addr(const std::string& ip, uint16_t port) {
    sockaddr_storage st{};
    std::string host = ip.empty() ? "0.0.0.0" : ip;
    int ok;
    if (host.find(':') != std::string::npos) {
        auto* a = reinterpret_cast<sockaddr_in6*>(&st);
        a->sin6_family = AF_INET6;
        a->sin6_port = htons(port);
        ok = inet_pton(AF_INET6, host.c_str(), &a->sin6_addr);
    } else {
        auto* a = reinterpret_cast<sockaddr_in*>(&st);
        a->sin_family = AF_INET;
        a->sin_port = htons(port);
        ok = inet_pton(AF_INET, host.c_str(), &a->sin_addr);
    }
    if (ok != 1)
        throw Error("invalid host address \"" + ip + "\" for a published port", "write an IP address such as 127.0.0.1 or ::1");
    return st;
}

uint16_t port_of(const sockaddr_storage& st) {
    return st.ss_family == AF_INET6 ? ntohs(reinterpret_cast<const sockaddr_in6*>(&st)->sin6_port)
                                    : ntohs(reinterpret_cast<const sockaddr_in*>(&st)->sin_port);
}

std::string where(const std::string& ip, uint16_t port, const std::string& proto) {
    std::string host = ip.empty() ? "0.0.0.0" : ip;
    if (host.find(':') != std::string::npos) host = "[" + host + "]";
    return host + ":" + std::to_string(port) + "/" + proto;
}

struct Pair;
struct Side {
    uv_tcp_t h;
    Pair* pair = nullptr;
    Side* peer = nullptr;
    bool eof = false;
    bool reading = false;
};

struct Pair {
    Side client, backend;
    uv_connect_t connect;
    int open_handles = 2;
    bool closing = false;
};

void close_pair(Pair* p) {
    if (p->closing) return;
    p->closing = true;
    for (Side* s : {&p->client, &p->backend})
        uv_close(reinterpret_cast<uv_handle_t*>(&s->h), [](uv_handle_t* h) {
            auto* side = static_cast<Side*>(h->data);
            if (--side->pair->open_handles == 0) delete side->pair;
        });
}

void start_reading(Side* s);

void on_written(uv_write_t* w, int status) {
    auto* to = static_cast<Side*>(w->data);
    delete[] static_cast<char*>(reinterpret_cast<uv_req_t*>(w)->reserved[0]);
    delete w;
    if (status < 0) {
        if (status != UV_ECANCELED) close_pair(to->pair);
        return;
    }
    Side* from = to->peer;
    if (!to->pair->closing && !from->reading && !from->eof &&
        uv_stream_get_write_queue_size(reinterpret_cast<uv_stream_t*>(&to->h)) < kHighWater / 4)
        start_reading(from);
}

void on_read(uv_stream_t* st, ssize_t n, const uv_buf_t* b) {
    auto* s = static_cast<Side*>(st->data);
    if (n <= 0) {
        delete[] b->base;
        if (n == 0) return;
        if (n == UV_EOF && !s->pair->closing) {
            s->eof = true;
            s->reading = false;
            uv_read_stop(st);
            if (s->peer->eof) {
                close_pair(s->pair);
                return;
            }
            auto* sh = new uv_shutdown_t;
            if (uv_shutdown(sh, reinterpret_cast<uv_stream_t*>(&s->peer->h), [](uv_shutdown_t* r, int) { delete r; }) < 0)
                delete sh;
            return;
        }
        close_pair(s->pair);
        return;
    }
    auto* w = new uv_write_t;
    w->data = s->peer;
    reinterpret_cast<uv_req_t*>(w)->reserved[0] = b->base;  // freed in on_written
    uv_buf_t out = uv_buf_init(b->base, static_cast<unsigned>(n));
    if (uv_write(w, reinterpret_cast<uv_stream_t*>(&s->peer->h), &out, 1, on_written) < 0) {
        delete[] b->base;
        delete w;
        close_pair(s->pair);
        return;
    }
    if (uv_stream_get_write_queue_size(reinterpret_cast<uv_stream_t*>(&s->peer->h)) > kHighWater) {
        uv_read_stop(st);
        s->reading = false;
    }
}

void start_reading(Side* s) {
    s->reading = true;
    uv_read_start(reinterpret_cast<uv_stream_t*>(&s->h),
                  [](uv_handle_t*, size_t, uv_buf_t* b) { *b = uv_buf_init(new char[kChunk], kChunk); }, on_read);
}

}  // namespace

struct PortProxy::Impl {
    uv_loop_t* loop = nullptr;
    bool tcp = true;
    uv_tcp_t* listener = nullptr;
    uv_udp_t* udp = nullptr;
    uv_timer_t* sweep = nullptr;
    uint16_t bound_port = 0;
    sockaddr_in target{};
    bool has_target = false;
    struct Flow {
        uv_udp_t h;
        Impl* owner = nullptr;
        sockaddr_storage client{};
        uint64_t last = 0;
    };
    std::map<std::string, Flow*> flows;  // by the client's address and port (its sockaddr bytes)

    void close_flow(Flow* f) {
        uv_close(reinterpret_cast<uv_handle_t*>(&f->h), [](uv_handle_t* h) { delete static_cast<Flow*>(h->data); });
    }
    void on_datagram(const char* data, size_t n, const sockaddr* from);
    void close_all() {
        close_handle(listener);
        close_handle(udp);
        close_handle(sweep);
        for (auto& [_, f] : flows) close_flow(f);
        flows.clear();
    }
};

void PortProxy::Impl::on_datagram(const char* data, size_t n, const sockaddr* from) {
    if (!has_target) return;
    size_t len = from->sa_family == AF_INET6 ? sizeof(sockaddr_in6) : sizeof(sockaddr_in);
    std::string key(reinterpret_cast<const char*>(from), len);
    Flow* f;
    if (auto it = flows.find(key); it != flows.end()) {
        f = it->second;
    } else {
        if (flows.size() >= 4096) return;
        f = new Flow;
        f->owner = this;
        std::memcpy(&f->client, from, len);
        uv_udp_init(loop, &f->h);
        f->h.data = f;
        if (uv_udp_connect(&f->h, reinterpret_cast<const sockaddr*>(&target)) < 0) {
            close_flow(f);
            return;
        }
        uv_udp_recv_start(&f->h, [](uv_handle_t*, size_t, uv_buf_t* b) {
            static char buf[65536];
            *b = uv_buf_init(buf, sizeof buf);
        }, [](uv_udp_t* h, ssize_t got, const uv_buf_t* b, const sockaddr*, unsigned) {
            auto* fl = static_cast<Flow*>(h->data);
            if (got <= 0) return;
            fl->last = uv_now(fl->owner->loop);
            uv_buf_t out = uv_buf_init(b->base, static_cast<unsigned>(got));
            uv_udp_try_send(fl->owner->udp, &out, 1, reinterpret_cast<const sockaddr*>(&fl->client));
        });
        flows[key] = f;
    }
    f->last = uv_now(loop);
    uv_buf_t out = uv_buf_init(const_cast<char*>(data), static_cast<unsigned>(n));
    uv_udp_try_send(&f->h, &out, 1, nullptr);
}

PortProxy::PortProxy(uv_loop_t* loop, const std::string& host_ip, uint16_t host_port, const std::string& protocol)
    : impl_(std::make_unique<Impl>()) {
    auto& m = *impl_;
    m.loop = loop;
    m.tcp = protocol != "udp";
    if (protocol != "tcp" && protocol != "udp")
        throw Error("published port " + std::to_string(host_port) + ": protocol \"" + protocol + "\" is not supported",
                    "use tcp or udp");
    sockaddr_storage at = make_addr(host_ip, host_port);
    bool v6 = at.ss_family == AF_INET6;  // bound to IPv6 only: an IPv4 listener may share the port
    sockaddr_storage bound{};
    int len = sizeof bound;
    int err;
    if (m.tcp) {
        m.listener = new_handle<uv_tcp_t>();
        uv_tcp_init(loop, m.listener);
        uv_unref(reinterpret_cast<uv_handle_t*>(m.listener));  // a listener alone does not keep the loop running
        m.listener->data = &m;
        err = uv_tcp_bind(m.listener, reinterpret_cast<const sockaddr*>(&at), v6 ? UV_TCP_IPV6ONLY : 0);
        if (err == 0)
            err = uv_listen(reinterpret_cast<uv_stream_t*>(m.listener), 128, [](uv_stream_t* server, int status) {
                if (status < 0) return;
                auto* impl = static_cast<Impl*>(server->data);
                auto* p = new Pair;
                for (Side* s : {&p->client, &p->backend}) {
                    uv_tcp_init(impl->loop, &s->h);
                    s->h.data = s;
                    s->pair = p;
                }
                p->client.peer = &p->backend;
                p->backend.peer = &p->client;
                if (uv_accept(server, reinterpret_cast<uv_stream_t*>(&p->client.h)) < 0 || !impl->has_target) {
                    close_pair(p);  // not running: the client sees the connection closed
                    return;
                }
                uv_tcp_nodelay(&p->client.h, 1);
                uv_tcp_nodelay(&p->backend.h, 1);
                p->connect.data = p;
                int e = uv_tcp_connect(&p->connect, &p->backend.h, reinterpret_cast<const sockaddr*>(&impl->target),
                                       [](uv_connect_t* c, int st) {
                                           auto* pair = static_cast<Pair*>(c->data);
                                           if (st < 0) {
                                               if (st != UV_ECANCELED) close_pair(pair);
                                               return;
                                           }
                                           if (pair->closing) return;
                                           start_reading(&pair->client);
                                           start_reading(&pair->backend);
                                       });
                if (e < 0) close_pair(p);
            });
        if (err == 0) uv_tcp_getsockname(m.listener, reinterpret_cast<sockaddr*>(&bound), &len);
    } else {
        m.udp = new_handle<uv_udp_t>();
        uv_udp_init(loop, m.udp);
        uv_unref(reinterpret_cast<uv_handle_t*>(m.udp));
        m.udp->data = &m;
        err = uv_udp_bind(m.udp, reinterpret_cast<const sockaddr*>(&at), v6 ? UV_UDP_IPV6ONLY : 0);
        if (err == 0)
            err = uv_udp_recv_start(m.udp, [](uv_handle_t*, size_t, uv_buf_t* b) {
                static char buf[65536];
                *b = uv_buf_init(buf, sizeof buf);
            }, [](uv_udp_t* h, ssize_t n, const uv_buf_t* b, const sockaddr* from, unsigned) {
                if (n <= 0 || !from || (from->sa_family != AF_INET && from->sa_family != AF_INET6)) return;
                static_cast<Impl*>(h->data)->on_datagram(b->base, static_cast<size_t>(n), from);
            });
        if (err == 0) uv_udp_getsockname(m.udp, reinterpret_cast<sockaddr*>(&bound), &len);
        m.sweep = new_handle<uv_timer_t>();
        uv_timer_init(loop, m.sweep);
        m.sweep->data = &m;
        uv_timer_start(m.sweep, [](uv_timer_t* t) {
            auto* impl = static_cast<Impl*>(t->data);
            uint64_t now = uv_now(impl->loop);
            for (auto it = impl->flows.begin(); it != impl->flows.end();) {
                if (now - it->second->last > kUdpIdleMs) {
                    impl->close_flow(it->second);
                    it = impl->flows.erase(it);
                } else {
                    ++it;
                }
            }
        }, 10000, 10000);
        uv_unref(reinterpret_cast<uv_handle_t*>(m.sweep));
    }
    if (err < 0) {
        std::string w = where(host_ip, host_port, protocol);
        m.close_all();
        impl_.reset();
        throw Error(err == UV_EADDRINUSE ? "port " + w + " is already in use on the host"
                                         : "cannot publish port " + w + ": " + uv_strerror(err),
                    err == UV_EADDRINUSE ? "stop what listens there, or publish another host port" : "");
    }
    m.bound_port = port_of(bound);
}

PortProxy::~PortProxy() {
    if (impl_) impl_->close_all();
}

uint16_t PortProxy::port() const { return impl_->bound_port; }

void PortProxy::set_target(uint32_t address, uint16_t port) {
    impl_->has_target = address != 0;
    impl_->target = sockaddr_in{};
    impl_->target.sin_family = AF_INET;
    impl_->target.sin_port = htons(port);
    impl_->target.sin_addr.s_addr = htonl(address);
    if (!impl_->has_target) {
        for (auto& [_, f] : impl_->flows) impl_->close_flow(f);
        impl_->flows.clear();
    }
}

int port_bind_error(const std::string& host_ip, uint16_t port, const std::string& protocol) {
    sockaddr_storage at = make_addr(host_ip, port);
    UniqueFd s(::socket(at.ss_family, (protocol == "udp" ? SOCK_DGRAM : SOCK_STREAM) | SOCK_CLOEXEC, 0));
    if (!s) return errno;
    int one = 1;
    if (protocol != "udp") setsockopt(s.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (at.ss_family == AF_INET6) setsockopt(s.get(), IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
    socklen_t len = at.ss_family == AF_INET6 ? sizeof(sockaddr_in6) : sizeof(sockaddr_in);
    return ::bind(s.get(), reinterpret_cast<sockaddr*>(&at), len) == 0 ? 0 : errno;
}

bool port_available(const std::string& host_ip, uint16_t port, const std::string& protocol) {
    return port_bind_error(host_ip, port, protocol) == 0;
}

}  // namespace berth::netns
