#!/bin/sh
# Scenarios of docker compose's own end-to-end suite (docker/compose, pkg/e2e),
# ported to berth with local busybox images. Each block names the Go test it
# comes from and keeps its assertions.
. "$(dirname "$0")/lib/common.sh"

"$here/lib/make-busybox-rootfs.sh" "$work/busybox.tar"
"$BERTH" image import "$work/busybox.tar" it/busybox >/dev/null

# --- TestRestart (pkg/e2e/restart_test.go, fixtures/restart-test) ---------------
# A container that exits on its first run and sleeps once restarted (its lock file is
# still in its filesystem); every command but `up` names the project alone (-p), away
# from the compose file, as the Go test does.
mkdir -p "$work/restart-test" "$work/elsewhere"
cat > "$work/restart-test/compose.yaml" <<'YAML'
services:
  restart:
    image: it/busybox
    command: ["sh", "-c", "if [ -f /tmp/restart.lock ]; then exec sleep 1000; else touch /tmp/restart.lock; fi"]
YAML
cd "$work/elsewhere"
"$BERTH" --project-name e2e-restart down >/dev/null 2>&1  # the Go test's "ensure the containers do NOT exist"
out=$("$BERTH" -f "$work/restart-test/compose.yaml" --project-name e2e-restart up -d 2>&1)
contains "TestRestart: up -d says the container started" "Container e2e-restart-restart-1  Started" "$out"
state=""
for _ in $(seq 100); do
    state=$("$BERTH" --project-name e2e-restart ps -a --format json 2>/dev/null)
    case "$state" in *'"State":"exited"'*) break ;; esac
    sleep 0.1
done
contains "TestRestart: ps -a --format json by project name shows it exited" '"State":"exited"' "$state"
out=$("$BERTH" --project-name e2e-restart ps -a 2>&1)
echo "$out" | grep -Eq 'e2e-restart-restart-1.+restart +exited' && ok "TestRestart: ps -a by project name: restart exited" ||
    fail "TestRestart: ps -a by project name: [$out]"
"$BERTH" -f "$work/restart-test/compose.yaml" --project-name e2e-restart restart >/dev/null 2>&1
sleep 1  # the Go test gives it the same time; it must NOT exit
out=$("$BERTH" --project-name e2e-restart ps 2>&1)
echo "$out" | grep -Eq 'e2e-restart-restart-1.+restart +running' && ok "TestRestart: restarted, it keeps running" ||
    fail "TestRestart: after restart: [$out]"
# berth's own checks of the by-name path: the other commands that act on an existing project.
out=$("$BERTH" --project-name e2e-restart logs 2>&1); check "by name: logs" 0 $?
"$BERTH" --project-name e2e-restart top >/dev/null 2>&1; check "by name: top" 0 $?
"$BERTH" --project-name e2e-restart stop >/dev/null 2>&1; check "by name: stop" 0 $?
check "by name: wait prints the exit code" 137 "$("$BERTH" --project-name e2e-restart wait 2>/dev/null | tail -1)"
# Commands that create still need the file, and say so.
out=$("$BERTH" --project-name e2e-restart up -d 2>&1); check "by name: up without a file fails" 1 $?
contains "… saying no compose file was found" "no compose file found" "$out"
out=$("$BERTH" --project-name no-such-project ps 2>&1); check "by name: an unknown project fails" 1 $?
contains "… saying no compose file was found" "no compose file found" "$out"
"$BERTH" --project-name e2e-restart down >/dev/null 2>&1 || fail "TestRestart: down by project name"
check_no_leaks e2e-restart-

# --- TestPs (pkg/e2e/ps_test.go, fixtures/ps-test) ---------------------------------
# nginx is a busybox that only exposes 80, 443 and 8080; busybox publishes 8000 on loopback.
mkdir -p "$work/ps-test"
cat > "$work/ps-test/compose.yaml" <<'YAML'
services:
  nginx:
    image: it/busybox
    command: ["sleep", "1000"]
    init: true
    expose: ["80", "443", "8080"]
  busybox:
    image: it/busybox
    command: ["httpd", "-f", "-p", "8000"]
    init: true
    ports: ["127.0.0.1:8001:8000"]
YAML
ip link set lo up
out=$("$BERTH" -f "$work/ps-test/compose.yaml" --project-name e2e-ps up -d 2>&1)
contains "TestPs: up -d" "Container e2e-ps-busybox-1  Started" "$out"
out=$("$BERTH" -f "$work/ps-test/compose.yaml" --project-name e2e-ps ps)
check "TestPs/table: a header and two containers" 3 "$(printf '%s\n' "$out" | grep -c .)"
contains "TestPs/table: busybox's published port" "127.0.0.1:8001->8000/tcp" "$(printf '%s\n' "$out" | grep e2e-ps-busybox-1)"
contains "TestPs/table: nginx's exposed ports" "80/tcp, 443/tcp, 8080/tcp" "$(printf '%s\n' "$out" | grep e2e-ps-nginx-1)"
json=$("$BERTH" -f "$work/ps-test/compose.yaml" --project-name e2e-ps ps --format json)
pubs() {  # the Publishers of a container, one "URL TargetPort PublishedPort Protocol" per line
    printf '%s\n' "$json" | python3 -c "
import json, sys
for line in sys.stdin:
    if not line.strip(): continue
    c = json.loads(line)
    if c['Name'] == '$1':
        assert c['Project'] == 'e2e-ps', c['Project']
        for p in c['Publishers']: print(p['URL'], p['TargetPort'], p['PublishedPort'], p['Protocol'])"
}
check "TestPs/json: one object per line, two containers" 2 "$(printf '%s\n' "$json" | grep -c '^{')"
check "TestPs/json: busybox's publisher" "127.0.0.1 8000 8001 tcp" "$(pubs e2e-ps-busybox-1)"
check "TestPs/json: nginx's three exposed ports" " 80 0 tcp| 443 0 tcp| 8080 0 tcp" "$(pubs e2e-ps-nginx-1 | tr '\n' '|' | sed 's/|$//')"
"$BERTH" --project-name e2e-ps stop >/dev/null 2>&1 || fail "TestPs/ps --all: stop"
check "TestPs/ps --all: ps shows only the header when stopped" 1 \
    "$("$BERTH" -f "$work/ps-test/compose.yaml" --project-name e2e-ps ps | grep -c .)"
check "TestPs/ps --all: --all shows both" 3 \
    "$("$BERTH" -f "$work/ps-test/compose.yaml" --project-name e2e-ps ps --all | grep -c .)"
"$BERTH" -f "$work/ps-test/compose.yaml" --project-name e2e-ps ps nginx >/dev/null 2>&1
check "TestPs/ps unknown: ps SERVICE succeeds" 0 $?
out=$("$BERTH" -f "$work/ps-test/compose.yaml" --project-name e2e-ps ps unknown 2>&1)
check "TestPs/ps unknown: exits 1" 1 $?
contains "TestPs/ps unknown: names it" "no such service: unknown" "$out"
"$BERTH" --project-name e2e-ps down >/dev/null 2>&1 || fail "TestPs: down"
check_no_leaks e2e-ps-
finish
