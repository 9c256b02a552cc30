#!/bin/sh
# Configures and builds berth into ./build (or $BUILD_DIR). Extra arguments go to cmake.
# BUILD_TARGETS="a b" builds only those targets (default: all).
#
# With ccache installed (scripts/setup.sh installs it) compiles go through it,
# keyed on paths relative to the checkout, so a second clone on the same
# machine (CI's fresh clone) reuses the objects of the first. BERTH_CCACHE=0
# turns it off.
set -eu
cd "$(dirname "$0")/.."
BUILD_DIR=${BUILD_DIR:-build}
launcher=""
if [ "${BERTH_CCACHE:-1}" != 0 ] && command -v ccache >/dev/null 2>&1; then
    launcher="-DCMAKE_C_COMPILER_LAUNCHER=ccache -DCMAKE_CXX_COMPILER_LAUNCHER=ccache"
    CCACHE_BASEDIR=$(pwd)
    CCACHE_NOHASHDIR=1
    export CCACHE_BASEDIR CCACHE_NOHASHDIR
else
    launcher="-DCMAKE_C_COMPILER_LAUNCHER= -DCMAKE_CXX_COMPILER_LAUNCHER="
fi
# shellcheck disable=SC2086
cmake -S . -B "$BUILD_DIR" -DCMAKE_BUILD_TYPE=${BUILD_TYPE:-RelWithDebInfo} $launcher "$@" >/dev/null
targets=""
for t in ${BUILD_TARGETS:-}; do targets="$targets --target $t"; done
# shellcheck disable=SC2086
cmake --build "$BUILD_DIR" -j"$(nproc)" $targets
