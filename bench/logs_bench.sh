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
"$berth" down >/dev/null

# Latency: a line written in the container, seen by `logs -f`.
cat > compose.yaml <<'YAML'
name: logbench
services:
  ticker:
    image: bench/busybox
    init: true
    command: ["sh", "-c", "while true; do read x < /tmp/go 2>/dev/null; echo tick; done"]
YAML
"$berth" up -d >/dev/null
"$berth" exec -T ticker mkfifo /tmp/go
python3 - "$berth" <<'PY'
import subprocess, sys, time
p = subprocess.Popen([sys.argv[1], "logs", "-f", "--tail", "0", "--no-log-prefix"], stdout=subprocess.PIPE)
time.sleep(0.3)
samples = []
for _ in range(20):
    t = time.monotonic()
    subprocess.run([sys.argv[1], "exec", "-T", "ticker", "sh", "-c", "echo > /tmp/go"], check=True)
    p.stdout.readline()
    samples.append((time.monotonic() - t) * 1000)
p.kill()
samples.sort()
print("line → logs -f: median %.1f ms (includes starting `berth exec` for each line)" % samples[len(samples) // 2])
PY
"$berth" down >/dev/null
