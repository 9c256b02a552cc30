#!/bin/sh
# Sets up a fresh Debian 12 machine (as root) and runs berth's whole test suite:
#   1. the build; the unit, CLI and packaging tests; and the root integration suites that
#      measure a figure (soak: fds and RSS; logs: throughput; escape_exe: 400 execs against an
#      attacker; limits: a host command's latency under a fork bomb) or run what a user runs
#      (readme: the README's commands, demo.sh and the installed binary), with the release berth;
#   2. the unit tests again under AddressSanitizer + UBSan, then every other integration suite
#      with the sanitized berth (any sanitizer report, leaks at exit included, fails the run).
#      Each integration suite thus runs once: all of them twice would add some 10 minutes;
#   3. every libFuzzer target (tests/fuzz/run.sh) for 60 s each, two at once (FUZZ_SECONDS).
set -eu
cd "$(dirname "$0")/.."
./scripts/setup.sh
echo "== build"
./scripts/build.sh
echo "== tests"
release_suites='^integration_(soak|logs|escape_exe|limits|readme)_test$'
(cd build && ctest --output-on-failure -j2 --timeout 300 -LE integration)
(cd build && ctest --output-on-failure -j2 --timeout 300 -R "$release_suites")
echo "== unit tests under ASan/UBSan"
BUILD_DIR=build-asan BUILD_TYPE=Debug BUILD_TARGETS=unit_tests ./scripts/build.sh -DBERTH_SANITIZE=ON -DBERTH_BENCH=OFF
(cd build-asan && ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
    ctest --output-on-failure -j2 -L unit --timeout 300)
echo "== integration tests under ASan/UBSan (the same berth, sanitized: every suite not run above)"
# Every report (leaks at exit included) goes to a file: a detached supervisor's stderr is its log.
san=$(mktemp -d /tmp/berth-san-XXXXXX)
(cd build-asan && ASAN_OPTIONS=detect_leaks=1:log_path=$san/asan UBSAN_OPTIONS=print_stacktrace=1:log_path=$san/ubsan \
    ctest --output-on-failure -j2 --timeout 600 -L integration -E "$release_suites")
if ls "$san"/* >/dev/null 2>&1; then
    echo "sanitizer reports from the integration tests:"
    cat "$san"/*
    exit 1
fi
rm -rf "$san"
echo "== fuzzing, ${FUZZ_SECONDS:-60}s per target"
BUILD_DIR=build-fuzz BUILD_TYPE=Debug BUILD_TARGETS=fuzzers CC=clang CXX=clang++ ./scripts/build.sh -DBERTH_FUZZ=ON -DBERTH_TESTS=OFF
./tests/fuzz/run.sh build-fuzz "${FUZZ_SECONDS:-60}"
