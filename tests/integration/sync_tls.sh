#!/usr/bin/env bash
# Sync over wss:// with lws-native TLS and a certificate made here.
#   sync_tls.sh VELDD VELD
set -euo pipefail
veldd=$1
veld=$2
tmp=$(mktemp -d)
pid=
trap '[ -n "$pid" ] && kill -9 "$pid" 2>/dev/null; rm -rf "$tmp"' EXIT
passed=0
failed=0
check() {
	local what=$1
	shift
	if "$@"; then passed=$((passed + 1)); else
		failed=$((failed + 1))
		echo "FAIL: $what" >&2
	fi
}
fails() { ! "$@"; }

openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
	-keyout "$tmp/key.pem" -out "$tmp/cert.pem" -days 1 \
	-subj "/CN=localhost" \
	-addext "subjectAltName=IP:127.0.0.1,DNS:localhost" 2>/dev/null
port=$((20000 + RANDOM % 20000))
"$veldd" serve --data "$tmp/srv" --listen "127.0.0.1:$port" \
	--tls-cert "$tmp/cert.pem" --tls-key "$tmp/key.pem" >"$tmp/srv.log" 2>&1 &
pid=$!
for _ in $(seq 100); do
	curl -sf --cacert "$tmp/cert.pem" "https://127.0.0.1:$port/healthz" \
		>/dev/null && break
	sleep 0.1
done
check "banner shows wss://" grep -q "sync: *wss://" "$tmp/srv.log"
check "no exposure warning on loopback" fails grep -q WARNING "$tmp/srv.log"
code=$(sed -n 's/.*code (valid 24 hours): //p' "$tmp/srv.log")
url="wss://127.0.0.1:$port/sync"

# Without the CA the self-signed certificate is refused; nothing enrols.
check "unknown certificate refused" fails \
	"$veld" --dir "$tmp/x" init --server "$url" --code "$code"
check "no half enrolment" fails test -e "$tmp/x/server.pub"
check "plain ws:// to a TLS port fails" fails \
	"$veld" --dir "$tmp/y" init --server "ws://127.0.0.1:$port/sync" \
	--code "$code"
# With it: enrol, record, sync.
check "enrol over wss" "$veld" --dir "$tmp/d" init --server "$url" \
	--code "$code" --ca "$tmp/cert.pem"
"$veld" --dir "$tmp/d" new huisbezoek street=Kerkstraat >/dev/null
check "sync over wss (CA kept from enrolment)" "$veld" --dir "$tmp/d" sync
check "same state over wss" test "$("$veldd" state-hash --data "$tmp/srv" | tail -1)" \
	= "$("$veld" --dir "$tmp/d" state-hash | tail -1)"
kill -TERM "$pid"
wait "$pid" || true
pid=
echo "sync_tls: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
