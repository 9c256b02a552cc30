#!/bin/sh
# `berth build` and `up --build` end to end: a multi-stage Dockerfile whose
# first stage (FROM a local busybox image) makes files with RUN and whose last
# stage copies them into scratch; the rebuild is all CACHED; a one-file change
# reruns only the steps after its COPY; a failing RUN names its line; a
# compose project with two built services and depends_on comes up.
. "$(dirname "$0")/lib/common.sh"

"$here/lib/make-busybox-rootfs.sh" "$work/busybox.tar.gz"
"$BERTH" image import "$work/busybox.tar.gz" bldit/busybox:1 >/dev/null || fail "import busybox"

mkdir -p "$work/bldit/src" "$work/bldit/ignored"
cd "$work/bldit"
echo alpha > src/a.txt
echo beta > src/b.txt
echo secret > ignored/key
printf 'ignored\n**/*.tmp\n' > .dockerignore
echo junk > src/x.tmp
cat > Dockerfile <<'EOF'
FROM bldit/busybox:1 AS builder
ARG GREETING=hello
ENV STAGE=one
WORKDIR /work
COPY src/ ./src/
RUN mkdir -p /out && cat src/a.txt src/b.txt > /out/ab.txt && echo "$GREETING $STAGE" > /out/greeting && chmod 0750 /out/greeting
RUN ln -s ab.txt /out/link && mkdir /out/empty && ls /work/src > /out/listing

FROM scratch
COPY --from=builder /bin/busybox /bin/busybox
COPY --from=builder /out/ /data/
COPY --chown=65534:65534 --chmod=0600 src/a.txt /data/owned
ENV PATH=/bin
LABEL org.example.test=yes
EXPOSE 8080
WORKDIR /data
CMD ["/bin/busybox", "sh", "-c", "/bin/busybox cat ab.txt greeting; /bin/busybox sleep 1000"]
EOF
cat > compose.yaml <<'EOF'
services:
  app:
    build: .
    stop_grace_period: 1s
EOF

out=$("$BERTH" -p bldit build 2>&1)
check "build succeeds" 0 $?
contains "progress names stage and step" "[builder 4/5] RUN mkdir -p /out" "$out"
contains "progress names the scratch stage" "[stage-1 3/5] COPY --from=builder /out/ /data/" "$out"
contains "image is named <project>-<service>" "bldit-app" "$("$BERTH" image ls)"
insp=$("$BERTH" image inspect bldit-app)
contains "Cmd in the config" '"Cmd":["/bin/busybox","sh","-c"' "$(echo "$insp" | tr -d ' \n')"
contains "Env in the config" '"PATH=/bin"' "$insp"
contains "WorkingDir in the config" '"WorkingDir": "/data"' "$insp"
contains "ExposedPorts in the config" '"8080/tcp"' "$insp"
contains "Labels in the config" '"org.example.test": "yes"' "$insp"

out=$("$BERTH" -p bldit run --rm -T app /bin/busybox sh -c 'cat /data/ab.txt /data/greeting; readlink /data/link; cat /data/listing; stat -c "%a %u:%g %F" /data/greeting /data/owned /data/empty; ls /data/src 2>&1; ls -a / | tr "\n" " "' </dev/null 2>&1)
check "files made by RUN, copied into scratch" "alpha
beta
hello one
ab.txt
a.txt
b.txt
750 0:0 regular file
600 65534:65534 regular file
755 0:0 directory
ls: /data/src: No such file or directory
. .. bin data dev etc proc sys " "$out"

"$BERTH" -p bldit up -d >/dev/null 2>&1
check "up -d runs the built image" 0 $?
sleep 0.5
contains "the built image's CMD runs under up" "hello one" "$("$BERTH" -p bldit logs app 2>&1)"
"$BERTH" -p bldit down >/dev/null 2>&1

# Unchanged: every step from the cache, and the same image.
id1=$(echo "$insp" | grep '"Id"')
out=$("$BERTH" -p bldit build 2>&1)
check "rebuild: all 8 filesystem steps CACHED" 8 "$(echo "$out" | grep -c ' CACHED$')"
check "rebuild: the same image id" "$id1" "$("$BERTH" image inspect bldit-app | grep '"Id"')"

# A file .dockerignore excludes changes: still all cached.
echo other > ignored/key
echo more > src/y.tmp
out=$("$BERTH" -p bldit build 2>&1)
check "an ignored file's change reruns nothing" 8 "$(echo "$out" | grep -c ' CACHED$')"

# One copied file changes: the steps from its COPY on rerun, the ones before do not.
echo gamma > src/b.txt
out=$("$BERTH" -p bldit build 2>&1)
step() { echo "$out" | grep -A1 "$1" | tail -1 | sed 's/^#[0-9]* //'; }
check "WORKDIR before the change is CACHED" "CACHED" "$(step '\] WORKDIR /work')"
contains "the changed COPY reruns" "DONE" "$(step '\] COPY src/ ./src/')"
contains "the RUN after it reruns" "DONE" "$(step 'RUN mkdir -p /out')"
contains "the last stage's COPY --from of the changed files reruns" "DONE" "$(step 'COPY --from=builder /out/')"
check "a COPY --from of files that did not change is CACHED" "CACHED" "$(step 'COPY --from=builder /bin/busybox')"
out=$("$BERTH" -p bldit run --rm -T app /bin/busybox cat /data/ab.txt </dev/null 2>&1)
check "the change is in the image" "alpha
gamma" "$out"

# --no-cache reruns everything; -q prints nothing.
out=$("$BERTH" -p bldit build --no-cache -q 2>&1)
check "build -q --no-cache prints nothing" "" "$out"

# A failing RUN: its output, exit code and Dockerfile line.
printf 'FROM bldit/busybox:1\nRUN echo step one\nRUN echo something broke >&2; exit 3\n' > Dockerfile.fail
cat > compose.fail.yaml <<'EOF'
services:
  bad:
    build:
      context: .
      dockerfile: Dockerfile.fail
EOF
out=$("$BERTH" -p bldit -f compose.fail.yaml build 2>&1)
check "a failing RUN fails the build" 1 $?
contains "names the Dockerfile line" "Dockerfile.fail:3:1: RUN" "$out"
contains "shows the exit code" "exited with code 3" "$out"
contains "shows the last output" "something broke" "$out"

# (a registry on loopback that is not there: the pull fails at once, nothing leaves the host)
printf 'FROM bldit/busybox:1\nFROM 127.0.0.1:9/bldit/nosuch:1 AS second\nRUN true\n' > Dockerfile.fail
out=$("$BERTH" -p bldit -f compose.fail.yaml build 2>&1)
check "a missing base image fails the build" 1 $?
contains "… named with its FROM line" "Dockerfile.fail:2:1: FROM: cannot pull base image 127.0.0.1:9/bldit/nosuch:1" "$out"

# --build-arg reaches ARG and RUN.
out=$("$BERTH" -p bldit build --build-arg GREETING=bonjour -q app 2>&1 && "$BERTH" -p bldit run --rm -T app /bin/busybox cat /data/greeting </dev/null 2>&1)
check "--build-arg" "bonjour one" "$out"

# Two built services, one depending on the other, with `up --build`.
mkdir -p "$work/bldit2/db" "$work/bldit2/web"
cd "$work/bldit2"
printf 'FROM bldit/busybox:1\nRUN echo db-ready > /ready\nCMD ["sh", "-c", "cat /ready; sleep 1000"]\n' > db/Dockerfile
printf 'FROM bldit/busybox:1\nARG ROLE\nRUN echo "web $ROLE" > /role\nCMD ["sh", "-c", "cat /role; sleep 1000"]\n' > web/Dockerfile
cat > compose.yaml <<'EOF'
services:
  db:
    build: ./db
    stop_grace_period: 1s
  web:
    build:
      context: web
      args:
        ROLE: front
    image: bldit2/web:dev
    depends_on: [db]
    stop_grace_period: 1s
EOF
"$BERTH" -p bldit2 up --build -d >"$work/up2.out" 2>&1
check "up --build brings up two built services" 0 $?
sleep 0.5
ps=$("$BERTH" -p bldit2 ps 2>&1)
contains "db runs" "bldit2-db-1" "$ps"
contains "web runs" "bldit2-web-1" "$ps"
check "web's image is its image:" 1 "$("$BERTH" image ls | grep -c '^bldit2/web  *dev ')"
contains "db's CMD ran" "db-ready" "$("$BERTH" -p bldit2 logs db 2>&1)"
contains "web's build arg" "web front" "$("$BERTH" -p bldit2 logs web 2>&1)"
# While up: `up --build` recreates the service whose image changed, and keeps the other.
sed -i 's/web \$ROLE/web2 $ROLE/' web/Dockerfile
out=$("$BERTH" -p bldit2 up --build -d 2>&1)
contains "up --build while up: web recreated" "bldit2-web-1  Recreated" "$out"
contains "… db kept running" "bldit2-db-1  Running" "$out"
sleep 0.5
contains "the new web image runs" "web2 front" "$("$BERTH" -p bldit2 logs web 2>&1)"
"$BERTH" -p bldit2 down >/dev/null 2>&1
out=$("$BERTH" -p bldit2 up --no-build -d 2>&1)
check "up --no-build with images present" 0 $?
"$BERTH" -p bldit2 down >/dev/null 2>&1

# ADD unpacks a local tar (owners kept), copies a plain file; COPY of a here-document.
mkdir -p "$work/bldadd/pack/dir" && cd "$work/bldadd"
echo inside > pack/dir/f
tar --owner=12 --group=34 -C pack -czf pack.tar.gz dir
echo plain > plain.txt
cat > Dockerfile <<'EOF'
FROM bldit/busybox:1
ARG NAME=world
ADD pack.tar.gz /opt/
ADD plain.txt /opt/
COPY <<EOT /etc/motd
hello $NAME
EOT
EOF
printf 'services:\n  s:\n    build: .\n' > compose.yaml
"$BERTH" -p bldadd build -q >/dev/null 2>&1
check "ADD and heredoc COPY build" 0 $?
out=$("$BERTH" -p bldadd run --rm -T s sh -c 'cat /opt/dir/f /opt/plain.txt /etc/motd; stat -c "%u:%g" /opt/dir/f; ls /opt' </dev/null 2>&1)
check "ADD unpacked the tar with its owners, COPY <<EOT wrote the expanded text" "inside
plain
hello world
12:34
dir
plain.txt" "$out"

# ADD of a URL: fetched (here from busybox httpd on loopback), mode 0600, refetched and compared each build.
ip link set lo up
mkdir -p "$work/www"
echo served-v1 > "$work/www/remote.txt"
busybox httpd -f -p 127.0.0.1:18931 -h "$work/www" &
httpd=$!
sleep 0.3
printf 'FROM bldit/busybox:1\nADD http://127.0.0.1:18931/remote.txt /opt/\nRUN cat /opt/remote.txt > /opt/copy\n' > Dockerfile
"$BERTH" -p bldadd build -q >/dev/null 2>&1
check "ADD of a URL builds" 0 $?
out=$("$BERTH" -p bldadd run --rm -T s sh -c 'cat /opt/copy; stat -c %a /opt/remote.txt' </dev/null 2>&1)
check "ADD of a URL: content and mode 600" "served-v1
600" "$out"
check "an unchanged URL is CACHED" 2 "$("$BERTH" -p bldadd build 2>&1 | grep -c ' CACHED$')"
echo served-v2 > "$work/www/remote.txt"
"$BERTH" -p bldadd build -q >/dev/null 2>&1
check "a changed URL reruns" "served-v2" "$("$BERTH" -p bldadd run --rm -T s cat /opt/copy </dev/null 2>&1)"
kill $httpd
wait $httpd 2>/dev/null

# RUN --mount: the context bound read-only, a cache dir kept from one build to the next, no mount point left in the image.
cat > Dockerfile <<'EOF'
FROM bldit/busybox:1
ARG N=1
RUN --mount=type=bind,target=/ctx/here cat /ctx/here/plain.txt > /from-bind
RUN --mount=type=cache,target=/var/cache/x echo $N >> /var/cache/x/log && wc -l < /var/cache/x/log > /count
EOF
"$BERTH" -p bldadd build -q >/dev/null 2>&1 && "$BERTH" -p bldadd build -q --build-arg N=2 >/dev/null 2>&1
check "RUN --mount builds" 0 $?
out=$("$BERTH" -p bldadd run --rm -T s sh -c 'cat /from-bind /count; ls -d /ctx /var/cache 2>&1' </dev/null 2>&1)
check "bind mount of the context, cache mount kept, no stubs" "plain
2
ls: /ctx: No such file or directory
ls: /var/cache: No such file or directory" "$out"

# Ctrl-C during a RUN: the step's container is killed and everything it made removed.
mkdir -p "$work/bldint" && cd "$work/bldint"
printf 'FROM bldit/busybox:1\nRUN echo started; sleep 30\n' > Dockerfile
printf 'services:\n  s:\n    build: .\n' > compose.yaml
"$BERTH" -p bldint build > "$work/int.out" 2>&1 &
pid=$!
for _ in $(seq 50); do grep -q started "$work/int.out" && break; sleep 0.1; done
kill -INT $pid
wait $pid
check "an interrupted build exits 130" 130 $?
contains "and says so" "build interrupted" "$(cat "$work/int.out")"
# A COPY of a file that is not there names it and the line.
printf 'FROM bldit/busybox:1\nCOPY nothere /x\n' > Dockerfile
out=$("$BERTH" -p bldint build 2>&1)
contains "a missing COPY source is named with its line" 'Dockerfile:2:1: COPY: "nothere": not found in the build context' "$out"

out=$("$BERTH" builder prune 2>&1)
contains "builder prune empties the cache" "cache entries removed" "$out"
check "the cache dir is empty" "" "$(ls "$BERTH_ROOT/build-cache")"
check "no build scratch dirs left" "" "$(ls "$BERTH_ROOT/build-tmp" 2>/dev/null)"
cd "$work"
check_no_leaks bldit
finish
