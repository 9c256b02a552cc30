#!/bin/sh
# README.md's commands, run as a newcomer runs them: every shell block marked
# `<!-- readme-test: run -->` (tests/cli/readme_blocks.py) is run in order, one shell per block,
# from the source root, as root in this private namespace with a temporary state root: the demo
# (scripts/demo.sh: setup, the build of berth, examples/shop), the five-minute tour
# (examples/hello: up -d, ps, the published port, exec, logs -f, down -v), setup.sh and
# `cmake --install` (into DESTDIR, whose files are then checked). Each command must exit 0; a
# `logs -f` line (its comment says Ctrl-C) must still be following, with output, after 5 s.
# Each block's project is named readme-LINE (COMPOSE_PROJECT_NAME), so it collides with no other
# test's cgroups. Blocks marked skip are listed with their reason.
. "$(dirname "$0")/lib/common.sh"
ip link set lo up
src=$(cd "$here/../.." && pwd)
build=$(cd "$(dirname "$BERTH")" && pwd)
mkdir -p "$work/blocks" "$work/destdir"
lines=$(python3 "$src/tests/cli/readme_blocks.py" "$src/README.md" "$build" "$work/blocks")
check "README blocks extracted" 0 $?
echo "$lines" | grep '^skip ' | sed 's/^skip \([0-9]*\) /skip README.md:\1: /'
ran=0
for n in $(echo "$lines" | grep -v '^skip '); do
    ran=$((ran + 1))
    echo "== README.md:$n"
    start=$(date +%s)
    out=$(cd "$src" && env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME="$work" \
        BERTH_ROOT="$BERTH_ROOT" BERTH_RUNTIME_DIR="$BERTH_RUNTIME_DIR" BUILD_DIR="$build" \
        DESTDIR="$work/destdir" COMPOSE_PROJECT_NAME="readme-$n" \
        sh "$work/blocks/block-$n.sh" 2>&1)
    echo "$out" | sed 's/^/     /'
    bad=$(echo "$out" | grep -c '^FAIL ')
    good=$(echo "$out" | grep -c '^ok ')
    check "README.md:$n: every command of the block ran as documented ($good passed, $(($(date +%s) - start)) s)" 0 "$bad"
    case "$out" in *": ./scripts/demo.sh"*)
        # The demo prints what each of the six services did with the one order.
        for line in "gateway: order for teapot" "orders: placed order" "inventory: reserved 1 teapot" \
            "store: saved order" "worker: order" "audit: logged order"; do
            contains "the demo printed \"$line\"" "$line" "$out"
        done ;;
    esac
    # Whatever a failed block left up.
    "$BERTH" -p "readme-$n" down -v >/dev/null 2>&1
done
check_no_leaks readme-
check "README blocks run" 1 "$([ "$ran" -ge 3 ] && echo 1)"

# What `cmake --install build --prefix /usr/local` put in DESTDIR.
inst="$work/destdir/usr/local"
for f in bin/berth lib/systemd/system/berth@.service share/man/man1/berth.1.gz \
    share/bash-completion/completions/berth share/zsh/vendor-completions/_berth \
    share/fish/vendor_completions.d/berth.fish; do
    check "installed $f" 1 "$([ -s "$inst/$f" ] && echo 1)"
done
check "the installed berth runs" "$("$BERTH" version --short)" "$("$inst/bin/berth" version --short 2>&1)"
contains "the installed unit starts the installed berth" "ExecStart=/usr/local/bin/berth" \
    "$(cat "$inst/lib/systemd/system/berth@.service" 2>/dev/null)"
finish
