#!/bin/sh
# logs, stats, top, inspect, completion end to end: complete, time-ordered
# logs of two chatty services, rotation, no line lost under a burst (1M lines, and 1 GiB).
# Under the sanitizers (BERTH_SANITIZED=1, from scripts/test.sh), whose berth copies bytes
# several times slower, the bursts are 200,000 lines and 128 MiB: still far past every pipe
# and buffer, so a lost or split line still shows.
. "$(dirname "$0")/lib/common.sh"

burst_lines=1000000 flood_bytes=1073741824 mem=48m mem_bytes=50331648
# The sanitized berth's init (a fork of the supervisor, ASan's shadow memory and all) is
# OOM-killed in 48m: 256m there.
if [ "${BERTH_SANITIZED:-0}" = 1 ]; then burst_lines=200000 flood_bytes=134217728 mem=256m mem_bytes=268435456; fi

"$here/lib/make-busybox-rootfs.sh" "$work/busybox.tar"
"$BERTH" image import "$work/busybox.tar" it/busybox >/dev/null
mkdir -p "$work/p" && cd "$work/p"
cat > compose.yaml <<'YAML'
name: itlogs
services:
  a:
    image: it/busybox
    init: true
    mem_limit: @MEM@
    environment: {GREETING: hello-env}
    command: ["sh", "-c", "i=0; while [ $$i -lt 200 ]; do echo a-$$i; i=$$((i+1)); done; exec sleep 1000"]
  b:
    image: it/busybox
    init: true
    command: ["sh", "-c", "i=0; while [ $$i -lt 200 ]; do echo b-$$i >&2; i=$$((i+1)); done; exec sleep 1000"]
  rotating:
    image: it/busybox
    command: ["sh", "-c", "yes 0123456789012345678901234567890123456789 | head -n 20000"]
    logging:
      driver: json-file
      options: {max-size: 100k, max-file: "3"}
  burst:
    image: it/busybox
    command: ["sh", "-c", "yes 0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcde | head -n @BURST_LINES@"]
  flood:                     # 1 GiB as fast as it can: 262144 lines of 4095 characters (+ newline)
    image: it/busybox
    command: ["sh", "-c", "l=$$(printf '%4095s' '' | tr ' ' x); yes \"$$l\" | head -c @FLOOD_BYTES@"]
YAML
sed -i "s/@BURST_LINES@/$burst_lines/; s/@FLOOD_BYTES@/$flood_bytes/; s/@MEM@/$mem/" compose.yaml
"$BERTH" up -d >/dev/null 2>&1
check "up -d" 0 $?
"$BERTH" wait rotating burst flood >/dev/null
sleep 0.2

out=$("$BERTH" logs --no-log-prefix a b 2>&1)  # b writes on stderr: its lines go to logs' stderr
check "logs of two services are complete" 400 "$(echo "$out" | grep -c '^[ab]-[0-9]*$')"
check "each in its own order" "$(seq 0 199 | sed 's/^/a-/')" "$(echo "$out" | grep '^a-')"
check "logs -t timestamps are in time order" 1 "$("$BERTH" logs -t --no-log-prefix a b 2>&1 | awk '{print $1}' | sort -c && echo 1)"
check "--tail 2" "itlogs-a-1  | a-198
itlogs-a-1  | a-199" "$("$BERTH" logs --tail 2 a)"
check "--since in the future shows nothing" "" "$("$BERTH" logs --since 2200-01-01T00:00:00Z a)"
check "--until 1h ago shows nothing" "" "$("$BERTH" logs --until 1h a)"

dir="$BERTH_ROOT/containers/itlogs-rotating-1"
files=$(ls "$dir" | grep -c 'json.log')
check "rotation keeps max-file files" 3 "$files"
big=$(find "$dir" -name '*json.log*' -size +100k | wc -l)
check "each under max-size" 0 "$big"

check "a burst of $burst_lines lines loses none" "$burst_lines" "$("$BERTH" logs --no-log-prefix burst | wc -l)"
flood=$("$BERTH" logs --no-log-prefix flood | awk 'length($0) != 4095 { bad++ } END { print NR, bad + 0 }')
check "a burst of $flood_bytes bytes loses no line and splits none" "$((flood_bytes / 4096)) 0" "$flood"
rm -f "$BERTH_ROOT"/containers/itlogs-flood-1/*json.log*  # 1.1 GiB of test data: not kept around

json=$("$BERTH" stats --no-stream --format json a)
check "stats shows the memory limit" "$mem_bytes" "$(echo "$json" | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["MemLimit"])')"
contains "top lists the container's processes" "sleep 1000" "$("$BERTH" top a)"
contains "inspect has the config" "\"mem_limit\": $mem_bytes" "$("$BERTH" inspect a)"
contains "inspect has the state" '"state": "running"' "$("$BERTH" inspect a)"
# exec runs in the container's namespaces, with its environment.
check "exec sees the service's environment" hello-env "$("$BERTH" exec -T a sh -c 'echo $GREETING')"
pid_inside=$("$BERTH" exec -T a sh -c 'echo $$')
check "exec is in the container's PID namespace (a small PID: $pid_inside)" 1 "$([ "$pid_inside" -lt 100 ] && echo 1)"
check "and sees the container's processes only" 1 "$([ "$("$BERTH" exec -T a sh -c 'ls -d /proc/[0-9]* | wc -l')" -lt 10 ] && echo 1)"
check "exec -T passes the exit code" 7 "$("$BERTH" exec -T a sh -c 'exit 7'; echo $?)"

# logs -f: follows a restarted container's new lines, and ends by itself once the stack is down.
"$BERTH" logs -f --no-log-prefix a b > "$work/follow.out" 2>&1 &
follower=$!
sleep 0.3
"$BERTH" restart a >/dev/null
for _ in $(seq 50); do [ "$(grep -c '^a-199$' "$work/follow.out")" -ge 2 ] && break; sleep 0.1; done
"$BERTH" down >/dev/null 2>&1
for _ in $(seq 50); do kill -0 "$follower" 2>/dev/null || break; sleep 0.1; done
if kill -0 "$follower" 2>/dev/null; then fail "logs -f did not end with the stack"; kill "$follower"; else ok "logs -f ends when the stack is down"; fi
check "logs -f has the lines of both runs of a, and b's" "400 200" "$(grep -c '^a-' "$work/follow.out") $(grep -c '^b-' "$work/follow.out")"
check "and in order within each run" "$( (seq 0 199; seq 0 199) | sed 's/^/a-/')" "$(grep '^a-' "$work/follow.out")"

"$BERTH" completion bash > "$work/c.sh"
bash -n "$work/c.sh"
check "the bash completion script parses" 0 $?
contains "and completes commands" "logs" "$(bash -c ". '$work/c.sh'; COMP_WORDS=(berth lo); COMP_CWORD=1; _berth; echo \${COMPREPLY[*]}")"

"$BERTH" down >/dev/null
check_no_leaks itlogs-
finish
