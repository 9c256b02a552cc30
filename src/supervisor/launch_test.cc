// branch arch (issue 12): the pure steps of the one launch path (launch.h) that units and one-offs share.
#include "base/error.h"
#include "supervisor/launch.h"

#include <doctest/doctest.h>

using namespace berth;
using namespace berth::supervisor;

TEST_CASE("a container's own names and /etc/hosts lines, the same for a unit and a one-off") {
    compose::Service s;
    s.name = "web";
    CHECK(own_names(s, "shop-web-run-0123456789ab") == std::vector<std::string>{"shop-web-run-0123456789ab"});
    CHECK(own_names(s, std::string(70, 'x')).front().size() == 63);
    s.hostname = "www";
    s.domainname = "example.org";
    CHECK(own_names(s, "shop-web-1") == std::vector<std::string>{"www.example.org", "www"});

    Addresses none;
    CHECK(own_hosts(s, "shop-web-1", none).empty());  // not on a network: nothing of its own
    Addresses a;
    a.primary_ip = netns::parse_ipv4("10.1.0.5");
    a.primary_net = "shop_front";
    a.v4 = {{"shop_front", "10.1.0.5"}, {"shop_back", "10.2.0.5"}};
    a.v6 = {{"shop_front", "fd00::5"}};
    auto hosts = own_hosts(s, "shop-web-1", a);
    REQUIRE(hosts.size() == 2);
    CHECK(hosts[0].address == "10.1.0.5");
    CHECK(hosts[1].address == "fd00::5");
    CHECK(hosts[0].names == own_names(s, "shop-web-1"));
}

TEST_CASE("the record's share of a launch") {
    compose::Project p;
    p.name = "shop";
    p.volumes["data"].name = "shop_data";
    compose::Service s;
    s.name = "web";
    compose::Mount named;
    named.type = "volume";
    named.source = "data";
    named.target = "/data";
    s.volumes = {named};
    runtime::ContainerSpec spec;
    spec.id = "shop-web-run-1";
    spec.state_dir = "/var/lib/berth/containers/shop-web-run-1";
    spec.cgroup_parent = "berth";
    Addresses a;
    a.v4 = {{"shop_default", "172.20.0.254"}};
    state::ContainerRecord rec;
    rec.name = spec.id;
    record_launch(rec, spec, p, s, a);
    CHECK(rec.bundle_dir == spec.state_dir);
    CHECK(rec.cgroup == "berth/shop-web-run-1");
    CHECK(rec.volumes == std::vector<std::string>{"shop_data"});
    CHECK(rec.networks == a.v4);
    CHECK(rec.networks6.empty());
}

TEST_CASE("network_config refuses what one node cannot do, and reads driver_opts as numbers") {
    compose::Network n;
    n.name = "shop_front";
    n.driver_opts["com.docker.network.driver.mtu"] = "1400";
    CHECK(network_config(n).mtu == 1400);
    n.driver_opts["com.docker.network.driver.mtu"] = "big";
    CHECK_THROWS_AS(network_config(n), Error);
    n.driver_opts.clear();
    n.driver = "overlay";
    CHECK_THROWS_AS(network_config(n), Error);
}
