#!/bin/sh
# The example stacks run as their READMEs say: examples/shop (the microservices demo: one
# order through the gateway's published port touches every service; audit crashed once and
# was restarted; the store keeps its orders on its volume across down/up) and examples/hello
# (the smallest stack: published port, a name resolved from another container) and
# examples/limits (memory, pids and cpus limits, each hit and measured); their images are built
# by `up` from the examples' Dockerfiles and from the base image examples/base makes offline from
# busybox-static; each example's README commands are then run as written.
. "$(dirname "$0")/lib/common.sh"
ip link set lo up
examples=$(cd "$here/../../examples" && pwd)

# --- shop: `up` builds its images (none is there yet), the examples' base first ---
export SHOP_PORT=18088
shop="-f $examples/shop/compose.yaml"
start=$(date +%s.%N)
$BERTH $shop up --wait --wait-timeout 60 >/dev/null 2>"$work/up.err"
check "shop: up --wait" 0 $?
echo "     shop built and healthy in $(python3 -c "import time; print(round(time.time() - $start, 1))") s"
contains "up built the missing base image (busybox-static, ../base/compose.yaml)" "[+] Building busybox (berth-example/busybox)" "$(cat "$work/up.err")"
check "up built one image per service, from the example's Dockerfile" "shop-audit shop-gateway shop-inventory shop-orders shop-store shop-worker" \
    "$($BERTH image ls 2>/dev/null | awk '/^shop-/ {print $1}' | sort | tr '\n' ' ' | sed 's/ $//')"
out=$(timeout 20 wget -qO- "http://127.0.0.1:$SHOP_PORT/cgi-bin/order?item=teapot")
echo "$out" | sed 's/^/     /'
contains "gateway took the order" "gateway: order for teapot" "$out"
contains "orders placed it" "orders: placed order" "$out"
contains "inventory reserved it, asking orders back by name" "inventory: reserved 1 teapot (price 18 from orders" "$out"
contains "store saved it on its volume and queued a job" "on volume store-data (1 orders kept), queued a job" "$out"
contains "the worker finished it" "done by shop-worker-1" "$out"
contains "audit logged it after its restart" "audit: logged order" "$out"
json=$($BERTH $shop ps -a --format json)
field() { printf '%s' "$json" | python3 -c "import json,sys; print([c.get('$2') for c in [json.loads(l) for l in sys.stdin if l.strip()] if c['service']=='$1'][0])"; }
check "audit crashed on purpose and was restarted" 1 "$(field audit restarts)"
check "the gateway runs as its image's USER (nobody), the store as root" "65534 0" \
    "$($BERTH $shop exec -T gateway id -u </dev/null) $($BERTH $shop exec -T store id -u </dev/null)"
check "health from the images' HEALTHCHECK (compose.yaml has none)" "healthy healthy" "$(field gateway health) $(field store health)"
check "every service runs" "running running running running running running" \
    "$(for s in gateway orders inventory store worker audit; do field $s state; done | tr '\n' ' ' | sed 's/ $//')"
contains "audit's crash is in its logs" "audit: crashing on purpose" "$($BERTH $shop logs audit)"
contains "the worker's logs" "worker: shipping order" "$($BERTH $shop logs worker)"
# The worker's limits, in its cgroup (v2: one hierarchy; v1: memory and pids controllers).
cg=$(field worker cgroup)
limit() {  # limit V2FILE V1CONTROLLER V1FILE
    if [ -f "/sys/fs/cgroup/$cg/$1" ]; then cat "/sys/fs/cgroup/$cg/$1"; else cat "/sys/fs/cgroup/$2/$cg/$3" 2>/dev/null; fi
}
check "the worker's memory limit (16m)" 16777216 "$(limit memory.max memory memory.limit_in_bytes)"
check "the worker's pids limit" 16 "$(limit pids.max pids pids.max)"
# The store's orders survive down/up (named volume); down -v removes them.
$BERTH $shop down >/dev/null 2>&1
$BERTH $shop up --wait --wait-timeout 60 >/dev/null 2>&1
out=$(timeout 20 wget -qO- "http://127.0.0.1:$SHOP_PORT/cgi-bin/order?item=kettle")
contains "orders kept on the volume across down/up" "(2 orders kept)" "$out"
$BERTH $shop down -v >/dev/null 2>&1
check_no_leaks shop-

# The hello and limits READMEs' run blocks, as written (tests/cli/readme_blocks.py), from the
# source root with berth on PATH; each command must exit 0 (ok/FAIL lines per command).
src=$(cd "$here/../.." && pwd)
readme_block() {  # readme_block EXAMPLE: prints the block's output; fails the test on a FAIL line
    mkdir -p "$work/blocks-$1"
    for n in $(python3 "$src/tests/cli/readme_blocks.py" "$src/examples/$1/README.md" "$(dirname "$BERTH")" "$work/blocks-$1" | grep -v '^skip'); do
        (cd "$src" && unset SHOP_PORT && PATH="$(dirname "$BERTH"):$PATH" sh "$work/blocks-$1/block-$n.sh" 2>&1)
    done > "$work/$1.out"
    sed 's/^/     /' "$work/$1.out" | grep -v -e '^     memory: holding' -e '^     ----'
    check "$1: every command of its README ran ($(grep -c '^ok ' "$work/$1.out") passed)" "" "$(grep '^FAIL ' "$work/$1.out")"
}

# --- shop's README: the demo script, then the stack by hand (default port 8088) ---
readme_block shop
check "shop README: two orders went through every service (demo.sh, then wget)" 2 "$(grep -c '^audit: logged order' "$work/shop.out")"
contains "shop README: ps shows audit restarted once" "shop-audit-1" "$(grep -E '^shop-audit-1 +audit +running.* 1 ' "$work/shop.out")"
$BERTH -f "$examples/shop/compose.yaml" down -v >/dev/null 2>&1
check_no_leaks shop-

# --- base: the examples' base image, built alone and run ---
readme_block base
contains "base: the image has busybox's applets and nobody" "uid=65534(nobody)" "$(cat "$work/base.out")"

# --- hello: published port, a name resolved from another container ---
readme_block hello
check "hello: both requests answered (published port, web by name from store)" 2 "$(grep -c 'Hello from berth' "$work/hello.out")"
check_no_leaks hello-

# --- limits: each service runs into its limit (attached `up` ends when all three have) ---
readme_block limits
out=$(cat "$work/limits.out")
contains "memory: OOM-killed at 32m (ps -a)" "exited (137)" "$(echo "$out" | grep -e '^limits-memory-1' -e ' memory ')"
held=$(echo "$out" | sed -n 's/.*memory: holding \([0-9]*\) MiB$/\1/p' | tail -1)
check "memory: held less than 32 MiB when killed" 1 "$([ "${held:-99}" -lt 32 ] && echo 1)"
n=$(echo "$out" | sed -n 's/.*fork failed with \([0-9]*\) processes running/\1/p')
check "pids: fork failed at 16 processes at most" 1 "$([ -n "$n" ] && [ "$n" -le 16 ] && [ "$n" -ge 8 ] && echo 1)"
cpu=$(echo "$out" | sed -n 's/.*used \([0-9]*\) ms of CPU in \([0-9]*\) ms/\1 \2/p')
check "cpus: at most 0.25 CPU (plus one 100 ms period)" 1 "$([ -n "$cpu" ] && [ $((${cpu% *} * 100 / ${cpu#* })) -le 30 ] && echo 1)"
echo "     memory held $held MiB when killed; pids: fork failed with $n running; cpus: $cpu (ms CPU, ms wall)"
check_no_leaks limits-
finish
