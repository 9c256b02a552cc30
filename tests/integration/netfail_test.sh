#!/bin/sh
# Netlink failing mid-`up` (issue 18). A second network whose bridge the kernel
# refuses (an MTU out of range: the first bridge is made, the second fails):
# `up -d` and `up` fail saying which network and why, and what was made so far
# (the first bridge, its firewall table) is undone at once. The bridge deleted
# while `up -d` waits for a dependency: the dependent's start fails naming the
# network and its bridge, what was made for it is undone (its veth, cgroups,
# processes, container dir), the running dependency stays as docker compose
# leaves it, `down` clears the rest and the next `up -d` makes the bridge again.
. "$(dirname "$0")/lib/common.sh"

"$here/lib/make-busybox-rootfs.sh" "$work/busybox.tar"
"$BERTH" image import "$work/busybox.tar" it/busybox >/dev/null
P=relynl
all='mount|link|nft-table|cgroup|process|runtime-file|container-dir'
made='link|nft-table|cgroup|process|container-dir'  # the runtime records stay until `down`, as for nft (faults_test)
mkdir -p "$work/nl" && cd "$work/nl"
cat > compose.yaml <<'YAML'
name: relynl
services:
  a: {image: it/busybox, command: sleep 1000, init: true, networks: [front]}
  b: {image: it/busybox, command: sleep 1000, init: true, networks: [front, back]}
networks:
  front: {}
  back: {driver_opts: {com.docker.network.driver.mtu: "70000"}}
YAML
for how in "up -d" "up"; do
    t0=$(date +%s%N)
    out=$(timeout 30 "$BERTH" $how 2>&1)
    check "$how with a bridge the kernel refuses fails" 1 "$?"
    contains "$how: … naming the network and the bridge" "network relynl_back: create bridge berth-" "$out"
    contains "$how: … and why" "MTU is 70000" "$out"
    for _ in $(seq 60); do [ -z "$(leak_procs "$P-")" ] && break; sleep 0.05; done  # the keeper ends once nothing runs
    check "$how: the first network's bridge and table, and everything else, undone at once" "" "$(leak_new "$made" "$P-")"
    "$BERTH" down >/dev/null 2>&1 || fail "$how: down after"
    check "$how: nothing left after down" "" "$(leak_new "$all" "$P-")"
    echo "figure: $how failing and down: $(( ($(date +%s%N) - t0) / 1000000 )) ms (5 helpers building)"
done

cat > compose.yaml <<'YAML'
name: relynl
services:
  a:
    image: it/busybox
    command: [sh, -c, 'sleep 1; touch /tmp/ok; exec sleep 1000']
    healthcheck: {test: [CMD, test, -e, /tmp/ok], interval: 200ms, retries: 30}
  b: {image: it/busybox, command: sleep 1000, init: true, depends_on: {a: {condition: service_healthy}}}
YAML
"$BERTH" up -d >"$work/up.out" 2>&1 &
up=$!
for _ in $(seq 100); do grep -q '"state": "running"' "$BERTH_RUNTIME_DIR/$P/containers/$P-a-1.json" 2>/dev/null && break; sleep 0.05; done
br=$(ip -o link show | awk -F': ' '{print $2}' | grep '^berth-')
[ -n "$br" ] && ip link del "$br" && ok "bridge $br deleted while up -d waits for a to be healthy" || fail "no bridge to delete"
wait "$up"
check "up -d fails" 1 "$?"
contains "… saying the network's bridge is gone" "service \"b\" failed to start: network relynl_default: its bridge $br is gone" "$(cat "$work/up.out")"
contains "ps shows why b is exited" "its bridge $br is gone" "$("$BERTH" ps -a 2>&1 | grep "$P-b-1")"
contains "a, started before, runs on (as docker compose leaves it)" "running" "$("$BERTH" ps 2>&1 | grep "$P-a-1")"
left=$(leak_new "$made" "$P-b-")
check "what was made for b is undone at once (veth, cgroups, processes, container dir)" "" \
    "$(echo "$left" | grep -v "$P-a-1" | grep -v '^link veth' | grep -v '^nft-table' | grep -v '^process [0-9]* berth ')"
check "no veth of b left" 1 "$(ip -o link show | grep -c ': veth')"  # a's
"$BERTH" down >/dev/null 2>&1 || fail "down"
check "down leaves nothing" "" "$(leak_new "$all" "$P-")"
"$BERTH" up -d >/dev/null 2>&1 && ok "the next up -d makes the bridge again" || fail "up -d after: $("$BERTH" ps -a 2>&1)"
contains "… and b runs" "running" "$("$BERTH" ps 2>&1 | grep "$P-b-1")"
"$BERTH" down >/dev/null 2>&1 || fail "down"
check_no_leaks "$P-"
finish
