#!/bin/sh
# berth's main registers only the command file of the command being run (cli/main.cc's
# kCommandFiles): every command `berth --help` lists (the whole tree) must still parse and give
# its own help when it is the one named, after global options too, and the paths that need the
# whole tree (help, completion) must still see all of it.
# Usage: commands.sh BERTH_BINARY
set -u
berth=$1
fail=0
bad() { echo "FAIL $1"; fail=$((fail + 1)); }

commands=$("$berth" --help | sed -n '/^Subcommands:/,$p' | sed -n 's/^  \([a-z][a-z-]*\) .*/\1/p')
count=$(echo "$commands" | wc -w)
[ "$count" -ge 20 ] || bad "berth --help lists only $count commands: [$commands]"
for c in $commands; do
    for pre in "" "-p someproject --ansi never" "--file=x.yaml --verbose" "--help"; do
        # shellcheck disable=SC2086
        out=$("$berth" $pre "$c" --help 2>&1) || { bad "berth $pre $c --help: exit $?: $out"; continue; }
        echo "$out" | grep -q "^Usage: berth $c" || bad "berth $pre $c --help: no \"Usage: berth $c\": $out"
    done
done
completion=$("$berth" completion bash)
for c in $commands; do
    case "$completion" in *" $c "* | *" $c\""*) ;; *) bad "completion bash lacks $c" ;; esac
done
"$berth" nosuchcommand >/dev/null 2>&1 && bad "an unknown command exits 0"
[ "$("$berth" -p version version --short)" = "$("$berth" version --short)" ] ||
    bad "a global option's value that names a command is taken for the command"
# Unknown commands are named, with the nearest one; docker compose commands berth lacks are said so.
expect() {  # expect NAME STATUS NEEDLE -- ARGS...
    name=$1 want=$2 needle=$3; shift 4
    out=$("$berth" "$@" 2>&1); st=$?
    [ "$st" = "$want" ] || { bad "$name: exit $st, want $want: $out"; return; }
    case "$out" in *"$needle"*) echo "ok   $name" ;; *) bad "$name: [$needle] not in [$out]" ;; esac
}
expect "a typo names the nearest command" 1 'unknown command "lgos"; did you mean "logs"?' -- lgos
expect "after global options too" 1 'unknown command "confg"; did you mean "config"?' -- -p x --ansi never confg
expect "with -f's value skipped" 1 'unknown command "nope"' -- -f compose.yaml nope
expect "a docker compose command berth lacks" 1 '"publish" is a docker compose command that berth does not have yet' -- publish
expect "an option's value is not a command" 0 'berth' -- --ansi never version
echo "$count commands, $fail failed"
[ "$fail" -eq 0 ]
