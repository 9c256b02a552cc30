#!/bin/sh
# The command line as docker compose users type it: unknown commands are named
# (with the nearest one), docker compose commands berth lacks are said so.
# Usage: commands.sh BERTH_BINARY
set -u
berth=$1
fails=0
expect() {  # expect NAME STATUS NEEDLE -- ARGS...
    name=$1 want=$2 needle=$3; shift 4
    out=$("$berth" "$@" 2>&1); st=$?
    if [ "$st" != "$want" ]; then echo "FAIL $name: exit $st, want $want: $out"; fails=$((fails + 1)); return; fi
    case "$out" in *"$needle"*) echo "ok   $name" ;; *) echo "FAIL $name: [$needle] not in [$out]"; fails=$((fails + 1)) ;; esac
}
expect "a typo names the nearest command" 1 'unknown command "lgos"; did you mean "logs"?' -- lgos
expect "after global options too" 1 'unknown command "confg"; did you mean "config"?' -- -p x --ansi never confg
expect "with -f's value skipped" 1 'unknown command "nope"' -- -f compose.yaml nope
expect "a docker compose command berth lacks" 1 '"pull" is a docker compose command that berth does not have yet' -- pull
expect "--version-like option values are not commands" 0 'berth' -- --ansi never version
expect "a known command still works" 0 'berth' -- version
echo "$fails failed"
[ "$fails" -eq 0 ]
