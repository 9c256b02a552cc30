#!/bin/sh
# pull_bench.sh BERTH: the time to pull an image of several layers (LAYERS × MB MiB of random
# data, default 4 × 16) from Debian's docker-registry on loopback into an empty store, beside
# `skopeo copy` of the same image to a local OCI directory and `curl` of the same blobs, in one
# run; RUNS runs each (default 3), best of them. Prints seconds and MB/s, and berth's throughput
# as a share of curl's. Then the push of the same image to a new repository each run (nothing
# to skip or mount) by `berth image push` beside `skopeo copy` of its OCI layout.
# Run as root: it makes its own network namespace and leaves nothing.
set -eu
if [ "${BERTH_BENCH_INNER:-}" != 1 ]; then
    exec unshare --mount --net --propagation private env BERTH_BENCH_INNER=1 sh "$0" "$@"
fi
berth=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
here=$(cd "$(dirname "$0")" && pwd)
layers=${LAYERS:-4} mb=${MB:-16} runs=${RUNS:-3}
work=$(mktemp -d /tmp/berth-pullbench-XXXXXX)
ip link set lo up
port=5123
reg=127.0.0.1:$port
cleanup() {
    [ -n "${rpid:-}" ] && kill "$rpid" 2>/dev/null
    rm -rf "$work"
}
trap cleanup EXIT
cat > "$work/reg.yml" <<YAML
version: 0.1
log:
  level: error
storage:
  filesystem:
    rootdirectory: $work/storage
http:
  addr: $reg
YAML
docker-registry serve "$work/reg.yml" > "$work/reg.log" 2>&1 &
rpid=$!
until curl -s -o /dev/null "http://$reg/v2/"; do sleep 0.1; done

"$here/../tests/integration/lib/make-busybox-rootfs.sh" "$work/bb.tar"
tars="$work/bb.tar"
i=1
while [ $i -le "$layers" ]; do
    mkdir -p "$work/l$i"
    head -c $((mb * 1048576)) /dev/urandom > "$work/l$i/data"
    tar -C "$work/l$i" -cf "$work/l$i.tar" .
    tars="$tars $work/l$i.tar"
    i=$((i + 1))
done
# shellcheck disable=SC2086
"$here/../tests/integration/lib/make-oci-layout.sh" "$work/layout" 1 amd64 bench $tars > /dev/null
skopeo copy -q --dest-tls-verify=false "oci:$work/layout:1" "docker://$reg/bench:1"
bytes=$(du -sb "$work/layout/blobs" | cut -f1)
blobs=$(curl -s -H 'Accept: application/vnd.oci.image.manifest.v1+json' "http://$reg/v2/bench/manifests/1" |
    python3 -c 'import json,sys; m=json.load(sys.stdin); print(" ".join([m["config"]["digest"]]+[l["digest"] for l in m["layers"]]))')

now() { date +%s.%N; }
best() {  # best NAME COMMAND...: the fastest of RUNS runs, after a fresh target each time
    name=$1
    shift
    b=""
    r=0
    while [ $r -lt "$runs" ]; do
        rm -rf "$work/target" "$work/root"
        mkdir -p "$work/target"
        t0=$(now)
        "$@" > /dev/null 2>&1 || { echo "$name failed" >&2; exit 1; }
        t=$(echo "$(now) - $t0" | bc)
        if [ -z "$b" ] || [ "$(echo "$t < $b" | bc)" = 1 ]; then b=$t; fi
        r=$((r + 1))
    done
    echo "$b"
}
curl_all() {
    for d in $blobs; do curl -s -o "$work/target/${d#sha256:}" "http://$reg/v2/bench/blobs/$d" & done
    wait
}
export BERTH_ROOT="$work/root" BERTH_RUNTIME_DIR="$work/run" BERTH_INSECURE_REGISTRIES=$reg
t_berth=$(best "berth pull" "$berth" image pull -q "$reg/bench:1")
t_skopeo=$(best "skopeo copy" skopeo copy -q --src-tls-verify=false "docker://$reg/bench:1" "oci:$work/target:1")
t_curl=$(best "curl" curl_all)
mbs() { echo "scale=1; $bytes / 1048576 / $1" | bc; }
echo "image: $((layers + 1)) layers, $(echo "scale=1; $bytes / 1048576" | bc) MiB of blobs (random data, gzip), loopback registry"
printf '%-44s %8ss %8s MiB/s\n' "berth image pull (download + verify + extract)" "$t_berth" "$(mbs "$t_berth")"
printf '%-44s %8ss %8s MiB/s\n' "skopeo copy to an OCI dir (download + verify)" "$t_skopeo" "$(mbs "$t_skopeo")"
printf '%-44s %8ss %8s MiB/s\n' "curl of the same blobs, in parallel" "$t_curl" "$(mbs "$t_curl")"
echo "berth / skopeo time: $(echo "scale=2; $t_berth / $t_skopeo" | bc)   berth throughput / curl's: $(echo "scale=2; $t_curl / $t_berth" | bc)"

# Push: from berth's store (blobs as pulled) and by skopeo from the layout, each run to a new
# repository; skopeo's blob cache (root's: /var/lib/containers/cache) is a tmpfs of this mount
# namespace, emptied before each run, so it cannot mount blobs from an earlier run either.
export BERTH_ROOT="$work/pushroot"
"$berth" image pull -q "$reg/bench:1" > /dev/null 2>&1
"$berth" image tag "$reg/bench:1" local/bench:1 && "$berth" image rm "$reg/bench:1" > /dev/null
n=0
push_berth() {
    n=$((n + 1))
    "$berth" image tag local/bench:1 "$reg/bp$n:1" && "$berth" image push -q "$reg/bp$n:1" && "$berth" image rm "$reg/bp$n:1"
}
cache=/var/lib/containers/cache
if [ -d $cache ]; then mount -t tmpfs berth-bench $cache; else cache=""; fi
push_skopeo() {
    n=$((n + 1))
    [ -z "$cache" ] || rm -f "$cache"/*
    skopeo copy -q --dest-tls-verify=false "oci:$work/layout:1" "docker://$reg/sp$n:1"
}
t_bpush=$(best "berth push" push_berth)
t_spush=$(best "skopeo push" push_skopeo)
printf '%-44s %8ss %8s MiB/s\n' "berth image push (to a new repository)" "$t_bpush" "$(mbs "$t_bpush")"
printf '%-44s %8ss %8s MiB/s\n' "skopeo copy of the OCI layout (same)" "$t_spush" "$(mbs "$t_spush")"
