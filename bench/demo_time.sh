#!/bin/sh
# demo_time.sh [COMMIT] [REPO]: the README's demo command, ./scripts/demo.sh, timed end to end
# as a newcomer runs it: a fresh `git clone` of COMMIT (default: HEAD of REPO; REPO default: the
# checkout this script is in) into a temporary directory, no build dir, ccache off
# (BERTH_CCACHE=0, CCACHE_DISABLE=1) and a fresh berth state root, so the demo compiles berth and
# builds every image of the stack. Prints the time of each part:
#   setup    ./scripts/setup.sh alone, first (on a machine where the packages are installed it
#            only checks them; apt's download and install time is not in it then)
#   demo     ./scripts/demo.sh, end to end (its own setup.sh call, configure, compile berth
#            alone, then the stack), and its parts, from a timestamp on each line it prints:
#            before the compiler's first line, compiling, and the stack (images built, up --wait,
#            one order through the gateway, ps, logs, down)
# As root. The demo runs in private mount and network namespaces (its port 8088 is theirs),
# with its state under the temporary directory, which is removed at the end.
set -eu
here=$(cd "$(dirname "$0")/.." && pwd)
commit=${1:-HEAD}
repo=${2:-$here}
if [ "$(id -u)" != 0 ]; then
    echo "demo_time.sh: run as root (the demo installs packages and runs containers)" >&2
    exit 1
fi
work=$(mktemp -d /tmp/berth-demotime-XXXXXX)
trap 'rm -rf "$work"' EXIT
now() { date +%s.%N; }
secs() { python3 -c "import sys; print('%.1f' % (float(sys.argv[2]) - float(sys.argv[1])))" "$1" "$2"; }

t0=$(now)
git clone -q --no-checkout "$repo" "$work/src"
git -C "$work/src" checkout -q --detach "$(git -C "$repo" rev-parse "$commit")"
t1=$(now)
rev=$(git -C "$work/src" rev-parse --short HEAD)
load0=$(cut -d' ' -f1-3 /proc/loadavg)

cd "$work/src"
unset CMAKE_C_COMPILER_LAUNCHER CMAKE_CXX_COMPILER_LAUNCHER BUILD_DIR KEEP SHOP_PORT
export BERTH_CCACHE=0 CCACHE_DISABLE=1
./scripts/setup.sh
t2=$(now)

# The demo, each line it prints with the seconds since its start; its exit status in demo.rc.
export BERTH_ROOT="$work/state" BERTH_RUNTIME_DIR="$work/run"
unshare --mount --net --propagation private sh -c \
    'ip link set lo up && ./scripts/demo.sh; echo $? > "$0/demo.rc"' "$work" 2>&1 |
    python3 -c '
import os, sys, time
t0, rest = float(sys.argv[1]), b""  # the demo'"'"'s start, as the shell took it
while True:
    chunk = os.read(0, 65536)  # as it comes: no read-ahead that would delay a line
    if not chunk:
        break
    *lines, rest = (rest + chunk).split(b"\n")
    for line in lines:
        sys.stdout.buffer.write(b"%9.3f %s\n" % (time.time() - t0, line))
    sys.stdout.flush()
if rest:
    sys.stdout.buffer.write(b"%9.3f %s\n" % (time.time() - t0, rest))' "$t2" | tee "$work/demo.log" | sed -u "s/^.\{10\}//"
t3=$(now)
rc=$(cat "$work/demo.rc" 2>/dev/null || echo 1)
load1=$(cut -d' ' -f1-3 /proc/loadavg)

# The demo's parts, from its output: the compiler's lines end with "[100%] Built target berth",
# the stack starts at "== berth up".
at() { awk -v re="$1" '$0 ~ re { print $1; exit }' "$work/demo.log"; }  # first line matching re
first=$(awk '$2 ~ /^\[/ && $0 ~ /%\]/ { print $1; exit }' "$work/demo.log")  # cmake's first "[  1%]"
built=$(at " Built target berth\$")  # not berth_base, berth_compose, …
stack=$(at "^ *[0-9.]+ == berth up")
last=$(awk 'END { print $1 }' "$work/demo.log")
total=$(secs "$t2" "$t3")

echo
echo "demo_time: commit $rev, fresh clone, no build dir, ccache off, fresh state root; $(nproc) CPUs"
echo "  load average at the start: $load0; at the end: $load1"
printf '  %-58s %8s s\n' "git clone + checkout" "$(secs "$t0" "$t1")"
printf '  %-58s %8s s\n' "./scripts/setup.sh (packages already installed: a check)" "$(secs "$t1" "$t2")"
printf '  %-58s %8s s\n' "./scripts/demo.sh, end to end" "$total"
if [ -n "$first" ] && [ -n "$built" ] && [ -n "$stack" ]; then
    printf '  %-58s %8s s\n' "  its setup check and cmake configure" "$(secs 0 "$first")"
    printf '  %-58s %8s s\n' "  compiling berth (the target berth alone)" "$(secs "$first" "$built")"
    printf '  %-58s %8s s\n' "  the stack: images built, up --wait, order, ps, logs, down" "$(secs "$stack" "$last")"
fi
if [ "$rc" != 0 ]; then
    echo "demo_time: ./scripts/demo.sh failed (exit $rc)" >&2
    exit 1
fi
