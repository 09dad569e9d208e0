#!/usr/bin/env bash
# veldd_config.sh - veldd's configuration file, SIGHUP and max_connections,
# with a real veldd on loopback:
#
#   - settings come from --config FILE; flags and $VELDD_DATA win over it;
#   - a bad file stops serve and admin commands with FILE:LINE, status 2;
#   - SIGHUP loads a renewed certificate without a restart and keeps the
#     old one when the new pair does not load (mismatched key, missing
#     file); SIGHUP without TLS is harmless; SIGTERM still stops cleanly;
#   - max_connections: one connection more is not served until one closes.
#
#   usage: veldd_config.sh PATH/TO/veldd
# Needs openssl, curl and python3 (deploy/deps.sh test).
set -euo pipefail

veldd=${1:?usage: veldd_config.sh PATH/TO/veldd}
for t in openssl curl python3; do
	command -v "$t" >/dev/null || {
		echo "veldd_config: $t not found" >&2
		exit 1
	}
done
tmp=$(mktemp -d "${TMPDIR:-/tmp}/veldd-config.XXXXXX")
pid=
cleanup() {
	if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
		kill -KILL "$pid" 2>/dev/null || true
	fi
	rm -rf "$tmp"
}
trap cleanup EXIT
passed=0
failed=0
check() {
	local what=$1
	shift
	if "$@"; then
		passed=$((passed + 1))
		echo "ok   - $what"
	else
		failed=$((failed + 1))
		echo "FAIL - $what" >&2
	fi
}
fails() { ! "$@"; }
has() { grep -q -- "$2" "$1"; }
quiet() { "$@" >/dev/null 2>&1; }

# start NAME ARGS...: veldd serve ARGS in the background, output in
# $tmp/NAME.out and .err; waits (10 s at most) for the banner.
start() {
	local name=$1
	shift
	"$veldd" serve "$@" >"$tmp/$name.out" 2>"$tmp/$name.err" &
	pid=$!
	for _ in $(seq 100); do
		grep -q "^health:" "$tmp/$name.out" 2>/dev/null && return 0
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	echo "veldd_config: veldd did not start:" >&2
	cat "$tmp/$name.out" "$tmp/$name.err" >&2
	return 1
}
# stop: SIGTERM, and the exit status must be 0.
stop() {
	local rc=0
	kill -TERM "$pid"
	wait "$pid" || rc=$?
	pid=
	return "$rc"
}
port() { echo $((20000 + RANDOM % 20000)); }

# --- precedence -------------------------------------------------------

p1=$(port)
p2=$((p1 + 1))
cat >"$tmp/a.conf" <<EOF
# test configuration
data = $tmp/from-file
listen = 127.0.0.1:$p1
log_level = warn
EOF
start file --config "$tmp/a.conf"
check "data from the file" has "$tmp/file.out" "data dir:   $tmp/from-file"
check "listen from the file" has "$tmp/file.out" "ws://127.0.0.1:$p1/sync"
check "banner names the file" has "$tmp/file.out" "config:     $tmp/a.conf"
check "log_level from the file (no info lines)" \
	fails has "$tmp/file.err" "level=info"
check "SIGTERM: clean stop" stop

start flags --config "$tmp/a.conf" --data "$tmp/from-flag" \
	--listen "127.0.0.1:$p2" --log-level info
check "--data wins" has "$tmp/flags.out" "data dir:   $tmp/from-flag"
check "--listen wins" has "$tmp/flags.out" "ws://127.0.0.1:$p2/sync"
check "--log-level wins" has "$tmp/flags.err" "level=info"
stop

VELDD_DATA=$tmp/from-env start env --config "$tmp/a.conf"
check "\$VELDD_DATA wins over the file" \
	has "$tmp/env.out" "data dir:   $tmp/from-env"
stop

# Admin commands take data from the file too.
check "admin command: data from --config" \
	quiet "$veldd" devices --config "$tmp/a.conf"
check "admin command: --config=FILE form" \
	quiet "$veldd" state-hash --config="$tmp/a.conf"
check "admin command: --data wins" \
	fails quiet "$veldd" devices --config "$tmp/a.conf" --data "$tmp/none"

# --- bad files ----------------------------------------------------------

printf 'data = %s/x\n\nlisten = 127.0.0.1:%s\ncolour = blue\n' "$tmp" \
	"$p1" >"$tmp/bad.conf"
rc=0
"$veldd" serve --config "$tmp/bad.conf" >"$tmp/bad.out" 2>&1 || rc=$?
check "serve: bad config is status 2" test "$rc" -eq 2
check "serve: message names FILE:LINE" \
	has "$tmp/bad.out" "veldd: $tmp/bad.conf:4: unknown key 'colour'"
rc=0
"$veldd" devices --config "$tmp/bad.conf" >"$tmp/bad2.out" 2>&1 || rc=$?
check "admin: bad config is status 2" test "$rc" -eq 2
check "admin: message names FILE:LINE" \
	has "$tmp/bad2.out" "$tmp/bad.conf:4: unknown key"
rc=0
"$veldd" serve --config "$tmp/missing.conf" >"$tmp/miss.out" 2>&1 || rc=$?
check "serve: a missing --config file is status 2" test "$rc" -eq 2
check "serve: ... and says so" \
	has "$tmp/miss.out" "cannot read config '$tmp/missing.conf'"
printf 'tls_cert = %s/c.pem\n' "$tmp" >"$tmp/half.conf"
rc=0
"$veldd" serve --config "$tmp/half.conf" >"$tmp/half.out" 2>&1 || rc=$?
check "tls_cert without tls_key: status 2" test "$rc" -eq 2
check "... naming the line" has "$tmp/half.out" "half.conf:1: tls_cert is set"

# --- SIGHUP: certificate reload ------------------------------------------

mkcert() { # mkcert NAME CN
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 \
		-nodes -keyout "$tmp/$1.key" -out "$tmp/$1.crt" -days 2 \
		-subj "/CN=$2" -addext "subjectAltName=IP:127.0.0.1" 2>/dev/null
}
mkcert one veldd-one
mkcert two veldd-two
cp "$tmp/one.crt" "$tmp/cert.pem"
cp "$tmp/one.key" "$tmp/key.pem"
p3=$(port)
cat >"$tmp/tls.conf" <<EOF
data = $tmp/tls-data
listen = 127.0.0.1:$p3
tls_cert = $tmp/cert.pem
tls_key = $tmp/key.pem
EOF
# served: the CN of the certificate veldd presents now.
served() {
	openssl s_client -connect "127.0.0.1:$p3" </dev/null 2>/dev/null |
		openssl x509 -noout -subject 2>/dev/null |
		sed -n 's/.*CN *= *//p'
}
# hup: SIGHUP, then wait until veldd has said something about it.
hup() {
	local before
	before=$(grep -c "SIGHUP:" "$tmp/tls.err" || true)
	kill -HUP "$pid"
	for _ in $(seq 50); do
		[ "$(grep -c "SIGHUP:" "$tmp/tls.err" || true)" -gt "$before" ] &&
			return 0
		sleep 0.1
	done
	return 1
}
start tls --config "$tmp/tls.conf"
check "banner shows the certificate" \
	has "$tmp/tls.out" "tls cert:   $tmp/cert.pem (CN=veldd-one)"
check "serves certificate one" test "$(served)" = veldd-one
# A connection that stays open across the reload.
python3 - "$p3" "$tmp/held" <<'EOF' &
import socket, ssl, sys, time
ctx = ssl.create_default_context()
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE
s = ctx.wrap_socket(socket.create_connection(("127.0.0.1", int(sys.argv[1]))))
open(sys.argv[2], "w").write("open\n")
time.sleep(3)
s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
ok = s.recv(100).startswith(b"HTTP/1.1 200")
open(sys.argv[2], "a").write("answered\n" if ok else "refused\n")
EOF
held=$!
for _ in $(seq 50); do [ -s "$tmp/held" ] && break; sleep 0.1; done

cp "$tmp/two.crt" "$tmp/cert.pem"
cp "$tmp/two.key" "$tmp/key.pem"
check "SIGHUP handled" hup
check "... logs the reload" \
	has "$tmp/tls.err" "SIGHUP: reloaded TLS certificate '$tmp/cert.pem': CN=veldd-two"
check "serves certificate two, same process" test "$(served)" = veldd-two
wait "$held" || true
check "a connection open across the reload still works" \
	has "$tmp/held" answered

cp "$tmp/one.crt" "$tmp/cert.pem" # key.pem is still two's: no pair
check "SIGHUP with a mismatched key" hup
check "... is refused" has "$tmp/tls.err" "keeping the current certificate"
check "... and certificate two is still served" test "$(served)" = veldd-two

rm "$tmp/key.pem"
check "SIGHUP with the key missing" hup
check "... says which file" has "$tmp/tls.err" "cannot read key '$tmp/key.pem'"
check "... and certificate two is still served" test "$(served)" = veldd-two
check "... and /healthz still answers" \
	curl -sfk "https://127.0.0.1:$p3/healthz" -o /dev/null

echo "colour = blue" >>"$tmp/tls.conf"
cp "$tmp/two.key" "$tmp/key.pem"
check "SIGHUP with a broken config file" hup
check "... warns, naming the line" \
	has "$tmp/tls.err" "warning: $tmp/tls.conf:5: unknown key 'colour'"
check "... and keeps serving" curl -sfk "https://127.0.0.1:$p3/healthz" \
	-o /dev/null
check "SIGTERM after SIGHUPs: clean stop" stop

start plain --data "$tmp/plain" --listen "127.0.0.1:$(port)" \
	--config /dev/null
kill -HUP "$pid"
sleep 0.5
check "SIGHUP without TLS: still running" kill -0 "$pid"
check "... and says there is nothing to reload" \
	has "$tmp/plain.err" "no TLS certificate to reload"
check "SIGTERM: clean stop" stop

# --- max_connections ------------------------------------------------------

p4=$(port)
printf 'max_connections = 2\nlisten = 127.0.0.1:%s\n' "$p4" >"$tmp/max.conf"
start max --config "$tmp/max.conf" --data "$tmp/max-data"
check "banner shows the limit" has "$tmp/max.out" "max conns:  2"
python3 - "$p4" >"$tmp/max.txt" 2>&1 <<'EOF' || true
import socket, sys
port = int(sys.argv[1])
def healthz(s, timeout):
    s.settimeout(timeout)
    s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
    try:
        return s.recv(100).startswith(b"HTTP/1.1 200")
    except OSError:
        return False
held = [socket.create_connection(("127.0.0.1", port)) for _ in range(2)]
print("first two served:", all(healthz(s, 2) for s in held))
extra = socket.create_connection(("127.0.0.1", port))
print("third served while two are open:", healthz(extra, 1.5))
held[0].close()
extra.settimeout(3)
try:
    print("third served once one closed:", extra.recv(100).startswith(b"HTTP/1.1 200"))
except OSError as e:
    print("third served once one closed:", False, e)
EOF
check "max_connections: the first two are served" \
	has "$tmp/max.txt" "first two served: True"
check "max_connections: a third waits" \
	has "$tmp/max.txt" "third served while two are open: False"
check "max_connections: ... and is served when one closes" \
	has "$tmp/max.txt" "third served once one closed: True"
check "SIGTERM: clean stop" stop

echo "veldd_config: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
