#!/bin/sh
# Sets up a fresh Debian 12 machine (as root) and runs berth's whole test suite:
#   1. the build; the unit, CLI and packaging tests; and, with the release berth, the root
#      integration suites that measure what the sanitizers distort (soak: the supervisor's fds
#      and RSS; logs: 1M lines and 1 GiB without loss; escape_exe: 400 execs racing an
#      attacker, at a real exec's speed) or run what a user runs (readme: the README's
#      commands, demo.sh's build and the installed binary);
#   2. the unit tests again under AddressSanitizer + UBSan, then every integration suite but
#      readme with the sanitized berth (any sanitizer report, leaks at exit included, fails the
#      run). soak, logs and escape_exe run there too, smaller (BERTH_SANITIZED=1): RSS printed
#      but not judged, bursts of 200,000 lines and 128 MiB, 80 execs;
#   3. every libFuzzer target (tests/fuzz/run.sh) for 30 s each, two at once (FUZZ_SECONDS;
#      tests/fuzz/run.sh build-fuzz 3600 runs longer).
set -eu
cd "$(dirname "$0")/.."
./scripts/setup.sh
echo "== build"
./scripts/build.sh
echo "== tests"
release_suites='^integration_(soak|logs|escape_exe|readme)_test$'
(cd build && ctest --output-on-failure -j2 --timeout 300 -LE integration)
(cd build && ctest --output-on-failure -j2 --timeout 300 -R "$release_suites")
echo "== unit tests under ASan/UBSan"
BUILD_DIR=build-asan BUILD_TYPE=Debug BUILD_TARGETS=unit_tests ./scripts/build.sh -DBERTH_SANITIZE=ON -DBERTH_BENCH=OFF
(cd build-asan && ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
    ctest --output-on-failure -j2 -L unit --timeout 300)
echo "== integration tests under ASan/UBSan (the same berth, sanitized: every suite but readme)"
# Every report (leaks at exit included) goes to a file: a detached supervisor's stderr is its log.
san=$(mktemp -d /tmp/berth-san-XXXXXX)
rc=0
(cd build-asan && BERTH_SANITIZED=1 ASAN_OPTIONS=detect_leaks=1:log_path=$san/asan \
    UBSAN_OPTIONS=print_stacktrace=1:log_path=$san/ubsan \
    ctest --output-on-failure -j2 --timeout 600 -L integration -E '^integration_readme_test$') || rc=$?
if ls "$san"/* >/dev/null 2>&1; then
    echo "sanitizer reports from the integration tests:"
    cat "$san"/*
    rc=1
fi
rm -rf "$san"
[ "$rc" = 0 ] || exit "$rc"
echo "== fuzzing, ${FUZZ_SECONDS:-30}s per target"
BUILD_DIR=build-fuzz BUILD_TYPE=Debug BUILD_TARGETS=fuzzers CC=clang CXX=clang++ ./scripts/build.sh -DBERTH_FUZZ=ON -DBERTH_TESTS=OFF
./tests/fuzz/run.sh build-fuzz "${FUZZ_SECONDS:-30}"
