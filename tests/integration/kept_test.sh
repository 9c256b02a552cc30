#!/bin/sh
# Live restore of foreground `berth up` under systemd (cli/kept.h): this script
# plays systemd (a notify socket, $NOTIFY_SOCKET, and Restart= by hand). The
# unit's supervisor is killed with SIGKILL: the main process ends with 1 (what
# makes systemd restart the unit), the containers run on with their output
# captured by the keeper, and the restarted `up` re-adopts them (same pid and
# start time, health checks resumed, READY=1 again) instead of recreating them.
# The main process killed instead: the restarted `up` finds the supervisor
# still running, applies the file to it, says READY=1 and waits for it; SIGTERM
# reaches the supervisor, which stops the stack. No line of output is lost.
. "$(dirname "$0")/lib/common.sh"

"$here/lib/make-busybox-rootfs.sh" "$work/busybox.tar"
"$BERTH" image import "$work/busybox.tar" it/busybox >/dev/null
P=relykept
berth_exe=$(readlink -f "$BERTH")
mkdir -p "$work/stack" && cd "$work/stack"
cat > compose.yaml <<'YAML'
name: relykept
services:
  counter:
    image: it/busybox
    command: [sh, -c, 'trap "exit 0" TERM; n=0; while :; do n=$$((n + 1)); echo "$$n"; usleep 100000; done']
  web:
    image: it/busybox
    init: true
    command: sleep 1000
    healthcheck: {test: [CMD, "true"], interval: 200ms}
YAML
cat > "$work/listen.py" <<'PY'
import socket, sys, time
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
with open(sys.argv[2], "w") as out:
    print("listening", file=out, flush=True)
    while True:
        msg = s.recv(4096).decode()
        print("%.3f %s" % (time.time(), msg.replace("\n", "|")), file=out, flush=True)
PY
python3 "$work/listen.py" "$work/notify.sock" "$work/notify.log" &
listener=$!
for _ in $(seq 100); do grep -q listening "$work/notify.log" 2>/dev/null && break; sleep 0.05; done
rec() { sed -n "s/.*\"$2\": *\"*\([^\",]*\)\"*.*/\1/p" "$BERTH_RUNTIME_DIR/$P/containers/$P-$1.json" 2>/dev/null | head -1; }
readies() { grep -c 'READY=1' "$work/notify.log"; }
wait_ready() { for _ in $(seq 300); do [ "$(readies)" -ge "$1" ] && return 0; sleep 0.05; done; return 1; }
numbers() { "$BERTH" logs --no-log-prefix counter 2>/dev/null | grep -c '^[0-9]*$'; }
is_berth() { [ "$(readlink "/proc/$1/exe" 2>/dev/null)" = "$berth_exe" ]; }
unit() { NOTIFY_SOCKET="$work/notify.sock" WATCHDOG_USEC=2000000 "$BERTH" up >>"$work/unit.out" 2>&1 & main=$!; }

unit
wait_ready 1 && ok "READY=1 from the unit" || fail "no READY=1: $(cat "$work/unit.out")"
main1=$main
sup1=$(cat "$BERTH_RUNTIME_DIR/$P/supervisor.pid")
keeper=$(cut -d" " -f1 "$BERTH_RUNTIME_DIR/$P/keeper.pid" 2>/dev/null)  # "PID STARTTIME"
[ -n "$sup1" ] && [ "$sup1" != "$main1" ] && is_berth "$sup1" && ok "the supervisor ($sup1) is not the main process ($main1)" ||
    fail "supervisor $sup1, main $main1"
check "… it is the keeper's child" "$keeper" "$(awk '/^PPid:/ {print $2}' "/proc/$sup1/status" 2>/dev/null)"
for _ in $(seq 60); do grep -q "$P-counter-1  | 3" "$work/unit.out" && break; sleep 0.05; done
contains "the unit's output has the containers' lines (the supervisor writes to it)" "$P-counter-1  | 3" "$(cat "$work/unit.out")"
pid=$(rec counter-1 pid); start=$(rec counter-1 pid_start_time); web=$(rec web-1 pid)
kill -9 "$sup1"
wait "$main1"
check "the supervisor killed: the main process ends with 1 (systemd restarts the unit)" 1 "$?"
contains "… saying the containers run on" "its containers run on" "$(cat "$work/unit.out")"
at_kill=$(numbers)
sleep 1
dead=$(($(numbers) - at_kill))
[ "$dead" -ge 5 ] && ok "$dead lines logged while no supervisor ran" || fail "only $dead lines logged while no supervisor ran"

unit  # Restart=on-failure
wait_ready 2 && ok "READY=1 from the restarted unit" || fail "no second READY=1: $(tail -n 5 "$work/unit.out")"
main2=$main
check "re-adopted: counter keeps its pid" "$pid" "$(rec counter-1 pid)"
check "re-adopted: … and its start time" "$start" "$(rec counter-1 pid_start_time)"
check "re-adopted: web keeps its pid" "$web" "$(rec web-1 pid)"
kill -0 "$pid" 2>/dev/null && ok "counter's process still runs" || fail "counter's process is gone"
healthy() { [ "$(rec web-1 health)" = healthy ]; }
for _ in $(seq 60); do healthy && break; sleep 0.05; done
healthy && ok "web's health checks resumed" || fail "web is [$(rec web-1 health)]"
check "counter started once over both runs of the unit" 1 "$(grep -c "$P-counter-1  Started" "$work/unit.out")"
contains "the restarted unit's output goes on with the counter's lines" "$P-counter-1  | $(($(numbers) - 1))" "$(sleep 0.3; cat "$work/unit.out")"

sup2=$(cat "$BERTH_RUNTIME_DIR/$P/supervisor.pid")
kill -9 "$main2"
wait "$main2" 2>/dev/null
sleep 0.2
kill -0 "$sup2" 2>/dev/null && ok "the main process killed: its supervisor runs on" || fail "supervisor $sup2 gone with its main process"
unit
wait_ready 3 && ok "the unit restarted over a running supervisor says READY=1" || fail "no third READY=1: $(tail -n 5 "$work/unit.out")"
main3=$main
contains "… attached to it" "attached to the running supervisor (pid $sup2)" "$(cat "$work/notify.log")"
check "the same supervisor holds the project" "$sup2" "$(cat "$BERTH_RUNTIME_DIR/$P/supervisor.pid")"
check "counter still the same pid" "$pid" "$(rec counter-1 pid)"
kill -TERM "$main3"
wait "$main3"
check "SIGTERM to the main process: the stack stops and it ends with 0" 0 "$?"
gone() { ! kill -0 "$1" 2>/dev/null || grep -q '^State:.*Z' "/proc/$1/status" 2>/dev/null; }  # a zombie is gone
for _ in $(seq 40); do gone "$sup2" && break; sleep 0.05; done
gone "$sup2" && ok "the supervisor ended" || fail "the supervisor outlives SIGTERM"
check "counter stopped" exited "$(rec counter-1 state)"
seq_out=$("$BERTH" logs --no-log-prefix counter | grep '^[0-9]*$')
last=$(echo "$seq_out" | tail -n 1)
lost=$(echo "$seq_out" | awk '$1 != NR {bad++} END {print bad + 0}')
check "logs hold every number 1..$last once, in order, over two kills" 0 "$lost"
"$BERTH" down >/dev/null 2>&1 || fail "down"
kill "$listener" 2>/dev/null; wait "$listener" 2>/dev/null
echo "figures: kills=2 (supervisor, main process) re-adopted=2 containers, twice lines_logged_while_dead=$dead last=$last lost=$lost"
check_no_leaks "$P-"
finish
