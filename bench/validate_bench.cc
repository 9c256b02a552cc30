// What checking a compose file against the schema costs, in one process:
// the first load (the schema compiled, then the document checked), later loads
// of the same file with the check (the document only) and without it (a memo
// that knows the text is valid), for a file of N services. Prints figures;
// asserts nothing.
// Usage: build/bench/validate_bench [SERVICES] [ROUNDS]
#include "compose/loader.h"

#include <ctime>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <unistd.h>

using namespace berth::compose;

namespace {

std::string make_compose(int services) {
    std::string s = "name: vbench\nservices:\n";
    for (int i = 1; i <= services; ++i) {
        std::string n = std::to_string(i);
        s += "  s" + n + ":\n    image: busybox:1.36\n    command: [\"sleep\", \"1000\"]\n";
        s += "    ports: [\"80" + n + ":80\"]\n    environment: {A: \"1\", B: \"two\"}\n";
        s += "    healthcheck: {test: [\"CMD\", \"true\"], interval: 1s, retries: 3}\n";
        s += "    deploy: {resources: {limits: {memory: 64m, pids: 100}}}\n";
        s += "    volumes: [\"data" + n + ":/data\"]\n    networks: [back]\n";
        if (i > 1) s += "    depends_on: {s1: {condition: service_healthy}}\n";
    }
    s += "networks:\n  back: {}\nvolumes:\n";
    for (int i = 1; i <= services; ++i) s += "  data" + std::to_string(i) + ": {}\n";
    return s;
}

// CPU time of this thread: what the work costs, less moved by other load on the machine than
// wall time (the figures below are CPU milliseconds).
double cpu_ms() {
    timespec ts{};
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

}  // namespace

int main(int argc, char** argv) {
    int services = argc > 1 ? std::atoi(argv[1]) : 10;
    int rounds = argc > 2 ? std::atoi(argv[2]) : 200;
    char tmpl[] = "/tmp/berth-vbench-XXXXXX";
    if (!mkdtemp(tmpl)) return 1;
    std::string dir = tmpl;
    std::ofstream(dir + "/compose.yaml") << make_compose(services);

    LoadOptions opts;
    opts.files = {dir + "/compose.yaml"};
    opts.environment = std::map<std::string, std::string>{};
    double t0 = cpu_ms();
    load_project(opts);
    double first = cpu_ms() - t0;

    t0 = cpu_ms();
    for (int i = 0; i < rounds; ++i) load_project(opts);
    double checked = (cpu_ms() - t0) / rounds;

    LoadOptions memo = opts;
    memo.valid_memo.known_valid = [](std::string_view) { return true; };
    t0 = cpu_ms();
    for (int i = 0; i < rounds; ++i) load_project(memo);
    double skipped = (cpu_ms() - t0) / rounds;

    std::printf("compose file of %d services, %d rounds, CPU ms\n", services, rounds);
    std::printf("  first load (schema compiled, file checked)   %7.3f\n", first);
    std::printf("  load, file checked                           %7.3f\n", checked);
    std::printf("  load, check skipped (memo)                   %7.3f\n", skipped);
    std::printf("  the check alone                              %7.3f\n", checked - skipped);
    std::printf("  compiling the schema (first - checked)       %7.3f\n", first - checked);
    std::filesystem::remove_all(dir);
    return 0;
}
