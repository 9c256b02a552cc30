#!/bin/sh
# Crashes and faults: after a supervisor killed with SIGKILL the next `up -d`
# stops what it left running before it starts anything (a container never runs
# twice, so one writer appends to its volume), and a service whose restart
# fails fails alone (the supervisor and the other services keep running, `ps`
# and `events` report it, `start` retries it, and no fd leaks on the way).
# Also: `up --remove-orphans` after a crash removes only the orphans.
. "$(dirname "$0")/lib/common.sh"

"$here/lib/make-busybox-rootfs.sh" "$work/busybox.tar"
"$BERTH" image import "$work/busybox.tar" it/busybox >/dev/null
mkdir -p "$work/crash" && cd "$work/crash"
# The writer appends numbered records to a file on a named volume, each
# synced, every ~20 ms; a new writer goes on from the file's last record, so
# one writer at a time leaves 1, 2, 3, … and two at once leave duplicates.
cat > compose.yaml <<'YAML'
name: crashrec
services:
  writer:
    image: it/busybox
    stop_grace_period: 5s
    command:
      - sh
      - -c
      - |
        : crashmarker
        trap 'exit 0' TERM
        n=$$(tail -n 1 /data/log 2>/dev/null)
        n=$${n:-0}
        while :; do n=$$((n + 1)); echo "$$n" >> /data/log; sync /data/log; usleep 20000; done
    volumes: [data:/data]
volumes:
  data:
YAML
log="$BERTH_ROOT/volumes/crashrec_data/_data/log"
supervisor_of() { sed -n 's/.*"supervisor": *\([0-9]*\).*/\1/p' "$BERTH_RUNTIME_DIR/$1/project.json"; }
# How many copies of the writer run: the PID namespaces of the processes whose
# command line carries the marker (a copy's shell and what it forks share one;
# the pattern in brackets keeps this grep from matching itself).
copies() {
    for f in $(grep -l -a 'crash[m]arker' /proc/[0-9]*/cmdline 2>/dev/null); do readlink "${f%/cmdline}/ns/pid"; done |
        sort -u | grep -c .
}
records() { [ -f "$log" ] && wc -l < "$log" || echo 0; }
wait_records() {  # wait_records N: until the log holds more than N records
    for _ in $(seq 100); do [ "$(records)" -gt "$1" ] && return 0; sleep 0.05; done
    return 1
}

"$BERTH" up -d >/dev/null 2>&1 || fail "up"
wait_records 20 || fail "the writer writes"
for round in 1 2 3; do
    sup=$(supervisor_of crashrec)
    before=$(tail -n 1 "$log")
    [ -n "$sup" ] && kill -9 "$sup"
    sleep 0.3
    check "round $round: the killed supervisor's writer survives it" 1 "$(copies)"
    # Sample the number of copies while the next `up -d` runs, and a while after.
    rm -f "$work/most" "$work/enough"
    (most=0; until [ -e "$work/enough" ]; do
        c=$(copies); [ "$c" -gt "$most" ] && most=$c && echo "$most" > "$work/most"; sleep 0.01
    done) &
    sampler=$!
    "$BERTH" up -d >/dev/null 2>&1 || fail "round $round: up -d after a killed supervisor"
    sleep 1
    touch "$work/enough"
    wait "$sampler"
    check "round $round: never two copies of the writer at once" 1 "$(cat "$work/most" 2>/dev/null)"
    new=$(supervisor_of crashrec)
    [ -n "$new" ] && [ "$new" != "$sup" ] && kill -0 "$new" 2>/dev/null && ok "round $round: a new supervisor runs" ||
        fail "round $round: no new supervisor (was $sup, now $new)"
    now=$(records)
    wait_records "$now" || fail "round $round: the new writer writes"
    check "round $round: every record written before the kill is there" "$before" "$(sed -n "${before}p" "$log")"
    check "round $round: the state records the writer's pid start time" 1 \
        "$(grep -c '"pid_start_time": [1-9]' "$BERTH_RUNTIME_DIR/crashrec/containers/crashrec-writer-1.json")"
done
"$BERTH" down >/dev/null 2>&1 || fail "down"
total=$(records)
[ "$total" -gt 60 ] && ok "the writer wrote $total records" || fail "only $total records"
check "records strictly increasing, none lost or duplicated (1..$total)" 0 "$(awk '$1 != NR {bad++} END {print bad + 0}' "$log")"
check "no copy of the writer left" 0 "$(copies)"
"$BERTH" down -v >/dev/null 2>&1
check_no_leaks crashrec-

# After a killed supervisor, `up -d --remove-orphans` removes the orphans only:
# the other containers' records and the new supervisor's lock stay, so the
# next `up -d` goes to that supervisor instead of starting a second one.
mkdir -p "$work/orph" && cd "$work/orph"
printf 'name: crashorph\nservices:\n  a: {image: it/busybox, command: sleep 1000, init: true}\n  b: {image: it/busybox, command: sleep 1000, init: true}\n' > compose.yaml
"$BERTH" up -d >/dev/null 2>&1 || fail "orphans: up"
sup=$(supervisor_of crashorph)
[ -n "$sup" ] && kill -9 "$sup"
sleep 0.2
printf 'name: crashorph\nservices:\n  a: {image: it/busybox, command: sleep 1000, init: true}\n' > compose.yaml
"$BERTH" up -d --remove-orphans >/dev/null 2>&1 || fail "orphans: up -d --remove-orphans after a killed supervisor"
sup=$(supervisor_of crashorph)
check "orphans: the orphan is removed, a stays" "crashorph-a-1" "$("$BERTH" ps -a -q)"
contains "orphans: the new supervisor holds the project" "running(" "$("$BERTH" ls | grep crashorph)"
contains "orphans: the next up -d goes to it" "crashorph-a-1  Running" "$("$BERTH" up -d 2>&1)"
check "orphans: … the same supervisor" "$sup" "$(supervisor_of crashorph)"
"$BERTH" down >/dev/null 2>&1 || fail "orphans: down"
check_no_leaks crashorph-

# A service whose restart fails (its bind source removed) fails alone.
mkdir -p "$work/fault" && cd "$work/fault"
cat > compose.yaml <<'YAML'
name: crashflt
services:
  steady:
    image: it/busybox
    command: sleep 1000
    init: true
  fragile:
    image: it/busybox
    command: sleep 1000
    init: true
    restart: always
    volumes:
      - type: bind
        source: ./src
        target: /src
        bind: {create_host_path: false}
YAML
mkdir src
"$BERTH" up -d >/dev/null 2>&1 || fail "fault: up"
sup=$(supervisor_of crashflt)
pid_of() { sed -n 's/.*"pid": *\([0-9]*\).*/\1/p' "$BERTH_RUNTIME_DIR/crashflt/containers/crashflt-$1-1.json"; }
state_of() { sed -n 's/.*"state": *"\([a-z]*\)".*/\1/p' "$BERTH_RUNTIME_DIR/crashflt/containers/crashflt-$1-1.json"; }
steady=$(pid_of steady)
"$BERTH" events --json > "$work/events.out" 2>&1 &
events=$!
wait_client "$events"
rmdir src
"$BERTH" kill fragile >/dev/null 2>&1 || fail "fault: kill fragile"
for _ in $(seq 100); do [ "$(state_of fragile)" = exited ] && break; sleep 0.05; done
sleep 0.3
check "fault: the failed restart leaves fragile exited" exited "$(state_of fragile)"
kill -0 "$sup" 2>/dev/null && ok "fault: the supervisor still runs" || fail "fault: the supervisor ended"
contains "fault: … and holds the project" "running(" "$("$BERTH" ls | grep crashflt)"
check "fault: steady keeps running, same pid" "$steady" "$(pid_of steady)"
kill -0 "$steady" 2>/dev/null && ok "fault: steady's process is alive" || fail "fault: steady's process is gone"
contains "fault: ps shows fragile exited (127)" "exited (127)" "$("$BERTH" ps -a | grep fragile)"
contains "fault: ps shows why" "bind source" "$("$BERTH" ps -a | grep fragile)"
contains "fault: ps --format json has the error" "does not exist" "$("$BERTH" ps -a --format json)"
kill "$events" 2>/dev/null
wait "$events" 2>/dev/null
contains "fault: events reported the failure" '"action":"exited"' "$(grep crashflt-fragile-1 "$work/events.out" | grep bind)"
# Failed starts leak no descriptor of the supervisor's: retried with the
# source still missing, and with the container's state directory made a file.
fds() { ls "/proc/$sup/fd" 2>/dev/null | wc -l; }
out=$("$BERTH" start fragile 2>&1)
check "fault: start with the source still missing fails" 1 "$?"
contains "fault: … saying why" "bind source" "$out"
fds_before=$(fds)
[ "$fds_before" -gt 3 ] && ok "fault: the supervisor has $fds_before fds" || fail "fault: no supervisor fds to count"
for _ in 1 2 3 4 5; do "$BERTH" start fragile >/dev/null 2>&1; done
rm -rf "$BERTH_ROOT/containers/crashflt-fragile-1" && touch "$BERTH_ROOT/containers/crashflt-fragile-1"
mkdir src
for _ in 1 2 3 4 5; do "$BERTH" start fragile >/dev/null 2>&1 && fail "fault: a start over a state file succeeded"; done
# (Fewer is fine: a control connection of a command that ended may close meanwhile.)
fds_after=$(fds)
[ "$fds_after" -le "$fds_before" ] && ok "fault: no fd leaked over 10 failed starts ($fds_before, then $fds_after)" ||
    fail "fault: fds leaked over 10 failed starts: $fds_before, then $fds_after"
rm -f "$BERTH_ROOT/containers/crashflt-fragile-1"
"$BERTH" start fragile >/dev/null 2>&1 || fail "fault: start once the source is back"
check "fault: start brings fragile back" running "$(state_of fragile)"
fragile=$(pid_of fragile)
[ "$fragile" -gt 0 ] && kill -0 "$fragile" 2>/dev/null && ok "fault: fragile's process runs" || fail "fault: fragile does not run"
check "fault: steady untouched" "$steady" "$(pid_of steady)"
check "fault: the same supervisor throughout" "$sup" "$(supervisor_of crashflt)"
kill -0 "$sup" 2>/dev/null && ok "fault: … and it still runs" || fail "fault: the supervisor ended"
# A start that fails inside the runtime (no such program: the child reports it
# over its error pipe once the output pipes, the log and the ports are made)
# leaks none of the supervisor's fds either: `up` while up recreates fragile so.
awk '/^  fragile:/{f=1} f&&/command:/{sub(/sleep 1000/, "/no/such/program")} f&&/init:/{sub(/true/, "false"); f=0} {print}' \
    compose.yaml > compose.new &&
    mv compose.new compose.yaml
"$BERTH" up -d >/dev/null 2>&1
contains "fault: a program that does not exist: exited (127)" "exited (127)" "$("$BERTH" ps -a | grep fragile)"
contains "fault: … saying which" "/no/such/program" "$("$BERTH" ps -a --format json)"
"$BERTH" start fragile >/dev/null 2>&1  # its log file is open from here on, for the unit's life
fds_before=$(fds)
for _ in 1 2 3 4 5; do "$BERTH" start fragile >/dev/null 2>&1 && fail "fault: a start of a missing program succeeded"; done
fds_after=$(fds)
[ "$fds_after" -le "$fds_before" ] && ok "fault: no fd leaked over 5 starts failed in the runtime ($fds_before, then $fds_after)" ||
    fail "fault: fds leaked over 5 starts failed in the runtime: $fds_before, then $fds_after"
check "fault: steady still untouched" "$steady" "$(pid_of steady)"
"$BERTH" down >/dev/null 2>&1 || fail "fault: down"
check_no_leaks crashflt-
finish
