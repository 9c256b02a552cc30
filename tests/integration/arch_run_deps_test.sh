#!/bin/sh
# branch arch (issue 12): `berth run` waits for its service's dependencies through the supervisor
# (the control op wait_dependencies, answered as the units change): it goes on the moment a
# dependency turns healthy, and fails, rather than waiting for ever, when a dependency's container
# could not start (an optional one: a warning, and it goes on).
. "$(dirname "$0")/lib/common.sh"

ip link set lo up
"$here/lib/make-busybox-rootfs.sh" "$work/busybox.tar.gz"
"$BERTH" image import "$work/busybox.tar.gz" arch/busybox >/dev/null
mkdir -p "$work/p"
cat > "$work/p/compose.yaml" <<'YAML'
services:
  db:
    image: arch/busybox
    init: true
    command: sleep infinity
    healthcheck:
      test: ["CMD", "test", "-f", "/ready"]
      interval: 200ms
      retries: 1000
  app:
    image: arch/busybox
    command: echo app-ran
    depends_on:
      db: {condition: service_healthy}
  broken:
    image: arch/busybox
    command: sleep infinity
    volumes:
      - type: bind
        source: ./missing
        target: /data
        bind: {create_host_path: false}
  needs-broken:
    image: arch/busybox
    command: echo must-not-run
    depends_on: [broken]
  can-do-without:
    image: arch/busybox
    command: echo ran-without-broken
    depends_on:
      broken: {condition: service_started, required: false}
YAML
c="$BERTH -f $work/p/compose.yaml -p arch-rundeps"
cd "$work/p" || exit 1

# db is not healthy until the test says so: run waits, then goes on once it is.
$c run --rm -T app > "$work/run.out" 2> "$work/run.err" &
run=$!
i=0
until [ "$($c ps --format json db 2>/dev/null | grep -c '"Health":"starting"')" = 1 ]; do
    i=$((i + 1))
    [ $i -lt 100 ] || break
    sleep 0.1
done
check "db runs, its health starting" 1 "$($c ps --format json db 2>/dev/null | grep -c '"Health":"starting"')"
sleep 1
kill -0 $run 2>/dev/null; check "run waits while db is not healthy" 0 $?
check "… and its one-off has not run" "" "$(cat "$work/run.out")"
$c exec -T db touch /ready
i=0
while kill -0 $run 2>/dev/null; do
    i=$((i + 1))
    [ $i -lt 200 ] || { kill $run; fail "run still waits 20 s after db turned healthy"; break; }
    sleep 0.1
done
wait $run
check "run goes on once db is healthy" 0 $?
contains "… its one-off ran" "app-ran" "$(cat "$work/run.out")"

# With the project up, a dependency whose container cannot start (its bind source is missing): run
# says so and fails instead of waiting for ever.
out=$(timeout 30 $c run --rm -T needs-broken 2>&1)
code=$?
check "run fails when its dependency could not start" 1 $code
contains "… saying which and why" "service \"broken\" failed to start: service \"broken\": bind source" "$out"
case "$out" in *must-not-run*) fail "… its one-off ran" ;; *) ok "… its one-off did not run" ;; esac
# … and when that dependency is optional, run warns and goes on.
out=$(timeout 30 $c run --rm -T can-do-without 2>&1)
check "run of a service whose optional dependency could not start" 0 $?
contains "… warns" "warning: optional dependency \"broken\" failed to start: service \"broken\": bind source" "$out"
contains "… and runs its one-off" "ran-without-broken" "$out"

$c down >/dev/null 2>&1
check_no_leaks arch-rundeps-
finish
