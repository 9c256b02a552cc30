#!/bin/sh
# `berth up` as a Type=notify systemd service: this script plays systemd's side of
# sd_notify(3) — a unix datagram socket it listens on, $NOTIFY_SOCKET and $WATCHDOG_USEC —
# and checks READY=1 only after the slowest health check passed, STATUS= lines in order,
# EXTEND_TIMEOUT_USEC= while starting, watchdog pings at the asked interval, STOPPING=1 on
# SIGTERM and the stack stopped in reverse dependency order; attached output to a
# non-terminal has no escape codes; STATUS= and EXTEND_TIMEOUT_USEC= while an image is built.
. "$(dirname "$0")/lib/common.sh"

"$here/lib/make-busybox-rootfs.sh" "$work/busybox.tar"
"$BERTH" image import "$work/busybox.tar" it/busybox >/dev/null
mkdir -p "$work/stack/out" && cd "$work/stack"
# db is healthy ~1.5 s after it starts; web needs db healthy and migrate done. Each
# long-running service appends its name to out/stopped when it is asked to stop.
cat > compose.yaml <<'YAML'
name: itnotify
services:
  db:
    image: it/busybox
    command: sh -c 'trap "echo db >> /out/stopped; exit 0" TERM; sleep 1.5; touch /tmp/ready; while true; do sleep 0.05; done'
    volumes: [./out:/out]
    healthcheck:
      test: ["CMD", "test", "-f", "/tmp/ready"]
      interval: 100ms
      start_period: 10s
      start_interval: 50ms
  cache:
    image: it/busybox
    command: sh -c 'trap "echo cache >> /out/stopped; exit 0" TERM; echo cache up; while true; do sleep 0.05; done'
    volumes: [./out:/out]
    logging: {driver: journald}
  migrate:
    image: it/busybox
    command: sh -c 'echo migrated; exit 0'
    depends_on: [db]
  web:
    image: it/busybox
    command: sh -c 'trap "sleep 0.3; echo web >> /out/stopped; exit 0" TERM; echo web up; while true; do sleep 0.05; done'
    volumes: [./out:/out]
    depends_on:
      db: {condition: service_healthy}
      migrate: {condition: service_completed_successfully}
YAML

# systemd's side: each datagram on a line, "EPOCH-SECONDS MSG" with newlines as '|'.
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
# journald's side too: cache logs with `driver: journald` (BERTH_JOURNAL_SOCKET for the test).
python3 "$work/listen.py" "$work/journal.sock" "$work/journal.log" &
journal=$!
export BERTH_JOURNAL_SOCKET="$work/journal.sock"
for _ in $(seq 100); do grep -q listening "$work/notify.log" 2>/dev/null && grep -q listening "$work/journal.log" 2>/dev/null && break; sleep 0.05; done

# WATCHDOG_USEC 400 ms: pings every 200 ms.
NOTIFY_SOCKET="$work/notify.sock" WATCHDOG_USEC=400000 "$BERTH" up > "$work/up.out" 2>&1 &
up=$!
for _ in $(seq 300); do grep -q 'READY=1' "$work/notify.log" && break; sleep 0.05; done
grep -q 'READY=1' "$work/notify.log"
check "READY=1 arrives" 0 $?

json=$("$BERTH" ps -a --format json)
field() { printf '%s' "$json" | python3 -c "import json,sys; print([c.get('$2') for c in [json.loads(l) for l in sys.stdin if l.strip()] if c['service']=='$1'][0])"; }
check "db is healthy when READY=1 is sent" healthy "$(field db health)"
check "web runs when READY=1 is sent" running "$(field web state)"
check "migrate has completed" 0 "$(field migrate exit_code)"
# READY=1 comes after db's health check passed: at least 1.5 s after db started.
ready_at=$(grep 'READY=1' "$work/notify.log" | head -1 | cut -d' ' -f1)
db_started=$(field db started_at)
after=$(python3 -c "
import datetime, sys
s = '$db_started'.rstrip('Z')
t = datetime.datetime.fromisoformat(s[:26]).replace(tzinfo=datetime.timezone.utc).timestamp()
print(1 if $ready_at - t >= 1.5 else 0, round($ready_at - t, 2))")
check "READY=1 at least 1.5 s after db started (db healthy then)" 1 "${after% *}"
echo "     READY=1 came ${after#* } s after db started"
check "READY=1 is sent once" 1 "$(grep -c 'READY=1' "$work/notify.log")"
contains "READY=1 carries the final status" "READY=1|STATUS=4/4 running, 1/1 healthy" "$(cat "$work/notify.log")"

# STATUS= lines before READY=1, from when the loop runs: the first one counts every
# container and waits for them all, running counts never go down, db is waited for until it
# is healthy, then only web; every one extends the start timeout.
before=$(sed -n '/READY=1/q;/STATUS=/p' "$work/notify.log")
echo "$before" | sed 's/^/     /'
contains "the first STATUS counts every container" "STATUS=0/4 running, waiting for itnotify-cache-1, itnotify-db-1, itnotify-migrate-1, itnotify-web-1" "$(echo "$before" | head -1)"
check "each extends the start timeout" "$(echo "$before" | wc -l)" "$(echo "$before" | grep -c 'EXTEND_TIMEOUT_USEC=30000000')"
check "all but the last wait for something" "$(($(echo "$before" | wc -l) - 1))" "$(echo "$before" | sed '$d' | grep -c 'waiting for')"
order=$(echo "$before" | sed -n 's/.*STATUS=\([0-9]*\)\/4 running.*/\1/p' | tr '\n' ' ')
sorted=$(echo "$order" | tr ' ' '\n' | grep . | sort -n | tr '\n' ' ')
check "running counts in order (never down)" "$sorted" "$order"
waiting_db=$(echo "$before" | grep -n '0/1 healthy, waiting for itnotify-db-1' | head -1 | cut -d: -f1)
then_web=$(echo "$before" | grep -n '1/1 healthy, waiting for itnotify-web-1' | head -1 | cut -d: -f1)
check "db waited for (0/1 healthy), then only web once db is healthy" 1 "$([ -n "$waiting_db" ] && [ -n "$then_web" ] && [ "$waiting_db" -lt "$then_web" ] && echo 1)"
check "no EXTEND_TIMEOUT_USEC after READY=1" "" "$(sed -n '/READY=1/,$p' "$work/notify.log" | grep EXTEND_TIMEOUT)"

# Watchdog: WATCHDOG=1 every 200 ms; count them over 2 s.
t0=$(python3 -c 'import time; print(time.time())')
sleep 2
n=$(awk -v t0="$t0" '$1 >= t0 && $1 < t0 + 2 && /WATCHDOG=1/' "$work/notify.log" | wc -l)
echo "     $n watchdog pings in 2 s (asked: every 200 ms)"
check "watchdog pings at the asked interval (8..12 in 2 s)" 1 "$([ "$n" -ge 8 ] && [ "$n" -le 12 ] && echo 1)"

# Reload (the unit's ExecReload=berth up -d): the running supervisor applies a changed file.
sed -i 's/echo web up;/echo web up again;/' compose.yaml
out=$("$BERTH" up -d 2>&1)
contains "reload recreates the changed service" "Container itnotify-web-1  Recreated" "$out"
for _ in $(seq 100); do grep -q 'web up again' "$work/up.out" && break; sleep 0.05; done
contains "the recreated web runs under the same supervisor" "itnotify-web-1  | web up again" "$(cat "$work/up.out")"
check "READY=1 is not sent again" 1 "$(grep -c 'READY=1' "$work/notify.log")"
: > out/stopped

# SIGTERM: STOPPING=1, then web stops before db (it depends on db); up exits 0.
kill -TERM $up
wait $up
check "up exits 0 after SIGTERM" 0 $?
grep -q 'STOPPING=1' "$work/notify.log"
check "STOPPING=1 on SIGTERM" 0 $?
stopping_at=$(grep 'STOPPING=1' "$work/notify.log" | cut -d' ' -f1)
check "STOPPING=1 after READY=1" 1 "$(python3 -c "print(1 if $stopping_at > $ready_at else 0)")"
check "web stopped before db" "web db" "$(grep -v cache out/stopped | tr '\n' ' ' | sed 's/ $//')"
json=$("$BERTH" ps -a --format json)
check "db finished after web" 1 "$([ "$(field db finished_at)" \> "$(field web finished_at)" ] && echo 1)"
check "every container exited" "exited exited exited exited" "$(for s in db cache migrate web; do field $s state; done | tr '\n' ' ' | sed 's/ $//')"
contains "attached output is there" "itnotify-web-1  | web up" "$(cat "$work/up.out")"
contains "a journald service's line is printed too" "itnotify-cache-1  | cache up" "$(cat "$work/up.out")"
contains "… and sent to the journal with docker's fields" "MESSAGE=cache up|PRIORITY=6|SYSLOG_IDENTIFIER=cache|CONTAINER_NAME=itnotify-cache-1|COMPOSE_PROJECT=itnotify|COMPOSE_SERVICE=cache|" "$(cat "$work/journal.log")"
check "only the journald service's lines go to the journal" "" "$(grep -v -e listening -e 'CONTAINER_NAME=itnotify-cache-1' "$work/journal.log")"
check "no escape codes in attached output to a non-terminal" 0 "$(grep -c "$(printf '\033')" "$work/up.out")"

# Without NOTIFY_SOCKET nothing is sent; WATCHDOG_PID of another process: no pings.
lines=$(wc -l < "$work/notify.log")
"$BERTH" up -d >/dev/null 2>&1
"$BERTH" down >/dev/null 2>&1
check "up -d without NOTIFY_SOCKET sends nothing" "$lines" "$(wc -l < "$work/notify.log")"

# Under systemd (stdout is the journal's stream, $JOURNAL_STREAM names it): every line goes to
# the journal as an entry of its own, none to stdout.
: > "$work/journal.log"
touch "$work/up2.out"
js=$(stat -c '%d:%i' "$work/up2.out")
JOURNAL_STREAM=$js "$BERTH" up --abort-on-container-exit migrate > "$work/up2.out" 2>/dev/null
check "under the journal: no container line on stdout" "" "$(grep '|' "$work/up2.out")"
contains "under the journal: migrate's line as an entry" "MESSAGE=migrated|PRIORITY=6|SYSLOG_IDENTIFIER=migrate|CONTAINER_NAME=itnotify-migrate-1" "$(cat "$work/journal.log")"
"$BERTH" down >/dev/null 2>&1

# A service whose image `up` must build first: while the build runs (a RUN printing a line
# every 0.4 s for 2.4 s), STATUS= says so and EXTEND_TIMEOUT_USEC= keeps coming (at most once
# a second), so a build longer than the start timeout is not cut; then the containers' lines.
mkdir -p "$work/built" && cd "$work/built"
printf 'FROM it/busybox\nRUN for i in 1 2 3 4 5 6; do echo step $i; sleep 0.4; done\nCMD ["sleep", "1000"]\n' > Dockerfile
printf 'name: itnotifyb\nservices:\n  app:\n    build: .\n    init: true\n' > compose.yaml
from=$(($(wc -l < "$work/notify.log") + 1))
NOTIFY_SOCKET="$work/notify.sock" "$BERTH" up > "$work/up3.out" 2>&1 &
up=$!
for _ in $(seq 300); do tail -n +"$from" "$work/notify.log" | grep -q 'READY=1' && break; sleep 0.05; done
msgs=$(tail -n +"$from" "$work/notify.log" | cut -d' ' -f2-)
echo "$msgs" | sed -n '1,/READY=1/p' | sed 's/^/     /'
check "the first message: the build, with a start timeout extension" "STATUS=building the image of app|EXTEND_TIMEOUT_USEC=30000000" "$(echo "$msgs" | head -1)"
building=$(echo "$msgs" | sed -n '/STATUS=[0-9]/q;p')
n=$(echo "$building" | grep -c '^EXTEND_TIMEOUT_USEC=30000000$')
check "the timeout is extended again while the build prints (2..4 in 2.4 s, at most 1 a second)" 1 "$([ "$n" -ge 2 ] && [ "$n" -le 4 ] && echo 1)"
contains "then the containers' progress, then READY=1" "READY=1|STATUS=1/1 running" "$msgs"
contains "the build's output is there" "step 6" "$(cat "$work/up3.out")"
kill -TERM $up
wait $up
check "up of the built service exits 0 after SIGTERM" 0 $?
"$BERTH" down >/dev/null 2>&1
cd "$work/stack"

kill $listener $journal
wait $listener $journal 2>/dev/null
"$BERTH" down >/dev/null 2>&1
check_no_leaks itnotify-
finish
