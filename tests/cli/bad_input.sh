#!/bin/sh
# Hostile and wrong input: every case must end within 2 s of CPU time (of
# wall time without /usr/bin/time; each runs under `timeout 10`), within 1 GiB of address space (ulimit -v; max RSS under
# 256 MiB where /usr/bin/time is there), with exit status 1 and an error that
# holds a given text (file:line:col where there is one), and leave the state
# root ($BERTH_ROOT) byte for byte as it was. The compose cases need no root.
# Usage: bad_input.sh BERTH_BINARY
set -u
berth=$1
tmp=$(mktemp -d /tmp/berth-badinput.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
export BERTH_ROOT="$tmp/root" BERTH_RUNTIME_DIR="$tmp/run"
mkdir -p "$BERTH_ROOT" "$BERTH_RUNTIME_DIR"
fail=0
count=0

snapshot() {
    (cd "$BERTH_ROOT" && find . | sort && find . -type f | sort | xargs -r sha256sum)
}

# expect NAME TEXT COMMAND...: runs COMMAND, wants exit 1 and TEXT in its output.
expect() {
    name=$1 want=$2
    shift 2
    count=$((count + 1))
    before=$(snapshot)
    # Under ASan (BERTH_SANITIZED=1, set by tests/CMakeLists.txt) the shadow memory needs a
    # huge address space and every step is several times slower: no ulimit -v, 10x the time.
    if [ "${BERTH_SANITIZED:-0}" = 1 ]; then vlimit=unlimited scale=10 rsslimit=1048576; else vlimit=1048576 scale=1 rsslimit=262144; fi
    start=$(date +%s%N)
    if [ -x /usr/bin/time ]; then
        out=$( (ulimit -v $vlimit; timeout $((10 * scale)) /usr/bin/time -f 'maxrss_kb=%M cpu=%U+%S' -o "$tmp/rss" "$@") 2>&1)
    else
        out=$( (ulimit -v $vlimit; timeout $((10 * scale)) "$@") 2>&1)
    fi
    status=$?
    ms=$((($(date +%s%N) - start) / 1000000))
    rss=$(sed -n 's/^maxrss_kb=\([0-9]*\) .*/\1/p' "$tmp/rss" 2>/dev/null | tail -1)
    cpu_ms=$(sed -n 's/.* cpu=\([0-9.]*\)+\([0-9.]*\)$/\1 \2/p' "$tmp/rss" 2>/dev/null | tail -1 |
        awk '{ printf "%d", ($1 + $2) * 1000 }')
    rm -f "$tmp/rss"
    why=""
    if [ "$status" -eq 124 ]; then why="hung (killed after 10 s)"
    elif [ "$status" -ne 1 ]; then why="exit status $status, want 1"
    else
        case "$out" in *"$want"*) ;; *) why="error lacks \"$want\"" ;; esac
    fi
    # The bound is on CPU time where /usr/bin/time measures it: other jobs on a
    # shared machine stretch wall time (the `timeout 10` above still bounds that).
    if [ -n "$cpu_ms" ]; then
        [ -z "$why" ] && [ "$cpu_ms" -ge $((2000 * scale)) ] && why="took $cpu_ms ms of CPU, want < $((2000 * scale))"
    else
        [ -z "$why" ] && [ "$ms" -ge $((2000 * scale)) ] && why="took $ms ms, want < $((2000 * scale))"
    fi
    [ -z "$why" ] && [ -n "$rss" ] && [ "$rss" -gt "$rsslimit" ] && why="max RSS $rss KiB, want < $rsslimit KiB"
    [ -z "$why" ] && [ "$(snapshot)" != "$before" ] && why="the state root changed"
    if [ -n "$why" ]; then
        echo "FAIL $name: $why; output:"; echo "$out" | head -c 2000 | sed 's/^/    /'
        fail=$((fail + 1))
    else
        echo "ok   $name (${ms} ms wall${cpu_ms:+, $cpu_ms ms CPU}${rss:+, ${rss} KiB max RSS})"
    fi
}

# "$config" ARGS: berth -p badinput ARGS config in a clean environment (a
# script, not a function, so that /usr/bin/time and timeout can run it).
config=$tmp/config
printf '#!/bin/sh\nexec env -i PATH="$PATH" HOME=/root BERTH_ROOT="%s" BERTH_RUNTIME_DIR="%s" "%s" -p badinput "$@" config\n' \
    "$BERTH_ROOT" "$BERTH_RUNTIME_DIR" "$berth" > "$config"
chmod +x "$config"

d=$tmp/p
mkdir -p "$d"
svc='services:
  web:
    image: busybox'

# --- hangs and crashes ---

# Billion laughs: nine levels of ten aliases, 10^9 values from 500 bytes.
{
    echo "$svc"
    echo 'x-a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol","lol"]'
    prev=a
    for l in b c d e f g h i; do
        echo "x-$l: &$l [*$prev,*$prev,*$prev,*$prev,*$prev,*$prev,*$prev,*$prev,*$prev,*$prev]"
        prev=$l
    done
    echo "x-use: *i"
} > "$d/bomb.yaml"
expect alias-bomb "bomb.yaml:9:31: the document expands" "$config" -f "$d/bomb.yaml"
expect alias-bomb-message "expands to more than 1000000 values" "$config" -f "$d/bomb.yaml"

# Nesting: 5,000 levels of flow lists.
{ echo "$svc"; printf 'x-deep: '; i=0; while [ $i -lt 5000 ]; do printf '['; i=$((i + 1)); done
  i=0; while [ $i -lt 5000 ]; do printf ']'; i=$((i + 1)); done; echo; } > "$d/deep.yaml"
expect deep-nesting "deep.yaml:4:" "$config" -f "$d/deep.yaml"

mkfifo "$d/fifo.yaml" "$d/fifo.env"
expect fifo-compose-file "fifo.yaml is a FIFO (named pipe), not a regular file" "$config" -f "$d/fifo.yaml"
printf '%s\n' "$svc" > "$d/ok.yaml"
expect fifo-env-file-flag "fifo.env is a FIFO (named pipe), not a regular file" "$config" -f "$d/ok.yaml" --env-file "$d/fifo.env"
printf '%s\n    env_file: fifo.env\n' "$svc" > "$d/envfifo.yaml"
expect fifo-env_file-key "envfifo.yaml:4:15: services.web.env_file: env file $d/fifo.env is a FIFO" "$config" -f "$d/envfifo.yaml"

expect dev-zero-compose-file "/dev/zero is a character device, not a regular file" "$config" -f /dev/zero
expect dev-zero-env-file "/dev/zero is a character device, not a regular file" "$config" -f "$d/ok.yaml" --env-file /dev/zero
truncate -s 17M "$d/huge.yaml"
expect huge-compose-file "huge.yaml is too large (more than 16 MiB)" "$config" -f "$d/huge.yaml"
truncate -s 17M "$d/huge.env"
expect huge-env-file "huge.env is too large (more than 16 MiB)" "$config" -f "$d/ok.yaml" --env-file "$d/huge.env"

# 100,000 environment keys load quickly (the error at the end proves the whole file was read).
{
    echo "$svc"
    echo "    environment:"
    seq 1 100000 | sed 's/.*/      K&: v&/'
    echo "    cpus: -1"
} > "$d/manykeys.yaml"
expect many-environment-keys "manykeys.yaml:100005:11: services.web.cpus: must not be negative" "$config" -f "$d/manykeys.yaml"
seq 1 100000 | sed 's/.*/K&=v&/' > "$d/many.env"
echo 'K100001=${' >> "$d/many.env"
expect many-env-file-keys "many.env:100001:9: K100001: invalid interpolation" "$config" -f "$d/ok.yaml" --env-file "$d/many.env"
printf '%s\n    env_file: many.env\n' "$svc" > "$d/manyenv.yaml"
expect many-env_file-keys "many.env:100001:9: K100001: invalid interpolation" "$config" -f "$d/manyenv.yaml"

digits=$(printf '%05000d' 1 | tr 0 9)
printf '%s\n    mem_limit: %s\n' "$svc" "$digits" > "$d/memlimit.yaml"
expect mem-limit-5000-digits "memlimit.yaml:4:16: services.web.mem_limit: value out of range: \"9999" "$config" -f "$d/memlimit.yaml"
printf '%s\n    stop_grace_period: %ss\n' "$svc" "$digits" > "$d/grace-long.yaml"
expect grace-5000-digits "grace-long.yaml:4:24: services.web.stop_grace_period: value out of range" "$config" -f "$d/grace-long.yaml"

# --- accepted though wrong ---

: > "$d/empty.yaml"
expect empty-file "empty.yaml:1:1: the compose file is empty" "$config" -f "$d/empty.yaml"
echo 'name: badinput' > "$d/nameonly.yaml"
expect no-services-key "nameonly.yaml:1:1: services: the project defines no services" "$config" -f "$d/nameonly.yaml"
printf 'name: badinput\nservices: {}\n' > "$d/emptyservices.yaml"
expect empty-services "emptyservices.yaml:2:11: services: the project defines no services" "$config" -f "$d/emptyservices.yaml"

printf '%s\n    cpus: 1e308\n' "$svc" > "$d/cpus-huge.yaml"
expect cpus-1e308 "cpus-huge.yaml:4:11: services.web.cpus: value out of range" "$config" -f "$d/cpus-huge.yaml"
printf '%s\n    cpus: -0.5\n' "$svc" > "$d/cpus-neg.yaml"
expect cpus-negative "cpus-neg.yaml:4:11: services.web.cpus: must not be negative" "$config" -f "$d/cpus-neg.yaml"
printf '%s\n    deploy:\n      resources:\n        limits:\n          cpus: "1e308"\n' "$svc" > "$d/deploy-cpus.yaml"
expect deploy-cpus-1e308 "deploy-cpus.yaml:7:17: services.web.deploy.resources.limits.cpus: value out of range" "$config" -f "$d/deploy-cpus.yaml"
printf '%s\n    stop_grace_period: -5s\n' "$svc" > "$d/grace.yaml"
expect grace-negative "grace.yaml:4:24: services.web.stop_grace_period: must not be negative" "$config" -f "$d/grace.yaml"
for k in interval timeout start_period start_interval; do
    printf '%s\n    healthcheck:\n      test: ["CMD", "true"]\n      %s: -1s\n' "$svc" "$k" > "$d/hc-$k.yaml"
    col=$((${#k} + 9))
    expect "healthcheck-$k-negative" "hc-$k.yaml:6:$col: services.web.healthcheck.$k: must not be negative" "$config" -f "$d/hc-$k.yaml"
done

printf 'A=1\nB=x\000y\n' > "$d/nul.env"
expect nul-env-file-flag "nul.env:2:4: the file holds a NUL byte" "$config" -f "$d/ok.yaml" --env-file "$d/nul.env"
printf '%s\n    env_file: nul.env\n' "$svc" > "$d/nulenv.yaml"
expect nul-env_file-key "nul.env:2:4: the file holds a NUL byte" "$config" -f "$d/nulenv.yaml"
printf '%s\n    command: ["a\000b"]\n' "$svc" > "$d/nul.yaml"
expect nul-compose-file "nul.yaml:4:17: the file holds a NUL byte" "$config" -f "$d/nul.yaml"

# --- image archives (a state root holding one image; nothing may change) ---

if [ "$(id -u)" -eq 0 ]; then
    mkdir -p "$tmp/rootfs/bin"
    head -c 200000 /dev/urandom > "$tmp/rootfs/bin/blob"
    echo hello > "$tmp/rootfs/hello"
    tar -C "$tmp/rootfs" -cf "$tmp/good.tar" .
    if ! "$berth" image import "$tmp/good.tar" badinput-good:1 >/dev/null 2>&1; then
        echo "FAIL setup: berth image import of a good tarball failed"; fail=$((fail + 1))
    fi
    head -c 150000 "$tmp/good.tar" > "$tmp/truncated.tar"
    echo "not an archive" > "$tmp/text.tar"
    mkfifo "$tmp/fifo.tar"
    expect import-dev-zero "cannot import /dev/zero: it is not a regular file" "$berth" image import /dev/zero badinput-bad:1
    expect import-fifo "cannot import $tmp/fifo.tar: it is not a regular file" "$berth" image import "$tmp/fifo.tar" badinput-bad:1
    expect import-not-an-archive "text.tar" "$berth" image import "$tmp/text.tar" badinput-bad:1
    expect import-truncated "truncated.tar" "$berth" image import "$tmp/truncated.tar" badinput-bad:1
    expect load-dev-zero "cannot load /dev/zero: it is not a regular file" "$berth" image load -i /dev/zero
    expect load-not-an-archive "text.tar" "$berth" image load -i "$tmp/text.tar"
    # A `docker save` archive whose second layer is truncated: the first layer's
    # blob and directory, stored before the failure, must go again.
    mkdir -p "$tmp/save/l1" "$tmp/save/l2"
    mkdir -p "$tmp/rootfs2" && echo other > "$tmp/rootfs2/other" && tar -C "$tmp/rootfs2" -cf "$tmp/save/l1/layer.tar" .
    cp "$tmp/truncated.tar" "$tmp/save/l2/layer.tar"
    echo '{"architecture":"amd64","os":"linux","config":{}}' > "$tmp/save/config.json"
    echo '[{"Config":"config.json","RepoTags":["badinput-bad:2"],"Layers":["l1/layer.tar","l2/layer.tar"]}]' > "$tmp/save/manifest.json"
    tar -C "$tmp/save" -cf "$tmp/badlayer.tar" manifest.json config.json l1 l2
    expect load-bad-layer "badlayer.tar" "$berth" image load -i "$tmp/badlayer.tar"
else
    echo "skip image cases: they extract layers and need root"
fi

echo "$((count - fail)) passed, $fail failed"
[ "$fail" -eq 0 ]
