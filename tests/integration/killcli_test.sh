#!/bin/sh
# kill -9 of the short-lived commands mid-way, at seeded random delays:
# `berth run --rm`, `berth exec` and `berth cp` (both ways), KILL_RUNS each
# (10 in CI; KILL_RUNS=100 for more, KILL_SEED to replay). The service they
# act on keeps working, and the next `berth down` leaves nothing behind (the
# leak checker). Then the supervisor is killed while a writer fsyncs numbered
# records to a named volume: after `berth down` every record written before
# the kill is on the volume. Prints: kills of each command, delays, records.
. "$(dirname "$0")/lib/common.sh"

runs=${KILL_RUNS:-10}
seed=${KILL_SEED:-18}
echo "figure: seed $seed, $runs kills of each of run, exec, cp"
"$here/lib/make-busybox-rootfs.sh" "$work/busybox.tar"
"$BERTH" image import "$work/busybox.tar" it/busybox >/dev/null
mkdir -p "$work/k" && cd "$work/k"
cat > compose.yaml <<'YAML'
name: relykill
services:
  app:
    image: it/busybox
    command: sleep 1000
    init: true
    volumes: [data:/data]
  writer:
    image: it/busybox
    init: true
    volumes: [data:/data]
    command:
      - sh
      - -c
      - |
        n=0
        while :; do n=$$((n + 1)); echo "$$n" >> /data/records; sync /data/records; usleep 10000; done
volumes:
  data:
YAML
"$BERTH" up -d >/dev/null 2>&1 || { fail "up -d"; finish; exit 1; }
# delays N SALT SPAN: N delays in ms, 0..SPAN, from the seed.
delays() { awk -v n="$1" -v s="$((seed * 7 + $2))" -v span="$3" 'BEGIN {srand(s); for (i = 0; i < n; i++) printf "%d ", int(rand() * span)}'; }
ms() { awk -v m="$1" 'BEGIN {printf "%.3f", m / 1000}'; }
now_ms() { awk '{printf "%d", $1 * 1000}' /proc/uptime; }
kill_after() {  # kill_after MS COMMAND...: starts it, kills it -9 after MS
    d=$1; shift
    "$@" </dev/null >/dev/null 2>&1 &
    p=$!
    sleep "$(ms "$d")"
    kill -9 "$p" 2>/dev/null && killed=$((killed + 1))
    wait "$p" 2>/dev/null
}
one() {  # one WHAT [DELAY]: the command, whole or killed after DELAY ms
    case $1 in
        run) set -- "$1" "$BERTH" run --rm -T app sh -c 'echo started; sleep 1' ;;
        exec) set -- "$1" "$BERTH" exec -T app sh -c 'sleep 1' ;;
        cp-in) set -- "$1" "$BERTH" cp "$work/big" app:/tmp/big ;;
        cp-out) set -- "$1" "$BERTH" cp app:/tmp/big "$work/out" ;;
    esac
    shift
    "$@" </dev/null >/dev/null 2>&1
}
head -c 256M /dev/zero > "$work/big"
for what in run exec cp-in cp-out; do
    # The span of the delays: how long the command takes whole (for cp, the copy of 256 MiB).
    # Taken on a second, warm run: the first cp-out read 256 MiB from the disk (1440 ms against
    # 880 ms warm), and delays spread over it came after the warm copies had ended.
    one "$what" || fail "$what: a whole run fails"
    t0=$(now_ms)
    one "$what" || fail "$what: a whole run fails"
    span=$(($(now_ms) - t0))
    killed=0
    salt=$(echo "$what" | cksum | cut -c1-4)
    list=$(delays "$runs" "$salt" $((span * 2 / 3)))
    for d in $list; do
        case $what in
            run) kill_after "$d" "$BERTH" run --rm -T app sh -c 'echo started; sleep 1' ;;
            exec) kill_after "$d" "$BERTH" exec -T app sh -c 'sleep 1' ;;
            cp-in) kill_after "$d" "$BERTH" cp "$work/big" app:/tmp/big ;;
            cp-out) kill_after "$d" "$BERTH" cp app:/tmp/big "$work/out" ;;
        esac
    done
    echo "figure: $what takes $span ms whole; killed $killed of $runs times, after (ms): $list"
    [ "$killed" -ge $((runs / 2)) ] && ok "$what: killed mid-way $killed times" || fail "$what: killed mid-way only $killed times"
    check "$what: the service still answers exec" ok "$("$BERTH" exec -T app echo ok 2>&1)"
done
rm -f "$work/out" "$work/big"
check "the supervisor survived every kill of its clients" ok "$("$BERTH" exec -T app echo ok 2>&1)"

# ---- the supervisor killed under an fsyncing writer, then down
records=$BERTH_ROOT/volumes/relykill_data/_data/records
for _ in $(seq 100); do [ -s "$records" ] && break; sleep 0.05; done
d=$(delays 1 99 700 | tr -d ' ')
sleep "$(ms "$d")"
sup=$(sed -n 's/.*"supervisor": *\([0-9]*\).*/\1/p' "$BERTH_RUNTIME_DIR/relykill/project.json")
# Each record is fsync'd before the next is begun: those on the volume now are synced, but the last.
synced=$(($(wc -l < "$records") - 1))
[ -n "$sup" ] && kill -9 "$sup"
"$BERTH" down >/dev/null 2>&1 || fail "down after the supervisor was killed"
total=$(wc -l < "$records")
echo "figure: supervisor killed after $d ms; records synced before the kill $synced, on the volume after down $total"
[ "$total" -ge "$synced" ] && ok "every record synced before the kill is on the volume ($synced ≤ $total)" ||
    fail "records lost: $synced synced, $total on the volume"
check "the records are 1..$total, none lost or doubled" 0 "$(awk '$1 != NR {bad++} END {print bad + 0}' "$records")"
check_no_leaks relykill-
"$BERTH" volume rm relykill_data >/dev/null 2>&1
finish
