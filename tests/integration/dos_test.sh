#!/bin/sh
# What a container or a client of the control socket can do to the supervisor:
# 1,500 TCP connections to the embedded DNS server leave it answering (ps,
# restart, exec, DNS over UDP) with a bounded number of fds; garbage, an
# endless line and clients that vanish leave the control socket answering.
# And the detached supervisor: none of its caller's fds, its stderr a log file
# from the first `up -d`, its fd limit raised while its containers keep theirs.
. "$(dirname "$0")/lib/common.sh"

ip link set lo up
gcc -static -O2 -o "$work/tcp_hold" "$here/lib/tcp_hold.c" || { fail "build tcp_hold"; finish; exit 1; }
"$here/lib/make-busybox-rootfs.sh" "$work/busybox.tar" "$work/tcp_hold"
"$BERTH" image import "$work/busybox.tar" it/busybox >/dev/null
sup_of() { python3 -c "import json; print(json.load(open('$BERTH_RUNTIME_DIR/$1/project.json'))['supervisor'])" 2>/dev/null; }
soft_limit() { awk '/^Max open files/ {print $4}' "/proc/$1/limits"; }
hard_limit() { awk '/^Max open files/ {print $5}' "/proc/$1/limits"; }
nfds() { ls "/proc/$1/fd" | wc -l; }
# ctl PROJECT PYTHON: runs PYTHON with `conn()` connected to the project's control socket.
ctl() {
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

# ---- the detached supervisor: fds, log, limits (the runtime dir does not exist yet)
mkdir -p "$work/fd" && cd "$work/fd"
cat > compose.yaml <<'YAML'
name: dosfd
services:
  app:
    image: it/busybox
    command: sleep 1000
    init: true
YAML
check "the runtime dir is fresh" no "$([ -e "$BERTH_RUNTIME_DIR" ] && echo yes || echo no)"
hard=$(ulimit -H -n)
(
    exec 7>"$work/marker"
    ulimit -S -n 1024
    ls -l /proc/self/fd/ | awk 'NR > 1 {print $NF}' | grep -v '^/dev/null$' >"$work/caller.fds"  # what it has open
    "$BERTH" up -d >"$work/fd.out" 2>&1
) || { fail "up -d"; cat "$work/fd.out"; }
sup=$(sup_of dosfd)
[ -n "$sup" ] && [ -d "/proc/$sup" ] || { fail "no supervisor for dosfd"; finish; exit 1; }
echo "supervisor $sup fds:"
marker=0 unexpected="" inherited=""
for f in /proc/"$sup"/fd/*; do
    t=$(readlink "$f")
    echo "  ${f##*/} -> $t"
    grep -qxF "$t" "$work/caller.fds" && inherited="$inherited ${f##*/}:$t"
    case "$t" in
        "$work/marker") marker=1 ;;
        /dev/null | "$BERTH_RUNTIME_DIR"/* | "$BERTH_ROOT"/* | socket:* | pipe:* | anon_inode:* | /sys/fs/cgroup/* | /proc/*) ;;
        *) unexpected="$unexpected ${f##*/}:$t" ;;
    esac
done
check "the caller's fd 7 is not open in the supervisor" 0 "$marker"
check "none of its caller's fds at all" "" "$inherited"
check "only fds of its own kinds" "" "$unexpected"
log="$BERTH_RUNTIME_DIR/dosfd.supervisor.log"
check "the supervisor's stderr is its log, on the first up -d" "$log" "$(readlink "/proc/$sup/fd/2")"
check "and its stdout" "$log" "$(readlink "/proc/$sup/fd/1")"
ctl dosfd 'conn().sendall(b"not json\n")'
sleep 0.3
contains "an error the supervisor logs reaches the log" "malformed request" "$(cat "$log" 2>/dev/null)"
check "the supervisor's soft fd limit is raised to the hard one" "$hard" "$(soft_limit "$sup")"
app=$(python3 -c "import json; print(json.load(open('$BERTH_RUNTIME_DIR/dosfd/containers/dosfd-app-1.json'))['pid'])")
check "its container keeps the limit it was started with" "1024 $hard" "$(soft_limit "$app") $(hard_limit "$app")"
"$BERTH" down >/dev/null 2>&1
check "down removes the log" no "$([ -e "$log" ] && echo yes || echo no)"
check_no_leaks dosfd-

# ---- 1,500 TCP connections to 127.0.0.11:53 from a container
mkdir -p "$work/net" && cd "$work/net"
cat > compose.yaml <<'YAML'
name: dosnet
services:
  flood:
    image: it/busybox
    command: sleep 1000
    init: true
  other:
    image: it/busybox
    command: sleep 1000
    init: true
YAML
(ulimit -S -n 1024; "$BERTH" up -d >"$work/net.out" 2>&1) || { fail "up -d"; cat "$work/net.out"; }
sup=$(sup_of dosnet)
[ -n "$sup" ] && [ -d "/proc/$sup" ] || { fail "no supervisor for dosnet"; "$BERTH" down >/dev/null 2>&1; finish; exit 1; }
before=$(nfds "$sup")
"$BERTH" exec -T flood tcp_hold 127.0.0.11 53 1500 /tmp/stop >"$work/hold.out" 2>&1 &
hold=$!
for _ in $(seq 600); do grep -q opened "$work/hold.out" && break; sleep 0.1; done
opened=$(awk '$1 == "opened" {print $2}' "$work/hold.out")
check "the flood opened more connections than the supervisor had fds" yes \
    "$([ "${opened:-0}" -gt 1024 ] && echo yes || echo "no: $(cat "$work/hold.out")")"
during=$(nfds "$sup")
echo "supervisor fds: $before before, $during with the flood's connections held"
check "the supervisor's fds stay bounded" yes "$([ "$during" -le $((before + 64)) ] && echo yes || echo "no: $during")"
contains "ps answers" "dosnet-other-1" "$("$BERTH" ps 2>&1)"
out=$("$BERTH" restart other 2>&1)
check "restart answers" "0" "$?"
[ -n "$out" ] && echo "  restart said: $out"
check "exec works" "ok" "$("$BERTH" exec -T other echo ok 2>&1)"
contains "DNS over UDP answers another container" "Address: 172." "$("$BERTH" exec -T other nslookup flood 2>&1)"
"$BERTH" exec -T flood touch /tmp/stop
wait "$hold"
echo "  tcp_hold: $(tr '\n' ' ' <"$work/hold.out")"
kept=$(awk '$1 == "open" {print $2}' "$work/hold.out")
check "the server kept at most 32 of them (its cap for a container)" yes "$([ "${kept:-9999}" -le 32 ] && echo yes || echo "no: $kept")"
after=""
for _ in $(seq 50); do after=$(nfds "$sup"); [ "$after" -le $((before + 2)) ] && break; sleep 0.1; done
echo "supervisor fds after the flood: $after"
check "its connections are released" yes "$([ "$after" -le $((before + 2)) ] && echo yes || echo "no: $after")"

# ---- the control socket: garbage, an endless line, clients that vanish
check "garbage gets errors, then an answer" "[False, False, False, True]" "$(ctl dosnet '
s = conn()
s.sendall(b"\x00\xff\xfe garbage\n{\"op\":\n[1,2]\n{\"op\":\"ping\"}\n")
f = s.makefile("rb")
print([json.loads(f.readline())["ok"] for _ in range(4)])')"
ctl dosnet '
s = conn()
try:
    for _ in range(160):
        s.sendall(b"x" * 65536)  # 10 MiB, no newline
except OSError as e:
    print("refused:", type(e).__name__)'
contains "a 10 MiB line is refused, ps still answers" "dosnet-other-1" "$("$BERTH" ps 2>&1)"
ctl dosnet '
for op in ({"op": "events"}, {"op": "restart", "services": ["other"]}, {"op": "events"}):
    s = conn()
    s.sendall((json.dumps(op) + "\n").encode())
    s.close()  # gone before the answer, or mid-stream'
"$BERTH" restart other >/dev/null 2>&1
check "after clients vanished mid-stream, restart answers" 0 $?
contains "and ps" "dosnet-other-1" "$("$BERTH" ps 2>&1)"
check "the control socket holds no fds of gone clients" yes \
    "$([ "$(nfds "$sup")" -le $((before + 2)) ] && echo yes || echo "no: $(nfds "$sup")")"
"$BERTH" down >/dev/null 2>&1
check_no_leaks dosnet-
finish
