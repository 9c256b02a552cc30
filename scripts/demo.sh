#!/bin/sh
# Sets up a fresh Debian 12 machine (as root), builds berth alone (the target berth: no test
# binaries, no benchmarks), and runs the microservices demo (examples/shop): up --wait, one
# order through the gateway's published port touching every service, ps, logs, down.
# KEEP=1 leaves the stack up. BUILD_DIR (default build) is shared with scripts/build.sh and
# scripts/test.sh: a later build reuses what the demo compiled. An already-configured build dir
# keeps its cache (build type, options); cmake --build reconfigures it when a CMakeLists changed.
set -eu
cd "$(dirname "$0")/.."
BUILD_DIR=${BUILD_DIR:-build}
./scripts/setup.sh
if [ ! -f "$BUILD_DIR/CMakeCache.txt" ]; then
    cmake -S . -B "$BUILD_DIR" -DCMAKE_BUILD_TYPE=${BUILD_TYPE:-RelWithDebInfo} >/dev/null
fi
cmake --build "$BUILD_DIR" -j"$(nproc)" --target berth
./examples/shop/demo.sh "$BUILD_DIR/berth"
