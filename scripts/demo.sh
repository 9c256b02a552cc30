#!/bin/sh
# Sets up a fresh Debian 12 machine (as root), builds berth alone (not the tests), and runs
# the microservices demo (examples/shop): up --wait, one order through the gateway's
# published port touching every service, ps, logs, down. KEEP=1 leaves the stack up.
set -eu
cd "$(dirname "$0")/.."
./scripts/setup.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=${BUILD_TYPE:-RelWithDebInfo} >/dev/null
cmake --build build -j"$(nproc)" --target berth
./examples/shop/demo.sh ./build/berth
