#!/bin/sh
# Sets up a fresh Debian 12 machine (as root), builds berth, and runs the main
# example stack (examples/hello). Until `berth up` lands, it shows the resolved
# project and runs one container of each service with `berth run`.
set -eu
cd "$(dirname "$0")/.."
./scripts/setup.sh
./scripts/build.sh
echo "== berth config (examples/hello)"
./build/berth -f examples/hello/compose.yaml config
echo "== the example image, from Debian's busybox-static"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
./tests/integration/lib/make-busybox-rootfs.sh "$tmp/busybox.tar.gz"
./build/berth image import "$tmp/busybox.tar.gz" berth-example/busybox
./build/berth image ls
echo "== berth run store (its own namespaces, cgroup limits, overlay root)"
./build/berth -f examples/hello/compose.yaml run --rm -T store \
    sh -c 'echo "hostname: $(hostname)"; echo "processes: $(ls /proc | grep -c "^[0-9]")"; grep CapEff /proc/self/status; cat /sys/fs/cgroup/memory.max 2>/dev/null || true; echo ready > /data/state; cat /data/state'
