#!/bin/sh
# startup_bench.sh BERTH [CONTAINER_BENCH]: what a user times, as whole processes, in one run:
# /bin/true, `berth version`, `berth config -q` of a 1- and a 50-service file, `berth ps` of a
# running 10-service stack, `berth run --rm -T SERVICE true` without and with a network,
# `crun run` of the same rootfs with an equivalent config, and (with CONTAINER_BENCH,
# build/bench/container_bench) the kernel floor: the same container made in-process.
# Prints medians (hyperfine -N, RUNS runs each, default 30) and the ratios.
# Run as root; it makes its own private mount and network namespace, state root and busybox
# image, and leaves nothing behind (no cgroups, mounts or links).
# STATE_FS picks the file system of the state root (containers' upper dirs): `disk` (default:
# a directory under /tmp, this machine's disk as it is) or `journal` (a fresh ext4 with a
# journal, loop-mounted: what most hosts have; this VM's root ext4 has none, and ext4 without
# a journal scans recently freed inodes on every create, which churn makes slow).
set -eu
if [ "${BERTH_BENCH_INNER:-}" != 1 ]; then
    exec unshare --mount --net --propagation private env BERTH_BENCH_INNER=1 sh "$0" "$@"
fi
abspath() { echo "$(cd "$(dirname "$1")" && pwd)/$(basename "$1")"; }
berth=$(abspath "$1")
floor_bench=${2:+$(abspath "$2")}
here=$(cd "$(dirname "$0")" && pwd)
runs=${RUNS:-30}
project=startupbench
work=$(mktemp -d /tmp/berth-startup-XXXXXX)
made_hugetlb_dir=0
mounted_hugetlb=0
cleanup() {
    set +e
    cd /
    [ -f "$work/s10/compose.yaml" ] && "$berth" -f "$work/s10/compose.yaml" down >/dev/null 2>&1
    [ -f "$work/run/compose.yaml" ] && "$berth" -f "$work/run/compose.yaml" down >/dev/null 2>&1
    if [ "$mounted_hugetlb" = 1 ]; then
        rmdir /sys/fs/cgroup/hugetlb/$project-crun 2>/dev/null  # crun removes it; in case it did not
        umount -l /sys/fs/cgroup/hugetlb
    fi
    [ "$made_hugetlb_dir" = 1 ] && rmdir /sys/fs/cgroup/hugetlb
    umount "$work/state" 2>/dev/null
    [ "${STATE_FS:-disk}" = journal ] && umount "$work/fs" 2>/dev/null
    rm -rf "$work"
}
trap cleanup EXIT
export BERTH_ROOT="$work/root" BERTH_RUNTIME_DIR="$work/state"
case ${STATE_FS:-disk} in
disk) state_fs="the disk as it is ($(findmnt -n -o FSTYPE -T "$work"), $(tune2fs -l "$(findmnt -n -o SOURCE -T "$work")" 2>/dev/null | grep -q has_journal && echo "with" || echo "without") a journal)" ;;
journal)
    truncate -s 2G "$work/fs.img" && mkfs.ext4 -q -F "$work/fs.img" && mkdir "$work/fs" && mount -o loop "$work/fs.img" "$work/fs"
    BERTH_ROOT="$work/fs/root"
    state_fs="a fresh ext4 with a journal (loop)" ;;
*) echo "STATE_FS is disk or journal" >&2; exit 2 ;;
esac
echo "state root: $state_fs"
# The runtime dir is /run/berth, a tmpfs on every systemd machine (this VM's /run is plain
# ext4): a tmpfs here, in our private mount namespace, as users have it. The state root
# (/var/lib/berth: images, layers, containers' upper dirs) stays on the disk.
mkdir -p "$BERTH_RUNTIME_DIR" && mount -t tmpfs -o size=64m berth-bench-run "$BERTH_RUNTIME_DIR"
ip link set lo up
"$here/../tests/integration/lib/make-busybox-rootfs.sh" "$work/bb.tar"
"$berth" image import "$work/bb.tar" $project/busybox >/dev/null

services() {  # services N [COMMAND]: N services of the busybox image
    i=1
    while [ "$i" -le "$1" ]; do
        echo "  svc$i:"
        echo "    image: $project/busybox"
        [ -n "${2:-}" ] && echo "    command: $2" && echo "    init: true"
        i=$((i + 1))
    done
}
mkdir -p "$work/s1" "$work/s50" "$work/s10" "$work/run"
{ echo "name: ${project}1"; echo "services:"; services 1; } > "$work/s1/compose.yaml"
{ echo "name: ${project}50"; echo "services:"; services 50; } > "$work/s50/compose.yaml"
{ echo "name: ${project}10"; echo "services:"; services 10 '["sleep", "1000"]'; } > "$work/s10/compose.yaml"
cat > "$work/run/compose.yaml" <<EOF
name: ${project}run
services:
  nonet:
    image: $project/busybox
    network_mode: none
  net:
    image: $project/busybox
EOF
"$berth" -f "$work/s10/compose.yaml" up -d >/dev/null
running=$("$berth" -f "$work/s10/compose.yaml" ps -q | wc -l)
[ "$running" -eq 10 ] || { echo "only $running of 10 services running" >&2; exit 1; }

# crun on the same rootfs: the namespaces and limits of berth's container, /bin/true.
crun=$(command -v crun || true)
if [ -n "$crun" ]; then
    # crun 1.8 refuses this hybrid cgroup layout until hugetlb is bound to a v1 hierarchy (as
    # bench/container_bench.cc: a cgroup mount in our mount namespace, the directory taken away after).
    mkdir /sys/fs/cgroup/hugetlb 2>/dev/null && made_hugetlb_dir=1
    if [ "$(stat -f -c %T /sys/fs/cgroup/hugetlb)" != cgroupfs ]; then
        mount -t cgroup -o hugetlb none /sys/fs/cgroup/hugetlb && mounted_hugetlb=1
    fi
    mkdir -p "$work/bundle/rootfs" "$BERTH_RUNTIME_DIR/crun-state"
    tar -xf "$work/bb.tar" -C "$work/bundle/rootfs"
    # The same container as berth's: docker's default capabilities, berth's seccomp policy
    # (src/runtime/seccomp.cc: default allow, these calls refused with EPERM, new user
    # namespaces refused through clone/unshare/setns flags, clone3 with ENOSYS), docker's
    # masked and read-only paths, the mounts berth makes (mqueue and the generated hostname,
    # hosts and resolv.conf bound from files) and a writable root.
    printf 'crun\n' > "$work/bundle/hostname"
    printf '127.0.0.1\tlocalhost\n' > "$work/bundle/hosts"
    printf 'nameserver 127.0.0.11\n' > "$work/bundle/resolv.conf"
    # The calls of seccomp.cc's table (none of them let through by the default capabilities).
    refused=$(sed -n 's/^    {"\([a-z_0-9]*\)", {.*/"\1"/p' "$here/../src/runtime/seccomp.cc" | paste -sd, -)
    [ "$(echo "$refused" | tr ',' '\n' | wc -l)" -ge 50 ] || { echo "no seccomp table in src/runtime/seccomp.cc" >&2; exit 1; }
    caps='"CAP_CHOWN","CAP_DAC_OVERRIDE","CAP_FSETID","CAP_FOWNER","CAP_MKNOD","CAP_NET_RAW","CAP_SETGID",
      "CAP_SETUID","CAP_SETFCAP","CAP_SETPCAP","CAP_NET_BIND_SERVICE","CAP_SYS_CHROOT","CAP_KILL","CAP_AUDIT_WRITE"'
    newuser='{"index": %s, "value": 268435456, "valueTwo": 268435456, "op": "SCMP_CMP_MASKED_EQ"}'
    cat > "$work/bundle/config.json" <<EOF
{"ociVersion": "1.0.2",
 "process": {"terminal": false, "user": {"uid": 0, "gid": 0}, "args": ["/bin/true"], "env": ["PATH=/bin"], "cwd": "/",
   "capabilities": {"bounding": [$caps], "effective": [$caps], "permitted": [$caps]}},
 "root": {"path": "rootfs", "readonly": false},
 "hostname": "crun",
 "mounts": [
  {"destination": "/proc", "type": "proc", "source": "proc", "options": ["nosuid","noexec","nodev"]},
  {"destination": "/dev", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid","strictatime","mode=755","size=65536k"]},
  {"destination": "/dev/pts", "type": "devpts", "source": "devpts", "options": ["nosuid","noexec","newinstance","ptmxmode=0666","mode=0620","gid=5"]},
  {"destination": "/dev/shm", "type": "tmpfs", "source": "shm", "options": ["nosuid","noexec","nodev","mode=1777","size=65536k"]},
  {"destination": "/dev/mqueue", "type": "mqueue", "source": "mqueue", "options": ["nosuid","noexec","nodev"]},
  {"destination": "/sys", "type": "sysfs", "source": "sysfs", "options": ["nosuid","noexec","nodev","ro"]},
  {"destination": "/etc/hostname", "type": "bind", "source": "$work/bundle/hostname", "options": ["bind","rprivate"]},
  {"destination": "/etc/hosts", "type": "bind", "source": "$work/bundle/hosts", "options": ["bind","rprivate"]},
  {"destination": "/etc/resolv.conf", "type": "bind", "source": "$work/bundle/resolv.conf", "options": ["bind","rprivate"]}],
 "linux": {
  "resources": {"pids": {"limit": 100}},
  "namespaces": [{"type": "pid"}, {"type": "network"}, {"type": "ipc"}, {"type": "uts"}, {"type": "mount"}, {"type": "cgroup"}],
  "seccomp": {"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
    {"names": [$refused], "action": "SCMP_ACT_ERRNO", "errnoRet": 1},
    {"names": ["clone", "unshare"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1, "args": [$(printf "$newuser" 0)]},
    {"names": ["setns"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1, "args": [$(printf "$newuser" 1)]},
    {"names": ["clone3"], "action": "SCMP_ACT_ERRNO", "errnoRet": 38}]},
  "maskedPaths": ["/proc/kcore","/proc/keys","/proc/latency_stats","/proc/timer_list","/proc/timer_stats",
    "/proc/sched_debug","/proc/asound","/proc/acpi","/proc/scsi","/sys/firmware","/sys/devices/virtual/powercap"],
  "readonlyPaths": ["/proc/bus","/proc/fs","/proc/irq","/proc/sys","/proc/sysrq-trigger"]}}
EOF
    crun_cmd="$crun --root $BERTH_RUNTIME_DIR/crun-state run --bundle $work/bundle $project-crun"
    if ! $crun_cmd >/dev/null 2>&1; then
        echo "crun: failed to run, no comparison" >&2
        crun=""
    fi
fi

# hyperfine -N: no shell between the timer and the process; medians in ms from its JSON.
set -- /bin/true "$berth version" \
    "$berth -f $work/s1/compose.yaml config -q" "$berth -f $work/s50/compose.yaml config -q" \
    "$berth -f $work/s10/compose.yaml ps" \
    "$berth -f $work/run/compose.yaml run --rm -T nonet true" \
    "$berth -f $work/run/compose.yaml run --rm -T net true"
[ -n "$crun" ] && set -- "$@" "$crun_cmd"
hyperfine -N --style none --warmup 3 --runs "$runs" --export-json "$work/h.json" "$@" >/dev/null 2>&1 ||
    { echo "a command failed under hyperfine:" >&2; hyperfine -N --runs 1 "$@" >&2; exit 1; }

floor_nonet="" floor_net=""
if [ -n "$floor_bench" ]; then
    out=$("$floor_bench" "$runs")
    floor_nonet=$(echo "$out" | sed -n 's/^berth: .* median \([0-9.]*\) ms.*/\1/p')
    floor_net=$(echo "$out" | sed -n 's/^berth with a veth on a bridge: median \([0-9.]*\) ms.*/\1/p')
fi

python3 - "$work/h.json" "$floor_nonet" "$floor_net" <<'EOF'
import json, sys
r = json.load(open(sys.argv[1]))["results"]
m = [x["median"] * 1000 for x in r]
names = ["/bin/true", "berth version", "berth config -q (1 service)", "berth config -q (50 services)",
         "berth ps (10 running services)", "berth run --rm -T nonet true (no network)",
         "berth run --rm -T net true (bridge network)", "crun run (same rootfs, /bin/true)"]
print(f"medians of {len(r[0]['times'])} runs (hyperfine -N), ms")
for n, v in zip(names, m):
    print(f"  {n:46s} {v:7.2f}")
floor = [float(f) if f else None for f in sys.argv[2:4]]
if floor[0] is not None:
    print(f"  {'kernel floor, no network (container_bench)':46s} {floor[0]:7.2f}")
    print(f"  {'kernel floor, veth on a bridge (container_bench)':46s} {floor[1]:7.2f}")
true = m[0]
print("ratios / differences")
print(f"  berth version - /bin/true: {m[1] - true:+.2f} ms (goal <= 1 ms)")
print(f"  config -q 1 service - /bin/true: {m[2] - true:+.2f} ms; 50 services: {m[3] - true:+.2f} ms")
print(f"  ps (10 services) - /bin/true: {m[4] - true:+.2f} ms")
if len(m) > 7:
    print(f"  run --rm (no network) / crun run: {m[5] / m[7]:.2f}")
if floor[0] is not None:
    print(f"  run --rm (no network) / kernel floor: {m[5] / floor[0]:.2f} (goal <= 2)")
    print(f"  run --rm (network) / kernel floor with a veth: {m[6] / floor[1]:.2f} (goal <= 2)")
EOF

# Nothing of ours may remain: the stack's cgroups go with `down`, checked here.
cd /
"$berth" -f "$work/s10/compose.yaml" down >/dev/null
"$berth" -f "$work/run/compose.yaml" down >/dev/null 2>&1 || true
left=$(find /sys/fs/cgroup/*/berth -mindepth 1 -maxdepth 1 -type d -name "$project*" 2>/dev/null | wc -l)
[ "$left" -eq 0 ] || { echo "leak: $left cgroups of $project left" >&2; exit 1; }
