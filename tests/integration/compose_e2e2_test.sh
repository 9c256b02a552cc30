#!/bin/sh
# More scenarios of docker compose's own end-to-end suite (docker/compose,
# pkg/e2e and its testdata/), ported to berth with local busybox images. Each
# block names the Go test it comes from and keeps its assertions; berth's own
# extra checks say so.
. "$(dirname "$0")/lib/common.sh"
. "$(dirname "$0")/lib/compose_state.sh"

compose_e2e_setup

# --- TestConfigFromEnv (pkg/e2e/configs_test.go, testdata/TestConfigFromEnv) ---
mkdir -p "$work/configs"
echo "This is my config file" > "$work/configs/config.txt"
cat > "$work/configs/compose.yaml" <<'YAML'
services:
  from_env:
    image: it/busybox
    configs:
      - source: from_env
    command: cat /from_env
  from_file:
    image: it/busybox
    configs:
      - source: from_file
    command: cat /from_file
  inlined:
    image: it/busybox
    configs:
      - source: inlined
    command: cat /inlined
  target:
    image: it/busybox
    configs:
      - source: inlined
        target: /target
    command: cat /target
configs:
  from_env:
    environment: CONFIG
  from_file:
    file: config.txt
  inlined:
    content: This is my $CONFIG
YAML
c="$BERTH -f $work/configs/compose.yaml -p compat-configs"
contains "TestConfigFromEnv: a file-sourced config" "This is my config file" "$(CONFIG=config $c run --rm -T from_file 2>&1)"
check "TestConfigFromEnv: an environment-sourced config" "config" "$(CONFIG=config $c run --rm -T from_env 2>&1)"
contains "TestConfigFromEnv: an inline config, interpolated" "This is my config" "$(CONFIG=config $c run --rm -T inlined 2>&1)"
contains "TestConfigFromEnv: a custom target" "This is my config" "$(CONFIG=config $c run --rm -T target 2>&1)"
# berth's own: the file is read-only in the container, and a missing variable is named at load.
out=$(CONFIG=config $c run --rm -T target sh -c 'echo x > /target' 2>&1); check "config: read-only in the container" 1 $?
out=$($c run --rm -T from_env 2>&1); check "config: an unset environment source fails" 1 $?
contains "… naming the variable" "CONFIG is not set" "$out"

# --- TestSecretFromEnv, TestSecretFromInclude (pkg/e2e/secrets_test.go) -----------
mkdir -p "$work/secrets/child"
cat > "$work/secrets/compose.yaml" <<'YAML'
include:
  - path: child/compose.yaml
    env_file:
      - secret.env
services:
  foo:
    image: it/busybox
    secrets:
      - source: secret
        target: bar
        uid: "1005"
        gid: "1005"
        mode: 0440
    command: cat /run/secrets/bar
secrets:
  secret:
    environment: SECRET
YAML
echo "MY_SECRET='this-is-secret'" > "$work/secrets/secret.env"
cat > "$work/secrets/child/compose.yaml" <<'YAML'
services:
  included:
    image: it/busybox
    secrets:
      - my-secret
    command: cat /run/secrets/my-secret
secrets:
  my-secret:
    environment: 'MY_SECRET'
YAML
c="$BERTH -f $work/secrets/compose.yaml -p compat-secrets"
contains "TestSecretFromEnv: the secret's content" "BAR" "$(SECRET=BAR $c run --rm -T foo 2>&1)"
# The Go test lists /var/run/secrets/bar (alpine's /var/run is /run); busybox's rootfs has no /var/run.
contains "TestSecretFromEnv: uid, gid and mode" "-r--r-----    1 1005     1005" \
    "$(SECRET=BAR $c run --rm -T foo ls -al /run/secrets/bar 2>&1)"
contains "TestSecretFromInclude: from the include's env_file" "this-is-secret" "$(SECRET=BAR $c run --rm -T included 2>&1)"
# berth's own: a file secret is bound where docker puts it, and in up's containers too.
echo "s3cret" > "$work/secrets/pw.txt"
cat > "$work/secrets/up.yaml" <<'YAML'
services:
  app:
    image: it/busybox
    command: sleep 1000
    init: true
    secrets: [pw]
    configs:
      - source: conf
        target: etc/app.conf
        mode: 0400
configs:
  conf:
    content: "port=8080"
secrets:
  pw:
    file: ./pw.txt
YAML
c="$BERTH -f $work/secrets/up.yaml -p compat-secrets"
$c up -d >/dev/null 2>&1 || fail "secrets: up -d"
check "secrets: a file secret at /run/secrets/NAME under up" "s3cret" "$($c exec -T app cat /run/secrets/pw 2>&1)"
check "configs: a relative target is under / with its mode" "port=8080 400" \
    "$($c exec -T app sh -c 'cat /etc/app.conf; echo " $(stat -c %a /etc/app.conf)"' 2>&1 | tr -d '\n')"
$c down >/dev/null 2>&1 || fail "secrets: down"
check_no_leaks compat-secrets-

# --- tmpfs short syntax options, down -v and anonymous volumes (berth's own; the
# Go suite's TestUpRecreateVolumes covers anonymous volumes with a build) --------
mkdir -p "$work/tmpfs"
cat > "$work/tmpfs/compose.yaml" <<'YAML'
services:
  app:
    image: it/busybox
    command: sleep 1000
    init: true
    tmpfs: ["/scratch:size=1m,mode=1770", "/ro:ro"]
    volumes: ["/anon", "named:/named"]
volumes:
  named: {}
YAML
c="$BERTH -f $work/tmpfs/compose.yaml -p compat-tmpfs"
$c up -d >/dev/null 2>&1 || fail "tmpfs: up -d"
out=$($c exec -T app grep ' /scratch ' /proc/mounts 2>&1)
contains "tmpfs: size=1m applied" "size=1024k" "$out"
contains "tmpfs: mode=1770 applied" "mode=1770" "$out"
contains "tmpfs: ro applied" " ro," "$($c exec -T app grep ' /ro ' /proc/mounts 2>&1)"
check "volumes: an anonymous and a named volume exist" 2 "$("$BERTH" volume ls -q 2>/dev/null | grep -c compat-tmpfs)"
$c down -v >/dev/null 2>&1 || fail "tmpfs: down -v"
check "down -v removes the anonymous volume too" "" "$("$BERTH" volume ls -q 2>/dev/null | grep compat-tmpfs)"
check_no_leaks compat-tmpfs-

# --- TestComposeRun (pkg/e2e/compose_run_test.go, testdata/TestComposeRun) ---------
mkdir -p "$work/runtest"
cat > "$work/runtest/compose.yaml" <<'YAML'
services:
  back:
    image: it/busybox
    command: echo "Hello there!!"
    depends_on:
      - db
  db:
    image: it/busybox
    init: true
    command: sleep infinity
  front:
    image: it/busybox
    init: true
    command: sleep infinity
YAML
printf 'FOO=BAR\n\n' > "$work/runtest/run.env"
c="$BERTH -f $work/runtest/compose.yaml -p compat-run"
out=$($c run -T back 2>"$work/err"); rc=$?
check "TestComposeRun: run back succeeds" 0 $rc
contains "TestComposeRun: the service's command on stdout" "Hello there!!" "$out"
contains "TestComposeRun: the dependency's status on stderr" "compat-run-db-1" "$(cat "$work/err")"
ps=$($c ps -a --format json 2>&1)
contains "TestComposeRun: db is running" '"Service":"db"' "$(printf '%s\n' "$ps" | grep '"State":"running"')"
case "$ps" in *'"Service":"front"'*) fail "TestComposeRun: front was created" ;; *) ok "TestComposeRun: front not created" ;; esac
contains "TestComposeRun: an override command" "Hello one more time" "$($c run -T back echo "Hello one more time" 2>/dev/null)"
contains "TestComposeRun: --rm" "Hello and gone" "$($c run --rm -T back echo "Hello and gone" 2>/dev/null)"
contains "TestComposeRun: --volumes bind-mounts a host path" "compose.yaml" \
    "$($c run --rm -T --volume "$work/runtest:/foo" back /bin/sh -c "ls /foo" 2>/dev/null)"
contains "TestComposeRun: --env-from-file" "FOO=BAR" "$($c run --rm -T --env-from-file "$work/runtest/run.env" front env 2>/dev/null)"
contains "TestComposeRun: --env" "FOO=BAR" "$($c run --rm -T --env FOO=BAR front env 2>/dev/null)"
# berth's own: -v in short form, read-only.
out=$($c run --rm -T -v "$work/runtest:/foo:ro" --no-deps front touch /foo/x 2>&1); check "run -v SRC:DST:ro is read-only" 1 $?
$c down >/dev/null 2>&1 || fail "TestComposeRun: down"
check_no_leaks compat-run-

# --- TestComposeRunDeps (pkg/e2e/compose_run_test.go, testdata/TestComposeRunDeps) --
mkdir -p "$work/rundeps"
cat > "$work/rundeps/compose.yaml" <<'YAML'
services:
  service_a:
    image: it/busybox
    command: echo "a"
    depends_on:
      - shared_dep
  service_b:
    image: it/busybox
    command: echo "b"
    depends_on:
      - shared_dep
  shared_dep:
    image: it/busybox
    init: true
    command: sleep infinity
YAML
c="$BERTH -f $work/rundeps/compose.yaml -p compat-rundeps"
out=$($c run --rm -T service_a 2>&1)
contains "TestComposeRunDeps: starts the shared dependency" "shared_dep" "$out"
case "$out" in *service_b*) fail "TestComposeRunDeps: service_b mentioned: [$out]" ;; *) ok "TestComposeRunDeps: not service_b" ;; esac
case "$($c ps -a 2>&1)" in *service_b*) fail "TestComposeRunDeps: service_b created" ;; *) ok "TestComposeRunDeps: service_b not created" ;; esac
$c down >/dev/null 2>&1
out=$($c run --rm -T --no-deps service_a 2>&1)
check "TestComposeRunDeps: --no-deps runs the one-off alone" "a" "$out"
check "TestComposeRunDeps: --no-deps created nothing else" 1 "$($c ps -a 2>/dev/null | grep -c .)"
$c down >/dev/null 2>&1
check_no_leaks compat-rundeps-

# --- TestComposeRunNotRequiredDeps (testdata/TestComposeRunNotRequiredDeps) --------
mkdir -p "$work/notreq"
cp "$here/fixtures/deps-not-required/compose.yaml" "$work/notreq/"
c="$BERTH -f $work/notreq/compose.yaml -p compat-notreq"
contains "TestComposeRunNotRequiredDeps: runs foo" "foo" "$($c run --rm -T foo 2>&1)"
case "$($c ps -a 2>&1)" in *bar*) fail "TestComposeRunNotRequiredDeps: bar created" ;; *) ok "TestComposeRunNotRequiredDeps: bar not created" ;; esac
$c down >/dev/null 2>&1
# berth's own: with the profile on, bar runs but has no healthcheck: the optional dependency only warns;
# required, run fails saying why instead of waiting for ever.
out=$(timeout 60 $c --profile not-required run --rm -T foo 2>&1); check "run: an optional dependency that can never be healthy" 0 $?
contains "… warns" "has no healthcheck" "$out"
contains "… and runs foo" "foo" "$out"
sed -i 's/required: false/required: true/' "$work/notreq/compose.yaml"
out=$(timeout 60 $c --profile not-required run --rm -T foo 2>&1); check "run: a required dependency that can never be healthy fails" 1 $?
contains "… saying why" "has no healthcheck" "$out"
$c --profile not-required down >/dev/null 2>&1
check_no_leaks compat-notreq-

# --- TestNoDepsNetworkMode (pkg/e2e/noDeps_test.go) and run of a network_mode: service:X
mkdir -p "$work/netmode"
cat > "$work/netmode/compose.yaml" <<'YAML'
services:
  app:
    image: it/busybox
    init: true
    command: sleep infinity
    network_mode: service:db
  db:
    image: it/busybox
    init: true
    command: sleep infinity
YAML
c="$BERTH -f $work/netmode/compose.yaml -p compat-netmode"
addr='ip -o -4 addr show dev eth0'
# berth's own: run starts the namespace's owner (db) and joins it.
out=$($c run --rm -T app $addr 2>/dev/null | awk '{print $4}')
check "run of a network_mode: service:db shares db's address" "$($c exec -T db $addr 2>/dev/null | awk '{print $4}')" "$out"
case "$out" in 172.*|10.*|192.168.*) ok "… an address of the project's network ($out)" ;; *) fail "… no address: [$out]" ;; esac
$c down >/dev/null 2>&1
# TestNoDepsNetworkMode, its first two steps (the third removes db behind compose's back with docker rm -f).
$c up -d >/dev/null 2>&1 || fail "TestNoDepsNetworkMode: up -d"
created() { $c ps --format json 2>/dev/null | python3 -c "
import json, sys
print(' '.join(sorted(json.loads(l)['Name'] + '@' + str(json.loads(l)['CreatedAt']) for l in sys.stdin if l.strip())))"; }
before=$(created)
$c up --no-deps -d app >/dev/null 2>&1; check "TestNoDepsNetworkMode: up --no-deps -d app" 0 $?
check "TestNoDepsNetworkMode: neither app nor db recreated" "$before" "$(created)"
check "TestNoDepsNetworkMode: both running" 2 "$($c ps 2>/dev/null | grep -c running)"
$c down >/dev/null 2>&1
check_no_leaks compat-netmode-

# --- TestComposeRunPorts (pkg/e2e/compose_run_test.go) ------------------------------
mkdir -p "$work/runports/www"
echo hello-from-run > "$work/runports/www/index.html"
cat > "$work/runports/compose.yaml" <<'YAML'
services:
  back:
    image: it/busybox
    ports:
      - 127.0.0.1:8082:80
    volumes: ["./www:/www"]
  keep:
    image: it/busybox
    init: true
    command: sleep infinity
YAML
c="$BERTH -f $work/runports/compose.yaml -p compat-runports"
$c up -d keep >/dev/null 2>&1 || fail "TestComposeRunPorts: the project's network (up -d keep)"
$c run -d --publish 127.0.0.1:8081:80 back httpd -f -p 80 -h /www >/dev/null 2>&1; check "TestComposeRunPorts: run --publish -d" 0 $?
sleep 0.5
contains "TestComposeRunPorts: the ad-hoc mapping is live" "hello-from-run" "$(timeout 5 wget -qO- http://127.0.0.1:8081/ 2>&1)"
case "$(timeout 5 wget -qO- http://127.0.0.1:8082/ 2>&1)" in
    *hello-from-run*) fail "TestComposeRunPorts: the model's port is published without --service-ports" ;;
    *) ok "TestComposeRunPorts: not the model's port" ;;
esac
$c run -d --service-ports back httpd -f -p 80 -h /www >/dev/null 2>&1; check "TestComposeRunPorts: run --service-ports -d" 0 $?
sleep 0.5
contains "TestComposeRunPorts: the model's mapping is live" "hello-from-run" "$(timeout 5 wget -qO- http://127.0.0.1:8082/ 2>&1)"
$c down >/dev/null 2>&1
check_no_leaks compat-runports-

finish
