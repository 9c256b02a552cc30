// The stage model: a parsed Dockerfile plus build args and a target → the
// stages to build, in dependency order, with every instruction expanded as
// docker's builder expands it.
//
// Scope rules (docker's): ARGs before the first FROM form the global scope,
// usable only in FROM lines; inside a stage an ARG is visible from its
// declaration to the stage's end, `ARG NAME` with no default takes the
// --build-arg value, else the global ARG's value; ENV overrides an ARG of the
// same name; a stage FROM another stage inherits that stage's ENV (not its
// ARGs). Expanded: FROM (global scope), ENV, LABEL, ARG defaults, COPY/ADD
// (paths, --chown, --chmod, --from, --checksum, heredoc bodies unless quoted),
// EXPOSE, VOLUME, USER, WORKDIR, STOPSIGNAL and RUN --mount values. Never by
// the builder: RUN/CMD/ENTRYPOINT/SHELL/HEALTHCHECK commands, ONBUILD.
#pragma once

#include "build/ast.h"

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace berth::build {

struct BuildOptions {
    std::map<std::string, std::string> build_args;  // --build-arg K=V
    std::string target;                             // "" = the last stage
    // TARGETPLATFORM, TARGETOS, … (see platform_args); global without an ARG line.
    std::map<std::string, std::string> builtin_args;
    // The ENV of a base image, when known (the builder asks its image store).
    std::function<std::vector<KeyValue>(const std::string& image)> image_env;
    // The ONBUILD triggers of a base image (its config's OnBuild), run right after its FROM.
    std::function<std::vector<std::string>(const std::string& image)> image_onbuild;
};

// TARGETPLATFORM/TARGETOS/TARGETARCH/TARGETVARIANT and their BUILD* twins for this host.
std::map<std::string, std::string> platform_args();

// One instruction of a stage, expanded, with the variables it sees.
struct Step {
    Instruction inst;
    std::vector<KeyValue> args;  // ARGs in scope (name, value) that ENV does not shadow: RUN's extra env
    std::vector<KeyValue> env;   // the ENV in effect before this step
};

enum class DepKind { Base, CopyFrom, MountFrom };

struct StageDep {
    size_t stage;
    DepKind kind;
    int line;
};

struct Stage {
    size_t index = 0;
    std::string name;                  // lowercased AS name, "" when none
    std::string base;                  // the FROM image, expanded
    std::optional<size_t> base_stage;  // when FROM names an earlier stage
    std::string platform;              // expanded --platform
    Location loc;                      // of the FROM line
    std::vector<Step> steps;
    std::vector<StageDep> deps;         // stages it reads from
    std::vector<std::string> images;   // images named by COPY --from / --mount from= (not stages)
    std::vector<KeyValue> env;          // ENV at the stage's end (config Env)

    // "builder" or "stage-1", for messages.
    std::string display() const;
};

struct BuildPlan {
    std::vector<Stage> stages;               // all stages, in file order
    size_t target = 0;
    std::vector<size_t> order;               // the stages the target needs, each after its dependencies
    std::vector<std::string> unused_args;    // build args no ARG consumed (docker warns)

    // `order` in waves: each wave's stages need only stages of earlier waves,
    // so the stages of one wave can be built in parallel.
    std::vector<std::vector<size_t>> waves() const;
};

// Throws berth::Error "Dockerfile:LINE:COL: INSTRUCTION: …" for an expansion
// error (${X:?}), an unknown target or stage, a dependency cycle.
BuildPlan plan_build(const Dockerfile& df, const BuildOptions& opt = {});

}  // namespace berth::build
