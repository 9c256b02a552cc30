#!/bin/sh
# `berth up`/`ps`/`down` end to end: dependency conditions, health checks,
# restart policies, stop grace periods, cleanup after a killed supervisor.
. "$(dirname "$0")/lib/common.sh"

"$here/lib/make-busybox-rootfs.sh" "$work/busybox.tar"
"$BERTH" image import "$work/busybox.tar" it/busybox >/dev/null
mkdir -p "$work/stack" && cd "$work/stack"
cat > compose.yaml <<'YAML'
name: itup
services:
  db:
    image: it/busybox
    command: sh -c 'sleep 0.3; touch /tmp/ready; echo db ready; trap "exit 0" TERM; while true; do sleep 0.05; done'
    healthcheck:
      test: ["CMD", "test", "-f", "/tmp/ready"]
      interval: 100ms
      start_period: 5s
      start_interval: 50ms
  migrate:
    image: it/busybox
    command: sh -c 'echo migrated > /dev/null; exit 0'
    depends_on: [db]
  web:
    image: it/busybox
    command: sh -c 'trap "exit 0" TERM; while true; do sleep 0.05; done'
    init: true
    depends_on:
      db: {condition: service_healthy}
      migrate: {condition: service_completed_successfully}
  flaky:
    image: it/busybox
    command: sh -c 'echo flaky run; exit 3'
    restart: on-failure:3
  always:
    image: it/busybox
    command: ["sleep", "1000"]
    init: true
    restart: always
  unless:
    image: it/busybox
    command: ["sleep", "1000"]
    init: true
    restart: unless-stopped
  stubborn:
    image: it/busybox
    command: sh -c 'trap "" TERM; while true; do sleep 0.05; done'
    stop_grace_period: 1s
YAML

"$BERTH" up -d >/dev/null 2>&1
check "up -d succeeds" 0 $?
json=$("$BERTH" ps -a --format json)
started() { echo "$json" | python3 -c "import json,sys; print([c['started_at'] for c in [json.loads(l) for l in sys.stdin if l.strip()] if c['service']=='$1'][0])"; }
field() { echo "$json" | python3 -c "import json,sys; print([c.get('$2') for c in [json.loads(l) for l in sys.stdin if l.strip()] if c['service']=='$1'][0])"; }
db=$(started db); mig=$(started migrate); web=$(started web)
check "migrate starts after db" 1 "$([ "$mig" \> "$db" ] && echo 1)"
check "web starts after migrate completed" 1 "$([ "$web" \> "$mig" ] && echo 1)"
check "db is healthy" healthy "$(field db health)"
check "migrate completed" 0 "$(field migrate exit_code)"

# on-failure:3 gives up after three restarts (backoff 100, 200, 400 ms).
sleep 1.5
json=$("$BERTH" ps -a --format json)
check "on-failure:3 restarts three times" 3 "$(field flaky restarts)"
check "then stays exited" exited "$(field flaky state)"
check "ps lists the running ones" "always db stubborn unless web" "$("$BERTH" ps --services | sort | tr '\n' ' ' | sed 's/ $//')"

# exec joins a running container; logs reads what it printed.
out=$("$BERTH" exec -T db sh -c 'hostname; test -f /tmp/ready && echo ready; exit 5')
check "exec's exit code" 5 $?
check "exec runs inside the container" "itup-db-1
ready" "$out"
check "exec pipes stdin" "piped" "$(echo piped | "$BERTH" exec -T db cat)"
out=$("$BERTH" exec -T db /nope 2>&1)
contains "exec of a missing program" "exec /nope: No such file or directory" "$out"
"$BERTH" exec -T db sh -c 'echo from-exec' >/dev/null
check "logs: the main process' output only" "itup-db-1  | db ready" "$("$BERTH" logs db)"
check "logs --tail 1 of a restarted service" "itup-flaky-1  | flaky run" "$("$BERTH" logs --tail 1 flaky)"
check "logs keeps every run" 4 "$("$BERTH" logs flaky | grep -c 'flaky run')"

# `up` again: only the service whose configuration changed is recreated.
json=$("$BERTH" ps -a --format json)
db_before=$(started db); web_before=$(started web)
sed -i '/^    command: sh -c .trap "exit 0" TERM/s/sleep 0.05/sleep 0.06/' compose.yaml
out=$("$BERTH" up --dry-run web 2>&1)
contains "up --dry-run names the key that changed" "DRY-RUN MODE - Container itup-web-1  Recreate (command changed)" "$out"
contains "… and keeps the unchanged one" "DRY-RUN MODE - Container itup-db-1  Running" "$out"
json=$("$BERTH" ps -a --format json)
check "… and changes nothing" "$web_before" "$(started web)"
out=$("$BERTH" up -d web 2>&1)
contains "up again reports the recreated service" "itup-web-1  Recreated" "$out"
contains "and the unchanged one as running" "itup-db-1  Running" "$out"
json=$("$BERTH" ps -a --format json)
check "the unchanged db kept running" "$db_before" "$(started db)"
check "web was recreated" 1 "$([ "$(started web)" \> "$web_before" ] && echo 1)"

# Operator commands reach the running supervisor.
"$BERTH" pause web >/dev/null
contains "pause freezes the container" "paused" "$("$BERTH" ps)"
check "through the freezer cgroup (v1 here)" FROZEN "$(cat /sys/fs/cgroup/freezer/berth/itup-web-1/freezer.state)"
"$BERTH" unpause web >/dev/null
"$BERTH" stop web >/dev/null
json=$("$BERTH" ps -a --format json)
check "stop: exited and not restarted" exited "$(field web state)"
"$BERTH" start web >/dev/null
json=$("$BERTH" ps -a --format json)
check "start: running again" running "$(field web state)"
"$BERTH" kill -s TERM web >/dev/null
sleep 0.3
json=$("$BERTH" ps -a --format json)
check "kill -s TERM: the trap exits 0" 0 "$(field web exit_code)"
contains "ls lists the project" "itup" "$("$BERTH" ls)"
"$BERTH" events --json > "$work/events.out" 2>&1 &
ev_pid=$!
wait_client "$ev_pid"
"$BERTH" restart web >/dev/null
sleep 0.3
kill "$ev_pid" 2>/dev/null; wait "$ev_pid" 2>/dev/null
contains "events streams state changes" '"action":"starting","id":"itup-web-1"' "$(cat "$work/events.out")"
contains "events sees it running again" '"action":"running","id":"itup-web-1"' "$(cat "$work/events.out")"
"$BERTH" exec -T web sh -c 'echo kept > /marker'
"$BERTH" restart web >/dev/null
check "the writable layer survives a restart (volatile overlay reused)" kept "$("$BERTH" exec -T web cat /marker 2>&1)"
"$BERTH" kill -s TERM web >/dev/null
check "wait prints the exit code" 0 "$("$BERTH" wait web)"
"$BERTH" rm web >/dev/null
check "rm removes the stopped container" "" "$("$BERTH" ps -a -q | grep itup-web)"
out=$("$BERTH" stop nosuch 2>&1)
check "stop of an unknown service exits 1" 1 $?

# A user stop is final for both always and unless-stopped.
"$BERTH" stop always unless >/dev/null
sleep 0.5
json=$("$BERTH" ps -a --format json)
check "always stays stopped after a user stop" exited "$(field always state)"
check "unless-stopped stays stopped after a user stop" exited "$(field unless state)"

"$BERTH" up -d web >/dev/null 2>&1
s=$(date +%s%N)
"$BERTH" down >"$work/down.out" 2>&1  # its progress is on stderr, as docker compose's
e=$(date +%s%N)
ms=$(( (e - s) / 1000000 ))
# stop_grace_period is 1s: down waits at least that, and well under the 10s default
# (the bound is loose: CI runs two integration tests at once on two cores).
check "down waits the grace period for a process ignoring SIGTERM" 1 "$([ $ms -ge 1000 ] && [ $ms -lt 9000 ] && echo 1)"
check "down leaves no state" "" "$("$BERTH" ps -a -q)"
web_exit=$(grep -n "itup-web-1  Exited" "$work/down.out" | cut -d: -f1)
db_stop=$(grep -n "itup-db-1  Stopping" "$work/down.out" | cut -d: -f1)
check "down stops web (a dependent) before db" 1 "$([ -n "$web_exit" ] && [ -n "$db_stop" ] && [ "$web_exit" -lt "$db_stop" ] && echo 1)"
check_no_leaks itup-

# Orphans: a service removed from the file is kept by `down` unless --remove-orphans.
"$BERTH" up -d web >/dev/null 2>&1
cp compose.yaml compose.full.yaml
python3 - <<'PY'
import re
text = open("compose.yaml").read()
text = re.sub(r"\n  stubborn:\n(    .*\n)+", "\n", text)
open("compose.yaml", "w").write(text)
PY
"$BERTH" -f compose.full.yaml -p itup up -d stubborn >/dev/null 2>&1
out=$("$BERTH" down 2>&1)
contains "down warns about the orphan" "orphan container itup-stubborn-1 kept" "$out"
check "the orphan is still listed" "itup-stubborn-1" "$("$BERTH" -f compose.full.yaml -p itup ps -a -q)"
"$BERTH" down --remove-orphans >/dev/null 2>&1
check "down --remove-orphans removes it" "" "$("$BERTH" -f compose.full.yaml -p itup ps -a -q)"
mv compose.full.yaml compose.yaml
check_no_leaks itup-

# A killed supervisor: down still removes everything.
"$BERTH" up -d web >/dev/null 2>&1
sup=$(python3 -c "import json; print(json.load(open('$BERTH_RUNTIME_DIR/itup/project.json'))['supervisor'])" 2>/dev/null)
if [ -n "$sup" ]; then kill -9 "$sup"; ok "supervisor killed"; else fail "no supervisor pid recorded"; fi
sleep 0.2
contains "ps shows the orphans" "web" "$("$BERTH" ps -a)"
"$BERTH" down >/dev/null
check_no_leaks itup-

# Attached: output with name prefixes, Ctrl-C stops the stack gracefully.
"$BERTH" up web > "$work/attached.out" 2>&1 &
up_pid=$!
for i in $(seq 300); do grep -q "itup-web-1  Started" "$work/attached.out" 2>/dev/null && break; sleep 0.1; done
kill -INT "$up_pid"
wait "$up_pid"
check "attached up exits 0 after Ctrl-C" 0 $?
contains "attached up prints container output" "Gracefully stopping" "$(cat "$work/attached.out")"
contains "containers exit on the stop" "itup-web-1 exited with code 0" "$(cat "$work/attached.out")"
if grep -q warning "$work/attached.out"; then fail "attached up printed a warning"; else ok "no warnings"; fi
"$BERTH" down >/dev/null
check_no_leaks itup-

# --wait returns once healthy; --wait-timeout names what is not.
mkdir -p "$work/wait" && cd "$work/wait"
cat > compose.yaml <<'YAML'
name: itwait
services:
  ok:
    image: it/busybox
    command: sh -c 'sleep 0.2; touch /tmp/ok; exec sleep 1000'
    init: true
    healthcheck: {test: ["CMD", "test", "-f", "/tmp/ok"], interval: 100ms}
  never:
    image: it/busybox
    command: ["sleep", "1000"]
    init: true
    profiles: [slow]
    healthcheck: {test: ["CMD", "false"], interval: 5s}
YAML
"$BERTH" up --wait >/dev/null 2>&1
check "up --wait succeeds" 0 $?
json=$("$BERTH" ps -a --format json)
check "and returns only once healthy" healthy "$(field ok health)"
"$BERTH" down >/dev/null
out=$("$BERTH" --profile slow up --wait --wait-timeout 5 2>&1)
check "up --wait-timeout exits 1" 1 $?
contains "naming the container not ready" "itwait-never-1 (" "$out"  # (running, starting); on a loaded machine maybe (starting)
"$BERTH" --profile slow down >/dev/null
# A check that outlives its timeout is killed and counted as failed; the supervisor goes on (it
# died of "wait for exec: Resource temporarily unavailable" before, taking up --wait with it).
cat > compose.yaml <<'YAML'
name: itwait
services:
  hang:
    image: it/busybox
    command: ["sleep", "1000"]
    init: true
    healthcheck: {test: ["CMD", "sleep", "10"], interval: 100ms, timeout: 200ms, retries: 2}
YAML
out=$("$BERTH" up --wait --wait-timeout 20 2>&1)
check "up --wait of a check that always times out exits 1" 1 $?
contains "naming it unhealthy" "itwait-hang-1" "$out"
check "no wait error" "" "$(echo "$out" | grep 'Resource temporarily')"
json=$("$BERTH" ps -a --format json)
check "the supervisor lives on and marks it unhealthy" unhealthy "$(field hang health)"
contains "its log says why" "exceeded timeout" "$("$BERTH" inspect hang 2>&1)"
"$BERTH" down >/dev/null
check_no_leaks itwait-
cd "$work/stack"

# A dependency cycle fails before anything starts.
cat > compose.yaml <<'YAML'
name: itcycle
services:
  a: {image: it/busybox, command: "true", depends_on: [b]}
  b: {image: it/busybox, command: "true", depends_on: [a]}
YAML
out=$("$BERTH" up -d 2>&1)
check "cycle exits 1" 1 $?
contains "cycle is named" "dependency cycle" "$out"
check "nothing started" "" "$(ls "$BERTH_RUNTIME_DIR" 2>/dev/null | grep itcycle)"
finish
