#!/bin/sh
# make-oci-layout.sh DIR TAG ARCH LABEL LAYER.tar...: adds to the OCI image layout DIR (made if
# new) an image for linux/ARCH with gzip layers from the given tars, a config with label
# berth.test=LABEL, named TAG in DIR/index.json. Prints the manifest's digest and size.
# With MULTI=1 in the environment the image is not named: DIR/index.json is left alone; with
# BAD_DIFF_ID=1 the config names wrong diff_ids.
set -eu
dir=$1 tag=$2 arch=$3 label=$4
shift 4
mkdir -p "$dir/blobs/sha256"
[ -f "$dir/oci-layout" ] || printf '{"imageLayoutVersion":"1.0.0"}' > "$dir/oci-layout"
put() {  # put FILE: moves FILE into blobs, prints "HEX SIZE"
    h=$(sha256sum < "$1" | cut -d' ' -f1)
    s=$(stat -c %s "$1")
    mv "$1" "$dir/blobs/sha256/$h"
    echo "$h $s"
}
diffs="" layers=""
for t in "$@"; do
    d=$(sha256sum < "$t" | cut -d' ' -f1)
    [ "${BAD_DIFF_ID:-0}" = 1 ] && d=$(echo "$d" | sha256sum | cut -d' ' -f1)  # a config that lies
    gzip -n -1 -c "$t" > "$dir/tmp.gz"
    set -- $(put "$dir/tmp.gz")
    diffs="$diffs${diffs:+,}\"sha256:$d\""
    layers="$layers${layers:+,}{\"mediaType\":\"application/vnd.oci.image.layer.v1.tar+gzip\",\"digest\":\"sha256:$1\",\"size\":$2}"
done
printf '{"architecture":"%s","os":"linux","config":{"Cmd":["sh"],"Labels":{"berth.test":"%s"}},"rootfs":{"type":"layers","diff_ids":[%s]}}' \
    "$arch" "$label" "$diffs" > "$dir/tmp.json"
set -- $(put "$dir/tmp.json")
printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:%s","size":%s},"layers":[%s]}' \
    "$1" "$2" "$layers" > "$dir/tmp.json"
set -- $(put "$dir/tmp.json")
if [ "${MULTI:-0}" != 1 ]; then
    printf '{"schemaVersion":2,"manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:%s","size":%s,"annotations":{"org.opencontainers.image.ref.name":"%s"}}]}' \
        "$1" "$2" "$tag" > "$dir/index.json"
fi
echo "$1 $2"
