# Shared by the registry scripts (pull_test.sh, pull_stack_test.sh, push_test.sh): Debian's
# docker-registry on loopback, and a CA with a server certificate for 127.0.0.1. Needs common.sh first.
pids=""
cleanup() {
    for p in $pids; do kill "$p" 2>/dev/null; done
}
trap cleanup EXIT

registry_setup() {  # registry_setup CMD...: the tools the script needs, loopback up, $port and $reg
    for p in "$@"; do
        command -v "$p" >/dev/null || { fail "$p is not installed (scripts/setup.sh)"; finish; exit 1; }
    done
    ip link set lo up
    port=$((20000 + $$ % 20000))  # the script's first registry; the next ones take the ports after it
    reg="127.0.0.1:$port"
}

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

start_auth_registry() {  # start_auth_registry NAME PORT: TLS (make_pki's certificate), htpasswd user alice:s3cret
    make_pki
    htpasswd -Bbc "$work/htpasswd" alice s3cret 2>/dev/null
    start_registry "$1" "$2" "  tls:
    certificate: $work/pki/srv.crt
    key: $work/pki/srv.key
auth:
  htpasswd:
    realm: berth-test
    path: $work/htpasswd"
}
