#!/bin/sh
# gen-docs.sh BERTH OUTDIR SRCDIR: what the package installs beside the binary, made from the
# built berth's command definitions: berth.1(.gz), the bash, zsh and fish completions, and the
# gzipped changelog (a native package's name for it).
set -eu
berth=$1 out=$2 src=$3
mkdir -p "$out"
"$berth" __man > "$out/berth.1"
gzip -9n < "$out/berth.1" > "$out/berth.1.gz"
"$berth" completion bash > "$out/berth.bash"
"$berth" completion zsh > "$out/_berth"
"$berth" completion fish > "$out/berth.fish"
gzip -9n < "$src/changelog" > "$out/changelog.gz"
