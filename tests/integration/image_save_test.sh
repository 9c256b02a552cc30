#!/bin/sh
# berth image save (a docker-save archive that is also an OCI layout) read back by berth image
# load and by skopeo, keeping the image id; berth image prune of dangling images, and with -a
# of every image no container uses.
. "$(dirname "$0")/lib/common.sh"
command -v skopeo >/dev/null || { fail "skopeo is not installed (scripts/setup.sh)"; finish; exit 1; }
field() { "$BERTH" image inspect "$1" | sed -n "s/.*\"$2\": \"\\(sha256:[0-9a-f]*\\)\".*/\\1/p"; }
mkdir -p "$work/l1/etc" "$work/l2/srv" "$work/l3/opt"
echo one > "$work/l1/etc/one" && echo two > "$work/l2/srv/two"
head -c 300000 /dev/urandom > "$work/l3/opt/big"
for l in l1 l2 l3; do tar --sort=name --mtime=@0 --owner=0 --group=0 -C "$work/$l" -cf "$work/$l.tar" .; done
"$here/lib/make-oci-layout.sh" "$work/app" local/app:1 amd64 app "$work/l1.tar" "$work/l2.tar" > /dev/null
"$here/lib/make-oci-layout.sh" "$work/app2" local/app:1 amd64 app2 "$work/l1.tar" "$work/l3.tar" > /dev/null
tar -C "$work/app" -cf "$work/app.tar" . && tar -C "$work/app2" -cf "$work/app2.tar" .
"$BERTH" image load -i "$work/app.tar" > /dev/null
id=$(field local/app:1 Id)
man=$(field local/app:1 Manifest)
check "load keeps the layout's manifest digest" "sha256:$(cut -c1-200 "$work/app/index.json" | sed 's/.*sha256:\([0-9a-f]*\).*/\1/')" "$man"

# save: both formats in one archive, deterministic, to a file or standard output.
"$BERTH" image save -o "$work/s.tar" local/app:1
check "image save -o" 0 $?
names=$(tar -tf "$work/s.tar" | sort | tr '\n' ' ')
contains "the archive has docker's manifest.json" "manifest.json" "$names"
contains "and an OCI index" " index.json " "$names"
contains "and an OCI layout marker" " oci-layout " "$names"
check "config, manifest and 2 layers as blobs" 4 "$(tar -tf "$work/s.tar" | grep -c '^blobs/sha256/')"
"$BERTH" image save local/app:1 > "$work/s2.tar"
check "save to standard output writes the same bytes" "" "$(cmp "$work/s.tar" "$work/s2.tar" 2>&1)"
out=$(skopeo inspect "docker-archive:$work/s.tar" 2>&1)
check "skopeo reads it as a docker archive" 0 $?
contains "its config (docker-archive)" '"berth.test": "app"' "$out"
out=$(skopeo inspect "oci-archive:$work/s.tar" 2>&1)
check "skopeo reads it as an OCI archive" 0 $?
contains "with the same manifest digest (oci-archive)" "\"Digest\": \"$man\"" "$out"

# load back: the same image id and manifest.
"$BERTH" image rm local/app:1 > /dev/null
"$BERTH" image prune -f > /dev/null
out=$("$BERTH" image load -i "$work/s.tar")
check "load of the saved archive" "Loaded image: local/app:1" "$out"
check "the image id survives save and load" "$id" "$(field local/app:1 Id)"
check "the manifest digest survives save and load" "$man" "$(field local/app:1 Manifest)"
# As a plain docker-save archive (no OCI index): the image id still survives.
mkdir -p "$work/dock" && tar -C "$work/dock" -xf "$work/s.tar" && rm "$work/dock/index.json" "$work/dock/oci-layout"
tar -C "$work/dock" -cf "$work/dock.tar" .
"$BERTH" image rm local/app:1 > /dev/null
"$BERTH" image load -i "$work/dock.tar" > /dev/null
check "the image id survives a docker-only archive" "$id" "$(field local/app:1 Id)"

# prune: the old image under a moved name is dangling.
"$BERTH" image load -i "$work/app2.tar" > /dev/null
id2=$(field local/app:1 Id)
[ "$id2" != "$id" ] && ok "the name moved to another image" || fail "the name did not move"
before=$(du -sb "$BERTH_ROOT" | cut -f1)
out=$(echo n | "$BERTH" image prune 2>&1)
check "prune answered no removes nothing" "$before" "$(du -sb "$BERTH_ROOT" | cut -f1)"
out=$("$BERTH" image prune -f 2>&1)
check "image prune -f" 0 $?
contains "it names the dangling image it deleted" "deleted: $id" "$out"
contains "it says what it reclaimed" "Total reclaimed space: " "$out"
case "$out" in *"Total reclaimed space: 0B"*) fail "prune reclaimed nothing" ;; *) ok "prune reclaimed space" ;; esac
check "the dangling image's config is gone" "" "$(ls "$BERTH_ROOT/images/blobs/sha256" | grep "${id#sha256:}")"
check "the named image still resolves" "$id2" "$(field local/app:1 Id)"
check "its layers are still extracted" 2 "$(ls "$BERTH_ROOT/layers" | wc -l)"
contains "a second prune finds nothing" "Total reclaimed space: 0B" "$("$BERTH" image prune -f 2>&1)"

# prune -a: only images a container uses stay.
"$here/lib/make-busybox-rootfs.sh" "$work/bb.tar"
"$BERTH" image import "$work/bb.tar" local/bb:1 > /dev/null
"$BERTH" image tag local/app:1 local/other:2
mkdir -p "$work/proj"
printf 'services:\n  s:\n    image: local/bb:1\n    command: ["sleep", "30"]\n' > "$work/proj/compose.yaml"
(cd "$work/proj" && "$BERTH" -p regprune up -d > /dev/null 2>&1)
check "a project runs on local/bb:1" 0 $?
out=$("$BERTH" image prune -a -f 2>&1)
check "image prune -a -f" 0 $?
contains "it untags unused images" "untagged: local/app:1" "$out"
contains "every one" "untagged: local/other:2" "$out"
check "only the image in use stays" "local/bb" "$("$BERTH" image ls --format json | sed 's/.*"Repository":"\([^"]*\)".*/\1/')"
(cd "$work/proj" && "$BERTH" -p regprune down -t 1 > /dev/null 2>&1)
check_no_leaks regprune-
finish
