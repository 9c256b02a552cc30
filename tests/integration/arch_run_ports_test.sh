#!/bin/sh
# branch arch (issue 12): `berth run` is a client of the supervisor's launch path (supervisor/launch.h):
# -p/--publish and --service-ports work before anything made the project's network (run makes it, as
# `up` would), and a one-off is plugged into its networks in the brief's order (`priority` first: eth0
# and the default route), as a unit of the stack is.
. "$(dirname "$0")/lib/common.sh"

ip link set lo up
"$here/lib/make-busybox-rootfs.sh" "$work/busybox.tar.gz"
"$BERTH" image import "$work/busybox.tar.gz" arch/busybox >/dev/null
mkdir -p "$work/p/www"
echo hello-from-arch > "$work/p/www/index.html"
cat > "$work/p/compose.yaml" <<'YAML'
services:
  web:
    image: arch/busybox
    ports: ["127.0.0.1:18092:80"]
    volumes: ["./www:/www"]
    networks:
      front: {}
      zback:
        priority: 100
networks:
  front:
    ipam: {config: [{subnet: 10.231.1.0/24}]}
  zback:
    ipam: {config: [{subnet: 10.231.2.0/24}]}
YAML
c="$BERTH -f $work/p/compose.yaml -p arch-runports"

# Nothing of the project exists yet: run -p makes its networks.
$c run -d --publish 127.0.0.1:18091:80 web httpd -f -p 80 -h /www >/dev/null 2>"$work/err1"
check "run -d --publish with no network yet" 0 $?
[ -s "$work/err1" ] && cat "$work/err1"
sleep 0.5
contains "the ad-hoc mapping answers" "hello-from-arch" "$(timeout 5 wget -qO- http://127.0.0.1:18091/ 2>&1)"
$c run -d --service-ports web httpd -f -p 80 -h /www >/dev/null 2>"$work/err2"
check "run -d --service-ports" 0 $?
[ -s "$work/err2" ] && cat "$work/err2"
sleep 0.5
contains "the service's own mapping answers" "hello-from-arch" "$(timeout 5 wget -qO- http://127.0.0.1:18092/ 2>&1)"

# priority: zback is eth0 and carries the default route, front is eth1.
out=$($c run --rm -T --no-deps web sh -c 'ip -4 -o addr show eth0; ip -4 -o addr show eth1; ip route show default' </dev/null 2>&1)
contains "eth0 is on the priority network" "eth0    inet 10.231.2." "$(echo "$out" | tr -s ' ' | sed 's/eth0 inet/eth0    inet/')"
contains "eth1 is on the other network" "10.231.1." "$(echo "$out" | grep eth1)"
contains "the default route goes through eth0" "via 10.231.2.1 dev eth0" "$out"

# A host port a process listens on fails before anything starts, naming the port; so does a range.
busybox httpd -f -p 127.0.0.1:18095 -h "$work/p/www" &
listener=$!
sleep 0.3
out=$($c run --rm -T -p 127.0.0.1:18095:80 web true </dev/null 2>&1)
check "a taken port fails run" 1 $?
contains "the error names the port" "publish port 18095:80" "$out"
kill "$listener"; wait "$listener" 2>/dev/null
out=$($c run --rm -T -p 18100-18101:80 web true </dev/null 2>&1)
check "a range fails run" 1 $?
contains "the error says why" "fixed host ports only" "$out"
n=$(ls "$BERTH_RUNTIME_DIR/arch-runports/runs/containers" | wc -l)
check "the failed runs left no record (the two detached one-offs only)" 2 "$n"
$c down >/dev/null 2>&1
check_no_leaks arch-runports-
finish
