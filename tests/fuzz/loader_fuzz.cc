// libFuzzer target: any bytes as a compose file must give a project or a
// berth::Error, never a crash, a hang or an uncaught exception of another kind.
#include "base/error.h"
#include "compose/interpolate.h"
#include "compose/merge.h"
#include "compose/normalize.h"
#include "compose/serialize.h"
#include "compose/validate.h"
#include "compose/yaml_reader.h"

#include <cstdint>
#include <string>

using namespace berth::compose;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    std::string text(reinterpret_cast<const char*>(data), size);
    try {
        Node doc = parse_yaml(text, "fuzz.yaml");
        Lookup lookup = [](const std::string& name) -> std::optional<std::string> {
            if (name == "SET") return std::string("value");
            if (name == "PORT") return std::string("8080");
            if (name == "BYTES") return std::string("a\xff\xfe");  // not UTF-8
            return std::nullopt;
        };
        interpolate_tree(doc, lookup);
        validate(doc);
        Node twice = doc;
        merge_documents(twice, doc);
        NormalizeContext ctx;
        ctx.project_name = "fuzz";
        ctx.project_dir = "/nonexistent/fuzz";
        ctx.home = "/root";
        Project p = normalize(twice, ctx);
        (void)to_yaml(to_json(p));
    } catch (const berth::Error&) {
    }
    return 0;
}
