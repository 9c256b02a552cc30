// The pure model → ContainerSpec translation: compose's rules for merging a
// service with its image, without touching the disk.
#include "base/error.h"
#include "supervisor/container_spec.h"

#include <doctest/doctest.h>

#include <algorithm>

using namespace berth;
using namespace berth::supervisor;

namespace {

struct Fixture {
    compose::Project p;
    images::ResolvedImage img;
    runtime::ResolvedUser who;
    Fixture() {
        p.name = "shop";
        compose::Service s;
        s.name = "web";
        s.image = "app";
        p.services["web"] = s;
        img.record.name = "app:latest";
        img.layer_dirs = {"/layers/b", "/layers/a"};
        img.config.entrypoint = std::vector<std::string>{"/entry"};
        img.config.cmd = std::vector<std::string>{"serve", "--port", "80"};
        img.config.env = {"PATH=/bin", "MODE=image"};
        img.config.working_dir = "/srv";
        who.uid = 1000;
        who.gid = 1000;
        who.home = "/home/app";
    }
    compose::Service& svc() { return p.services["web"]; }
    runtime::ContainerSpec spec(const RunOverrides& o = {}, const NetworkSetup& net = {}) {
        return translate(p, svc(), img, "shop-web-1", "/var/lib/berth", who, o, net);
    }
};

bool has(const std::vector<std::string>& v, const std::string& x) { return std::find(v.begin(), v.end(), x) != v.end(); }

}  // namespace

TEST_CASE("entrypoint and command merge as compose merges them") {
    Fixture f;
    CHECK(f.spec().argv == std::vector<std::string>{"/entry", "serve", "--port", "80"});
    f.svc().command = std::vector<std::string>{"check"};
    CHECK(f.spec().argv == std::vector<std::string>{"/entry", "check"});
    f.svc().command.reset();
    f.svc().entrypoint = std::vector<std::string>{"/other"};
    CHECK(f.spec().argv == std::vector<std::string>{"/other"});  // a new entrypoint drops the image's cmd
    RunOverrides o;
    o.entrypoint = "sh -c";
    o.command = std::vector<std::string>{"echo hi"};
    CHECK(f.spec(o).argv == std::vector<std::string>{"sh", "-c", "echo hi"});
    f.svc().entrypoint = std::vector<std::string>{};
    f.img.config.cmd.reset();
    CHECK_THROWS_AS(f.spec(), Error);  // nothing to run
}

TEST_CASE("environment: image, then service, then run's -e; HOME and HOSTNAME filled in") {
    Fixture f;
    f.svc().environment["MODE"] = "service";
    f.svc().environment["UNSET"] = std::nullopt;
    f.svc().environment["PATH"] = std::nullopt;  // `environment: [PATH]` set nowhere: the image's PATH goes
    RunOverrides o;
    o.env = {"EXTRA=1"};
    auto s = f.spec(o);
    CHECK(has(s.env, "MODE=service"));
    CHECK_FALSE(has(s.env, "MODE=image"));
    CHECK(std::none_of(s.env.begin(), s.env.end(), [](auto& e) { return e.rfind("PATH=", 0) == 0; }));
    CHECK(has(s.env, "EXTRA=1"));
    CHECK(has(s.env, "HOME=/home/app"));
    CHECK(s.env.front() == "HOSTNAME=shop-web-1");
    CHECK(std::none_of(s.env.begin(), s.env.end(), [](auto& e) { return e.rfind("UNSET", 0) == 0; }));
    CHECK(s.uid == 1000);
    CHECK(s.cwd == "/srv");
    CHECK(s.state_dir == "/var/lib/berth/containers/shop-web-1");
    CHECK(s.layers == f.img.layer_dirs);
}

TEST_CASE("mounts: binds as given, named volumes by name until prepared, tmpfs") {
    Fixture f;
    compose::Volume v;
    v.name = "shop_data";
    f.p.volumes["data"] = v;
    auto mount = [](std::string type, std::string source, std::string target) {
        compose::Mount m;
        m.type = std::move(type);
        m.source = std::move(source);
        m.target = std::move(target);
        return m;
    };
    f.svc().volumes = {mount("bind", "/nonexistent/src", "/src"), mount("volume", "data", "/data"),
                       mount("tmpfs", "", "/tmp")};
    f.svc().volumes[0].read_only = true;
    f.svc().volumes[2].tmpfs_size = 1 << 20;
    f.svc().tmpfs = {"/run:size=1m"};
    auto s = f.spec();  // no disk work: the bind source need not exist
    REQUIRE(s.mounts.size() == 4);
    CHECK(s.mounts[0].source == "/nonexistent/src");
    CHECK(s.mounts[0].read_only);
    CHECK(s.mounts[1].source == "shop_data");
    CHECK(s.mounts[1].target == "/data");
    CHECK(s.mounts[2].type == runtime::MountSpec::Type::Tmpfs);
    CHECK(s.mounts[2].size == (1 << 20));
    CHECK(s.mounts[3].target == "/run");
    CHECK(s.mounts[3].size == (1 << 20));  // the short syntax's options apply
    f.svc().tmpfs = {"/t:size=64k,mode=1770,ro,uid=1000"};
    s = f.spec();
    CHECK(s.mounts[3].size == (64 << 10));
    CHECK(s.mounts[3].mode == 01770u);
    CHECK(s.mounts[3].tmpfs_options == "ro,uid=1000");
    f.svc().tmpfs = {"/t:size=lots"};
    CHECK_THROWS_AS(f.spec(), Error);
    f.svc().tmpfs.clear();
    f.svc().volumes.resize(1);
    f.svc().volumes[0].type = "npipe";
    f.svc().volumes[0].source = "x";
    f.svc().volumes[0].target = "/x";
    CHECK_THROWS_AS(f.spec(), Error);
}

TEST_CASE("configs at /<name> or target, secrets at /run/secrets; bound from a file, else made with owner and mode") {
    Fixture f;
    compose::FileObject file, env, content;
    file.file = "/srv/conf.txt";
    env.environment = "SECRET";
    env.env_value = "BAR";
    content.content = "port=80";
    f.p.configs = {{"file", file}, {"inline", content}};
    f.p.secrets = {{"pw", file}, {"token", env}};
    compose::FileRef c1{"file", "", std::nullopt, "", ""}, c2{"inline", "etc/app.conf", 0400, "", ""};
    compose::FileRef s1{"pw", "", std::nullopt, "", ""}, s2{"token", "bar", 0440, "1005", "1005"};
    f.svc().configs = {c1, c2};
    f.svc().secrets = {s1, s2};
    auto s = f.spec();
    REQUIRE(s.mounts.size() == 4);
    CHECK(s.mounts[0].type == runtime::MountSpec::Type::Bind);
    CHECK(s.mounts[0].source == "/srv/conf.txt");
    CHECK(s.mounts[0].target == "/file");
    CHECK(s.mounts[0].read_only);
    CHECK(s.mounts[1].type == runtime::MountSpec::Type::File);
    CHECK(s.mounts[1].content == std::optional<std::string>("port=80"));
    CHECK(s.mounts[1].target == "/etc/app.conf");
    CHECK(s.mounts[1].mode == 0400u);
    CHECK(s.mounts[2].target == "/run/secrets/pw");
    CHECK(s.mounts[3].target == "/run/secrets/bar");
    CHECK(s.mounts[3].content == std::optional<std::string>("BAR"));
    CHECK(s.mounts[3].file_uid == 1005u);
    CHECK(s.mounts[3].file_gid == 1005u);
    f.svc().secrets = {{"nosuch", "", std::nullopt, "", ""}};
    CHECK_THROWS_AS(f.spec(), Error);
    f.svc().secrets = {{"token", "", std::nullopt, "x", ""}};
    CHECK_THROWS_AS(f.spec(), Error);  // uid is a number
    f.svc().secrets.clear();
    f.svc().missing_env_file = "/nope/.env";
    CHECK_THROWS_WITH_AS(f.spec(), doctest::Contains("env file /nope/.env not found"), Error);
}

TEST_CASE("network: the embedded DNS server, a shared namespace, host") {
    Fixture f;
    NetworkSetup net;
    net.embedded_dns = true;
    net.own.push_back({"10.0.0.2", {"shop-web-1"}});
    auto s = f.spec({}, net);
    CHECK(s.etc_resolv_conf.find("nameserver 127.0.0.11") != std::string::npos);
    CHECK(s.etc_resolv_conf.find("ndots:0") != std::string::npos);
    CHECK(s.etc_hosts.find("10.0.0.2") != std::string::npos);
    net = {};
    net.net_ns_path = "/proc/42/ns/net";
    CHECK(f.spec({}, net).net_ns_path == "/proc/42/ns/net");
    f.svc().network_mode = "host";
    CHECK(f.spec().host_network);
}

TEST_CASE("limits, capabilities, security options") {
    Fixture f;
    f.svc().mem_limit = 64 << 20;
    f.svc().pids_limit = 100;
    f.svc().cap_drop = {"ALL"};
    f.svc().security_opt = {"no-new-privileges:true"};
    auto s = f.spec();
    CHECK(s.limits.memory == (64 << 20));
    CHECK(s.limits.pids == 100);
    CHECK(s.capabilities == 0);
    CHECK(s.no_new_privileges);
    CHECK(s.cgroup_parent == "berth");
    f.svc().security_opt = {"apparmor=x", "label:disable"};
    CHECK_NOTHROW(f.spec());
    f.svc().security_opt = {"seccomp=/profile.json"};
    CHECK_THROWS_AS(f.spec(), Error);
}

// branch arch (issue 12): exec and health checks on the launch path.
TEST_CASE("an exec or a health check sees the container's environment, as root in / unless told") {
    Fixture f;
    f.svc().environment["MODE"] = std::string("service");
    f.svc().environment["PATH"] = std::string("/opt/bin:/bin");
    f.svc().environment["GONE"] = std::nullopt;
    f.img.config.env.push_back("GONE=image");
    auto es = exec_spec(f.svc(), f.img, {"pg_isready"});
    CHECK(es.argv == std::vector<std::string>{"pg_isready"});
    CHECK(es.env == container_env(f.svc(), f.img));
    auto spec_env = f.spec().env;  // container_env is what translate uses (plus HOME)
    for (const auto& e : es.env) CHECK(has(spec_env, e));
    CHECK(std::count_if(es.env.begin(), es.env.end(), [](const std::string& e) { return e.rfind("PATH=", 0) == 0; }) == 1);
    CHECK(has(es.env, "PATH=/opt/bin:/bin"));  // the service's PATH, once: the program is looked up there
    CHECK(has(es.env, "MODE=service"));
    CHECK_FALSE(has(es.env, "GONE=image"));
    CHECK(es.uid == 0);
    CHECK(es.cwd == "/");
    auto with = exec_spec(f.svc(), f.img, {"env"}, {"X=1", "MODE=flag"}, std::nullopt, "/work");
    CHECK(has(with.env, "X=1"));
    CHECK(has(with.env, "MODE=flag"));
    CHECK(with.cwd == "/work");
}

TEST_CASE("security_opt: one reading for the container and its execs") {
    Fixture f;
    CHECK(security_opts(f.svc()).seccomp);
    CHECK_FALSE(security_opts(f.svc()).no_new_privileges);
    f.svc().security_opt = {"no-new-privileges:true", "seccomp=unconfined", "label=disable"};
    auto s = security_opts(f.svc());
    CHECK(s.no_new_privileges);
    CHECK_FALSE(s.seccomp);
    auto spec = f.spec();
    CHECK(spec.no_new_privileges == s.no_new_privileges);
    CHECK(spec.seccomp == s.seccomp);
    f.svc().security_opt = {"systempaths=unconfined"};
    CHECK_THROWS_AS(security_opts(f.svc()), Error);
}
