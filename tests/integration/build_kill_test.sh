#!/bin/sh
# kill -9 of `berth build` while a RUN step runs: the next build sweeps what
# the dead one left on the host (its bridge, nft table, RUN container's
# cgroup, mounts, scratch dirs), and the leak checker finds none; the RUN's
# processes die with berth; a live build's scratch dirs are left alone.
. "$(dirname "$0")/lib/common.sh"

"$here/lib/make-busybox-rootfs.sh" "$work/busybox.tar.gz"
"$BERTH" image import "$work/busybox.tar.gz" bkill/busybox:1 >/dev/null || fail "import busybox"
ip link set lo up

mkdir -p "$work/k" && cd "$work/k"
printf 'FROM bkill/busybox:1\nRUN echo started > /started; sleep 300\n' > Dockerfile
printf 'services:\n  k:\n    build: .\n' > compose.yaml
"$BERTH" -p build-kill build -q >"$work/k1.out" 2>&1 &
pid=$!
# Until the RUN's command runs: its process in a berth cgroup of a build container.
running() { grep -l '/berth/build-' /proc/[0-9]*/cgroup 2>/dev/null | while read -r f; do
    d=${f%/cgroup}; tr '\0' ' ' <"$d/cmdline" 2>/dev/null; echo; done | grep -q 'sleep 300'; }
i=0
while ! running && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
running
check "the RUN step is running" 0 $?
check "… on a build bridge, with its nft table" "1 1" "$(ip -o link show type bridge | grep -c ' berth-') $(nft list tables | grep -c berth_)"
kill -9 $pid
wait $pid 2>/dev/null
i=0
while running && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
check "the RUN dies with berth (its parent-death signal)" "" "$(running && echo still running)"
check "the dead build left its bridge, table and group (what the sweep is for)" "cgroup link nft-table " \
    "$(leak_new 'link|nft-table|cgroup|process' build- | awk '{print $1}' | sort -u | tr '\n' ' ')"

# Beside it: a dead build's dir with a mount under it (a COPY's overlay), a
# live build's (locked), and one a build is making right now (hidden, young).
tmp=$BERTH_ROOT/build-tmp
mkdir -p "$tmp/0123456789abcdef/merged" "$tmp/fedcba9876543210" "$tmp/.00000000ffffffff"
mount -t tmpfs tmpfs "$tmp/0123456789abcdef/merged"
python3 -c 'import fcntl, os, sys, time; fcntl.flock(os.open(sys.argv[1], os.O_RDONLY), fcntl.LOCK_EX); time.sleep(60)' \
    "$tmp/fedcba9876543210" </dev/null >/dev/null 2>&1 &
holder=$!
i=0
while flock -n -x "$tmp/fedcba9876543210" true && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done

# The next build sweeps them, and builds.
printf 'FROM bkill/busybox:1\nRUN echo done > /done\n' > Dockerfile
out=$("$BERTH" -p build-kill build 2>&1)
check "the next build succeeds" 0 $?
check "… and the RUN that slept is gone" "" "$(running && echo still running)"
check "… the dead builds' dirs gone, its mount too; a live build's and one being made kept" \
    ".00000000ffffffff fedcba9876543210 0" \
    "$(ls -A "$tmp" | tr '\n' ' ')$(grep -c "$tmp" /proc/self/mountinfo)"
kill $holder
wait $holder 2>/dev/null
rm -r "$tmp/fedcba9876543210" "$tmp/.00000000ffffffff"
check_no_leaks build-
cd "$work"
finish
