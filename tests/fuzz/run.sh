#!/bin/sh
# Runs every fuzzer from its seed corpus, SECONDS in all (90 by default, or
# $FUZZ_SECONDS), split by weight below; fails on any crash, hang or leak and
# prints the input that did it. A longer run: tests/fuzz/run.sh build-fuzz 3600.
# One target only: FUZZ_ONLY=dns_fuzz tests/fuzz/run.sh build-fuzz 600.
# Usage: tests/fuzz/run.sh BUILD_DIR [SECONDS]
set -eu
cd "$(dirname "$0")/../.."
build=$1
seconds=${2:-${FUZZ_SECONDS:-90}}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# name weight max_len seed-globs (weights sum to 18)
targets='
loader_fuzz      5 4096  tests/fuzz/corpus/* tests/data/compose/*/*.yaml
dockerfile_fuzz  3 4096  tests/fuzz/corpus-dockerfile/* examples/*/Dockerfile
interpolate_fuzz 2 4096  tests/fuzz/corpus-interpolate/*
control_fuzz     2 4096  tests/fuzz/corpus-control/*
dns_fuzz         2 1024  tests/fuzz/corpus-dns/*
extract_fuzz     4 16384 tests/fuzz/corpus-extract/*
'
total_weight=18

# fuzz NAME SECONDS MAX_LEN SEED_FILES...
fuzz() {
    name=$1 secs=$2 max_len=$3
    shift 3
    mkdir -p "$work/$name/corpus"
    for f in "$@"; do
        [ -f "$f" ] && cp "$f" "$work/$name/corpus/$(echo "$f" | tr / _)"
    done
    status=0
    "$build/tests/fuzz/$name" -max_total_time="$secs" -max_len="$max_len" -timeout=30 \
        -rss_limit_mb=2048 -print_final_stats=1 -artifact_prefix="$work/$name/" "$work/$name/corpus" \
        >"$work/$name/log" 2>&1 || status=$?
    tail -12 "$work/$name/log"
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$work/$name/log")
    if [ "$status" != 0 ]; then
        keep=${FUZZ_ARTIFACTS:-$build/fuzz-artifacts}
        mkdir -p "$keep"
        echo "fuzz: $name crashed (exit $status); the input that did it (kept in $keep/):"
        for a in "$work/$name"/crash-* "$work/$name"/timeout-* "$work/$name"/oom-* "$work/$name"/leak-*; do
            [ -f "$a" ] || continue
            od -c "$a" | head -20
            cp "$a" "$keep/$name-${a##*/}"
        done
        exit 1
    fi
    echo "fuzz: $name, ${runs:-?} runs, no crash in ${secs}s"
}

echo "$targets" | while read -r name weight max_len globs; do
    [ -n "$name" ] || continue
    [ -z "${FUZZ_ONLY:-}" ] || [ "$FUZZ_ONLY" = "$name" ] || continue
    secs=$((seconds * weight / total_weight))
    [ -n "${FUZZ_ONLY:-}" ] && secs=$seconds
    [ "$secs" -ge 1 ] || secs=1
    # shellcheck disable=SC2086 # the globs expand here
    fuzz "$name" "$secs" "$max_len" $globs
done
