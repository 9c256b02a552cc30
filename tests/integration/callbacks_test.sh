#!/bin/sh
# A libuv callback that throws must not end the supervisor (issue 18): the
# exception would unwind through uv_run and take every container's supervision
# with it. Faults are injected (BERTH_TEST_FAULT, tests only) at the start of a
# unit's health-check, exit, restart-timer and output callbacks; each failure
# is logged and handled for its unit (a failed check: unhealthy; the exit
# handled again: exited with its code; the restart tried again; the chunk
# lost, the next one logged) and the supervisor, the same process, answers on.
. "$(dirname "$0")/lib/common.sh"

"$here/lib/make-busybox-rootfs.sh" "$work/busybox.tar"
"$BERTH" image import "$work/busybox.tar" it/busybox >/dev/null
P=relycb
mkdir -p "$work/cb" && cd "$work/cb"
cat > compose.yaml <<'YAML'
name: relycb
services:
  web:
    image: it/busybox
    init: true
    command: sleep 1000
    healthcheck: {test: [CMD, "true"], interval: 200ms, timeout: 1s, retries: 2}
  one:
    image: it/busybox
    command: [sh, -c, 'echo one; sleep 1; exit 3']
  beat:
    image: it/busybox
    restart: always
    command: [sh, -c, 'echo beat; usleep 300000; exit 1']
  talk:
    image: it/busybox
    command: [sh, -c, 'echo first; usleep 500000; i=0; while :; do i=$$((i + 1)); echo "line $$i"; usleep 100000; done']
YAML
rec() { sed -n "s/.*\"$2\": *\"*\([^\",]*\)\"*.*/\1/p" "$BERTH_RUNTIME_DIR/$P/containers/$P-$1.json" 2>/dev/null | head -1; }
is() { [ "$(rec "$1" "$2")" = "$3" ]; }
restarts_at_least() { [ "$(rec beat-1 restarts)" -ge "$1" ] 2>/dev/null; }
wait_for() {  # wait_for SECONDS COMMAND...: until COMMAND succeeds
    t=$1; shift
    for _ in $(seq $((t * 20))); do "$@" && return 0; sleep 0.05; done
    return 1
}
BERTH_TEST_FAULT="health-done:$P-web-1,exit:$P-one-1,timer:$P-beat-1@2,output:$P-talk-1@1" \
    "$BERTH" up -d >/dev/null 2>&1 || fail "up -d"
sup=$(cat "$BERTH_RUNTIME_DIR/$P/supervisor.pid")
suplog="$BERTH_RUNTIME_DIR/$P.supervisor.log"
[ -n "$sup" ] && kill -0 "$sup" && ok "the supervisor runs ($sup)" || fail "no supervisor"
wait_for 5 is web-1 health unhealthy && ok "health: every check failing in the supervisor makes web unhealthy" ||
    fail "health: web is [$(rec web-1 health)]"
contains "health: the check's output names the failure" "injected fault" \
    "$(cat "$BERTH_RUNTIME_DIR/$P/containers/$P-web-1.json")"
wait_for 5 is one-1 state exited && ok "exit: one is seen exited although its exit callback threw" ||
    fail "exit: one is [$(rec one-1 state)]"
check "exit: … with its own exit code" 3 "$(rec one-1 exit_code)"
wait_for 6 restarts_at_least 3 && ok "timer: beat restarts on ($(rec beat-1 restarts)) after two failed restart timers" ||
    fail "timer: beat restarted $(rec beat-1 restarts) times"
sleep 0.5
logs=$("$BERTH" logs --no-log-prefix talk 2>&1)
contains "output: lines after the failed chunk are logged" "line 2" "$logs"
for what in "health-done callback failed: injected fault" "exit callback failed: injected fault" \
    "timer callback failed: injected fault" "output callback failed: injected fault"; do
    contains "the supervisor's log says: ${what%%:*}" "$what" "$(cat "$suplog")"
done
kill -0 "$sup" 2>/dev/null && ok "the supervisor survived every failure" || fail "the supervisor died: $(tail -n 5 "$suplog")"
check "… the same process holds the project" "$sup" "$(cat "$BERTH_RUNTIME_DIR/$P/supervisor.pid")"
contains "ps answers" "$P-web-1" "$("$BERTH" ps 2>&1)"
contains "ps shows web unhealthy" "unhealthy" "$("$BERTH" ps 2>&1 | grep web)"
"$BERTH" down -t 1 >/dev/null 2>&1 || fail "down"
check_no_leaks "$P-"
finish
