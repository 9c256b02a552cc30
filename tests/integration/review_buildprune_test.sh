#!/bin/sh
# `berth image prune` while `berth build` runs: the layers a build has stored
# but not named yet (each RUN's, each COPY's) must not be removed under it.
# A build whose second RUN runs for a few seconds; prune runs meanwhile, once
# the first RUN's layer is stored; the build must still succeed and its image
# run.
. "$(dirname "$0")/lib/common.sh"

"$here/lib/make-busybox-rootfs.sh" "$work/busybox.tar.gz"
"$BERTH" image import "$work/busybox.tar.gz" reviewbp/busybox:1 >/dev/null || fail "import busybox"
layers() { find "$BERTH_ROOT/layers" -mindepth 1 -maxdepth 1 -type d 2>/dev/null | wc -l; }
base_layers=$(layers)
mkdir -p "$work/ctx" && cd "$work/ctx"
cat > Dockerfile <<'DF'
FROM reviewbp/busybox:1
RUN echo first-layer > /one
RUN sleep 4 && cat /one > /two
CMD ["cat", "/two"]
DF
cat > compose.yaml <<'YAML'
services:
  app:
    build: .
YAML
"$BERTH" -p reviewbp build >"$work/build.log" 2>&1 &
build=$!
for _ in $(seq 400); do [ "$(layers)" -gt "$base_layers" ] && break; sleep 0.05; done
[ "$(layers)" -gt "$base_layers" ] && ok "the first RUN's layer is stored, not named yet" || fail "no layer stored by the build"
"$BERTH" image prune -f >"$work/prune.log" 2>&1 || fail "image prune: $(cat "$work/prune.log")"
wait "$build" && ok "the build succeeds with a prune run beside it" || fail "the build failed: $(tail -5 "$work/build.log")"
out=$("$BERTH" -p reviewbp run --rm -T app </dev/null 2>&1)
check "the built image has both RUNs' files" first-layer "$out"
"$BERTH" image prune -f >/dev/null 2>&1 || fail "a second prune"
out=$("$BERTH" -p reviewbp run --rm -T app </dev/null 2>&1)
check "… and a prune after the build keeps what its name reaches" first-layer "$out"
check_no_leaks reviewbp
finish
