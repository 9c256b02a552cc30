#!/bin/sh
# Sets up a fresh Debian 12 machine (as root), builds berth, and brings the
# main example stack (examples/hello) up: a web server that waits for a
# healthy store on a named volume. Stop it with: ./build/berth -f examples/hello/compose.yaml down
set -eu
cd "$(dirname "$0")/.."
./scripts/setup.sh
./scripts/build.sh
berth=./build/berth
stack="-f examples/hello/compose.yaml"
./examples/hello/make-image.sh "$berth"
$berth $stack down >/dev/null 2>&1 || true   # a stack left from an earlier run
echo "== berth up -d"
$berth $stack up -d
echo "== berth ps"
$berth $stack ps
echo "== the store's volume, the web server by name from the store, and its published port"
$berth $stack run --rm -T store cat /data/state
$berth $stack exec -T store wget -qO- http://web:8080/
timeout 5 wget -qO- "http://127.0.0.1:${WEB_PORT:-8080}/" || echo "(port ${WEB_PORT:-8080} did not answer)"
tail -n 3 "${BERTH_ROOT:-/var/lib/berth}/containers/hello-web-1/hello-web-1-json.log"
echo "== stop it with: $berth $stack down"
