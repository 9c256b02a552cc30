#!/bin/sh
# Device access in containers: a default container may make device nodes
# (mknod) but may open only the default devices (null, zero, full, random,
# urandom, tty, console, ptmx, pts); `devices:`, `device_cgroup_rules:` and
# `privileged: true` widen that. The block device used is a loop device over a
# file this test makes, detached at the end; no other block device is touched.
. "$(dirname "$0")/lib/common.sh"

disk="$work/disk.img"
dd if=/dev/zero of="$disk" bs=64k count=16 2>/dev/null
printf 'BERTHDISK' | dd of="$disk" conv=notrunc 2>/dev/null
loop=$(losetup -f --show "$disk") || { fail "losetup -f --show $disk"; finish; exit 1; }
cleanup_loop() { [ -n "$loop" ] && losetup -d "$loop" 2>/dev/null; loop=; }
trap cleanup_loop EXIT
trap 'cleanup_loop; exit 1' HUP INT PIPE TERM  # a killed run detaches it too
maj=$(printf '%d' "0x$(stat -c %t "$loop")")
min=$(printf '%d' "0x$(stat -c %T "$loop")")
check "the loop device shows the test's file" "BERTHDISK" "$(head -c 9 "$loop")"

# An image whose layer ships a block device node (/blk) for the loop device.
"$here/lib/make-busybox-rootfs.sh" "$work/busybox.tar"
python3 - "$work/busybox.tar" "$maj" "$min" <<'PY'
import sys, tarfile
with tarfile.open(sys.argv[1], "a") as t:
    i = tarfile.TarInfo("./blk")
    i.type = tarfile.BLKTYPE
    i.devmajor, i.devminor, i.mode = int(sys.argv[2]), int(sys.argv[3]), 0o666
    t.addfile(i)
PY
"$BERTH" image import "$work/busybox.tar" escdev/busybox:1 >/dev/null || fail "image import"

mkdir -p "$work/proj"
cat > "$work/proj/compose.yaml" <<YAML
name: escdev
services:
  plain:
    image: escdev/busybox:1
    command: ["sleep", "60"]
  mapped:
    image: escdev/busybox:1
    devices: ["$loop:/dev/xdisk"]
  mapped_ro:
    image: escdev/busybox:1
    devices:
      - source: $loop
        target: /dev/xdisk
        permissions: r
  ruled:
    image: escdev/busybox:1
    device_cgroup_rules: ["b $maj:* r"]
  priv:
    image: escdev/busybox:1
    privileged: true
YAML
cd "$work/proj"
run() {  # run NAME SERVICE SCRIPT
    "$BERTH" run --rm --name "$1" "$2" sh -c "$3" </dev/null 2>&1
}
host_head() { head -c 9 "$loop"; }

# --- a default container ---
out=$(run escdev-mk plain "mknod /dev/x b $maj $min && echo made")
check "mknod of a block device is allowed (m)" "made" "$out"
out=$(run escdev-rd plain "mknod /dev/x b $maj $min; head -c 9 /dev/x")
contains "reading a node made with mknod is refused" "Operation not permitted" "$out"
case "$out" in *BERTHDISK*) fail "a default container read the host's loop device" ;; *) ok "nothing of the disk was read" ;; esac
out=$(run escdev-wr plain "mknod /dev/x b $maj $min; printf HACKED > /dev/x")
contains "writing a node made with mknod is refused" "Operation not permitted" "$out"
check "the disk is unchanged" "BERTHDISK" "$(host_head)"
out=$(run escdev-img plain "head -c 9 /blk; printf HACKED > /blk")
contains "an image layer's block device cannot be opened" "Operation not permitted" "$out"
case "$out" in *DISK*) fail "a device node from an image read the host's disk" ;; *) ok "the image's node read nothing" ;; esac
check "the disk is unchanged by the image's node" "BERTHDISK" "$(host_head)"
out=$(run escdev-ok plain 'echo x > /dev/null && head -c 5 /dev/zero | wc -c && head -c 7 /dev/urandom | wc -c &&
    head -c 3 /dev/random | wc -c && exec 3<>/dev/ptmx && echo ptmx; echo y > /dev/full')
check "default devices still work" "5 7 3 ptmx" "$(echo "$out" | grep -v 'No space' | tr '\n' ' ' | sed 's/ $//')"
contains "/dev/full is writable (ENOSPC)" "No space left on device" "$out"
out=$(run escdev-char plain 'mknod /dev/mem2 c 1 1 && head -c 1 /dev/mem2')
contains "a char device outside the list (mem 1:1) is refused" "Operation not permitted" "$out"

# exec joins the same device rules.
"$BERTH" up -d plain >/dev/null 2>&1 || fail "up -d plain"
out=$("$BERTH" exec -T plain sh -c 'head -c 9 /blk' </dev/null 2>&1)
contains "exec in a running container cannot read the image's node" "Operation not permitted" "$out"
"$BERTH" down >/dev/null 2>&1

# --- widening ---
out=$(run escdev-map mapped "head -c 9 /dev/xdisk")
check "devices: makes the mapped device readable" "BERTHDISK" "$out"
out=$(run escdev-mapls mapped "stat -c '%t:%T %F' /dev/xdisk")
check "the mapped node has the host's numbers" "$(printf '%x:%x' "$maj" "$min") block special file" "$out"
out=$(run escdev-mapro mapped_ro "head -c 9 /dev/xdisk; printf HACKED > /dev/xdisk")
contains "long form, permissions r: readable" "BERTHDISK" "$out"
contains "permissions r: not writable" "Operation not permitted" "$out"
check "the disk is unchanged by the read-only mapping" "BERTHDISK" "$(host_head)"
out=$(run escdev-rule ruled "mknod /dev/x b $maj $min; head -c 9 /dev/x; printf HACKED > /dev/x")
contains "device_cgroup_rules b MAJ:* r: readable" "BERTHDISK" "$out"
contains "device_cgroup_rules r: not writable" "Operation not permitted" "$out"
out=$(run escdev-priv priv "mknod /dev/x b $maj $min; head -c 9 /dev/x")
check "privileged: true allows the device" "BERTHDISK" "$out"

# --- bad input ---
cat > "$work/proj/bad.yaml" <<'YAML'
name: escdev
services:
  x:
    image: escdev/busybox:1
    device_cgroup_rules: ["c 1:3 rwx"]
YAML
out=$("$BERTH" -f "$work/proj/bad.yaml" config 2>&1)
check "a bad device_cgroup_rule exits 1" 1 $?
contains "a bad device_cgroup_rule names file:line" "bad.yaml:5:" "$out"
cat > "$work/proj/bad2.yaml" <<'YAML'
name: escdev
services:
  x:
    image: escdev/busybox:1
    devices: ["/dev/null:/dev/n:rwq"]
YAML
out=$("$BERTH" -f "$work/proj/bad2.yaml" config 2>&1)
check "bad devices: permissions exit 1" 1 $?
contains "bad devices: permissions name file:line" "bad2.yaml:5:" "$out"
cat > "$work/proj/bad3.yaml" <<'YAML'
name: escdev
services:
  x:
    image: escdev/busybox:1
    devices: ["/etc/hostname:/dev/n"]
YAML
out=$("$BERTH" -f "$work/proj/bad3.yaml" run --rm --name escdev-bad3 x true </dev/null 2>&1)
check "a devices: source that is no device is refused" 1 $?
contains "the error says what is wrong" "not a device" "$out"

check "the disk still holds what the test wrote" "BERTHDISK" "$(host_head)"
cd /
check_no_leaks escdev-
"$BERTH" image rm escdev/busybox:1 >/dev/null 2>&1
cleanup_loop
check "the loop device is detached" "" "$(losetup -j "$disk")"
finish
