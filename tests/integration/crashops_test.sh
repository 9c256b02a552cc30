#!/bin/sh
# Crash consistency beyond `up` (issue 18): kill -9 of the supervisor at seeded
# random points of `down`, `restart`, scaling (`up -d --scale web=N`, `berth
# scale web=N`) and health transitions (a service whose health flips), then
# `berth up -d` or `berth down`. After each kill every record under the
# runtime dir still parses; after `up -d` the writer that ran is re-adopted
# (same pid), exactly one copy of it runs and web has the file's scale; after
# `down` nothing of the project is left (leak checker). The writer appends
# numbered, fsync'd records to a named volume: at the end they are 1..N, each
# once (none written before a kill is lost, never two writers at once).
# CRASHOPS_RUNS (default 50) and CRASHOPS_SEED set the loop; the seed is printed.
. "$(dirname "$0")/lib/common.sh"

"$here/lib/make-busybox-rootfs.sh" "$work/busybox.tar"
"$BERTH" image import "$work/busybox.tar" it/busybox >/dev/null
berth_exe=$(readlink -f "$BERTH")
P=relyops
mkdir -p "$work/ops" && cd "$work/ops"
cat > compose.yaml <<'YAML'
name: relyops
services:
  writer:
    image: it/busybox
    command:
      - sh
      - -c
      - |
        : opsmarker
        trap 'exit 0' TERM
        n=$$(tail -n 1 /data/log 2>/dev/null)
        n=$${n:-0}
        while :; do n=$$((n + 1)); echo "$$n" >> /data/log; sync /data/log; usleep 20000; done
    volumes: [data:/data]
  web:
    image: it/busybox
    init: true
    command: sleep 1000
  flip:
    image: it/busybox
    init: true
    command: [sh, -c, 'while :; do touch /tmp/up; usleep 300000; rm -f /tmp/up; usleep 300000; done']
    healthcheck: {test: [CMD, test, -e, /tmp/up], interval: 100ms, timeout: 1s, retries: 1}
volumes:
  data:
YAML
log="$BERTH_ROOT/volumes/${P}_data/_data/log"
rec() { sed -n "s/.*\"$2\": *\"*\([^\",]*\)\"*.*/\1/p" "$BERTH_RUNTIME_DIR/$P/containers/$P-$1.json" 2>/dev/null | head -1; }
alive() { [ -n "$1" ] && [ "$1" != 0 ] && kill -0 "$1" 2>/dev/null && ! grep -q '^State:.*Z' "/proc/$1/status" 2>/dev/null; }
kill_supervisor() {  # kill -9 of the project's supervisor (checked to be berth: never a recycled pid)
    _s=$(cat "$BERTH_RUNTIME_DIR/$P/supervisor.pid" 2>/dev/null)
    [ -n "$_s" ] && [ "$(readlink /proc/$_s/exe 2>/dev/null)" = "$berth_exe" ] && kill -9 "$_s" && echo "$_s"
}
wait_for() {  # wait_for SECONDS COMMAND...: until COMMAND succeeds
    t=$1; shift
    for _ in $(seq $((t * 20))); do "$@" && return 0; sleep 0.05; done
    return 1
}
copies() {  # copies of the writer running: the pid namespaces of the processes carrying its marker
    for f in $(grep -l -a 'ops[m]arker' /proc/[0-9]*/cmdline 2>/dev/null); do readlink "${f%/cmdline}/ns/pid"; done | sort -u | grep -c .
}
# web's containers as the kernel sees them (their cgroups holding a process) and as the records say (running, alive).
web_groups() { grep -h -o "/berth/$P-web-[0-9]*" /proc/[0-9]*/cgroup 2>/dev/null | sed 's|.*-||' | sort -u | tr '\n' ' '; }
web_records() {
    for f in "$BERTH_RUNTIME_DIR/$P/containers/$P-web-"*.json; do
        [ -e "$f" ] || continue; i=${f%.json}; i=${i##*-}
        [ "$(rec "web-$i" state)" = running ] && alive "$(rec "web-$i" pid)" && echo "$i"
    done | sort -u | tr '\n' ' '
}
webs_agree() { [ -n "$(web_records)" ] && [ "$(web_groups)" = "$(web_records)" ]; }
# Every JSON file of the project's runtime dir parses (a record written half is unreadable state).
unreadable() {
    python3 - "$BERTH_RUNTIME_DIR/$P" <<'PY'
import json, os, sys
for d, _, fs in os.walk(sys.argv[1]):
    for f in fs:
        if f.endswith(".json"):
            try:
                json.load(open(os.path.join(d, f)))
            except Exception as e:
                print(os.path.join(d, f), e)
PY
}
# The stack after `up -d`: one writer and its record running, flip running, and every web
# container running is one a record names as running (`up -d` keeps the replicas there are).
settled() {
    [ "$(copies)" = 1 ] && [ "$(rec writer-1 state)" = running ] && alive "$(rec flip-1 pid)" &&
        [ "$(rec flip-1 state)" = running ] && webs_agree
}

"$BERTH" up -d >/dev/null 2>&1 || fail "up -d"
wait_for 5 settled || fail "the stack runs"
# Scaling without a kill first: up and down, as docker compose does.
"$BERTH" up -d --scale web=3 >/dev/null 2>&1 || fail "up -d --scale web=3"
check "up -d --scale web=3: three webs run" "1 2 3 " "$(web_records)"
"$BERTH" up -d --scale web=1 >/dev/null 2>&1 || fail "up -d --scale web=1"
check "up -d --scale web=1: web-2 and web-3 stopped and removed" "1 " "$(web_records)"
check "… their records gone" "" "$(ls "$BERTH_RUNTIME_DIR/$P/containers" | grep -E 'web-[23]')"
runs=${CRASHOPS_RUNS:-50}
seed=${CRASHOPS_SEED:-$(date +%s)}
echo "seeded loop: $runs runs, CRASHOPS_SEED=$seed (CRASHOPS_RUNS=$runs CRASHOPS_SEED=$seed replays it)"
rnd=$seed
next() { rnd=$(( (rnd * 1103515245 + 12345) % 2147483648 )); r=$(( (rnd / 65536) % $1 )); }  # next N: r in 0..N-1
kills=0; readopted=0; adopted_containers=0; cleaned=0; n_down=0; n_restart=0; n_scale=0; n_upscale=0; n_health=0
t0=$(date +%s)
for run in $(seq "$runs"); do
    ts=$(date +%s%N)
    next 5; op=$r; next 300; delay=$r; next 3; finish_by=$r; next 3; n=$((r + 2))
    [ -n "$(cat "$BERTH_RUNTIME_DIR/$P/supervisor.pid" 2>/dev/null)" ] || "$BERTH" up -d >/dev/null 2>&1
    client=""
    case $op in
        0) op=down; n_down=$((n_down + 1)); "$BERTH" down -t 1 >/dev/null 2>&1 & client=$! ;;
        1) op=restart; n_restart=$((n_restart + 1)); "$BERTH" restart -t 1 >/dev/null 2>&1 & client=$! ;;
        2) op="up-scale-$n"; n_upscale=$((n_upscale + 1)); "$BERTH" up -d --scale "web=$n" >/dev/null 2>&1 & client=$! ;;
        3) op="scale-$n"; n_scale=$((n_scale + 1)); "$BERTH" scale "web=$n" >/dev/null 2>&1 & client=$! ;;
        4) op=health; n_health=$((n_health + 1)); delay=$((delay * 2)) ;;  # a flip every 300 ms, a check every 100 ms
    esac
    what="run $run ($op, killed at ${delay} ms, then $([ "$finish_by" = 0 ] && echo down || echo 'up -d'))"
    sleep "$((delay / 1000)).$(printf %03d $((delay % 1000)))"
    [ -n "$(kill_supervisor)" ] && kills=$((kills + 1))
    [ -n "$client" ] && wait "$client"
    sleep 0.1
    bad=$(unreadable)
    [ -z "$bad" ] || fail "$what: unreadable state: $bad"
    if [ "$finish_by" = 0 ]; then
        "$BERTH" down -t 1 >/dev/null 2>&1 || fail "$what: down after the kill"
        clean() { left=$(leak_new 'mount|link|nft-table|cgroup|process|runtime-file|container-dir' "$P-"); [ -z "$left" ]; }
        wait_for 3 clean && cleaned=$((cleaned + 1)) || fail "$what: down left $(echo "$left" | head -3 | tr '\n' ' ')"
        [ "$(copies)" = 0 ] || fail "$what: a writer outlives down"
        echo "ok   $what: cleaned ($(( ($(date +%s%N) - ts) / 1000000 )) ms)"
    else
        # What still runs now must be re-adopted: the same pid after `up -d`.
        before=""
        for c in writer-1 flip-1 web-1; do p=$(rec $c pid); alive "$p" && before="$before $c:$p"; done
        out=$("$BERTH" up -d 2>&1) || fail "$what: up -d after the kill: $out"
        wait_for 5 settled || fail "$what: want one writer, one web, flip running; got $(copies) writers, web groups [$(web_groups)] records [$(web_records)], flip $(rec flip-1 state); $(tail -n 3 "$BERTH_RUNTIME_DIR/$P.supervisor.log" 2>/dev/null)"
        same=0
        for cp in $before; do
            c=${cp%%:*}; p=${cp#*:}
            if [ "$(rec "$c" pid)" = "$p" ]; then same=$((same + 1)); else fail "$what: $c was running ($p), not re-adopted: now $(rec "$c" pid)"; fi
        done
        adopted_containers=$((adopted_containers + same))
        [ -n "$before" ] && readopted=$((readopted + 1))
        echo "ok   $what: $same re-adopted, webs [$(web_records)] ($(( ($(date +%s%N) - ts) / 1000000 )) ms)"
    fi
done
t1=$(date +%s)
"$BERTH" down -t 1 >/dev/null 2>&1 || fail "final down"
total=$(wc -l < "$log" 2>/dev/null || echo 0)
[ "$total" -gt 50 ] && ok "the writer wrote $total fsync'd records" || fail "only $total records"
lost=$(awk '$1 != NR {bad++} END {print bad + 0}' "$log")
check "records 1..$total, each once: none written before a kill lost, never two writers" 0 "$lost"
"$BERTH" down -v >/dev/null 2>&1
check_no_leaks "$P-"
echo "figures: runs=$runs seed=$seed kills=$kills (down=$n_down restart=$n_restart up-scale=$n_upscale scale=$n_scale health=$n_health) finished-by-up=$((runs - cleaned)) re-adopted-runs=$readopted re-adopted-containers=$adopted_containers cleaned=$cleaned records=$total out-of-place=$lost loop=$((t1 - t0))s"
[ "$kills" -ge $((runs * 3 / 4)) ] && ok "$kills of $runs runs killed a supervisor" || fail "only $kills kills in $runs runs"
finish
