#!/bin/sh
# `berth image import` + `berth run` end to end, as a user runs them.
. "$(dirname "$0")/lib/common.sh"

"$here/lib/make-busybox-rootfs.sh" "$work/busybox.tar.gz"
id=$("$BERTH" image import "$work/busybox.tar.gz" berth-test/busybox:1)
contains "import prints the image id" "sha256:" "$id"
contains "image ls lists it" "berth-test/busybox" "$("$BERTH" image ls)"

mkdir -p "$work/proj"
cat > "$work/proj/compose.yaml" <<'YAML'
services:
  app:
    image: berth-test/busybox:1
    environment:
      GREETING: hello
    working_dir: /srv
    mem_limit: 32m
    command: ["sh", "-c", "echo $$GREETING from $$(hostname); exit 4"]
  oom:
    image: berth-test/busybox:1
    mem_limit: 16m
    memswap_limit: 16m
    command: ["dd", "if=/dev/zero", "of=/dev/null", "bs=64M", "count=1"]
YAML
cd "$work/proj"

out=$("$BERTH" run --rm --name itest-app app </dev/null)
check "exit code is the container's" 4 $?
check "command and environment from compose" "hello from itest-app" "$out"

out=$("$BERTH" run --rm --name itest-cmd -e X=1 -u nobody app sh -c 'echo $X $(id -u) $(pwd) $$' </dev/null)
check "run COMMAND, -e, -u, working_dir, PID 1" "1 65534 /srv 1" "$out"

# A repeatable option takes one value per occurrence (docker's habit): SERVICE and COMMAND follow.
out=$("$BERTH" run --rm -T -e A=1 -e B=2 --name itest-opts app sh -c 'echo $A$B' </dev/null 2>&1)
check "run -e A=1 -e B=2 SERVICE COMMAND" "12" "$out"
out=$("$BERTH" run --rm -T -e A=1 app env </dev/null 2>&1 | grep -c '^A=1$')
check "run -e A=1 SERVICE env: env is the command" "1" "$out"

out=$("$BERTH" run --rm --name itest-miss app /no/such </dev/null 2>&1)
check "a missing program exits 127, as in docker" 127 $?
contains "missing program is named" "exec /no/such: No such file or directory" "$out"
out=$("$BERTH" run --rm --name itest-noexec app /etc/passwd </dev/null 2>&1)
check "a program that cannot be executed exits 126, as in docker" 126 $?
contains "… and says why" "exec /etc/passwd: Permission denied" "$out"

out=$("$BERTH" run --rm --name itest-oom oom </dev/null 2>&1)
check "OOM kill exit code" 137 $?
contains "OOM kill is reported" "OOMKilled" "$out"

out=$(echo piped | "$BERTH" run --rm -T --name itest-stdin app cat)
check "stdin is attached" "piped" "$out"

check_no_leaks itest-

# A layer escaping its directory is refused, and nothing is written.
mkdir -p "$work/evil"
ln -s "$work/outside" "$work/evil/link"
tar -C "$work/evil" -cf "$work/evil.tar" link
mkdir -p "$work/evil2/link" && echo x > "$work/evil2/link/file"
tar -C "$work/evil2" -rf "$work/evil.tar" link/file
mkdir -p "$work/outside"
out=$("$BERTH" image import "$work/evil.tar" evil 2>&1)
check "malicious archive exits 1" 1 $?
contains "malicious archive is refused" "refusing layer entry" "$out"
check "nothing written outside" "" "$(ls "$work/outside")"
check "no half layer left" "1" "$(ls "$BERTH_ROOT/layers" | wc -l)"

"$BERTH" image rm berth-test/busybox:1 >/dev/null
check "image rm removes its layer" "0" "$(ls "$BERTH_ROOT/layers" | wc -l)"
finish
