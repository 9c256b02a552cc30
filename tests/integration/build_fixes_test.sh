#!/bin/sh
# Builder behaviours checked against docker's/BuildKit's documented rules:
# COPY --parents with the `/./` marker (the part of the path before it is
# dropped, the part after kept under the destination); ONBUILD lines of a
# stage run in the stage built FROM it (docker's rule: in the child build,
# once, not inherited further); build.network naming a project network is
# refused when building as docker compose refuses it, with the fix.
. "$(dirname "$0")/lib/common.sh"

"$here/lib/make-busybox-rootfs.sh" "$work/busybox.tar.gz"
"$BERTH" image import "$work/busybox.tar.gz" bfix/busybox:1 >/dev/null || fail "import busybox"

# --- COPY --parents and /./ ----------------------------------------------
mkdir -p "$work/par/x/y/z" && cd "$work/par"
echo a > x/y/a.txt
echo b > x/y/b.txt
echo c > x/y/z/c.txt
echo n > x/y/note.md
echo t > x/top.txt
cat > Dockerfile <<'EOF'
FROM bfix/busybox:1 AS tools
RUN mkdir -p /opt/app/bin && echo tool > /opt/app/bin/tool
FROM bfix/busybox:1
COPY --parents ./x/./y/*.txt /p1/
COPY --parents x/./y /p2/
COPY --parents x/y/./a.txt x/./y/z/c.txt /p3/
COPY --from=tools --parents /opt/./app/bin/tool /p4/
COPY --parents x/y/a.txt /p5/
COPY x/./y/a.txt /p6/
COPY --parents x/y/./ /p7/
COPY --parents ./x/**/*.txt /p8/
COPY --parents x/./**/c.txt /p9/
COPY --from=tools --parents /opt/./**/tool /p10/
EOF
printf 'services:\n  p:\n    build: .\n' > compose.yaml
"$BERTH" -p bfixpar build -q >"$work/par.out" 2>&1
check "COPY --parents with /./ builds" 0 $?
[ -s "$work/par.out" ] && tail -5 "$work/par.out"
out=$("$BERTH" -p bfixpar run --rm -T p sh -c 'cd / && find p1 p2 p3 p4 p5 p6 p7 p8 p9 p10 | sort' </dev/null 2>&1)
check "the part before /./ dropped, the part after kept (files, a directory, globs, ** for any depth, --from an absolute path)" "p1
p1/y
p1/y/a.txt
p1/y/b.txt
p10
p10/app
p10/app/bin
p10/app/bin/tool
p2
p2/y
p2/y/a.txt
p2/y/b.txt
p2/y/note.md
p2/y/z
p2/y/z/c.txt
p3
p3/a.txt
p3/y
p3/y/z
p3/y/z/c.txt
p4
p4/app
p4/app/bin
p4/app/bin/tool
p5
p5/x
p5/x/y
p5/x/y/a.txt
p6
p6/a.txt
p7
p7/a.txt
p7/b.txt
p7/note.md
p7/z
p7/z/c.txt
p8
p8/x
p8/x/top.txt
p8/x/y
p8/x/y/a.txt
p8/x/y/b.txt
p8/x/y/z
p8/x/y/z/c.txt
p9
p9/y
p9/y/z
p9/y/z/c.txt" "$out"

# buildah (an independent builder) where it knows --parents: Debian 12's 1.28 refuses the flag.
if command -v buildah >/dev/null; then
    mkdir -p "$work/bh" && cd "$work/bh" && cp -r "$work/par/x" . &&
        printf 'FROM scratch\nCOPY --parents ./x/./y/*.txt x/./y/z /p/\n' > Dockerfile
    bh() { buildah --root "$work/bh-root" --runroot "$work/bh-run" --storage-driver vfs "$@"; }
    if bh build -q --isolation chroot -t localhost/bfixpar:1 . >"$work/bh.log" 2>&1; then
        c=$(bh from localhost/bfixpar:1) && m=$(bh mount "$c")
        want=$(cd "$m" && find p | sort)
        bh umount "$c" >/dev/null; bh rm "$c" >/dev/null
        printf 'services:\n  q:\n    build: .\n' > compose.yaml
        "$BERTH" image import "$work/busybox.tar.gz" bfix/unused:1 >/dev/null
        "$BERTH" -p bfixbh build -q >/dev/null 2>&1
        lowers=$("$BERTH" image inspect bfixbh-q | jq -r '.[0].LayerDirs | join(":")')
        mkdir -p "$work/mnt" "$work/empty" && mount -t overlay -o "lowerdir=$lowers:$work/empty" overlay "$work/mnt"
        check "berth's COPY --parents tree is buildah's" "$want" "$(cd "$work/mnt" && find p | sort)"
        umount "$work/mnt"
    else
        contains "buildah $(buildah --version | awk '{print $3}') refuses COPY --parents (no comparison possible)" "COPY only supports" "$(cat "$work/bh.log")"
    fi
    bh rmi -a -f >/dev/null 2>&1
fi

# --- ONBUILD through a stage ----------------------------------------------
mkdir -p "$work/ob" && cd "$work/ob"
cat > Dockerfile <<'EOF'
FROM bfix/busybox:1 AS base
ONBUILD RUN echo ran-in-child >> /triggered
RUN echo base > /base
FROM base AS a
ONBUILD RUN echo a-trigger >> /a-triggered
RUN cat /triggered > /seen-a
FROM a AS final
RUN cat /triggered /a-triggered > /seen-final
EOF
cat > compose.yaml <<'EOF'
services:
  base: {build: {context: ., target: base}}
  a: {build: {context: ., target: a}}
  final: {build: {context: ., target: final}}
EOF
out=$("$BERTH" -p bfixob build final 2>&1)
check "a stage FROM a stage with ONBUILD builds" 0 $?
contains "the trigger runs at the child's FROM line" "[a 2/3] ONBUILD RUN echo ran-in-child >> /triggered" "$out"
check "… once: in the child, not again in the grandchild; the child's own trigger in the grandchild" "ran-in-child
a-trigger" "$("$BERTH" -p bfixob run --rm -T final cat /seen-final </dev/null 2>&1)"
"$BERTH" -p bfixob build -q base a >/dev/null 2>&1
check "the stage with ONBUILD keeps it in its config, unrun" '["RUN echo ran-in-child >> /triggered"] no' \
    "$("$BERTH" image inspect bfixob-base | jq -c '.[0].Config.OnBuild') $("$BERTH" -p bfixob run --rm -T base sh -c 'test -e /triggered && echo yes || echo no' </dev/null 2>&1)"
check "the child's config: its own trigger only (the base's spent)" '["RUN echo a-trigger >> /a-triggered"]' \
    "$("$BERTH" image inspect bfixob-a | jq -c '.[0].Config.OnBuild')"
check "the grandchild's config: none" "null" "$("$BERTH" image inspect bfixob-final | jq -c '.[0].Config.OnBuild')"

# --- build.network naming a project network --------------------------------
# docker compose (BuildKit) takes build.network as RUN's network mode only: a
# network's name is refused when it builds (the file loads). berth says so,
# naming the key and the fix.
mkdir -p "$work/bn" && cd "$work/bn"
printf 'FROM bfix/busybox:1\nRUN true\n' > Dockerfile
cat > compose.yaml <<'EOF'
networks:
  back: {}
services:
  api:
    image: bfix/busybox:1
    command: sleep 60
    networks: [back]
  web:
    build: {context: ., network: back}
    networks: [back]
EOF
"$BERTH" -p bfixbn ps >/dev/null 2>&1
check "the file loads (ps, down work on it, as with docker compose)" 0 $?
out=$("$BERTH" -p bfixbn build 2>&1)
check "build.network: a project network is refused when it builds" 1 $?
contains "… naming the file, line, key and what it is" "compose.yaml:9:34: services.web.build.network: RUN steps cannot join the project network \"back\"" "$out"
contains "… with the fix" "write network: default" "$out"
check "… before anything is made: no bridge" "0" "$(ip -o link | grep -c berth)"

cd "$work"
finish
