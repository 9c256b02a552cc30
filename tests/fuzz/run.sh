#!/bin/sh
# Runs the fuzzers for N seconds in all from their seed corpora; fails on any crash.
# The compose loader gets two thirds of the time, the Dockerfile parser one third.
# Usage: tests/fuzz/run.sh BUILD_DIR SECONDS
set -eu
cd "$(dirname "$0")/../.."
build=$1
seconds=${2:-60}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# fuzz NAME SECONDS SEED_FILES...
fuzz() {
    name=$1 secs=$2
    shift 2
    mkdir -p "$work/$name/corpus"
    for f in "$@"; do
        [ -f "$f" ] && cp "$f" "$work/$name/corpus/$(echo "$f" | tr / _)"
    done
    status=0
    "$build/tests/fuzz/$name" -max_total_time="$secs" -max_len=4096 -timeout=10 \
        -rss_limit_mb=2048 -print_final_stats=1 -artifact_prefix="$work/$name/" "$work/$name/corpus" \
        >"$work/$name/log" 2>&1 || status=$?
    tail -20 "$work/$name/log"
    if [ "$status" != 0 ]; then
        echo "fuzz: $name crashed (exit $status); the input that did it:"
        for a in "$work/$name"/crash-* "$work/$name"/timeout-* "$work/$name"/oom-*; do
            [ -f "$a" ] && od -c "$a" | head -20
        done
        exit 1
    fi
    echo "fuzz: $name, no crash in ${secs}s"
}

loader_secs=$((seconds * 2 / 3))
[ "$loader_secs" -ge 1 ] || loader_secs=1
docker_secs=$((seconds - loader_secs))
[ "$docker_secs" -ge 1 ] || docker_secs=1
fuzz loader_fuzz "$loader_secs" tests/fuzz/corpus/* tests/data/compose/*/*.yaml
fuzz dockerfile_fuzz "$docker_secs" tests/fuzz/corpus-dockerfile/* examples/*/Dockerfile
