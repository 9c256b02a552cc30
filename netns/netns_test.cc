// The face holds everything a supervisor uses from netns: this file includes
// only netns/netns.h and names each part (it fails to compile if one goes).
#include "netns/netns.h"

#include <doctest/doctest.h>

#include <type_traits>

using namespace berth::netns;

TEST_CASE("netns.h alone gives the four parts of the face") {
    // 1. ensure networks
    static_assert(std::is_class_v<Networks>);
    static_assert(std::is_class_v<NetworkConfig>);
    static_assert(std::is_same_v<decltype(&remove_networks), void (*)(const std::string&)>);
    CHECK(!parse_pools("10.99.0.0/16:24").empty());
    // 2. attach a container
    Attachment a;
    a.network = "n";
    a.address = parse_ipv4("10.0.0.2");
    CHECK(a.address == 0x0a000002u);
    CHECK(format_ipv4(a.address) == "10.0.0.2");
    CHECK(format_ipv6(parse_ipv6("fd00::1")) == "fd00::1");
    static_assert(std::is_same_v<decltype(&open_netns), int (*)(int)>);
    std::string hosts = hosts_file({HostsEntry{"10.0.0.2", {"web"}}}, {});
    CHECK(hosts.find("10.0.0.2\tweb") != std::string::npos);
    CHECK(resolv_conf({kDnsAddress}, {}, {}).find("nameserver 127.0.0.11") != std::string::npos);
    // 3. publish ports
    static_assert(std::is_class_v<PortProxy>);
    static_assert(std::is_class_v<NftQueue>);
    static_assert(std::is_class_v<PublishedPort>);
    // 4. DNS answers
    DnsAnswer ans{{a.address}, {}};
    CHECK_FALSE(ans.empty());
    static_assert(std::is_class_v<DnsServer>);
}
