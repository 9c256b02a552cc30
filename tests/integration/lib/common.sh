# Shared by the integration scripts. Each script runs inside its own
# `unshare --mount --net --propagation private`, with a temporary state root.
set -u
BERTH=${BERTH:?set BERTH to the berth binary}
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d /tmp/berth-it-XXXXXX)
export BERTH_ROOT="$work/root" BERTH_RUNTIME_DIR="$work/run"
fails=0
ok() { echo "ok   $1"; }
fail() { echo "FAIL $1"; fails=$((fails + 1)); }
check() {  # check NAME EXPECTED ACTUAL
    if [ "$2" = "$3" ]; then ok "$1"; else fail "$1: want [$2] got [$3]"; fi
}
contains() {  # contains NAME NEEDLE HAYSTACK
    case "$3" in *"$2"*) ok "$1" ;; *) fail "$1: [$2] not in [$3]" ;; esac
}
# Nothing of berth's may remain: mounts under the work dir, container cgroups, processes, state dirs.
check_no_leaks() {
    if grep -q "$work" /proc/self/mountinfo; then fail "leak: a mount under $work remains"; else ok "no mounts left"; fi
    left=$(find /sys/fs/cgroup/*/berth -mindepth 1 -maxdepth 1 -type d -name "$1*" 2>/dev/null | wc -l)
    check "no cgroups left" 0 "$left"
    # The parent group goes with the last container in it (another test's containers may still be there).
    empty=0
    for d in /sys/fs/cgroup/*/berth /sys/fs/cgroup/berth; do
        [ -d "$d" ] && [ -z "$(find "$d" -mindepth 1 -maxdepth 1 -type d)" ] && empty=$((empty + 1))
    done
    check "no empty berth parent group left" 0 "$empty"
    left=$(ls "$BERTH_ROOT/containers" 2>/dev/null | grep -c "^$1" || true)
    check "no container dirs left" 0 "$left"
}
finish() {
    rm -rf "$work"
    echo "$fails failed"
    [ "$fails" -eq 0 ]
}
