#!/bin/sh
# CVE-2019-5736 class: a process in a container must never get at the host's
# berth binary through /proc/PID/exe of berth's exec or health-check helper
# (while it joins the container, before its execve) or of berth's init.
# An attacker (lib/escexe_scan.c) runs as the service and probes every PID of
# its container; the host meanwhile runs `berth exec` many times and a health
# check every 20ms. Everything runs from copies of berth, so a successful
# write spoils a copy, never the build output.
. "$(dirname "$0")/lib/common.sh"

# 200 rounds of two execs; under the sanitizers (BERTH_SANITIZED=1) 40: an exec of the
# sanitized berth takes about 0.6 s, and the release run of this suite tries the 200.
if [ "${BERTH_SANITIZED:-0}" = 1 ]; then execs=${ESCEXE_EXECS:-40}; else execs=${ESCEXE_EXECS:-200}; fi
gcc -static -O2 -o "$work/escexe_scan" "$here/lib/escexe_scan.c" || { fail "build escexe_scan"; finish; exit 1; }
"$here/lib/make-busybox-rootfs.sh" "$work/busybox.tar" "$work/escexe_scan"
sup="$work/berth-sup" cli="$work/berth-cli"   # the supervisor's binary and `berth exec`'s
cp "$BERTH" "$sup" && cp "$BERTH" "$cli"
sum_before=$(sha256sum <"$BERTH" | cut -d' ' -f1)
"$sup" image import "$work/busybox.tar" escexe/busybox >/dev/null

mkdir -p "$work/proj/out/plain" "$work/proj/out/init" && cd "$work/proj"
cat > compose.yaml <<'YAML'
name: escexe
services:
  plain:
    image: escexe/busybox
    command: ["escexe_scan", "/out/plain"]
    volumes: ["./out:/out"]
    healthcheck: {test: ["CMD", "true"], interval: 20ms}
  init:
    image: escexe/busybox
    init: true
    command: ["escexe_scan", "/out/init"]
    volumes: ["./out:/out"]
    healthcheck: {test: ["CMD", "true"], interval: 20ms}
YAML
"$sup" up -d >/dev/null 2>&1
check "up -d succeeds" 0 $?

# `true` is looked up along PATH, as an exec usually is: a few execve calls before the one that works.
okexecs=0 i=0
while [ $i -lt "$execs" ]; do
    for s in plain init; do "$cli" exec -T $s true </dev/null >/dev/null 2>&1 && okexecs=$((okexecs + 1)); done
    i=$((i + 1))
done
check "every exec ran" $((execs * 2)) $okexecs
touch out/plain/stop out/init/stop
n=0
while [ $n -lt 100 ] && ! { [ -f out/plain/result ] && [ -f out/init/result ]; }; do sleep 0.1; n=$((n + 1)); done
json=$("$sup" ps -a --format json)
for s in plain init; do
    check "$s: health checks ran (healthy)" healthy \
        "$(echo "$json" | python3 -c "import json,sys; print([c.get('health') for c in [json.loads(l) for l in sys.stdin if l.strip()] if c['service']=='$s'][0])")"
done
"$sup" down >/dev/null 2>&1

for s in plain init; do
    r=$(head -1 out/$s/result 2>/dev/null)
    echo "$s: $r"
    sed -n '2,5p' out/$s/result 2>/dev/null
    scans=$(echo "$r" | sed -n 's/.*scans=\([0-9]*\).*/\1/p')
    check "$s: the attacker scanned (many times)" 1 "$([ "${scans:-0}" -gt 1000 ] && echo 1)"
    check "$s: no foreign /proc/PID/exe opened (O_PATH)" "path=0" "$(echo "$r" | grep -o 'path=[0-9]*')"
    check "$s: no foreign exe read" "read=0" "$(echo "$r" | grep -o 'read=[0-9]*')"
    check "$s: no foreign exe opened for writing" "write=0" "$(echo "$r" | grep -o 'write=[0-9]*')"
    check "$s: no foreign /proc/PID/fd listed" "fd=0" "$(echo "$r" | grep -o 'fd=[0-9]*')"
    check "$s: no foreign process ptrace-seized" "ptrace=0" "$(echo "$r" | grep -o 'ptrace=[0-9]*')"
done
check "the supervisor's binary is unchanged" "$sum_before" "$(sha256sum <"$sup" | cut -d' ' -f1)"
check "exec's binary is unchanged" "$sum_before" "$(sha256sum <"$cli" | cut -d' ' -f1)"
check_no_leaks escexe-
finish
