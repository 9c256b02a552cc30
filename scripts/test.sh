#!/bin/sh
# Sets up a fresh Debian 12 machine (as root) and runs berth's whole test suite:
#   1. the build and every CTest test (unit tests, then root integration tests
#      that run the real binary in private namespaces);
#   2. the unit tests again under AddressSanitizer + UBSan, then a set of the
#      integration tests with the sanitized berth (any report fails the run);
#   3. every libFuzzer target (tests/fuzz/run.sh) for 60 s each, two at once (FUZZ_SECONDS).
set -eu
cd "$(dirname "$0")/.."
./scripts/setup.sh
echo "== build"
./scripts/build.sh
echo "== tests"
(cd build && ctest --output-on-failure -j2 --timeout 300)
echo "== unit tests under ASan/UBSan"
BUILD_DIR=build-asan BUILD_TYPE=Debug BUILD_TARGETS=unit_tests ./scripts/build.sh -DBERTH_SANITIZE=ON -DBERTH_BENCH=OFF
(cd build-asan && ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
    ctest --output-on-failure -j2 -L unit --timeout 300)
echo "== integration tests under ASan/UBSan (the same berth, sanitized: a chosen set)"
# Every report (leaks at exit included) goes to a file: a detached supervisor's stderr is its log.
san=$(mktemp -d /tmp/berth-san-XXXXXX)
(cd build-asan && ASAN_OPTIONS=detect_leaks=1:log_path=$san/asan UBSAN_OPTIONS=print_stacktrace=1:log_path=$san/ubsan \
    ctest --output-on-failure -j2 --timeout 600 -L integration \
    -R 'integration_(run|up|dos|crash|vol|pull|build|notify|callbacks|compose_e2e)_test$')
if ls "$san"/* >/dev/null 2>&1; then
    echo "sanitizer reports from the integration tests:"
    cat "$san"/*
    exit 1
fi
rm -rf "$san"
echo "== fuzzing, ${FUZZ_SECONDS:-60}s per target"
BUILD_DIR=build-fuzz BUILD_TYPE=Debug BUILD_TARGETS=fuzzers CC=clang CXX=clang++ ./scripts/build.sh -DBERTH_FUZZ=ON -DBERTH_TESTS=OFF
./tests/fuzz/run.sh build-fuzz "${FUZZ_SECONDS:-60}"
