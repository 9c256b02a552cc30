#!/bin/sh
# Every command and option of `docker compose --help`, as its reference pages
# list them (data/compose_reference.txt, made from docker/compose's
# docs/reference/docker_compose*.yaml): berth either has it (listed in the
# command's --help) or says clearly that it does not: a non-zero exit and a
# message naming the command or option. Never a crash, never CLI11's generic
# "arguments were not expected".
set -u
BERTH=${1:?usage: compose_reference.sh BERTH [REFERENCE]}
ref=$(realpath "${2:-$(dirname "$0")/data/compose_reference.txt}") || exit 1
BERTH=$(realpath "$BERTH")
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
cd "$dir" || exit 1
export BERTH_ROOT="$dir/root" BERTH_RUNTIME_DIR="$dir/run"
fails=0 has=0 says=0 lacks=0
fail() { echo "FAIL $1"; fails=$((fails + 1)); }

# A command berth lacks names itself.
for cmd in $(grep -v '^#' "$ref" | awk '$1 != "-" {print $1}' | sort -u); do
    if "$BERTH" "$cmd" --help >"$dir/out" 2>&1; then
        continue
    fi
    rc=$?
    out=$(cat "$dir/out")
    [ "$rc" -ge 128 ] && fail "$cmd: crashed ($rc)"
    case "$out" in
        *"\"$cmd\" is a docker compose command that berth does not have yet"*) lacks=$((lacks + 1)); echo "lacks command $cmd" ;;
        *) fail "$cmd: neither help nor a clear refusal: $out" ;;
    esac
done

# Each option: in the help, or refused by name.
grep -v '^#' "$ref" | while read -r cmd opt short type; do
    [ "$opt" = "-" ] && continue
    if [ "$cmd" = "-" ]; then help=$("$BERTH" --help 2>&1); else help=$("$BERTH" "$cmd" --help 2>&1) || continue; fi
    if printf '%s\n' "$help" | grep -Eq -- "--$opt([ ,=]|\$)"; then
        # berth has it: and its shorthand, when docker has one, is the same option.
        if [ "$short" != "-" ] && ! printf '%s\n' "$help" | grep -Eq -- "-$short,[^ ]*--$opt([ ,=]|\$)"; then
            echo "note $cmd --$opt: berth lacks the shorthand -$short"
        fi
        echo "has $cmd --$opt"
        continue
    fi
    value=""
    [ "$type" = bool ] || value=x
    if [ "$cmd" = "-" ]; then
        "$BERTH" "--$opt" ${value:+"$value"} ps >"$dir/out" 2>&1
    else
        "$BERTH" "$cmd" "--$opt" ${value:+"$value"} >"$dir/out" 2>&1
    fi
    rc=$?
    out=$(cat "$dir/out")
    if [ "$rc" -ge 128 ]; then fail "$cmd --$opt: crashed ($rc)"; continue; fi
    if [ "$rc" -eq 0 ]; then fail "$cmd --$opt: accepted silently though not in the help"; continue; fi
    case "$out" in
        *"--$opt\` is not supported by berth"*) echo "says $cmd --$opt" ;;
        *"arguments were not expected"* | *"not expected"*) fail "$cmd --$opt: a generic parse error: $out" ;;
        *) fail "$cmd --$opt: unclear: $out" ;;
    esac
    # The shorthand too, when docker has one and berth's help has none.
    if [ "$short" != "-" ] && [ "$cmd" != "-" ]; then
        "$BERTH" "$cmd" "-$short" ${value:+"$value"} >"$dir/out" 2>&1
        rc=$?
        case "$(cat "$dir/out")" in
            *"--$opt\` is not supported by berth"*) ;;
            *) [ "$rc" -ge 128 ] && fail "$cmd -$short: crashed" || fail "$cmd -$short: unclear: $(cat "$dir/out")" ;;
        esac
    fi
done >"$dir/log"
cat "$dir/log"
fails=$((fails + $(grep -c '^FAIL' "$dir/log")))
echo "$(grep -c '^has' "$dir/log") options berth has, $(grep -c '^says' "$dir/log") it refuses by name, $lacks commands it lacks"
# The walk must have walked: docker compose has some 190 options, 140 of them on commands berth has.
[ "$(grep -c -E '^(has|says)' "$dir/log")" -ge 120 ] || fail "fewer than 120 options checked: is $ref whole?"
echo "$fails failed"
[ "$fails" -eq 0 ]
