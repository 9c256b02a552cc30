#!/bin/sh
# Live restore must never signal a process that merely reuses a dead
# container's pid. A container exits while no supervisor runs (the keeper
# reaps it and records the exit); an unrelated process then gets its pid; the
# next `up -d`, its service's configuration changed, recreates the container:
# the stop it sends must not reach that unrelated process. Run in a private
# pid namespace (tests/CMakeLists.txt), so that setting ns_last_pid gives the
# impostor the dead container's pid without racing the rest of the machine.
. "$(dirname "$0")/lib/common.sh"

"$here/lib/make-busybox-rootfs.sh" "$work/busybox.tar"
"$BERTH" image import "$work/busybox.tar" it/busybox >/dev/null
berth_exe=$(readlink -f "$BERTH")
rec() { sed -n "s/.*\"$3\": *\"*\([^\",]*\)\"*.*/\1/p" "$BERTH_RUNTIME_DIR/$1/containers/$2.json" 2>/dev/null | head -1; }
wait_for() {  # wait_for SECONDS COMMAND...: until COMMAND succeeds
    t=$1; shift
    for _ in $(seq $((t * 20))); do "$@" && return 0; sleep 0.05; done
    return 1
}
gone() { ! kill -0 "$1" 2>/dev/null || grep -q '^State:.*Z' "/proc/$1/status" 2>/dev/null; }

mkdir -p "$work/p" && cd "$work/p"
cat > compose.yaml <<'YAML'
name: reviewpid
services:
  app:
    image: it/busybox
    command: [sleep, "1000"]
YAML
"$BERTH" up -d >/dev/null 2>&1 || fail "up -d"
pid=$(rec reviewpid reviewpid-app-1 pid)
[ -n "$pid" ] && kill -0 "$pid" && ok "app runs as pid $pid" || fail "app does not run"
sup=$(cat "$BERTH_RUNTIME_DIR/reviewpid/supervisor.pid" 2>/dev/null)
[ -n "$sup" ] && [ "$(readlink "/proc/$sup/exe")" = "$berth_exe" ] && kill -9 "$sup" && ok "supervisor killed" ||
    fail "no supervisor to kill"
wait_for 5 gone "$sup" || fail "the supervisor outlives kill -9"
kill -9 "$pid"
wait_for 5 gone "$pid" && ! [ -e "/proc/$pid" ] && ok "app killed while no supervisor ran, reaped by the keeper" ||
    fail "app's pid is not free"
# The impostor: a process unrelated to berth with the dead container's pid.
impostor=""
for _ in $(seq 20); do
    echo $((pid - 1)) >/proc/sys/kernel/ns_last_pid
    sleep 1000 &
    if [ "$!" = "$pid" ]; then impostor=$!; break; fi
    kill "$!"
done
[ -n "$impostor" ] && ok "an unrelated process now has pid $pid" || fail "could not give pid $pid to another process"
sed -i 's/"1000"/"1001"/' compose.yaml  # a changed configuration: the container is recreated
out=$("$BERTH" up -d 2>&1) || fail "up -d after the kill: $out"
sleep 1
kill -0 "$impostor" 2>/dev/null && ok "the process that reused the pid was not signalled" ||
    fail "up -d's recreate signalled pid $pid, an unrelated process"
new=$(rec reviewpid reviewpid-app-1 pid)
[ -n "$new" ] && [ "$new" != "$pid" ] && kill -0 "$new" && ok "app recreated (pid $new)" || fail "app not recreated: $("$BERTH" ps -a)"
kill "$impostor" 2>/dev/null
wait "$impostor" 2>/dev/null
"$BERTH" down >/dev/null 2>&1 || fail "down"
check_no_leaks reviewpid-
finish
