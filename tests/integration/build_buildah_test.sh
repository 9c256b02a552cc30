#!/bin/sh
# berth's builder beside Debian's buildah (an independent builder): the same
# Dockerfile, FROM the same busybox image (imported into each one's store
# under the same name), gives the same filesystem (paths, types, modes,
# owners, sizes, contents, link targets) and the same config fields.
. "$(dirname "$0")/lib/common.sh"
for p in buildah jq; do
    command -v $p >/dev/null || { echo "SKIP: $p is not installed (scripts/setup.sh)"; exit 0; }
done

"$here/lib/make-busybox-rootfs.sh" "$work/busybox.tar"
bh() { buildah --root "$work/bh-root" --runroot "$work/bh-run" --storage-driver vfs "$@"; }
ctr=$(bh from scratch) && bh add "$ctr" "$work/busybox.tar" / >/dev/null && bh commit -q "$ctr" localhost/bbcmp:1 >/dev/null &&
    bh rm "$ctr" >/dev/null || fail "buildah: make the base image"
"$BERTH" image import "$work/busybox.tar" localhost/bbcmp:1 >/dev/null || fail "berth: import the base image"

mkdir -p "$work/ctx/conf/sub"
cd "$work/ctx"
echo 'listen 80' > conf/app.conf
echo nested > conf/sub/deep.txt
chmod 0640 conf/sub/deep.txt
ln -s app.conf conf/link.conf
printf '#!/bin/sh\necho hi\n' > run.sh
chmod 0755 run.sh
cat > Dockerfile <<'EOF'
FROM localhost/bbcmp:1
ARG VERSION=1.2
ENV APP_HOME=/opt/app VERSION=$VERSION
LABEL org.example.name=cmp org.example.version=$VERSION
WORKDIR /opt/app
COPY conf/ ./conf/
COPY run.sh /usr/local/bin/
COPY --chown=65534:65534 --chmod=0600 conf/app.conf /etc/owned.conf
RUN mkdir -p data/cache && echo "$VERSION" > data/version && ln -s data/version current && \
    chmod 0700 data/cache && chown 65534:65534 data/cache && rm /bin/vi && touch -h /tmp
RUN ln conf/app.conf conf/hard.conf && mkfifo data/pipe
USER nobody
EXPOSE 8080/tcp 53/udp
VOLUME /opt/app/data
STOPSIGNAL SIGQUIT
ENTRYPOINT ["/usr/local/bin/run.sh"]
CMD ["--serve"]
EOF

cat > compose.yaml <<'EOF'
services:
  cmp:
    build: .
    image: localhost/bbcmp-out:1
EOF
out=$("$BERTH" -p bbcmp build 2>&1)
rc=$?
check "berth builds it" 0 $rc
[ $rc -eq 0 ] || echo "$out" | tail -20
bh build -q --isolation chroot -t localhost/bbcmp-out:1 . >"$work/bh.log" 2>&1
rc=$?
check "buildah builds it" 0 $rc
[ $rc -eq 0 ] || tail -20 "$work/bh.log"

# The filesystems: berth's from its layer dirs through an overlay, buildah's mounted by buildah.
listing() {  # listing ROOT: one line per entry, sorted
    (cd "$1" && find . -mindepth 1 ! -path './proc/*' ! -path './sys/*' ! -path './dev/*' \
        -printf '%p %y %m %U:%G %l\n' | sort > "$2")
    (cd "$1" && find . -type f -exec md5sum {} + | sort -k2 > "$2.md5")
}
mkdir -p "$work/mnt" "$work/empty"
lowers=$("$BERTH" image inspect localhost/bbcmp-out:1 | jq -r '.[0].LayerDirs | join(":")')
mount -t overlay -o "lowerdir=$lowers:$work/empty" overlay "$work/mnt" || fail "mount berth's image"
listing "$work/mnt" "$work/berth.fs"
umount "$work/mnt"
bctr=$(bh from localhost/bbcmp-out:1)
bmnt=$(bh mount "$bctr")
listing "$bmnt" "$work/buildah.fs"
bh umount "$bctr" >/dev/null
bh rm "$bctr" >/dev/null
# buildah 1.28's chroot isolation leaves its RUN mount stubs in the image: empty
# /etc/hostname, /etc/hosts, /etc/resolv.conf (mode 755) and /run. Docker does not; nor does berth.
for f in buildah.fs buildah.fs.md5; do
    grep -vE '^(\./etc/(hostname|hosts|resolv\.conf) f 755 0:0 |\./run d 755 0:0 |d41d8cd98f00b204e9800998ecf8427e  \./etc/(hostname|hosts|resolv\.conf))$' \
        "$work/$f" > "$work/$f.x"
    mv "$work/$f.x" "$work/$f"
done
diff "$work/buildah.fs" "$work/berth.fs" > "$work/fs.diff"
check "same paths, types, modes, owners and link targets" "" "$(cat "$work/fs.diff")"
diff "$work/buildah.fs.md5" "$work/berth.fs.md5" > "$work/md5.diff"
check "same file contents" "" "$(cat "$work/md5.diff")"
check "the listing is not empty" 1 "$([ "$(wc -l < "$work/berth.fs")" -gt 250 ] && echo 1)"

# The config fields, buildah's own label aside.
fields='{Env, Cmd, Entrypoint, WorkingDir, User, ExposedPorts, Volumes, StopSignal,
         Labels: ((.Labels // {}) | del(."io.buildah.version"))}'
"$BERTH" image inspect localhost/bbcmp-out:1 | jq -S ".[0].Config | $fields" > "$work/berth.cfg"
bh inspect --type image localhost/bbcmp-out:1 | jq -S ".OCIv1.config | $fields" > "$work/buildah.cfg"
check "same config fields" "" "$(diff "$work/buildah.cfg" "$work/berth.cfg")"
contains "the config has the ENTRYPOINT" "/usr/local/bin/run.sh" "$(cat "$work/berth.cfg")"

# RUN --mount's secret, bind from a stage and tmpfs, and ONBUILD, beside buildah
# (docker format, where buildah keeps OnBuild): the same files, the same triggers.
mkdir -p "$work/ctx2" && cd "$work/ctx2"
printf 'tok-123' > tok.txt
cat > Dockerfile <<'EOF'
FROM localhost/bbcmp:1 AS maker
RUN mkdir /made && echo made > /made/f
FROM localhost/bbcmp:1
RUN --mount=type=secret,id=tok cat /run/secrets/tok > /secret-copy
RUN --mount=type=bind,from=maker,source=/made,target=/m cp /m/f /from-stage
RUN --mount=type=tmpfs,target=/t touch /t/x && ls /t > /tmp-list
EOF
printf 'services:\n  m:\n    build:\n      context: .\n      secrets: [tok]\n    image: localhost/bbcmp-m:1\nsecrets:\n  tok:\n    file: ./tok.txt\n' > compose.yaml
out=$("$BERTH" -p bbcmp build 2>&1)
check "berth builds the mounts" 0 $?
bh build -q --isolation chroot --format docker --secret id=tok,src=tok.txt -t localhost/bbcmp-m:1 . >"$work/bh2.log" 2>&1
rc=$?
check "buildah builds the mounts" 0 $rc
[ $rc -eq 0 ] || tail -20 "$work/bh2.log"
lowers=$("$BERTH" image inspect localhost/bbcmp-m:1 | jq -r '.[0].LayerDirs | join(":")')
mount -t overlay -o "lowerdir=$lowers:$work/empty" overlay "$work/mnt" || fail "mount berth's image"
listing "$work/mnt" "$work/berth2.fs"
umount "$work/mnt"
bctr=$(bh from localhost/bbcmp-m:1)
bmnt=$(bh mount "$bctr") || fail "buildah mount: $bmnt"
listing "$bmnt" "$work/buildah2.fs"
bh umount "$bctr" >/dev/null
bh rm "$bctr" >/dev/null
# buildah 1.28 leaves its mount points (/m, /t, /run/secrets) and RUN stubs in the image; BuildKit and berth do not.
for f in buildah2.fs buildah2.fs.md5; do
    grep -vE '^(\./(m|t|run|run/secrets) d 755 0:0 |\./etc/(hostname|hosts|resolv\.conf) f 755 0:0 |d41d8cd98f00b204e9800998ecf8427e  \./etc/(hostname|hosts|resolv\.conf))$' \
        "$work/$f" > "$work/$f.x"
    mv "$work/$f.x" "$work/$f"
done
check "mounts: same paths, types, modes, owners" "" "$(diff "$work/buildah2.fs" "$work/berth2.fs")"
check "mounts: same contents (the secret read, the stage's file, the tmpfs listing)" "" "$(diff "$work/buildah2.fs.md5" "$work/berth2.fs.md5")"
contains "the secret's bytes were read" "secret-copy" "$(cat "$work/berth2.fs")"
# ONBUILD in an image of its own (buildah from would run the trigger).
printf 'FROM localhost/bbcmp:1\nONBUILD RUN echo triggered\nONBUILD COPY tok.txt /x\n' > Dockerfile.ob
printf 'services:\n  ob:\n    build: {context: ., dockerfile: Dockerfile.ob}\n    image: localhost/bbcmp-ob:1\n' > compose.ob.yaml
"$BERTH" -p bbcmp -f compose.ob.yaml build -q >/dev/null 2>&1
check "berth builds ONBUILD" 0 $?
bh build -q --isolation chroot --format docker -f Dockerfile.ob -t localhost/bbcmp-ob:1 . >"$work/bh3.log" 2>&1
check "buildah builds ONBUILD" 0 $?
check "same OnBuild" "$(bh inspect --type image localhost/bbcmp-ob:1 | jq -c '.Docker.config.OnBuild')" \
    "$("$BERTH" image inspect localhost/bbcmp-ob:1 | jq -c '.[0].Config.OnBuild')"

bh rmi -a -f >/dev/null 2>&1
cd "$work"
finish
