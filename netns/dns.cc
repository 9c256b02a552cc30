#include "netns/dns.h"

#include "base/error.h"
#include "base/fd.h"
#include "base/uv_handle.h"
#include "netns/ipam.h"
#include "netns/link.h"

#include <spdlog/spdlog.h>

#include <arpa/inet.h>
#include <arpa/nameser.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <resolv.h>
#include <sched.h>
#include <net/if.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/socket.h>

#include <algorithm>
#include <cstring>
#include <fstream>
#include <iterator>
#include <sstream>

namespace berth::netns {

// ---------------------------------------------------------------- wire format

std::optional<DnsQuery> parse_dns_query(const uint8_t* msg, size_t len) {
    if (len < NS_HFIXEDSZ || len > 65535) return std::nullopt;
    ns_msg handle;
    if (ns_initparse(msg, static_cast<int>(len), &handle) < 0) return std::nullopt;
    if (ns_msg_getflag(handle, ns_f_qr) != 0 || ns_msg_getflag(handle, ns_f_opcode) != ns_o_query) return std::nullopt;
    if (ns_msg_count(handle, ns_s_qd) != 1) return std::nullopt;
    ns_rr rr;
    if (ns_parserr(&handle, ns_s_qd, 0, &rr) < 0) return std::nullopt;
    int skip = dn_skipname(msg + NS_HFIXEDSZ, msg + len);
    if (skip < 0 || NS_HFIXEDSZ + static_cast<size_t>(skip) + NS_QFIXEDSZ > len) return std::nullopt;
    // The question's name in plain labels: a compression pointer there can only
    // point into the header, which the response rewrites (found by fuzzing).
    for (size_t i = NS_HFIXEDSZ; msg[i] != 0; i += msg[i] + 1u)
        if (msg[i] & 0xc0) return std::nullopt;
    DnsQuery q;
    q.id = ns_msg_id(handle);
    q.name = ns_rr_name(rr);
    for (auto& c : q.name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    while (!q.name.empty() && q.name.back() == '.') q.name.pop_back();
    q.qtype = ns_rr_type(rr);
    q.qclass = ns_rr_class(rr);
    q.question_end = NS_HFIXEDSZ + static_cast<size_t>(skip) + NS_QFIXEDSZ;
    return q;
}

namespace {
void put16(std::string& s, uint16_t v) {
    s.push_back(static_cast<char>(v >> 8));
    s.push_back(static_cast<char>(v & 0xff));
}
void put32(std::string& s, uint32_t v) {
    put16(s, static_cast<uint16_t>(v >> 16));
    put16(s, static_cast<uint16_t>(v & 0xffff));
}
}  // namespace

std::string dns_response(const uint8_t* msg, const DnsQuery& q, const DnsAnswer& answer, int rcode, uint32_t ttl) {
    bool in = q.qclass == ns_c_in || q.qclass == ns_c_any;
    bool wants_a = in && rcode == 0 && (q.qtype == ns_t_a || q.qtype == ns_t_any);
    bool wants_aaaa = in && rcode == 0 && (q.qtype == ns_t_aaaa || q.qtype == ns_t_any);
    size_t answers = (wants_a ? answer.v4.size() : 0) + (wants_aaaa ? answer.v6.size() : 0);
    std::string out;
    put16(out, q.id);
    uint8_t rd = msg[2] & 0x01;
    out.push_back(static_cast<char>(0x80 | 0x04 | rd));  // QR, AA, RD as asked
    out.push_back(static_cast<char>(0x80 | (rcode & 0x0f)));  // RA, rcode
    put16(out, 1);
    put16(out, static_cast<uint16_t>(answers));
    put16(out, 0);
    put16(out, 0);
    out.append(reinterpret_cast<const char*>(msg) + NS_HFIXEDSZ, q.question_end - NS_HFIXEDSZ);
    auto record = [&](uint16_t type, uint16_t len) {
        put16(out, 0xc00c);  // the name: a pointer to the question's
        put16(out, type);
        put16(out, ns_c_in);
        put32(out, ttl);
        put16(out, len);
    };
    if (wants_a)
        for (uint32_t ip : answer.v4) {
            record(ns_t_a, 4);
            put32(out, ip);
        }
    if (wants_aaaa)
        for (const Ip6& ip : answer.v6) {
            record(ns_t_aaaa, 16);
            out.append(reinterpret_cast<const char*>(ip.data()), ip.size());
        }
    return out;
}

std::vector<std::string> nameservers_of(const std::string& resolv_conf) {
    std::vector<std::string> out;
    std::istringstream in(resolv_conf);
    std::string line;
    while (std::getline(in, line)) {
        std::istringstream l(line);
        std::string key, value;
        if (l >> key >> value && key == "nameserver" && value != kDnsAddress) {
            in_addr a{};
            if (inet_pton(AF_INET, value.c_str(), &a) == 1) out.push_back(value);
        }
    }
    return out;
}

std::vector<std::string> host_nameservers() {
    std::ifstream f("/etc/resolv.conf");
    return nameservers_of(std::string(std::istreambuf_iterator<char>(f), {}));
}

// ---------------------------------------------------------------- the server

namespace {

sockaddr_in addr_of(const std::string& ip, uint16_t port) {
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    inet_pton(AF_INET, ip.c_str(), &a.sin_addr);
    return a;
}

// UDP and TCP sockets made inside the namespace `netns_fd`, with its loopback
// brought up first (127.0.0.11 exists once it is; the container would bring
// it up only after its network is set up).
std::pair<UniqueFd, UniqueFd> sockets_in(int netns_fd) {
    std::pair<UniqueFd, UniqueFd> out;
    in_netns(netns_fd, [&] {
        out.first.reset(::socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
        out.second.reset(::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
        if (!out.first || !out.second) throw Error::sys(errno, "dns: socket");
        ifreq ifr{};
        std::memcpy(ifr.ifr_name, "lo", 3);
        if (::ioctl(out.first.get(), SIOCGIFFLAGS, &ifr) < 0) throw Error::sys(errno, "dns: read loopback flags");
        ifr.ifr_flags |= IFF_UP;
        if (::ioctl(out.first.get(), SIOCSIFFLAGS, &ifr) < 0) throw Error::sys(errno, "dns: bring loopback up");
    });
    return out;
}

}  // namespace

struct TcpConn;

struct Endpoint {
    DnsServer::Impl* srv = nullptr;
    std::string asker;
    uint64_t generation = 0;
    std::vector<sockaddr_in> upstream;
    uv_udp_t* udp = nullptr;
    uv_tcp_t* tcp = nullptr;
    std::map<uint64_t, TcpConn*> conns;
    bool warned = false;  // about its connections beyond the limits (once)
};

struct TcpConn {
    uv_tcp_t handle;  // first: the handle's address is the connection's
    Endpoint* ep = nullptr;
    uint64_t id = 0;
    uint64_t last_active = 0;  // uv_now of its accept, its last query or reply
    std::string buf;
};

struct DnsServer::Impl {
    uv_loop_t* loop;
    Lookup lookup;
    std::vector<sockaddr_in> upstream;
    DnsLimits limits;
    std::map<std::string, std::unique_ptr<Endpoint>> endpoints;
    uint64_t next_generation = 1, next_conn = 1;
    size_t tcp_open = 0;  // connections of every endpoint
    uv_udp_t* fwd = nullptr;  // toward the upstream resolvers, in the host's namespace
    uv_timer_t* sweep = nullptr;
    uv_timer_t* idle_sweep = nullptr;  // closes idle TCP connections
    uint16_t next_id = 1;
    struct Pending {
        std::string asker;
        uint64_t generation = 0;
        sockaddr_storage client{};  // UDP asker
        uint64_t conn = 0;          // or TCP connection id
        uint16_t orig_id = 0;
        uint64_t deadline = 0;
    };
    std::map<uint16_t, Pending> pending;

    Endpoint* endpoint(const std::string& asker, uint64_t generation) {
        auto it = endpoints.find(asker);
        return it != endpoints.end() && it->second->generation == generation ? it->second.get() : nullptr;
    }

    // Answers `msg` for `ep`; `reply` is called with the response now, or later when forwarded.
    void answer(Endpoint* ep, const uint8_t* msg, size_t len, const sockaddr* client, uint64_t conn);
    void send_back(const Pending& p, const std::string& data);
    void start_forwarder();
    void close_endpoint(Endpoint* ep);
    // Room for one more connection of `ep`, within the limits.
    void make_room(Endpoint* ep);
    void start_idle_sweep();
};

namespace {

void close_conn(TcpConn* c);

void tcp_write(TcpConn* c, const std::string& msg) {
    auto* stream = reinterpret_cast<uv_stream_t*>(&c->handle);
    if (uv_stream_get_write_queue_size(stream) > c->ep->srv->limits.tcp_unread_bytes) {
        close_conn(c);  // it asks and never reads
        return;
    }
    c->last_active = uv_now(c->handle.loop);
    struct Req {
        uv_write_t req;
        std::string data;
    };
    auto* r = new Req;
    r->data.reserve(msg.size() + 2);
    r->data.push_back(static_cast<char>(msg.size() >> 8));
    r->data.push_back(static_cast<char>(msg.size() & 0xff));
    r->data += msg;
    uv_buf_t b = uv_buf_init(r->data.data(), static_cast<unsigned>(r->data.size()));
    if (uv_write(&r->req, reinterpret_cast<uv_stream_t*>(&c->handle), &b, 1,
                 [](uv_write_t* w, int) { delete reinterpret_cast<Req*>(w); }) < 0)
        delete r;
}

void close_conn(TcpConn* c) {
    if (c->ep) {
        c->ep->conns.erase(c->id);
        --c->ep->srv->tcp_open;
    }
    c->ep = nullptr;
    auto* h = reinterpret_cast<uv_handle_t*>(&c->handle);
    if (!uv_is_closing(h)) uv_close(h, [](uv_handle_t* x) { delete reinterpret_cast<TcpConn*>(x); });
}

void alloc_buf(uv_handle_t*, size_t, uv_buf_t* b) {
    static char buf[65536];  // one loop thread: a single receive buffer does
    *b = uv_buf_init(buf, sizeof buf);
}

}  // namespace

void DnsServer::Impl::send_back(const Pending& p, const std::string& data) {
    Endpoint* ep = endpoint(p.asker, p.generation);
    if (!ep) return;
    if (p.conn) {
        auto it = ep->conns.find(p.conn);
        if (it != ep->conns.end()) tcp_write(it->second, data);
        return;
    }
    uv_buf_t b = uv_buf_init(const_cast<char*>(data.data()), static_cast<unsigned>(data.size()));
    uv_udp_try_send(ep->udp, &b, 1, reinterpret_cast<const sockaddr*>(&p.client));
}

void DnsServer::Impl::start_forwarder() {
    if (fwd) return;
    fwd = new_handle<uv_udp_t>();
    uv_udp_init(loop, fwd);
    uv_unref(reinterpret_cast<uv_handle_t*>(fwd));
    fwd->data = this;
    sockaddr_in any = addr_of("0.0.0.0", 0);
    uv_udp_bind(fwd, reinterpret_cast<const sockaddr*>(&any), 0);
    uv_udp_recv_start(fwd, alloc_buf, [](uv_udp_t* h, ssize_t n, const uv_buf_t* b, const sockaddr*, unsigned) {
        auto* s = static_cast<Impl*>(h->data);
        if (n < NS_HFIXEDSZ) return;
        auto* m = reinterpret_cast<uint8_t*>(b->base);
        uint16_t id = static_cast<uint16_t>(m[0] << 8 | m[1]);
        auto it = s->pending.find(id);
        if (it == s->pending.end()) return;
        m[0] = static_cast<uint8_t>(it->second.orig_id >> 8);
        m[1] = static_cast<uint8_t>(it->second.orig_id & 0xff);
        s->send_back(it->second, std::string(b->base, static_cast<size_t>(n)));
        s->pending.erase(it);
    });
    sweep = new_handle<uv_timer_t>();
    uv_timer_init(loop, sweep);
    sweep->data = this;
    uv_timer_start(sweep, [](uv_timer_t* t) {
        auto* s = static_cast<Impl*>(t->data);
        uint64_t now = uv_now(s->loop);
        for (auto it = s->pending.begin(); it != s->pending.end();)
            it = it->second.deadline < now ? s->pending.erase(it) : std::next(it);
    }, 2000, 2000);
    uv_unref(reinterpret_cast<uv_handle_t*>(sweep));
}

void DnsServer::Impl::answer(Endpoint* ep, const uint8_t* msg, size_t len, const sockaddr* client, uint64_t conn) {
    auto q = parse_dns_query(msg, len);
    Pending p;
    p.asker = ep->asker;
    p.generation = ep->generation;
    p.conn = conn;
    if (client) std::memcpy(&p.client, client, sizeof(sockaddr_in));
    if (!q) {
        if (len >= NS_HFIXEDSZ) {  // FORMERR, echoing the id
            std::string r(reinterpret_cast<const char*>(msg), NS_HFIXEDSZ);
            r[2] = static_cast<char>(0x80 | (msg[2] & 0x79));
            r[3] = 0x01;
            for (int i = 4; i < 12; ++i) r[i] = 0;
            send_back(p, r);
        }
        return;
    }
    std::optional<DnsAnswer> ips;
    try {
        ips = lookup(ep->asker, q->name);
    } catch (const std::exception& e) {
        spdlog::warn("dns: lookup {}: {}", q->name, e.what());
    }
    if (ips) {
        // A name of ours with no address at all is NXDOMAIN; one without
        // addresses of the asked family is an empty answer (NODATA).
        send_back(p, dns_response(msg, *q, *ips, ips->empty() ? 3 : 0));
        return;
    }
    // Not one of ours: forward it, with an id of our own.
    const auto& ups = ep->upstream.empty() ? upstream : ep->upstream;
    if (ups.empty() || pending.size() > 4096) {
        send_back(p, dns_response(msg, *q, DnsAnswer{}, 2));
        return;
    }
    start_forwarder();
    uint16_t id = next_id++;
    if (next_id == 0) next_id = 1;
    p.orig_id = q->id;
    p.deadline = uv_now(loop) + 5000;
    std::string out(reinterpret_cast<const char*>(msg), len);
    out[0] = static_cast<char>(id >> 8);
    out[1] = static_cast<char>(id & 0xff);
    uv_buf_t b = uv_buf_init(out.data(), static_cast<unsigned>(out.size()));
    bool sent = false;
    for (const auto& u : ups) sent |= uv_udp_try_send(fwd, &b, 1, reinterpret_cast<const sockaddr*>(&u)) >= 0;
    if (!sent) {
        send_back(p, dns_response(msg, *q, DnsAnswer{}, 2));
        return;
    }
    pending[id] = std::move(p);
}

void DnsServer::Impl::make_room(Endpoint* ep) {
    auto least_recent = [](Endpoint* e) {
        return std::min_element(e->conns.begin(), e->conns.end(), [](const auto& a, const auto& b) {
                   return a.second->last_active < b.second->last_active;
               })->second;
    };
    Endpoint* victim = ep;
    if (ep->conns.size() < limits.tcp_per_asker) {
        if (tcp_open < limits.tcp_total) return;
        for (auto& [_, e] : endpoints)
            if (e->conns.size() > victim->conns.size()) victim = e.get();
    }
    if (victim->conns.empty()) return;
    if (!victim->warned)
        spdlog::warn("dns: {} holds {} TCP connections to {}:53 (at most {}, {} for all): its least recently used are closed",
                     victim->asker, victim->conns.size(), kDnsAddress, limits.tcp_per_asker, limits.tcp_total);
    victim->warned = true;
    close_conn(least_recent(victim));
}

void DnsServer::Impl::start_idle_sweep() {
    if (idle_sweep) return;
    idle_sweep = new_handle<uv_timer_t>();
    uv_timer_init(loop, idle_sweep);
    uv_unref(reinterpret_cast<uv_handle_t*>(idle_sweep));
    idle_sweep->data = this;
    uint64_t every = std::clamp<uint64_t>(limits.tcp_idle_ms / 4, 20, 1000);
    uv_timer_start(idle_sweep, [](uv_timer_t* t) {
        auto* s = static_cast<Impl*>(t->data);
        uint64_t now = uv_now(s->loop);
        std::vector<TcpConn*> idle;
        for (auto& [asker, e] : s->endpoints)
            for (auto& [id, c] : e->conns)
                if (now - c->last_active >= s->limits.tcp_idle_ms) idle.push_back(c);
        for (auto* c : idle) close_conn(c);
    }, every, every);
}

void DnsServer::Impl::close_endpoint(Endpoint* ep) {
    for (auto [id, c] : std::map<uint64_t, TcpConn*>(ep->conns)) close_conn(c);
    close_handle(ep->udp);
    close_handle(ep->tcp);
}

DnsServer::DnsServer(uv_loop_t* loop, Lookup lookup, std::vector<std::string> upstream, DnsLimits limits)
    : impl_(std::make_unique<Impl>()) {
    impl_->loop = loop;
    impl_->lookup = std::move(lookup);
    // However many containers ask, most of the process's fds stay for everything else.
    rlimit nofile{};
    if (::getrlimit(RLIMIT_NOFILE, &nofile) == 0 && nofile.rlim_cur != RLIM_INFINITY)
        limits.tcp_total = std::min<size_t>(limits.tcp_total, std::max<size_t>(nofile.rlim_cur / 4, 1));
    limits.tcp_per_asker = std::max<size_t>(limits.tcp_per_asker, 1);
    impl_->limits = limits;
    for (const auto& u : upstream) impl_->upstream.push_back(addr_of(u, 53));
}

DnsServer::~DnsServer() {
    for (auto& [_, ep] : impl_->endpoints) impl_->close_endpoint(ep.get());
    close_handle(impl_->fwd);
    close_handle(impl_->sweep);
    close_handle(impl_->idle_sweep);
}

size_t DnsServer::tcp_connections(const std::string& asker) const {
    if (asker.empty()) return impl_->tcp_open;
    auto it = impl_->endpoints.find(asker);
    return it == impl_->endpoints.end() ? 0 : it->second->conns.size();
}

namespace {
// An unreferenced handle in `slot` (set first, so that the endpoint's close
// frees it on failure) that takes over the socket `fd`.
template <typename H>
void open_on_fd(uv_loop_t* loop, H*& slot, void* data, UniqueFd fd, int (*init)(uv_loop_t*, H*),
                int (*open)(H*, uv_os_sock_t)) {
    slot = new_handle<H>();
    init(loop, slot);
    uv_unref(reinterpret_cast<uv_handle_t*>(slot));
    slot->data = data;
    if (int e = open(slot, fd.get()); e < 0) throw Error(std::string("dns: ") + uv_strerror(e));
    fd.release();
}

void listen_endpoint(uv_loop_t* loop, Endpoint* ep, UniqueFd u, UniqueFd t) {
    open_on_fd(loop, ep->udp, ep, std::move(u), uv_udp_init, uv_udp_open);
    uv_udp_recv_start(ep->udp, alloc_buf, [](uv_udp_t* h, ssize_t n, const uv_buf_t* b, const sockaddr* from, unsigned) {
        if (n <= 0 || !from) return;
        auto* e = static_cast<Endpoint*>(h->data);
        e->srv->answer(e, reinterpret_cast<const uint8_t*>(b->base), static_cast<size_t>(n), from, 0);
    });

    open_on_fd(loop, ep->tcp, ep, std::move(t), uv_tcp_init, uv_tcp_open);
    int e = uv_listen(reinterpret_cast<uv_stream_t*>(ep->tcp), 16, [](uv_stream_t* server, int status) {
        if (status < 0) return;
        auto* e = static_cast<Endpoint*>(server->data);
        auto* c = new TcpConn;
        uv_tcp_init(server->loop, &c->handle);
        c->handle.data = c;
        if (uv_accept(server, reinterpret_cast<uv_stream_t*>(&c->handle)) < 0) {
            uv_close(reinterpret_cast<uv_handle_t*>(&c->handle), [](uv_handle_t* x) { delete reinterpret_cast<TcpConn*>(x); });
            return;
        }
        e->srv->make_room(e);
        e->srv->start_idle_sweep();
        c->ep = e;
        c->id = e->srv->next_conn++;
        c->last_active = uv_now(server->loop);
        e->conns[c->id] = c;
        ++e->srv->tcp_open;
        uv_read_start(reinterpret_cast<uv_stream_t*>(&c->handle), alloc_buf, [](uv_stream_t* s, ssize_t n, const uv_buf_t* b) {
            auto* c = static_cast<TcpConn*>(s->data);
            if (n < 0 || !c->ep) {
                close_conn(c);
                return;
            }
            c->buf.append(b->base, static_cast<size_t>(n));
            while (c->buf.size() >= 2) {
                size_t len = static_cast<uint8_t>(c->buf[0]) << 8 | static_cast<uint8_t>(c->buf[1]);
                if (c->buf.size() < 2 + len) break;
                std::string msg = c->buf.substr(2, len);
                c->buf.erase(0, 2 + len);
                c->last_active = uv_now(s->loop);
                c->ep->srv->answer(c->ep, reinterpret_cast<const uint8_t*>(msg.data()), msg.size(), nullptr, c->id);
                if (!c->ep) return;
            }
            if (c->buf.size() > 70000) close_conn(c);
        });
    });
    if (e < 0) throw Error(std::string("dns: listen: ") + uv_strerror(e));
}
}  // namespace

void DnsServer::serve(const std::string& asker, int netns_fd, const std::vector<std::string>& upstream) {
    stop(asker);
    auto ep = std::make_unique<Endpoint>();
    ep->srv = impl_.get();
    ep->asker = asker;
    ep->generation = impl_->next_generation++;
    for (const auto& u : upstream) {
        in_addr a{};
        if (inet_pton(AF_INET, u.c_str(), &a) == 1) ep->upstream.push_back(addr_of(u, 53));
    }
    sockaddr_in at = addr_of(kDnsAddress, 53);
    auto [u, t] = sockets_in(netns_fd);
    if (::bind(u.get(), reinterpret_cast<sockaddr*>(&at), sizeof at) < 0) throw Error::sys(errno, "dns: bind udp 127.0.0.11:53");
    int one = 1;
    setsockopt(t.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (::bind(t.get(), reinterpret_cast<sockaddr*>(&at), sizeof at) < 0) throw Error::sys(errno, "dns: bind tcp 127.0.0.11:53");

    try {
        listen_endpoint(impl_->loop, ep.get(), std::move(u), std::move(t));
    } catch (...) {
        impl_->close_endpoint(ep.get());
        throw;
    }
    impl_->endpoints[asker] = std::move(ep);
}

void DnsServer::stop(const std::string& asker) {
    auto it = impl_->endpoints.find(asker);
    if (it == impl_->endpoints.end()) return;
    impl_->close_endpoint(it->second.get());
    impl_->endpoints.erase(it);
}

}  // namespace berth::netns
