#!/bin/sh
# Named volumes, binds and tmpfs end to end: data survives down/up and a
# killed supervisor, `down -v` removes it, image content is copied into a new
# volume with its ownership, read-only binds, tmpfs size, sharing, external
# volumes, `volume rm` refused while in use, and `berth cp` both ways.
. "$(dirname "$0")/lib/common.sh"

# An image with content at /seed owned by 1234:5678, to be copied into a volume.
mkdir -p "$work/extra"
"$here/lib/make-busybox-rootfs.sh" "$work/base.tar"
mkdir -p "$work/rootfs" && tar -C "$work/rootfs" -xf "$work/base.tar"
mkdir -p "$work/rootfs/seed" && echo seeded > "$work/rootfs/seed/file" && chown -R 1234:5678 "$work/rootfs/seed"
tar --sort=name --numeric-owner -C "$work/rootfs" -cf "$work/busybox.tar" .
"$BERTH" image import "$work/busybox.tar" it/busybox >/dev/null
mkdir -p "$work/stack" && cd "$work/stack"
cat > compose.yaml <<'YAML'
name: itvol
services:
  writer:
    image: it/busybox
    command: sh -c 'date +%s%N > /data/stamp; exec sleep 1000'
    init: true
    volumes: [data:/data]
  reader:
    image: it/busybox
    command: sleep 1000
    init: true
    volumes:
      - data:/shared
      - seeded:/seed
      - ./conf:/conf:ro
      - type: tmpfs
        target: /scratch
        tmpfs: {size: 1m}
  nocopy:
    image: it/busybox
    command: sleep 1000
    init: true
    volumes:
      - type: volume
        source: empty
        target: /seed
        volume: {nocopy: true}
volumes:
  data:
  seeded:
  empty:
YAML
mkdir -p conf && echo setting > conf/app.conf
"$BERTH" up -d --wait >/dev/null 2>&1 || fail "up"
x() { "$BERTH" exec -T "$@" 2>&1; }
stamp=$(x writer cat /data/stamp)
[ -n "$stamp" ] && ok "the writer wrote into its volume" || fail "no stamp written"
check "two services share a volume" "$stamp" "$(x reader cat /shared/stamp)"
check "image content copied into a new volume" seeded "$(x reader cat /seed/file)"
check "with its ownership" "1234:5678" "$(x reader stat -c %u:%g /seed/file)"
check "nocopy leaves the volume empty" "" "$(x nocopy ls /seed)"
check "bind mount visible" setting "$(x reader cat /conf/app.conf)"
out=$(x reader sh -c 'echo x > /conf/new' ; echo "rc=$?")
case "$out" in *rc=0*) fail "a read-only bind was written" ;; *) ok "a read-only bind cannot be written" ;; esac
out=$(x reader sh -c 'dd if=/dev/zero of=/scratch/big bs=1024 count=2048 2>&1'; echo "rc=$?")
case "$out" in *"No space left"*) ok "tmpfs size is enforced" ;; *) fail "tmpfs size not enforced: $out" ;; esac
contains "volume ls lists the project's volumes" "itvol_data" "$("$BERTH" volume ls)"
contains "labelled with the project" '"com.docker.compose.project":"itvol"' "$("$BERTH" volume ls --format json)"
out=$("$BERTH" volume rm itvol_data 2>&1; echo "rc=$?")
contains "removing a volume in use is refused" "in use by running container" "$out"

# berth cp, both ways: a file, a directory into an existing directory and under a new name, a symlink kept as a link.
mkdir -p "$work/cp/tree/sub" && echo one > "$work/cp/tree/a" && echo two > "$work/cp/tree/sub/b"
"$BERTH" cp "$work/cp/tree" reader:/tmp/ || fail "cp into the container"
check "cp host -> container (directory)" two "$(x reader cat /tmp/tree/sub/b)"
"$BERTH" cp "$work/cp/tree/a" reader:/tmp/renamed || fail "cp a file in"
check "cp host -> container (file, new name)" one "$(x reader cat /tmp/renamed)"
x reader sh -c 'mkdir -p /tmp/out/d && echo inside > /tmp/out/d/f && ln -s /etc/passwd /tmp/out/link' >/dev/null
"$BERTH" cp reader:/tmp/out "$work/cp/copy" || fail "cp out of the container"
check "cp container -> host (directory, new name)" inside "$(cat "$work/cp/copy/d/f")"
check "a symlink stays a link (never followed to the host)" /etc/passwd "$(readlink "$work/cp/copy/link")"
"$BERTH" cp reader:/conf/app.conf "$work/cp/" || fail "cp a file out"
check "cp container -> host (file into a directory)" setting "$(cat "$work/cp/app.conf")"
out=$("$BERTH" cp reader:/no/such "$work/cp/x" 2>&1; echo "rc=$?")
contains "cp of a missing path fails" "rc=1" "$out"

# down keeps the data; up finds it again. A killed supervisor loses nothing either.
"$BERTH" down >/dev/null 2>&1 || fail "down"
check "down keeps named volumes" "$stamp" "$(cat "$BERTH_ROOT/volumes/itvol_data/_data/stamp")"
"$BERTH" up -d --wait reader >/dev/null 2>&1 || fail "up again"
check "the data is there after down and up" "$stamp" "$(x reader cat /shared/stamp)"
sup=$(sed -n 's/.*"supervisor": *\([0-9]*\).*/\1/p' "$BERTH_RUNTIME_DIR/itvol/project.json")
[ -n "$sup" ] && kill -9 "$sup"
sleep 0.2
"$BERTH" down >/dev/null 2>&1
check "a killed supervisor loses no data" "$stamp" "$(cat "$BERTH_ROOT/volumes/itvol_data/_data/stamp")"

# down -v removes the project's named volumes, never bind sources.
"$BERTH" down -v >/dev/null 2>&1 || fail "down -v"
check "down -v removes the named volumes" "" "$("$BERTH" volume ls -q | grep itvol_)"
check "down -v keeps bind sources" setting "$(cat conf/app.conf)"

# An external volume that does not exist fails up before anything starts; once created, it works and survives down -v.
cat > compose.yaml <<'YAML'
name: itext
services:
  first:
    image: it/busybox
    command: sleep 1000
  user:
    image: it/busybox
    command: sh -c 'echo hi > /x/hello; exec sleep 1000'
    init: true
    volumes: [shared:/x]
volumes:
  shared:
    external: true
    name: precious
YAML
out=$("$BERTH" up -d 2>&1; echo "rc=$?")
contains "missing external volume is an error" "external volume precious does not exist" "$out"
check "nothing started" "" "$("$BERTH" ps -q)"
"$BERTH" volume create precious >/dev/null
"$BERTH" up -d --wait user >/dev/null 2>&1 || fail "up with the external volume"
"$BERTH" down -v >/dev/null 2>&1
check "down -v never removes an external volume" hi "$(cat "$BERTH_ROOT/volumes/precious/_data/hello")"
# A one-off container holds its volumes as a service's container does.
"$BERTH" run -d --rm --name itext-once user sleep 30 >/dev/null 2>&1 || fail "run -d with the volume"
out=$("$BERTH" volume rm precious 2>&1; echo "rc=$?")
contains "removing a volume a one-off container uses is refused" "in use by running container itext-once" "$out"
rec="$BERTH_RUNTIME_DIR/itext/runs/containers/itext-once.json"
pid=$(sed -n 's/.*"pid": *\([0-9]*\).*/\1/p' "$rec")
[ -n "$pid" ] && kill -9 "$pid"
for _ in $(seq 50); do [ -e "$rec" ] || break; sleep 0.1; done
"$BERTH" volume rm precious >/dev/null || fail "volume rm"
check "volume rm removes it" "" "$("$BERTH" volume ls -q)"
# A device volume (driver_opts type ext4 on a loop device of this test's own): mounted while up,
# unmounted by down, its files kept by down -v.
truncate -s 16M "$work/disk.img" && mkfs.ext4 -q "$work/disk.img"
loop=$(losetup -f --show "$work/disk.img")
cat > compose.yaml <<YAML
name: itdev
services:
  user:
    image: it/busybox
    command: sh -c 'echo on-disk > /d/file; exec sleep 1000'
    init: true
    volumes: [disk:/d]
volumes:
  disk:
    driver_opts: {type: ext4, o: noatime, device: $loop}
YAML
"$BERTH" up -d --wait >/dev/null 2>&1 || fail "up with a device volume"
for _ in $(seq 30); do [ "$(x user cat /d/file)" = on-disk ] && break; sleep 0.1; done
check "a device volume is mounted in the container" ext4 "$(x user sh -c 'grep " /d " /proc/mounts' | awk '{print $3}')"
"$BERTH" down -v >/dev/null 2>&1
check "down unmounts the device" "" "$(grep "$BERTH_ROOT" /proc/self/mountinfo)"
mkdir -p "$work/check" && mount "$loop" "$work/check"
check "down -v keeps a device's files" on-disk "$(cat "$work/check/file")"
umount "$work/check"; losetup -d "$loop"

check_no_leaks itvol
check_no_leaks itext
check_no_leaks itdev
finish
