#include "base/error.h"
#include "images/extract.h"
#include "images/layer_writer.h"

#include <archive.h>
#include <archive_entry.h>
#include <doctest/doctest.h>

#include <algorithm>
#include <fcntl.h>
#include <filesystem>
#include <fstream>
#include <map>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>
#include <vector>

namespace fs = std::filesystem;
using namespace berth::images;

namespace {

struct TmpDir {
    std::string path;
    TmpDir() {
        char t[] = "/tmp/berth-layer-XXXXXX";
        REQUIRE(::mkdtemp(t) != nullptr);
        path = t;
    }
    ~TmpDir() {
        std::error_code ec;
        fs::remove_all(path, ec);
    }
};

void write_file(const std::string& p, const std::string& data, mode_t mode, uid_t uid = 0, gid_t gid = 0) {
    fs::create_directories(fs::path(p).parent_path());
    std::ofstream(p, std::ios::binary) << data;
    REQUIRE(::chmod(p.c_str(), mode) == 0);
    REQUIRE(::lchown(p.c_str(), uid, gid) == 0);
}

// What a tree holds, one line per path: type, mode, owner, size/target/content, xattrs.
std::map<std::string, std::string> describe(const std::string& root) {
    std::map<std::string, std::string> out;
    for (auto it = fs::recursive_directory_iterator(root); it != fs::recursive_directory_iterator(); ++it) {
        std::string p = it->path().string();
        struct stat st {};
        REQUIRE(::lstat(p.c_str(), &st) == 0);
        std::string d = std::to_string(st.st_mode) + " " + std::to_string(st.st_uid) + ":" + std::to_string(st.st_gid);
        if (S_ISREG(st.st_mode)) {
            std::ifstream in(p, std::ios::binary);
            d += " [" + std::string(std::istreambuf_iterator<char>(in), {}) + "] links=" + std::to_string(st.st_nlink);
        } else if (S_ISLNK(st.st_mode)) {
            d += " -> " + fs::read_symlink(p).string();
        } else if (S_ISCHR(st.st_mode) || S_ISBLK(st.st_mode)) {
            d += " dev " + std::to_string(major(st.st_rdev)) + "," + std::to_string(minor(st.st_rdev));
        }
        char names[1024];
        ssize_t n = ::llistxattr(p.c_str(), names, sizeof names);
        for (ssize_t i = 0; i < n;) {
            std::string name(names + i);
            i += static_cast<ssize_t>(name.size()) + 1;
            char v[256];
            ssize_t vn = ::lgetxattr(p.c_str(), name.c_str(), v, sizeof v);
            d += " " + name + "=" + std::string(v, vn > 0 ? static_cast<size_t>(vn) : 0);
        }
        out[p.substr(root.size())] = d;
    }
    return out;
}

std::vector<std::string> tar_names(const std::string& path) {
    archive* a = archive_read_new();
    archive_read_support_filter_all(a);
    archive_read_support_format_tar(a);
    REQUIRE(archive_read_open_filename(a, path.c_str(), 1 << 16) == ARCHIVE_OK);
    std::vector<std::string> names;
    archive_entry* e;
    while (archive_read_next_header(a, &e) == ARCHIVE_OK) names.push_back(archive_entry_pathname(e));
    archive_read_free(a);
    return names;
}

}  // namespace

TEST_CASE("an upper dir round-trips through write_layer and extract_layer") {
    TmpDir t;
    std::string up = t.path + "/upper";
    write_file(up + "/etc/app.conf", "key=value\n", 0640, 1000, 1001);
    write_file(up + "/bin/tool", "#!/bin/sh\necho hi\n", 04755);
    write_file(up + "/usr/lib/empty", "", 0600, 7, 8);
    REQUIRE(::link((up + "/bin/tool").c_str(), (up + "/bin/tool-alias").c_str()) == 0);
    REQUIRE(::symlink("../etc/app.conf", (up + "/bin/conf").c_str()) == 0);
    REQUIRE(::lchown((up + "/bin/conf").c_str(), 5, 6) == 0);
    REQUIRE(::setxattr((up + "/bin/tool").c_str(), "user.note", "kept", 4, 0) == 0);
    REQUIRE(::mknod((up + "/etc/deleted").c_str(), S_IFCHR | 0, makedev(0, 0)) == 0);  // a whiteout
    fs::create_directories(up + "/var/cache");
    REQUIRE(::setxattr((up + "/var/cache").c_str(), "trusted.overlay.opaque", "y", 1, 0) == 0);
    write_file(up + "/var/cache/new", "fresh", 0644);
    REQUIRE(::mkfifo((up + "/var/fifo").c_str(), 0620) == 0);
    REQUIRE(::mknod((up + "/dev-null").c_str(), S_IFCHR | 0666, makedev(1, 3)) == 0);
    REQUIRE(::chmod((up + "/usr").c_str(), 0750) == 0);

    LayerInfo info = write_layer(up, t.path + "/layer.tar.gz");
    CHECK(info.digest == file_digest(t.path + "/layer.tar.gz"));
    CHECK(info.diff_id == uncompressed_digest(t.path + "/layer.tar.gz"));
    CHECK(info.digest != info.diff_id);
    CHECK(info.size == static_cast<int64_t>(fs::file_size(t.path + "/layer.tar.gz")));

    auto names = tar_names(t.path + "/layer.tar.gz");
    CHECK(std::find(names.begin(), names.end(), "etc/.wh.deleted") != names.end());
    CHECK(std::find(names.begin(), names.end(), "var/cache/.wh..wh..opq") != names.end());
    auto at = [&](const std::string& n) { return std::find(names.begin(), names.end(), n) - names.begin(); };
    // Parents first, the opaque marker right after its directory.
    CHECK(at("var/") < at("var/cache/"));
    CHECK(at("var/cache/") + 1 == at("var/cache/.wh..wh..opq"));
    CHECK(at("var/cache/.wh..wh..opq") < at("var/cache/new"));

    extract_layer(t.path + "/layer.tar.gz", t.path + "/out");
    auto want = describe(up);
    auto got = describe(t.path + "/out");
    CHECK(got == want);
    struct stat a {}, b {};
    REQUIRE(::stat((t.path + "/out/bin/tool").c_str(), &a) == 0);
    REQUIRE(::stat((t.path + "/out/bin/tool-alias").c_str(), &b) == 0);
    CHECK(a.st_ino == b.st_ino);  // still one file
    CHECK(want.at("/var/cache").find("trusted.overlay.opaque=y") != std::string::npos);
    CHECK(want.at("/etc/deleted").find(" dev 0,0") != std::string::npos);
}

TEST_CASE("layers are deterministic with zero mtimes; a plain tar's digest is its diff_id") {
    TmpDir t;
    std::string up = t.path + "/upper";
    write_file(up + "/a/b/c.txt", "c", 0644);
    write_file(up + "/z", "z", 0600);
    LayerOptions o;
    o.zero_mtimes = true;
    LayerInfo one = write_layer(up, t.path + "/1.tgz", o);
    REQUIRE(::utimensat(AT_FDCWD, (up + "/z").c_str(), nullptr, 0) == 0);  // touch: mtimes are ignored
    ::sleep(1);
    write_file(up + "/a/b/c.txt", "c", 0644);
    LayerInfo two = write_layer(up, t.path + "/2.tgz", o);
    CHECK(one.digest == two.digest);
    CHECK(one.diff_id == two.diff_id);

    o.gzip = false;
    LayerInfo plain = write_layer(up, t.path + "/3.tar", o);
    CHECK(plain.digest == plain.diff_id);
    CHECK(plain.diff_id == one.diff_id);
    CHECK(plain.digest == file_digest(t.path + "/3.tar"));

    write_file(up + "/z", "changed", 0600);
    CHECK(write_layer(up, t.path + "/4.tgz", o).diff_id != one.diff_id);
    CHECK_THROWS_AS(write_layer(t.path + "/missing", t.path + "/5.tgz"), berth::Error);
    CHECK_FALSE(fs::exists(t.path + "/5.tgz.tar.tmp"));
}
