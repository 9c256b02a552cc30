#!/bin/sh
# Makes the shop example's image offline from Debian's busybox-static and imports
# it as berth-example/busybox. Usage: make-image.sh [BERTH_BINARY]
set -eu
berth=${1:-berth}
here=$(cd "$(dirname "$0")" && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
"$here/../../tests/integration/lib/make-busybox-rootfs.sh" "$tmp/busybox.tar.gz"
"$berth" image import "$tmp/busybox.tar.gz" berth-example/busybox
