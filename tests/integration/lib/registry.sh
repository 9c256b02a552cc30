# Shared by the registry scripts (pull_test.sh, push_test.sh): Debian's docker-registry on
# loopback, and a CA with a server certificate for 127.0.0.1. Needs common.sh first.
pids=""
cleanup() {
    for p in $pids; do kill "$p" 2>/dev/null; done
}
trap cleanup EXIT

start_registry() {  # start_registry NAME PORT [YAML-TAIL]: a registry with storage in $work/NAME
    mkdir -p "$work/$1"
    cat > "$work/$1.yml" <<YAML
version: 0.1
log:
  level: ${REGISTRY_LOG_LEVEL:-warn}
storage:
  filesystem:
    rootdirectory: $work/$1
  delete:
    enabled: true
http:
  addr: 127.0.0.1:$2
${3:-}
YAML
    docker-registry serve "$work/$1.yml" > "$work/$1.log" 2>&1 &
    pids="$pids $!"
    i=0
    until curl -sk -o /dev/null "http://127.0.0.1:$2/v2/" || curl -sk -o /dev/null "https://127.0.0.1:$2/v2/"; do
        i=$((i + 1))
        [ $i -lt 100 ] || { fail "registry $1 did not start: $(cat "$work/$1.log")"; return 1; }
        sleep 0.1
    done
}

make_pki() {  # a CA (ca.crt) and a server certificate for 127.0.0.1 (srv.crt, srv.key) in $work/pki
    mkdir -p "$work/pki"
    (
        cd "$work/pki"
        openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.crt -days 2 -subj /CN=berth-test-ca 2>/dev/null
        openssl req -newkey rsa:2048 -nodes -keyout srv.key -out srv.csr -subj /CN=127.0.0.1 2>/dev/null
        printf 'subjectAltName=IP:127.0.0.1\n' > ext
        openssl x509 -req -in srv.csr -CA ca.crt -CAkey ca.key -CAcreateserial -out srv.crt -days 2 -extfile ext 2>/dev/null
    )
}
