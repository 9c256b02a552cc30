#!/bin/sh
# demo.sh BERTH: brings the shop up (building the images that are missing: the examples' base
# image from busybox-static, then one per service from ./Dockerfile), sends one order through
# the gateway's published port, prints what each service did, shows the stack (audit restarted
# once after its crash), and brings it down. SHOP_PORT overrides the port (default 8088). KEEP=1
# leaves it up.
set -eu
berth=${1:-berth}
here=$(cd "$(dirname "$0")" && pwd)
stack="-f $here/compose.yaml"
port=${SHOP_PORT:-8088}
$berth $stack down >/dev/null 2>&1 || true   # a stack left from an earlier run
echo "== berth up --wait   (builds the images that are missing; returns once every service is healthy)"
$berth $stack up --wait --wait-timeout 60
echo "== one request through the gateway: wget -qO- http://127.0.0.1:$port/cgi-bin/order?item=teapot"
timeout 15 wget -qO- "http://127.0.0.1:$port/cgi-bin/order?item=teapot"
echo "== berth ps"
$berth $stack ps
echo "== berth logs audit worker"
$berth $stack logs audit worker
if [ "${KEEP:-0}" = 1 ]; then
    echo "== left up; stop it with: $berth $stack down"
else
    echo "== berth down"
    $berth $stack down
fi
