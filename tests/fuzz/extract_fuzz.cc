// libFuzzer target: layer extraction. Any bytes as a layer (tar, maybe
// compressed) are extracted or refused with a berth::Error, never a crash, and
// nothing is written outside the destination: a sandbox holds the layer file,
// the destination and a sibling directory with a canary file; after each run
// the sandbox holds exactly what it held before (plus the layer on success),
// the canary is unchanged and has no new hard link, and the working directory
// is where it was.
#include "base/error.h"
#include "images/extract.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <set>
#include <string>

namespace fs = std::filesystem;

namespace {

std::string sandbox;

std::set<std::string> listing(const std::string& dir) {
    std::set<std::string> names;
    std::error_code ec;
    for (const auto& e : fs::directory_iterator(dir, ec)) names.insert(e.path().filename().string());
    return names;
}

void fail(const char* what) {
    std::fprintf(stderr, "extract_fuzz: %s\n", what);
    std::abort();
}

void setup() {
    char t[] = "/tmp/berth-extract-fuzz-XXXXXX";
    if (!::mkdtemp(t)) fail("mkdtemp");
    sandbox = t;
    fs::create_directories(sandbox + "/box");
    fs::create_directories(sandbox + "/outside");
    std::ofstream(sandbox + "/outside/canary") << "canary";
    ::chmod((sandbox + "/outside/canary").c_str(), 0644);
    std::atexit([] {
        std::error_code ec;
        fs::remove_all(sandbox, ec);
    });
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    if (sandbox.empty()) setup();
    std::string box = sandbox + "/box", archive = box + "/layer.tar", dest = box + "/layer";
    {
        std::ofstream out(archive, std::ios::binary | std::ios::trunc);
        out.write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(size));
    }
    char cwd_before[4096];
    if (!::getcwd(cwd_before, sizeof cwd_before)) fail("getcwd");
    bool ok = true;
    try {
        berth::images::extract_layer(archive, dest);
    } catch (const berth::Error&) {
        ok = false;
    }
    char cwd_after[4096];
    if (!::getcwd(cwd_after, sizeof cwd_after) || std::string(cwd_before) != cwd_after) fail("working directory changed");
    if (listing(sandbox) != std::set<std::string>{"box", "outside"}) fail("something written beside the sandbox's box");
    if (listing(sandbox + "/outside") != std::set<std::string>{"canary"}) fail("something written into outside/");
    std::set<std::string> want{"layer.tar"};
    if (ok) want.insert("layer");
    if (listing(box) != want) fail(ok ? "the box holds more than the layer" : "a failed extraction left something");
    struct stat st;
    if (::lstat((sandbox + "/outside/canary").c_str(), &st) < 0 || !S_ISREG(st.st_mode) || st.st_nlink != 1 ||
        (st.st_mode & 07777) != 0644 || st.st_size != 6 || st.st_uid != ::geteuid())
        fail("the canary outside was changed or hard-linked");
    std::ifstream in(sandbox + "/outside/canary");
    std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    if (text != "canary") fail("the canary's content changed");
    std::error_code ec;
    fs::remove_all(dest, ec);
    if (ec) {  // a directory extracted without write permission for its owner, say
        std::system(("chmod -R u+rwx '" + dest + "' 2>/dev/null").c_str());
        fs::remove_all(dest, ec);
        if (ec) fail("cannot remove the extracted layer");
    }
    return 0;
}
