#include "base/error.h"
#include "build/parser.h"
#include "build/stages.h"

#include <doctest/doctest.h>

using namespace berth::build;

namespace {

BuildPlan plan(std::string_view text, BuildOptions opt = {}) { return plan_build(parse_dockerfile(text), opt); }

std::string error_of(std::string_view text, BuildOptions opt = {}) {
    try {
        plan(text, opt);
    } catch (const berth::Error& e) {
        return e.message() + (e.hint().empty() ? "" : " | " + e.hint());
    }
    return "no error";
}

const Step& step(const BuildPlan& p, size_t stage, size_t i) { return p.stages.at(stage).steps.at(i); }

std::vector<std::string> names(const BuildPlan& p) {
    std::vector<std::string> out;
    for (size_t s : p.order) out.push_back(p.stages[s].display());
    return out;
}

}  // namespace

TEST_CASE("ARG before FROM is usable only in FROM; ARG NAME in a stage takes the global value") {
    const char* df = R"(ARG VERSION=1.36
ARG REPO=busybox
FROM ${REPO}:${VERSION} AS base
RUN echo $VERSION
LABEL v=$VERSION
ARG VERSION
LABEL v=$VERSION
)";
    auto p = plan(df);
    REQUIRE(p.stages.size() == 1);
    CHECK(p.stages[0].base == "busybox:1.36");
    CHECK(step(p, 0, 1).inst.as<PairsData>().pairs[0].value == "");  // not in scope yet
    CHECK(step(p, 0, 3).inst.as<PairsData>().pairs[0].value == "1.36");
    CHECK(step(p, 0, 0).args.empty());
    CHECK(step(p, 0, 3).args == std::vector<KeyValue>{{"VERSION", "1.36"}});

    BuildOptions o;
    o.build_args = {{"VERSION", "1.37"}, {"NOBODY", "x"}};
    auto q = plan(df, o);
    CHECK(q.stages[0].base == "busybox:1.37");
    CHECK(step(q, 0, 3).inst.as<PairsData>().pairs[0].value == "1.37");
    CHECK(q.unused_args == std::vector<std::string>{"NOBODY"});

    CHECK(error_of("ARG B\nFROM ${B}\n") ==
          "Dockerfile:2:1: FROM: base name (${B}) should not be blank | give the ARG a default before the first FROM, "
          "or pass --build-arg");
    CHECK(error_of("FROM ${IMG:?set-IMG}\n") ==
          "Dockerfile:1:1: FROM: failed to process \"${IMG:?set-IMG}\": IMG: set-IMG");
}

TEST_CASE("ENV and ARG scope: ENV wins over ARG, ENV expands against the env before the line, stages inherit ENV") {
    const char* df = R"(FROM scratch AS one
ARG A=arg
ENV A=env B=${A}
ENV C=$A D='$A' E="$A x" F=\$A
ARG U=${UNSET:-dflt}
WORKDIR /w/$U
USER ${A}:${U}
FROM one AS two
ARG A
LABEL a=$A b=$B
FROM scratch
LABEL b=${B:-none}
)";
    auto p = plan(df);
    const auto& env1 = step(p, 0, 1).inst.as<PairsData>().pairs;
    CHECK(env1[0] == KeyValue{"A", "env"});
    CHECK(env1[1] == KeyValue{"B", "arg"});  // $A before the line: the ARG
    const auto& env2 = step(p, 0, 2).inst.as<PairsData>().pairs;
    CHECK(env2[0] == KeyValue{"C", "env"});  // now ENV A shadows ARG A
    CHECK(env2[1] == KeyValue{"D", "$A"});
    CHECK(env2[2] == KeyValue{"E", "env x"});
    CHECK(env2[3] == KeyValue{"F", "$A"});
    CHECK(step(p, 0, 4).inst.as<StringData>().value == "/w/dflt");
    CHECK(step(p, 0, 5).inst.as<StringData>().value == "env:dflt");
    // RUN would see U, not A (shadowed by ENV).
    CHECK(step(p, 0, 5).args == std::vector<KeyValue>{{"U", "dflt"}});
    CHECK(p.stages[0].env == std::vector<KeyValue>{{"A", "env"}, {"B", "arg"}, {"C", "env"}, {"D", "$A"},
                                                   {"E", "env x"}, {"F", "$A"}});
    // Stage two inherits the ENV of one, not its ARGs.
    CHECK(p.stages[1].base_stage == std::optional<size_t>(0));
    const auto& lab = step(p, 1, 1).inst.as<PairsData>().pairs;
    CHECK(lab[0] == KeyValue{"a", "env"});
    CHECK(lab[1] == KeyValue{"b", "arg"});
    CHECK(step(p, 2, 0).inst.as<PairsData>().pairs[0].value == "none");
}

TEST_CASE("what is expanded and what is not") {
    const char* df = R"(FROM scratch
ARG P=8080 D=/data S=SIGINT
RUN echo $P
CMD echo $P
ENTRYPOINT ["$P"]
HEALTHCHECK CMD check $P
ONBUILD RUN echo $P
EXPOSE $P ${P}/udp
VOLUME $D ["$D"]
STOPSIGNAL $S
COPY --chown=$P:$P --chmod=755 $D/a ${D}/b /dst$D/
COPY <<EOF <<"RAW" /x/
v=$P
EOF
v=$P
RAW
RUN --mount=type=cache,target=$D/cache,id=c-$P make
)";
    auto p = plan(df);
    CHECK(step(p, 0, 1).inst.as<RunData>().cmd.args[0] == "echo $P");
    CHECK(step(p, 0, 2).inst.as<CmdData>().cmd.args[0] == "echo $P");
    CHECK(step(p, 0, 3).inst.as<CmdData>().cmd.args[0] == "$P");
    CHECK(step(p, 0, 4).inst.as<HealthcheckData>().test[1] == "check $P");
    CHECK(step(p, 0, 5).inst.as<OnbuildData>().expression == "RUN echo $P");
    CHECK(step(p, 0, 6).inst.as<WordsData>().words == std::vector<std::string>{"8080", "8080/udp"});
    CHECK(step(p, 0, 7).inst.as<WordsData>().words == std::vector<std::string>{"/data", "[/data]"});
    CHECK(step(p, 0, 8).inst.as<StringData>().value == "SIGINT");
    auto labels = plan("FROM a\nARG V=1\nLABEL \"my key\"=\"v $V\" 'raw'='$V' k=a\\ b\n");
    CHECK(step(labels, 0, 1).inst.as<PairsData>().pairs ==
          std::vector<KeyValue>{{"my key", "v 1"}, {"raw", "$V"}, {"k", "a b"}});
    const auto& cp = step(p, 0, 9).inst.as<CopyData>();
    CHECK(cp.chown == "8080:8080");
    CHECK(cp.sources == std::vector<std::string>{"/data/a", "/data/b"});
    CHECK(cp.dest == "/dst/data/");
    const auto& hd = step(p, 0, 10).inst.as<CopyData>().inline_sources;
    CHECK(hd[0].content == "v=8080\n");
    CHECK(hd[1].content == "v=$P\n");
    const auto& m = step(p, 0, 11).inst.as<RunData>().mounts[0];
    CHECK(m.target == "/data/cache");
    CHECK(m.id == "c-8080");

    CHECK(error_of("FROM a\nARG P=x\nEXPOSE $P\n") ==
          "Dockerfile:3:1: EXPOSE: invalid port \"x\" | write PORT[/tcp|udp|sctp] or FROM-TO/PROTO, e.g. 8080/tcp");
    CHECK(error_of("FROM a\nEXPOSE 8000-8010/udp 1/sctp\n") == "no error");
    CHECK(error_of("FROM a\nWORKDIR ${W:?WORKDIR needs W}\n") ==
          "Dockerfile:2:1: WORKDIR: failed to process \"${W:?WORKDIR needs W}\": W: WORKDIR needs W");
}

TEST_CASE("multi-stage: only what the target needs, dependencies first") {
    const char* df = R"(FROM busybox AS base
RUN touch /base
FROM base AS build
RUN make
FROM busybox AS unrelated
RUN sleep 100
FROM busybox AS assets
RUN gen
FROM scratch AS final
COPY --from=build /out /out
COPY --from=2 /x /x
RUN --mount=type=bind,from=assets,target=/a true
COPY --from=nginx:1.25 /etc/nginx /etc/nginx
FROM final AS test
RUN test
)";
    auto p = plan(df);
    CHECK(p.target == 5);
    CHECK(names(p) == std::vector<std::string>{"base", "build", "unrelated", "assets", "final", "test"});
    BuildOptions o;
    o.target = "Final";
    auto q = plan(df, o);
    CHECK(q.target == 4);
    CHECK(names(q) == std::vector<std::string>{"base", "build", "unrelated", "assets", "final"});
    CHECK(q.stages[4].images == std::vector<std::string>{"nginx:1.25"});
    // base, unrelated and assets need nothing: one wave; build needs base; final needs all.
    CHECK(q.waves() == std::vector<std::vector<size_t>>{{0, 2, 3}, {1}, {4}});
    o.target = "build";
    CHECK(names(plan(df, o)) == std::vector<std::string>{"base", "build"});
    o.target = "assets";
    CHECK(names(plan(df, o)) == std::vector<std::string>{"assets"});
    o.target = "biuld";
    CHECK(error_of(df, o) == "Dockerfile:1:1: target stage \"biuld\" could not be found | did you mean \"build\"?");

    // A later stage by --from is fine; a cycle is not.
    auto fwd = plan("FROM a AS x\nCOPY --from=y /a /a\nFROM b AS y\nRUN b\nFROM c\nCOPY --from=x /a /a\n");
    CHECK(names(fwd) == std::vector<std::string>{"y", "x", "stage-2"});
    CHECK(error_of("FROM a AS x\nCOPY --from=y /a /a\nFROM b AS y\nCOPY --from=x /b /b\n")
              .find("circular dependency detected on stage") != std::string::npos);
    CHECK(error_of("FROM a AS x\nCOPY --from=x /a /a\n").find("circular dependency detected on stage: x") !=
          std::string::npos);
    CHECK(error_of("FROM a AS builder\nFROM b\nCOPY --from=buidler /a /a\n") ==
          "Dockerfile:3:1: COPY: unknown stage \"buidler\" in --from | did you mean \"builder\"? (to copy from an "
          "image of that name, give its tag: buidler:latest)");
    CHECK(error_of("FROM a\nCOPY --from=7 /a /a\n").find("unknown stage 7 in --from") != std::string::npos);
    CHECK(error_of("FROM a AS x\nFROM b AS X\n").find("duplicate stage name \"x\"") != std::string::npos);
}

TEST_CASE("builtin platform args, base image env, proxy args") {
    BuildOptions o;
    o.builtin_args = platform_args();
    o.build_args = {{"HTTP_PROXY", "http://proxy:3128"}};
    o.image_env = [](const std::string& image) {
        return std::vector<KeyValue>{{"PATH", "/usr/bin:/" + image}};
    };
    auto p = plan("FROM --platform=$BUILDPLATFORM busybox\nARG TARGETOS\nENV P=$PATH\nRUN echo\n", o);
    CHECK(p.stages[0].platform == o.builtin_args["BUILDPLATFORM"]);
    CHECK(p.stages[0].platform.rfind("linux/", 0) == 0);
    CHECK(step(p, 0, 1).inst.as<PairsData>().pairs[0].value == "/usr/bin:/busybox");
    CHECK(step(p, 0, 2).args == std::vector<KeyValue>{{"TARGETOS", "linux"}, {"HTTP_PROXY", "http://proxy:3128"}});
    CHECK(p.unused_args.empty());
}

TEST_CASE("STOPSIGNAL is checked once expanded") {
    CHECK(error_of("FROM a\nSTOPSIGNAL SIGQUIT\n") == "no error");
    CHECK(error_of("FROM a\nSTOPSIGNAL term\n") == "no error");
    CHECK(error_of("FROM a\nSTOPSIGNAL 9\n") == "no error");
    CHECK(error_of("FROM a\nSTOPSIGNAL SIGRTMIN+3\n") == "no error");
    CHECK(error_of("FROM a\nARG S=SIGWINCH\nSTOPSIGNAL $S\n") == "no error");
    CHECK(error_of("FROM a\nSTOPSIGNAL SIGFOO\n") ==
          "Dockerfile:2:1: STOPSIGNAL: invalid signal \"SIGFOO\" | use a name such as SIGTERM or SIGQUIT, or a number");
    CHECK(error_of("FROM a\nSTOPSIGNAL 99\n").find("invalid signal \"99\"") != std::string::npos);
}

TEST_CASE("a base image's ONBUILD triggers become the stage's first steps, expanded in its scope, at its FROM line") {
    BuildOptions o;
    o.image_onbuild = [](const std::string& image) {
        if (image == "base:1") return std::vector<std::string>{"COPY $SRC /app/", "RUN make", "COPY --from=helper /x /x"};
        return std::vector<std::string>{};
    };
    o.image_env = [](const std::string&) { return std::vector<KeyValue>{{"SRC", "src"}}; };
    BuildPlan p = plan("FROM busybox AS helper\nRUN true\nFROM base:1\nRUN echo mine\n", o);
    const Stage& st = p.stages.at(1);
    REQUIRE(st.steps.size() == 4);
    CHECK(st.steps[0].inst.kind == Kind::Copy);
    CHECK(st.steps[0].inst.as<CopyData>().sources.at(0) == "src");
    CHECK(st.steps[0].inst.loc.line == 3);
    CHECK(st.steps[0].inst.original == "ONBUILD COPY $SRC /app/");
    CHECK(st.steps[1].inst.kind == Kind::Run);
    CHECK(st.steps[3].inst.original == "RUN echo mine");
    // A trigger's COPY --from is a dependency like any other: the helper stage is built first.
    CHECK(names(p) == std::vector<std::string>{"helper", "stage-1"});
    CHECK(p.stages.at(0).steps.size() == 1);  // busybox has no triggers
}

TEST_CASE("a stage's ONBUILD lines run in the stage built FROM it, once: spent there, not passed further") {
    BuildOptions o;
    o.image_onbuild = [](const std::string& image) {
        if (image == "img:1") return std::vector<std::string>{"RUN from-image"};
        return std::vector<std::string>{};
    };
    BuildPlan p = plan("FROM img:1 AS base\nARG V=x\nONBUILD RUN echo $V\nRUN mine\n"
                       "FROM base AS a\nONBUILD COPY f /f\n"
                       "FROM a\nRUN last\n",
                       o);
    auto originals = [&](size_t si) {
        std::vector<std::string> out;
        for (const auto& s : p.stages.at(si).steps) out.push_back(s.inst.original);
        return out;
    };
    // base: the image's trigger first, then its own lines (its ONBUILD is recorded, not run).
    CHECK(originals(0) == std::vector<std::string>{"ONBUILD RUN from-image", "ARG V=x", "ONBUILD RUN echo $V", "RUN mine"});
    // a: base's own trigger (not the image's, spent in base), at a's FROM line, unexpanded (no ARG V in a).
    CHECK(originals(1) == std::vector<std::string>{"ONBUILD RUN echo $V", "ONBUILD COPY f /f"});
    CHECK(p.stages.at(1).steps[0].inst.kind == Kind::Run);
    CHECK(p.stages.at(1).steps[0].inst.loc.line == 5);
    // stage-2: only a's own trigger; base's is not inherited further.
    CHECK(originals(2) == std::vector<std::string>{"ONBUILD COPY f /f", "RUN last"});
    CHECK(p.stages.at(2).steps[0].inst.kind == Kind::Copy);
}

TEST_CASE("an ONBUILD trigger that is not one instruction is named with the FROM line") {
    BuildOptions o;
    o.image_onbuild = [](const std::string&) { return std::vector<std::string>{"FROM other"}; };
    CHECK(error_of("FROM base:1\nRUN true\n", o) ==
          "Dockerfile:1:1: FROM: the ONBUILD trigger \"FROM other\" of base:1 is not one instruction");
}
