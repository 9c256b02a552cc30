#!/bin/sh
# The builder's later forms end to end: RUN --mount=type=secret (compose's
# build.secrets and --secret), bind from a stage or an image, tmpfs with a
# size, ssh (an agent socket); build.network (default bridge, none, host),
# extra_hosts, shm_size and additional_contexts (a directory and an image);
# COPY --exclude/--parents/--link, ADD --checksum; ONBUILD triggers; two
# independent stages built at once.
. "$(dirname "$0")/lib/common.sh"

"$here/lib/make-busybox-rootfs.sh" "$work/busybox.tar.gz"
"$BERTH" image import "$work/busybox.tar.gz" bfeat/busybox:1 >/dev/null || fail "import busybox"
ip link set lo up

# --- secrets -------------------------------------------------------------
mkdir -p "$work/sec" && cd "$work/sec"
printf 's3cret-file' > token.txt
cat > Dockerfile <<'EOF'
FROM bfeat/busybox:1
RUN --mount=type=secret,id=token cat /run/secrets/token > /seen-file && stat -c '%a %u:%g' /run/secrets/token > /seen-mode
RUN --mount=type=secret,id=token,env=TOKEN,target=/s/tok,mode=0440,uid=7,gid=8 sh -c 'echo "$TOKEN" > /seen-env; stat -c "%a %u:%g" /s/tok > /seen-mode2'
RUN --mount=type=secret,id=absent echo optional-ok > /optional
EOF
cat > compose.yaml <<'EOF'
services:
  s:
    build:
      context: .
      secrets: [token]
secrets:
  token:
    file: ./token.txt
EOF
"$BERTH" -p bfeatsec build -q >"$work/sec.out" 2>&1
check "a build with build.secrets succeeds" 0 $?
out=$("$BERTH" -p bfeatsec run --rm -T s sh -c 'cat /seen-file; echo; cat /seen-mode /seen-env /seen-mode2 /optional; ls /run/secrets /s 2>&1' </dev/null 2>&1)
check "secret as a file (0400 root), as a variable with mode/uid/gid, an optional one skipped, none left in the image" "s3cret-file
400 0:0
s3cret-file
440 7:8
optional-ok
ls: /run/secrets: No such file or directory
ls: /s: No such file or directory" "$out"
check "the secret's file is in no layer" "" "$(find "$BERTH_ROOT" -path '*/run/secrets*' -o -path '*/s/tok' 2>/dev/null | head -1)"
check "the secret is in no image config" "" "$(grep -l s3cret-file $(find "$BERTH_ROOT/images" -name '*.json' 2>/dev/null) /dev/null 2>/dev/null)"
# --secret on the command line: from a variable, and it changes nothing in the cache key.
printf 'FROM bfeat/busybox:1\nRUN --mount=type=secret,id=tok,required cat /run/secrets/tok > /seen\n' > Dockerfile.cli
printf 'services:\n  c:\n    build:\n      context: .\n      dockerfile: Dockerfile.cli\n' > compose.cli.yaml
out=$("$BERTH" -p bfeatsec -f compose.cli.yaml build 2>&1)
check "a required secret not given fails" 1 $?
contains "… naming it and the line" "Dockerfile.cli:2:1: RUN: secret tok is required but was not given" "$out"
MYTOK=from-env "$BERTH" -p bfeatsec -f compose.cli.yaml build -q --secret id=tok,env=MYTOK >/dev/null 2>&1
check "--secret id=tok,env=VAR" "from-env" "$("$BERTH" -p bfeatsec -f compose.cli.yaml run --rm -T c cat /seen </dev/null 2>&1)"

# --- bind from a stage or an image, tmpfs, ssh ---------------------------
mkdir -p "$work/mnt" && cd "$work/mnt"
cat > Dockerfile <<'EOF'
FROM bfeat/busybox:1 AS maker
RUN echo made > /made.txt
FROM bfeat/busybox:1
RUN --mount=type=bind,from=maker,source=/made.txt,target=/m cat /m > /from-stage
RUN --mount=type=bind,from=bfeat/busybox:1,target=/img,rw touch /img/dropped && ls /img/bin/busybox > /from-image
RUN --mount=type=tmpfs,target=/scratch,size=1m df -k /scratch | tail -1 | awk '{print $2}' > /tmpfs-size && touch /scratch/x
RUN --mount=type=ssh test -S "$SSH_AUTH_SOCK" && echo "$SSH_AUTH_SOCK" > /ssh-sock
EOF
printf 'services:\n  m:\n    build:\n      context: .\n      ssh: ["default=%s/agent.sock"]\n' "$work" > compose.yaml
python3 -c 'import socket,sys; s=socket.socket(socket.AF_UNIX); s.bind(sys.argv[1])' "$work/agent.sock"
"$BERTH" -p bfeatmnt build -q >"$work/mnt.out" 2>&1
check "bind from=stage/image, tmpfs, ssh build" 0 $?
out=$("$BERTH" -p bfeatmnt run --rm -T m sh -c 'cat /from-stage /from-image /tmpfs-size /ssh-sock; ls /m /img /scratch /run/buildkit 2>&1' </dev/null 2>&1)
check "files read from a stage and an image, a 1 MiB tmpfs, the agent's socket; no mount points left" "made
/img/bin/busybox
1024
/run/buildkit/ssh_agent.0
ls: /m: No such file or directory
ls: /img: No such file or directory
ls: /scratch: No such file or directory
ls: /run/buildkit: No such file or directory" "$out"
printf 'FROM bfeat/busybox:1\nRUN --mount=type=ssh,required true\n' > Dockerfile.ssh
printf 'services:\n  n:\n    build:\n      context: .\n      dockerfile: Dockerfile.ssh\n' > compose.ssh.yaml
out=$("$BERTH" -p bfeatmnt -f compose.ssh.yaml build 2>&1)
contains "a required ssh agent not given is named" "Dockerfile.ssh:2:1: RUN: ssh agent default is required but was not given" "$out"

# --- network, extra_hosts, shm_size --------------------------------------
mkdir -p "$work/net/www" && cd "$work/net"
echo over-the-bridge > www/f
ip link add bfeathost0 type bridge
busybox httpd -f -p 0.0.0.0:18941 -h "$work/net/www" &
httpd=$!
cat > Dockerfile <<'EOF'
FROM bfeat/busybox:1
RUN gw=$(ip route | awk '/^default/ {print $3}'); wget -q -O /fetched "http://$gw:18941/f"; ip -o link | grep -c . > /links-default
RUN --network=none ip -o link | awk -F': ' '{print $2}' > /links-none
RUN --network=host ip -o link | grep -c bfeathost0 > /host-link
RUN grep myhost /etc/hosts | awk '{print $1}' > /hosts; df -k /dev/shm | tail -1 | awk '{print $2}' > /shm
EOF
cat > compose.yaml <<'EOF'
services:
  n:
    build:
      context: .
      extra_hosts: ["myhost:10.1.2.3"]
      shm_size: 8m
      entitlements: [network.host]
EOF
"$BERTH" -p bfeatnet build -q >"$work/net.out" 2>&1
check "a build on the default bridge, none and host" 0 $?
out=$("$BERTH" -p bfeatnet run --rm -T n sh -c 'cat /fetched /links-default /links-none /host-link /hosts /shm' </dev/null 2>&1)
check "the bridge reaches the host, none has lo only, host sees the host's links, extra_hosts, shm_size" "over-the-bridge
2
lo
1
10.1.2.3
8192" "$out"
check "no build bridge left" "0" "$(ip -o link | grep -c berth-)"
sed -i '/entitlements/d' compose.yaml
out=$("$BERTH" -p bfeatnet build --no-cache 2>&1)
contains "RUN --network=host without the entitlement is refused" "Dockerfile:4:1: RUN: RUN --network=host needs the network.host entitlement" "$out"
printf 'FROM bfeat/busybox:1\nRUN ip -o link | grep -c . > /links\n' > Dockerfile.none
printf 'services:\n  n:\n    build:\n      context: .\n      dockerfile: Dockerfile.none\n      network: none\n' > compose.none.yaml
"$BERTH" -p bfeatnet -f compose.none.yaml build -q >/dev/null 2>&1
check "build.network: none" "1" "$("$BERTH" -p bfeatnet -f compose.none.yaml run --rm -T n cat /links </dev/null 2>&1)"
kill $httpd
wait $httpd 2>/dev/null
ip link del bfeathost0

# --- additional_contexts -------------------------------------------------
mkdir -p "$work/ctx/app" "$work/ctx/shared" && cd "$work/ctx/app"
echo from-shared > ../shared/lib.txt
cat > Dockerfile <<'EOF'
FROM base
COPY --from=shared lib.txt /lib.txt
RUN --mount=type=bind,from=shared,target=/sh cat /sh/lib.txt > /mounted
EOF
cat > compose.yaml <<'EOF'
services:
  a:
    build:
      context: .
      additional_contexts:
        shared: ../shared
        base: docker-image://bfeat/busybox:1
EOF
"$BERTH" -p bfeatctx build -q >"$work/ctx.out" 2>&1
check "additional_contexts: a directory and an image" 0 $?
check "COPY --from and a bind mount of a named context, FROM a named image" "from-shared
from-shared" "$("$BERTH" -p bfeatctx run --rm -T a cat /lib.txt /mounted </dev/null 2>&1)"
echo changed > ../shared/lib.txt
"$BERTH" -p bfeatctx build -q >/dev/null 2>&1
check "a change in the named context reruns its COPY" "changed" "$("$BERTH" -p bfeatctx run --rm -T a cat /lib.txt </dev/null 2>&1)"

# --- COPY --exclude/--parents/--link, ADD --checksum ---------------------
mkdir -p "$work/cp/src/a/b" "$work/cp/www" && cd "$work/cp"
echo keep > src/a/keep.txt
echo drop > src/a/drop.tmp
echo deep > src/a/b/deep.txt
echo remote > www/r.txt
sum=$(sha256sum www/r.txt | cut -d' ' -f1)
busybox httpd -f -p 127.0.0.1:18942 -h "$work/cp/www" &
httpd=$!
cat > Dockerfile <<EOF
FROM bfeat/busybox:1
ARG V=1
RUN echo \$V > /v
COPY --exclude=**/*.tmp --exclude=a/b src/ /ex/
COPY --parents src/a/b/deep.txt src/a/keep.txt /par/
COPY --link --chown=nobody src/a/keep.txt /linked/
ADD --checksum=sha256:$sum http://127.0.0.1:18942/r.txt /r.txt
EOF
printf 'services:\n  c:\n    build: .\n' > compose.yaml
"$BERTH" -p bfeatcp build -q >"$work/cp.out" 2>&1
check "COPY --exclude/--parents/--link and ADD --checksum build" 0 $?
out=$("$BERTH" -p bfeatcp run --rm -T c sh -c 'cd /; find ex par linked | sort; stat -c %U linked/keep.txt; cat r.txt' </dev/null 2>&1)
check "excluded files left out, parents kept, a linked copy owned by name, the checked download" "ex
ex/a
ex/a/keep.txt
linked
linked/keep.txt
par
par/src
par/src/a
par/src/a/b
par/src/a/b/deep.txt
par/src/a/keep.txt
nobody
remote" "$out"
# --link: its layer is reused when the steps below it change.
layer_of() { "$BERTH" image inspect bfeatcp-c | jq -r '.[0].RootFS.Layers[-2]'; }
l1=$(layer_of)
out=$("$BERTH" -p bfeatcp build --build-arg V=2 2>&1)
check "a changed RUN below reruns" "DONE" "$(echo "$out" | grep -A1 'RUN echo' | tail -1 | grep -o DONE)"
check "the layers over it are made again: COPY --exclude reruns" "DONE" "$(echo "$out" | grep -A1 'COPY --exclude' | tail -1 | grep -o DONE)"
check "COPY --link is CACHED over a changed parent" "CACHED" "$(echo "$out" | grep -A1 'COPY --link' | tail -1 | grep -o CACHED)"
check "… its layer the same" "$l1" "$(layer_of)"
echo tampered > www/r.txt
out=$("$BERTH" -p bfeatcp build 2>&1)
check "a checksum mismatch fails the build" 1 $?
contains "… saying so, with both sums" "ADD: checksum of http://127.0.0.1:18942/r.txt does not match: expected sha256:$sum, got sha256:" "$out"
kill $httpd
wait $httpd 2>/dev/null

# --- ONBUILD ---------------------------------------------------------------
mkdir -p "$work/ob" && cd "$work/ob"
echo payload > payload.txt
printf 'FROM bfeat/busybox:1\nONBUILD COPY payload.txt /triggered/\nONBUILD RUN echo ran > /triggered/run\n' > Dockerfile.base
printf 'FROM bfeat/onbase:1\nRUN cat /triggered/payload.txt /triggered/run > /seen\n' > Dockerfile
cat > compose.yaml <<'EOF'
services:
  base:
    build: {context: ., dockerfile: Dockerfile.base}
    image: bfeat/onbase:1
  child:
    build: .
EOF
"$BERTH" -p bfeatob build -q base >/dev/null 2>&1
check "the base image records its ONBUILD triggers" '["COPY payload.txt /triggered/","RUN echo ran > /triggered/run"]' \
    "$("$BERTH" image inspect bfeat/onbase:1 | jq -c '.[0].Config.OnBuild')"
out=$("$BERTH" -p bfeatob build child 2>&1)
check "a build FROM it succeeds" 0 $?
contains "the triggers run at its FROM" "ONBUILD COPY payload.txt /triggered/" "$out"
check "… and their files are there" "payload
ran" "$("$BERTH" -p bfeatob run --rm -T child cat /seen </dev/null 2>&1)"
check "the triggers are spent: not in the child's config" "null" "$("$BERTH" image inspect bfeatob-child | jq -c '.[0].Config.OnBuild')"

# --- independent stages at once ------------------------------------------
mkdir -p "$work/par" && cd "$work/par"
cat > Dockerfile <<'EOF'
FROM bfeat/busybox:1 AS one
RUN date +%s.%N > /start; sleep 1; echo one > /out
FROM bfeat/busybox:1 AS two
RUN date +%s.%N > /start; sleep 1; echo two > /out
FROM bfeat/busybox:1
COPY --from=one /out /start /one/
COPY --from=two /out /start /two/
EOF
printf 'services:\n  p:\n    build: .\n' > compose.yaml
i=0
while [ $i -lt 5 ]; do
    timeout 60 "$BERTH" -p bfeatpar build -q --no-cache >"$work/par.out" 2>&1 || { fail "parallel build $i: $(tail -3 "$work/par.out")"; break; }
    i=$((i + 1))
done
check "five parallel builds, none hung" 5 $i
out=$("$BERTH" -p bfeatpar run --rm -T p sh -c 'cat /one/out /two/out; cat /one/start /two/start' </dev/null 2>&1)
contains "both stages built" "one
two" "$out"
check "their RUNs overlapped (started under 0.8 s apart)" 1 "$(echo "$out" | tail -2 | tr '\n' ' ' | awk '{d = $1 - $2; if (d < 0) d = -d; print (d < 0.8) ? 1 : 0}')"

cd "$work"
finish
