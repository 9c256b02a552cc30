#!/bin/sh
# What a default container must not be able to do, tried from inside one
# (lib/escape_probe.c prints the errno of each attempt, so every check asserts
# the specific refusal): see host processes, reach the host's files, mount,
# load kernel modules, make user namespaces, use keyrings, write /sys or
# /proc/sys, raise its limits or reach its cgroup files, reach another
# project's network, ptrace another container's process, or inherit berth's
# file descriptors.
. "$(dirname "$0")/lib/common.sh"

gcc -static -O2 -o "$work/escape_probe" "$here/lib/escape_probe.c" || { fail "build escape_probe"; finish; exit 1; }
"$here/lib/make-busybox-rootfs.sh" "$work/busybox.tar" "$work/escape_probe"
"$BERTH" image import "$work/busybox.tar" esc/busybox >/dev/null
echo secret > "$work/host-marker"

mkdir -p "$work/jail" "$work/peer"
cat > "$work/jail/compose.yaml" <<'YAML'
name: escjail
services:
  app:
    image: esc/busybox
    command: sh -c 'trap "exit 0" TERM; sleep 1000 & wait'
YAML
cat > "$work/peer/compose.yaml" <<'YAML'
name: escpeer
services:
  web:
    image: esc/busybox
    command: ["httpd", "-f", "-p", "18473", "-h", "/var/www"]
    stop_grace_period: 1s
  client:
    image: esc/busybox
    command: sh -c 'trap "exit 0" TERM; sleep 1000 & wait'
YAML
(cd "$work/peer" && "$BERTH" up -d >/dev/null 2>&1)
check "peer project up" 0 $?
cd "$work/jail"
"$BERTH" up -d >/dev/null 2>&1
check "jail project up" 0 $?
in_jail() { "$BERTH" exec -T app "$@" </dev/null 2>&1; }
probe() { in_jail escape_probe "$@"; }

# Processes: only the container's own.
check "ps shows only the container's processes" "ps sh sleep " "$(in_jail ps -o comm | tail -n +2 | sort | tr '\n' ' ')"
check "PID 1 is the container's command" "sh" "$(in_jail cat /proc/1/comm)"

# The host's file system.
check "/proc/1/root, .. out of / and a chroot break-out stay in the container" same "$(probe root)"
check "a host file is not reachable" absent "$(in_jail sh -c "test -e $work/host-marker && echo present || echo absent")"
check "mount is refused" EPERM "$(probe mount)"
check "busybox mount is refused" 1 "$(in_jail mount -t tmpfs none /mnt | grep -ci 'permission denied\|not permitted')"
check "open_by_handle_at is refused" EPERM "$(probe handle)"

# The kernel.
check "init_module is refused" EPERM "$(probe init_module)"
check "finit_module is refused" EPERM "$(probe finit_module)"
check "unshare(CLONE_NEWUSER) is refused" EPERM "$(probe userns)"
check "clone(CLONE_NEWUSER) is refused" EPERM "$(probe clone_userns)"
check "unshare -U is refused" 1 "$(in_jail unshare -U true | grep -c 'Operation not permitted')"
check "keyctl is refused" EPERM "$(probe keyctl)"
check "add_key is refused" EPERM "$(probe add_key)"
sysfile=$(in_jail sh -c 'for f in /sys/kernel/uevent_helper /sys/kernel/mm/transparent_hugepage/enabled /sys/power/state; do [ -e $f ] && echo $f && break; done')
contains "a host sysfs file is visible (to try writing it)" "/sys/" "$sysfile"
check "writing $sysfile is refused (read-only)" EROFS "$(probe openw "$sysfile")"
check "creating in /sys is refused (read-only)" EROFS "$(probe mkdir /sys/escape)"
check "writing /proc/sys is refused (read-only)" EROFS "$(probe openw /proc/sys/vm/drop_caches)"
check "writing /proc/sys/kernel/core_pattern is refused" EROFS "$(probe openw /proc/sys/kernel/core_pattern)"

# Limits.
check "raising the hard RLIMIT_NOFILE is refused" EPERM "$(probe rlimit)"
check "its cgroup is its cgroup namespace's root" "" "$(in_jail cat /proc/self/cgroup | grep -v ':/$')"
check "no cgroup file is visible" 0 "$(in_jail find /sys/fs/cgroup -type f | wc -l)"
check "mounting a cgroup file system is refused" EPERM "$(probe mount_cgroup)"

# Another project's network: reachable from its own project, not from here.
(cd "$work/peer" && "$BERTH" exec -T web sh -c 'echo peer-page > /var/www/index.html')
ip=$(cd "$work/peer" && "$BERTH" exec -T web sh -c 'ip -4 addr show eth0' | sed -n 's/.*inet \([0-9.]*\).*/\1/p')
contains "the peer has an address" "." "$ip"
out=$(cd "$work/peer" && "$BERTH" exec -T client sh -c "ping -c 1 -W 2 $ip; timeout 5 wget -q -O - http://$ip:18473/" 2>&1)
contains "ping within the peer project works" "bytes from $ip" "$out"
contains "http within the peer project works" "peer-page" "$out"
out=$(in_jail sh -c "ping -c 1 -W 2 $ip")
contains "ping to the other project gets no answer" "100% packet loss" "$out"
out=$("$BERTH" exec -T app sh -c "timeout 5 wget -q -O - http://$ip:18473/ || echo unreachable" </dev/null 2>/dev/null)
check "http to the other project fails" unreachable "$out"

# Another container's process: not visible, not traceable.
webpid=
for p in /proc/[0-9]*; do
    case "$(tr '\0' ' ' 2>/dev/null <"$p/cmdline")" in "httpd -f -p 18473 "*) webpid=${p#/proc/} ;; esac
done
check "found the peer's httpd" 1 "$([ -n "$webpid" ] && echo 1)"
check "the peer's process is not visible" 0 "$(in_jail sh -c 'cat /proc/[0-9]*/cmdline | tr "\0" " " | grep -c "1847[3]"')"
check "ptrace of the peer's host PID fails (no such process)" ESRCH "$(probe ptrace "$webpid")"

# Descriptors: only stdio, in PID 1 and in an exec'd process.
check "PID 1 has only 0 1 2 open" "0 1 2" "$(probe fds 1)"
check "an exec'd process has only 0 1 2 open" "0 1 2" "$(probe fds)"

"$BERTH" down >/dev/null 2>&1
(cd "$work/peer" && "$BERTH" down >/dev/null 2>&1)
check_no_leaks escjail-
check_no_leaks escpeer-
finish
