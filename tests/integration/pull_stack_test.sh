#!/bin/sh
# A compose stack of 10 services over 3 images that share a base layer comes up with
# `berth up -d` from an empty store: each image pulled once, each blob fetched once (the shared
# base layer included: counted in a proxy's log), the three images' own layers fetched at once
# (the proxy holds each of them until all three were asked for: pulling one image after the
# other would wait 20 s there); then `berth down` leaves nothing behind.
. "$(dirname "$0")/lib/common.sh"
. "$here/lib/registry.sh"
registry_setup docker-registry skopeo python3 curl
pport=$((port + 1))
preg="127.0.0.1:$pport"
start_registry plain "$port"

# Three images: busybox plus a layer of its own each.
"$here/lib/make-busybox-rootfs.sh" "$work/bb.tar"
extras=""
for n in a b c; do
    mkdir -p "$work/x$n/srv" && echo "image $n" > "$work/x$n/srv/name"
    head -c 300000 /dev/urandom > "$work/x$n/srv/data"
    tar --sort=name --mtime=@0 --owner=0 --group=0 -C "$work/x$n" -cf "$work/x$n.tar" .
    "$here/lib/make-oci-layout.sh" "$work/img$n" 1 amd64 "$n" "$work/bb.tar" "$work/x$n.tar" > /dev/null
    skopeo copy -q --dest-tls-verify=false "oci:$work/img$n:1" "docker://$reg/stack-$n:1" > "$work/skopeo.log" 2>&1 ||
        fail "skopeo copy $n: $(cat "$work/skopeo.log")"
    extras="$extras sha256:$(gzip -n -1 -c "$work/x$n.tar" | sha256sum | cut -d' ' -f1)"
done
base="sha256:$(gzip -n -1 -c "$work/bb.tar" | sha256sum | cut -d' ' -f1)"

# berth talks to the registry through the counting proxy.
# shellcheck disable=SC2086
python3 "$here/lib/cut_proxy.py" "$pport" "$reg" 999999999 "$work/proxy.log" $extras &
pids="$pids $!"
until curl -s -o /dev/null "http://$preg/v2/"; do sleep 0.1; done
: > "$work/proxy.log"
export BERTH_INSECURE_REGISTRIES="$preg"

mkdir -p "$work/registry-stack"
{
    echo "services:"
    i=0
    for n in a b c a b c a b c a; do
        i=$((i + 1))
        printf '  s%d:\n    image: %s/stack-%s:1\n    command: ["sleep", "60"]\n' "$i" "$preg" "$n"
    done
} > "$work/registry-stack/compose.yaml"
cd "$work/registry-stack"
out=$("$BERTH" up -d 2>&1)
check "up -d of 10 services from an empty store" 0 $?
check "10 containers running" 10 "$("$BERTH" ps -q | wc -l)"
check "3 images in the store" 3 "$("$BERTH" image ls -q | wc -l)"
log=$(cat "$work/proxy.log")
check "no image was pulled after another (the proxy's barrier)" 0 "$(echo "$log" | grep -c 'barrier timeout')"
check "the shared base layer fetched once" 1 "$(echo "$log" | grep -c "GET /v2/.*/blobs/$base ")"
for d in $extras; do
    check "image layer ${d#sha256:} fetched once" 1 "$(echo "$log" | grep -c "GET /v2/.*/blobs/$d ")"
done
check "7 blob GETs in all (3 configs, the base, 3 own layers)" 7 "$(echo "$log" | grep -c 'GET /v2/.*/blobs/')"
check "each image's manifest asked for once" 3 "$(echo "$log" | grep -c 'GET /v2/.*/manifests/')"
contains "up said it pulled" "Pulled" "$out"
contains "a service runs its image's layer" "image b" "$("$BERTH" exec s2 cat /srv/name 2>&1)"

out=$("$BERTH" down -t 1 2>&1)
check "down" 0 $?
check "no container left" 0 "$("$BERTH" ps -aq | wc -l)"
cd "$work"
finish
