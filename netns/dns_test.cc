#include "netns/dns.h"
#include "netns/ipam.h"
#include "netns/link.h"

#include <doctest/doctest.h>

#include <arpa/inet.h>
#include <arpa/nameser.h>
#include <netinet/in.h>
#include <resolv.h>
#include <sched.h>
#include <fcntl.h>
#include <poll.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

using namespace berth::netns;

namespace {

std::string make_query(const std::string& name, int type, uint16_t id = 0x1234) {
    unsigned char buf[512];
    int n = res_mkquery(ns_o_query, name.c_str(), ns_c_in, type, nullptr, 0, nullptr, buf, sizeof buf);
    REQUIRE(n > 0);
    buf[0] = static_cast<unsigned char>(id >> 8);
    buf[1] = static_cast<unsigned char>(id & 0xff);
    return std::string(reinterpret_cast<char*>(buf), static_cast<size_t>(n));
}

// The A records of a response, and its rcode; REQUIREs it parses.
std::vector<std::string> answers_of(const std::string& resp, int* rcode = nullptr, uint16_t* id = nullptr) {
    ns_msg h;
    REQUIRE(ns_initparse(reinterpret_cast<const unsigned char*>(resp.data()), static_cast<int>(resp.size()), &h) == 0);
    if (rcode) *rcode = ns_msg_getflag(h, ns_f_rcode);
    if (id) *id = ns_msg_id(h);
    std::vector<std::string> out;
    for (int i = 0; i < ns_msg_count(h, ns_s_an); ++i) {
        ns_rr rr;
        REQUIRE(ns_parserr(&h, ns_s_an, i, &rr) == 0);
        bool v6 = ns_rr_type(rr) == ns_t_aaaa;
        REQUIRE((ns_rr_type(rr) == ns_t_a || v6));
        REQUIRE(ns_rr_rdlen(rr) == (v6 ? 16 : 4));
        char ip[INET6_ADDRSTRLEN];
        inet_ntop(v6 ? AF_INET6 : AF_INET, ns_rr_rdata(rr), ip, sizeof ip);
        out.push_back(ip);
    }
    return out;
}

}  // namespace

TEST_CASE("dns: queries parse, answers carry the addresses") {
    auto q = make_query("Web.", ns_t_a);
    auto p = parse_dns_query(reinterpret_cast<const uint8_t*>(q.data()), q.size());
    REQUIRE(p);
    CHECK(p->name == "web");
    CHECK(p->qtype == ns_t_a);
    CHECK(p->id == 0x1234);
    auto r = dns_response(reinterpret_cast<const uint8_t*>(q.data()), *p, {parse_ipv4("172.18.0.2"), parse_ipv4("172.18.0.3")}, 0);
    int rcode = -1;
    uint16_t id = 0;
    CHECK(answers_of(r, &rcode, &id) == std::vector<std::string>{"172.18.0.2", "172.18.0.3"});
    CHECK(rcode == 0);
    CHECK(id == 0x1234);

    // AAAA for a known name: no records, no error (so clients do not try elsewhere).
    auto q6 = make_query("web", ns_t_aaaa);
    auto p6 = parse_dns_query(reinterpret_cast<const uint8_t*>(q6.data()), q6.size());
    REQUIRE(p6);
    auto r6 = dns_response(reinterpret_cast<const uint8_t*>(q6.data()), *p6, {parse_ipv4("172.18.0.2")}, 0);
    CHECK(answers_of(r6, &rcode).empty());
    CHECK(rcode == 0);

    // AAAA with IPv6 addresses: AAAA records only; ANY: both.
    DnsAnswer both{{parse_ipv4("172.18.0.2")}, {parse_ipv6("fd00:1::2")}};
    CHECK(answers_of(dns_response(reinterpret_cast<const uint8_t*>(q6.data()), *p6, both, 0), &rcode) ==
          std::vector<std::string>{"fd00:1::2"});
    auto qany = make_query("web", ns_t_any);
    auto pany = parse_dns_query(reinterpret_cast<const uint8_t*>(qany.data()), qany.size());
    REQUIRE(pany);
    CHECK(answers_of(dns_response(reinterpret_cast<const uint8_t*>(qany.data()), *pany, both, 0), &rcode) ==
          std::vector<std::string>{"172.18.0.2", "fd00:1::2"});

    auto nx = dns_response(reinterpret_cast<const uint8_t*>(q.data()), *p, std::vector<uint32_t>{}, 3);
    CHECK(answers_of(nx, &rcode).empty());
    CHECK(rcode == 3);
}

TEST_CASE("dns: malformed input is refused, never read past its end") {
    auto q = make_query("web", ns_t_a);
    for (size_t n = 0; n < q.size(); ++n) CHECK_FALSE(parse_dns_query(reinterpret_cast<const uint8_t*>(q.data()), n));
    std::string resp = q;
    resp[2] |= 0x80;  // a response, not a query
    CHECK_FALSE(parse_dns_query(reinterpret_cast<const uint8_t*>(resp.data()), resp.size()));
    // A question whose name is a compression pointer (into the header): refused, as its
    // response, which copies the question, would point into a rewritten header (found by fuzzing).
    const uint8_t ptr[] = {0, 1, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0xc0, 1, 0, 1, 0, 1};
    CHECK_FALSE(parse_dns_query(ptr, sizeof ptr));
    std::string later = make_query("web", ns_t_a);  // a pointer after a plain label
    later.replace(12 + 4, 1, "\xc0\x0c", 2);
    CHECK_FALSE(parse_dns_query(reinterpret_cast<const uint8_t*>(later.data()), later.size()));
}

TEST_CASE("dns: nameservers of a resolv.conf") {
    CHECK(nameservers_of("# x\nnameserver 10.0.0.2\nnameserver 127.0.0.11\nnameserver fe80::1\nsearch a\nnameserver 127.0.0.53\n") ==
          std::vector<std::string>{"10.0.0.2", "127.0.0.53"});
}

TEST_CASE("dns: the server answers inside a container's namespace, per asker" * doctest::skip(geteuid() != 0)) {
    // A child in its own network namespace asks for "web" and "nope" over UDP, then "web" over TCP.
    int ready[2], go[2];
    REQUIRE(pipe(ready) == 0);
    REQUIRE(pipe(go) == 0);
    pid_t pid = fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);  // never outlive the test
        close(ready[0]);
        close(go[1]);
        if (unshare(CLONE_NEWNET) < 0) _exit(10);
        char c = 1;
        if (write(ready[1], &c, 1) != 1 || read(go[0], &c, 1) != 1) _exit(11);
        sockaddr_in a{};
        a.sin_family = AF_INET;
        a.sin_port = htons(53);
        inet_pton(AF_INET, kDnsAddress, &a.sin_addr);
        timeval tv{5, 0};
        auto ask_udp = [&](const std::string& name) -> std::string {
            int s = socket(AF_INET, SOCK_DGRAM, 0);
            setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
            std::string q = make_query(name, ns_t_a);
            sendto(s, q.data(), q.size(), 0, reinterpret_cast<sockaddr*>(&a), sizeof a);
            char buf[512];
            ssize_t n = recv(s, buf, sizeof buf, 0);
            close(s);
            return n > 0 ? std::string(buf, static_cast<size_t>(n)) : std::string();
        };
        std::string r1 = ask_udp("web");
        std::string r2 = ask_udp("nope");
        int s = socket(AF_INET, SOCK_STREAM, 0);
        setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
        if (connect(s, reinterpret_cast<sockaddr*>(&a), sizeof a) < 0) _exit(12);
        std::string q = make_query("db", ns_t_a);
        std::string framed = std::string(1, static_cast<char>(q.size() >> 8)) + static_cast<char>(q.size() & 0xff) + q;
        if (write(s, framed.data(), framed.size()) != static_cast<ssize_t>(framed.size())) _exit(13);
        char buf[514];
        ssize_t got = 0;
        while (got < 2 || got < 2 + (static_cast<uint8_t>(buf[0]) << 8 | static_cast<uint8_t>(buf[1]))) {
            ssize_t n = read(s, buf + got, sizeof buf - static_cast<size_t>(got));
            if (n <= 0) _exit(14);
            got += n;
        }
        std::string r3(buf + 2, static_cast<size_t>(got - 2));
        // Report the three answers to the parent as lines.
        std::string report;
        for (const auto& r : {r1, r2, r3}) {
            ns_msg h;
            if (r.empty() || ns_initparse(reinterpret_cast<const unsigned char*>(r.data()), static_cast<int>(r.size()), &h) < 0) {
                report += "bad\n";
                continue;
            }
            report += std::to_string(ns_msg_getflag(h, ns_f_rcode));
            for (int i = 0; i < ns_msg_count(h, ns_s_an); ++i) {
                ns_rr rr;
                ns_parserr(&h, ns_s_an, i, &rr);
                char ip[INET_ADDRSTRLEN];
                inet_ntop(AF_INET, ns_rr_rdata(rr), ip, sizeof ip);
                report += std::string(" ") + ip;
            }
            report += "\n";
        }
        if (write(ready[1], report.data(), report.size()) < 0) _exit(15);
        _exit(0);
    }
    close(go[0]);
    close(ready[1]);  // so that the report read below ends if the child dies
    char c;
    REQUIRE(read(ready[0], &c, 1) == 1);
    uv_loop_t loop;
    uv_loop_init(&loop);
    std::vector<std::string> askers;
    {
        DnsServer dns(&loop, [&](const std::string& asker, const std::string& name) -> std::optional<DnsAnswer> {
            askers.push_back(asker);
            if (name == "web") return DnsAnswer{{parse_ipv4("172.20.0.2"), parse_ipv4("172.20.0.3")}, {}};
            if (name == "db") return DnsAnswer{{parse_ipv4("172.20.0.9")}, {}};
            if (name == "nope") return DnsAnswer{};
            return std::nullopt;
        }, {});
        int fd = open_netns(pid);
        dns.serve("proj-app-1", fd);
        close(fd);
        REQUIRE(write(go[1], &c, 1) == 1);
        int st = 0;
        uv_timer_t tick;  // the server's handles are unreferenced: a timer keeps the loop polling
        uv_timer_init(&loop, &tick);
        uv_timer_start(&tick, [](uv_timer_t*) {}, 1, 1);
        while (waitpid(pid, &st, WNOHANG) == 0) uv_run(&loop, UV_RUN_ONCE);
        uv_close(reinterpret_cast<uv_handle_t*>(&tick), nullptr);
        CHECK(WIFEXITED(st));
        CHECK(WEXITSTATUS(st) == 0);
        dns.stop("proj-app-1");
    }
    uv_run(&loop, UV_RUN_NOWAIT);
    CHECK(uv_loop_close(&loop) == 0);  // every handle closed
    char report[256] = {};
    CHECK(read(ready[0], report, sizeof report - 1) > 0);
    CHECK(std::string(report) == "0 172.20.0.2 172.20.0.3\n3\n0 172.20.0.9\n");
    CHECK(askers == std::vector<std::string>{"proj-app-1", "proj-app-1", "proj-app-1"});
}

namespace {

// In a child's own network namespace: opens `n` TCP connections to the server
// one after another, and reports "CLOSED OPEN ANSWERED CLOSED_LATER": how many
// the server closed once they were all open, how many it kept, whether the
// newest still gets an answer, and how many are closed in all after a further
// `idle_wait_ms` without a query (CLOSED is -1 when an older one was kept
// and a newer one closed). The parent's loop runs the server meanwhile;
// `most_fds` is the most fds the parent held at once.
struct Burst {
    std::string report;
    size_t most_fds = 0, base_fds = 0, left = 0;
};

size_t fd_count() {
    size_t n = 0;
    for (int fd = 0; fd < 4096; ++fd) n += fcntl(fd, F_GETFD) >= 0;
    return n;
}

Burst burst(DnsLimits limits, int n, int idle_wait_ms) {
    int ready[2], go[2];
    REQUIRE(pipe(ready) == 0);
    REQUIRE(pipe(go) == 0);
    pid_t pid = fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        close(ready[0]);
        close(go[1]);
        if (unshare(CLONE_NEWNET) < 0) _exit(10);
        char c = 1;
        if (write(ready[1], &c, 1) != 1 || read(go[0], &c, 1) != 1) _exit(11);
        sockaddr_in a{};
        a.sin_family = AF_INET;
        a.sin_port = htons(53);
        inet_pton(AF_INET, kDnsAddress, &a.sin_addr);
        std::vector<int> socks;
        for (int i = 0; i < n; ++i) {
            int s = socket(AF_INET, SOCK_STREAM, 0);
            if (connect(s, reinterpret_cast<sockaddr*>(&a), sizeof a) < 0) _exit(12);
            socks.push_back(s);
            usleep(5000);  // the server accepts each before the next: "oldest" is well defined
        }
        usleep(200000);
        auto closed = [](int s) {
            pollfd p{s, POLLIN, 0};
            char b;
            return poll(&p, 1, 0) == 1 && recv(s, &b, 1, MSG_DONTWAIT) == 0;
        };
        // Closed ones are counted; kept ones must be the newest (an old one kept after a closed one is "x").
        int shut = 0;
        std::string order;
        for (int s : socks) {
            bool cl = closed(s);
            shut += cl;
            if (cl && !order.empty() && order.back() == 'k') order = "x";
            if (order != "x") order.push_back(cl ? 'c' : 'k');
        }
        if (order == "x") shut = -1;
        std::string q = make_query("web", ns_t_a);
        std::string framed = std::string(1, static_cast<char>(q.size() >> 8)) + static_cast<char>(q.size() & 0xff) + q;
        int newest = socks.back();
        timeval tv{5, 0};
        setsockopt(newest, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
        int answered = write(newest, framed.data(), framed.size()) == static_cast<ssize_t>(framed.size());
        char buf[514];
        answered = answered && recv(newest, buf, sizeof buf, 0) > 2;
        usleep(static_cast<useconds_t>(idle_wait_ms) * 1000);
        int idle_closed = 0;
        for (int s : socks) idle_closed += closed(s);
        std::string report = std::to_string(shut) + " " + std::to_string(n - shut) + " " + std::to_string(answered) +
                             " " + std::to_string(idle_closed) + "\n";
        if (write(ready[1], report.data(), report.size()) < 0) _exit(15);
        _exit(0);
    }
    close(go[0]);
    close(ready[1]);
    char c;
    REQUIRE(read(ready[0], &c, 1) == 1);
    Burst out;
    uv_loop_t loop;
    uv_loop_init(&loop);
    {
        DnsServer dns(&loop, [](const std::string&, const std::string&) -> std::optional<DnsAnswer> {
            return DnsAnswer{{parse_ipv4("172.20.0.2")}, {}};
        }, {}, limits);
        int fd = open_netns(pid);
        dns.serve("proj-app-1", fd);
        close(fd);
        out.base_fds = fd_count();
        REQUIRE(write(go[1], &c, 1) == 1);
        uv_timer_t tick;
        uv_timer_init(&loop, &tick);
        uv_timer_start(&tick, [](uv_timer_t*) {}, 1, 1);
        int st = 0;
        while (waitpid(pid, &st, WNOHANG) == 0) {
            uv_run(&loop, UV_RUN_ONCE);
            out.most_fds = std::max(out.most_fds, fd_count());
        }
        uv_close(reinterpret_cast<uv_handle_t*>(&tick), nullptr);
        CHECK(WIFEXITED(st));
        CHECK(WEXITSTATUS(st) == 0);
        out.left = dns.tcp_connections();
        dns.stop("proj-app-1");
    }
    uv_run(&loop, UV_RUN_NOWAIT);
    CHECK(uv_loop_close(&loop) == 0);
    char report[256] = {};
    CHECK(read(ready[0], report, sizeof report - 1) > 0);
    close(ready[0]);
    close(go[1]);
    out.report = report;
    return out;
}

}  // namespace

TEST_CASE("dns: a container's TCP connections are capped, the least recently used closed, idle ones too" *
          doctest::skip(geteuid() != 0)) {
    DnsLimits l;
    l.tcp_per_asker = 4;
    l.tcp_idle_ms = 1000;
    Burst b = burst(l, 40, 1500);
    // 36 closed as newer came, 4 kept; the newest answers; after 1.5 s without a query all 40 are closed.
    CHECK(b.report == "36 4 1 40\n");
    CHECK(b.most_fds <= b.base_fds + 4 + 2);  // the kept ones, and one being accepted
    CHECK(b.left == 0);
}

TEST_CASE("dns: every container's TCP connections together are capped" * doctest::skip(geteuid() != 0)) {
    DnsLimits l;
    l.tcp_per_asker = 100;
    l.tcp_total = 3;
    l.tcp_idle_ms = 60000;
    Burst b = burst(l, 20, 0);
    CHECK(b.report == "17 3 1 17\n");  // not idle yet: the 3 kept stay open
    CHECK(b.most_fds <= b.base_fds + 3 + 2);
}
