#!/bin/sh
# Installs every Debian 12 package berth's build, tests and examples need.
# Safe to run again: apt-get skips what is already installed.
set -eu
if [ "$(id -u)" != 0 ]; then
    echo "setup.sh: run as root (it installs Debian packages with apt-get)" >&2
    exit 1
fi
PKGS="build-essential cmake pkg-config git
  libyaml-cpp-dev libuv1-dev libnl-3-dev libnl-route-3-dev nlohmann-json3-dev
  libspdlog-dev libfmt-dev doctest-dev libvalijson-dev libcli11-dev libarchive-dev
  libcurl4-openssl-dev libseccomp-dev libssl-dev libsystemd-dev
  libzstd-dev liblz4-dev libacl1-dev libbz2-dev liblzma-dev zlib1g-dev nettle-dev
  clang libclang-rt-14-dev
  busybox-static iproute2 util-linux mount procps python3 crun nftables wget hyperfine time
  docker-registry skopeo apache2-utils openssl curl buildah jq
  dpkg-dev file lintian man-db groff-base ccache"
missing=""
for p in $PKGS; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing="$missing $p"
done
if [ -n "$missing" ]; then
    echo "setup.sh: installing:$missing"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    # shellcheck disable=SC2086
    apt-get install -y -qq --no-install-recommends $missing >/dev/null
fi
