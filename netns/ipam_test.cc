#include "base/error.h"
#include "netns/ipam.h"

#include <doctest/doctest.h>

using namespace berth::netns;

TEST_CASE("IPv4 addresses and subnets") {
    CHECK(format_ipv4(parse_ipv4("172.20.0.5")) == "172.20.0.5");
    CHECK_THROWS_AS(parse_ipv4("300.1.1.1"), berth::Error);
    Subnet s = Subnet::parse("10.1.0.0/16");
    CHECK(s.str() == "10.1.0.0/16");
    CHECK(s.contains(parse_ipv4("10.1.255.255")));
    CHECK_FALSE(s.contains(parse_ipv4("10.2.0.0")));
    CHECK(s.overlaps(Subnet::parse("10.0.0.0/8")));
    CHECK_FALSE(s.overlaps(Subnet::parse("10.2.0.0/16")));
    CHECK_THROWS_WITH_AS(Subnet::parse("10.1.0.1/16"), "invalid subnet \"10.1.0.1/16\": host bits are set", berth::Error);
    CHECK_THROWS_AS(Subnet::parse("10.1.0.0"), berth::Error);
    CHECK_THROWS_AS(Subnet::parse("10.1.0.0/33"), berth::Error);
    CHECK(Subnet::parse("0.0.0.0/0").contains(parse_ipv4("8.8.8.8")));
}

TEST_CASE("subnets are picked from the pool around what the host and other networks use") {
    auto pool = default_pool();
    CHECK(pick_subnet(pool, {})->str() == "172.17.0.0/16");
    // A host route inside 172.17/16 and a berth network on 172.18/16 push it to 172.19/16.
    CHECK(pick_subnet(pool, {Subnet::parse("172.17.5.0/24"), Subnet::parse("172.18.0.0/16")})->str() == "172.19.0.0/16");
    // A host that routes all of 172.16/12 gets 192.168.0.0/20, then the next /20.
    CHECK(pick_subnet(pool, {Subnet::parse("172.16.0.0/12")})->str() == "192.168.0.0/20");
    CHECK(pick_subnet(pool, {Subnet::parse("172.16.0.0/12"), Subnet::parse("192.168.0.0/24")})->str() == "192.168.16.0/20");
    CHECK_FALSE(pick_subnet(pool, {Subnet::parse("0.0.0.0/0")}));
}

TEST_CASE("addresses: gateway first, lowest free, stable per name, static ones honoured") {
    Allocator a(Subnet::parse("172.20.0.0/29"));
    CHECK(format_ipv4(a.gateway()) == "172.20.0.1");
    CHECK(format_ipv4(a.assign("web-1")) == "172.20.0.2");
    CHECK(format_ipv4(a.assign("db-1")) == "172.20.0.3");
    CHECK(format_ipv4(a.assign("web-1")) == "172.20.0.2");  // a restart keeps its address
    CHECK(format_ipv4(a.assign("fixed", parse_ipv4("172.20.0.6"))) == "172.20.0.6");
    CHECK_THROWS_WITH_AS(a.assign("other", parse_ipv4("172.20.0.6")),
                         "address 172.20.0.6 for other is already used by fixed", berth::Error);
    CHECK_THROWS_AS(a.assign("out", parse_ipv4("172.21.0.6")), berth::Error);
    CHECK_THROWS_AS(a.assign("gw", parse_ipv4("172.20.0.1")), berth::Error);
    CHECK(format_ipv4(a.assign("c")) == "172.20.0.4");
    CHECK(format_ipv4(a.assign("d")) == "172.20.0.5");
    CHECK_THROWS_WITH_AS(a.assign("e"), "network 172.20.0.0/29 has no free address left for e", berth::Error);
    a.release("db-1");
    CHECK(format_ipv4(a.assign("e")) == "172.20.0.3");

    Allocator b = Allocator::from_json(a.to_json());  // the state survives the supervisor
    CHECK(b.address_of("web-1") == a.address_of("web-1"));
    CHECK(b.address_of("fixed") == parse_ipv4("172.20.0.6"));
    CHECK(b.to_json() == a.to_json());
}

TEST_CASE("ip_range and gateway from ipam.config") {
    Allocator a(Subnet::parse("10.5.0.0/16"), parse_ipv4("10.5.0.254"), Subnet::parse("10.5.1.0/24"));
    CHECK(format_ipv4(a.assign("x")) == "10.5.1.0");
    CHECK(format_ipv4(a.assign("y")) == "10.5.1.1");
    CHECK_THROWS_AS(Allocator(Subnet::parse("10.5.0.0/16"), parse_ipv4("10.6.0.1")), berth::Error);
    CHECK_THROWS_AS(Allocator(Subnet::parse("10.5.0.0/16"), std::nullopt, Subnet::parse("10.6.0.0/24")), berth::Error);
    CHECK_THROWS_AS(Allocator(Subnet::parse("10.5.0.0/31")), berth::Error);
}

TEST_CASE("address pools are configurable: RANGE:SIZE entries, each one checked") {
    auto p = parse_pools("10.10.0.0/16:24, 192.168.100.0/22:26");
    REQUIRE(p.size() == 2);
    CHECK(p[0].range.str() == "10.10.0.0/16");
    CHECK(p[0].size == 24);
    CHECK(p[1].size == 26);
    auto picked = pick_subnet(p, {Subnet::parse("10.10.0.0/24")});
    REQUIRE(picked);
    CHECK(picked->str() == "10.10.1.0/24");
    CHECK_THROWS_WITH(parse_pools("10.10.0.0/16"), doctest::Contains("no subnet size"));
    CHECK_THROWS_WITH(parse_pools("10.10.0.0/16:x"), doctest::Contains("not a number"));
    CHECK_THROWS_WITH(parse_pools("10.10.0.0/16:8"), doctest::Contains("do not fit"));
    CHECK_THROWS_WITH(parse_pools("10.10.0.1/16:24"), doctest::Contains("address pool \"10.10.0.1/16:24\""));
    CHECK_THROWS_WITH(parse_pools(" , "), doctest::Contains("no address pool"));
}
