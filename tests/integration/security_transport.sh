#!/usr/bin/env bash
# security_transport.sh - the attacks where the transport matters, against a
# real veldd on 127.0.0.1 (the in-process matrix is tests/test_security.c):
#
#   security_transport.sh VELDD VELD
#
# 1. oversize: one binary message of VELD_MSG_MAX + 1 bytes in fragments,
#    and a frame header claiming a terabyte -> ERROR EMSGSIZE, close 4413,
#    without the server buffering more than the limit;
# 2. a text message -> ERROR EMSGSHAPE, close 4400;
# 3. a connection that upgrades and never authenticates -> dropped after
#    the 10 s handshake timeout;
# 4. slowloris: 20 connections trickling one header byte a second -> all
#    dropped within 30 s, while a real device syncs and /healthz answers;
# 5. path traversal on the HTTP port (dot segments, encoded, doubly
#    encoded, the data directory's files) -> never 200, never a file;
#
# and after all of it: the server still runs, its state hash and op count
# are what they were before the attacks, the key file is unchanged,
# integrity_check is ok, and the device still syncs to the same hash.
# Uses tests/tools/hostile_client.py (python3).
set -euo pipefail
veldd=$1
veld=$2
here=$(cd "$(dirname "$0")" && pwd)
hostile=$here/../tools/hostile_client.py
export VELD_PROTOCOL_MD=$here/../../docs/protocol.md
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

port=$(free_port)
url="ws://127.0.0.1:$port/sync"
"$veldd" serve --data "$tmp/srv" --listen "127.0.0.1:$port" \
	>>"$tmp/srv.log" 2>&1 &
srv_pid=$!
for _ in $(seq 100); do
	curl -sf "http://127.0.0.1:$port/healthz" >/dev/null && break
	sleep 0.1
done
v() { "$veld" --dir "$tmp/A" "$@"; }
server_hash() { "$veldd" state-hash --data "$tmp/srv" | tail -1; }
ops() { sqlite3 "$tmp/srv/veld.db" 'SELECT count(*) FROM ops'; }
integrity() { [ "$(sqlite3 "$1" 'PRAGMA integrity_check')" = ok ]; }

first=$(sed -n 's/.*code (valid 24 hours): //p' "$tmp/srv.log")
check "enrol A" v init --server "$url" --code "$first" --name Carla >/dev/null
for i in 1 2 3; do v new huisbezoek street=Brink "house=$i" >/dev/null; done
v sync >/dev/null || fail "A syncs"
hash0=$(server_hash)
ops0=$(ops)
key0=$(sha256sum <"$tmp/srv/server.key")

hostile() { python3 "$hostile" "$@" 2>"$tmp/hostile.err"; }

# --- 1, 2: oversize and text messages -----------------------------------
out=$(hostile oversize 127.0.0.1 "$port")
check "oversize message: EMSGSIZE, 4413 ($out)" \
	grep -qz "error EMSGSIZE.close 4413" <<<"$out"
out=$(hostile hugeframe 127.0.0.1 "$port")
check "terabyte frame header: EMSGSIZE, 4413 ($out)" \
	grep -qz "error EMSGSIZE.close 4413" <<<"$out"
out=$(hostile textframe 127.0.0.1 "$port")
check "text message: EMSGSHAPE, 4400 ($out)" \
	grep -qz "error EMSGSHAPE.close 4400" <<<"$out"

# --- 3. no AUTH: the handshake timeout ------------------------------------
out=$(hostile noauth 127.0.0.1 "$port")
secs=$(sed -nE 's/^(dropped|close [0-9]+) ([0-9.]+)$/\2/p' <<<"$out")
check "silent peer dropped after the 10 s handshake timeout ($out)" \
	python3 -c "import sys; sys.exit(not 9 <= float('${secs:-99}') <= 13)"

# --- 4. slowloris -------------------------------------------------------
hostile slowloris 127.0.0.1 "$port" 20 40 >"$tmp/slow.out" &
slow_pid=$!
sleep 2
check "healthz answers during slowloris" \
	curl -sf -m 5 -o /dev/null "http://127.0.0.1:$port/healthz"
timeout 20 "$veld" --dir "$tmp/A" sync >/dev/null ||
	fail "a device syncs during slowloris"
wait "$slow_pid" || true
out=$(cat "$tmp/slow.out")
worst=$(sed -nE 's/^slowloris ([0-9]+) OF ([0-9]+) ([0-9.]+)$/\3/p' <<<"$out")
check "slowloris: all 20 dropped ($out)" grep -q "^slowloris 20 OF 20 " <<<"$out"
check "slowloris: within 30 s ($out)" \
	python3 -c "import sys; sys.exit(not float('${worst:-99}') <= 30)"

# --- 5. path traversal --------------------------------------------------
paths=(
	"/../../../../etc/passwd"
	"/%2e%2e/%2e%2e/%2e%2e/%2e%2e/etc/passwd"
	"/..%2f..%2f..%2f..%2fetc%2fpasswd"
	"/%252e%252e/%252e%252e/etc/passwd"
	"/....//....//etc/passwd"
	"//etc/passwd"
	"/server.key"
	"/veld.db"
	"/srv/server.key"
	"/healthz/../../server.key"
	"/sync/..%2f..%2fserver.key"
	"/static/../../server.key"
	"/.%00./etc/passwd"
)
for p in "${paths[@]}"; do
	out=$(hostile get 127.0.0.1 "$port" "$p")
	body=$(cat "$tmp/hostile.err")
	status=$(awk '{print $2}' <<<"$out")
	check "traversal '$p' refused ($out)" \
		grep -Eq '^(400|403|404|405|414)$' <<<"$status"
	check "traversal '$p' leaks no file" \
		[ "$(grep -c -e 'root:' -e 'SQLite format' <<<"$body" || true)" = 0 ]
done

# --- after all of it -----------------------------------------------------
check "veldd still runs" kill -0 "$srv_pid"
check "state hash unchanged by the attacks" [ "$(server_hash)" = "$hash0" ]
check "op count unchanged by the attacks" [ "$(ops)" = "$ops0" ]
check "server key unchanged" [ "$(sha256sum <"$tmp/srv/server.key")" = "$key0" ]
check "integrity_check: server" integrity "$tmp/srv/veld.db"
v sync >/dev/null || fail "A still syncs"
check "A and the server agree" [ "$(v state-hash | tail -1)" = "$(server_hash)" ]

echo "security_transport: $passed passed, $failed failed"
[ "$failed" = 0 ]
