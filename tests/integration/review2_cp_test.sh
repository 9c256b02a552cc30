#!/bin/sh
# `berth cp` against a hostile container. The copy's container side runs as host
# root in a worker that joined the container's mount namespace (runtime/copy.cc).
# The container makes /x* symlinks to `/`, to `/proc/1/root`, to `../../..` and
# to magic links, swaps a directory for a symlink while copies run, and plants a
# device node; copies in and out through all of them must read and write the
# container's files only: nothing on the host outside the destination is read
# or written (host paths with a secret and paths a copy would plant are checked).
. "$(dirname "$0")/lib/common.sh"

"$here/lib/make-busybox-rootfs.sh" "$work/bb.tar"
"$BERTH" image import "$work/bb.tar" rely/bb:1 >/dev/null || fail "import"
secret="HOST-SECRET-$$"
echo "$secret" > "$work/host-secret"
echo PAYLOAD > "$work/payload"
tag="rely-cp-$$"  # names a planted file would have on the host
mkdir -p "$work/p" "$work/out" && cd "$work/p"
cat > compose.yaml <<'YAML'
name: rely-cp
services:
  web:
    image: rely/bb:1
    hostname: inside-web
    command:
      - sh
      - -c
      - |
        ln -s / /x1; ln -s /proc/1/root /x2; ln -s ../../.. /x3; ln -s /proc/1/cwd /x4
        mkdir -p /x5; ln -s /proc/self/root /x5/self
        mknod /tmp/mem c 1 1 2>/dev/null
        trap "exit 0" TERM
        while :; do
          rm -rf /race; mkdir -p /race/etc; echo race > /race/etc/hostname
          rm -rf /race; ln -s /proc/1/root /race
          rm -f /race; ln -s / /race
        done &
        wait
  box:
    image: rely/bb:1
    init: true
    command: ["sleep", "1000"]
  hostpid:
    image: rely/bb:1
    init: true
    pid: host
    command: ["sleep", "1000"]
YAML
"$BERTH" up -d >/dev/null 2>&1 || fail "up -d"
inside=$("$BERTH" exec -T web cat /etc/hostname </dev/null)
check "the container's /etc/hostname" inside-web "$inside"
[ "$inside" != "$(cat /etc/hostname)" ] && ok "… which is not the host's" || fail "the host is named inside-web too"

# Reads through each link stay in the container.
for l in x1 x2 x3 x4; do
    rm -rf "$work/out/h"
    "$BERTH" cp "web:/$l/etc/hostname" "$work/out/h" >"$work/out/err" 2>&1
    rc=$?
    case $l in
    x2 | x4)  # the worker sees no /proc: a magic link (/proc/PID/root, cwd, fd/N) leads nowhere
        check "cp web:/$l/etc/hostname (a magic link) is refused" "1 " "$rc $(cat "$work/out/h" 2>/dev/null)" ;;
    *) check "cp web:/$l/etc/hostname reads the container's file" "0 inside-web" "$rc $(cat "$work/out/h" 2>&1)" ;;
    esac
    out=$("$BERTH" cp "web:/$l$work/host-secret" "$work/out/s-$l" 2>&1)
    got=$(cat "$work/out/s-$l" 2>/dev/null)
    case "$got$out" in *"$secret"*) fail "cp web:/$l$work/host-secret read the host's file" ;;
    *) ok "cp web:/$l$work/host-secret does not reach the host's file" ;; esac
done
out=$("$BERTH" cp "web:/../../..$work/host-secret" "$work/out/dots" 2>&1)
case "$(cat "$work/out/dots" 2>/dev/null)$out" in *"$secret"*) fail "cp web:/../../.. read the host" ;;
*) ok "cp web:/../../..$work/host-secret does not reach the host's file" ;; esac

# Writes through each link land in the container or are refused; never on the host.
for l in x1 x2 x3 x4 x5/self; do
    n=$(echo "$l" | tr / _)
    "$BERTH" cp "$work/payload" "web:/$l/tmp/$tag-$n" >/dev/null 2>&1 &&
        check "cp into web:/$l/tmp lands in the container" PAYLOAD \
            "$("$BERTH" exec -T web cat "/tmp/$tag-$n" </dev/null 2>&1)"
    "$BERTH" cp "$work/payload" "web:/$l$work/planted-$n" >/dev/null 2>&1
    "$BERTH" cp "$work/payload" "web:/$l/" >/dev/null 2>&1
    planted=$(ls -d "/tmp/$tag-$n" "$work/planted-$n" /payload 2>/dev/null)
    check "cp into web:/$l/… writes nothing on the host" "" "$planted"
done
"$BERTH" cp "$work/payload" "web:/../../../tmp/$tag-dots" >/dev/null 2>&1
check "cp into web:/../../../tmp writes nothing on the host" "" "$(ls -d "/tmp/$tag-dots" 2>/dev/null)"

# A directory swapped for a symlink (to / and to /proc/1/root) while copies run.
leaked=0 planted=0 copied=0
for i in $(seq 40); do
    rm -rf "$work/out/r"
    if "$BERTH" cp "web:/race$work/host-secret" "$work/out/r" >/dev/null 2>&1; then leaked=$((leaked + 1)); fi
    "$BERTH" cp "web:/race/etc/hostname" "$work/out/r" >/dev/null 2>&1 && copied=$((copied + 1))
    grep -qs "$secret" "$work/out/r" && leaked=$((leaked + 1))
    "$BERTH" cp "$work/payload" "web:/race/tmp/$tag-race" >/dev/null 2>&1
    "$BERTH" cp "$work/payload" "web:/race$work/race-planted" >/dev/null 2>&1
    [ -e "/tmp/$tag-race" ] || [ -e "$work/race-planted" ] && planted=$((planted + 1))
done
check "40 copies out of a swapping /race never read the host's secret" 0 "$leaked"
check "40 copies into a swapping /race never wrote on the host" 0 "$planted"
echo "figure: $copied of 40 copies of /race/etc/hostname went through the swaps (the rest met no /race or a magic link)"

# A device node the container made (its device cgroup refuses it /dev/mem) is not
# opened by the worker (outside that cgroup) nor made on the host.
if "$BERTH" exec -T web test -c /tmp/mem </dev/null; then
    rm -rf "$work/out/mem"
    "$BERTH" cp web:/tmp/mem "$work/out/mem" >/dev/null 2>&1
    check "cp of the container's device node makes no device on the host" "" \
        "$(find "$work/out" \( -type c -o -type b \) 2>/dev/null)"
else
    fail "the container could not make its device node (mknod)"
fi

# Under `pid: host` the copy's worker runs in the host's pid namespace (it has no other to join).
rm -f "$work/out/hp"
"$BERTH" cp "$work/payload" hostpid:/tmp/payload >/dev/null 2>&1 &&
    "$BERTH" cp hostpid:/tmp/payload "$work/out/hp" >/dev/null 2>&1
check "cp in and out of a pid: host container" PAYLOAD "$(cat "$work/out/hp" 2>/dev/null)"

# A copy ends with its container. The copy's worker holds the container's root (its mount
# namespace): one that outlived the container would go on reading and writing the container's
# upper dir after `down`, when a new container may have taken that dir (a spare dir). Here the
# CLI of a copy out of `box` is stopped (SIGSTOP) while its worker writes 256 MiB into the pipe
# between them, so the worker waits on the full pipe; then `down` removes the container.
"$BERTH" exec -T box sh -c 'head -c 268435456 /dev/zero > /tmp/big' </dev/null || fail "make /tmp/big in box"
rm -rf "$work/out/big"
"$BERTH" cp box:/tmp/big "$work/out/big" >"$work/out/stopped.err" 2>&1 &
cppid=$!
i=0
until ps -o pid= --ppid "$cppid" >/dev/null || [ $i -ge 400 ]; do i=$((i + 1)); done
kill -STOP "$cppid"
stopped_mid_copy=0
ps -o stat= --ppid "$cppid" | grep -qv '^Z' && stopped_mid_copy=1
check "the copy's CLI stopped while its worker runs" 1 "$stopped_mid_copy"
"$BERTH" down -t 1 >/dev/null 2>&1 || fail "down while a copy runs"
# The CLI is stopped and reaps nothing: a worker that died stays a zombie; one alive is not.
sleep 0.2
check "after down, no process of the copy is alive (the CLI's children: $(ps -o pid=,stat=,args= --ppid "$cppid" | tr '\n' ';'))" \
    "" "$(ps -o stat= --ppid "$cppid" | grep -v '^Z')"
kill -CONT "$cppid"
wait "$cppid"
rc=$?
check "the copy fails, saying why" "1 the container stopped during the copy" \
    "$rc $(grep -o 'the container stopped during the copy' "$work/out/stopped.err")"

"$BERTH" down -t 1 >/dev/null 2>&1 || fail "down"
check_no_leaks rely-cp
finish
