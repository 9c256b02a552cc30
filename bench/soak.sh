#!/bin/sh
# The long soak (issue 18): 1000 restarts of a service that crashes every
# 100 ms and 200 `up -d`/`down` cycles of a stack; prints the supervisor's fds
# and RSS at the start and the end, fails when they grow (see
# tests/integration/soak_test.sh, which CI runs with these counts; give more here).
# Usage (root): bench/soak.sh BERTH_BINARY [RESTARTS] [CYCLES]
set -eu
berth=$(readlink -f "$1")
cd "$(dirname "$0")/.."
exec unshare --mount --net --propagation private env BERTH="$berth" SOAK_RESTARTS="${2:-1000}" SOAK_CYCLES="${3:-200}" \
    tests/integration/soak_test.sh
