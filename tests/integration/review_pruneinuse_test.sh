#!/bin/sh
# `berth image prune` (with and without -a) and `image rm -f` keep the layers a running
# container's root filesystem stacks, also once the container's image name has
# moved on to another image (a new import, pull or build under the same name):
# those old layers are no name's any more, but they are in use.
. "$(dirname "$0")/lib/common.sh"

"$here/lib/make-busybox-rootfs.sh" "$work/bb.tar"
"$BERTH" image import "$work/bb.tar" reviewpr/bb:1 >/dev/null || fail "import"
mkdir -p "$work/p" && cd "$work/p"
cat > compose.yaml <<'YAML'
name: reviewpr
services:
  app:
    image: reviewpr/bb:1
    command: [sleep, "1000"]
YAML
"$BERTH" up -d >/dev/null 2>&1 || fail "up -d"
bins() { "$BERTH" exec -T app ls /bin </dev/null 2>/dev/null | wc -l; }
before=$(bins)
[ "$before" -gt 10 ] && ok "the container's /bin has $before entries" || fail "the container's /bin has $before entries"
# Another image under the same name: the running container's layers are now no name's.
mkdir -p "$work/r2" && tar -C "$work/r2" -xf "$work/bb.tar" && echo two >"$work/r2/new" &&
    tar -C "$work/r2" -cf "$work/bb2.tar" . || fail "make a second rootfs"
"$BERTH" image import "$work/bb2.tar" reviewpr/bb:1 >/dev/null || fail "import a new reviewpr/bb:1"
out=$("$BERTH" image prune -f 2>&1) || fail "image prune: $out"
check "image prune leaves the running container's files" "$before" "$(bins)"
out=$("$BERTH" image prune -a -f 2>&1) || fail "image prune -a: $out"
check "image prune -a too" "$before" "$(bins)"
# `image rm` of the name a container uses is refused, as docker refuses it; -f untags it, and the
# layers the running container stacks stay (it removed them before).
out=$("$BERTH" image rm reviewpr/bb:1 2>&1)
check "image rm of an image a container uses exits 1" 1 $?
contains "… saying why and what to do" "is used by a container" "$out"
pid=$("$BERTH" ps --format json | sed -n 's/.*"pid":\([0-9]*\).*/\1/p' | head -1)
out=$("$BERTH" image rm -f reviewpr/bb:1 2>&1) || fail "image rm -f: $out"
# (read through /proc: what the kernel still mounts for the container.)
check "image rm -f leaves the running container's files" "$before" "$(ls "/proc/$pid/root/bin" | wc -l)"
contains "… and the name is gone" "not found" "$("$BERTH" image inspect reviewpr/bb:1 2>&1)"
"$BERTH" down >/dev/null 2>&1 || fail "down"
out=$("$BERTH" image prune -f 2>&1)
contains "once the container is gone, the next prune reclaims the old layers" "reclaimed space: " "$out"
case "$out" in *"reclaimed space: 0B"*) fail "nothing reclaimed after down: $out" ;; *) ok "the old layers reclaimed after down" ;; esac
check_no_leaks reviewpr-
finish
