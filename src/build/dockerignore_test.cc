#include "base/error.h"
#include "build/dockerignore.h"

#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>
#include <unistd.h>

namespace fs = std::filesystem;
using namespace berth::build;

namespace {

struct Case {
    const char* pattern;
    const char* text;
    bool pass;
};

// docker's patternmatcher TestMatches table (Linux rows), checked with
// parent-directory matching as the builder uses it.
const Case kCases[] = {
    {"**", "file", true},          {"**", "file/", true},          {"**/", "file", true},
    {"**/", "file/", true},        {"**", "/", true},              {"**/", "/", true},
    {"**", "dir/file", true},      {"**/", "dir/file", true},      {"**", "dir/file/", true},
    {"**/", "dir/file/", true},    {"**/**", "dir/file", true},    {"**/**", "dir/file/", true},
    {"dir/**", "dir/file", true},  {"dir/**", "dir/file/", true},  {"dir/**", "dir/dir2/file", true},
    {"dir/**", "dir/dir2/file/", true}, {"**/dir", "dir", true},   {"**/dir", "dir/file", true},
    {"**/dir2/*", "dir/dir2/file", true}, {"**/dir2/*", "dir/dir2/file/", true},
    {"**/dir2/**", "dir/dir2/dir3/file", true}, {"**/dir2/**", "dir/dir2/dir3/file/", true},
    {"**file", "file", true},      {"**file", "dir/file", true},   {"**/file", "dir/file", true},
    {"**file", "dir/dir/file", true}, {"**/file", "dir/dir/file", true}, {"**/file*", "dir/dir/file", true},
    {"**/file*", "dir/dir/file.txt", true}, {"**/file*txt", "dir/dir/file.txt", true},
    {"**/file*.txt", "dir/dir/file.txt", true}, {"**/file*.txt*", "dir/dir/file.txt", true},
    {"**/**/*.txt", "dir/dir/file.txt", true}, {"**/**/*.txt2", "dir/dir/file.txt", false},
    {"**/*.txt", "file.txt", true}, {"**/**/*.txt", "file.txt", true}, {"a**/*.txt", "a/file.txt", true},
    {"a**/*.txt", "a/dir/file.txt", true}, {"a**/*.txt", "a/dir/dir/file.txt", true},
    {"a/*.txt", "a/dir/file.txt", false}, {"a/*.txt", "a/file.txt", true}, {"a/*.txt**", "a/file.txt", true},
    {"a[b-d]e", "ae", false},      {"a[b-d]e", "ace", true},       {"a[b-d]e", "aae", false},
    {"a[^b-d]e", "aze", true},     {".*", ".foo", true},           {".*", "foo", false},
    {"abc.def", "abcdef", false},  {"abc.def", "abc.def", true},   {"abc.def", "abcZdef", false},
    {"abc?def", "abcZdef", true},  {"abc?def", "abcdef", false},   {"a\\\\", "a\\", true},
    {"**/foo/bar", "foo/bar", true}, {"**/foo/bar", "dir/foo/bar", true}, {"**/foo/bar", "dir/dir2/foo/bar", true},
    {"abc/**", "abc", false},      {"abc/**", "abc/def", true},    {"abc/**", "abc/def/ghi", true},
    {"**/.foo", ".foo", true},     {"**/.foo", "bar.foo", false},  {"a(b)c/def", "a(b)c/def", true},
    {"a(b)c/def", "a(b)c/xyz", false}, {"a.|)$(}+{bc", "a.|)$(}+{bc", true},
    {"dist/proxy.py-2.4.0rc3.dev36+g08acad9-py3-none-any.whl",
     "dist/proxy.py-2.4.0rc3.dev36+g08acad9-py3-none-any.whl", true},
    {"dist/*.whl", "dist/proxy.py-2.4.0rc3.dev36+g08acad9-py3-none-any.whl", true},
    {"a\\*b", "a*b", true},
    // Go's filepath.Match table (as patternmatcher_test runs it).
    {"abc", "abc", true},          {"*", "abc", true},             {"*c", "abc", true},
    {"a*", "a", true},             {"a*", "abc", true},            {"a*", "ab/c", true},
    {"a*/b", "abc/b", true},       {"a*/b", "a/c/b", false},       {"a*b*c*d*e*/f", "axbxcxdxe/f", true},
    {"a*b*c*d*e*/f", "axbxcxdxexxx/f", true}, {"a*b*c*d*e*/f", "axbxcxdxe/xxx/f", false},
    {"a*b*c*d*e*/f", "axbxcxdxexxx/fff", false}, {"a*b?c*x", "abxbbxdbxebxczzx", true},
    {"a*b?c*x", "abxbbxdbxebxczzy", false}, {"ab[c]", "abc", true}, {"ab[b-d]", "abc", true},
    {"ab[e-g]", "abc", false},     {"ab[^c]", "abc", false},       {"ab[^b-d]", "abc", false},
    {"ab[^e-g]", "abc", true},     {"a\\*b", "ab", false},         {"a?b", "a☺b", true},
    {"a[^a]b", "a☺b", true},      {"*x", "xxx", true},
};

}  // namespace

TEST_CASE("docker's pattern table") {
    for (const auto& c : kCases) {
        CAPTURE(c.pattern);
        CAPTURE(c.text);
        IgnoreMatcher m(std::vector<std::string>{c.pattern});
        CHECK(m.excluded(c.text) == c.pass);
    }
}

TEST_CASE("exceptions: the last matching line wins") {
    auto ex = [](std::vector<std::string> pats, const char* path) { return IgnoreMatcher(pats).excluded(path); };
    CHECK(ex({"*"}, "fileutils.go"));
    CHECK(ex({"*.go"}, "fileutils.go"));
    CHECK(ex({"!fileutils.go", "*.go"}, "fileutils.go"));
    CHECK_FALSE(ex({"*.go", "!fileutils.go"}, "fileutils.go"));
    CHECK_FALSE(ex({"docs", "!docs/README.md"}, "docs/README.md"));
    CHECK_FALSE(ex({"docs/", "!docs/README.md"}, "docs/README.md"));
    CHECK_FALSE(ex({"docs/*", "!docs/README.md"}, "docs/README.md"));
    CHECK(ex({"docs", "!docs/README.md"}, "docs/other.md"));
    CHECK_FALSE(ex({"*.go"}, "."));
    CHECK_FALSE(ex({}, "any/path"));
    CHECK_FALSE(ex({"**", "!util/docker/web"}, "util/docker/web/foo"));
    CHECK(ex({"**", "!util/docker/web", "util/docker/web/foo"}, "util/docker/web/foo"));
    CHECK_FALSE(ex({"**", "!dist/*.whl"}, "dist/proxy.py-2.4.0rc3.dev36+g08acad9-py3-none-any.whl"));
    CHECK_THROWS_AS(IgnoreMatcher(std::vector<std::string>{"!"}), berth::Error);
    CHECK_THROWS_AS(IgnoreMatcher(std::vector<std::string>{"["}), berth::Error);
    CHECK_THROWS_AS(IgnoreMatcher(std::vector<std::string>{"a\\"}), berth::Error);
}

TEST_CASE("reading a .dockerignore: comments, blanks, BOM, cleaning") {
    auto lines = read_ignore_lines("\xEF\xBB\xBF# comment\n\n  /abs/path  \n./rel//x/../y\n! /neg\n  # not a comment\n!**/keep\n");
    CHECK(lines == std::vector<std::string>{"abs/path", "rel/y", "!neg", "# not a comment", "!**/keep"});
    auto m = IgnoreMatcher::from_text("/node_modules\n*.log\n!important.log\n");
    CHECK(m.excluded("node_modules/x/y.js"));
    CHECK(m.excluded("debug.log"));
    CHECK_FALSE(m.excluded("important.log"));
    CHECK_FALSE(m.excluded("sub/debug.log"));  // '*' does not cross '/'
}

TEST_CASE("walking a context: excluded dirs skipped unless an exception reaches inside, symlinks not followed") {
    char tmpl[] = "/tmp/berth-ctx-XXXXXX";
    REQUIRE(::mkdtemp(tmpl) != nullptr);
    fs::path root = tmpl;
    auto touch = [&](const std::string& rel) {
        fs::create_directories((root / rel).parent_path());
        std::ofstream(root / rel) << rel;
    };
    for (const char* f : {"Dockerfile", "app/main.go", "app/main_test.go", "vendor/a/a.go", "vendor/keep/k.go",
                          "node_modules/x/index.js", "docs/README.md", "docs/guide.md", "tmp/deep/x.tmp"})
        touch(f);
    fs::create_symlink("/etc", root / "etc-link");
    fs::create_directories(root / "empty");
    std::ofstream(root / ".dockerignore") << "node_modules\n**/*_test.go\nvendor\n!vendor/keep\ndocs\n!docs/README.md\n"
                                             "tmp/**/*.tmp\n.dockerignore\n";
    IgnoreMatcher m = load_ignore(root.string(), (root / "Dockerfile").string());
    std::vector<std::string> seen;
    walk_context(root.string(), m, [&](const std::string& rel, const struct stat&) { seen.push_back(rel); });
    CHECK(seen == std::vector<std::string>{"Dockerfile", "app", "app/main.go", "docs", "docs/README.md", "empty",
                                           "etc-link", "tmp", "tmp/deep", "vendor", "vendor/keep", "vendor/keep/k.go"});
    CHECK(m.may_include_under("vendor"));
    CHECK(m.excluded("vendor"));
    CHECK(m.excluded("vendor/a/a.go"));
    CHECK_FALSE(m.excluded("vendor/keep/k.go"));
    CHECK_FALSE(m.may_include_under("node_modules"));

    // Dockerfile.dockerignore beside the Dockerfile wins over the context's.
    std::ofstream(root / "Dockerfile.dockerignore") << "app\n";
    CHECK(ignore_file_for(root.string(), (root / "Dockerfile").string()) == (root / "Dockerfile.dockerignore").string());
    IgnoreMatcher m2 = load_ignore(root.string(), (root / "Dockerfile").string());
    CHECK(m2.excluded("app/main.go"));
    CHECK_FALSE(m2.excluded("node_modules/x/index.js"));
    fs::remove_all(root);
}
