// Dockerfile front-half figures: parsing and planning a large multi-stage
// Dockerfile, matching a context's paths against a .dockerignore. Prints
// figures; asserts nothing.
// Usage: build/bench/dockerfile_bench [STAGES] [ROUNDS]
#include "build/dockerignore.h"
#include "build/parser.h"
#include "build/stages.h"

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

using namespace berth::build;
using Clock = std::chrono::steady_clock;

namespace {

std::string make_dockerfile(int stages) {
    std::string s = "# syntax=docker/dockerfile:1\nARG BASE=debian:12\nARG VERSION=1.0\n";
    for (int i = 0; i < stages; ++i) {
        s += "FROM ${BASE} AS s" + std::to_string(i) + "\nARG VERSION\n";
        s += "ENV APP_HOME=/opt/app PATH=/opt/app/bin:$PATH VERSION=${VERSION}\n";
        s += "WORKDIR $APP_HOME\nCOPY --chown=1000:1000 src/ ./src/\n";
        if (i > 0) s += "COPY --from=s" + std::to_string(i - 1) + " /opt/app/bin /opt/app/bin\n";
        s += "RUN --mount=type=cache,target=/root/.cache \\\n    make -C src \\\n    && make install\n";
        s += "RUN <<EOF\nset -e\necho building ${VERSION}\nEOF\n";
        s += "LABEL org.opencontainers.image.version=\"$VERSION\" stage=s" + std::to_string(i) + "\n";
        s += "EXPOSE 8080/tcp\nHEALTHCHECK --interval=30s CMD [\"true\"]\nCMD [\"app\", \"serve\"]\n";
    }
    return s;
}

double us_since(Clock::time_point t0, int rounds) {
    return std::chrono::duration<double, std::micro>(Clock::now() - t0).count() / rounds;
}

}  // namespace

int main(int argc, char** argv) {
    int stages = argc > 1 ? std::atoi(argv[1]) : 50;
    int rounds = argc > 2 ? std::atoi(argv[2]) : 200;
    std::string text = make_dockerfile(stages);

    auto t0 = Clock::now();
    size_t n = 0;
    for (int r = 0; r < rounds; ++r) n += parse_dockerfile(text).instructions.size();
    double parse_us = us_since(t0, rounds);

    Dockerfile df = parse_dockerfile(text);
    BuildOptions opt;
    opt.build_args = {{"VERSION", "2.0"}};
    t0 = Clock::now();
    size_t order = 0;
    for (int r = 0; r < rounds; ++r) order += plan_build(df, opt).order.size();
    double plan_us = us_since(t0, rounds);

    IgnoreMatcher m = IgnoreMatcher::from_text("node_modules\n**/*.log\n!keep.log\n.git\nbuild/**\n!build/out/*.bin\n"
                                               "**/__pycache__\n*.tmp\ndocs/*.md\n!docs/README.md\n");
    std::vector<std::string> paths;
    for (int i = 0; i < 1000; ++i)
        paths.push_back("src/pkg" + std::to_string(i % 37) + "/sub/file" + std::to_string(i) +
                        (i % 5 == 0 ? ".log" : ".go"));
    t0 = Clock::now();
    size_t excluded = 0;
    for (int r = 0; r < rounds; ++r)
        for (const auto& p : paths) excluded += m.excluded(p);
    double match_ns = us_since(t0, rounds * static_cast<int>(paths.size())) * 1000;

    std::printf("Dockerfile of %d stages, %zu bytes, %zu instructions\n", stages, text.size(), n / rounds);
    std::printf("  parse:               %8.1f us  (%.2f us per instruction)\n", parse_us,
                parse_us / static_cast<double>(n / rounds));
    std::printf("  plan (expand, deps): %8.1f us  (%zu stages in order)\n", plan_us, order / rounds);
    std::printf(".dockerignore of 10 patterns: %.0f ns per path (%zu of %zu excluded)\n", match_ns,
                excluded / rounds, paths.size());
    return 0;
}
