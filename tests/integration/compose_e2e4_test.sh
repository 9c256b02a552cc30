#!/bin/sh
# docker compose's e2e scenarios (docker/compose pkg/e2e, testdata/ and
# fixtures/) about create/start, volumes, attach, --abort-on-container-exit and
# --abort-on-container-failure, an attached up's restarts, ported to berth with
# local busybox images (compose_e2e5_test.sh has the rest of issue 14's). Each
# block names the Go test it comes from; berth's own extra checks say so.
. "$(dirname "$0")/lib/common.sh"
. "$(dirname "$0")/lib/compose_state.sh"

compose_e2e_setup


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
out=$($c up -d dep_2 2>&1)
contains "… up -d then starts it as created (not recreated)" "Container compat4-sd-dep_2-1  Started" "$out"
check "… running" running "$(state_of compat4-sd-dep_2-1 $c)"
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
    # It talks once the test has attached (it makes go/talk then): attach shows only what comes after.
    command: sh -c 'while [ ! -e /go/talk ]; do sleep 0.05; done; for i in 1 2 3; do echo out-$$i; echo err-$$i >&2; sleep 0.2; done; exit 3'
    volumes: [./go:/go]
  waiter:
    image: it/busybox
    command: sh -c 'trap "echo got-int; exit 5" INT; echo ready; while true; do sleep 0.1; done'
YAML
c="$BERTH -f $d/compose.yaml -p compat4-att"
mkdir -p "$d/go"
$c up -d >/dev/null 2>&1
$c attach talker > "$work/att.out" 2> "$work/att.err" &
att=$!
wait_attached "$att" || fail "attach did not start"
touch "$d/go/talk"
wait "$att"
check "attach ends with the container's exit code" 3 $?
check "… its stdout on stdout, unprefixed" "out-1 out-2 out-3" "$(tr '\n' ' ' < "$work/att.out" | sed 's/ $//')"
check "… its stderr on stderr" "err-1 err-2 err-3" "$(tr '\n' ' ' < "$work/att.err" | sed 's/ $//')"
out=$($c attach talker 2>&1); check "attach to an exited container exits 1" 1 $?
contains "… saying why" "has no running container" "$out"
$c attach waiter > "$work/att2.out" 2>&1 &
att=$!
wait_attached "$att" || fail "attach did not start"
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

finish
