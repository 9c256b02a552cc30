#!/bin/sh
# `berth exec` into a running container whose image was removed (`image rm -f`) or
# whose image name moved on to another image: exec uses the image the container
# was made from (kept in its bundle at create), as docker keeps it with the container.
. "$(dirname "$0")/lib/common.sh"

"$here/lib/make-busybox-rootfs.sh" "$work/bb.tar"
"$BERTH" image import "$work/bb.tar" rely/exec:1 >/dev/null || fail "import"
mkdir -p "$work/p" && cd "$work/p"
cat > compose.yaml <<'YAML'
name: rely-exec
services:
  app:
    image: rely/exec:1
    command: [sleep, "1000"]
    stop_grace_period: 1s
YAML
"$BERTH" up -d >/dev/null 2>&1 || fail "up -d"
check "exec works" hi "$("$BERTH" exec -T app echo hi </dev/null 2>&1)"
check "the container keeps its image in its bundle" 1 "$(ls "$BERTH_ROOT"/containers/rely-exec-app-1/image.json 2>/dev/null | wc -l)"

out=$("$BERTH" image rm -f rely/exec:1 2>&1) || fail "image rm -f: $out"
contains "… the image is gone" "not found" "$("$BERTH" image inspect rely/exec:1 2>&1)"
check "exec after image rm -f" hi "$("$BERTH" exec -T app echo hi </dev/null 2>&1)"
check "… with the image's environment (PATH)" 1 "$("$BERTH" exec -T app sh -c 'echo "$PATH"' </dev/null 2>&1 | grep -c /bin)"

# The name now names another image (a file more): exec still runs in the container as it is.
mkdir -p "$work/r2" && tar -C "$work/r2" -xf "$work/bb.tar" && echo two >"$work/r2/new" &&
    tar -C "$work/r2" -cf "$work/bb2.tar" . || fail "make a second rootfs"
"$BERTH" image import "$work/bb2.tar" rely/exec:1 >/dev/null || fail "import a new rely/exec:1"
check "exec after the name moved on" hi "$("$BERTH" exec -T app echo hi </dev/null 2>&1)"
check "… in the container's own files" "" "$("$BERTH" exec -T app ls /new </dev/null 2>/dev/null)"

"$BERTH" down >/dev/null 2>&1 || fail "down"
check_no_leaks rely-exec
finish
