#!/bin/sh
# Fault injection. The control socket: garbage, an oversized line, and clients
# that vanish mid-stream (`logs -f`, `events` killed) leave the supervisor
# answering `ps` with no fd kept. The disk full under the logs (a small tmpfs
# over the containers' directory, filled up): logging pauses, the service runs
# on, the supervisor says so, and logging resumes when space returns with no
# line lost (`ps`, `events` and the supervisor's log say so). The state or runtime
# directory read-only: a clear error, and `down` after cleans up. A layer
# directory removed under a stopped container: `start` and `up` name the image.
# nft failing mid-`up` (a failing nft first on PATH, at each of its runs):
# the bridges and tables made so far are undone at once, `down` clears the rest.
# Prints: fds before/after, lines held during the stall, lines lost (0).
. "$(dirname "$0")/lib/common.sh"

ip link set lo up
"$here/lib/make-busybox-rootfs.sh" "$work/busybox.tar"
"$BERTH" image import "$work/busybox.tar" it/busybox >/dev/null
sup_of() { sed -n 's/.*"supervisor": *\([0-9]*\).*/\1/p' "$BERTH_RUNTIME_DIR/$1/project.json"; }
nfds() { ls "/proc/$1/fd" 2>/dev/null | wc -l; }
ctl() {  # ctl PROJECT PYTHON: PYTHON with conn() connected to the project's control socket
    python3 - "$BERTH_RUNTIME_DIR/$1/control.sock" <<PY
import json, socket, sys
def conn():
    s = socket.socket(socket.AF_UNIX)
    s.settimeout(10)
    s.connect(sys.argv[1])
    return s
$2
PY
}

# ---- a talker on a small filesystem (the tmpfs is there before the log file is opened)
mkdir -p "$BERTH_ROOT/containers" "$work/full" && cd "$work/full"
mount -t tmpfs -o size=16m relyfull "$BERTH_ROOT/containers" || { fail "mount a tmpfs"; finish; exit 1; }
cat > compose.yaml <<'YAML'
name: relyflt
services:
  talker:
    image: it/busybox
    init: true
    command: ["sh", "-c", "i=0; while :; do i=$$((i+1)); echo line-$$i; usleep 20000; done"]
YAML
"$BERTH" up -d >/dev/null 2>&1 || fail "up -d"
sup=$(sup_of relyflt)
[ -n "$sup" ] && kill -0 "$sup" 2>/dev/null || { fail "no supervisor"; finish; exit 1; }
log=$BERTH_ROOT/containers/relyflt-talker-1/relyflt-talker-1-json.log
suplog=$BERTH_RUNTIME_DIR/relyflt.supervisor.log
for _ in $(seq 100); do [ -s "$log" ] && break; sleep 0.05; done
talker=$(sed -n 's/.*"pid": *\([0-9]*\).*/\1/p' "$BERTH_RUNTIME_DIR/relyflt/containers/relyflt-talker-1.json")

# ---- the control socket
fds_before=$(nfds "$sup")
check "garbage gets errors, then ps answers" "[False, False, False, True]" "$(ctl relyflt '
s = conn()
s.sendall(b"\x00\xff\xfe garbage\n{\"op\":\n\"str\"\n{\"op\":\"ping\"}\n")
f = s.makefile("rb")
print([json.loads(f.readline())["ok"] for _ in range(4)])')"
check "an oversized line (4 MiB, no newline) is refused and its client closed" "request line too long" "$(ctl relyflt '
s = conn()
try:
    for _ in range(64):
        s.sendall(b"y" * 65536)
except OSError:
    pass
try:
    print(json.loads(s.makefile("rb").readline())["error"])
except Exception as e:
    print("no answer:", e)')"
contains "ps answers after the oversized line" "relyflt-talker-1" "$("$BERTH" ps 2>&1)"
"$BERTH" logs -f talker >/dev/null 2>&1 &
follower=$!
"$BERTH" events >/dev/null 2>&1 &
events=$!
ctl relyflt '
s = conn()
s.sendall(b"{\"op\":\"events\"}\n")
import os; os._exit(0)' # a client that vanishes without reading
sleep 0.5
kill -9 "$follower" "$events"
wait "$follower" "$events" 2>/dev/null
contains "ps answers after logs -f and events were killed mid-stream" "relyflt-talker-1" "$("$BERTH" ps 2>&1)"
"$BERTH" restart talker >/dev/null 2>&1 || fail "restart answers after vanished clients"
sleep 0.3
fds_after=$(nfds "$sup")
echo "figure: supervisor fds before the control-socket faults $fds_before, after $fds_after"
[ "$fds_after" -le "$fds_before" ] && ok "no fd kept for clients that vanished ($fds_before, then $fds_after)" ||
    fail "fds grew over the control-socket faults: $fds_before, then $fds_after"
kill -0 "$sup" 2>/dev/null && ok "the same supervisor runs" || fail "the supervisor ended"
talker=$(sed -n 's/.*"pid": *\([0-9]*\).*/\1/p' "$BERTH_RUNTIME_DIR/relyflt/containers/relyflt-talker-1.json")

# ---- the disk full under the log
size_of() { stat -c %s "$log"; }
"$BERTH" events --json > "$work/events.out" 2>&1 &
events=$!
wait_client "$events"
dd if=/dev/zero of="$BERTH_ROOT/containers/filler" bs=64k 2>/dev/null
check "the filesystem under the log is full" 0 "$(df --output=avail -k "$BERTH_ROOT/containers" | tail -1 | tr -d ' ')"
for _ in $(seq 100); do grep -q "relyflt-talker-1: logging paused" "$suplog" && break; sleep 0.05; done
contains "the supervisor says logging paused, and why" "logging paused: cannot write $log: No space left on device" "$(cat "$suplog")"
s1=$(size_of)
l1=$(wc -l < "$log")
sleep 1
s2=$(size_of)
check "the log does not grow while the disk is full" "$s1" "$s2"
kill -0 "$talker" 2>/dev/null && ok "the talker keeps running (pid $talker)" || fail "the talker ended"
kill -0 "$sup" 2>/dev/null && ok "the supervisor keeps running" || fail "the supervisor ended on a full disk"
contains "ps shows it running" "running" "$("$BERTH" ps --format json 2>&1)"
contains "ps shows its log paused, and why" "running (log paused): No space left on device" "$("$BERTH" ps 2>&1 | grep talker)"
contains "ps --format json: Status and log_paused" '"log_paused":"No space left on device"' "$("$BERTH" ps --format json 2>&1 | grep talker)"
contains "… Status says so" '"Status":"running (log paused)"' "$("$BERTH" ps --format json 2>&1 | grep talker)"
rm -f "$BERTH_ROOT/containers/filler"
for _ in $(seq 100); do grep -q "relyflt-talker-1: logging resumed" "$suplog" && break; sleep 0.05; done
contains "the supervisor says logging resumed" "relyflt-talker-1: logging resumed (0 lines of output lost" "$(cat "$suplog")"
check "ps no longer shows the log paused" "" "$("$BERTH" ps 2>&1 | grep talker | grep -o 'log paused')"
sleep 0.3
kill "$events" 2>/dev/null
wait "$events" 2>/dev/null
contains "events: log_paused, with the error" '"action":"log_paused","error":"No space left on device"' "$(cat "$work/events.out")"
contains "events: log_resumed" '"action":"log_resumed"' "$(cat "$work/events.out")"
s3=$(size_of)
[ "$s3" -gt "$s2" ] && ok "the log grows again ($s2 → $s3 bytes)" || fail "the log does not grow after space returned ($s2, $s3)"
"$BERTH" logs --no-log-prefix talker > "$work/lines" 2>&1
# The restart above began the count again: check from the last line-1 on.
awk '/^line-1$/ {n = 0} /^line-/ {sub(/^line-/, ""); n++; if ($1 != n) bad++} END {print bad + 0}' "$work/lines" > "$work/gaps"
echo "figure: $(($(wc -l < "$log") - l1)) lines held in memory while the disk was full (1 s) and written since, lines lost: $(cat "$work/gaps")"
check "no line lost or out of order across the full disk" 0 "$(cat "$work/gaps")"
"$BERTH" down >/dev/null 2>&1 || fail "down"
umount "$BERTH_ROOT/containers"
check_no_leaks relyflt-

# ---- the state directory, then the runtime directory, read-only
mkdir -p "$work/ro" && cd "$work/ro"
printf 'name: relyro\nservices:\n  app: {image: it/busybox, command: sleep 1000, init: true}\n' > compose.yaml
ro_root=$work/ro-root
mkdir -p "$ro_root"
BERTH_ROOT=$ro_root "$BERTH" image import "$work/busybox.tar" it/busybox >/dev/null
mount --bind "$ro_root" "$ro_root" && mount -o remount,bind,ro "$ro_root"
out=$(BERTH_ROOT=$ro_root "$BERTH" up -d 2>&1)
st=$?
check "up -d on a read-only state root fails with status 1" 1 "$st"
contains "… saying so" "Read-only file system" "$out"
contains "… naming the path" "$ro_root" "$out"
out=$(BERTH_ROOT=$ro_root "$BERTH" ps -a 2>&1)
[ $? -lt 2 ] && ok "ps on a read-only state root does not crash" || fail "ps crashed: $out"
umount "$ro_root"
BERTH_ROOT=$ro_root "$BERTH" down >/dev/null 2>&1 || fail "down once the state root is writable again"
ro_run=$work/ro-run
mkdir -p "$ro_run"
mount --bind "$ro_run" "$ro_run" && mount -o remount,bind,ro "$ro_run"
out=$(BERTH_RUNTIME_DIR=$ro_run "$BERTH" up -d 2>&1)
st=$?
check "up -d on a read-only runtime dir fails with status 1" 1 "$st"
contains "… saying so" "Read-only file system" "$out"
umount "$ro_run"
BERTH_RUNTIME_DIR=$ro_run "$BERTH" down >/dev/null 2>&1 || fail "down once the runtime dir is writable again"
check_no_leaks relyro-

# ---- a layer directory removed under a stopped container
mkdir -p "$work/lay" && cd "$work/lay"
printf 'name: relylay\nservices:\n  app: {image: it/busybox, command: sleep 1000, init: true}\n' > compose.yaml
"$BERTH" up -d >/dev/null 2>&1 || fail "layer: up -d"
"$BERTH" stop app >/dev/null 2>&1 || fail "layer: stop"
layers=$(find "$BERTH_ROOT" -maxdepth 3 -type d -name layers | head -1)
[ -n "$layers" ] && [ -n "$(ls "$layers")" ] || fail "layer: no layer directory under $BERTH_ROOT"
mv "$layers" "$layers.gone"
out=$("$BERTH" start app 2>&1)
check "layer: start fails" 1 "$?"
contains "layer: … naming the image" "it/busybox" "$out"
contains "layer: … and what is missing" "missing" "$out"
echo "start said: $out"
out=$("$BERTH" up -d 2>&1)
check "layer: up -d fails" 1 "$?"
contains "layer: … naming the image" "it/busybox" "$out"
echo "up -d said: $out"
rmdir "$layers" 2>/dev/null  # the store makes an empty one when it opens
mv "$layers.gone" "$layers" || fail "layer: put the layers back"
"$BERTH" start app >/dev/null 2>&1 || fail "layer: start once the layer is back"
contains "layer: app runs again" "running" "$("$BERTH" ps --format json 2>&1)"
"$BERTH" down >/dev/null 2>&1 || fail "layer: down"
check_no_leaks relylay-

# ---- nft failing mid-up: the Nth nft script run fails
nft_real=$(command -v nft)
mkdir -p "$work/fakebin" "$work/nft" && cd "$work/nft"
cat > "$work/fakebin/nft" <<SH
#!/bin/sh
case " \$* " in
*" -f "*)
    n=\$(( \$(cat "$work/nft.count" 2>/dev/null || echo 0) + 1 ))
    echo "\$n" > "$work/nft.count"
    if [ "\$n" -eq "\$(cat "$work/nft.fail")" ]; then cat >/dev/null; echo "injected nft failure" >&2; exit 1; fi ;;
esac
exec "$nft_real" "\$@"
SH
chmod +x "$work/fakebin/nft"
cat > compose.yaml <<'YAML'
name: relynft
services:
  web:
    image: it/busybox
    command: sleep 1000
    init: true
    networks: [front, back]
    ports: ["127.0.0.1:18080:80"]
  db:
    image: it/busybox
    command: sleep 1000
    init: true
    networks: [back]
networks:
  front:
  back:
YAML
runs=$(
    rm -f "$work/nft.count"
    echo 1000 > "$work/nft.fail"
    PATH="$work/fakebin:$PATH" "$BERTH" up -d >"$work/nft.out" 2>&1
    cat "$work/nft.count" 2>/dev/null || echo 0
)
[ "$runs" -ge 2 ] || cat "$work/nft.out"
"$BERTH" down >/dev/null 2>&1
echo "figure: a clean up -d runs nft -f $runs times"
[ "$runs" -ge 2 ] && ok "up -d runs nft ($runs times)" || fail "up -d ran nft $runs times"
for at in $(seq 1 "$runs"); do
    rm -f "$work/nft.count"
    echo "$at" > "$work/nft.fail"
    out=$(PATH="$work/fakebin:$PATH" "$BERTH" up -d 2>&1)
    st=$?
    if [ "$st" -ne 0 ]; then
        contains "nft run $at failing: up -d says why" "injected nft failure" "$out"
    else
        # A failure after the start (a port's rule) may be reported and the rest kept running.
        echo "nft run $at failing: up -d succeeded: $out"
        "$BERTH" down >/dev/null 2>&1
    fi
    for _ in $(seq 30); do  # a supervisor may still be on its way out
        [ -z "$(leak_procs relynft-)" ] && break
        sleep 0.1
    done
    left=$(leak_new 'link|nft-table|cgroup|process|container-dir' relynft-)
    check "nft run $at of $runs failing: undone at once (links, tables, cgroups, processes, container dirs)" "" "$left"
    "$BERTH" down >/dev/null 2>&1 || fail "nft run $at failing: down after"  # the project's runtime records
    check "nft run $at failing: nothing left after down" "" "$(leak_new 'runtime-file|link|nft-table' relynft-)"
done
check_no_leaks relynft-
finish
