#!/bin/sh
# docker compose's e2e scenarios (docker/compose pkg/e2e, testdata/ and
# fixtures/) about create/start, attach, volumes, the attached `up`'s
# --abort-on-container-failure, --attach*, wait --down-project, and logs -f,
# ported to berth with local busybox images. Each block names the Go test it
# comes from; berth's own extra checks say so.
. "$(dirname "$0")/lib/common.sh"

"$here/lib/make-busybox-rootfs.sh" "$work/busybox.tar"
"$BERTH" image import "$work/busybox.tar" it/busybox >/dev/null
ip link set lo up
cd "$work"

state_of() {  # state_of COMPOSE_CMD... CONTAINER: its state in `ps -a --format json`, or "none"
    name=$1
    shift
    "$@" ps -a --format json 2>/dev/null | python3 -c "
import json, sys
for l in sys.stdin:
    j = json.loads(l)
    if j['Name'] == '$name': print(j['State']); break
else: print('none')"
}

# --- TestStartSingleServiceAndDependency (pkg/e2e/start_stop_test.go) --------
d="$work/startdep"
mkdir -p "$d"
cat > "$d/compose.yaml" <<'YAML'
services:
  desired:
    image: it/busybox
    init: true
    command: sleep infinity
    depends_on:
      - dep_1
  dep_1:
    image: it/busybox
    init: true
    command: sleep infinity
    depends_on:
      - dep_2
  dep_2:
    image: it/busybox
    init: true
    command: sleep infinity
  another:
    image: it/busybox
    init: true
    command: sleep infinity
    depends_on:
      - another_2
  another_2:
    image: it/busybox
    init: true
    command: sleep infinity
YAML
c="$BERTH -f $d/compose.yaml -p compat4-sd"
out=$($c create desired 2>&1); check "TestStartSingleServiceAndDependency: create desired" 0 $?
for s in desired dep_1 dep_2; do check "… $s created" created "$(state_of compat4-sd-$s-1 $c)"; done
for s in another another_2; do check "… $s not created" none "$(state_of compat4-sd-$s-1 $c)"; done
contains "… create says so on stderr (berth)" "compat4-sd-desired-1" "$out"
out=$($c start desired 2>&1); check "TestStartSingleServiceAndDependency: start desired" 0 $?
for s in desired dep_1 dep_2; do check "… $s running" running "$(state_of compat4-sd-$s-1 $c)"; done
for s in another another_2; do check "… $s still not created" none "$(state_of compat4-sd-$s-1 $c)"; done
contains "… start names what it started, dependencies too (berth)" "Container compat4-sd-dep_2-1  Started" "$out"
# berth's extra: create while up, with --scale, leaves what runs as it is; up --no-start is create.
$c create --scale another=2 another >/dev/null 2>&1; check "create --scale while up" 0 $?
check "… another-2 created" created "$(state_of compat4-sd-another-2 $c)"
check "… desired still running" running "$(state_of compat4-sd-desired-1 $c)"
$c start another >/dev/null 2>&1
check "… start another starts both replicas" "running running running" \
    "$(state_of compat4-sd-another-1 $c) $(state_of compat4-sd-another-2 $c) $(state_of compat4-sd-another_2-1 $c)"
$c down -t 0 >/dev/null 2>&1
$c up --no-start dep_2 >/dev/null 2>&1; check "up --no-start" 0 $?
check "… dep_2 created, not started" created "$(state_of compat4-sd-dep_2-1 $c)"
$c down >/dev/null 2>&1
check_no_leaks compat4-sd-

# --- volumes (docker compose volumes; no Go test: berth's own) ---------------------
d="$work/vols"
mkdir -p "$d"
cat > "$d/compose.yaml" <<'YAML'
services:
  a:
    image: it/busybox
    command: sleep infinity
    init: true
    volumes: [data:/data]
  b:
    image: it/busybox
    command: sleep infinity
    init: true
    volumes: [other:/other]
volumes:
  data:
  other:
YAML
c="$BERTH -f $d/compose.yaml -p compat4-vol"
$c up -d >/dev/null 2>&1
check "volumes -q lists the project's volumes" "compat4-vol_data compat4-vol_other" "$($c volumes -q | sort | tr '\n' ' ' | sed 's/ $//')"
check "volumes a: those a mounts" "compat4-vol_data" "$($c volumes -q a)"
contains "volumes: a table with DRIVER and VOLUME NAME" "DRIVER     VOLUME NAME" "$($c volumes)"
check "volumes --format json: one object per line" "compat4-vol_other" \
    "$($c volumes --format json b | python3 -c 'import json,sys; print(json.loads(sys.stdin.readline())["Name"])')"
out=$($c volumes nosuch 2>&1); check "volumes of an unknown service exits 1" 1 $?
contains "… naming it" "no such service: nosuch" "$out"
$c down -v >/dev/null 2>&1
check_no_leaks compat4-vol-

# --- attach (docker compose attach; no Go test: berth's own) -----------------------
d="$work/attach"
mkdir -p "$d"
cat > "$d/compose.yaml" <<'YAML'
services:
  talker:
    image: it/busybox
    command: sh -c 'sleep 1; for i in 1 2 3; do echo out-$$i; echo err-$$i >&2; sleep 0.2; done; exit 3'
  waiter:
    image: it/busybox
    command: sh -c 'trap "echo got-int; exit 5" INT; echo ready; while true; do sleep 0.1; done'
YAML
c="$BERTH -f $d/compose.yaml -p compat4-att"
$c up -d >/dev/null 2>&1
$c attach talker > "$work/att.out" 2> "$work/att.err"
check "attach ends with the container's exit code" 3 $?
check "… its stdout on stdout, unprefixed" "out-1 out-2 out-3" "$(tr '\n' ' ' < "$work/att.out" | sed 's/ $//')"
check "… its stderr on stderr" "err-1 err-2 err-3" "$(tr '\n' ' ' < "$work/att.err" | sed 's/ $//')"
out=$($c attach talker 2>&1); check "attach to an exited container exits 1" 1 $?
contains "… saying why" "has no running container" "$out"
$c attach waiter > "$work/att2.out" 2>&1 &
att=$!
sleep 1
kill -INT "$att"
wait "$att"; check "attach --sig-proxy (default): Ctrl-C reaches the container, which exits 5" 5 $?
contains "… and its trap's output is shown" "got-int" "$(cat "$work/att2.out")"
out=$($c attach --detach-keys x waiter 2>&1); contains "attach --detach-keys is refused by name" "--detach-keys\` is not supported" "$out"
$c down -t 0 >/dev/null 2>&1
check_no_leaks compat4-att-

# --- TestCascadeStop, TestCascadeFail (pkg/e2e/cascade_test.go) ---------------------
d="$work/cascade"
mkdir -p "$d"
cat > "$d/compose.yaml" <<'YAML'
services:
  running:
    image: it/busybox
    command: sleep infinity
    init: true
  exit:
    image: it/busybox
    command: /bin/true
    depends_on:
      running:
        condition: service_started
  fail:
    image: it/busybox
    command: sh -c "return 111"
    depends_on:
      exit:
        condition: service_completed_successfully
YAML
c="$BERTH --ansi=never -f $d/compose.yaml -p compat4-casc"
timeout 60 $c up --abort-on-container-exit > "$work/casc.out" 2> "$work/casc.err"
check "TestCascadeStop: up --abort-on-container-exit exits 0" 0 $?
contains "… exit-1 exited with code 0" "exit-1 exited with code 0" "$(cat "$work/casc.out")"
check "… running exited" exited "$(state_of compat4-casc-running-1 $c)"
contains "… says it aborts, on stderr (berth)" "Aborting on container exit" "$(cat "$work/casc.err")"
$c down >/dev/null 2>&1
timeout 60 $c up --abort-on-container-failure > "$work/casc.out" 2>&1
check "TestCascadeFail: up --abort-on-container-failure exits with the failing code" 111 $?
contains "… exit-1 exited with code 0" "exit-1 exited with code 0" "$(cat "$work/casc.out")"
contains "… fail-1 exited with code 111" "fail-1 exited with code 111" "$(cat "$work/casc.out")"
check "… running exited" exited "$(state_of compat4-casc-running-1 $c)"
$c down >/dev/null 2>&1
out=$($c up --abort-on-container-failure --abort-on-container-exit 2>&1)
contains "the two abort flags together are refused" "cannot be combined" "$out"
check_no_leaks compat4-casc-

# --- TestAttachRestart (pkg/e2e/compose_test.go, fixtures/attach-restart) ----------
d="$work/attach-restart"
mkdir -p "$d"
cat > "$d/compose.yaml" <<'YAML'
services:
  failing:
    image: it/busybox
    command: sh -c "sleep 0.1 && echo world && /bin/false"
    deploy:
      restart_policy:
        condition: "on-failure"
        max_attempts: 2
YAML
timeout 60 "$BERTH" --ansi=never -p compat4-ar --project-directory "$d" up > "$work/ar.out" 2> "$work/ar.err"
check "TestAttachRestart: 'failing-1 exited with code 1' 3 times on stdout" 3 "$(grep -c 'failing-1 exited with code 1' "$work/ar.out")"
check "… 'failing-1  | world' 3 times" 3 "$(grep -c 'failing-1  | world' "$work/ar.out")"
contains "… status lines on stderr (berth)" "compat4-ar-failing-1  Started" "$(cat "$work/ar.err")"
"$BERTH" -p compat4-ar --project-directory "$d" down >/dev/null 2>&1
check_no_leaks compat4-ar-

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
