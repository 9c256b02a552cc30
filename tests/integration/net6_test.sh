#!/bin/sh
# IPv6 end to end, in this test's private network namespace: a network with
# enable_ipv6 gives its containers IPv6 addresses (derived and static), a
# default route and AAAA answers; traffic flows over IPv6 between them; ports
# published on every address answer on [::1] (proxy) and on a host IPv6
# address (kernel DNAT), for a container with IPv6 and one without; an IPv6
# subnet without enable_ipv6 is a clear error; nothing is left after `down`.
. "$(dirname "$0")/lib/common.sh"

ip link set lo up
if [ "$(cat /proc/sys/net/ipv6/conf/all/disable_ipv6)" != 0 ]; then
    echo "IPv6 is disabled on this host: skipped"
    finish
    exit 0
fi
"$here/lib/make-busybox-rootfs.sh" "$work/busybox.tar"
"$BERTH" image import "$work/busybox.tar" it/busybox >/dev/null
mkdir -p "$work/stack" && cd "$work/stack"
cat > compose.yaml <<'YAML'
name: itsix
services:
  web6:
    image: it/busybox
    command: sh -c 'mkdir -p /www && echo "web6 here" > /www/index.html && exec httpd -f -p 80 -h /www'
    ports: ["18090:80"]
    networks: [v6]
  fixed:
    image: it/busybox
    command: sh -c 'mkdir -p /www && echo fixed > /www/index.html && exec httpd -f -p 80 -h /www'
    networks:
      v6:
        ipv6_address: fd00:6::50
  client6:
    image: it/busybox
    command: sleep 1000
    init: true
    networks: [v6]
  plain:                       # IPv4 only, published on every address
    image: it/busybox
    command: sh -c 'mkdir -p /www && echo plain > /www/index.html && exec httpd -f -p 80 -h /www'
    ports: ["18091:80"]
networks:
  v6:
    enable_ipv6: true
    ipam:
      config:
        - subnet: 172.29.0.0/24
        - subnet: fd00:6::/64
YAML

"$BERTH" up -d --wait >"$work/up.out" 2>&1 || { fail "up"; cat "$work/up.out"; }
x() { "$BERTH" exec -T "$@" 2>&1; }
fetch() {  # fetch URL [exec-prefix…]: the body, retrying for up to 5 s
    url=$1
    shift
    for _ in $(seq 50); do
        out=$("$@" timeout 5 wget -qO- "$url" 2>/dev/null) && { echo "$out"; return; }
        sleep 0.1
    done
}

host=$(x web6 ip -4 addr show eth0 | sed -n 's/.*inet 172\.29\.0\.\([0-9]*\)\/.*/\1/p')
contains "a derived IPv6 address (the IPv4 host number)" "inet6 fd00:6::$(printf %x "${host:-0}")/64" "$(x web6 ip -6 addr show eth0)"
contains "a static ipv6_address" "inet6 fd00:6::50/64" "$(x fixed ip -6 addr show eth0)"
contains "an IPv6 default route via the bridge" "default via fd00:6::1" "$(x client6 ip -6 route)"
br=$(ip -o -4 addr show | awk '/ 172\.29\.0\.1\// {print $2}')
contains "the bridge holds the IPv6 gateway" "fd00:6::1/64" "$(ip -6 addr show dev "${br:-none}")"
contains "inspect shows the IPv6 address" '"itsix_v6": "fd00:6::50"' "$("$BERTH" inspect fixed)"
contains "AAAA by service name" "Address: fd00:6::50" "$(x client6 nslookup fixed)"
contains "A by service name still" "Address: 172.29.0." "$(x client6 nslookup fixed)"
check "TCP over IPv6 between containers" "fixed" "$(fetch 'http://[fd00:6::50]/' x client6)"
check "IPv6 forwarding is on" 1 "$(cat /proc/sys/net/ipv6/conf/all/forwarding)"
contains "an ip6 table for the network" "table ip6 berth_" "$(nft list tables)"

# Published ports on IPv6: [::1] through the proxy; the bridge's address through the kernel (DNAT).
check "published port on [::1] (IPv6 container)" "web6 here" "$(fetch 'http://[::1]:18090/')"
check "published port on a host IPv6 address (DNAT)" "web6 here" "$(fetch 'http://[fd00:6::1]:18090/')"
check "published port on 127.0.0.1 still" "web6 here" "$(fetch 'http://127.0.0.1:18090/')"
contains "ps shows the port on IPv6 too" "0.0.0.0:18090->80/tcp, [::]:18090->80/tcp" "$("$BERTH" ps)"
check "berth port gives the IPv4 address first" "0.0.0.0:18090" "$("$BERTH" port web6 80)"
check "an IPv4-only container's port on [::1] (proxied to IPv4)" "plain" "$(fetch 'http://[::1]:18091/')"
"$BERTH" stop web6 >/dev/null 2>&1
out=$(timeout 5 wget -qO- 'http://[::1]:18090/' 2>&1; echo "rc=$?")
case "$out" in *"web6 here"*) fail "a stopped service's IPv6 port still answers" ;; *) ok "a stopped service's IPv6 port does not answer" ;; esac

# An IPv6 subnet without enable_ipv6: refused before anything starts, naming the fix.
mkdir -p "$work/bad" && cd "$work/bad"
cat > compose.yaml <<'YAML'
name: itbad6
services:
  a:
    image: it/busybox
    command: sleep 1000
    networks: [n]
networks:
  n:
    ipam:
      config: [{subnet: "fd00:7::/64"}]
YAML
out=$("$BERTH" up -d 2>&1; echo "rc=$?")
contains "an IPv6 subnet without enable_ipv6 is refused" "rc=1" "$out"
contains "… naming the network and the fix" "add \`enable_ipv6: true\`" "$out"
check "nothing of it runs" "" "$("$BERTH" ps -q)"
"$BERTH" down >/dev/null 2>&1
# Subnets come from BERTH_ADDRESS_POOLS when it is set; a bad value is refused with the fix.
sed -i 's/fd00:7::\/64/172.31.250.0\/24/' compose.yaml
out=$(BERTH_ADDRESS_POOLS=10.213.0.0/16 "$BERTH" up -d 2>&1; echo "rc=$?")
contains "a bad BERTH_ADDRESS_POOLS is refused" "BERTH_ADDRESS_POOLS: address pool \"10.213.0.0/16\": no subnet size" "$out"
"$BERTH" down >/dev/null 2>&1
cat > compose.yaml <<'YAML'
name: itbad6
services:
  a:
    image: it/busybox
    command: sleep 1000
    init: true
YAML
BERTH_ADDRESS_POOLS=10.213.0.0/16:24 "$BERTH" up -d >/dev/null 2>&1 || fail "up with BERTH_ADDRESS_POOLS"
contains "the default network's subnet comes from BERTH_ADDRESS_POOLS" "inet 10.213.0." "$(x a ip -4 addr show eth0)"
"$BERTH" down >/dev/null 2>&1
cd "$work/stack"

"$BERTH" down >/dev/null 2>&1 || fail "down"
check "no berth links left" "" "$(ip -o link | grep -E 'berth-|veth')"
check "no nft tables left" "" "$(nft list tables | grep berth_)"
check "IPv6 forwarding switched back off" 0 "$(cat /proc/sys/net/ipv6/conf/all/forwarding)"
check "IPv4 forwarding switched back off" 0 "$(cat /proc/sys/net/ipv4/ip_forward)"
check_no_leaks itsix
finish
