#!/bin/sh
# Live restore (keeper/keeper.h): kill -9 of a project's supervisor loses no
# container and no line of output. The next `up -d` re-adopts the running
# containers without restarting them (same pid, same start time), sees the
# exits that happened while no supervisor ran (exit code, restart policy), and
# recreates only what changed in the file. A seeded loop kills the supervisor
# at random points of `up -d` and `restart`, then `up -d` re-adopts or `down`
# cleans, and nothing leaks. RESTORE_RUNS (default 10) and RESTORE_SEED set
# the loop's length and seed.
. "$(dirname "$0")/lib/common.sh"

"$here/lib/make-busybox-rootfs.sh" "$work/busybox.tar"
"$BERTH" image import "$work/busybox.tar" it/busybox >/dev/null
berth_exe=$(readlink -f "$BERTH")
rec() { sed -n "s/.*\"$3\": *\"*\([^\",]*\)\"*.*/\1/p" "$BERTH_RUNTIME_DIR/$1/containers/$2.json" 2>/dev/null | head -1; }
# kill_supervisor PROJECT: kill -9 of its supervisor (checked to be berth: never a recycled pid); prints its pid.
kill_supervisor() {
    _s=$(cat "$BERTH_RUNTIME_DIR/$1/supervisor.pid" 2>/dev/null)
    [ -n "$_s" ] && [ "$(readlink /proc/$_s/exe 2>/dev/null)" = "$berth_exe" ] && kill -9 "$_s" && echo "$_s"
}
wait_for() {  # wait_for SECONDS COMMAND...: until COMMAND succeeds
    t=$1; shift
    for _ in $(seq $((t * 20))); do "$@" && return 0; sleep 0.05; done
    return 1
}
gone() { ! kill -0 "$1" 2>/dev/null || grep -q '^State:.*Z' "/proc/$1/status" 2>/dev/null; }  # a zombie is gone
is() { [ "$(rec "$1" "$2" "$3")" = "$4" ]; }  # is PROJECT CONTAINER FIELD VALUE
counted() { [ "$(numbers)" -ge "$1" ]; }
numbers() { "$BERTH" logs --no-log-prefix counter 2>/dev/null | grep -c '^[0-9]*$'; }

mkdir -p "$work/ctr" && cd "$work/ctr"
cat > compose.yaml <<'YAML'
name: keeperctr
services:
  counter:
    image: it/busybox
    command: [sh, -c, 'trap "exit 0" TERM; n=0; while :; do n=$$((n + 1)); echo "$$n"; usleep 100000; done']
    healthcheck: {test: [CMD, "true"], interval: 1s}
  oneshot:
    image: it/busybox
    command: [sh, -c, 'echo oneshot; while [ ! -e /go/oneshot ]; do usleep 50000; done; exit 7']
    volumes: [./go:/go]
  flaky:
    image: it/busybox
    restart: on-failure
    command: [sh, -c, 'echo start; [ -e /once ] && exec sleep 1000; touch /once; while [ ! -e /go/flaky ]; do usleep 50000; done; exit 3']
    volumes: [./go:/go]
YAML
mkdir -p go  # oneshot and flaky exit once the test makes go/oneshot and go/flaky: while no supervisor runs
"$BERTH" up -d >/dev/null 2>&1 || fail "up -d"
wait_for 5 counted 5 || fail "the counter counts"
pid=$(rec keeperctr keeperctr-counter-1 pid)
start=$(rec keeperctr keeperctr-counter-1 pid_start_time)
flaky_pid=$(rec keeperctr keeperctr-flaky-1 pid)
oneshot_pid=$(rec keeperctr keeperctr-oneshot-1 pid)
keeper=$(cut -d" " -f1 "$BERTH_RUNTIME_DIR/keeperctr/keeper.pid" 2>/dev/null)  # "PID STARTTIME"
[ -n "$keeper" ] && kill -0 "$keeper" && ok "a keeper runs beside the supervisor" || fail "no keeper"
sup=$(kill_supervisor keeperctr)
[ -n "$sup" ] && ok "supervisor $sup killed" || fail "no supervisor to kill"
at_kill=$(numbers)
sleep 1
while_dead=$(($(numbers) - at_kill))
[ "$while_dead" -ge 5 ] && ok "$while_dead lines logged while no supervisor ran" ||
    fail "only $while_dead lines logged while no supervisor ran"
touch go/flaky go/oneshot
wait_for 10 gone "$flaky_pid" || fail "flaky exits while no supervisor runs"
wait_for 10 gone "$oneshot_pid" || fail "oneshot exits while no supervisor runs"
zombies() { for p in $(cat /proc/$keeper/task/*/children 2>/dev/null); do grep -l '^State:.*Z' /proc/$p/status 2>/dev/null; done; }
no_zombie() { [ -z "$(zombies)" ]; }
wait_for 3 no_zombie && ok "the keeper reaped what exited meanwhile (no zombie)" || fail "zombies under the keeper: $(zombies)"
# `up -d counter`: every container the keeper holds is re-adopted, only counter is acted on.
out=$("$BERTH" up -d counter 2>&1) || fail "up -d after the kill: $out"
check "re-adopted: the same pid" "$pid" "$(rec keeperctr keeperctr-counter-1 pid)"
check "re-adopted: the same start time" "$start" "$(rec keeperctr keeperctr-counter-1 pid_start_time)"
kill -0 "$pid" 2>/dev/null && ok "the counter's process still runs" || fail "the counter's process is gone"
wait_for 5 is keeperctr keeperctr-oneshot-1 state exited || fail "oneshot seen exited"
contains "an exit while no supervisor ran is seen with its code" "exited (7)" "$("$BERTH" ps -a | grep oneshot)"
wait_for 5 is keeperctr keeperctr-flaky-1 restarts 1 || fail "flaky restarted once"
wait_for 5 is keeperctr keeperctr-flaky-1 state running
check "… and its restart policy applied after re-adoption" "running 1" \
    "$(rec keeperctr keeperctr-flaky-1 state) $(rec keeperctr keeperctr-flaky-1 restarts)"
check "flaky's two runs are in its log" 2 "$("$BERTH" logs --no-log-prefix flaky | grep -c start)"
wait_for 5 is keeperctr keeperctr-counter-1 health healthy && ok "health checks resumed: healthy again" ||
    fail "health checks not resumed: $(rec keeperctr keeperctr-counter-1 health)"
contains "ps shows the counter running" "running" "$("$BERTH" ps | grep counter)"
sleep 0.5
sup2=$(cat "$BERTH_RUNTIME_DIR/keeperctr/supervisor.pid")
[ "$sup2" != "$sup" ] && kill -0 "$sup2" && ok "a new supervisor holds the project" || fail "no new supervisor"
# A second death, then a changed file: only what changed is recreated.
kill_supervisor keeperctr >/dev/null
sleep 0.5
sed -i 's/exit 7/exit 8/' compose.yaml
"$BERTH" up -d >/dev/null 2>&1 || fail "up -d of a changed file after a kill"
check "after a second kill, the counter still the same pid" "$pid" "$(rec keeperctr keeperctr-counter-1 pid)"
wait_for 5 is keeperctr keeperctr-oneshot-1 state exited
wait_for 5 is keeperctr keeperctr-oneshot-1 exit_code 8 && ok "the changed service is recreated (exits 8 now)" ||
    fail "the changed service was not recreated: $("$BERTH" ps -a | grep oneshot)"
sleep 0.5
"$BERTH" stop counter >/dev/null 2>&1 || fail "stop the re-adopted counter"
check "a re-adopted container stops on request" exited "$(rec keeperctr keeperctr-counter-1 state)"
seq_out=$("$BERTH" logs --no-log-prefix counter | grep '^[0-9]*$')
last=$(echo "$seq_out" | tail -n 1)
check "logs hold every number 1..$last once, in order (no line lost over two kills)" "0 $last" \
    "$(echo "$seq_out" | awk '$1 != NR {bad++} END {print bad + 0, NR}')"
[ "$last" -ge 30 ] && ok "the counter reached $last" || fail "the counter reached only $last"
"$BERTH" down >/dev/null 2>&1 || fail "down"
wait_for 3 gone "$keeper" && ok "down ends the keeper" || fail "the keeper outlives down"
check_no_leaks keeperctr-
echo "figures: kills=2 lines_logged_while_dead=$while_dead lines_lost=$(( $(echo "$seq_out" | awk '$1 != NR {bad++} END {print bad + 0}') ))"

# Kill -9 with no containers running: the keeper goes by itself; down cleans a dead supervisor's stack.
mkdir -p "$work/loop" && cd "$work/loop"
cat > compose.yaml <<'YAML'
name: keeperloop
services:
  counter:
    image: it/busybox
    command: [sh, -c, 'trap "exit 0" TERM; n=0; while :; do n=$$((n + 1)); echo "$$n"; usleep 50000; done']
  web:
    image: it/busybox
    init: true
    command: sleep 1000
YAML
runs=${RESTORE_RUNS:-10}
seed=${RESTORE_SEED:-$(date +%s)}
echo "seeded loop: $runs runs, RESTORE_SEED=$seed"
# A small LCG: the same seed gives the same kill points.
rnd=$seed
next() { rnd=$(( (rnd * 1103515245 + 12345) % 2147483648 )); r=$(( (rnd / 65536) % $1 )); }  # next N: r in 0..N-1
kills=0; readopted=0; cleaned=0
copies() {  # how many copies of the counter run (its shell's pid namespaces)
    for f in $(grep -l -a 'usleep 5[0]000' /proc/[0-9]*/cmdline 2>/dev/null); do readlink "${f%/cmdline}/ns/pid"; done | sort -u | grep -c .
}
for run in $(seq "$runs"); do
    next 2; where=$r; next 400; delay=$r; next 2; finish_by=$r
    if [ "$where" = 1 ] && [ "$(rec keeperloop keeperloop-counter-1 state)" = running ] && [ -n "$(cat "$BERTH_RUNTIME_DIR/keeperloop/supervisor.pid" 2>/dev/null)" ]; then
        op=restart; "$BERTH" restart -t 1 >/dev/null 2>&1 &
    else
        op=up; "$BERTH" up -d >/dev/null 2>&1 &
    fi
    client=$!
    sleep "0.$(printf %03d "$delay")"
    [ -n "$(kill_supervisor keeperloop)" ] && kills=$((kills + 1))
    wait "$client"
    if [ "$finish_by" = 0 ]; then
        out=$("$BERTH" up -d 2>&1) || fail "run $run ($op, ${delay} ms): up -d after the kill: $out; $(tail -n 5 "$BERTH_RUNTIME_DIR/keeperloop.supervisor.log")"
        both_run() { is keeperloop keeperloop-counter-1 state running && is keeperloop keeperloop-web-1 state running; }
        wait_for 5 both_run
        c=$(copies)
        [ "$c" = 1 ] && [ "$(rec keeperloop keeperloop-web-1 state)" = running ] && readopted=$((readopted + 1)) ||
            fail "run $run ($op, ${delay} ms): want one counter running and web running, got $c counters, web $(rec keeperloop keeperloop-web-1 state); $("$BERTH" ps -a --format json 2>&1 | tr -d '\n' | cut -c1-600)"
    else
        "$BERTH" down >/dev/null 2>&1 || fail "run $run ($op, ${delay} ms): down after the kill"
        # A killed container's network namespace, and the veth in it, go asynchronously in the kernel.
        clean() { left=$(leak_new 'mount|link|nft-table|cgroup|process|runtime-file|container-dir' keeperloop-); [ -z "$left" ]; }
        wait_for 3 clean && cleaned=$((cleaned + 1)) || fail "run $run ($op, ${delay} ms): down left $(echo "$left" | head -3 | tr '\n' ' ')"
    fi
done
"$BERTH" down >/dev/null 2>&1 || fail "loop: final down"
check_no_leaks keeperloop-
echo "figures: runs=$runs kills=$kills readopted=$readopted cleaned=$cleaned seed=$seed"
[ $((readopted + cleaned)) = "$runs" ] && ok "every run re-adopted ($readopted) or cleaned ($cleaned)" || fail "runs: $runs, re-adopted $readopted, cleaned $cleaned"
finish
