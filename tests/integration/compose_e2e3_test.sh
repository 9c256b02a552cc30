#!/bin/sh
# docker compose's e2e scenarios (docker/compose pkg/e2e, testdata/) about the
# environment, .env and profiles, and the small ones (pause, optional
# dependencies, start_interval, dependency exits, ls, scale), ported to berth
# with local busybox images. Each block names the Go test it comes from.
. "$(dirname "$0")/lib/common.sh"

"$here/lib/make-busybox-rootfs.sh" "$work/busybox.tar"
"$BERTH" image import "$work/busybox.tar" it/busybox >/dev/null
# The Go tests' Dockerfiles set ENV WHEREAMI=Dockerfile: a `docker save` archive of busybox with it.
mkdir -p "$work/save/l1"
cp "$work/busybox.tar" "$work/save/l1/layer.tar"
cat > "$work/save/cfg.json" <<'JSON'
{"architecture":"amd64","os":"linux","config":{"Env":["PATH=/bin","WHEREAMI=Dockerfile","EMPTY=not_empty"],"Cmd":["sh","-c","echo \"$WHEREAMI\""]},"rootfs":{"type":"layers","diff_ids":[]}}
JSON
echo '[{"Config":"cfg.json","RepoTags":["it/envimage:1"],"Layers":["l1/layer.tar"]}]' > "$work/save/manifest.json"
tar -C "$work/save" -cf "$work/envimage.tar" .
"$BERTH" image load -i "$work/envimage.tar" >/dev/null || fail "load the env image"
cd "$work"

# --- TestEnvPriority (pkg/e2e/compose_environment_test.go, testdata/TestEnvPriority) --
d="$work/envprio"
mkdir -p "$d"
printf 'services:\n  env-compose-priority:\n    image: it/envimage:1\n' > "$d/compose.yaml"
echo 'WHEREAMI=Env File' > "$d/.env"
echo 'WHEREAMI=override' > "$d/.env.override"
echo 'WHEREAMI=${WHEREAMI:-EnvFileDefaultValue}' > "$d/.env.override.with.default"
: > "$d/.env.empty"
c="$BERTH -f $d/compose.yaml -p compat-envprio"
r() { "$@" run --rm -T -e WHEREAMI env-compose-priority 2>&1; }
check "TestEnvPriority: the shell beats an override env file" shell "$(WHEREAMI=shell r $c --env-file "$d/.env.override")"
check "TestEnvPriority: the shell beats a defaulting env file" shell "$(WHEREAMI=shell r $c --env-file "$d/.env.override.with.default")"
check "TestEnvPriority: no shell value: the env file's default" EnvFileDefaultValue "$(r $c --env-file "$d/.env.override.with.default")"
check "TestEnvPriority: COMPOSE_ENV_FILES like --env-file" EnvFileDefaultValue \
    "$(COMPOSE_ENV_FILES="$d/.env.override.with.default" r $c)"
check "TestEnvPriority: run -e NAME=VALUE beats every file" shell-run \
    "$($c --env-file "$d/.env.override" run --rm -T -e WHEREAMI=shell-run env-compose-priority 2>&1)"
check "TestEnvPriority: an override env file beats .env" override "$(r $c --env-file "$d/.env.override")"
check "TestEnvPriority: without flags .env applies" "Env File" "$(r $c)"
check "TestEnvPriority: an empty env file keeps the image's ENV" Dockerfile "$(r $c --env-file "$d/.env.empty")"

# --- TestEnvPriorityComposeEnvFile: .env feeds run -e NAME, not the service's env_file
d="$work/envfileprio"
mkdir -p "$d"
printf 'services:\n  env-compose-priority:\n    image: it/envimage:1\n    env_file: [.env.override]\n' > "$d/compose.yaml"
echo 'WHEREAMI=Env File' > "$d/.env"
echo 'WHEREAMI=override' > "$d/.env.override"
check "TestEnvPriorityComposeEnvFile: run -e forwards .env's value" "Env File" \
    "$("$BERTH" -f "$d/compose.yaml" -p compat-envprio run --rm -T -e WHEREAMI env-compose-priority 2>&1)"

# --- TestUnsetEnv (testdata/TestUnsetEnv): environment: [EMPTY] unset removes the image's EMPTY
d="$work/unset"
mkdir -p "$d"
cat > "$d/compose.yaml" <<'YAML'
services:
  empty-variable:
    image: it/envimage:1
    environment:
      - EMPTY
    command: ["sh", "-c", "echo \"=$$EMPTY=\""]  # the Go test's image CMD
YAML
c="$BERTH -f $d/compose.yaml -p compat-unset"
check "TestUnsetEnv: run -e overrides the image's ENV" "=hello=" "$($c run -e EMPTY=hello --rm -T empty-variable 2>&1)"
check "TestUnsetEnv: unset in the shell, the image's ENV goes" "==" "$($c run --rm -T empty-variable 2>&1)"
check "TestUnsetEnv: set in the shell, it passes through" "=shell=" "$(EMPTY=shell $c run --rm -T empty-variable 2>&1)"

# --- TestRawEnvFile (pkg/e2e/env_file_test.go, testdata/TestRawEnvFile) -----------
d="$work/raw"
mkdir -p "$d"
cat > "$d/compose.yaml" <<'YAML'
services:
  test:
    image: it/busybox
    command: sh -c "echo $$TEST_VAR"
    env_file:
      - path: .env.raw
        format: raw # parse without interpolation
YAML
printf '%s\n' "TEST_VAR='{\"key\": \"value\"}'" > "$d/.env.raw"
check "TestRawEnvFile: quotes kept" "'{\"key\": \"value\"}'" "$("$BERTH" -f "$d/compose.yaml" -p compat-raw run --rm -T test 2>&1)"

# --- TestRunEnvFile (testdata/TestRunEnvFile): a profile's service, its env_file from the project dir
d="$work/runenv"
mkdir -p "$d/elsewhere"
printf 'services:\n  serviceC:\n    profiles: ["test"]\n    image: it/busybox\n    env_file: test.env\n' > "$d/compose.yaml"
echo 'FOO=BAR' > "$d/test.env"
contains "TestRunEnvFile: the one-off sees the env_file" "FOO=BAR" \
    "$(cd "$d/elsewhere" && "$BERTH" -f ../compose.yaml -p compat-runenv run --rm -T serviceC env 2>&1)"

# --- TestUnusedMissingEnvFile (pkg/e2e/env_file_test.go, fixtures/env_file) ---------
d="$work/missingenv"
mkdir -p "$d"
cat > "$d/compose.yaml" <<'YAML'
services:
  serviceA:
    image: it/busybox
    init: true
    command: sleep infinity
  serviceB:
    image: it/busybox
    env_file: /doesnotexist/.env
    command: sleep infinity
YAML
c="$BERTH -f $d/compose.yaml -p compat-missingenv"
$c up -d serviceA >/dev/null 2>&1; check "TestUnusedMissingEnvFile: up -d serviceA" 0 $?
$c ps >/dev/null 2>&1; check "TestUnusedMissingEnvFile: ps" 0 $?
$c logs >/dev/null 2>&1; check "TestUnusedMissingEnvFile: logs" 0 $?
check "TestUnusedMissingEnvFile: exec serviceA" hello "$($c exec -T serviceA echo hello 2>&1)"
$c scale serviceA=2 >/dev/null 2>&1; check "TestUnusedMissingEnvFile: scale serviceA=2" 0 $?
check "scale: two containers of serviceA" 2 "$($c ps -q serviceA 2>/dev/null | grep -c .)"
first=$($c ps --format json serviceA 2>/dev/null | grep -- '-serviceA-1"' | python3 -c "import json,sys; print(json.loads(sys.stdin.read())['CreatedAt'])")
$c scale serviceA=1 >/dev/null 2>&1; check "scale: serviceA=1" 0 $?
check "scale: one container of serviceA left" "compat-missingenv-serviceA-1" "$($c ps -q serviceA 2>/dev/null)"
check "scale: the first one kept, not recreated" "$first" \
    "$($c ps --format json serviceA 2>/dev/null | python3 -c "import json,sys; print(json.loads(sys.stdin.read())['CreatedAt'])")"
out=$($c scale serviceB=1 2>&1); check "TestUnusedMissingEnvFile: scale serviceB=1 fails" 1 $?
contains "… naming the env file" "env file /doesnotexist/.env not found" "$out"
$c down >/dev/null 2>&1 || fail "TestUnusedMissingEnvFile: down"
check_no_leaks compat-missingenv-

# --- .env lookup: working dir then project dir; COMPOSE_FILE/COMPOSE_PROFILES from .env and --env-file;
# the compose file found in --project-directory; ${UNSET} is "" (berth's own, after docker's rules).
d="$work/dotenv"
mkdir -p "$d/proj" "$d/cwd"
printf 'services:\n  a:\n    image: it/busybox\n    environment: {V: "x${UNSET}y"}\n  b:\n    image: it/busybox\n    profiles: [pb]\n' > "$d/proj/other.yaml"
printf 'COMPOSE_FILE=other.yaml\n' > "$d/proj/.env"
check ".env of --project-directory: COMPOSE_FILE, the file found there" "a" \
    "$(cd "$d/cwd" && "$BERTH" --project-directory ../proj config --services 2>/dev/null)"
printf 'COMPOSE_FILE=../proj/other.yaml\nCOMPOSE_PROFILES=pb\n' > "$d/cwd/.env"
check ".env of the working dir: COMPOSE_FILE and COMPOSE_PROFILES" "a b" \
    "$(cd "$d/cwd" && "$BERTH" config --services 2>/dev/null | sort | tr '\n' ' ' | sed 's/ $//')"
printf 'COMPOSE_PROFILES=pb\n' > "$d/profiles.env"
check "--env-file sets COMPOSE_PROFILES" "a b" \
    "$(cd "$d/proj" && "$BERTH" -f other.yaml --env-file ../profiles.env config --services 2>/dev/null | sort | tr '\n' ' ' | sed 's/ $//')"
contains '${UNSET} is ""' 'V: xy' "$(cd "$d/proj" && "$BERTH" -f other.yaml config 2>&1)"

# --- TestActiveProfileViaTargetedService, TestDotEnvProfileUsage, TestUpProfile (profiles_test.go, up_test.go)
d="$work/profiles"
mkdir -p "$d"
cat > "$d/compose.yaml" <<'YAML'
services:
  regular-service:
    image: it/busybox
    init: true
    command: sleep infinity
  profiled-service:
    image: it/busybox
    init: true
    command: sleep infinity
    profiles:
      - test-profile
YAML
c="$BERTH -f $d/compose.yaml -p compat-profiles"
$c up -d profiled-service >/dev/null 2>&1; check "TestActiveProfileViaTargetedService: up -d profiled-service" 0 $?
out=$($c ps -a 2>&1)
contains "… it runs" "profiled-service" "$(printf '%s\n' "$out" | grep running)"
case "$out" in *regular-service*) fail "… regular-service created" ;; *) ok "… regular-service not created" ;; esac
$c stop profiled-service >/dev/null 2>&1; check "TestActiveProfileViaTargetedService: stop profiled-service" 0 $?
$c start profiled-service >/dev/null 2>&1; check "TestActiveProfileViaTargetedService: start profiled-service" 0 $?
$c restart >/dev/null 2>&1; check "TestActiveProfileViaTargetedService: restart" 0 $?
out=$($c ps -a 2>&1)
contains "… profiled-service running" "profiled-service" "$(printf '%s\n' "$out" | grep running)"
case "$out" in *regular-service*) fail "… regular-service created by restart" ;; *) ok "… regular-service still not created" ;; esac
$c restart profiled-service >/dev/null 2>&1; check "restart profiled-service by name" 0 $?
$c down >/dev/null 2>&1
echo "COMPOSE_PROFILES=test-profile" > "$d/.env"
$c up -d >/dev/null 2>&1; check "TestDotEnvProfileUsage: up -d" 0 $?
check "TestDotEnvProfileUsage: both services run" 2 "$($c ps 2>/dev/null | grep -c running)"
$c down >/dev/null 2>&1
rm "$d/.env"
check_no_leaks compat-profiles-
d="$work/upprofile"
mkdir -p "$d"
cat > "$d/compose.yaml" <<'YAML'
services:
  foo:
    profiles: [ test ]
    image: it/busybox
    command: "true"
    depends_on: [ db ]
  bar:
    profiles: [ test ]
    image: it/busybox
    command: "true"
  db:
    image: it/busybox
    command: "true"
YAML
c="$BERTH -f $d/compose.yaml -p compat-upprofile"
$c up foo >/dev/null 2>&1; check "TestUpProfile: up foo" 0 $?
out=$($c ps -a 2>&1)
contains "TestUpProfile: foo exited" "exited" "$(printf '%s\n' "$out" | grep compat-upprofile-foo-1)"
contains "TestUpProfile: db exited" "exited" "$(printf '%s\n' "$out" | grep compat-upprofile-db-1)"
case "$out" in *bar*) fail "TestUpProfile: bar created" ;; *) ok "TestUpProfile: bar not created" ;; esac
$c down >/dev/null 2>&1
check_no_leaks compat-upprofile-

# --- TestPauseServiceAlreadyPaused, TestPauseServiceDoesNotExist (pkg/e2e/pause_test.go)
d="$work/pause"
mkdir -p "$d"
printf 'services:\n  a:\n    image: it/busybox\n    init: true\n    command: sleep infinity\n' > "$d/compose.yaml"
c="$BERTH -f $d/compose.yaml -p compat-pause"
$c up -d >/dev/null 2>&1 || fail "TestPause: up -d"
$c pause a >/dev/null 2>&1; check "TestPauseServiceAlreadyPaused: a first pause" 0 $?
contains "… paused" "paused" "$($c ps a 2>&1)"
out=$($c pause a 2>&1); check "TestPauseServiceAlreadyPaused: a second pause exits 1" 1 $?
contains "… saying so" "already paused" "$out"
out=$($c pause does_not_exist 2>&1); check "TestPauseServiceDoesNotExist: exits 1" 1 $?
contains "… naming it" "no such service: does_not_exist" "$out"
$c unpause a >/dev/null 2>&1; check "unpause" 0 $?
# berth's own: ls shows the running project, and a stopped one only with --all.
contains "ls: the running project" "compat-pause" "$("$BERTH" ls 2>&1)"
$c stop >/dev/null 2>&1
case "$("$BERTH" ls 2>&1)" in *compat-pause*) fail "ls: a stopped project is hidden" ;; *) ok "ls: a stopped project is hidden" ;; esac
contains "ls --all: the stopped project" "compat-pause" "$("$BERTH" ls --all 2>&1)"
contains "ls --all: its status" "exited(1)" "$("$BERTH" ls -a 2>&1 | grep compat-pause)"
$c down >/dev/null 2>&1
check_no_leaks compat-pause-

# --- TestUpWithDependencyExit, TestUpWithDependencyNotRequired (up_test.go), TestStartInterval (healthcheck_test.go)
d="$work/depexit"
mkdir -p "$d"
cat > "$d/compose.yaml" <<'YAML'
services:
  web:
    image: it/busybox
    init: true
    command: sleep infinity
    depends_on:
      db:
        condition: service_healthy
  db:
    image: it/busybox
    command: sh -c "exit 1"
    healthcheck: {test: ["CMD", "true"], interval: 1s}
YAML
c="$BERTH -f $d/compose.yaml -p compat-depexit"
out=$($c up -d 2>&1); check "TestUpWithDependencyExit: up -d fails" 1 $?
contains "… the dependency exited, with its code" "dependency failed to start: container compat-depexit-db-1 exited (1)" "$out"
case "$($c ps -a 2>&1 | grep compat-depexit-web-1)" in *running*) fail "… web started" ;; *) ok "… web not started" ;; esac
$c down >/dev/null 2>&1
check_no_leaks compat-depexit-
d="$work/notreq"
mkdir -p "$d"
cp "$here/fixtures/deps-not-required/compose.yaml" "$d/"
c="$BERTH -f $d/compose.yaml -p compat-notreq --profile not-required"
out=$($c up -d 2>&1); check "TestUpWithDependencyNotRequired: up -d succeeds" 0 $?
contains "… foo started" "compat-notreq-foo-1" "$out"
contains "… reporting the optional dependency" 'optional dependency "bar" failed to start' "$out"
$c down >/dev/null 2>&1
check_no_leaks compat-notreq-
d="$work/startint"
mkdir -p "$d"
cat > "$d/compose.yaml" <<'YAML'
services:
  test:
    image: it/busybox
    init: true
    command: sleep infinity
    healthcheck:
      interval: 30s
      start_period: 10s
      start_interval: 1s
      test: "/bin/true"
  error:
    image: it/busybox
    init: true
    command: sleep infinity
    healthcheck:
      interval: 30s
      start_interval: 1s
      test: "/bin/true"
YAML
c="$BERTH -f $d/compose.yaml -p compat-startint"
out=$($c up --wait -d error 2>&1); check "TestStartInterval: up --wait error exits 1" 1 $?
contains "… start_interval requires start_period" "healthcheck.start_interval requires healthcheck.start_period to be set" "$out"
start=$(date +%s)
$c up --wait -d test >/dev/null 2>&1; check "TestStartInterval: up --wait test" 0 $?
took=$(( $(date +%s) - start ))
[ "$took" -lt 30 ] && ok "TestStartInterval: healthy before the 30 s interval (${took} s)" || fail "TestStartInterval: took ${took} s"
contains "… healthy" "healthy" "$($c ps test 2>&1)"
$c down >/dev/null 2>&1
check_no_leaks compat-startint-

finish
