#!/bin/sh
# Images from a real registry: Debian's docker-registry (the distribution registry) on loopback,
# plain, with TLS from a CA made here, and with htpasswd basic auth; images put there by skopeo
# from OCI layouts made here. Pull by tag and digest, a multi-platform index, zstd layers,
# pull_policy with up, a corrupt blob, concurrent pulls, kill -9 midway, login/logout.
. "$(dirname "$0")/lib/common.sh"
. "$here/lib/registry.sh"
registry_setup docker-registry skopeo htpasswd openssl curl
tport=$((port + 1))
treg="127.0.0.1:$tport"

push() {  # push LAYOUT:TAG NAME:TAG [skopeo options]
    src=$1 dst=$2
    shift 2
    skopeo copy -q --dest-tls-verify=false "$@" "oci:$work/$src" "docker://$reg/$dst" > "$work/skopeo.log" 2>&1 ||
        fail "skopeo copy $src: $(cat "$work/skopeo.log")"
}
layer_count() { find "$BERTH_ROOT/images/blobs/sha256" -type f | wc -l; }

start_registry plain "$port"

# Images: busybox; busybox + a second layer (sharing the first); a 2-platform index.
"$here/lib/make-busybox-rootfs.sh" "$work/bb.tar"
mkdir -p "$work/extra/srv" && echo second > "$work/extra/srv/second"
tar --sort=name --mtime=@0 --owner=0 --group=0 -C "$work/extra" -cf "$work/extra.tar" .
"$here/lib/make-oci-layout.sh" "$work/bb" 1 amd64 one "$work/bb.tar" > /dev/null
"$here/lib/make-oci-layout.sh" "$work/bb2" 1 amd64 two "$work/bb.tar" "$work/extra.tar" > /dev/null
host_arch=$(case $(uname -m) in x86_64) echo amd64 ;; aarch64) echo arm64 ;; *) uname -m ;; esac)
other_arch=$([ "$host_arch" = amd64 ] && echo arm64 || echo amd64)
set -- $(MULTI=1 "$here/lib/make-oci-layout.sh" "$work/multi" x "$host_arch" "for-$host_arch" "$work/bb.tar")
m1="$1 $2"
set -- $(MULTI=1 "$here/lib/make-oci-layout.sh" "$work/multi" x "$other_arch" "for-$other_arch" "$work/extra.tar")
m2="$1 $2"
variant() { [ "$1" = arm64 ] && echo ',"variant":"v8"'; }
printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:%s","size":%s,"platform":{"os":"linux","architecture":"%s"%s}},{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:%s","size":%s,"platform":{"os":"linux","architecture":"%s"%s}}]}' \
    ${m2% *} ${m2#* } "$other_arch" "$(variant "$other_arch")" ${m1% *} ${m1#* } "$host_arch" "$(variant "$host_arch")" > "$work/multi/idx"
ih=$(sha256sum < "$work/multi/idx" | cut -d' ' -f1)
isz=$(stat -c %s "$work/multi/idx")
mv "$work/multi/idx" "$work/multi/blobs/sha256/$ih"
printf '{"schemaVersion":2,"manifests":[{"mediaType":"application/vnd.oci.image.index.v1+json","digest":"sha256:%s","size":%s,"annotations":{"org.opencontainers.image.ref.name":"1"}}]}' \
    "$ih" "$isz" > "$work/multi/index.json"

push bb:1 bb:1
push bb2:1 bb2:1
push multi:1 multi:1 --all
# A layer no one pushed before (skopeo would reuse a gzip blob it knows of), sent as zstd.
head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' > "$work/zmark"
"$here/lib/make-busybox-rootfs.sh" "$work/zst.tar" "$work/zmark"
"$here/lib/make-oci-layout.sh" "$work/zst" 1 amd64 zstd "$work/zst.tar" > /dev/null
push zst:1 zst:1 --dest-compress --dest-compress-format zstd

# Plain HTTP is refused unless configured, loopback included.
out=$("$BERTH" image pull "$reg/bb:1" 2>&1)
check "plain HTTP registry refused without configuration" 1 $?
contains "the refusal says how to allow it" "insecure-registries" "$out"
export BERTH_INSECURE_REGISTRIES="$reg"

# By tag, then by digest (the tag's digest, from the registry).
out=$("$BERTH" image pull "$reg/bb:1" 2>&1)
check "pull by tag" 0 $?
contains "progress names the image" "$reg/bb:1  Pulled sha256:" "$out"
digest=$(curl -sI -H 'Accept: application/vnd.oci.image.manifest.v1+json' "http://$reg/v2/bb/manifests/1" |
    tr -d '\r' | sed -n 's/^[Dd]ocker-[Cc]ontent-[Dd]igest: //p')
contains "image inspect shows the registry's digest" "$digest" "$("$BERTH" image inspect "$reg/bb:1")"
out=$("$BERTH" image pull "$reg/bb:1" 2>&1)
contains "a second pull finds it up to date" "Up to date" "$out"
"$BERTH" image tag "$reg/bb:1" local/copy:2
check "image tag names the same image anew" "$("$BERTH" image inspect "$reg/bb:1" | grep '"Id"')" \
    "$("$BERTH" image inspect local/copy:2 | grep '"Id"')"
"$BERTH" image tag nosuch:1 x:1 2>/dev/null
check "image tag of an unknown image fails" 1 $?
out=$("$BERTH" image pull -q "$reg/bb@$digest" 2>&1)
check "pull by digest" "$reg/bb@$digest" "$out"
out=$("$BERTH" image pull -q "$reg/bb:1@$digest" 2>&1)
check "pull name:tag@digest" "$reg/bb:1@$digest" "$out"
bad="sha256:$(printf '%064d' 0)"
out=$("$BERTH" image pull "$reg/bb:1@$bad" 2>&1)
check "an unknown digest fails" 1 $?
contains "and names image and registry" "not found in registry $reg" "$out"
out=$("$BERTH" image pull "$reg/nosuch:1" 2>&1)
contains "an unknown image names itself" "image $reg/nosuch:1 not found in registry $reg" "$out"

# The host's platform from an index.
"$BERTH" image pull -q "$reg/multi:1" > /dev/null 2>&1
check "pull from a 2-platform index" 0 $?
contains "the host's platform was chosen" "\"berth.test\": \"for-$host_arch\"" "$("$BERTH" image inspect "$reg/multi:1")"
out=$("$BERTH" image pull --platform linux/s390x "$reg/multi:1" 2>&1)
contains "no matching platform lists those offered" "offers linux/$other_arch" "$out"

# zstd layers.
"$BERTH" image pull -q "$reg/zst:1" > /dev/null 2>&1
check "pull an image with zstd layers" 0 $?
out=$(curl -s -H 'Accept: application/vnd.oci.image.manifest.v1+json' "http://$reg/v2/zst/manifests/1")
contains "its layer is zstd in the registry" "tar+zstd" "$out"
check "and it unpacked" 1 "$(ls "$BERTH_ROOT"/layers/*/bin/zmark 2>/dev/null | wc -l)"

# A project of two images sharing a layer, pulled at once: the shared blob is fetched once.
rm -rf "$BERTH_ROOT/images" "$BERTH_ROOT/layers"
mkdir -p "$work/proj"
cat > "$work/proj/compose.yaml" <<YAML
services:
  one:
    image: $reg/bb:1
    command: ["sleep", "30"]
  two:
    image: $reg/bb2:1
    command: ["sh", "-c", "cat /srv/second; sleep 30"]
  three:
    image: $reg/bb2:1
    command: ["sleep", "30"]
YAML
cd "$work/proj"
base=$(sha256sum < "$work/bb.tar" | cut -c1-12)
out=$("$BERTH" pull 2>&1)
check "berth pull of a project" 0 $?
shared=$(ls "$work/bb/blobs/sha256" | while read -r h; do
    [ "$(stat -c %s "$work/bb/blobs/sha256/$h")" -gt 100000 ] && echo "$h"; done | cut -c1-12)
check "the shared layer downloaded once" 1 "$(echo "$out" | grep -c "$shared  Downloaded")"
check "two images in the store" 2 "$("$BERTH" image ls -q | wc -l)"
check "berth pull -q prints nothing" "" "$("$BERTH" pull -q 2>&1)"
contains "berth images lists the services' images" "three" "$("$BERTH" images)"
check "berth images -q: an id per service" 3 "$("$BERTH" images -q | wc -l)"

# pull_policy with up.
"$BERTH" image rm "$reg/bb:1" "$reg/bb2:1" > /dev/null
out=$("$BERTH" up -d --pull never 2>&1)
check "up --pull never with no image fails" 1 $?
contains "and names the image" "$reg/bb" "$out"
out=$("$BERTH" up -d 2>&1)
check "up pulls missing images (pull_policy missing)" 0 $?
contains "up said it pulled" "Pulled" "$out"
sleep 1
contains "the pulled image runs" "second" "$("$BERTH" logs two 2>&1)"
"$BERTH" down -t 1 > /dev/null 2>&1
cat >> "$work/proj/compose.yaml" <<YAML
  four:
    image: $reg/bb:1
    pull_policy: always
    command: ["true"]
YAML
out=$("$BERTH" up -d four 2>&1)
contains "pull_policy always asks the registry" "Up to date" "$out"
"$BERTH" down -t 1 > /dev/null 2>&1
sed -i 's/pull_policy: always/pull_policy: sometimes/' "$work/proj/compose.yaml"
out=$("$BERTH" up -d four 2>&1)
check "a bad pull_policy is refused" 1 $?
contains "a bad pull_policy is named" 'pull_policy: invalid value "sometimes": expected always, never' "$out"
sed -i 's/pull_policy: sometimes/pull_policy: every_1h/' "$work/proj/compose.yaml"
out=$("$BERTH" up -d four 2>&1)
check "up with pull_policy every_1h" 0 $?
case "$out" in *Pull*) fail "every_1h pulled an image stored a moment ago: $out" ;; *) ok "every_1h does not pull a fresh image" ;; esac
"$BERTH" down -t 1 > /dev/null 2>&1
cd "$work"

# A corrupt blob in the registry's storage is refused and nothing is kept.
push bb2:1 corrupt:1
big=$(ls "$work/bb2/blobs/sha256" | while read -r h; do
    [ "$(stat -c %s "$work/bb2/blobs/sha256/$h")" -gt 100000 ] && echo "$h"; done)
data="$work/plain/docker/registry/v2/blobs/sha256/$(echo "$big" | cut -c1-2)/$big/data"
rm -rf "$BERTH_ROOT/images" "$BERTH_ROOT/layers"
cp "$data" "$work/saved-blob"  # the registry shares it with the other images: put back below
printf 'XXXX' | dd of="$data" bs=1 seek=5000 conv=notrunc 2>/dev/null
out=$("$BERTH" image pull "$reg/corrupt:1" 2>&1)
check "a corrupt blob fails the pull" 1 $?
contains "the error names the blob" "blob sha256:$big" "$out"
check "the corrupt blob is not in the store" "" "$(ls "$BERTH_ROOT/images/blobs/sha256" | grep "$big")"
check "no partial download is left" "" "$(ls "$BERTH_ROOT/images/ingest" | grep partial)"
check "no image was named" "" "$("$BERTH" image ls -q)"
cp "$work/saved-blob" "$data"

# A config whose diff_id is not its layer's: refused, the layer not extracted.
rm -rf "$BERTH_ROOT/images" "$BERTH_ROOT/layers"
BAD_DIFF_ID=1 "$here/lib/make-oci-layout.sh" "$work/liar" 1 amd64 liar "$work/extra.tar" > /dev/null
push liar:1 liar:1
out=$("$BERTH" image pull "$reg/liar:1" 2>&1)
check "a wrong diff_id fails the pull" 1 $?
contains "the error says which layer and why" "but the image config says" "$out"
check "nothing was extracted" "" "$(ls "$BERTH_ROOT/layers")"
check "no image was named (diff_id)" "" "$("$BERTH" image ls -q)"

# Two pulls of the same image at once.
rm -rf "$BERTH_ROOT/images" "$BERTH_ROOT/layers"
"$BERTH" image pull -q "$reg/bb2:1" > "$work/c1" 2>&1 &
c1=$!
"$BERTH" image pull -q "$reg/bb2:1" > "$work/c2" 2>&1 &
c2=$!
wait $c1; r1=$?
wait $c2; r2=$?
check "two concurrent pulls both succeed" "0 0" "$r1 $r2"
check "one image" 1 "$("$BERTH" image ls -q | wc -l)"
check "each blob once (manifest, config, 2 layers)" 4 "$(layer_count)"
check "two layers extracted" 2 "$(ls "$BERTH_ROOT/layers" | wc -l)"

# kill -9 midway, then pull again: the partial download is resumed.
head -c 24000000 /dev/urandom > "$work/rand.bin"
mkdir -p "$work/big" && mv "$work/rand.bin" "$work/big/"
tar -C "$work/big" -cf "$work/big.tar" .
"$here/lib/make-oci-layout.sh" "$work/bigl" 1 amd64 big "$work/bb.tar" "$work/big.tar" > /dev/null
push bigl:1 big:1
rm -rf "$BERTH_ROOT/images" "$BERTH_ROOT/layers"
pull_and_kill() {  # a slow pull of big:1, killed once more than 2 MB of its big blob arrived
    BERTH_PULL_RATE_LIMIT=4000000 "$BERTH" image pull -q "$reg/big:1" > /dev/null 2>&1 &
    kp=$!
    i=0
    while [ $i -lt 100 ]; do
        s=$(stat -c %s "$BERTH_ROOT"/images/ingest/*.partial 2>/dev/null | sort -n | tail -1)
        [ "${s:-0}" -gt 2000000 ] && break
        i=$((i + 1))
        sleep 0.1
    done
    kill -9 $kp
    wait $kp 2>/dev/null
    left=$(stat -c %s "$BERTH_ROOT"/images/ingest/*.partial 2>/dev/null | sort -n | tail -1)
}
pull_and_kill
[ "${left:-0}" -gt 2000000 ] && ok "kill -9 left a partial download ($left bytes)" || fail "no partial download after kill -9"
check "the killed pull named no image" "" "$("$BERTH" image ls -q)"
# A resumed download is verified from its first byte: a kept prefix altered on disk makes the
# blob's digest wrong, though every byte fetched after it is right. The layer, streamed from
# that prefix then from the download, is not put in place either.
partial=$(ls -S "$BERTH_ROOT"/images/ingest/*.partial | head -1)
bigblob=$(basename "$partial" .partial)
printf 'XXXX' | dd of="$partial" bs=1 seek=1000000 conv=notrunc 2>/dev/null
out=$("$BERTH" image pull -q "$reg/big:1" 2>&1)
check "a resumed blob whose kept prefix was altered fails the pull" 1 $?
contains "the error names the resumed blob" "blob sha256:$bigblob" "$out"
contains "the error says its digest is wrong" "does not match" "$out"
check "the altered blob is not stored" "" "$(ls "$BERTH_ROOT/images/blobs/sha256" | grep "$bigblob")"
check "the altered partial download is removed" "" "$(ls "$BERTH_ROOT/images/ingest" | grep "$bigblob.partial")"
bigdiff=$(sha256sum < "$work/big.tar" | cut -d' ' -f1)
check "its layer is not in place" "" "$(ls -A "$BERTH_ROOT/layers" | grep "$bigdiff")"
check "no temporary layer directory is left (the killed pull's is removed too)" "" "$(ls -A "$BERTH_ROOT/layers" | grep tmp)"
check "the failed pull named no image" "" "$("$BERTH" image ls -q)"
pull_and_kill
[ "${left:-0}" -gt 2000000 ] && ok "a second kill -9 left a partial download" || fail "no partial download after the second kill -9"
"$BERTH" image pull -q "$reg/big:1" > /dev/null 2>"$work/resume.err"
check "pulling again finishes the job" 0 $?
contains "the resumed image is whole" "rand.bin" "$(ls "$BERTH_ROOT"/layers/*/)"
check "nothing partial remains" "" "$(ls "$BERTH_ROOT/images/ingest" | grep partial)"
grep -q "Range" "$work/plain.log" 2>/dev/null || true

# TLS with a CA made here, and htpasswd basic auth with login/logout.
start_auth_registry tls "$tport"
skopeo copy -q --dest-tls-verify=false --dest-creds alice:s3cret "oci:$work/bb:1" "docker://$treg/private/bb:1" > "$work/skopeo.log" 2>&1 ||
    fail "skopeo copy to the TLS registry: $(cat "$work/skopeo.log")"
export DOCKER_CONFIG="$work/docker" BERTH_CERTS_DIR="$work/certs.d"
out=$("$BERTH" image pull "$treg/private/bb:1" 2>&1)
check "an unknown CA fails" 1 $?
contains "the TLS error names the registry and certs.d" "certificate of registry $treg is not trusted" "$out"
mkdir -p "$work/certs.d/$treg" && cp "$work/pki/ca.crt" "$work/certs.d/$treg/"
out=$("$BERTH" image pull "$treg/private/bb:1" 2>&1)
check "with certs.d but no login: denied" 1 $?
contains "denied says berth login" "berth login $treg" "$out"
out=$(echo wrong | "$BERTH" login "$treg" -u alice --password-stdin 2>&1)
check "login with a wrong password fails" 1 $?
out=$(echo s3cret | "$BERTH" login "$treg" -u alice --password-stdin 2>&1)
check "login" "Login Succeeded" "$out"
contains "login wrote the docker config" "$treg" "$(cat "$work/docker/config.json")"
out=$("$BERTH" image pull "$treg/private/bb:1" 2>&1)
check "pull over TLS with basic auth after login" 0 $?
"$BERTH" logout "$treg" > /dev/null
rm -rf "$BERTH_ROOT/images" "$BERTH_ROOT/layers"
"$BERTH" image pull "$treg/private/bb:1" > /dev/null 2>&1
check "after logout: denied again" 1 $?

cleanup
trap - EXIT
finish
