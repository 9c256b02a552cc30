#!/bin/sh
# A container that cannot start (its bind mount's source is missing) leaves
# nothing open in the supervisor: 40 failed `start`s, and the supervisor's open
# fds are what they were (issue 12's regression test for the fds a failed start
# once leaked). Prints the counts.
. "$(dirname "$0")/lib/common.sh"

ip link set lo up
"$here/lib/make-busybox-rootfs.sh" "$work/busybox.tar"
"$BERTH" image import "$work/busybox.tar" it/busybox >/dev/null
mkdir -p "$work/p" && cd "$work/p"
cat > compose.yaml <<'YAML'
name: startfail
services:
  ok:
    image: it/busybox
    command: ["sleep", "1000"]
    init: true
  bad:
    image: it/busybox
    command: ["true"]
    volumes:
      - {type: bind, source: /nonexistent-berth-startfail, target: /x, bind: {create_host_path: false}}
YAML
"$BERTH" up -d >/dev/null 2>&1
sup=$(sed -n 's/.*"supervisor": *\([0-9]*\).*/\1/p' "$BERTH_RUNTIME_DIR/startfail/project.json")
[ -n "$sup" ] && [ -d "/proc/$sup" ] && ok "the supervisor runs ($sup)" || { fail "no supervisor"; finish; exit 1; }
contains "bad could not start, and ps says why" "bind source" "$("$BERTH" ps -a 2>&1 | grep startfail-bad-1)"
nfds() { ls "/proc/$1/fd" 2>/dev/null | wc -l; }
# Five failed starts first: what the supervisor opens once, lazily (libuv's thread pool and its
# wake-up fd on the first work it queues), is open before the count is taken. A leak per start
# would still show as 40 more.
for _ in 1 2 3 4 5; do "$BERTH" start bad >/dev/null 2>&1; done
before=$(nfds "$sup")
i=0
failed=0
while [ "$i" -lt 40 ]; do
    "$BERTH" start bad >/dev/null 2>&1 || failed=$((failed + 1))
    i=$((i + 1))
done
after=$(nfds "$sup")
echo "figure: 40 failed starts: supervisor fds $before → $after"
check "each of the 40 starts failed" 40 "$failed"
[ "$after" -le "$before" ] && ok "the supervisor's fds stay flat ($before → $after)" ||
    fail "the supervisor's fds grew ($before → $after): $(ls -l /proc/$sup/fd | tail -5)"
check "the same supervisor still answers" "$sup" "$(sed -n 's/.*"supervisor": *\([0-9]*\).*/\1/p' "$BERTH_RUNTIME_DIR/startfail/project.json")"
contains "ok still runs" "running" "$("$BERTH" ps 2>&1 | grep startfail-ok-1)"
"$BERTH" down >/dev/null 2>&1 || fail "down"
check_no_leaks startfail-
finish
