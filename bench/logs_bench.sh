#!/bin/sh
# logs_bench.sh BERTH [MB]: log throughput — one container writing as fast as it
# can through berth's pipe → supervisor → json-file path — beside the raw
# pipe-to-file rate of the same writer on this machine; then the latency from
# a line written in the container to the line printed by `logs -f`.
set -eu
if [ "${BERTH_BENCH_INNER:-}" != 1 ]; then
    exec unshare --mount --net --propagation private env BERTH_BENCH_INNER=1 sh "$0" "$@"
fi
berth=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
mb=${2:-256}
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d /tmp/berth-logbench-XXXXXX)
trap 'rm -rf "$work"' EXIT
export BERTH_ROOT="$work/root" BERTH_RUNTIME_DIR="$work/run"
"$here/../tests/integration/lib/make-busybox-rootfs.sh" "$work/bb.tar"
"$berth" image import "$work/bb.tar" bench/busybox >/dev/null
line=0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcde   # 63 chars + newline = 64 bytes
lines=$((mb * 1024 * 1024 / 64))

now_ms() { echo $(( $(date +%s%N) / 1000000 )); }
t0=$(now_ms)
busybox yes "$line" | busybox head -n "$lines" > "$work/raw.out"
t1=$(now_ms)
raw_ms=$((t1 - t0)); [ "$raw_ms" -gt 0 ] || raw_ms=1

mkdir -p "$work/p" && cd "$work/p"
cat > compose.yaml <<YAML
name: logbench
services:
  chatty:
    image: bench/busybox
    command: ["sh", "-c", "yes $line | head -n $lines"]
YAML
t0=$(now_ms)
"$berth" up -d >/dev/null 2>&1
"$berth" wait chatty >/dev/null
t1=$(now_ms)
ms=$((t1 - t0)); [ "$ms" -gt 0 ] || ms=1
log="$BERTH_ROOT/containers/logbench-chatty-1/logbench-chatty-1-json.log"
got=$(wc -l < "$log")
echo "raw pipe to file: $mb MiB in $raw_ms ms = $((mb * 1000 / raw_ms)) MiB/s"
echo "berth up -d … wait → json-file: $mb MiB in $ms ms = $((mb * 1000 / ms)) MiB/s, $((lines * 1000 / ms)) lines/s ($((100 * raw_ms / ms))% of raw); lines logged $got of $lines"
# The log path alone: from the first line's time stamp to the last's (start-up and `wait` excluded).
python3 - "$log" "$mb" "$lines" "$raw_ms" <<'PY'
import calendar, json, sys, time
def ns(stamp):
    whole, frac = stamp.rstrip("Z").split(".")
    return calendar.timegm(time.strptime(whole, "%Y-%m-%dT%H:%M:%S")) * 10**9 + int(frac.ljust(9, "0")[:9])
path, mb, lines, raw_ms = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
with open(path, "rb") as f:
    first = json.loads(f.readline())["time"]
    f.seek(-4096, 2)
    last = json.loads(f.read().splitlines()[-1])["time"]
ms = max((ns(last) - ns(first)) / 1e6, 1)
print("log path alone (first to last line's time stamp): %.0f ms = %.0f MiB/s, %.0f lines/s (%.0f%% of raw)"
      % (ms, mb * 1000 / ms, lines * 1000 / ms, 100 * raw_ms / ms))
PY
"$berth" down >/dev/null

# Latency: the time stamp the supervisor gives a line as it reads it from the
# container's pipe, against the moment `logs -f` prints that line.
cat > compose.yaml <<'YAML'
name: logbench
services:
  ticker:
    image: bench/busybox
    init: true
    command: ["sh", "-c", "while true; do echo tick; sleep 0.05; done"]
YAML
"$berth" up -d >/dev/null
python3 - "$berth" <<'PY'
import calendar, subprocess, sys, time
p = subprocess.Popen([sys.argv[1], "logs", "-f", "-t", "--tail", "0", "--no-log-prefix"], stdout=subprocess.PIPE, text=True)
samples = []
while len(samples) < 60:
    line = p.stdout.readline()
    now = time.time_ns()
    stamp = line.split(" ", 1)[0]                       # 2026-11-26T01:35:33.599096712Z
    whole, frac = stamp.rstrip("Z").split(".")
    ns = calendar.timegm(time.strptime(whole, "%Y-%m-%dT%H:%M:%S")) * 10**9 + int(frac.ljust(9, "0")[:9])
    samples.append((now - ns) / 1e6)
p.kill()
samples = sorted(samples[10:])                           # the first lines may predate the follower
print("line read by the supervisor → printed by logs -f: median %.2f ms, p90 %.2f ms (n=%d)"
      % (samples[len(samples) // 2], samples[len(samples) * 9 // 10], len(samples)))
PY
"$berth" down >/dev/null
