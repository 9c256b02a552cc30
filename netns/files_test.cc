#include "netns/files.h"

#include <doctest/doctest.h>

using namespace berth::netns;

TEST_CASE("hosts: localhost, the container's names, extra_hosts") {
    CHECK(hosts_file({{"172.20.0.2", {"web-1", "web", "alias"}}}, {"db.local=10.0.0.5"}) ==
          "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n"
          "172.20.0.2\tweb-1 web alias\n"
          "10.0.0.5\tdb.local\n");
    CHECK(hosts_file({{"", {"x"}}}, {}) == "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n");
}

TEST_CASE("resolv.conf: compose's dns, dns_search, dns_opt; the host's file otherwise") {
    const std::string host = "# generated\nnameserver 10.0.0.1\nsearch corp\n";
    CHECK(resolv_conf({}, {}, {}, host) == host);
    CHECK(resolv_conf({"1.1.1.1", "9.9.9.9"}, {"a.example", "b.example"}, {"ndots:2"}, host) ==
          "nameserver 1.1.1.1\nnameserver 9.9.9.9\nsearch a.example b.example\noptions ndots:2\n");
    CHECK(resolv_conf({}, {"svc.local"}, {}, host) == "nameserver 10.0.0.1\nsearch svc.local\n");
}
