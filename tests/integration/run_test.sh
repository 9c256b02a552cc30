#!/bin/sh
# `berth image import` + `berth run` end to end, as a user runs them.
. "$(dirname "$0")/lib/common.sh"

"$here/lib/make-busybox-rootfs.sh" "$work/busybox.tar.gz"
id=$("$BERTH" image import "$work/busybox.tar.gz" berth-test/busybox:1)
contains "import prints the image id" "sha256:" "$id"
contains "image ls lists it" "berth-test/busybox" "$("$BERTH" image ls)"

mkdir -p "$work/proj"
cat > "$work/proj/compose.yaml" <<'YAML'
services:
  app:
    image: berth-test/busybox:1
    environment:
      GREETING: hello
    working_dir: /srv
    mem_limit: 32m
    command: ["sh", "-c", "echo $$GREETING from $$(hostname); exit 4"]
  oom:
    image: berth-test/busybox:1
    mem_limit: 16m
    memswap_limit: 16m
    command: ["dd", "if=/dev/zero", "of=/dev/null", "bs=64M", "count=1"]
  quiet:
    image: berth-test/busybox:1
  linked:
    image: berth-test/linked-etc:1
YAML
cd "$work/proj"

out=$("$BERTH" run --rm --name itest-app app </dev/null)
check "exit code is the container's" 4 $?
check "command and environment from compose" "hello from itest-app" "$out"

out=$("$BERTH" run --rm --name itest-cmd -e X=1 -u nobody app sh -c 'echo $X $(id -u) $(pwd) $$' </dev/null)
check "run COMMAND, -e, -u, working_dir, PID 1" "1 65534 /srv 1" "$out"

# A repeatable option takes one value per occurrence (docker's habit): SERVICE and COMMAND follow.
out=$("$BERTH" run --rm -T -e A=1 -e B=2 --name itest-opts app sh -c 'echo $A$B' </dev/null 2>&1)
check "run -e A=1 -e B=2 SERVICE COMMAND" "12" "$out"
out=$("$BERTH" run --rm -T -e A=1 app env </dev/null 2>&1 | grep -c '^A=1$')
check "run -e A=1 SERVICE env: env is the command" "1" "$out"

out=$("$BERTH" run --rm --name itest-miss app /no/such </dev/null 2>&1)
check "a missing program exits 127, as in docker" 127 $?
contains "missing program is named" "exec /no/such: No such file or directory" "$out"
out=$("$BERTH" run --rm --name itest-noexec app /etc/passwd </dev/null 2>&1)
check "a program that cannot be executed exits 126, as in docker" 126 $?
contains "… and says why" "exec /etc/passwd: Permission denied" "$out"

out=$("$BERTH" run --rm --name itest-oom oom </dev/null 2>&1)
check "OOM kill exit code" 137 $?
contains "OOM kill is reported" "OOMKilled" "$out"

out=$(echo piped | "$BERTH" run --rm -T --name itest-stdin app cat)
check "stdin is attached" "piped" "$out"

# A container that writes nothing leaves nothing in its upper dir: the mount points of
# /etc/hostname, /etc/hosts, /proc, /dev and /sys come from a shared read-only init layer,
# the generated files and the root's mount point live in the runtime dir while it runs.
out=$("$BERTH" run -T --name itest-quiet quiet sh -c 'cat /etc/hostname; grep localhost /etc/hosts | head -1' </dev/null 2>&1)
check "/etc/hostname and /etc/hosts inside" "itest-quiet
127.0.0.1	localhost" "$out"
check "a container that wrote nothing has an empty upper dir" "" \
    "$(find "$BERTH_ROOT/containers/itest-quiet/upper" -mindepth 1 2>&1)"
check "… and its generated files are not in its state dir" "" \
    "$(ls "$BERTH_ROOT/containers/itest-quiet" | grep -E '^(hostname|hosts|resolv.conf|rootfs)$')"
check "… nor left in the runtime dir once it ended" "" "$(ls "$BERTH_RUNTIME_DIR/proj/ctr" 2>/dev/null)"
out=$("$BERTH" run -T --name itest-quiet2 quiet sh -c 'echo x > /etc/new; cat /etc/passwd | head -1' </dev/null 2>&1)
check "a write to /etc still works, beside the image's files" "root:x:0:0:root:/root:/bin/sh" "$out"
check "… and is all there is in its upper dir" "/etc /etc/new" \
    "$(cd "$BERTH_ROOT/containers/itest-quiet2/upper" && find . -mindepth 1 | sed 's/^\.//' | sort | tr '\n' ' ' | sed 's/ $//')"
# A removed container's state dir is kept, emptied, for the next one to take (a few at most),
# and nothing of what it wrote reaches the next.
"$BERTH" run --rm -T --name itest-writer quiet sh -c 'echo secret > /leak; mkdir -p /d/e; echo x > /d/e/f' </dev/null
out=$("$BERTH" run --rm -T --name itest-reader quiet sh -c 'cat /leak /d/e/f 2>/dev/null; ls /d 2>/dev/null; echo end' </dev/null 2>&1)
check "a spare state dir brings nothing of the container before" "end" "$out"
n=$(ls "$BERTH_ROOT/spare" | wc -l)
[ "$n" -ge 1 ] && [ "$n" -le 4 ] && ok "removed containers' dirs kept as spares ($n)" || fail "spares: want 1 to 4, got $n"
check "… each an empty upper/ and work/" "" "$(find "$BERTH_ROOT/spare" -mindepth 2 ! -path '*/upper' ! -path '*/work' 2>&1)"
# An image whose /etc is a symlink: the init layer would hide it, so the mount points are
# made in the upper dir as before, through the link.
mkdir -p "$work/linked" && tar -C "$work/linked" -xf "$work/busybox.tar.gz"
mkdir -p "$work/linked/usr" && mv "$work/linked/etc" "$work/linked/usr/etc" && ln -s usr/etc "$work/linked/etc"
tar -C "$work/linked" -czf "$work/linked.tar.gz" .
"$BERTH" image import "$work/linked.tar.gz" berth-test/linked-etc:1 >/dev/null
out=$("$BERTH" run --rm -T --name itest-linked linked sh -c 'readlink /etc; cat /etc/hostname; head -1 /etc/passwd' </dev/null 2>&1)
check "an image with /etc a symlink keeps it, and gets its hostname" "usr/etc
itest-linked
root:x:0:0:root:/root:/bin/sh" "$out"
"$BERTH" down >/dev/null 2>&1
"$BERTH" image rm berth-test/linked-etc:1 >/dev/null

check_no_leaks itest-

# A layer escaping its directory is refused, and nothing is written.
mkdir -p "$work/evil"
ln -s "$work/outside" "$work/evil/link"
tar -C "$work/evil" -cf "$work/evil.tar" link
mkdir -p "$work/evil2/link" && echo x > "$work/evil2/link/file"
tar -C "$work/evil2" -rf "$work/evil.tar" link/file
mkdir -p "$work/outside"
out=$("$BERTH" image import "$work/evil.tar" evil 2>&1)
check "malicious archive exits 1" 1 $?
contains "malicious archive is refused" "refusing layer entry" "$out"
check "nothing written outside" "" "$(ls "$work/outside")"
check "no half layer left" "1" "$(ls "$BERTH_ROOT/layers" | wc -l)"

"$BERTH" image rm berth-test/busybox:1 >/dev/null
check "image rm removes its layer" "0" "$(ls "$BERTH_ROOT/layers" | wc -l)"
finish
