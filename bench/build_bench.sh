#!/bin/sh
# build_bench.sh BERTH [RUNS]: image builds — a 10-step Dockerfile (FROM a
# local busybox image, ENV/ARG/WORKDIR, COPYs from a small context, RUNs) built
# cold and rebuilt unchanged, by berth and by Debian's buildah (chroot
# isolation, overlay storage or $BH_DRIVER) in one run on this machine; medians of RUNS (3).
# Goals: an unchanged rebuild under 0.5 s; a cold build no slower than buildah's.
# Then two independent stages built cold one at a time (BERTH_BUILD_PARALLEL=0) and at once.
set -eu
if [ "${BERTH_BENCH_INNER:-}" != 1 ]; then
    exec unshare --mount --net --propagation private env BERTH_BENCH_INNER=1 sh "$0" "$@"
fi
berth=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
runs=${2:-3}
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d /tmp/berth-buildbench-XXXXXX)
trap 'rm -rf "$work"' EXIT
export BERTH_ROOT="$work/root" BERTH_RUNTIME_DIR="$work/run"
"$here/../tests/integration/lib/make-busybox-rootfs.sh" "$work/bb.tar"
"$berth" image import "$work/bb.tar" localhost/benchbb:1 >/dev/null
bh() { buildah --root "$work/bh-root" --runroot "$work/bh-run" --storage-driver "${BH_DRIVER:-overlay}" "$@"; }
have_buildah=0
if command -v buildah >/dev/null; then
    ctr=$(bh from scratch) && bh add "$ctr" "$work/bb.tar" / >/dev/null && bh commit -q "$ctr" localhost/benchbb:1 >/dev/null &&
        bh rm "$ctr" >/dev/null && have_buildah=1
fi

mkdir -p "$work/ctx/src"
cd "$work/ctx"
i=0
while [ $i -lt 50 ]; do head -c 20000 /dev/urandom > "src/f$i.bin"; i=$((i + 1)); done
cat > Dockerfile <<'EOF'
FROM localhost/benchbb:1
ARG V=1
ENV APP=/app
WORKDIR /app
COPY src/ ./src/
RUN cat src/*.bin | md5sum > sum
RUN mkdir -p out && for i in 1 2 3 4 5; do echo $i > out/$i; done
COPY Dockerfile /app/
RUN ls -l /app > listing
CMD ["sh"]
EOF
printf 'services:\n  app:\n    build: .\n    image: localhost/benchout:1\n' > compose.yaml

now_ms() { echo $(( $(date +%s%N) / 1000000 )); }
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
time_ms() { t0=$(now_ms); "$@" >/dev/null 2>&1 || { echo "failed: $*" >&2; exit 1; }; echo $(( $(now_ms) - t0 )); }

berth_cold="" berth_warm="" bh_cold="" bh_warm=""
r=0
while [ $r -lt "$runs" ]; do
    "$berth" builder prune >/dev/null
    berth_cold="$berth_cold $(time_ms "$berth" -p bench build -q)"
    berth_warm="$berth_warm $(time_ms "$berth" -p bench build -q)"
    if [ $have_buildah = 1 ]; then
        bh rmi -f localhost/benchout:1 >/dev/null 2>&1 || true
        bh rmi --prune >/dev/null 2>&1 || true  # its cache: the untagged images of each step
        bh_cold="$bh_cold $(time_ms bh build -q --isolation chroot --layers -t localhost/benchout:1 .)"
        bh_warm="$bh_warm $(time_ms bh build -q --isolation chroot --layers -t localhost/benchout:1 .)"
    fi
    r=$((r + 1))
done
bc=$(echo $berth_cold | tr ' ' '\n' | median)
bw=$(echo $berth_warm | tr ' ' '\n' | median)
echo "10-step Dockerfile, 50 x 20 kB context, median of $runs runs (buildah: chroot isolation, ${BH_DRIVER:-overlay} storage)"
printf '%-28s %8s ms\n' "berth cold build" "$bc" "berth unchanged rebuild" "$bw"
if [ $have_buildah = 1 ]; then
    hc=$(echo $bh_cold | tr ' ' '\n' | median)
    hw=$(echo $bh_warm | tr ' ' '\n' | median)
    printf '%-28s %8s ms\n' "buildah cold build" "$hc" "buildah unchanged rebuild" "$hw"
    awk -v a="$bc" -v b="$hc" 'BEGIN { printf "cold: berth/buildah = %.2f\n", a / b }'
    awk -v a="$bw" -v b="$hw" 'BEGIN { printf "unchanged rebuild: berth/buildah = %.2f\n", a / b }'
else
    echo "buildah not installed: no comparison"
fi
awk -v a="$bw" 'BEGIN { printf "goal unchanged rebuild < 500 ms: %s\n", a < 500 ? "met" : "NOT met" }'

# Two independent stages (each: a COPY and three RUNs) and a last stage copying
# from both, built cold one stage after the other (BERTH_BUILD_PARALLEL=0, as
# before stages built at once) and with the two stages at once.
mkdir -p "$work/par/src"
cd "$work/par"
cp "$work"/ctx/src/f1*.bin src/
cat > Dockerfile <<'EOF'
FROM localhost/benchbb:1 AS one
COPY src/ /src/
RUN cat /src/*.bin | md5sum > /sum
RUN i=0; while [ $i -lt 20000 ]; do i=$((i + 1)); done; echo $i > /count
RUN ls -l /src > /listing
FROM localhost/benchbb:1 AS two
COPY src/ /src/
RUN cat /src/*.bin | sha1sum > /sum
RUN i=0; while [ $i -lt 20000 ]; do i=$((i + 1)); done; echo $i > /count
RUN ls -l /src > /listing
FROM localhost/benchbb:1
COPY --from=one /sum /one.sum
COPY --from=two /sum /two.sum
EOF
printf 'services:\n  par:\n    build: .\n    image: localhost/benchpar:1\n' > compose.yaml
serial="" parallel=""
r=0
while [ $r -lt "$runs" ]; do
    "$berth" builder prune >/dev/null
    serial="$serial $(time_ms env BERTH_BUILD_PARALLEL=0 "$berth" -p benchpar build -q)"
    "$berth" builder prune >/dev/null
    parallel="$parallel $(time_ms "$berth" -p benchpar build -q)"
    r=$((r + 1))
done
ps=$(echo $serial | tr ' ' '\n' | median)
pp=$(echo $parallel | tr ' ' '\n' | median)
echo "two independent stages (COPY + 3 RUNs each) and a last stage, cold, median of $runs runs"
printf '%-28s %8s ms\n' "berth, one stage at a time" "$ps" "berth, stages at once" "$pp"
awk -v a="$pp" -v b="$ps" 'BEGIN { printf "stages at once / one at a time = %.2f (%d cores)\n", a / b, '"$(nproc)"' }'
