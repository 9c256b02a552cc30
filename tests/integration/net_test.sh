#!/bin/sh
# Networking end to end, in this test's private network namespace: names over
# TCP and UDP, aliases and replicas, links, published ports (TCP and UDP) from
# the host side, a port conflict, isolation between networks, an internal
# network with no way out, and nothing left after `down` (nor after a killed
# supervisor).
. "$(dirname "$0")/lib/common.sh"

ip link set lo up
gcc -static -O2 -o "$work/udp_echo" "$here/lib/udp_echo.c" || { fail "build udp_echo"; finish; exit 1; }
"$here/lib/make-busybox-rootfs.sh" "$work/busybox.tar" "$work/udp_echo"
"$BERTH" image import "$work/busybox.tar" it/busybox >/dev/null
mkdir -p "$work/stack" && cd "$work/stack"
cat > compose.yaml <<'YAML'
name: itnet
services:
  web:
    image: it/busybox
    command: sh -c 'mkdir -p /www && echo "hello from $$(hostname)" > /www/index.html && exec httpd -f -p 80 -h /www'
    ports: ["127.0.0.1:18080:80", "18081-18083:80"]
    networks:
      default:
        aliases: [www, frontdoor]
      back:
  udp:
    image: it/busybox
    command: ["udp_echo", "serve", "9000"]
    ports: ["19000:9000/udp"]
  api:
    image: it/busybox
    command: sh -c 'mkdir -p /www && hostname > /www/index.html && exec httpd -f -p 80 -h /www'
    deploy: {replicas: 2}
  client:
    image: it/busybox
    command: sleep 1000
    init: true
    links: ["web:legacy"]
    extra_hosts: ["somehost=10.9.8.7"]
    dns_search: [example.test]
  lonely:                      # only on "back": must not reach the default network
    image: it/busybox
    command: sleep 1000
    init: true
    networks: [back]
  vault:                       # internal network: no route out
    image: it/busybox
    command: sh -c 'mkdir -p /www && echo vault > /www/index.html && exec httpd -f -p 80 -h /www'
    networks:
      sealed:
        ipv4_address: 10.77.0.50
  vaultclient:
    image: it/busybox
    command: sleep 1000
    init: true
    networks: [sealed]
  sidecar:
    image: it/busybox
    command: sleep 1000
    init: true
    network_mode: service:client
networks:
  default:                     # bridges with names of their own: isolation must not depend on berth's names
    driver_opts: {com.docker.network.bridge.name: itdef0}
  back:
    driver_opts: {com.docker.network.driver.mtu: "1400", com.docker.network.bridge.name: itback0}
  sealed:
    internal: true
    ipam:
      config: [{subnet: 10.77.0.0/24}]
YAML

"$BERTH" up -d --wait >"$work/up.out" 2>&1 || { fail "up"; cat "$work/up.out"; }
x() { "$BERTH" exec -T "$@" 2>&1; }
# fetch URL: its body, retrying for up to 5 s (a just-started server may not listen yet).
fetch() {
    for _ in $(seq 50); do
        out=$(timeout 5 wget -qO- "$1" 2>/dev/null) && { echo "$out"; return; }
        sleep 0.1
    done
}

# The servers start listening a moment after their containers run: wait for them (5 s at most).
for svc in web api; do
    for _ in $(seq 50); do x client timeout 2 wget -qO- "http://$svc/" >/dev/null 2>&1 && break; sleep 0.1; done
done

# Names: service, alias, link alias, container name, replicas (both), /etc/hosts.
# (client has a dns_search domain the test namespace cannot resolve: plain lookups go through web.)
check "TCP by service name" "hello from itnet-web-1" "$(x client timeout 5 wget -qO- http://web/)"
check "TCP by alias" "hello from itnet-web-1" "$(x client timeout 5 wget -qO- http://frontdoor/)"
check "TCP by link alias" "hello from itnet-web-1" "$(x client timeout 5 wget -qO- http://legacy/)"
check "TCP by container name" "hello from itnet-web-1" "$(x client timeout 5 wget -qO- http://itnet-web-1/)"
replicas=$(x web nslookup api | grep -c '^Address: 172\.')
check "a service with 2 replicas resolves to both" 2 "$replicas"
both=$(for i in 1 2 3 4 5 6 7 8; do x client timeout 5 wget -qO- "http://itnet-api-$((i % 2 + 1))/"; done | sort -u | tr '\n' ' ')
check "each replica answers by its name" "itnet-api-1 itnet-api-2 " "$both"
contains "extra_hosts in /etc/hosts" "10.9.8.7	somehost" "$(x client cat /etc/hosts)"
contains "resolv.conf points at the embedded DNS" "nameserver 127.0.0.11" "$(x client cat /etc/resolv.conf)"
contains "dns_search kept" "search example.test" "$(x client cat /etc/resolv.conf)"
udp_ip=$(x web nslookup udp | awk '/^Address: 172\./ {print $2}')
check "UDP by name" "echo:ping" "$(x client udp_echo ask "$udp_ip" 9000 ping)"
check "network_mode service: shares the namespace" "hello from itnet-web-1" "$(x sidecar timeout 5 wget -qO- http://web/)"
check "MTU from driver_opts" 1400 "$(x lonely cat /sys/class/net/eth0/mtu)"
contains "bridge name from driver_opts" "itback0" "$(ip -o link show type bridge)"

# Published ports, seen from the host side (this test's namespace).
check "published TCP port answers on the host" "hello from itnet-web-1" "$(timeout 5 wget -qO- http://127.0.0.1:18080/)"
check "published port from a range" "hello from itnet-web-1" "$(timeout 5 wget -qO- http://127.0.0.1:18081/)"
check "published UDP port answers" "echo:hi" "$("$work/udp_echo" ask 127.0.0.1 19000 hi)"
check "berth port" "127.0.0.1:18080" "$("$BERTH" port web 80)"
contains "the kernel forwards published ports (DNAT table)" "_p" "$(nft list tables | grep berth_)"
"$BERTH" stop web >/dev/null 2>&1
out=$(timeout 5 wget -qO- http://127.0.0.1:18080/ 2>&1; echo "rc=$?")
case "$out" in *"hello from"*) fail "a stopped service's port still answers" ;; *) ok "a stopped service's port does not answer" ;; esac
"$BERTH" start web >/dev/null 2>&1
check "the port answers again after start" "hello from itnet-web-1" "$(fetch http://127.0.0.1:18080/)"
contains "ps shows the ports" "127.0.0.1:18080->80/tcp" "$("$BERTH" ps)"

# A one-off container joins the stack's network and finds its services.
check "run joins the project network" "hello from itnet-web-1" "$("$BERTH" run --rm -T client timeout 5 wget -qO- http://web/ 2>"$work/run.err")"
contains "… and says its dependency runs, on stderr" "itnet-web-1  Running" "$(cat "$work/run.err")"
# Two one-off containers at once: addresses of their own, and the stack resolves their names.
"$BERTH" run -d --rm --name itnet-once1 client sleep 30 >/dev/null 2>&1 || fail "run -d once1"
"$BERTH" run -d --rm --name itnet-once2 client sleep 30 >/dev/null 2>&1 || fail "run -d once2"
a1=$(x web nslookup itnet-once1 | awk '/^Address: 172\./ {print $2}')
a2=$(x web nslookup itnet-once2 | awk '/^Address: 172\./ {print $2}')
case "$a1" in 172.*) ok "the stack resolves a one-off container's name" ;; *) fail "one-off name not resolved: [$a1]" ;; esac
[ -n "$a1" ] && [ "$a1" != "$a2" ] && ok "two one-off containers get different addresses" || fail "one-off addresses: [$a1] [$a2]"
check "the one-off answers at its address" 0 "$(x client ping -c1 -W2 "${a1:-0.0.0.0}" >/dev/null 2>&1; echo $?)"
"$BERTH" run -T --name itnet-kept client true >/dev/null 2>&1 || fail "run without --rm"
check "a one-off without --rm keeps its files" 1 "$(ls "$BERTH_ROOT/containers" | grep -c '^itnet-kept$')"
for n in itnet-once1 itnet-once2; do
    pid=$(sed -n 's/.*"pid": *\([0-9]*\).*/\1/p' "$BERTH_RUNTIME_DIR/itnet/runs/containers/$n.json")
    [ -n "$pid" ] && kill -9 "$pid"
done

# Isolation: lonely (back only) cannot reach api's server (default only), though the
# host forwards and lonely's default route leads there; web (on both) can.
api_ip=$(x web nslookup itnet-api-1 | awk '/^Address: 172\./ {print $2}')
check "api serves on the default network (the control)" itnet-api-1 "$(x client timeout 5 wget -qO- "http://$api_ip/")"
out=$(x lonely timeout 3 wget -qO- "http://$api_ip/" 2>&1; echo "rc=$?")
case "$out" in *itnet-api-1*) fail "isolated networks: lonely reached $api_ip" ;; *) ok "isolated networks stay isolated" ;; esac
case "$(x lonely nslookup client 2>&1)" in *"Address: 172."*) fail "lonely resolves client across networks" ;; *) ok "names of other networks do not resolve" ;; esac
check "a container on both networks reaches each" "hello from itnet-web-1" "$(x lonely timeout 5 wget -qO- http://web/)"
check "forwarding is on (outbound access)" 1 "$(cat /proc/sys/net/ipv4/ip_forward)"

# Internal: static address honoured, reachable inside, no default route out.
check "static ipv4_address" vault "$(x vaultclient timeout 5 wget -qO- http://10.77.0.50/)"
check "internal network has no default route" "" "$(x vaultclient ip route | grep default)"
web_ip=$(x client nslookup web | awk '/^Address: 172\./ {print $2}')
out=$(x vaultclient timeout 3 wget -qO- "http://$web_ip/" 2>&1; echo "rc=$?")
case "$out" in *rc=0*) fail "internal network reached $web_ip" ;; *) ok "internal network has no way out" ;; esac

# A port conflict: a second project wants 18080 on 127.0.0.1; nothing of it starts.
mkdir -p "$work/other" && cd "$work/other"
cat > compose.yaml <<'YAML'
name: itclash
services:
  early:
    image: it/busybox
    command: sleep 1000
  web:
    image: it/busybox
    command: sleep 1000
    ports: ["127.0.0.1:18080:80"]
YAML
bridges=$(ip -o link show type bridge | grep -c berth-)
out=$("$BERTH" up -d 2>&1; echo "rc=$?")
contains "port conflict is refused" "rc=1" "$out"
contains "port conflict names the port and service" 'service "web": port 127.0.0.1:18080/tcp is already in use' "$out"
check "nothing of the refused project runs" "" "$("$BERTH" ps -q)"
check "no bridge made for the refused project" "$bridges" "$(ip -o link show type bridge | grep -c berth-)"
"$BERTH" down >/dev/null 2>&1
# A host address this host does not have: said so, not "in use".
sed -i 's/127.0.0.1:18080:80/10.123.45.67:18080:80/' compose.yaml
out=$("$BERTH" up -d 2>&1; echo "rc=$?")
contains "a foreign host address is refused" "rc=1" "$out"
contains "… as not an address of this host" "10.123.45.67 is not an address of this host" "$out"
"$BERTH" down >/dev/null 2>&1
cd "$work/stack"

# Down: no link, bridge, nft table of berth's, and forwarding switched back off.
"$BERTH" down >/dev/null 2>&1 || fail "down"
check "no berth links left" "" "$(ip -o link | grep -E 'berth-|veth|itback0|itdef0')"
check "no nft tables left" "" "$(nft list tables | grep berth_)"
check "forwarding switched back off" 0 "$(cat /proc/sys/net/ipv4/ip_forward)"
check_no_leaks itnet

# A supervisor killed with SIGKILL: the next `down` still removes everything.
"$BERTH" up -d web client >/dev/null 2>&1 || fail "up again"
for _ in $(seq 50); do x client timeout 2 wget -qO- http://web/ >/dev/null 2>&1 && break; sleep 0.1; done
check "addresses are stable across up/down" "$web_ip" "$(x client nslookup web | awk '/^Address: 172\./ {print $2}')"
sup=$(sed -n 's/.*"supervisor": *\([0-9]*\).*/\1/p' "$BERTH_RUNTIME_DIR/itnet/project.json")
[ -n "$sup" ] && kill -9 "$sup"
sleep 0.2
# The next `up` adopts what the killed one left: the stack runs again, its port answers.
"$BERTH" up -d web client >/dev/null 2>&1 || fail "up after a killed supervisor"
check "up after a killed supervisor: the port answers" "hello from itnet-web-1" "$(fetch http://127.0.0.1:18080/)"
check "… with one port table for the one publishing container" 1 "$(nft list tables | grep -c 'berth_.*_p')"
sup=$(sed -n 's/.*"supervisor": *\([0-9]*\).*/\1/p' "$BERTH_RUNTIME_DIR/itnet/project.json")
[ -n "$sup" ] && kill -9 "$sup"
sleep 0.2
(cd / && "$BERTH" -p itnet down >/dev/null 2>&1) || fail "down -p after a killed supervisor, away from the compose file"
check "no berth links after a crash" "" "$(ip -o link | grep -E 'berth-|veth')"
check "no nft tables after a crash" "" "$(nft list tables | grep berth_)"
check_no_leaks itnet
finish
