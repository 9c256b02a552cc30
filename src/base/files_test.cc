#include "base/error.h"
#include "base/files.h"

#include <doctest/doctest.h>
#include <unistd.h>

#include <cerrno>
#include <fstream>

using namespace berth;

TEST_CASE("files:: raise berth::Error with errno and the path, not filesystem_error") {
    std::string root = std::filesystem::temp_directory_path() / ("berth-files-" + std::to_string(getpid()));
    files::create_directories(root + "/a/b");
    CHECK(files::is_directory(root + "/a/b"));
    CHECK(files::is_empty(root + "/a/b"));
    std::ofstream(root + "/a/f") << "12345";
    CHECK(files::is_regular_file(root + "/a/f"));
    CHECK(files::file_size(root + "/a/f") == 5);
    CHECK_FALSE(files::exists(root + "/nope"));
    CHECK_FALSE(files::is_directory(root + "/nope"));
    CHECK_FALSE(files::is_regular_file(root + "/nope"));
    files::rename(root + "/a/f", root + "/a/g");
    CHECK(files::exists(root + "/a/g"));
    files::copy_file(root + "/a/g", root + "/a/h");
    CHECK(files::file_size(root + "/a/h") == 5);
    CHECK_FALSE(files::remove(root + "/a/nope"));
    try {
        files::create_directories(root + "/a/g/sub");  // g is a file
        FAIL("no error");
    } catch (const Error& e) {
        CHECK(e.code() == ENOTDIR);
        CHECK(std::string(e.what()).find("create directory " + root + "/a/g/sub: ") == 0);
    }
    try {
        files::file_size(root + "/nope");
        FAIL("no error");
    } catch (const Error& e) {
        CHECK(e.code() == ENOENT);
        CHECK(std::string(e.what()) == "size of " + root + "/nope: No such file or directory");
    }
    CHECK_THROWS_AS(files::rename(root + "/nope", root + "/x"), Error);
    CHECK(files::remove_all(root) >= 4);
    CHECK_FALSE(files::exists(root));
}
