#!/bin/sh
# Runs every fuzzer from its seed corpus for SECONDS each (60 by default, or
# $FUZZ_SECONDS), $FUZZ_JOBS of them at once (2: one per core here); fails on
# any crash, hang or leak and prints the input that did it. A longer run:
# tests/fuzz/run.sh build-fuzz 3600. One target only:
# FUZZ_ONLY=dns_fuzz tests/fuzz/run.sh build-fuzz 600.
# Usage: tests/fuzz/run.sh BUILD_DIR [SECONDS]
set -eu
cd "$(dirname "$0")/../.."
build=$1
seconds=${2:-${FUZZ_SECONDS:-60}}
jobs=${FUZZ_JOBS:-2}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# name max_len seed-globs
targets='
loader_fuzz      4096  tests/fuzz/corpus/* tests/data/compose/*/*.yaml
extract_fuzz     16384 tests/fuzz/corpus-extract/*
dockerfile_fuzz  4096  tests/fuzz/corpus-dockerfile/* examples/*/Dockerfile
interpolate_fuzz 4096  tests/fuzz/corpus-interpolate/*
control_fuzz     4096  tests/fuzz/corpus-control/*
dns_fuzz         1024  tests/fuzz/corpus-dns/*
'

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
        return 1
    fi
    echo "fuzz: $name, ${runs:-?} runs, no crash in ${secs}s"
}

# lane N: the targets whose position modulo $jobs is N, one after another; each target's
# output printed once it is done (lanes run side by side).
lane() {
    i=0
    echo "$targets" | while read -r name max_len globs; do
        [ -n "$name" ] || continue
        [ -z "${FUZZ_ONLY:-}" ] || [ "$FUZZ_ONLY" = "$name" ] || continue
        i=$((i + 1))
        [ $((i % jobs)) -eq "$1" ] || continue
        # shellcheck disable=SC2086 # the globs expand here
        if fuzz "$name" "$seconds" "$max_len" $globs >"$work/$name.out" 2>&1; then
            cat "$work/$name.out"
        else
            cat "$work/$name.out"
            exit 1
        fi
    done
}
pids=""
n=0
while [ "$n" -lt "$jobs" ]; do
    lane "$n" &
    pids="$pids $!"
    n=$((n + 1))
done
status=0
for p in $pids; do wait "$p" || status=1; done
[ "$status" = 0 ] && echo "fuzz: every target ran ${seconds}s without a crash"
exit "$status"
