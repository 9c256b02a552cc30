#include "netns/firewall.h"
#include "netns/link.h"
#include "netns/network.h"
#include "netns/nft_queue.h"

#include <doctest/doctest.h>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <sys/prctl.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <optional>
#include <filesystem>

using namespace berth::netns;
namespace fs = std::filesystem;

TEST_CASE("bridge and veth names fit the kernel's 15 characters and differ") {
    CHECK(bridge_name("myapp_default").size() <= 15);
    CHECK(bridge_name("myapp_default").rfind("berth-", 0) == 0);
    CHECK(bridge_name("myapp_default") != bridge_name("otherapp_default"));
    CHECK(bridge_name("a") == bridge_name("a"));
    CHECK(veth_name("myapp-web-1", "myapp_default").size() == 15);
    CHECK(veth_name("myapp-web-1", "myapp_default") != veth_name("myapp-web-2", "myapp_default"));
    CHECK(veth_name("myapp-web-1", "myapp_default") != veth_name("myapp-web-1", "myapp_back"));
}

TEST_CASE("firewall ruleset: isolation, internal and masquerade") {
    CHECK(table_name("berth-0123abcde") == "berth_0123abcde");
    CHECK(table_name("my.br-0") == "berth_my_br_0");
    auto open = ruleset({"berth-aaa", Subnet::parse("172.20.0.0/16"), false, true, std::nullopt});
    CHECK(open.find("add table ip berth_aaa\ndelete table ip berth_aaa\n") == 0);
    CHECK(open.find("iifname \"berth-aaa\" oifname != \"berth-aaa\" oifgroup 48679 drop") != std::string::npos);
    CHECK(open.find("oifname \"berth-aaa\" iifname != \"berth-aaa\" iifgroup 48679 drop") != std::string::npos);
    CHECK(open.find("ip saddr 172.20.0.0/16 oifname != \"berth-aaa\" masquerade") != std::string::npos);
    auto internal = ruleset({"berth-bbb", Subnet::parse("172.21.0.0/16"), true, true, std::nullopt});
    CHECK(internal.find("masquerade") == std::string::npos);
    CHECK(internal.find("iifname \"berth-bbb\" oifname != \"berth-bbb\" drop") != std::string::npos);
}

TEST_CASE("firewall: published ports are DNATed from outside, from the host and back from containers") {
    auto t = ports_table_name("berth-aaa", "proj-web-1");
    CHECK(t.rfind("berth_aaa_p", 0) == 0);
    CHECK(t != ports_table_name("berth-aaa", "proj-web-2"));
    auto r = ports_ruleset(t, "berth-aaa", Subnet::parse("172.20.0.0/16"), parse_ipv4("172.20.0.5"),
                           {{"", 8080, 80, "tcp"}, {"127.0.0.1", 5353, 53, "udp"}});
    CHECK(r.find("type nat hook prerouting") != std::string::npos);
    CHECK(r.find("type nat hook output") != std::string::npos);
    CHECK(r.find("fib daddr type local tcp dport 8080 dnat to 172.20.0.5:80") != std::string::npos);
    CHECK(r.find("ip daddr 127.0.0.1 udp dport 5353 dnat to 172.20.0.5:53") != std::string::npos);
    CHECK(r.find("oifname \"berth-aaa\" ip saddr 127.0.0.0/8 ip daddr 172.20.0.5 masquerade") != std::string::npos);
    CHECK(r.find("ip saddr 172.20.0.0/16 ip daddr 172.20.0.5 ct status dnat masquerade") != std::string::npos);
}

namespace {

// A child process in a network namespace of its own, waiting for a byte on `go`.
struct NsChild {
    pid_t pid = -1;
    int go = -1;
    // Sends "hello" to target:port over UDP, and "hello6" to [target6]:port when given.
    NsChild(uint32_t target, uint16_t port, std::optional<Ip6> target6 = std::nullopt) {
        int ready[2], gop[2];
        REQUIRE(pipe(ready) == 0);
        REQUIRE(pipe(gop) == 0);
        pid = fork();
        REQUIRE(pid >= 0);
        if (pid == 0) {
            prctl(PR_SET_PDEATHSIG, SIGKILL);  // never outlive the test
            close(ready[0]);
            close(gop[1]);
            if (unshare(CLONE_NEWNET) < 0) _exit(2);
            char c = 1;
            if (write(ready[1], &c, 1) != 1) _exit(2);
            if (read(gop[0], &c, 1) != 1) _exit(3);
            int s = socket(AF_INET, SOCK_DGRAM, 0);
            sockaddr_in a{};
            a.sin_family = AF_INET;
            a.sin_port = htons(port);
            a.sin_addr.s_addr = htonl(target);
            if (sendto(s, "hello", 5, 0, reinterpret_cast<sockaddr*>(&a), sizeof a) != 5) _exit(4);
            if (target6) {
                int s6 = socket(AF_INET6, SOCK_DGRAM, 0);
                sockaddr_in6 a6{};
                a6.sin6_family = AF_INET6;
                a6.sin6_port = htons(port);
                std::memcpy(&a6.sin6_addr, target6->data(), 16);
                if (sendto(s6, "hello6", 6, 0, reinterpret_cast<sockaddr*>(&a6), sizeof a6) != 6) _exit(5);
            }
            _exit(0);
        }
        close(ready[1]);
        close(gop[0]);
        char c;
        REQUIRE(read(ready[0], &c, 1) == 1);
        close(ready[0]);
        go = gop[1];
    }
    int finish() {
        char c = 1;
        (void)!write(go, &c, 1);
        close(go);
        int st = 0;
        waitpid(pid, &st, 0);
        return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
    }
};

}  // namespace

TEST_CASE("a network end to end in a private namespace: bridge, veth in the container, traffic, teardown" *
          doctest::skip(geteuid() != 0)) {
    REQUIRE(unshare(CLONE_NEWNET) == 0);  // this test process only ever touches its own namespace
    Netlink host;
    host.set_up("lo");
    auto dir = fs::temp_directory_path() / ("berth-net-test-" + std::to_string(getpid()));
    fs::create_directories(dir / "proj");
    std::string state = (dir / "proj" / "networks.json").string();
    {
        Networks nets(state, (dir / "networks.lock").string());
        NetworkConfig cfg;
        cfg.name = "proj_default";
        cfg.mtu = 1400;
        nets.ensure(cfg);
        std::string br = bridge_name("proj_default");
        CHECK(host.link_exists(br));
        CHECK(host.links_in_group(kBridgeGroup) == std::vector<std::string>{br});  // isolation matches on it
        CHECK(nets.subnet("proj_default").str() == "172.17.0.0/16");
        CHECK(format_ipv4(nets.gateway("proj_default")) == "172.17.0.1");
        auto routed = host.routed_subnets();
        CHECK(std::find(routed.begin(), routed.end(), Subnet::parse("172.17.0.0/16")) != routed.end());
        if (nft_available()) {
            auto tables = nft_berth_tables();
            CHECK(std::find(tables.begin(), tables.end(), "ip " + table_name(br)) != tables.end());
        }

        // A second network takes the next free subnet; an explicit overlapping one is refused.
        NetworkConfig other;
        other.name = "proj_back";
        other.internal = true;
        nets.ensure(other);
        CHECK(nets.subnet("proj_back").str() == "172.18.0.0/16");
        NetworkConfig clash;
        clash.name = "proj_clash";
        clash.subnet = Subnet::parse("172.17.5.0/24");
        CHECK_THROWS_WITH(nets.ensure(clash), doctest::Contains("overlaps 172.17.0.0/16"));

        // An external network: an existing bridge (made here by hand) is used as it is, and never removed.
        REQUIRE(host.create_bridge("extbr0", 0));
        host.add_address("extbr0", parse_ipv4("10.99.0.1"), 24);
        NetworkConfig ext;
        ext.name = "shared";
        ext.external = true;
        ext.bridge = "extbr0";
        nets.ensure(ext);
        CHECK(nets.subnet("shared").str() == "10.99.0.0/24");
        CHECK(format_ipv4(nets.gateway("shared")) == "10.99.0.1");
        NetworkConfig missing;
        missing.name = "gone";
        missing.external = true;
        missing.bridge = "nosuchbr";
        CHECK_THROWS_WITH(nets.ensure(missing), doctest::Contains("does not exist"));

        uint32_t ip = nets.assign("proj_default", "proj-web-1");
        CHECK(format_ipv4(ip) == "172.17.0.2");
        CHECK(nets.assign("proj_default", "proj-web-1") == ip);  // stable

        // The receiving end: a UDP socket on the gateway, in this (the "host") namespace.
        int rx = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        sockaddr_in a{};
        a.sin_family = AF_INET;
        a.sin_port = htons(5353);
        a.sin_addr.s_addr = htonl(nets.gateway("proj_default"));
        REQUIRE(bind(rx, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);

        NsChild child(nets.gateway("proj_default"), 5353);
        int fd = open_netns(child.pid);
        nets.attach("proj-web-1", fd, {{"proj_default", "eth0", ip, true}});
        {
            Netlink inside(fd);
            CHECK(inside.link_exists("eth0"));
            auto r = inside.routed_subnets();
            CHECK(std::find(r.begin(), r.end(), Subnet::parse("172.17.0.0/16")) != r.end());
        }
        CHECK(host.link_exists(veth_name("proj-web-1", "proj_default")));
        close(fd);
        CHECK(child.finish() == 0);
        char buf[16] = {};
        sockaddr_in from{};
        socklen_t fl = sizeof from;
        // A packet sent over a veth reaches the host's socket from a softirq, not before the
        // sender's exit: wait for it (up to 5 s) rather than read at once.
        pollfd pfd{rx, POLLIN, 0};
        CHECK(poll(&pfd, 1, 5000) == 1);
        CHECK(recvfrom(rx, buf, sizeof buf, MSG_DONTWAIT, reinterpret_cast<sockaddr*>(&from), &fl) == 5);
        CHECK(std::string(buf) == "hello");
        CHECK(format_ipv4(ntohl(from.sin_addr.s_addr)) == "172.17.0.2");
        close(rx);
    }
    {
        // A new Networks object (as `down` without a supervisor) reads the state and removes everything.
        remove_networks(state);
        CHECK_FALSE(fs::exists(state));
        CHECK(host.links_with_prefix("berth-").empty());
        CHECK(host.link_exists("extbr0"));  // external: left alone
        host.delete_link("extbr0");
        CHECK(nft_berth_tables().empty());
        CHECK_FALSE(ip_forward());
    }
    fs::remove_all(dir);
}

TEST_CASE("IPv6 beside IPv4: the bridge's and the container's addresses, a default route, real traffic, teardown" *
          doctest::skip(geteuid() != 0)) {
    REQUIRE(unshare(CLONE_NEWNET) == 0);
    Netlink host;
    host.set_up("lo");
    if (!ipv6_enabled()) {
        MESSAGE("IPv6 is disabled on this host: nothing to test");
        return;
    }
    auto dir = fs::temp_directory_path() / ("berth-net6-test-" + std::to_string(getpid()));
    fs::create_directories(dir / "proj");
    std::string state = (dir / "proj" / "networks.json").string();
    {
        Networks nets(state, (dir / "networks.lock").string());
        NetworkConfig cfg;
        cfg.name = "proj_v6";
        cfg.subnet = Subnet::parse("172.30.0.0/24");
        cfg.ipv6 = true;
        cfg.subnet6 = Subnet6::parse("fd00:b:e::/64");
        nets.ensure(cfg);
        CHECK(format_ipv6(*nets.gateway6("proj_v6")) == "fd00:b:e::1");
        CHECK(ip6_forward());
        uint32_t ip = nets.assign("proj_v6", "proj-web-1");
        auto ip6 = nets.address6_for("proj_v6", ip);
        REQUIRE(ip6);
        CHECK(format_ipv6(*ip6) == "fd00:b:e::2");  // the same host number as 172.30.0.2
        if (nft_available()) {
            auto tables = nft_berth_tables();
            CHECK(std::count(tables.begin(), tables.end(), "ip6 " + table_name(bridge_name("proj_v6"))) == 1);
        }
        // Without a subnet: a unique-local /64 derived from the name, the same every time.
        NetworkConfig auto6;
        auto6.name = "proj_auto6";
        auto6.ipv6 = true;
        nets.ensure(auto6);
        auto sub = nets.subnet6("proj_auto6");
        REQUIRE(sub);
        CHECK(sub->prefix == 64);
        CHECK(sub->network[0] == 0xfd);
        CHECK(*sub == ula_subnet("proj_auto6"));
        CHECK_FALSE(nets.subnet6("proj_v6") == sub);

        int rx = socket(AF_INET6, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        sockaddr_in6 a{};
        a.sin6_family = AF_INET6;
        a.sin6_port = htons(5353);
        std::memcpy(&a.sin6_addr, nets.gateway6("proj_v6")->data(), 16);
        REQUIRE(bind(rx, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
        NsChild child(nets.gateway("proj_v6"), 5353, nets.gateway6("proj_v6"));
        int fd = open_netns(child.pid);
        nets.attach("proj-web-1", fd, {{"proj_v6", "eth0", ip, true, ip6}});
        close(fd);
        CHECK(child.finish() == 0);
        char buf[16] = {};
        sockaddr_in6 from{};
        socklen_t fl = sizeof from;
        // Neighbour discovery runs first: give the datagram a moment.
        ssize_t n = -1;
        for (int i = 0; i < 200 && n < 0; ++i) {
            n = recvfrom(rx, buf, sizeof buf, MSG_DONTWAIT, reinterpret_cast<sockaddr*>(&from), &fl);
            if (n < 0) usleep(5000);
        }
        CHECK(n == 6);
        CHECK(std::string(buf) == "hello6");
        Ip6 src;
        std::memcpy(src.data(), &from.sin6_addr, 16);
        CHECK(format_ipv6(src) == "fd00:b:e::2");
        close(rx);
        if (nft_available()) {
            CHECK(nets.publish("proj-web-1", "proj_v6", ip, {{"", 18080, 80, "tcp"}}, ip6));
            auto tables = nft_berth_tables();
            std::string pt = ports_table_name(bridge_name("proj_v6"), "proj-web-1");
            CHECK(std::count(tables.begin(), tables.end(), "ip " + pt) == 1);
            CHECK(std::count(tables.begin(), tables.end(), "ip6 " + pt) == 1);
            // The supervisor is gone (killed): the next one adopts the bridge and drops the stale port tables.
            Networks next(state, (dir / "networks.lock").string());
            next.ensure(cfg);
            tables = nft_berth_tables();
            CHECK(std::count(tables.begin(), tables.end(), "ip " + pt) == 0);
            CHECK(std::count(tables.begin(), tables.end(), "ip6 " + pt) == 0);
            CHECK(std::count(tables.begin(), tables.end(), "ip " + table_name(bridge_name("proj_v6"))) == 1);
        }
    }
    remove_networks(state);
    CHECK(host.links_with_prefix("berth-").empty());
    CHECK(nft_berth_tables().empty());
    CHECK_FALSE(ip6_forward());
    CHECK_FALSE(ip_forward());
    fs::remove_all(dir);
}

TEST_CASE("IPv6 subnets: parse, contain, host numbers") {
    auto s = Subnet6::parse("fd00:1:2::/64");
    CHECK(s.str() == "fd00:1:2::/64");
    CHECK(s.contains(parse_ipv6("fd00:1:2::abcd")));
    CHECK_FALSE(s.contains(parse_ipv6("fd00:1:3::1")));
    CHECK(format_ipv6(*s.host(0x102)) == "fd00:1:2::102");
    auto small = Subnet6::parse("fd00::/120");
    CHECK(small.host(255));
    CHECK_FALSE(small.host(256));
    CHECK_THROWS_WITH(Subnet6::parse("fd00::1/64"), doctest::Contains("host bits are set"));
    CHECK_THROWS_WITH(Subnet6::parse("fd00::/129"), doctest::Contains("0 to 128"));
    CHECK_THROWS(parse_ipv6("fd00::zz"));
    auto r = ports_ruleset("berth_aaa_p1", "berth-aaa", Subnet::parse("172.20.0.0/16"), parse_ipv4("172.20.0.5"),
                           {{"", 8080, 80, "tcp"}, {"127.0.0.1", 5353, 53, "udp"}, {"::1", 9090, 90, "tcp"}},
                           Subnet6::parse("fd00:1::/64"), parse_ipv6("fd00:1::5"));
    CHECK(r.find("table ip6 berth_aaa_p1 {") != std::string::npos);
    CHECK(r.find("fib daddr type local ip6 daddr != ::1 tcp dport 8080 dnat to [fd00:1::5]:80") != std::string::npos);
    CHECK(r.find("dport 9090") == std::string::npos);  // [::1] cannot be routed to a bridge: the proxy answers it
    CHECK(r.find("ip daddr ::1") == std::string::npos);     // a v6 host address stays out of the ip table
    CHECK(r.find("ip6 daddr 127.0.0.1") == std::string::npos);  // and a v4 one out of the ip6 table
}

TEST_CASE("nft scripts run from the loop in order, and errors come back" * doctest::skip(geteuid() != 0)) {
    REQUIRE(unshare(CLONE_NEWNET) == 0);
    Netlink().set_up("lo");  // the tests after this one run in this namespace too
    if (!nft_available()) {
        MESSAGE("nft is not usable here: nothing to test");
        return;
    }
    uv_loop_t loop;
    uv_loop_init(&loop);
    std::vector<std::string> seen;
    {
        NftQueue q(&loop);
        q.apply("add table ip berth_qtest\n", [&](const std::string& e) { seen.push_back("1:" + e); });
        q.apply("delete table ip berth_qtest\n", [&](const std::string& e) { seen.push_back("2:" + e); });
        q.apply("delete table ip berth_qtest\n", [&](const std::string& e) {
            seen.push_back(e.find("nft failed") == 0 ? "3:failed" : "3:" + e);
        });
        CHECK_FALSE(q.idle());
        uv_run(&loop, UV_RUN_DEFAULT);
        CHECK(q.idle());
    }
    CHECK(seen == std::vector<std::string>{"1:", "2:", "3:failed"});
    // Queued together behind a running nft: batched, and a bad one fails alone.
    seen.clear();
    {
        NftQueue q(&loop);
        q.apply("add table ip berth_qa\n", [&](const std::string& e) { seen.push_back("a:" + e); });
        q.apply("add table ip berth_qb\n", [&](const std::string& e) { seen.push_back("b:" + e); });
        q.apply("delete table ip berth_nosuch\n", [&](const std::string& e) {
            seen.push_back(e.find("nft failed") == 0 ? "c:failed" : "c:" + e);
        });
        q.apply("delete table ip berth_qa\ndelete table ip berth_qb\n",
                [&](const std::string& e) { seen.push_back("d:" + e); });
        uv_run(&loop, UV_RUN_DEFAULT);
    }
    CHECK(seen == std::vector<std::string>{"a:", "b:", "c:failed", "d:"});
    CHECK(nft_berth_tables().empty());
    CHECK(nft_berth_tables().empty());
    CHECK(uv_loop_close(&loop) == 0);
}
