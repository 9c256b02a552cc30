#!/bin/sh
# Limits hold under `berth up`, measured from the kernel's own counters:
#   - a fork bomb stops at pids_limit, and the host stays responsive meanwhile
#     (a host command's latency is printed and bounded);
#   - a memory hog is OOM-killed and reported OOMKilled with exit code 137;
#   - a `cpus: 0.5` busy loop gets about half a core (CPU time over wall time,
#     from the container's cgroup).
. "$(dirname "$0")/lib/common.sh"

"$here/lib/make-busybox-rootfs.sh" "$work/busybox.tar"
"$BERTH" image import "$work/busybox.tar" it/busybox >/dev/null
mkdir -p "$work/stack" && cd "$work/stack"
cat > compose.yaml <<'YAML'
name: itlimits
services:
  bomb:
    image: it/busybox
    pids_limit: 40
    # Forks sleepers until fork fails, then keeps trying: a bomb held at its limit. (A bare
    # `sleep &` whose fork fails ends busybox sh; a failed subshell does not.)
    command: ["sh", "-c", "while :; do (sleep 1000 &) 2>/dev/null; done"]
  hog:
    image: it/busybox
    mem_limit: 16m
    memswap_limit: 16m
    command: ["dd", "if=/dev/zero", "of=/dev/null", "bs=64M", "count=1"]
  spin:
    image: it/busybox
    cpus: 0.5
    command: ["sh", "-c", "while :; do :; done"]
YAML
record() { cat "$BERTH_RUNTIME_DIR/itlimits/containers/itlimits-$1-1.json" 2>/dev/null; }
field() { record "$1" | sed -n "s/.*\"$2\": *\"\\{0,1\\}\\([^\",]*\\).*/\\1/p" | head -1; }
# The directory of a container's cgroup for one controller (v1), or its v2 group.
cgroup_dir() {  # cgroup_dir PID CONTROLLER
    line=$(grep -E "^[0-9]+:([^:]*,)?$2(,[^:]*)?:" "/proc/$1/cgroup" | head -1)
    if [ -n "$line" ]; then
        mnt=$(awk -v c="$2" '$3 == "cgroup" && $4 ~ "(^|,)" c "(,|$)" {print $2; exit}' /proc/mounts)
        echo "$mnt${line#*:*:}"
    else
        echo "/sys/fs/cgroup$(sed -n 's/^0:://p' "/proc/$1/cgroup")"
    fi
}

"$BERTH" up -d >/dev/null 2>&1 || fail "up"

# --- the fork bomb -------------------------------------------------------------
bomb=$(field bomb pid)
[ -n "$bomb" ] && ok "the bomb runs (pid $bomb)" || fail "the bomb has no pid"
pids=$(cgroup_dir "$bomb" pids)
# Let it reach its limit, then time a host command while it keeps hammering fork.
# At the limit the count moves between 39 and 40 (a subshell whose fork failed exits), so the
# test samples it: it must reach 40 and never pass it.
peak=0; over=0
for _ in $(seq 100); do
    n=$(cat "$pids/pids.current" 2>/dev/null || echo 0)
    [ "$n" -gt "$peak" ] && peak=$n
    [ "$n" -gt 40 ] && over=$n
    [ "$peak" -ge 40 ] && break
    sleep 0.05
done
for _ in $(seq 20); do
    n=$(cat "$pids/pids.current" 2>/dev/null || echo 0)
    [ "$n" -gt 40 ] && over=$n
done
check "the bomb reaches pids_limit (highest pids.current seen)" 40 "$peak"
check "the bomb never passes pids_limit (a count above 40 seen)" 0 "$over"
worst=0
for _ in 1 2 3 4 5 6 7 8 9 10; do
    t0=$(date +%s%N); /bin/true; "$BERTH" ps >/dev/null 2>&1; t1=$(date +%s%N)
    ms=$(( (t1 - t0) / 1000000 ))
    [ "$ms" -gt "$worst" ] && worst=$ms
done
echo "figure: host command (true + berth ps) during the bomb, worst of 10: ${worst} ms"
[ "$worst" -lt 2000 ] && ok "the host stays responsive during the bomb (worst ${worst} ms)" ||
    fail "the host is slow during the bomb: ${worst} ms"
refused=$(sed -n 's/^max \([0-9]*\)/\1/p' "$pids/pids.events" 2>/dev/null)
[ "${refused:-0}" -gt 0 ] && ok "the kernel refused ${refused} forks beyond the limit" ||
    fail "no fork was refused (pids.events: $(cat "$pids/pids.events" 2>/dev/null))"

# The bomb burns CPU while it tries: end it before the CPU figure.
"$BERTH" kill bomb >/dev/null 2>&1 || fail "kill bomb"

# --- the memory hog ------------------------------------------------------------
for _ in $(seq 100); do [ "$(field hog state)" = exited ] && break; sleep 0.05; done
check "the hog is killed: exit code 137" 137 "$(field hog exit_code)"
check "… reported as OOMKilled" OOMKilled "$(field hog exit_reason)"
contains "ps shows it" "137" "$("$BERTH" ps -a | grep itlimits-hog-1)"

# --- half a core -----------------------------------------------------------------
spin=$(field spin pid)
acct=$(cgroup_dir "$spin" cpuacct)
usage() {  # CPU time of the spinner's cgroup, in ns
    if [ -f "$acct/cpuacct.usage" ]; then cat "$acct/cpuacct.usage"
    else echo $(( $(sed -n 's/^usage_usec //p' "$acct/cpu.stat") * 1000 )); fi
}
u0=$(usage); t0=$(date +%s%N)
sleep 3
u1=$(usage); t1=$(date +%s%N)
permille=$(( (u1 - u0) * 1000 / (t1 - t0) ))
echo "figure: cpus: 0.5 spinner used ${permille}/1000 of a core over 3 s"
# At most half a core (a scheduling period of slack); at least some, or it did not run.
[ "$permille" -le 560 ] && ok "cpus: 0.5 holds (${permille}/1000 of a core)" || fail "cpus: 0.5 exceeded: ${permille}/1000"
[ "$permille" -ge 100 ] && ok "… and the spinner ran" || fail "the spinner hardly ran: ${permille}/1000"

"$BERTH" down -t 1 >/dev/null 2>&1 || fail "down"
check_no_leaks itlimits-
finish
