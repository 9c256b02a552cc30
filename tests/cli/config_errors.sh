#!/bin/sh
# Every tests/data/compose-errors/NAME.yaml is a broken compose file whose first
# line reads "# expect: TEXT". `berth config` on it must exit 1 (not crash),
# print one short error that contains TEXT and names the file with line:column.
# Usage: config_errors.sh BERTH_BINARY DATA_DIR
set -u
berth=$1
data=$2
fail=0
count=0
for f in "$data"/compose-errors/*.yaml; do
    count=$((count + 1))
    name=$(basename "$f" .yaml)
    want=$(head -1 "$f" | sed -n 's/^# expect: //p')
    dir=$(dirname "$f")
    out=$(cd "$dir" && env -i PATH="$PATH" HOME=/root BERTH_RUNTIME_DIR="${BERTH_RUNTIME_DIR:-}" "$berth" -f "$f" -p errtest config 2>&1)
    status=$?
    if [ "$status" -ne 1 ]; then
        echo "FAIL $name: exit status $status, want 1; output:"; echo "$out" | sed 's/^/    /'
        fail=$((fail + 1)); continue
    fi
    case "$out" in
        *"$want"*) ;;
        *) echo "FAIL $name: error lacks \"$want\":"; echo "$out" | sed 's/^/    /'; fail=$((fail + 1)); continue ;;
    esac
    if ! echo "$out" | grep -q "$(basename "$f"):[0-9][0-9]*:[0-9][0-9]*: "; then
        echo "FAIL $name: error does not name $(basename "$f"):LINE:COL:"; echo "$out" | sed 's/^/    /'
        fail=$((fail + 1)); continue
    fi
    lines=$(echo "$out" | wc -l)
    if [ "$lines" -gt 4 ]; then
        echo "FAIL $name: error is $lines lines long, want one short paragraph:"; echo "$out" | sed 's/^/    /'
        fail=$((fail + 1)); continue
    fi
    echo "ok   $name"
done
echo "$((count - fail)) passed, $fail failed"
[ "$fail" -eq 0 ]
