#!/bin/sh
# The leak checker itself (lib/common.sh): each kind of leftover it promises to
# find is made by hand and must be named; once removed, nothing is reported.
. "$(dirname "$0")/lib/common.sh"

# Runs the checker in a subshell with its own counter and prints its verdict line.
verdict() { (fails=0; check_all_gone); }
clean=$(verdict)
check "a fresh script has no leftovers" "ok   nothing leaked (mounts, links, nft tables, cgroups, processes, runtime and state files)" "$clean"

mkdir -p "$work/m" "$BERTH_RUNTIME_DIR/leakp" "$BERTH_ROOT/containers/leakp-web-1"
mount -t tmpfs none "$work/m"
ip link add leakbr0 type bridge
nft add table inet leaktable
leak_prefixes="leakp-"
cg=""
for d in /sys/fs/cgroup/pids /sys/fs/cgroup/memory /sys/fs/cgroup/unified; do
    [ -d "$d" ] && { cg="$d/berth/leakp-web-1-$$"; mkdir -p "$cg"; break; }
done
(cd /; exec sleep 60) &
sleeper=$!
[ -n "$cg" ] && echo "$sleeper" > "$cg/cgroup.procs"

out=$(verdict)
contains "a mount is named" "mount $work/m" "$out"
contains "a link is named" "link leakbr0" "$out"
contains "an nft table is named" "nft-table inet leaktable" "$out"
contains "a runtime file is named" "runtime-file $BERTH_RUNTIME_DIR/leakp" "$out"
contains "a container dir is named" "container-dir $BERTH_ROOT/containers/leakp-web-1" "$out"
if [ -n "$cg" ]; then
    contains "a cgroup is named" "cgroup $cg" "$out"
    contains "a process in it is named" "process $sleeper sleep 60" "$out"
fi

kill "$sleeper"; wait "$sleeper" 2>/dev/null
[ -n "$cg" ] && { rmdir "$cg"; rmdir "$(dirname "$cg")" 2>/dev/null; }
umount "$work/m"
ip link del leakbr0
nft delete table inet leaktable
rm -rf "$BERTH_RUNTIME_DIR/leakp" "$BERTH_ROOT/containers/leakp-web-1"
check "all removed, nothing is reported" "$clean" "$(verdict)"
finish
