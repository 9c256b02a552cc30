#!/bin/sh
# pull_bench.sh BERTH: the time to pull an image of several layers (LAYERS × MB MiB of random
# data, default 4 × 16) from Debian's docker-registry on loopback into an empty store, beside
# `skopeo copy` of the same image to a local OCI directory and `curl` of the same blobs, in one
# run; RUNS runs each (default 5), taking turns. Prints the median and best seconds, MiB/s, and
# berth's time as a share of skopeo's and its throughput as a share of curl's (goals: <= 1, >= 0.8).
# curl only downloads while berth also digests, decompresses and extracts every layer, so a
# fourth line does that same work with shell tools (curl | tee BLOB | tar -xz), and berth's
# throughput is also given as a share of that. Then (unless PUSH=0) the push of the same image
# to a new repository each run (nothing to skip or mount) by `berth image push` beside
# `skopeo copy` of its OCI layout.
# Run as root: it makes its own network namespace and leaves nothing.
set -eu
if [ "${BERTH_BENCH_INNER:-}" != 1 ]; then
    exec unshare --mount --net --propagation private env BERTH_BENCH_INNER=1 sh "$0" "$@"
fi
berth=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
here=$(cd "$(dirname "$0")" && pwd)
layers=${LAYERS:-4} mb=${MB:-16} runs=${RUNS:-5}
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
# Each run pulls into a new, empty target; they are all removed at the end, not between runs:
# on an ext4 without a journal (this project's machines) an inode allocated within seconds
# of many deletions scans past every recently deleted inode, so removing the last run's
# extracted layers (hundreds of files) just before the next would slow the next run's
# extraction by up to half a second, which no real pull meets.
fresh() { mktemp -d "$work/t.XXXXXX"; }
timed() {  # timed COMMAND...: seconds
    t0=$(now)
    "$@" > /dev/null 2>&1 || { echo "$* failed" >&2; exit 1; }
    echo "$(now) - $t0" | bc
}
berth_pull() { BERTH_ROOT=$1 "$berth" image pull -q "$reg/bench:1"; }
skopeo_pull() { skopeo copy -q --src-tls-verify=false "docker://$reg/bench:1" "oci:$1:1"; }
curl_all() {  # waits for its curls only (a bare `wait` would wait for the registry too)
    pids=""
    for d in $blobs; do
        curl -s -o "$1/${d#sha256:}" "http://$reg/v2/bench/blobs/$d" &
        pids="$pids $!"
    done
    for p in $pids; do wait "$p" || return 1; done
}
# The same work as berth's pull with shell tools: each blob downloaded and written, each
# layer also gunzipped and untarred into a directory of its own, all in parallel (berth also
# checks two digests per layer and syncs its blobs, which this does not). berth extracts
# every layer, so curl alone (download only) is not like-for-like: this is.
layer_blobs=${blobs#* }
curl_extract_all() {
    pids=""
    for d in $blobs; do
        h=${d#sha256:}
        case " $layer_blobs " in
        *" $d "*)
            mkdir "$1/x$h"
            curl -s "http://$reg/v2/bench/blobs/$d" | tee "$1/$h" | tar -xzf - -C "$1/x$h" &
            ;;
        *) curl -s -o "$1/$h" "http://$reg/v2/bench/blobs/$d" & ;;
        esac
        pids="$pids $!"
    done
    for p in $pids; do wait "$p" || return 1; done
}
export BERTH_RUNTIME_DIR="$work/run" BERTH_INSECURE_REGISTRIES=$reg
# The three take turns, run after run, so a change in the machine's load hits them alike.
: > "$work/berth.t"; : > "$work/skopeo.t"; : > "$work/curl.t"; : > "$work/curlx.t"
r=0
while [ $r -lt "$runs" ]; do
    timed berth_pull "$(fresh)" >> "$work/berth.t"
    timed skopeo_pull "$(fresh)" >> "$work/skopeo.t"
    timed curl_all "$(fresh)" >> "$work/curl.t"
    timed curl_extract_all "$(fresh)" >> "$work/curlx.t"
    r=$((r + 1))
done
median() { sort -n "$1" | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
best_of() { sort -n "$1" | head -1; }
mbs() { echo "scale=1; $bytes / 1048576 / $1" | bc; }
echo "image: $((layers + 1)) layers, $(echo "scale=1; $bytes / 1048576" | bc) MiB of blobs (random data, gzip), loopback registry; $runs runs each, taking turns"
printf '%-46s %10s %10s %9s\n' "" "median s" "best s" "MiB/s"
for k in berth skopeo curl curlx; do
    case $k in
    berth) label="berth image pull (download + verify + extract)" ;;
    skopeo) label="skopeo copy to an OCI dir (download + verify)" ;;
    curl) label="curl of the same blobs, in parallel" ;;
    curlx) label="curl | tee | tar -xz, in parallel (same work)" ;;
    esac
    m=$(median "$work/$k.t")
    printf '%-46s %10.3f %10.3f %9s\n' "$label" "$m" "$(best_of "$work/$k.t")" "$(mbs "$m")"
done
mb=$(median "$work/berth.t") ms=$(median "$work/skopeo.t") mc=$(median "$work/curl.t") mx=$(median "$work/curlx.t")
echo "medians: berth / skopeo time: $(echo "scale=2; $mb / $ms" | bc) (goal <= 1)   berth throughput / curl's: $(echo "scale=2; $mc / $mb" | bc) (goal >= 0.8; curl only downloads)"
echo "         berth throughput / curl | tee | tar -xz's (the same work): $(echo "scale=2; $mx / $mb" | bc)"

[ "${PUSH:-1}" = 1 ] || exit 0

best() {  # best NAME COMMAND...: the fastest of RUNS runs
    name=$1
    shift
    b=""
    r=0
    while [ $r -lt "$runs" ]; do
        t0=$(now)
        "$@" > /dev/null 2>&1 || { echo "$name failed" >&2; exit 1; }
        t=$(echo "$(now) - $t0" | bc)
        if [ -z "$b" ] || [ "$(echo "$t < $b" | bc)" = 1 ]; then b=$t; fi
        r=$((r + 1))
    done
    echo "$b"
}

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
