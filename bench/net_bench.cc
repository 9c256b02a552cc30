// net_bench: what berth's networking costs, measured with the netns library
// itself inside a private network namespace of its own (nothing leaves it).
//
//  1. per-container network setup: a veth created with its peer inside the
//     container's namespace, addressed, up, default route; and the embedded
//     DNS server's sockets for it; then teardown: the namespace's last process
//     exits and the kernel removes the veth (time until the host end is gone);
//  2. a published port: throughput and latency through the kernel's DNAT
//     (berth's path while a container runs) and through the userspace proxy
//     (its fallback), beside a direct connection to the container's address.
//
//   build/bench/net_bench [CONTAINERS] [MIB]
#include "netns/dns.h"
#include "netns/link.h"
#include "netns/network.h"
#include "netns/proxy.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sched.h>
#include <sys/prctl.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>
#include <thread>
#include <vector>

using namespace berth::netns;
using Clock = std::chrono::steady_clock;
namespace fs = std::filesystem;

namespace {

double ms_since(Clock::time_point t) { return std::chrono::duration<double, std::milli>(Clock::now() - t).count(); }

// A process in a new network namespace; runs `body` once released.
struct Child {
    pid_t pid = -1;
    int go = -1;
    template <class F>
    explicit Child(F body) {
        int ready[2], gop[2];
        if (pipe(ready) || pipe(gop)) std::abort();
        pid = fork();
        if (pid == 0) {
            prctl(PR_SET_PDEATHSIG, SIGKILL);  // never outlive the bench
            if (unshare(CLONE_NEWNET) < 0) _exit(2);
            char c = 1;
            if (write(ready[1], &c, 1) != 1 || read(gop[0], &c, 1) != 1) _exit(0);
            body();
            _exit(0);
        }
        close(ready[1]);
        close(gop[0]);
        char c;
        if (read(ready[0], &c, 1) != 1) std::abort();
        close(ready[0]);
        go = gop[1];
    }
    void release() {
        char c = 1;
        (void)!write(go, &c, 1);
        close(go);
        go = -1;
    }
    void end() {
        if (go >= 0) close(go);  // the child sees EOF and exits
        int st;
        waitpid(pid, &st, 0);
    }
};

void stats(const char* what, std::vector<double> v) {
    std::sort(v.begin(), v.end());
    double sum = 0;
    for (double x : v) sum += x;
    std::printf("  %-44s median %7.3f ms   p90 %7.3f ms   mean %7.3f ms   (n=%zu)\n", what, v[v.size() / 2],
                v[v.size() * 9 / 10], sum / static_cast<double>(v.size()), v.size());
}

// The container's server: 'T' counts bytes until EOF and answers the count; 'L' echoes bytes until EOF.
void serve(uint16_t port) {
    int l = socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    setsockopt(l, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    if (bind(l, reinterpret_cast<sockaddr*>(&a), sizeof a) || listen(l, 16)) _exit(3);
    static char buf[1 << 18];
    for (;;) {
        int c = accept(l, nullptr, nullptr);
        if (c < 0) continue;
        setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        char mode;
        if (read(c, &mode, 1) != 1) {
            close(c);
            continue;
        }
        if (mode == 'Q') _exit(0);
        if (mode == 'T') {
            uint64_t total = 0;
            ssize_t n;
            while ((n = read(c, buf, sizeof buf)) > 0) total += static_cast<uint64_t>(n);
            (void)!write(c, &total, sizeof total);
        } else {
            char b;
            while (read(c, &b, 1) == 1)
                if (write(c, &b, 1) != 1) break;
        }
        close(c);
    }
}

int dial(uint32_t ip, uint16_t port) {
    int s = socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    setsockopt(s, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    a.sin_addr.s_addr = htonl(ip);
    for (int i = 0; i < 200; ++i) {
        if (connect(s, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0) return s;
        usleep(5000);
        close(s);
        s = socket(AF_INET, SOCK_STREAM, 0);
        setsockopt(s, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    }
    std::fprintf(stderr, "cannot connect to %s:%u\n", format_ipv4(ip).c_str(), port);
    std::exit(1);
}

// MiB/s sending `mib` MiB over a fresh connection.
double throughput(uint32_t ip, uint16_t port, size_t mib) {
    int s = dial(ip, port);
    static char buf[1 << 18];
    auto t = Clock::now();
    (void)!write(s, "T", 1);
    size_t total = mib << 20;
    for (size_t sent = 0; sent < total;) {
        ssize_t n = write(s, buf, std::min(sizeof buf, total - sent));
        if (n <= 0) std::exit(1);
        sent += static_cast<size_t>(n);
    }
    shutdown(s, SHUT_WR);
    uint64_t got = 0;
    if (read(s, &got, sizeof got) != sizeof got || got != total) std::fprintf(stderr, "short transfer: %llu\n", (unsigned long long)got);
    double secs = ms_since(t) / 1000;
    close(s);
    return static_cast<double>(mib) / secs;
}

// Round trips of one byte; returns the times in ms.
std::vector<double> latency(uint32_t ip, uint16_t port, int n) {
    int s = dial(ip, port);
    (void)!write(s, "L", 1);
    std::vector<double> out;
    char b = 'x';
    for (int i = 0; i < n; ++i) {
        auto t = Clock::now();
        if (write(s, &b, 1) != 1 || read(s, &b, 1) != 1) std::exit(1);
        out.push_back(ms_since(t));
    }
    close(s);
    return out;
}

}  // namespace

int main(int argc, char** argv) {
    int containers = argc > 1 ? std::atoi(argv[1]) : 50;
    size_t mib = argc > 2 ? static_cast<size_t>(std::atoi(argv[2])) : 512;
    if (geteuid() != 0) {
        std::fprintf(stderr, "net_bench: run as root\n");
        return 1;
    }
    if (unshare(CLONE_NEWNET) < 0) {  // everything below stays in this private namespace
        std::perror("unshare");
        return 1;
    }
    Netlink host;
    host.set_up("lo");
    auto dir = fs::temp_directory_path() / ("berth-net-bench-" + std::to_string(getpid()));
    fs::create_directories(dir / "p");
    Networks nets((dir / "p" / "networks.json").string(), (dir / "networks.lock").string());
    NetworkConfig cfg;
    cfg.name = "bench_default";
    auto t0 = Clock::now();
    nets.ensure(cfg);
    std::printf("network create (bridge, address, nft table): %.2f ms\n", ms_since(t0));

    uv_loop_t loop;
    uv_loop_init(&loop);
    DnsServer dns(&loop, [](const std::string&, const std::string&) { return std::nullopt; }, {});

    // (a) As `up` does it: the containers' namespaces exist, and berth plugs
    // them in one after another; then they all exit together.
    {
        std::vector<std::unique_ptr<Child>> kids;
        std::vector<int> fds;
        std::vector<std::string> names;
        for (int i = 0; i < containers; ++i) {
            kids.push_back(std::make_unique<Child>([] { pause(); }));
            fds.push_back(open_netns(kids.back()->pid));
            names.push_back("bench-b-" + std::to_string(i));
        }
        std::vector<double> setup, dns_setup;
        for (int i = 0; i < containers; ++i) {
            uint32_t ip = nets.assign("bench_default", names[i]);
            auto t = Clock::now();
            nets.attach(names[i], fds[i], {{"bench_default", "eth0", ip, true}});
            setup.push_back(ms_since(t));
            t = Clock::now();
            dns.serve(names[i], fds[i]);
            dns_setup.push_back(ms_since(t));
        }
        auto t = Clock::now();
        for (int i = 0; i < containers; ++i) {
            dns.stop(names[i]);
            close(fds[i]);
            kill(kids[i]->pid, SIGKILL);
            kids[i]->end();
        }
        for (auto& n : names)
            while (host.link_exists(veth_name(n, "bench_default"))) usleep(200);
        double all_gone = ms_since(t);
        std::printf("%d containers plugged in one after another (as `up` does):\n", containers);
        stats("network setup (veth in netns, addr, up, route)", setup);
        stats("embedded DNS sockets for it", dns_setup);
        std::printf("  all %d exit at once: every veth gone after %.1f ms (%.2f ms per container), nothing waits\n",
                    containers, all_gone, all_gone / containers);
        for (auto& n : names) nets.release(n);
    }

    // (b) One container at a time, the previous one gone first: the machine
    // is idle between setups, so caches and CPU are cold.
    std::vector<double> setup, dns_setup, teardown;
    int alone = std::min(containers, 30);
    for (int i = 0; i < alone; ++i) {
        std::string name = "bench-c-" + std::to_string(i);
        uint32_t ip = nets.assign("bench_default", name);
        Child c([] { pause(); });
        int fd = open_netns(c.pid);
        auto t = Clock::now();
        nets.attach(name, fd, {{"bench_default", "eth0", ip, true}});
        setup.push_back(ms_since(t));
        t = Clock::now();
        dns.serve(name, fd);
        dns_setup.push_back(ms_since(t));
        close(fd);
        dns.stop(name);
        std::string veth = veth_name(name, "bench_default");
        t = Clock::now();
        kill(c.pid, SIGKILL);
        c.end();
        while (host.link_exists(veth)) usleep(100);
        teardown.push_back(ms_since(t));
    }
    uv_run(&loop, UV_RUN_NOWAIT);
    std::printf("%d containers one at a time, each gone before the next (cold):\n", alone);
    stats("network setup (veth in netns, addr, up, route)", setup);
    stats("embedded DNS sockets for it", dns_setup);
    stats("teardown (exit until the kernel drops veth)", teardown);

    // A published port: the container serves on 9000; the proxy listens on 127.0.0.1.
    uint32_t ip = nets.assign("bench_default", "bench-server");
    Child server([] { serve(9000); });
    int fd = open_netns(server.pid);
    nets.attach("bench-server", fd, {{"bench_default", "eth0", ip, true}});
    close(fd);
    server.release();

    std::atomic<uint16_t> proxy_port{0};
    std::atomic<bool> stop{false};
    std::thread proxy_thread([&] {
        uv_loop_t l;
        uv_loop_init(&l);
        {
            PortProxy proxy(&l, "127.0.0.1", 0, "tcp");
            proxy.set_target(ip, 9000);
            proxy_port = proxy.port();
            uv_timer_t tick;  // keeps the loop polling (the listener is unreferenced)
            uv_timer_init(&l, &tick);
            uv_timer_start(&tick, [](uv_timer_t*) {}, 50, 50);
            while (!stop) uv_run(&l, UV_RUN_ONCE);
            uv_close(reinterpret_cast<uv_handle_t*>(&tick), nullptr);
        }
        uv_run(&l, UV_RUN_NOWAIT);
        uv_loop_close(&l);
    });
    while (!proxy_port) usleep(1000);
    uint32_t lo = parse_ipv4("127.0.0.1");

    std::printf("published port, %zu MiB per run, best of 3:\n", mib);
    double direct = 0, proxied = 0;
    for (int r = 0; r < 3; ++r) {
        direct = std::max(direct, throughput(ip, 9000, mib));
        proxied = std::max(proxied, throughput(lo, proxy_port, mib));
    }
    std::printf("  throughput  direct to %s:9000  %8.0f MiB/s\n", format_ipv4(ip).c_str(), direct);
    std::printf("  throughput  via 127.0.0.1:%u proxy %8.0f MiB/s   (%.0f%% of direct)\n", proxy_port.load(), proxied,
                100 * proxied / direct);
    auto ld = latency(ip, 9000, 5000), lp = latency(lo, proxy_port, 5000);

    // What berth does for a running container: the kernel forwards the port (DNAT).
    auto tp = Clock::now();
    bool dnat = nets.publish("bench-server", "bench_default", ip, {{"127.0.0.1", proxy_port, 9000, "tcp"}});
    double publish_ms = ms_since(tp);
    double kernel = 0;
    std::vector<double> lk;
    if (dnat) {
        for (int r = 0; r < 3; ++r) kernel = std::max(kernel, throughput(lo, proxy_port, mib));
        lk = latency(lo, proxy_port, 5000);
        std::printf("  throughput  via 127.0.0.1:%u DNAT  %8.0f MiB/s   (%.0f%% of direct)   rules installed in %.2f ms\n",
                    proxy_port.load(), kernel, 100 * kernel / direct, publish_ms);
    } else {
        std::printf("  (nftables not usable here: no kernel forwarding measured)\n");
    }
    stats("latency (1-byte round trip), direct", ld);
    stats("latency (1-byte round trip), via proxy", lp);
    if (dnat) stats("latency (1-byte round trip), via DNAT", lk);
    nets.unpublish("bench-server", "bench_default");

    stop = true;
    proxy_thread.join();
    int q = dial(ip, 9000);
    (void)!write(q, "Q", 1);
    close(q);
    server.end();
    nets.remove_all();
    fs::remove_all(dir);
    return 0;
}
