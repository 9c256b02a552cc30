#!/bin/sh
# stack_bench.sh BERTH: `up -d` to all-running and `down` for 1, 10 and 50
# services (each exits on SIGTERM), the supervisor's RSS with 10 services and its
# context switches while idle (wake-ups).
# Run as root; it makes its own private mount and network namespace, state
# root and busybox image.
set -eu
if [ "${BERTH_BENCH_INNER:-}" != 1 ]; then
    exec unshare --mount --net --propagation private env BERTH_BENCH_INNER=1 sh "$0" "$@"
fi
berth=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d /tmp/berth-bench-XXXXXX)
trap 'rm -rf "$work"' EXIT
export BERTH_ROOT="$work/root" BERTH_RUNTIME_DIR="$work/run"
ip link set lo up
"$here/../tests/integration/lib/make-busybox-rootfs.sh" "$work/bb.tar"
"$berth" image import "$work/bb.tar" bench/busybox >/dev/null

now_ms() { echo $(( $(date +%s%N) / 1000000 )); }
stack() {  # stack N [ports]: a compose file with N services that exit on SIGTERM (each publishing a port)
    mkdir -p "$work/s$1$2"
    {
        echo "name: bench$1$2"
        echo "services:"
        i=1
        while [ "$i" -le "$1" ]; do
            echo "  svc$i:"
            echo "    image: bench/busybox"
            echo "    command: [\"sleep\", \"1000\"]"
            echo "    init: true"
            [ -n "$2" ] && echo "    ports: [\"127.0.0.1:$((20000 + i)):80\"]"
            i=$((i + 1))
        done
    } > "$work/s$1$2/compose.yaml"
}

echo "services  up -d (ms)  down (ms)"
for n in 1 10 50 10ports; do
    ports=${n#"${n%ports}"}
    n=${n%ports}
    stack "$n" "$ports"
    cd "$work/s$n$ports"
    t0=$(now_ms); "$berth" up -d >/dev/null; t1=$(now_ms)
    running=$("$berth" ps -q | wc -l)
    [ "$running" -eq "$n" ] || { echo "only $running of $n running" >&2; exit 1; }
    if [ "$n" -eq 10 ] && [ -z "$ports" ]; then
        sup=$(python3 -c "import json; print(json.load(open('$BERTH_RUNTIME_DIR/bench10/project.json'))['supervisor'])")
        rss=$(awk '/VmRSS/ {print $2}' /proc/"$sup"/status)
        c0=$(awk '/voluntary_ctxt_switches/ {s+=$2} END {print s}' /proc/"$sup"/status)
        sleep 5
        c1=$(awk '/voluntary_ctxt_switches/ {s+=$2} END {print s}' /proc/"$sup"/status)
        idle="supervisor RSS with 10 services: $((rss / 1024)) MB ($rss kB); wake-ups while idle: $(( (c1 - c0) )) in 5 s"
    fi
    t2=$(now_ms); "$berth" down >/dev/null; t3=$(now_ms)
    printf "%8s  %10d  %9d\n" "$n${ports:+ (each publishing a port)}" $((t1 - t0)) $((t3 - t2))
done
echo "$idle"

# Restart latency after a crash: from the container's exit to its replacement
# running, as the supervisor's events report it (the first backoff is 100 ms).
mkdir -p "$work/r" && cd "$work/r"
cat > compose.yaml <<'YAML'
name: benchr
services:
  anchor:
    image: bench/busybox
    command: ["sleep", "1000"]
    init: true
  crash:
    image: bench/busybox
    command: ["sh", "-c", "sleep 0.3; exit 1"]
    restart: always
YAML
"$berth" up -d anchor >/dev/null
"$berth" events --json > "$work/events" &
ev=$!
sleep 0.2
"$berth" up -d crash >/dev/null
sleep 2.5
kill "$ev" 2>/dev/null || true
python3 - "$work/events" <<'PY'
import json, sys, datetime
def t(s):
    base, frac = s.rstrip("Z").split(".")
    return datetime.datetime.fromisoformat(base).replace(tzinfo=datetime.timezone.utc).timestamp() + float("0." + frac)
last_exit, gaps = None, []
for line in open(sys.argv[1]):
    e = json.loads(line)
    if e.get("service") != "crash": continue
    if e["action"] == "restarting": last_exit = t(e["time"])
    elif e["action"] == "running" and last_exit is not None:
        gaps.append((t(e["time"]) - last_exit) * 1000); last_exit = None
if gaps:
    print("restart after a crash: " + ", ".join("%.1f" % g for g in gaps) + " ms (backoff 100, 200, 400… ms included)")
else:
    print("restart after a crash: no restart seen")
PY
"$berth" down >/dev/null

podman-compose version >/dev/null 2>&1 && echo "podman-compose is installed: compare by hand" || echo "podman-compose: not installed, no comparison"
