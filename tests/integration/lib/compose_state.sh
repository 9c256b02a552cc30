# For the compose_e2e scripts (after lib/common.sh).
compose_e2e_setup() {  # the image their files name (it/busybox), loopback up, $work the current folder
    "$here/lib/make-busybox-rootfs.sh" "$work/busybox.tar"
    "$BERTH" image import "$work/busybox.tar" it/busybox >/dev/null
    ip link set lo up
    cd "$work" || exit 1
}
state_of() {  # state_of CONTAINER COMPOSE_CMD...: its state in `ps -a --format json`, or "none"
    name=$1
    shift
    "$@" ps -a --format json 2>/dev/null | python3 -c "
import json, sys
for l in sys.stdin:
    j = json.loads(l)
    if j['Name'] == '$name': print(j['State']); break
else: print('none')"
}
