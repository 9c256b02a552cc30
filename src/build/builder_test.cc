// The builder's pure parts: COPY's source and destination rules, the cache
// key, and how config instructions change the image config.
#include "build/builder_internal.h"
#include "build/parser.h"

#include <doctest/doctest.h>

using namespace berth::build;
using namespace berth::build::detail;
using json = nlohmann::json;

namespace {

std::vector<Step> steps(std::string_view text, BuildOptions opt = {}) {
    return plan_build(parse_dockerfile(text), opt).stages.back().steps;
}

ImageState apply_all(std::string_view text, ImageState st = {}) {
    for (const auto& s : steps(text)) apply_config(st, s);
    return st;
}

}  // namespace

TEST_CASE("COPY sources: cleaned as docker cleans them, globs never cross '/'") {
    CHECK(clean_source("./a/b/") == "a/b");
    CHECK(clean_source("/a//b") == "a/b");
    CHECK(clean_source(".") == "");
    CHECK(clean_source("/") == "");
    CHECK(clean_source("../../etc/passwd") == "etc/passwd");  // never outside the context
    CHECK(source_matches("*.txt", "a.txt"));
    CHECK_FALSE(source_matches("*.txt", "dir/a.txt"));
    CHECK(source_matches("dir/*.txt", "dir/a.txt"));
    CHECK(source_matches("file?.c", "file1.c"));
    CHECK_FALSE(source_matches("file?.c", "file10.c"));
    CHECK(source_matches("[ab]*", "beta"));
}

TEST_CASE("COPY destination: a directory when it ends in '/', several sources, or an existing directory") {
    CHECK(copy_target("/app", "a.txt", false) == "/app");
    CHECK(copy_target("/app", "a.txt", true) == "/app/a.txt");
    CHECK(copy_target("/", "a.txt", true) == "/a.txt");
}

TEST_CASE("cache key: parent, instruction and the build args a RUN sees") {
    auto a = steps("FROM scratch\nARG V=1\nRUN echo $V\n");
    auto b = steps("FROM scratch\nARG V=1\nRUN echo $V\n", BuildOptions{{{"V", "2"}}, "", {}, {}});
    auto c = steps("FROM scratch\nARG V=1\nRUN echo  $V\n");
    CHECK(step_key("p", a[1], "") == step_key("p", a[1], ""));
    CHECK(step_key("p", a[1], "") != step_key("q", a[1], ""));   // another parent
    CHECK(step_key("p", a[1], "") != step_key("p", b[1], ""));   // another build arg value
    CHECK(step_key("p", a[1], "") != step_key("p", c[1], ""));   // another command
    auto d = steps("FROM scratch\nCOPY a /b\n");
    CHECK(step_key("p", d[0], "content1") != step_key("p", d[0], "content2"));  // COPY: the files' digest
    auto h1 = steps("FROM scratch\nRUN <<EOF\necho one\nEOF\n");
    auto h2 = steps("FROM scratch\nRUN <<EOF\necho two\nEOF\n");
    CHECK(step_key("p", h1[0], "") != step_key("p", h2[0], ""));  // here-document bodies count
}

TEST_CASE("config instructions write the config as docker does") {
    ImageState st = apply_all(
        "FROM scratch\nENV A=1 B=2\nENV A=3\nLABEL x=y\nEXPOSE 80 53/udp 8000-8001\nVOLUME /data\nUSER nobody\n"
        "STOPSIGNAL SIGINT\nSHELL [\"/bin/bash\", \"-c\"]\nCMD echo hi\nHEALTHCHECK --interval=5s --retries=2 CMD true\n"
        "ONBUILD RUN make\n");
    const json& c = st.config["config"];
    CHECK(c["Env"] == json({"A=3", "B=2"}));
    CHECK(c["Labels"]["x"] == "y");
    CHECK(c["ExposedPorts"].contains("80/tcp"));
    CHECK(c["ExposedPorts"].contains("53/udp"));
    CHECK(c["ExposedPorts"].contains("8001/tcp"));
    CHECK(c["Volumes"].contains("/data"));
    CHECK(c["User"] == "nobody");
    CHECK(c["StopSignal"] == "SIGINT");
    CHECK(c["Cmd"] == json({"/bin/bash", "-c", "echo hi"}));  // shell form through SHELL
    CHECK(c["Healthcheck"]["Test"] == json({"CMD-SHELL", "true"}));
    CHECK(c["Healthcheck"]["Interval"] == 5000000000LL);
    CHECK(c["Healthcheck"]["Retries"] == 2);
    CHECK(c["OnBuild"] == json({"RUN make"}));
}

TEST_CASE("ENTRYPOINT drops an inherited CMD, not one set in the stage") {
    ImageState base;
    base.config = {{"config", {{"Cmd", {"sh"}}}}};
    ImageState a = apply_all("FROM scratch\nENTRYPOINT [\"/app\"]\n", base);
    CHECK(a.config["config"]["Cmd"].is_null());
    ImageState b = apply_all("FROM scratch\nCMD [\"x\"]\nENTRYPOINT [\"/app\"]\n", base);
    CHECK(b.config["config"]["Cmd"] == json({"x"}));
}

TEST_CASE("history entries: created_by as BuildKit writes it") {
    auto s = steps("FROM scratch\nARG V=1\nRUN make\nCOPY --chown=1:1 a b /dst/\nENV K=v\n");
    json config = json::object();
    CHECK(created_by(s[1], config) == "RUN |1 V=1 /bin/sh -c make # buildkit");
    CHECK(created_by(s[2], config) == "COPY --chown=1:1 a b /dst/ # buildkit");
    CHECK(created_by(s[3], config) == "ENV K=v");
}
