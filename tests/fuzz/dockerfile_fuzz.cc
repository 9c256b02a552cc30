// libFuzzer target: any bytes as a Dockerfile (and as a .dockerignore) must
// give a result or a berth::Error, never a crash, a hang or another exception.
#include "base/error.h"
#include "build/dockerignore.h"
#include "build/expand.h"
#include "build/parser.h"
#include "build/stages.h"

#include <cstdint>
#include <string>

using namespace berth::build;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    std::string text(reinterpret_cast<const char*>(data), size);
    try {
        Dockerfile df = parse_dockerfile(text, "fuzz/Dockerfile");
        BuildOptions opt;
        opt.build_args = {{"VERSION", "1"}, {"EMPTY", ""}, {"HTTP_PROXY", "http://p"}};
        opt.builtin_args = {{"TARGETARCH", "amd64"}, {"BUILDPLATFORM", "linux/amd64"}};
        (void)plan_build(df, opt);
        // Every named stage as the target too.
        for (const auto& in : df.instructions)
            if (in.kind == Kind::From && !in.as<FromData>().stage_name.empty()) {
                opt.target = in.as<FromData>().stage_name;
                (void)plan_build(df, opt);
            }
    } catch (const berth::Error&) {
    }
    try {
        IgnoreMatcher m = IgnoreMatcher::from_text(text);
        for (const char* p : {"a", "a/b", "dir/file.txt", "x/y/z/w", ".dockerignore", "node_modules/x"}) {
            (void)m.excluded(p);
            (void)m.may_include_under(p);
        }
    } catch (const berth::Error&) {
    }
    return 0;
}
