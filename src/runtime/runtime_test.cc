#include "base/error.h"
#include "runtime/caps.h"
#include "runtime/seccomp.h"
#include "runtime/spec.h"
#include "runtime/user.h"

#include <doctest/doctest.h>
#include <linux/capability.h>

using namespace berth::runtime;

TEST_CASE("capabilities: names, Docker's default set, cap_add/cap_drop with ALL") {
    CHECK(capability_number("CHOWN") == 0);
    CHECK(capability_number("cap_net_admin") == CAP_NET_ADMIN);
    CHECK(capability_number("CAP_SYS_ADMIN") == CAP_SYS_ADMIN);
    CHECK_FALSE(capability_number("FLY"));
    CHECK(capability_name(CAP_KILL) == "CAP_KILL");

    CapSet d = default_capabilities();
    CHECK(capability_names(d).size() == 14);
    CHECK((d & (CapSet{1} << CAP_NET_BIND_SERVICE)));
    CHECK_FALSE((d & (CapSet{1} << CAP_SYS_ADMIN)));

    CapSet s = apply_cap_changes(d, {"NET_ADMIN"}, {"CHOWN", "cap_kill"});
    CHECK((s & (CapSet{1} << CAP_NET_ADMIN)));
    CHECK_FALSE((s & (CapSet{1} << CAP_CHOWN)));
    CHECK_FALSE((s & (CapSet{1} << CAP_KILL)));

    CHECK(apply_cap_changes(d, {"NET_BIND_SERVICE"}, {"ALL"}) == (CapSet{1} << CAP_NET_BIND_SERVICE));
    CHECK(apply_cap_changes(d, {}, {"ALL"}) == 0);
    CapSet all = apply_cap_changes(d, {"ALL"}, {"SYS_ADMIN"});
    CHECK(all == (all_capabilities() & ~(CapSet{1} << CAP_SYS_ADMIN)));
    CHECK_THROWS_WITH_AS(apply_cap_changes(d, {"NET_ADMN"}, {}), "cap_add: unknown capability \"NET_ADMN\"",
                         berth::Error);
}

TEST_CASE("user: names and numbers resolved against passwd and group") {
    const char* passwd =
        "root:x:0:0:root:/root:/bin/sh\n"
        "nobody:x:65534:65534:nobody:/nonexistent:/bin/false\n"
        "app:x:1000:1000::/home/app:/bin/sh\n";
    const char* group =
        "root:x:0:\n"
        "nogroup:x:65534:\n"
        "app:x:1000:\n"
        "audio:x:29:app,other\n"
        "video:x:44:other\n";
    auto r = resolve_user("app", {}, passwd, group);
    CHECK(r.uid == 1000);
    CHECK(r.gid == 1000);
    CHECK(r.home == "/home/app");
    CHECK(r.groups == std::vector<gid_t>{29});

    r = resolve_user("nobody:video", {"audio", "4242"}, passwd, group);
    CHECK(r.uid == 65534);
    CHECK(r.gid == 44);
    CHECK(r.groups == std::vector<gid_t>{29, 4242});

    r = resolve_user("1000", {}, passwd, group);  // numeric but listed: gid from passwd
    CHECK(r.gid == 1000);
    r = resolve_user("4000:4001", {}, passwd, group);  // numeric and unknown: taken as is
    CHECK(r.uid == 4000);
    CHECK(r.gid == 4001);
    r = resolve_user("4000", {}, "", "");
    CHECK(r.gid == 0);

    CHECK_THROWS_WITH_AS(resolve_user("ghost", {}, passwd, group),
                         "user: no user \"ghost\" in the image's /etc/passwd", berth::Error);
    CHECK_THROWS_WITH_AS(resolve_user("app:nogrp", {}, passwd, group),
                         "user: no group \"nogrp\" in the image's /etc/group", berth::Error);
    CHECK_THROWS_AS(resolve_user("root", {"wheel"}, passwd, group), berth::Error);
}

TEST_CASE("sysctls: only namespaced ones") {
    CHECK_NOTHROW(check_sysctl("net.ipv4.ip_forward", true));
    CHECK_NOTHROW(check_sysctl("kernel.shmmax", false));
    CHECK_NOTHROW(check_sysctl("fs.mqueue.msg_max", false));
    CHECK_THROWS_AS(check_sysctl("net.core.somaxconn", false), berth::Error);
    CHECK_THROWS_AS(check_sysctl("kernel.hostname", true), berth::Error);
    CHECK_THROWS_AS(check_sysctl("vm.swappiness", true), berth::Error);
}

TEST_CASE("seccomp: the default program compiles to BPF") {
    const auto& prog = default_seccomp_program();
    CHECK(prog.size() > 20);
    CHECK(&prog == &default_seccomp_program());  // built once
}

TEST_CASE("seccomp: capabilities widen the program as docker's profile does") {
    CapSet def = default_capabilities();
    const auto& plain = seccomp_program(def);
    CHECK(&plain == &default_seccomp_program());
    CapSet admin = def | (CapSet{1} << 21);  // CAP_SYS_ADMIN
    const auto& widened = seccomp_program(admin);
    CHECK(&widened != &plain);
    // Fewer refusals: mount, umount2, the user-namespace clone checks and more go.
    CHECK(widened.size() < plain.size());
    // A capability the program does not look at (CAP_NET_ADMIN, 12) changes nothing.
    CHECK(&seccomp_program(def | (CapSet{1} << 12)) == &plain);
    // Each gating capability alone changes the program.
    for (int cap : {16 /*SYS_MODULE*/, 25 /*SYS_TIME*/, 22 /*SYS_BOOT*/, 17 /*SYS_RAWIO*/, 19 /*SYS_PTRACE*/}) {
        INFO("capability " << cap);
        CHECK(seccomp_program(def | (CapSet{1} << cap)).size() < plain.size());
    }
}
