#include "base/error.h"
#include "images/reference.h"
#include "registry/auth.h"
#include "registry/client.h"
#include "registry/config.h"
#include "registry/platform.h"
#include "registry/policy.h"

#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <unistd.h>

using namespace berth;
using namespace berth::registry;
using json = nlohmann::json;

TEST_CASE("references: registries, tags, digests") {
    auto r = images::parse_reference("127.0.0.1:5000/team/app:1.2@sha256:" + std::string(64, 'a'));
    CHECK(r.domain == "127.0.0.1:5000");
    CHECK(r.path == "team/app");
    CHECK(r.tag == "1.2");
    CHECK(r.digest == "sha256:" + std::string(64, 'a'));
    auto h = images::parse_reference("postgres:16");
    CHECK(h.domain == "docker.io");
    CHECK(h.path == "library/postgres");
    CHECK(api_host(h.domain) == "registry-1.docker.io");
    CHECK(api_host("localhost:5000") == "localhost:5000");
    CHECK_THROWS_AS(images::parse_reference("Bad/Name"), Error);
    CHECK_THROWS_AS(images::parse_reference("x@sha256:abc"), Error);
}

TEST_CASE("platform choice from an index") {
    json index = json::parse(R"({"manifests":[
        {"digest":"sha256:a","platform":{"os":"linux","architecture":"amd64"}},
        {"digest":"sha256:b","platform":{"os":"linux","architecture":"arm64","variant":"v8"}},
        {"digest":"sha256:c","platform":{"os":"linux","architecture":"arm","variant":"v6"}},
        {"digest":"sha256:d","platform":{"os":"linux","architecture":"arm","variant":"v7"}},
        {"digest":"sha256:e","platform":{"os":"unknown","architecture":"unknown"}}]})");
    CHECK(choose_manifest(index, parse_platform("linux/amd64"), "x")["digest"] == "sha256:a");
    CHECK(choose_manifest(index, parse_platform("linux/arm64"), "x")["digest"] == "sha256:b");
    CHECK(choose_manifest(index, parse_platform("arm64"), "x")["digest"] == "sha256:b");
    CHECK(choose_manifest(index, parse_platform("linux/arm"), "x")["digest"] == "sha256:d");
    CHECK(choose_manifest(index, parse_platform("linux/arm/v6"), "x")["digest"] == "sha256:c");
    try {
        choose_manifest(index, parse_platform("linux/s390x"), "app:1");
        FAIL("no error");
    } catch (const Error& e) {
        std::string m = e.message();
        CHECK(m.find("linux/s390x") != std::string::npos);
        CHECK(m.find("linux/amd64, linux/arm64/v8, linux/arm/v6, linux/arm/v7") != std::string::npos);
        CHECK(m.find("unknown") == std::string::npos);
    }
    // an index that leaves arm64's variant out still serves linux/arm64/v8
    json loose = json::parse(R"({"manifests":[{"digest":"sha256:f","platform":{"os":"linux","architecture":"arm64"}}]})");
    CHECK(choose_manifest(loose, parse_platform("linux/arm64/v8"), "x")["digest"] == "sha256:f");
    CHECK_THROWS_AS(parse_platform("linux//x"), Error);
    CHECK_THROWS_AS(parse_platform("a/b/c/d"), Error);
    Platform host = host_platform();
    CHECK(host.os == "linux");
    CHECK(!host.architecture.empty());
}

TEST_CASE("WWW-Authenticate challenges") {
    auto c = parse_challenge(R"(Bearer realm="https://auth.example/token",service="registry.example",scope="repository:a/b:pull,push")");
    CHECK(c.scheme == "bearer");
    CHECK(c.params["realm"] == "https://auth.example/token");
    CHECK(c.params["service"] == "registry.example");
    CHECK(c.params["scope"] == "repository:a/b:pull,push");
    auto b = parse_challenge(R"(Basic realm="Registry Realm")");
    CHECK(b.scheme == "basic");
    CHECK(b.params["realm"] == "Registry Realm");
    auto e = parse_challenge(R"(Bearer realm="r", error="insufficient_scope" , scope=repository:x:pull)");
    CHECK(e.params["error"] == "insufficient_scope");
    CHECK(e.params["scope"] == "repository:x:pull");
    auto q = parse_challenge(R"(bearer realm="a\"b")");
    CHECK(q.params["realm"] == "a\"b");
    CHECK_THROWS_AS(parse_challenge(R"(Bearer realm="open)"), Error);
    CHECK_THROWS_AS(parse_challenge("   "), Error);
}

TEST_CASE("docker config.json: auths") {
    CHECK(base64_decode(base64_encode("user:pa:ss")) == "user:pa:ss");
    CHECK(base64_encode("a") == "YQ==");
    std::string cfg = json{{"auths",
                            {{"https://index.docker.io/v1/", {{"auth", base64_encode("hub:secret")}}},
                             {"127.0.0.1:5000", {{"auth", base64_encode("me:pw:with:colons")}}},
                             {"https://reg.example:8443", {{"username", "u2"}, {"password", "p2"}}}}}}
                          .dump();
    auto hub = auths_entry(cfg, "docker.io");
    REQUIRE(hub);
    CHECK(hub->username == "hub");
    CHECK(hub->password == "secret");
    auto local = auths_entry(cfg, "127.0.0.1:5000");
    REQUIRE(local);
    CHECK(local->username == "me");
    CHECK(local->password == "pw:with:colons");
    auto ex = auths_entry(cfg, "reg.example:8443");
    REQUIRE(ex);
    CHECK(ex->username == "u2");
    CHECK(!auths_entry(cfg, "other:5000"));
    CHECK(!auths_entry("not json", "x"));
    CHECK_THROWS_AS(auths_entry(R"({"auths":{"h":{"auth":"bm9jb2xvbg=="}}})", "h"), Error);  // "nocolon"
}

TEST_CASE("login writes the config file and logout removes it; helpers are run") {
    auto dir = std::filesystem::temp_directory_path() / ("berth-auth-" + std::to_string(getpid()));
    std::filesystem::create_directories(dir);
    setenv("DOCKER_CONFIG", dir.c_str(), 1);
    store_credentials("127.0.0.1:5000", {"alice", "s3cret"});
    auto c = lookup_credentials("127.0.0.1:5000");
    CHECK(c.username == "alice");
    CHECK(c.password == "s3cret");
    CHECK(erase_credentials("127.0.0.1:5000"));
    CHECK(lookup_credentials("127.0.0.1:5000").empty());
    CHECK(!erase_credentials("127.0.0.1:5000"));

    // credHelpers: a docker-credential-test program on PATH answers `get`
    std::filesystem::create_directories(dir / "bin");
    {
        std::ofstream h(dir / "bin" / "docker-credential-test");
        h << "#!/bin/sh\nread host\n[ \"$1\" = get ] && [ \"$host\" = reg.test ] && "
             "echo '{\"ServerURL\":\"reg.test\",\"Username\":\"bob\",\"Secret\":\"tok\"}' && exit 0\n"
             "echo 'credentials not found'; exit 1\n";
    }
    std::filesystem::permissions(dir / "bin" / "docker-credential-test", std::filesystem::perms::owner_all);
    {
        std::ofstream f(dir / "config.json");
        f << R"({"credHelpers":{"reg.test":"test"}})";
    }
    std::string path = std::string(getenv("PATH")) + ":" + (dir / "bin").string();
    setenv("PATH", path.c_str(), 1);
    auto h = lookup_credentials("reg.test");
    CHECK(h.username == "bob");
    CHECK(h.password == "tok");
    CHECK(lookup_credentials("other.test").empty());
    unsetenv("DOCKER_CONFIG");
    std::filesystem::remove_all(dir);
}

TEST_CASE("berth's config: insecure registries and mirrors") {
    auto s = parse_settings(R"({"insecure-registries":["127.0.0.1:5000","http://reg.lan:80"],"registry-mirrors":["https://mirror.lan"]})",
                            "127.0.0.1:6000,");
    REQUIRE(s.insecure.size() == 3);
    CHECK(s.insecure[1] == "reg.lan:80");
    CHECK(s.insecure[2] == "127.0.0.1:6000");
    auto eps = endpoints(s, "127.0.0.1:5000");
    REQUIRE(eps.size() == 1);
    CHECK(eps[0].insecure);
    CHECK(eps[0].base() == "http://127.0.0.1:5000");
    // loopback is not trusted unless listed
    auto tls = endpoints(s, "127.0.0.1:7000");
    CHECK(!tls[0].insecure);
    CHECK(tls[0].base() == "https://127.0.0.1:7000");
    auto hub = endpoints(s, "docker.io");
    REQUIRE(hub.size() == 2);
    CHECK(hub[0].host == "mirror.lan");
    CHECK(hub[1].host == "registry-1.docker.io");
    CHECK(parse_settings("", "").insecure.empty());
    CHECK_THROWS_AS(parse_settings("{", ""), Error);
    CHECK_THROWS_AS(parse_settings(R"({"insecure-registries":"x"})", ""), Error);
}

TEST_CASE("pull_policy") {
    CHECK(parse_pull_policy("").policy == PullPolicy::Missing);
    CHECK(parse_pull_policy("if_not_present").policy == PullPolicy::Missing);
    CHECK(parse_pull_policy("daily").period == 86400);
    CHECK(parse_pull_policy("weekly").period == 7 * 86400);
    CHECK(parse_pull_policy("every_12h").period == 12 * 3600);
    CHECK(parse_pull_policy("every_1d2h30m").period == 86400 + 2 * 3600 + 30 * 60);
    CHECK_THROWS_AS(parse_pull_policy("every_"), Error);
    CHECK_THROWS_AS(parse_pull_policy("every_5x"), Error);
    CHECK_THROWS_AS(parse_pull_policy("every_h"), Error);
    CHECK_THROWS_AS(parse_pull_policy("sometimes"), Error);
    auto daily = parse_pull_policy("daily");
    CHECK(should_pull(daily, false, 0, 1000));
    CHECK(!should_pull(daily, true, 1000, 1000 + 3600));
    CHECK(should_pull(daily, true, 1000, 1000 + 86400));
    CHECK(!should_pull(parse_pull_policy("missing"), true, 0, 0));
    CHECK(should_pull(parse_pull_policy("missing"), false, 0, 0));
    CHECK(should_pull(parse_pull_policy("always"), true, 0, 0));
    CHECK(!should_pull(parse_pull_policy("never"), false, 0, 0));
}

TEST_CASE("manifest types; schema 1 refused") {
    CHECK(manifest_type(R"({"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[]})", "", "x") ==
          kOciIndex);
    CHECK(manifest_type(R"({"schemaVersion":2,"config":{},"layers":[]})", "application/vnd.oci.image.manifest.v1+json", "x") ==
          kOciManifest);
    CHECK(manifest_type(R"({"schemaVersion":2,"config":{},"layers":[]})", "", "x") == kOciManifest);
    try {
        manifest_type(R"({"schemaVersion":1,"name":"x","fsLayers":[]})", "application/vnd.docker.distribution.manifest.v1+prettyjws", "old:1");
        FAIL("schema 1 accepted");
    } catch (const Error& e) {
        CHECK(std::string(e.message()).find("schema 1") != std::string::npos);
        CHECK(std::string(e.message()).find("old:1") != std::string::npos);
    }
    CHECK_THROWS_AS(manifest_type("[]", "", "x"), Error);
    CHECK_THROWS_AS(manifest_type(R"({"mediaType":"text/html"})", "", "x"), Error);
}
