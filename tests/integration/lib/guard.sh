#!/bin/sh
# guard.sh PID WORK: started by common.sh in a session of its own, so that a kill of the test
# (ctest's timeout kills it with SIGKILL) does not reach it. It waits for the test's shell PID
# to go. finish() removes WORK; if WORK is still there, the test died before it could clean
# up, and its detached supervisors, keepers and containers would run on for hours (they did,
# and skewed every later test and benchmark). Then the guard ends them:
#   1. SIGTERM to every process of the test's state root (BERTH_ROOT=WORK/root in its
#      environment) but the keepers: a supervisor stops and removes its containers;
#   2. after up to 10 s, SIGKILL to whatever of them remains, keepers included;
#   3. SIGKILL to the processes left in the cgroups of the test's projects (the runtime dir
#      WORK/run names them), whose directories it then removes;
#   4. WORK itself.
# It prints what it did to WORK.guard.log (beside WORK, kept for a person to read).
pid=$1 work=$2
log=$work.guard.log
while kill -0 "$pid" 2>/dev/null; do sleep 1; done
[ -d "$work" ] || exit 0
exec >"$log" 2>&1
echo "guard: the test (pid $pid) ended without cleaning up; ending what it left"
ours() {  # ours [keepers]: pids of this state root's processes, keepers only with an argument
    for f in $(grep -lzx "BERTH_ROOT=$work/root" /proc/[0-9]*/environ 2>/dev/null); do
        d=${f%/environ}
        p=${d#/proc/}
        if [ -z "${1:-}" ] && { tr '\0' ' ' <"$d/cmdline"; } 2>/dev/null | grep -q '__keeper'; then continue; fi
        echo "$p"
    done
}
pids=$(ours)
if [ -n "$pids" ]; then
    echo "SIGTERM:" $pids
    # shellcheck disable=SC2086
    kill -TERM $pids 2>/dev/null
    for _ in $(seq 100); do
        [ -z "$(ours)" ] && break
        sleep 0.1
    done
fi
pids=$(ours all)
if [ -n "$pids" ]; then
    echo "SIGKILL:" $pids
    # shellcheck disable=SC2086
    kill -KILL $pids 2>/dev/null
fi
for project in $(ls "$work/run" 2>/dev/null); do
    for g in $(find /sys/fs/cgroup -mindepth 2 -maxdepth 4 -type d -path '*/berth/*' -name "$project-*" 2>/dev/null); do
        procs=$(cat "$g/cgroup.procs" 2>/dev/null)
        [ -n "$procs" ] && echo "SIGKILL in $g:" $procs && kill -KILL $procs 2>/dev/null
        for _ in $(seq 50); do rmdir "$g" 2>/dev/null && break; sleep 0.1; done
        [ -d "$g" ] && echo "left: $g"
    done
done
rm -rf "$work"
echo "guard: done"
