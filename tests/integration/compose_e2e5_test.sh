#!/bin/sh
# docker compose's e2e scenarios (docker/compose pkg/e2e, testdata/ and
# fixtures/) about up --attach*, wait --down-project, logs -f of containers that
# start later, an attached up on a project already up, and depends_on restart:
# true, ported to berth with local busybox images. Each block names the Go test
# it comes from; berth's own extra checks say so.
. "$(dirname "$0")/lib/common.sh"
. "$(dirname "$0")/lib/compose_state.sh"

compose_e2e_setup


# --- TestStopWithDependenciesAttached (pkg/e2e/compose_test.go), --attach, --no-attach
d="$work/attdeps"
mkdir -p "$d"
cat > "$d/compose.yaml" <<'YAML'
services:
  foo:
    image: it/busybox
    command: sh -c 'sleep 0.5; echo hello; echo foo-err >&2'
    depends_on:
      - bar
  bar:
    image: it/busybox
    init: true
    command: sh -c 'echo bar-here; exec sleep infinity'
YAML
c="$BERTH --ansi=never -f $d/compose.yaml -p compat4-ad"
timeout 60 $c up --attach-dependencies foo > "$work/ad.out" 2> "$work/ad.err"
check "TestStopWithDependenciesAttached: up returns when the attached service exits" 0 $?
contains "… exited with code 0" "exited with code 0" "$(cat "$work/ad.out")"
contains "… with its dependency's output (berth)" "compat4-ad-bar-1  | bar-here" "$(cat "$work/ad.out")"
contains "… a container's stdout on stdout (berth)" "compat4-ad-foo-1  | hello" "$(cat "$work/ad.out")"
contains "… its stderr on stderr (berth)" "compat4-ad-foo-1  | foo-err" "$(cat "$work/ad.err")"
case "$(cat "$work/ad.out")" in *foo-err*) fail "… stderr line on stdout" ;; *) ok "… no stderr line on stdout" ;; esac
$c down >/dev/null 2>&1
timeout 60 $c up foo > "$work/ad.out" 2>&1
check "up foo (berth): returns when foo exits" 0 $?
contains "… prints foo's output" "compat4-ad-foo-1  | hello" "$(cat "$work/ad.out")"
case "$(cat "$work/ad.out")" in *bar-here*) fail "… printed its dependency's output" ;; *) ok "… not its dependency's" ;; esac
$c down >/dev/null 2>&1
timeout 60 $c up --attach bar --abort-on-container-exit > "$work/ad.out" 2>&1 &
upid=$!
for _ in $(seq 100); do grep -q 'foo-1  Started' "$work/ad.out" 2>/dev/null && break; sleep 0.1; done
sleep 1.5
kill -INT "$upid"
wait "$upid"
contains "up --attach bar (berth): bar's output" "compat4-ad-bar-1  | bar-here" "$(cat "$work/ad.out")"
case "$(cat "$work/ad.out")" in *"foo-1  | hello"*) fail "… printed foo's" ;; *) ok "… not foo's" ;; esac
case "$(cat "$work/ad.out")" in *Aborting*) fail "… aborted on foo's exit, which it does not watch" ;; *) ok "… foo's exit does not abort" ;; esac
$c down >/dev/null 2>&1
out=$($c up --attach nosuch 2>&1); check "up --attach of an unknown service exits 1 (berth)" 1 $?
contains "… in docker compose's words" "cannot attach to services not included in up: nosuch" "$out"
timeout 60 $c up --no-attach bar > "$work/ad.out" 2>&1 &
upid=$!
for _ in $(seq 100); do grep -q 'foo-1  | hello' "$work/ad.out" 2>/dev/null && break; sleep 0.1; done
sleep 0.5
kill -INT "$upid" 2>/dev/null
wait "$upid"
contains "up --no-attach bar (berth): foo's output" "compat4-ad-foo-1  | hello" "$(cat "$work/ad.out")"
case "$(cat "$work/ad.out")" in *bar-here*) fail "… printed bar's" ;; *) ok "… not bar's" ;; esac
$c down >/dev/null 2>&1
check_no_leaks compat4-ad-

# --- TestWaitAndDrop (pkg/e2e/wait_test.go, testdata/TestWaitAndDrop) ---------------
d="$work/wait"
mkdir -p "$d"
cat > "$d/compose.yaml" <<'YAML'
services:
  faster:
    image: it/busybox
    command: sleep 2
  slower:
    image: it/busybox
    init: true  # (berth's: stops at once when down takes the project down)
    command: sleep 5
  infinity:
    image: it/busybox
    init: true
    command: sleep infinity
YAML
c="$BERTH -f $d/compose.yaml -p compat4-wait"
$c up -d >/dev/null 2>&1
out=$(timeout 60 $c wait --down-project faster 2>/dev/null); check "TestWaitAndDrop: wait --down-project faster" 0 $?
check "… prints faster's exit code" 0 "$out"
for s in faster slower infinity; do check "… $s not created" none "$(state_of compat4-wait-$s-1 $c)"; done
check_no_leaks compat4-wait-

# --- logs -f follows containers that start after it (berth's own; issue 14) --------
d="$work/follow"
mkdir -p "$d"
cat > "$d/compose.yaml" <<'YAML'
services:
  web:
    image: it/busybox
    command: sh -c 'echo "started $$HOSTNAME"; echo "err $$HOSTNAME" >&2; exec sleep infinity'
    init: true
  late:
    image: it/busybox
    command: sh -c 'echo late-line; exec sleep infinity'
    init: true
YAML
c="$BERTH --ansi=never -f $d/compose.yaml -p compat4-fol"
$c up -d web >/dev/null 2>&1
$c logs -f > "$work/fol.out" 2> "$work/fol.err" &
fol=$!
sleep 1
$c up -d --scale web=2 web >/dev/null 2>&1
$c up -d late >/dev/null 2>&1
for _ in $(seq 50); do grep -q late-line "$work/fol.out" 2>/dev/null && grep -q 'web-2 *| started' "$work/fol.out" && break; sleep 0.1; done
# (names are padded to the longest one followed: one space more once late-1 is among them)
contains "logs -f follows a new replica" "compat4-fol-web-2  | started" "$(sed 's/  *|/  |/' "$work/fol.out")"
contains "… and a service started after it" "compat4-fol-late-1  | late-line" "$(sed 's/  *|/  |/' "$work/fol.out")"
contains "… stderr lines on stderr" "compat4-fol-web-1  | err" "$(sed 's/  *|/  |/' "$work/fol.err")"
case "$(cat "$work/fol.out")" in *"| err"*) fail "… a stderr line on stdout" ;; *) ok "… none on stdout" ;; esac
$c stop >/dev/null 2>&1
sleep 1.5
if kill -0 "$fol" 2>/dev/null; then ok "… keeps following while the project is up (stopped)"; else fail "… ended with the project still up"; fi
$c down >/dev/null 2>&1
for _ in $(seq 50); do kill -0 "$fol" 2>/dev/null || break; sleep 0.1; done
if kill -0 "$fol" 2>/dev/null; then fail "logs -f did not end with the project"; kill "$fol"; else ok "logs -f ends once the project is down"; fi
wait "$fol" 2>/dev/null
check_no_leaks compat4-fol-

# --- TestUpDependenciesNotStopped (pkg/e2e/up_test.go, fixtures/ups-deps-stop) ----
# The project is up (orphan, from another file): the attached `up app` hands the file to its
# supervisor, streams app's output, and Ctrl-C stops app only.
d="$work/upsdeps"
mkdir -p "$d"
cat > "$d/compose.yaml" <<'YAML'
services:
  dependency:
    image: it/busybox
    init: true
    command: /bin/sh -c 'while true; do echo "hello dependency"; sleep 1; done'
  app:
    depends_on: ['dependency']
    image: it/busybox
    init: true
    command: /bin/sh -c 'while true; do echo "hello app"; echo "app-err" >&2; sleep 1; done'
YAML
cat > "$d/orphan.yaml" <<'YAML'
services:
  orphan:
    image: it/busybox
    init: true
    command: /bin/sh -c 'while true; do echo "hello orphan"; sleep 1; done'
YAML
c="$BERTH --ansi=never -p compat4-uds"
$c -f "$d/orphan.yaml" up --wait -d orphan >/dev/null 2>&1
check "TestUpDependenciesNotStopped: orphan running" running "$(state_of compat4-uds-orphan-1 $c -f "$d/orphan.yaml")"
$c -f "$d/compose.yaml" up app > "$work/uds.out" 2> "$work/uds.err" &
upid=$!
for _ in $(seq 150); do grep -q "hello app" "$work/uds.out" 2>/dev/null && break; sleep 0.1; done
contains "… up app streams app's output" "compat4-uds-app-1  | hello app" "$(cat "$work/uds.out")"
check "… app running" running "$(state_of compat4-uds-app-1 $c -f "$d/compose.yaml")"
check "… dependency running" running "$(state_of compat4-uds-dependency-1 $c -f "$d/compose.yaml")"
kill -INT "$upid"
for _ in $(seq 150); do kill -0 "$upid" 2>/dev/null || break; sleep 0.1; done
if kill -0 "$upid" 2>/dev/null; then fail "… up did not end after Ctrl-C"; kill "$upid"; else ok "… up ends after Ctrl-C"; fi
wait "$upid"
check "… app exited" exited "$(state_of compat4-uds-app-1 $c -f "$d/compose.yaml")"
check "… dependency still running" running "$(state_of compat4-uds-dependency-1 $c -f "$d/compose.yaml")"
check "… orphan still running" running "$(state_of compat4-uds-orphan-1 $c -f "$d/orphan.yaml")"
case "$(cat "$work/uds.out")" in *"hello dependency"*) fail "… printed its dependency's output" ;; *) ok "… not its dependency's output (berth)" ;; esac
contains "… app's stderr on stderr (berth)" "compat4-uds-app-1  | app-err" "$(cat "$work/uds.err")"
contains "… its exit line in the stream (berth)" "compat4-uds-app-1 exited with code" "$(cat "$work/uds.out")"
$c -f "$d/compose.yaml" down -t 0 --remove-orphans >/dev/null 2>&1
check_no_leaks compat4-uds-

# The same on a project that is not up (berth): a fresh attached `up app` starts app and its
# dependency; Ctrl-C stops app only, and so does app's own end.
udf="$work/upsdeps-fresh"  # ($d is check_no_leaks's loop variable)
mkdir -p "$udf" && cp "$work/upsdeps/compose.yaml" "$udf/"
c="$BERTH --ansi=never -p compat4-udf"
$c -f "$udf/compose.yaml" up app > "$work/udf.out" 2> "$work/udf.err" &
upid=$!
for _ in $(seq 150); do grep -q "hello app" "$work/udf.out" 2>/dev/null && break; sleep 0.1; done
contains "fresh up app streams app's output" "compat4-udf-app-1  | hello app" "$(cat "$work/udf.out")"
contains "… its status lines on stderr" "compat4-udf-app-1  Started" "$(cat "$work/udf.err")"
check "… dependency running" running "$(state_of compat4-udf-dependency-1 $c -f "$udf/compose.yaml")"
kill -INT "$upid"
for _ in $(seq 150); do kill -0 "$upid" 2>/dev/null || break; sleep 0.1; done
if kill -0 "$upid" 2>/dev/null; then fail "… up did not end after Ctrl-C"; kill "$upid"; else ok "… up ends after Ctrl-C"; fi
wait "$upid"
check "… Ctrl-C: exit code 0" 0 $?
check "… app exited" exited "$(state_of compat4-udf-app-1 $c -f "$udf/compose.yaml")"
check "… dependency still running" running "$(state_of compat4-udf-dependency-1 $c -f "$udf/compose.yaml")"
case "$(cat "$work/udf.out")" in *"hello dependency"*) fail "… printed its dependency's output" ;; *) ok "… not its dependency's output" ;; esac
$c -f "$udf/compose.yaml" down -t 0 >/dev/null 2>&1
cat > "$udf/once.yaml" <<'YAML'
services:
  dependency:
    image: it/busybox
    init: true
    command: sleep 1000
  app:
    depends_on: ['dependency']
    image: it/busybox
    command: sh -c 'echo app-done; exit 3'
YAML
timeout 60 $c -f "$udf/once.yaml" up app > "$work/udf.out" 2>&1
check "fresh up app whose app exits: up returns 0 (docker: no --exit-code-from)" 0 $?
contains "… app's output" "compat4-udf-app-1  | app-done" "$(cat "$work/udf.out")"
contains "… its exit line" "compat4-udf-app-1 exited with code 3" "$(cat "$work/udf.out")"
check "… the dependency keeps running" running "$(state_of compat4-udf-dependency-1 $c -f "$udf/once.yaml")"
$c -f "$udf/once.yaml" down -t 0 >/dev/null 2>&1
check_no_leaks compat4-udf-

# --- create / up --force-recreate SERVICE while up (berth; docker compose's convergence: the
# services named are forced, their dependencies recreated only when changed or with
# --always-recreate-deps; `create` leaves what it recreated created, not started)
c="$BERTH --ansi=never -p compat4-cfr -f $udf/compose.yaml"
$c up -d >/dev/null 2>&1
$c exec app sh -c 'echo x > /marker'
out=$($c create --force-recreate app 2>&1)
check "create --force-recreate app while up: exit 0" 0 $?
contains "… says app is recreated" "compat4-cfr-app-1  Recreated" "$out"
case "$out" in *dependency*) fail "… touched the dependency: $out" ;; *) ok "… leaves the dependency alone" ;; esac
check "… app is created, not started" created "$(state_of compat4-cfr-app-1 $c)"
check "… the dependency still runs" running "$(state_of compat4-cfr-dependency-1 $c)"
$c start app >/dev/null 2>&1
check "start app afterwards: running" running "$(state_of compat4-cfr-app-1 $c)"
if $c exec app test -e /marker 2>/dev/null; then fail "… on the old filesystem"; else ok "… on a new filesystem"; fi
out=$($c up -d --force-recreate app 2>&1)
contains "up -d --force-recreate app: app recreated" "compat4-cfr-app-1  Recreated" "$out"
contains "… its dependency kept running" "compat4-cfr-dependency-1  Running" "$out"
out=$($c up -d --always-recreate-deps app 2>&1)
contains "up -d --always-recreate-deps app: the dependency recreated" "compat4-cfr-dependency-1  Recreated" "$out"
check "… and runs" running "$(state_of compat4-cfr-dependency-1 $c)"
$c down -t 0 >/dev/null 2>&1
check_no_leaks compat4-cfr-

# --- a recreated dependency takes its network_mode: service:X dependents along (berth; docker
# compose recreates them too: else they keep the old container's network, which is gone)
nm="$work/netmode"
mkdir -p "$nm"
cat > "$nm/compose.yaml" <<'YAML'
services:
  db:
    image: it/busybox
    init: true
    command: httpd -f -p 8080 -h /etc
    environment: [V=1]
  web:
    image: it/busybox
    init: true
    network_mode: service:db
    command: sleep 1000
YAML
c="$BERTH --ansi=never -p compat4-nm -f $nm/compose.yaml"
$c up -d >/dev/null 2>&1
check "network_mode service:db: web reaches db's port on its loopback" ok \
    "$($c exec web sh -c 'timeout 5 wget -q -O /dev/null http://127.0.0.1:8080/hostname && echo ok' 2>&1)"
sed -i 's/V=1/V=2/' "$nm/compose.yaml"
out=$($c up -d 2>&1)
contains "db changed: recreated" "compat4-nm-db-1  Recreated" "$out"
contains "… web recreated with it" "compat4-nm-web-1  Recreated" "$out"
check "… web reaches the new db on its loopback" ok \
    "$($c exec web sh -c 'timeout 5 wget -q -O /dev/null http://127.0.0.1:8080/hostname && echo ok' 2>&1)"
contains "… and has db's address" "inet 172." "$($c exec web ip -4 addr 2>&1)"
$c down -t 0 >/dev/null 2>&1
check_no_leaks compat4-nm-

# --- TestRestartWithDependencies (pkg/e2e/restart_test.go, fixtures/restart-test) --
d="$work/restartdeps"
mkdir -p "$d"
cat > "$d/compose.yaml" <<'YAML'
services:
  with-restart:
    image: it/busybox
    init: true
    command: sleep infinity
    stop_signal: SIGTERM
    depends_on:
      nginx: {condition: service_healthy, restart: true}
  no-restart:
    image: it/busybox
    init: true
    command: sleep infinity
    stop_signal: SIGTERM
    depends_on:
      nginx: { condition: service_healthy }
  nginx:
    image: it/busybox
    init: true
    command: sh -c 'rm -f /tmp/up; sleep 1; touch /tmp/up; exec sleep infinity'
    labels:
      TEST: ${LABEL:-test}
    stop_signal: SIGTERM
    healthcheck:
      test: ["CMD", "test", "-f", "/tmp/up"]
      interval: 1s
      timeout: 1s
      retries: 10
YAML
c="$BERTH -f $d/compose.yaml -p compat4-rd"
$c up -d >/dev/null 2>&1
start=$(date +%s%N)
out=$($c restart nginx 2>&1); check "TestRestartWithDependencies: restart nginx" 0 $?
took=$(( ($(date +%s%N) - start) / 1000000 ))
contains "… nginx restarted" "Container compat4-rd-nginx-1  Restarted" "$out"
contains "… nginx healthy" "Container compat4-rd-nginx-1  Healthy" "$out"
contains "… with-restart started" "Container compat4-rd-with-restart-1  Started" "$out"
case "$out" in *no-restart*) fail "… no-restart mentioned: $out" ;; *) ok "… no-restart left alone" ;; esac
[ "$took" -ge 1000 ] && ok "… restart returned once nginx was healthy again (${took} ms)" || fail "… returned after ${took} ms"
started() { $c ps -a --format json | python3 -c "
import json, sys
for l in sys.stdin:
    j = json.loads(l)
    if j['Service'] == '$1': print(j.get('StartedAt', j.get('started_at', '')))"; }
ws=$(started with-restart); ns=$(started no-restart)
[ -n "$ws" ] && [ "$ws" \> "$ns" ] && ok "… with-restart started again, no-restart not (berth)" || fail "… with-restart [$ws] no-restart [$ns]"
out=$(LABEL=recreate $c up -d 2>&1); check "TestRestartWithDependencies: up -d with nginx changed" 0 $?
contains "… nginx recreated" "Container compat4-rd-nginx-1  Recreated" "$out"
contains "… with-restart restarted with it" "Container compat4-rd-with-restart-1  Restarted" "$out"
contains "… no-restart running" "Container compat4-rd-no-restart-1  Running" "$out"
check "… nginx healthy" healthy "$($c ps --format json nginx | python3 -c 'import json,sys; print(json.loads(sys.stdin.readline())["Health"])')"
$c down -t 0 >/dev/null 2>&1
check_no_leaks compat4-rd-

finish
