#!/bin/sh
# make-busybox-rootfs.sh OUT.tar[.gz] [FILE...]: a minimal root filesystem from Debian's
# busybox-static: /bin/busybox and a symlink per applet, /etc/passwd and
# /etc/group (root, nobody), empty /proc /sys /dev /tmp, and each FILE in /bin. Deterministic.
set -eu
out=$1
shift
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
mkdir -p "$dir/bin" "$dir/etc" "$dir/proc" "$dir/sys" "$dir/dev" "$dir/tmp" "$dir/root" "$dir/var/www"
cp /bin/busybox "$dir/bin/busybox"
for a in $(/bin/busybox --list); do
    [ "$a" = busybox ] || ln -s busybox "$dir/bin/$a"
done
for f in "$@"; do cp "$f" "$dir/bin/"; done
printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n' > "$dir/etc/passwd"
printf 'root:x:0:\nnogroup:x:65534:\n' > "$dir/etc/group"
chmod 1777 "$dir/tmp"
case "$out" in
    *.gz) tar --sort=name --mtime=@0 --owner=0 --group=0 -C "$dir" -czf "$out" . ;;
    *) tar --sort=name --mtime=@0 --owner=0 --group=0 -C "$dir" -cf "$out" . ;;
esac
