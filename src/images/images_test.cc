#include "base/error.h"
#include "base/fd.h"
#include "images/extract.h"
#include "images/reference.h"
#include "images/store.h"
#include "images/stream.h"
#include "base/sha256.h"

#include <archive.h>
#include <archive_entry.h>
#include <doctest/doctest.h>

#include <filesystem>
#include <fcntl.h>
#include <fstream>
#include <sstream>
#include <thread>
#include <map>
#include <random>
#include <regex>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

namespace fs = std::filesystem;
using namespace berth::images;

TEST_CASE("references normalize as Docker's") {
    CHECK(normalize_name("busybox") == "docker.io/library/busybox:latest");
    CHECK(normalize_name("busybox:1.36") == "docker.io/library/busybox:1.36");
    CHECK(normalize_name("me/app") == "docker.io/me/app:latest");
    CHECK(normalize_name("localhost:5000/x:1") == "localhost:5000/x:1");
    CHECK(normalize_name("localhost/x") == "localhost/x:latest");
    CHECK(normalize_name("registry.local/team/app") == "registry.local/team/app:latest");
    CHECK(normalize_name("index.docker.io/library/nginx") == "docker.io/library/nginx:latest");
    std::string d = "sha256:" + std::string(64, 'a');
    CHECK(normalize_name("x@" + d) == "docker.io/library/x@" + d);
    CHECK(parse_reference("busybox").familiar() == "busybox:latest");
    CHECK(parse_reference("localhost:5000/x:1").familiar() == "localhost:5000/x:1");
    CHECK_THROWS_AS(normalize_name(""), berth::Error);
    CHECK_THROWS_AS(normalize_name("Upper/Case"), berth::Error);
    CHECK_THROWS_AS(normalize_name("x:bad tag"), berth::Error);
    CHECK_THROWS_AS(normalize_name("x@sha256:123"), berth::Error);
    CHECK_THROWS_AS(normalize_name("a//b"), berth::Error);
}

namespace {

struct TempDir {
    std::string path;
    TempDir() {
        char t[] = "/tmp/berth-img-XXXXXX";
        path = mkdtemp(t);
    }
    ~TempDir() { fs::remove_all(path); }
};

struct Entry {
    // Positional, the fields after `type` optional: {"bin/link", AE_IFLNK, "", "hello"}.
    Entry(std::string n, mode_t t = AE_IFREG, std::string d = "", std::string l = "", std::string h = "",
          unsigned major = 0, unsigned minor = 0, int u = 0)
        : name(std::move(n)), type(t), data(std::move(d)), link(std::move(l)), hardlink(std::move(h)),
          rdev_major(major), rdev_minor(minor), uid(u) {}
    std::string name;
    mode_t type;
    std::string data;
    std::string link;  // symlink target
    std::string hardlink;
    unsigned rdev_major, rdev_minor;
    int uid;
};

void write_tar(const std::string& path, const std::vector<Entry>& entries, bool gzip = false) {
    archive* a = archive_write_new();
    archive_write_set_format_pax_restricted(a);
    if (gzip) archive_write_add_filter_gzip(a);
    REQUIRE(archive_write_open_filename(a, path.c_str()) == ARCHIVE_OK);
    for (const auto& e : entries) {
        archive_entry* en = archive_entry_new();
        archive_entry_set_pathname(en, e.name.c_str());
        archive_entry_set_filetype(en, e.type);
        archive_entry_set_perm(en, e.type == AE_IFDIR ? 0755 : 0644);
        archive_entry_set_uid(en, e.uid);
        archive_entry_set_gid(en, e.uid);
        if (!e.link.empty()) archive_entry_set_symlink(en, e.link.c_str());
        if (!e.hardlink.empty()) archive_entry_set_hardlink(en, e.hardlink.c_str());
        if (e.type == AE_IFCHR) archive_entry_set_rdev(en, makedev(e.rdev_major, e.rdev_minor));
        archive_entry_set_size(en, e.type == AE_IFREG && e.hardlink.empty() ? static_cast<la_int64_t>(e.data.size()) : 0);
        archive_write_header(a, en);
        if (e.type == AE_IFREG && !e.data.empty()) archive_write_data(a, e.data.data(), e.data.size());
        archive_entry_free(en);
    }
    archive_write_close(a);
    archive_write_free(a);
}

std::string slurp(const std::string& p) {
    std::ifstream in(p);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

}  // namespace

TEST_CASE("the hand-written reference matchers agree with docker's regular expressions") {
    // The grammar of docker's reference package, as regular expressions (the old implementation).
    const std::regex digest_re("sha256:[a-f0-9]{64}");
    const std::regex tag_re("[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}");
    const std::regex path_re("[a-z0-9]+(?:(?:[._]|__|[-]+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:[._]|__|[-]+)[a-z0-9]+)*)*");
    std::mt19937 rng(12345);
    // Short strings over the alphabet that matters, so that every separator case comes up.
    const std::string alpha = "ab09_.-/A:";
    int agreed = 0, paths_ok = 0, tags_ok = 0;
    for (int i = 0; i < 40000; ++i) {
        std::string t;
        int len = static_cast<int>(rng() % 9);
        for (int k = 0; k < len; ++k) t += alpha[rng() % alpha.size()];
        INFO("string: \"" << t << "\"");
        bool p = std::regex_match(t, path_re), g = std::regex_match(t, tag_re);
        REQUIRE(is_valid_repository_path(t) == p);
        REQUIRE(is_valid_tag(t) == g);
        paths_ok += p;
        tags_ok += g;
        ++agreed;
    }
    CHECK(agreed == 40000);
    CHECK(paths_ok > 500);  // the sample holds valid paths, not only invalid ones
    CHECK(tags_ok > 500);
    std::string tag128(128, 'a'), tag129(129, 'a');
    CHECK(is_valid_tag(tag128) == std::regex_match(tag128, tag_re));
    CHECK(is_valid_tag(tag129) == std::regex_match(tag129, tag_re));
    std::string d = "sha256:" + std::string(64, 'f');
    CHECK(is_valid_digest(d));
    CHECK(std::regex_match(d, digest_re));
    for (std::string bad : {"sha256:" + std::string(63, 'f'), "sha256:" + std::string(64, 'F'), "sha512:" + std::string(64, 'f'),
                            "sha256:" + std::string(65, 'f')}) {
        CHECK_FALSE(is_valid_digest(bad));
        CHECK_FALSE(std::regex_match(bad, digest_re));
    }
}

TEST_CASE("import: one layer, resolved with its files; list, inspect, rm") {
    TempDir t;
    write_tar(t.path + "/rootfs.tar.gz",
              {{"bin", AE_IFDIR}, {"bin/hello", AE_IFREG, "hi\n"}, {"bin/link", AE_IFLNK, "", "hello"},
               {"bin/hard", AE_IFREG, "", "", "bin/hello"}, {"etc", AE_IFDIR}, {"etc/owned", AE_IFREG, "x", "", "", 0, 0, 1234},
               {"dev", AE_IFDIR}, {"dev/null", AE_IFCHR, "", "", "", 1, 3}},
              true);
    Store store(t.path + "/root");
    ImageRecord r = store.import_rootfs(t.path + "/rootfs.tar.gz", "test/img:1");
    CHECK(r.name == "docker.io/test/img:1");
    CHECK(r.id.rfind("sha256:", 0) == 0);
    ResolvedImage img = store.resolve("test/img:1");
    REQUIRE(img.layer_dirs.size() == 1);
    const std::string& l = img.layer_dirs[0];
    CHECK(slurp(l + "/bin/hello") == "hi\n");
    CHECK(fs::read_symlink(l + "/bin/link") == "hello");
    struct stat a {}, b {};
    REQUIRE(stat((l + "/bin/hello").c_str(), &a) == 0);
    REQUIRE(stat((l + "/bin/hard").c_str(), &b) == 0);
    CHECK(a.st_ino == b.st_ino);
    REQUIRE(stat((l + "/etc/owned").c_str(), &a) == 0);
    CHECK(a.st_uid == 1234);
    REQUIRE(stat((l + "/dev/null").c_str(), &a) == 0);
    CHECK(S_ISCHR(a.st_mode));
    CHECK(store.list().size() == 1);
    CHECK(store.inspect("test/img:1")["RepoTags"][0] == "test/img:1");
    // Importing the same tarball again shares the layer.
    store.import_rootfs(t.path + "/rootfs.tar.gz", "other");
    CHECK(store.resolve("other").layer_dirs == img.layer_dirs);
    store.remove("test/img:1");
    CHECK(fs::exists(l));  // still used by "other"
    store.remove("other");
    CHECK_FALSE(fs::exists(l));
    CHECK_THROWS_WITH_AS(store.resolve("other"), "image other not found", berth::Error);
}

TEST_CASE("whiteouts become overlayfs whiteouts and opaque dirs") {
    TempDir t;
    write_tar(t.path + "/l.tar", {{"gone", AE_IFREG}, {"dir", AE_IFDIR}, {"dir/.wh.old", AE_IFREG},
                                  {"opq", AE_IFDIR}, {"opq/.wh..wh..opq", AE_IFREG}, {".wh.top", AE_IFREG}});
    extract_layer(t.path + "/l.tar", t.path + "/out");
    struct stat st {};
    REQUIRE(lstat((t.path + "/out/dir/old").c_str(), &st) == 0);
    CHECK(S_ISCHR(st.st_mode));
    CHECK(st.st_rdev == makedev(0, 0));
    REQUIRE(lstat((t.path + "/out/top").c_str(), &st) == 0);
    CHECK(S_ISCHR(st.st_mode));
    char v[4] = {};
    CHECK(getxattr((t.path + "/out/opq").c_str(), "trusted.overlay.opaque", v, sizeof v) == 1);
    CHECK(v[0] == 'y');
    CHECK_FALSE(fs::exists(t.path + "/out/dir/.wh.old"));
}

TEST_CASE("malicious layers are refused and leave nothing") {
    TempDir t;
    fs::create_directories(t.path + "/victim");
    auto refused = [&](const std::vector<Entry>& entries, const std::string& why) {
        write_tar(t.path + "/bad.tar", entries);
        CHECK_THROWS_AS(extract_layer(t.path + "/bad.tar", t.path + "/victim/layer"), berth::Error);
        CHECK_MESSAGE(!fs::exists(t.path + "/victim/layer"), why);
        size_t left = 0;
        for (auto& e : fs::directory_iterator(t.path + "/victim")) (void)e, ++left;
        CHECK_MESSAGE(left == 0, why << ": a temporary directory remains");
        CHECK_MESSAGE(!fs::exists(t.path + "/victim/x"), why << ": wrote outside");
        CHECK_MESSAGE(!fs::exists(t.path + "/x"), why << ": wrote outside");
    };
    refused({{"../x", AE_IFREG, "evil"}}, "dot-dot entry");
    refused({{"a/../../x", AE_IFREG, "evil"}}, "nested dot-dot");
    refused({{t.path + "/x", AE_IFREG, "evil"}}, "absolute entry");
    refused({{"evil", AE_IFLNK, "", t.path + "/victim"}, {"evil/x", AE_IFREG, "evil"}}, "symlink escape");
    refused({{"evil", AE_IFLNK, "", ".."}, {"evil/.wh.x", AE_IFREG}}, "whiteout through a symlink");
    refused({{"h", AE_IFREG, "", "", "/etc/passwd"}}, "hard link outside");
    refused({{"h", AE_IFREG, "", "", "../../etc/passwd"}}, "hard link with dot-dot");
}

TEST_CASE("a layer libarchive fails on without a message is refused, not a crash (found by fuzzing)") {
    // gzip whose tar stream breaks off: libarchive's open fails with no error string.
    static const char bytes[] =
        "\x1f\x8b\x08\x00\x00\x00\x00\x00\x02\x03\xed\xd3\x31\x0e\x83\x20\x14\x80\x61\x8e\xe2\x09\x04\x14"
        "\xe8\x79\x88\x32\xb8\x54\x03\x58\xd2\xdb\x97\x74\xb4\xe9\x88\x69\xe3\xff\x2d\x8f\xf1\x85\x1f\xb6"
        "\x22\x9a\x53\xd5\xcd\xda\xf7\xac\x8e\xf3\xf3\xac\xf5\x38\x5a\xd1\xe9\xbe\x97\xeb\x9e\xd3\x32\x07"
        "\x39\xf9\xbb\x8f\xcf\x06\xcb\xed\x29\xfb\xd8\x75\xe2\xa2\xb6\x32\xfc\x60\x7f\x65\x94\xab\xfd\x65"
        "\xc8\x93\xdc\x7c\x4a\x65\x6e\xb6\xdc\xe5\xfb\x9f\xf3\xff\x9d\x31\xdf\xfb\x6b\x7d\x78\x0b\x6e\x30"
        "\xb5\xbf\x3a\xe3\x02\x2e\xde\x7f\x7d\x84\x58\xe2\x92\x83\x00\x00\x00\xff\xff\xff\x3d\x00\x00\x00"
        "\x00\x00\x00\x00\x00\x00\xc0\x3f\x7a\x01\x00\x00\x28\x00\x00";
    TempDir t;
    {
        std::ofstream out(t.path + "/l.tar.gz", std::ios::binary);
        out.write(bytes, sizeof bytes - 1);
    }
    fs::create_directories(t.path + "/box");
    CHECK_THROWS_AS(extract_layer(t.path + "/l.tar.gz", t.path + "/box/layer"), berth::Error);
    CHECK(fs::is_empty(t.path + "/box"));
}

TEST_CASE("load: docker save and OCI layout archives; digests are checked") {
    TempDir t;
    Store store(t.path + "/root");
    // docker save
    std::string d = t.path + "/save";
    fs::create_directories(d + "/abc");
    write_tar(d + "/abc/layer.tar", {{"hello.txt", AE_IFREG, "from docker\n"}});
    std::ofstream(d + "/cfg.json") << R"({"architecture":"amd64","os":"linux","config":{"Cmd":["/bin/sh"],"Env":["A=1"],"WorkingDir":"/w","User":"app","ExposedPorts":{"80/tcp":{}},"StopSignal":"SIGQUIT","Healthcheck":{"Test":["CMD","true"],"Interval":5000000000,"Retries":3}},"rootfs":{"type":"layers","diff_ids":[]}})";
    std::ofstream(d + "/manifest.json") << R"([{"Config":"cfg.json","RepoTags":["saved:1"],"Layers":["abc/layer.tar"]}])";
    REQUIRE(system(("tar -C " + d + " -cf " + t.path + "/save.tar .").c_str()) == 0);
    auto names = store.load_archive(t.path + "/save.tar");
    CHECK(names == std::vector<std::string>{"docker.io/library/saved:1"});
    ResolvedImage img = store.resolve("saved:1");
    CHECK(slurp(img.layer_dirs[0] + "/hello.txt") == "from docker\n");
    CHECK(img.config.cmd == std::vector<std::string>{"/bin/sh"});
    CHECK_FALSE(img.config.entrypoint);
    CHECK(img.config.env == std::vector<std::string>{"A=1"});
    CHECK(img.config.working_dir == "/w");
    CHECK(img.config.user == "app");
    CHECK(img.config.stop_signal == "SIGQUIT");
    CHECK(img.config.exposed_ports == std::vector<std::string>{"80/tcp"});
    REQUIRE(img.config.healthcheck);
    CHECK(img.config.healthcheck->interval == 5000000000);
    CHECK(img.config.healthcheck->retries == 3);

    // OCI layout, two layers: the upper one deletes a file of the lower one.
    std::string o = t.path + "/oci";
    fs::create_directories(o + "/blobs/sha256");
    auto add_blob = [&](const std::string& file) {
        std::string dg = file_digest(file);
        fs::rename(file, o + "/blobs/sha256/" + dg.substr(7));
        return dg;
    };
    write_tar(t.path + "/l1.tar", {{"a", AE_IFREG, "1"}, {"b", AE_IFREG, "2"}});
    write_tar(t.path + "/l2.tar.gz", {{".wh.a", AE_IFREG}, {"c", AE_IFREG, "3"}}, true);
    std::string l1 = add_blob(t.path + "/l1.tar"), l2 = add_blob(t.path + "/l2.tar.gz");
    std::ofstream(t.path + "/config") << R"({"config":{"Entrypoint":["/c"]},"rootfs":{"type":"layers","diff_ids":[]}})";
    std::string cfg = add_blob(t.path + "/config");
    std::ofstream(t.path + "/manifest") << R"({"schemaVersion":2,"config":{"digest":")" << cfg
                                        << R"("},"layers":[{"digest":")" << l1 << R"("},{"digest":")" << l2 << R"("}]})";
    std::string man = add_blob(t.path + "/manifest");
    std::ofstream(o + "/index.json") << R"({"schemaVersion":2,"manifests":[{"digest":")" << man
                                     << R"(","annotations":{"org.opencontainers.image.ref.name":"localhost:5000/oci:2"}}]})";
    std::ofstream(o + "/oci-layout") << R"({"imageLayoutVersion":"1.0.0"})";
    REQUIRE(system(("tar -C " + o + " -czf " + t.path + "/oci.tar.gz .").c_str()) == 0);
    names = store.load_archive(t.path + "/oci.tar.gz");
    CHECK(names == std::vector<std::string>{"localhost:5000/oci:2"});
    img = store.resolve("localhost:5000/oci:2");
    REQUIRE(img.layer_dirs.size() == 2);
    CHECK(fs::exists(img.layer_dirs[0] + "/c"));  // top-most first
    CHECK(fs::exists(img.layer_dirs[1] + "/b"));
    CHECK(img.config.entrypoint == std::vector<std::string>{"/c"});

    // A blob altered after the manifest was written is refused.
    std::ofstream(o + "/blobs/sha256/" + l1.substr(7), std::ios::app) << "tampered";
    REQUIRE(system(("tar -C " + o + " -cf " + t.path + "/bad.tar .").c_str()) == 0);
    CHECK_THROWS_AS(store.load_archive(t.path + "/bad.tar"), berth::Error);
    CHECK(store.list().size() == 2);
}

namespace {

// Every path under dir with its bytes: a store that is "exactly as before".
std::map<std::string, std::string> tree_of(const std::string& dir) {
    std::map<std::string, std::string> out;
    for (auto& e : fs::recursive_directory_iterator(dir))
        out[e.path().string()] = e.is_regular_file() ? slurp(e.path().string()) : std::string("<dir>");
    return out;
}

}  // namespace

TEST_CASE("a refused import or load leaves the store exactly as before") {
    TempDir t;
    Store store(t.path + "/root");
    write_tar(t.path + "/good.tar", {{"a", AE_IFREG, "1"}});
    store.import_rootfs(t.path + "/good.tar", "kept:1");
    auto before = tree_of(t.path + "/root");

    // A tarball cut short: its blob was stored before extraction failed.
    write_tar(t.path + "/big.tar", {{"big", AE_IFREG, std::string(100000, 'x')}});
    std::string whole = slurp(t.path + "/big.tar");
    std::ofstream(t.path + "/cut.tar") << whole.substr(0, 50000);
    CHECK_THROWS_AS(store.import_rootfs(t.path + "/cut.tar", "cut:1"), berth::Error);
    CHECK(tree_of(t.path + "/root") == before);

    // docker save whose second layer is cut: the first layer (blob and directory) goes again.
    std::string d = t.path + "/save";
    fs::create_directories(d + "/l1");
    fs::create_directories(d + "/l2");
    write_tar(d + "/l1/layer.tar", {{"one", AE_IFREG, "1"}});
    std::ofstream(d + "/l2/layer.tar") << whole.substr(0, 50000);
    std::ofstream(d + "/cfg.json") << R"({"config":{}})";
    std::ofstream(d + "/manifest.json")
        << R"([{"Config":"cfg.json","RepoTags":["one:1"],"Layers":["l1/layer.tar"]},)"
        << R"({"Config":"cfg.json","RepoTags":["two:1"],"Layers":["l1/layer.tar","l2/layer.tar"]}])";
    REQUIRE(system(("tar -C " + d + " -cf " + t.path + "/save.tar .").c_str()) == 0);
    CHECK_THROWS_AS(store.load_archive(t.path + "/save.tar"), berth::Error);
    CHECK(tree_of(t.path + "/root") == before);  // and "one:1", staged first, is not in the index
    CHECK(store.list().size() == 1);
}

TEST_CASE("import and load refuse devices, FIFOs and directories at once") {
    TempDir t;
    Store store(t.path + "/root");
    auto before = tree_of(t.path + "/root");
    REQUIRE(mkfifo((t.path + "/fifo").c_str(), 0600) == 0);
    CHECK_THROWS_WITH_AS(store.import_rootfs("/dev/zero", "z:1"),
                         "cannot import /dev/zero: it is not a regular file (a device, FIFO or socket)", berth::Error);
    CHECK_THROWS_AS(store.import_rootfs(t.path + "/fifo", "z:1"), berth::Error);
    CHECK_THROWS_WITH_AS(store.load_archive(t.path), ("cannot load " + t.path + ": it is a directory").c_str(),
                         berth::Error);
    CHECK_THROWS_AS(store.load_archive("/dev/zero"), berth::Error);
    CHECK_THROWS_AS(store.load_archive("-"), berth::Error);
    CHECK(tree_of(t.path + "/root") == before);
}

TEST_CASE("save then load keeps the image id and manifest; prune removes what no name reaches") {
    TempDir t;
    Store store(t.path + "/root");
    write_tar(t.path + "/a.tar.gz", {{"a", AE_IFREG, "first\n"}}, true);
    write_tar(t.path + "/b.tar", {{"b", AE_IFREG, "second\n"}});
    ImageRecord first = store.import_rootfs(t.path + "/a.tar.gz", "app:1");
    store.save({"app:1"}, t.path + "/saved.tar");
    store.remove("app:1");
    PruneReport rep = store.prune(false, {});
    CHECK(rep.deleted == std::vector<std::string>{first.id});  // its manifest, config and layer blob
    CHECK(rep.reclaimed > 0);
    CHECK_FALSE(store.has_blob(first.id));
    CHECK(store.load_archive(t.path + "/saved.tar") == std::vector<std::string>{"docker.io/library/app:1"});
    CHECK(store.find("app:1")->id == first.id);
    CHECK(store.find("app:1")->manifest == first.manifest);

    // The name moves to another image: the first is dangling, the second stays whole.
    ImageRecord second = store.import_rootfs(t.path + "/b.tar", "app:1");
    store.tag("app:1", "other:2");
    rep = store.prune(false, {});
    CHECK(rep.deleted == std::vector<std::string>{first.id});
    CHECK(rep.untagged.empty());
    CHECK(store.resolve("app:1").record.id == second.id);
    CHECK(fs::exists(store.resolve("app:1").layer_dirs[0] + "/b"));
    // all: only the images in use stay.
    rep = store.prune(true, {normalize_name("other:2")});
    CHECK(rep.untagged == std::vector<std::string>{"app:1"});
    CHECK(rep.deleted.empty());  // the same image is still named other:2
    CHECK(store.list().size() == 1);
    CHECK(store.prune(true, {}).untagged == std::vector<std::string>{"other:2"});
    CHECK(store.list().empty());
    CHECK(fs::is_empty(t.path + "/root/layers"));
}

// An image whose config (or manifest) cannot be read: prune cannot tell its layers
// from the others, so it removes none and says which image it could not read.
TEST_CASE("prune keeps the layers of an image it cannot read, and names it") {
    TempDir t;
    Store store(t.path + "/root");
    write_tar(t.path + "/a.tar", {{"a", AE_IFREG, "first\n"}});
    write_tar(t.path + "/b.tar", {{"b", AE_IFREG, "second\n"}});
    ImageRecord gone = store.import_rootfs(t.path + "/a.tar", "gone:1");
    ImageRecord kept = store.import_rootfs(t.path + "/b.tar", "kept:1");
    std::string kept_layer = store.resolve("kept:1").layer_dirs.at(0);
    auto blob = [&](const std::string& digest) { return t.path + "/root/images/blobs/sha256/" + digest.substr(7); };
    store.remove("gone:1");

    SUBCASE("its config is not JSON") {
        std::ofstream(blob(kept.id), std::ios::trunc) << "{not json";
        PruneReport rep = store.prune(false, {});
        CHECK(fs::exists(kept_layer + "/b"));
        REQUIRE(rep.unreadable.size() == 1);
        CHECK(rep.unreadable[0].rfind("kept:1: ", 0) == 0);
        CHECK(rep.deleted == std::vector<std::string>{gone.id});  // blobs it can tell apart still go
        CHECK(fs::exists(blob(kept.manifest)));
    }
    SUBCASE("its config is gone") {
        fs::remove(blob(kept.id));
        CHECK(store.prune(false, {}).unreadable.size() == 1);
        CHECK(fs::exists(kept_layer + "/b"));
    }
    SUBCASE("image rm of another image keeps them too") {
        std::ofstream(blob(kept.id), std::ios::trunc) << "{not json";
        store.import_rootfs(t.path + "/a.tar", "other:1");
        std::string other_layer = store.resolve("other:1").layer_dirs.at(0);
        store.remove("other:1");
        CHECK(fs::exists(kept_layer + "/b"));
        CHECK(fs::exists(other_layer + "/a"));  // removed by the next prune once kept:1 is readable or gone
    }
    SUBCASE("its manifest is gone: no blob goes either") {
        fs::remove(blob(kept.manifest));
        PruneReport rep = store.prune(false, {});
        CHECK(rep.unreadable.size() == 1);
        CHECK(rep.deleted.empty());
        CHECK(fs::exists(blob(kept.id)));
        CHECK(fs::exists(blob(gone.id)));
        CHECK(fs::exists(kept_layer + "/b"));
    }
}

TEST_CASE("a container's kept image outlives the image's name") {
    TempDir t;
    Store store(t.path + "/root");
    write_tar(t.path + "/a.tar", {{"a", AE_IFREG, "first\n"}});
    store.import_rootfs(t.path + "/a.tar", "app:1");
    ResolvedImage img = store.resolve("app:1");
    fs::create_directories(t.path + "/bundle");
    CHECK_FALSE(kept_image(t.path + "/bundle"));  // a container made before images were kept
    keep_image(store, img, t.path + "/bundle");
    store.remove("app:1");
    store.prune(false, {});
    auto kept = kept_image(t.path + "/bundle");
    REQUIRE(kept);
    CHECK(kept->record.id == img.record.id);
    CHECK(kept->record.name == img.record.name);
    CHECK(kept->config.env == img.config.env);
    CHECK(kept->config.cmd == img.config.cmd);
    CHECK(kept->layer_dirs == img.layer_dirs);
    std::ofstream(t.path + "/bundle/image.json", std::ios::trunc) << R"({"name":"x"})";
    CHECK_THROWS_AS(kept_image(t.path + "/bundle"), berth::Error);
}

TEST_CASE("a container's image is written again only when it is missing or differs") {
    TempDir t;
    Store store(t.path + "/root");
    write_tar(t.path + "/a.tar", {{"a", AE_IFREG, "first\n"}});
    write_tar(t.path + "/b.tar", {{"b", AE_IFREG, "second\n"}});
    store.import_rootfs(t.path + "/a.tar", "app:1");
    store.import_rootfs(t.path + "/b.tar", "app:2");
    ResolvedImage one = store.resolve("app:1"), two = store.resolve("app:2");
    std::string dir = t.path + "/bundle", file = dir + "/image.json";
    fs::create_directories(dir);
    auto inode = [&] {  // a write replaces the file (a rename): a new inode
        struct stat st {};
        REQUIRE(::stat(file.c_str(), &st) == 0);
        return st.st_ino;
    };
    keep_image(store, one, dir);
    auto first = inode();
    keep_image(store, one, dir);  // the next start of the same container: nothing written
    CHECK(inode() == first);
    CHECK(kept_image(dir)->record.id == one.record.id);
    keep_image(store, two, dir);  // recreated from another image: written
    CHECK(inode() != first);
    CHECK(kept_image(dir)->record.id == two.record.id);
    CHECK(kept_image(dir)->layer_dirs == two.layer_dirs);
    auto second = inode();
    std::ofstream(file, std::ios::trunc) << "{";  // torn by a crash: written again
    keep_image(store, two, dir);
    CHECK(inode() != second);
    CHECK(kept_image(dir)->record.id == two.record.id);
    fs::remove(file);  // missing: written
    keep_image(store, two, dir);
    CHECK(kept_image(dir)->record.id == two.record.id);
    for (const auto& e : fs::directory_iterator(dir)) CHECK(e.path().filename() == "image.json");  // no temporary left
}

namespace {

// Writes `src` to an ingest-like file chunk by chunk from another thread, telling `s` as it
// grows (what Client::download does); returns the thread.
std::thread feed(LayerStream& s, const std::string& src, const std::string& dest, bool restart_midway = false) {
    return std::thread([&s, src, dest, restart_midway]() mutable {
        std::string bytes = slurp(src);
        int fd = ::open(dest.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        s.opened(fd, 0);
        size_t at = 0;
        while (at < bytes.size()) {
            size_t n = std::min<size_t>(4096, bytes.size() - at);
            CHECK(::write(fd, bytes.data() + at, n) == static_cast<ssize_t>(n));
            at += n;
            s.grew(static_cast<int64_t>(at));
            if (restart_midway && at >= bytes.size() / 2) {
                s.restarted();
                restart_midway = false;
            }
        }
        ::close(fd);
    });
}

std::string diff_id_of(const std::string& tar) { return "sha256:" + berth::sha256_hex(slurp(tar)); }

}  // namespace

TEST_CASE("a layer streamed while its blob downloads is extracted and checked, and put in place only at finish") {
    TempDir t;
    std::string big(300000, 'x');
    write_tar(t.path + "/l.tar", {{"dir", AE_IFDIR}, {"dir/big", AE_IFREG, big}, {"link", AE_IFLNK, "", "dir/big"}});
    write_tar(t.path + "/l.tar.gz", {{"dir", AE_IFDIR}, {"dir/big", AE_IFREG, big}, {"link", AE_IFLNK, "", "dir/big"}}, true);
    Store store(t.path + "/root");
    std::string id = diff_id_of(t.path + "/l.tar");
    {
        LayerStream s(store, id, "layer test");
        feed(s, t.path + "/l.tar.gz", t.path + "/ingest").join();
        CHECK_FALSE(fs::exists(store.layer_dir(id)));  // nothing in place before finish()
        CHECK(s.finish());
    }
    CHECK(slurp(store.layer_dir(id) + "/dir/big") == big);
    CHECK(fs::read_symlink(store.layer_dir(id) + "/link") == "dir/big");
    LayerStream again(store, id, "layer test");  // already extracted: nothing streamed
    feed(again, t.path + "/l.tar.gz", t.path + "/ingest2").join();
    CHECK_FALSE(again.finish());
}

TEST_CASE("a streamed layer whose diff_id is wrong is refused, and one whose download restarts is dropped") {
    TempDir t;
    write_tar(t.path + "/l.tar.gz", {{"f", AE_IFREG, std::string(200000, 'y')}}, true);
    Store store(t.path + "/root");
    std::string wrong = "sha256:" + std::string(64, 'a');
    {
        LayerStream s(store, wrong, "layer test");
        feed(s, t.path + "/l.tar.gz", t.path + "/ingest").join();
        CHECK_THROWS_AS(s.finish(), berth::Error);
    }
    std::string id = "sha256:" + std::string(64, 'b');
    {
        LayerStream s(store, id, "layer test");
        feed(s, t.path + "/l.tar.gz", t.path + "/ingest", true).join();
        CHECK_FALSE(s.finish());  // the caller extracts the stored blob instead
    }
    {
        LayerStream s(store, id, "layer test");  // dropped by its destructor: a failed download
        feed(s, t.path + "/l.tar.gz", t.path + "/ingest").join();
    }
    size_t left = 0;
    for (const auto& e : fs::directory_iterator(t.path + "/root/layers")) left += e.path().filename().string().size() > 0;
    CHECK(left == 0);  // no layer and no temporary directory left
}

TEST_CASE("taking a layer's lock removes the temporary directories a killed extraction of it left") {
    TempDir t;
    Store store(t.path + "/root");
    std::string id = "sha256:" + std::string(64, 'd');
    std::string layers = fs::path(store.layer_dir(id)).parent_path().string();
    fs::create_directories(layers + "/" + std::string(64, 'd') + ".tmp-0badf00d/etc");
    fs::create_directories(layers + "/" + std::string(64, 'e') + ".tmp-0badf00d");
    {
        berth::UniqueFd lock(store.lock_layer(id, false));
        REQUIRE(lock);
        CHECK_FALSE(fs::exists(layers + "/" + std::string(64, 'd') + ".tmp-0badf00d"));
        CHECK(fs::exists(layers + "/" + std::string(64, 'e') + ".tmp-0badf00d"));  // another layer's: not this lock's
        CHECK(store.lock_layer(id, false) < 0);  // held: a second taker gets nothing, and removes nothing
    }
}
