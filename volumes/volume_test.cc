#include "volumes/volume.h"

#include "base/error.h"

#include <doctest/doctest.h>

#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

namespace fs = std::filesystem;
using namespace berth::volumes;

namespace {
struct TempRoot {
    std::string path = (fs::temp_directory_path() / ("berth-vol-test-" + std::to_string(::getpid()))).string();
    TempRoot() { fs::create_directories(path); }
    ~TempRoot() { fs::remove_all(path); }
};
void write(const std::string& p, const std::string& text) { std::ofstream(p) << text; }
std::string read(const std::string& p) {
    std::ifstream f(p);
    return std::string(std::istreambuf_iterator<char>(f), {});
}
}  // namespace

TEST_CASE("volumes: created once, labelled, listed, data kept, removed") {
    TempRoot t;
    Store s(t.path);
    auto v = s.ensure({"app_data", "local", {}, {{"tier", "db"}}, "app"});
    CHECK(v.mountpoint == t.path + "/volumes/app_data/_data");
    CHECK(v.labels.at("com.docker.compose.project") == "app");
    CHECK(v.labels.at("tier") == "db");
    write(v.mountpoint + "/keep", "precious");
    auto again = s.ensure({"app_data", "local", {}, {}, "app"});  // a second up: same volume, same data
    CHECK(read(again.mountpoint + "/keep") == "precious");
    CHECK(again.labels.at("tier") == "db");
    s.ensure({"other", "local", {}, {}, ""});
    auto all = s.list();
    REQUIRE(all.size() == 2);
    CHECK(all[0].name == "app_data");
    CHECK(all[1].name == "other");
    CHECK(s.remove("app_data"));
    CHECK_FALSE(s.get("app_data"));
    CHECK_FALSE(s.remove("app_data"));
    CHECK(s.list().size() == 1);
}

TEST_CASE("volumes: a half-made volume is never listed, bad names are refused") {
    TempRoot t;
    Store s(t.path);
    fs::create_directories(t.path + "/volumes/.tmp-app_x-123/_data");  // a crash during creation
    fs::create_directories(t.path + "/volumes/nodata");                // no _data: not a volume
    CHECK(s.list().empty());
    CHECK_THROWS_WITH(s.ensure({"../etc", "local", {}, {}, ""}), doctest::Contains("invalid volume name"));
    CHECK_THROWS_WITH(s.ensure({"", "local", {}, {}, ""}), doctest::Contains("invalid volume name"));
    // A volume made by an older berth (no volume.json) keeps its data and is never copied over.
    fs::create_directories(t.path + "/volumes/legacy/_data");
    write(t.path + "/volumes/legacy/_data/f", "old");
    auto v = s.get("legacy");
    REQUIRE(v);
    CHECK(v->initialized);
    CHECK_THROWS_WITH(s.external("missing"), doctest::Contains("external volume missing does not exist"));
    CHECK(s.external("legacy").name == "legacy");
}

TEST_CASE("volumes: copy-up takes the image's content with owners and modes, once") {
    TempRoot t;
    Store s(t.path);
    std::string img = t.path + "/img/data";
    fs::create_directories(img + "/sub");
    write(img + "/a.txt", "from image");
    ::chmod((img + "/a.txt").c_str(), 0640);
    fs::create_symlink("a.txt", img + "/link");
    if (geteuid() == 0) REQUIRE(::chown((img + "/sub").c_str(), 1234, 5678) == 0);
    auto v = s.ensure({"p_v", "local", {}, {}, "p"});
    s.copy_up(v, img);
    CHECK(v.initialized);
    CHECK(s.get("p_v")->initialized);  // recorded for the next start
    CHECK(read(v.mountpoint + "/a.txt") == "from image");
    struct stat st;
    REQUIRE(::stat((v.mountpoint + "/a.txt").c_str(), &st) == 0);
    CHECK((st.st_mode & 07777) == 0640);
    CHECK(fs::read_symlink(v.mountpoint + "/link") == "a.txt");
    if (geteuid() == 0) {
        REQUIRE(::stat((v.mountpoint + "/sub").c_str(), &st) == 0);
        CHECK(st.st_uid == 1234);
        CHECK(st.st_gid == 5678);
    }
    // Once initialized, the image never overwrites the volume's data again.
    write(v.mountpoint + "/a.txt", "changed");
    auto again = *s.get("p_v");
    s.copy_up(again, img);
    CHECK(read(v.mountpoint + "/a.txt") == "changed");
}

TEST_CASE("volumes: driver_opts as Docker's local driver takes them") {
    VolumeInfo v;
    v.name = "x";
    v.mountpoint = "/vol/_data";
    CHECK(mount_plan(v).kind == MountPlan::Kind::Directory);
    v.driver_opts = {{"type", "tmpfs"}, {"o", "size=64m,mode=1777"}};
    auto p = mount_plan(v);
    CHECK(p.kind == MountPlan::Kind::Tmpfs);
    CHECK(p.size == 64 * 1024 * 1024);
    CHECK(p.mode == 01777);
    v.driver_opts = {{"type", "none"}, {"o", "bind"}, {"device", "/"}};
    p = mount_plan(v);
    CHECK(p.kind == MountPlan::Kind::Bind);
    CHECK(p.source == "/");
    v.driver_opts = {{"type", "none"}, {"o", "bind"}, {"device", "/no/such/dir"}};
    CHECK_THROWS_WITH(mount_plan(v), doctest::Contains("does not exist"));
    v.driver_opts = {{"type", "nfs"}, {"o", "addr=10.0.0.1,ro,nosuid"}, {"device", ":/export"}};
    p = mount_plan(v);
    CHECK(p.kind == MountPlan::Kind::Device);
    CHECK(p.fstype == "nfs");
    CHECK(p.device == ":/export");
    CHECK(p.data == "addr=10.0.0.1");
    CHECK(p.flags == (MS_RDONLY | MS_NOSUID));
    v.driver_opts = {{"type", "ext4"}};
    CHECK_THROWS_WITH(mount_plan(v), doctest::Contains("needs `device:`"));
    v.driver_opts = {{"type", "tmpfs"}, {"o", "size=lots"}};
    CHECK_THROWS_WITH(mount_plan(v), doctest::Contains("invalid size"));
}
