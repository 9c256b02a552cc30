#!/bin/sh
# The Debian package from packaging/ (CPack DEB), made from an already-built tree: it builds,
# holds the expected files, installs into and is removed from a scratch root (dpkg --root),
# its berth runs, berth.1 renders with `man -l` without warnings, the completions load, the
# unit passes `systemd-analyze verify` (when there is one) and lintian reports no error.
# Usage: package_test.sh BUILD_DIR
set -u
build=$(cd "${1:?usage: package_test.sh BUILD_DIR}" && pwd)
tmp=$(mktemp -d /tmp/berth-pkg-XXXXXX)
trap 'rm -rf "$tmp"' EXIT
fails=0
ok() { echo "ok   $1"; }
fail() { echo "FAIL $1"; fails=$((fails + 1)); }
check() { if [ "$2" = "$3" ]; then ok "$1"; else fail "$1: want [$2] got [$3]"; fi; }

# The generated docs are part of ALL; make sure they are current (cheap: no compiling).
cmake --build "$build" --target berth_docs >/dev/null || fail "berth_docs"
out=$(cd "$tmp" && cpack --config "$build/CPackConfig.cmake" -B "$tmp/out" 2>&1)
check "cpack builds the package" 0 $?
deb=$(ls "$tmp"/out/berth_*.deb 2>/dev/null | head -1)
[ -n "$deb" ] || { echo "$out"; fail "no .deb in $tmp/out"; echo "$fails failed"; exit 1; }
echo "     $(basename "$deb"): $(du -k "$deb" | cut -f1) KiB"

files=$(dpkg-deb -c "$deb" | awk '{print $6}' | sed 's|^\./|/|' | grep -v '/$' | sort)
want="/usr/bin/berth
/usr/lib/systemd/system/berth@.service
/usr/share/bash-completion/completions/berth
/usr/share/doc/berth/changelog.gz
/usr/share/doc/berth/copyright
/usr/share/doc/berth/examples/berth.env.example
/usr/share/fish/vendor_completions.d/berth.fish
/usr/share/lintian/overrides/berth
/usr/share/man/man1/berth.1.gz
/usr/share/zsh/vendor-completions/_berth"
check "the package's files" "$want" "$files"
check "owned by root" "" "$(dpkg-deb -c "$deb" | awk '$2 != "root/root"')"
fields=$(dpkg-deb -f "$deb" Package Version Architecture Depends Section)
check "Package" berth "$(dpkg-deb -f "$deb" Package)"
contains() { case "$3" in *"$2"*) ok "$1" ;; *) fail "$1: [$2] not in [$3]" ;; esac; }
contains "Depends on libc6 (shlibdeps)" "libc6 (>=" "$fields"
contains "Depends on nftables" "nftables" "$fields"

# Install and remove in a scratch root (the maintainer scripts skip systemctl under DPKG_ROOT).
root="$tmp/root"
mkdir -p "$root/var/lib/dpkg/updates" "$root/var/lib/dpkg/info"
touch "$root/var/lib/dpkg/status"
dpk() { dpkg --root="$root" --force-not-root --force-script-chrootless --force-depends \
    --log=/dev/null "$@"; }
dpk -i "$deb" >"$tmp/install.log" 2>&1
check "dpkg --root installs it" 0 $?
check "dpkg sees it installed" "install ok installed" "$(dpkg --root="$root" -s berth 2>/dev/null | sed -n 's/^Status: //p')"
check "its berth runs" "$("$build/berth" version --short)" "$("$root/usr/bin/berth" version --short)"
unit="$root/usr/lib/systemd/system/berth@.service"
contains "the unit starts /usr/bin/berth in the foreground" "ExecStart=/usr/bin/berth --ansi never up" "$(cat "$unit")"
contains "the unit is Type=notify" "Type=notify" "$(cat "$unit")"
# The license: the source's LICENSE is Debian's Apache-2.0 text; the package's copyright file
# is machine-readable (DEP-5) and names it.
src=$(cd "$(dirname "$0")/../.." && pwd)
check "LICENSE is the Apache-2.0 text" "" "$(cmp "$src/LICENSE" /usr/share/common-licenses/Apache-2.0 2>&1)"
copyright=$(cat "$root/usr/share/doc/berth/copyright")
contains "copyright is DEP-5" "Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/" "$copyright"
contains "copyright: Apache-2.0 for every file" "Files: *
Copyright: 2026 the berth authors
License: Apache-2.0" "$copyright"

# berth.1: renders, no groff warnings, one section per command.
man_out=$(MANWIDTH=80 man --warnings -l "$root/usr/share/man/man1/berth.1.gz" 2>"$tmp/man.err")
check "man -l renders berth.1" 0 $?
check "no groff warnings" "" "$(cat "$tmp/man.err")"
for c in up down ps logs exec "image import" "volume ls" completion; do
    contains "berth.1 documents $c" "$c" "$man_out"
done
contains "berth.1 documents up's options" "--detach" "$man_out"
check "berth.1 hides __man" "" "$(echo "$man_out" | grep -- __man)"

# Completions: bash loads and registers; fish and zsh name every command.
check "bash completion loads" "complete -F _berth berth" \
    "$(bash -c ". '$root/usr/share/bash-completion/completions/berth' && complete -p berth")"
for c in up down logs exec volume; do
    contains "fish completes $c" "-a $c " "$(cat "$root/usr/share/fish/vendor_completions.d/berth.fish")"
    contains "zsh completes $c" "'$c:" "$(cat "$root/usr/share/zsh/vendor-completions/_berth")"
done
if command -v fish >/dev/null; then fish -n "$root/usr/share/fish/vendor_completions.d/berth.fish"; check "fish parses it" 0 $?; fi

# systemd's own check of the unit, as instance "demo" (berth from the scratch root on PATH).
if command -v systemd-analyze >/dev/null; then
    mkdir -p "$tmp/units"
    sed "s|/usr/bin/berth|$root/usr/bin/berth|g" "$unit" > "$tmp/units/berth@.service"
    verify=$(cd "$tmp/units" && SYSTEMD_LOG_LEVEL=warning systemd-analyze verify --man=no "$tmp/units/berth@demo.service" 2>&1 |
        grep -v -e 'Failed to put bus name' -e 'Falling back to' -e 'Failed to connect to bus' || true)
    check "systemd-analyze verify berth@demo.service" "" "$verify"
fi

if command -v lintian >/dev/null; then
    lintian --tag-display-limit 0 "$deb" > "$tmp/lintian.log" 2>&1
    sed 's/^/     lintian: /' "$tmp/lintian.log"
    check "lintian: no errors" "" "$(grep '^E:' "$tmp/lintian.log")"
    check "lintian: no warnings" "" "$(grep '^W:' "$tmp/lintian.log")"
fi

dpk -r berth >"$tmp/remove.log" 2>&1
check "dpkg --root removes it" 0 $?
left=$(cd "$root" && find . -path ./var -prune -o ! -type d -print)
check "nothing of it left in the root" "" "$left"
echo "$fails failed"
[ "$fails" -eq 0 ]
