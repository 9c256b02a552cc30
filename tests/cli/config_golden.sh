#!/bin/sh
# For every tests/data/compose/CASE/: `berth config` in that directory must print
# CASE/expected.yaml (with ${DIR} standing for the case's absolute path), and
# `config --format json` must be valid JSON with the same services.
# Usage: config_golden.sh BERTH_BINARY DATA_DIR
set -u
berth=$1
data=$2
fail=0
count=0
for dir in "$data"/compose/*/; do
    dir=${dir%/}
    case=$(basename "$dir")
    [ -f "$dir/expected.yaml" ] || continue
    count=$((count + 1))
    expected=$(sed "s|\${DIR}|$dir|g" "$dir/expected.yaml")
    args=""
    [ -f "$dir/args" ] && args=$(cat "$dir/args")
    # A clean environment: only what the case's .env and args say.
    # shellcheck disable=SC2086
    actual=$(cd "$dir" && env -i PATH="$PATH" HOME=/root BERTH_RUNTIME_DIR="${BERTH_RUNTIME_DIR:-}" "$berth" $args config 2>&1)
    if [ "$actual" != "$expected" ]; then
        echo "FAIL $case: berth config differs from expected.yaml:"
        printf '%s\n' "$expected" >/tmp/berth-expected.$$
        printf '%s\n' "$actual" >/tmp/berth-actual.$$
        diff -u /tmp/berth-expected.$$ /tmp/berth-actual.$$ | sed 's/^/    /'
        rm -f /tmp/berth-expected.$$ /tmp/berth-actual.$$
        fail=$((fail + 1))
        continue
    fi
    # shellcheck disable=SC2086
    if ! (cd "$dir" && env -i PATH="$PATH" HOME=/root BERTH_RUNTIME_DIR="${BERTH_RUNTIME_DIR:-}" "$berth" $args config --format json) |
        python3 -c 'import json,sys; d=json.load(sys.stdin); assert d["services"], "no services"'; then
        echo "FAIL $case: config --format json is not valid JSON with services"
        fail=$((fail + 1))
        continue
    fi
    echo "ok   $case"
done
[ "$count" -gt 0 ] || { echo "no golden cases found under $data/compose"; exit 1; }
echo "$((count - fail)) passed, $fail failed"
[ "$fail" -eq 0 ]
