#!/bin/sh
# Sets up a fresh Debian 12 machine (as root), builds berth, and runs the main
# example stack (examples/hello).
set -eu
cd "$(dirname "$0")/.."
./scripts/setup.sh
./scripts/build.sh
echo "== berth config (examples/hello)"
./build/berth -f examples/hello/compose.yaml config
