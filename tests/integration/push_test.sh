#!/bin/sh
# berth push and image push against Debian's docker-registry on loopback: blobs uploaded in one
# PUT or in PATCH chunks, skipped when the registry has them, mounted across repositories; the
# image read back by skopeo keeps its manifest digest; push after login to an htpasswd registry;
# pull and push with bearer tokens from a token service run here (lib/token_issuer.py); a blob
# download cut midway by a proxy (lib/cut_proxy.py) resumed with a Range request.
. "$(dirname "$0")/lib/common.sh"
. "$here/lib/registry.sh"
registry_setup docker-registry skopeo htpasswd openssl curl python3
tport=$((port + 1))
treg="127.0.0.1:$tport"
kport=$((port + 2)) iport=$((port + 3)) pport=$((port + 4))
kreg="127.0.0.1:$kport" preg="127.0.0.1:$pport"
export BERTH_INSECURE_REGISTRIES="$reg,$kreg,$preg"
start_registry plain "$port"

# Two local images (loaded from OCI layouts, never in a registry): two layers; one big layer.
mkdir -p "$work/l1/etc" "$work/l2/srv" "$work/l3"
echo one > "$work/l1/etc/one" && echo two > "$work/l2/srv/two"
head -c 1500000 /dev/urandom > "$work/l3/rand.bin"
for l in l1 l2 l3; do tar --sort=name --mtime=@0 --owner=0 --group=0 -C "$work/$l" -cf "$work/$l.tar" .; done
"$here/lib/make-oci-layout.sh" "$work/app" local/app:1 amd64 app "$work/l1.tar" "$work/l2.tar" > /dev/null
"$here/lib/make-oci-layout.sh" "$work/big" local/big:1 amd64 big "$work/l3.tar" > /dev/null
tar -C "$work/app" -cf "$work/app.tar" . && tar -C "$work/big" -cf "$work/big.tar" .
"$BERTH" image load -i "$work/app.tar" > /dev/null && "$BERTH" image load -i "$work/big.tar" > /dev/null
check "two images loaded" 2 "$("$BERTH" image ls -q | wc -l)"
manifest_of() { "$BERTH" image inspect "$1" | sed -n 's/.*"Manifest": "\(sha256:[0-9a-f]*\)".*/\1/p'; }
app_digest=$(manifest_of local/app:1)

"$BERTH" image tag local/app:1 "$reg/team/app:1"
out=$("$BERTH" image push "$reg/team/app:1" 2>&1)
check "image push" 0 $?
contains "it names the repository" "The push refers to repository [$reg/team/app]" "$out"
contains "it uploaded config and 2 layers" "3 blobs uploaded" "$out"
contains "it prints the manifest digest" "1: digest: $app_digest" "$out"
raw=$(skopeo inspect --raw --tls-verify=false "docker://$reg/team/app:1" | sha256sum | cut -d' ' -f1)
check "skopeo reads back the same manifest digest" "$app_digest" "sha256:$raw"
skopeo copy -q --src-tls-verify=false "docker://$reg/team/app:1" "oci:$work/back:1" > "$work/skopeo.log" 2>&1 ||
    fail "skopeo copy of the pushed image: $(cat "$work/skopeo.log")"
contains "skopeo copy keeps the digest" "$app_digest" "$(cat "$work/back/index.json")"
contains "the pushed layer's content is there" "$(sha256sum < "$work/app/blobs/sha256/$(ls "$work/app/blobs/sha256" | head -1)" | cut -c1-64)" \
    "$(ls "$work/back/blobs/sha256")"
contains "image inspect shows the registry's digest" "$reg/team/app:1@$app_digest" "$("$BERTH" image inspect "$reg/team/app:1")"

out=$("$BERTH" image push "$reg/team/app:1" 2>&1)
check "a second push" 0 $?
contains "a second push uploads nothing" "0 blobs uploaded (0B), 3 already in the registry" "$out"
contains "and says each blob exists" "Layer already exists" "$out"

# Cross-repository mount: the blobs are known in team/app of the same registry.
"$BERTH" image tag "$reg/team/app:1" "$reg/other/app:2"
out=$("$BERTH" image push "$reg/other/app:2" 2>&1)
check "push to another repository" 0 $?
contains "blobs are mounted, not uploaded" "0 blobs uploaded (0B), 0 already in the registry, 3 mounted" "$out"
contains "and says from where" "Mounted from team/app" "$out"
check "the mounted image reads back whole" "$app_digest" \
    "sha256:$(skopeo inspect --raw --tls-verify=false "docker://$reg/other/app:2" | sha256sum | cut -d' ' -f1)"

# Chunked upload: PATCH chunks of 400 kB, then PUT ?digest=.
"$BERTH" image tag local/big:1 "$reg/big:1"
out=$(BERTH_PUSH_CHUNK_SIZE=400000 "$BERTH" image push "$reg/big:1" 2>&1)
check "chunked push" 0 $?
check "the registry saw 4 PATCH chunks" 4 "$(grep -c '"PATCH /v2/big/blobs/uploads/' "$work/plain.log")"
check "the chunked image reads back with its digest" "$(manifest_of local/big:1)" \
    "sha256:$(skopeo inspect --raw --tls-verify=false "docker://$reg/big:1" | sha256sum | cut -d' ' -f1)"
rm -rf "$work/bigback"
skopeo copy -q --src-tls-verify=false "docker://$reg/big:1" "oci:$work/bigback:1" > "$work/skopeo.log" 2>&1
check "skopeo copies the chunked blob (digest checked)" 0 $?

# berth push of a project: services with an image; a missing one fails unless ignored.
mkdir -p "$work/proj"
cat > "$work/proj/compose.yaml" <<YAML
services:
  web:
    image: $reg/proj/web:1
  worker:
    image: $reg/proj/web:1
  gone:
    image: $reg/proj/gone:1
YAML
"$BERTH" image tag local/app:1 "$reg/proj/web:1"
cd "$work/proj"
out=$("$BERTH" push 2>&1)
check "berth push with a missing image fails" 1 $?
contains "the error names the services" "service gone: cannot push $reg/proj/gone:1" "$out"
contains "the other image was pushed" "proj/web:1: 0 blobs uploaded" "$out"
out=$("$BERTH" push --ignore-push-failures -q 2>&1)
check "--ignore-push-failures" 0 $?
contains "it still warns" "warning: service gone" "$out"
check "-q prints no progress" 0 "$(echo "$out" | grep -c -e 'digest:' -e 'Mounted' -e 'already')"
check "berth push SERVICE" "" "$("$BERTH" push -q web 2>&1)"
cd "$work"

# TLS with htpasswd basic auth: denied, then login, then push.
start_auth_registry tls "$tport"
export DOCKER_CONFIG="$work/docker" BERTH_CERTS_DIR="$work/certs.d"
mkdir -p "$work/certs.d/$treg" && cp "$work/pki/ca.crt" "$work/certs.d/$treg/"
"$BERTH" image tag local/app:1 "$treg/private/app:1"
out=$("$BERTH" image push "$treg/private/app:1" 2>&1)
check "push without login is denied" 1 $?
contains "denied says berth login" "berth login $treg" "$out"
echo s3cret | "$BERTH" login "$treg" -u alice --password-stdin > /dev/null
out=$("$BERTH" image push "$treg/private/app:1" 2>&1)
check "push after login" 0 $?
check "skopeo with the credentials reads the digest" "$app_digest" \
    "sha256:$(skopeo inspect --raw --cert-dir "$work/certs.d/$treg" --creds alice:s3cret "docker://$treg/private/app:1" | sha256sum | cut -d' ' -f1)"

# Bearer tokens: the registry's `auth: token`, trusting the issuer's certificate.
mkdir -p "$work/tok"
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$work/tok/key.pem" -out "$work/tok/cert.pem" -days 2 \
    -subj /CN=berth-token-issuer 2>/dev/null
python3 "$here/lib/token_issuer.py" "$iport" "$work/tok/key.pem" "$work/tok/cert.pem" "$work/issuer.log" alice:t0ken &
pids="$pids $!"
start_registry token "$kport" "auth:
  token:
    realm: http://127.0.0.1:$iport/token
    service: berth-test
    issuer: berth-test-issuer
    rootcertbundle: $work/tok/cert.pem"
"$BERTH" image tag local/app:1 "$kreg/tok/app:1"
out=$("$BERTH" image push "$kreg/tok/app:1" 2>&1)
check "an anonymous token does not allow push" 1 $?
contains "the refusal says berth login" "berth login $kreg" "$out"
# The registry's challenge names the actions in either order (a Go map's): "push,pull" is the same scope.
issued() { sed 's/:push,pull$/:pull,push/' "$work/issuer.log"; }
contains "the token service was asked for push" "- repository:tok/app:pull,push" "$(issued)"
out=$(echo wrong | "$BERTH" login "$kreg" -u alice --password-stdin 2>&1)
check "login with a wrong password (token service) fails" 1 $?
out=$(echo t0ken | "$BERTH" login "$kreg" -u alice --password-stdin 2>&1)
check "login to the token registry" "Login Succeeded" "$out"
out=$("$BERTH" image push "$kreg/tok/app:1" 2>&1)
check "push with a token" 0 $?
contains "alice's token was asked for push" "alice repository:tok/app:pull,push" "$(issued)"
"$BERTH" logout "$kreg" > /dev/null
out=$(BERTH_ROOT="$work/root-tok" "$BERTH" image pull "$kreg/tok/app:1" 2>&1)
check "an anonymous pull with a token" 0 $?
check "it is the pushed image" "$app_digest" \
    "$(BERTH_ROOT="$work/root-tok" "$BERTH" image inspect "$kreg/tok/app:1" | sed -n 's/.*"Manifest": "\(sha256:[0-9a-f]*\)".*/\1/p')"

# A blob download cut after 300000 bytes by a proxy, resumed with a Range request.
python3 "$here/lib/cut_proxy.py" "$pport" "$reg" 300000 "$work/proxy.log" &
pids="$pids $!"
i=0
until curl -s -o /dev/null "http://$preg/v2/"; do
    i=$((i + 1)); [ $i -lt 50 ] || { fail "the proxy did not start"; break; }; sleep 0.1
done
out=$(BERTH_ROOT="$work/root-cut" "$BERTH" image pull "$preg/big:1" 2>&1)
rc=$?
check "a pull through a proxy that cuts a blob" 0 $rc
[ $rc = 0 ] || echo "$out"
contains "the proxy cut a blob" "cut /v2/big/blobs/sha256:" "$(cat "$work/proxy.log")"
contains "berth asked for the rest with a Range" "range=bytes=300000-" "$(cat "$work/proxy.log")"
check "the resumed image is the pushed one" "$(manifest_of local/big:1)" \
    "$(BERTH_ROOT="$work/root-cut" "$BERTH" image inspect "$preg/big:1" | sed -n 's/.*"Manifest": "\(sha256:[0-9a-f]*\)".*/\1/p')"

cleanup
trap - EXIT
finish
