#!/bin/sh
# Runs the loader fuzzer for N seconds from the seed corpus; fails on any crash.
# Usage: tests/fuzz/run.sh BUILD_DIR SECONDS
set -eu
cd "$(dirname "$0")/../.."
build=$1
seconds=${2:-60}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir "$work/corpus"
for f in tests/fuzz/corpus/* tests/data/compose/*/*.yaml; do
    [ -f "$f" ] && cp "$f" "$work/corpus/$(echo "$f" | tr / _)"
done
status=0
"$build/tests/fuzz/loader_fuzz" -max_total_time="$seconds" -max_len=4096 -timeout=10 \
    -rss_limit_mb=2048 -print_final_stats=1 -artifact_prefix="$work/" "$work/corpus" \
    >"$work/log" 2>&1 || status=$?
tail -20 "$work/log"
if [ "$status" != 0 ]; then
    echo "fuzz: the loader crashed (exit $status); the input that did it:"
    for a in "$work"/crash-* "$work"/timeout-* "$work"/oom-*; do [ -f "$a" ] && od -c "$a" | head -20; done
    exit 1
fi
echo "fuzz: no crash in ${seconds}s"
