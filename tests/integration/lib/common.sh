# Shared by the integration scripts. Each script runs inside its own
# `unshare --mount --net --propagation private`, with a temporary state root.
set -u
BERTH=${BERTH:?set BERTH to the berth binary}
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d /tmp/berth-it-XXXXXX)
export BERTH_ROOT="$work/root" BERTH_RUNTIME_DIR="$work/run"
# Should this script be killed from outside (ctest's timeout), lib/guard.sh, in a session of
# its own, ends the supervisors and containers it left and removes $work. It finds them by
# BERTH_ROOT in their environment: its own environment goes without.
env -u BERTH_ROOT -u BERTH_RUNTIME_DIR setsid sh "$here/lib/guard.sh" $$ "$work" </dev/null >/dev/null 2>&1 &
fails=0
ok() { echo "ok   $1"; }
fail() { echo "FAIL $1"; fails=$((fails + 1)); }
check() {  # check NAME EXPECTED ACTUAL
    if [ "$2" = "$3" ]; then ok "$1"; else fail "$1: want [$2] got [$3]"; fi
}
contains() {  # contains NAME NEEDLE HAYSTACK
    case "$3" in *"$2"*) ok "$1" ;; *) fail "$1: [$2] not in [$3]" ;; esac
}
# The leak checker. leak_state prints what berth can leave on the host, one
# "KIND NAME" line each: mounts, links and nft tables of this script's private
# namespaces, berth cgroups of this script's projects (in every hierarchy, v1
# and v2), supervisors and container processes of this script, and files under
# the runtime dir and the containers' state. The script's start is the
# baseline; check_no_leaks PREFIX compares after a project's `down` (another
# project of the script may still run: cgroups, processes and files are
# matched to PREFIX), and finish compares everything, named, once all is down.
leak_prefixes=""
leak_cgroups() {  # berth cgroup directories of the given name prefixes
    for pre in "$@"; do
        find /sys/fs/cgroup -mindepth 2 -maxdepth 4 -type d -path '*/berth/*' -name "$pre*" 2>/dev/null
    done | sort -u
}
leak_procs() {  # this script's supervisors (berth with its state root), and processes in its projects' cgroups
    # A few processes for the whole of /proc (a loop forking per pid took seconds).
    me=$(readlink -f "$BERTH")
    ours=""
    for exe in $(find /proc/[0-9]*/exe -maxdepth 0 -lname "$me" 2>/dev/null); do
        d=${exe%/exe}
        pid=${d#/proc/}
        [ "$pid" = $$ ] && continue
        # A container's PID 1 under `init: true` is berth's own init, a fork of the supervisor
        # (the same exe and environment): it is in a container's cgroup, where the loop below names it.
        grep -q "/berth/" "$d/cgroup" 2>/dev/null && continue
        if tr '\0' '\n' <"$d/environ" 2>/dev/null | grep -qx "BERTH_ROOT=$BERTH_ROOT"; then
            echo "process $pid berth $(tr '\0' ' ' <"$d/cmdline" 2>/dev/null)"
            ours="$ours $pid "
        fi
    done
    for pre in "$@"; do
        grep -l "/berth/$pre" /proc/[0-9]*/cgroup 2>/dev/null | while read -r f; do
            d=${f%/cgroup}
            pid=${d#/proc/}
            case "$ours" in *" $pid "*) continue ;; esac
            [ "$pid" = $$ ] && continue
            grp=$(grep -m1 -o "/berth/$pre[^/]*" "$f" 2>/dev/null) || continue  # gone meanwhile
            echo "process $pid $(tr '\0' ' ' <"$d/cmdline" 2>/dev/null) in $grp"
        done
    done | sort -u
}
leak_state() {  # leak_state [PREFIX...]: without prefixes, only what is private to this script
    awk '{print "mount " $5}' /proc/self/mountinfo | sort -u
    ip -o link show 2>/dev/null | awk -F': ' '{sub(/@.*/, "", $2); print "link " $2}' | sort
    nft list tables 2>/dev/null | sed 's/^table /nft-table /' | sort
    [ $# -gt 0 ] && leak_cgroups "$@" | sed 's/^/cgroup /'
    leak_procs "$@"
    # networks.lock is the address allocator's flock file: kept on purpose, empty.
    # memo/ is a cache of compose documents found valid (state/memo.h): kept on purpose.
    find "$BERTH_RUNTIME_DIR" -mindepth 1 ! -path "$BERTH_RUNTIME_DIR/networks.lock" ! -path "$BERTH_RUNTIME_DIR/memo" ! -path "$BERTH_RUNTIME_DIR/memo/*" 2>/dev/null | sort | sed 's/^/runtime-file /'
    find "$BERTH_ROOT/containers" -mindepth 1 -maxdepth 1 2>/dev/null | sort | sed 's/^/container-dir /'
}
leak_baseline=$(leak_state)
printf '%s\n' "$leak_baseline" > "$work/.leak_baseline"
# Lines of `leak_state` now that the baseline lacks, for kinds matching $1 (a grep -E pattern).
leak_new() {
    kinds=$1; shift
    leak_state "$@" | grep -E "^($kinds) " | grep -vxF -f "$work/.leak_baseline"
}
# check_no_leaks PREFIX: nothing of the project(s) PREFIX* remains. Mounts are
# checked whole (berth mounts only under the state root); cgroups, processes,
# runtime files and container dirs by name.
check_no_leaks() {
    leak_prefixes="$leak_prefixes $1"
    left=$(leak_new mount)
    if [ -n "$(echo "$left" | grep "$work")" ]; then fail "leak: $(echo "$left" | grep "$work" | head -3 | tr '\n' ' ')"; else ok "no mounts left"; fi
    left=$(leak_cgroups "$1")
    check "no cgroups left" "" "$left"
    # The parent group goes with the last container in it (another test's containers may still be there).
    # Another script's container may be coming or going at this moment (ctest -j2), leaving the
    # parent empty for an instant: a leak is an empty parent that stays.
    for _ in $(seq 30); do
        empty=0
        for d in /sys/fs/cgroup/*/berth /sys/fs/cgroup/berth; do
            [ -d "$d" ] && [ -z "$(find "$d" -mindepth 1 -maxdepth 1 -type d)" ] && empty=$((empty + 1))
        done
        [ "$empty" -eq 0 ] && break
        sleep 0.1
    done
    check "no empty berth parent group left" 0 "$empty"
    left=$(ls "$BERTH_ROOT/containers" 2>/dev/null | grep "^$1" || true)
    check "no container dirs left" "" "$left"
    left=$(leak_procs "$1" | grep -v "^process [0-9]* berth" || true)
    check "no container processes left" "" "$left"
}
# wait_client PID: until the berth client PID (events, attach, logs -f started with &) holds its
# connection to the supervisor, then a moment for the supervisor to read its request: what a
# test does next is then seen by it (up to 10 s; a fixed sleep was too short on a loaded machine).
wait_client() {
    for _ in $(seq 200); do
        ls -l "/proc/$1/fd" 2>/dev/null | grep -q 'socket:' && break
        sleep 0.05
    done
    sleep 0.2
}
# wait_attached PID: until `berth attach` (PID, started with &) follows: it catches SIGINT (to
# pass it on) from the moment it took its place in the log, so what the container prints next is shown.
wait_attached() {
    for _ in $(seq 200); do
        mask=$(sed -n 's/^SigCgt:[[:space:]]*//p' "/proc/$1/status" 2>/dev/null)
        [ -n "$mask" ] && [ $((0x$mask & 2)) -ne 0 ] && return 0
        sleep 0.05
    done
    return 1
}
# Everything the script made is gone: the whole state, diffed against the
# script's start, each leftover named.
check_all_gone() {
    # A container's veth goes with its network namespace, removed by the kernel after the last
    # process is gone (berth never deletes one: PERFORMANCE-NOTES), and on a loaded machine that
    # can take seconds: leftovers that are only such links are given up to 10 s to go.
    for _ in $(seq 100); do
        # shellcheck disable=SC2086
        left=$(leak_new 'mount|link|nft-table|cgroup|process|runtime-file|container-dir' $leak_prefixes)
        [ -n "$left" ] && [ -z "$(echo "$left" | grep -v '^link veth')" ] || break
        sleep 0.1
    done
    check "nothing leaked (mounts, links, nft tables, cgroups, processes, runtime and state files)" "" "$left"
}
finish() {
    check_all_gone
    rm -rf "$work"
    echo "$fails failed"
    [ "$fails" -eq 0 ]
}
