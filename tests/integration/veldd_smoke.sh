#!/usr/bin/env bash
# veldd_smoke.sh - start a real veldd and check it from the outside.
#
#   usage: veldd_smoke.sh PATH/TO/veldd
#
# Runs veldd on 127.0.0.1 only, on a random free port in 20000-40000, with
# a fresh temporary data directory, and checks: /healthz (status, server
# key, headers), 404, HEAD, 405, the key file on disk, a clean exit on
# SIGTERM, that a restart loads the same key, that a corrupt key file is
# refused (and left alone), and that a bad --listen is a usage error.
# Prints "N passed, M failed"; exits non-zero if anything failed.
set -euo pipefail

VELDD=${1:?usage: veldd_smoke.sh PATH/TO/veldd}
[[ -x $VELDD ]] || { echo "veldd_smoke: '$VELDD' is not executable" >&2; exit 1; }
command -v curl >/dev/null || { echo "veldd_smoke: curl not found" >&2; exit 1; }

TMP=$(mktemp -d "${TMPDIR:-/tmp}/veldd-smoke.XXXXXX")
DATA=$TMP/data
PID=
PORT=
PASSED=0
FAILED=0

cleanup() {
	if [[ -n $PID ]] && kill -0 "$PID" 2>/dev/null; then
		kill -KILL "$PID" 2>/dev/null || true
		wait "$PID" 2>/dev/null || true
	fi
	rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

ok() { PASSED=$((PASSED + 1)); echo "ok   - $*"; }
not_ok() { FAILED=$((FAILED + 1)); echo "FAIL - $*" >&2; }

# check DESCRIPTION COMMAND...: one test, passes if COMMAND succeeds.
check() {
	local desc=$1
	shift
	if "$@"; then ok "$desc"; else not_ok "$desc"; fi
}

show_logs() {
	echo "--- veldd stdout ---" >&2; cat "$TMP/out" >&2 || true
	echo "--- veldd stderr ---" >&2; cat "$TMP/err" >&2 || true
}

die() {
	not_ok "$*"
	show_logs
	echo "$PASSED passed, $FAILED failed" >&2
	exit 1
}

# start_server: veldd serve on a random port; waits (10 s at most) until
# /healthz answers.  A port somebody else holds means another try (5 at
# most).
start_server() {
	local i fresh=0
	[[ -e $DATA ]] || fresh=1
	for _ in 1 2 3 4 5; do
		PORT=$((20000 + RANDOM % 20001))
		"$VELDD" serve --data "$DATA" --listen "127.0.0.1:$PORT" \
			>"$TMP/out" 2>"$TMP/err" &
		PID=$!
		for ((i = 0; i < 100; i++)); do
			if ! kill -0 "$PID" 2>/dev/null; then
				break
			fi
			if curl -fs -o /dev/null --max-time 1 \
				"http://127.0.0.1:$PORT/healthz" &&
				kill -0 "$PID" 2>/dev/null; then
				return 0
			fi
			sleep 0.1
		done
		if kill -0 "$PID" 2>/dev/null; then
			die "veldd did not answer /healthz within 10 s"
		fi
		wait "$PID" || true
		PID=
		grep -q "cannot listen" "$TMP/err" ||
			die "veldd exited at start"
		echo "# port $PORT is taken, trying another" >&2
		# Undo what the failed start created, so the next try is
		# a first start again.
		if ((fresh)); then rm -rf "$DATA"; fi
	done
	die "no free port after 5 tries"
}

# stop_server: SIGTERM, then the exit status (124 if still alive after 5 s).
stop_server() {
	local i rc=0
	kill -TERM "$PID"
	for ((i = 0; i < 50; i++)); do
		kill -0 "$PID" 2>/dev/null || break
		sleep 0.1
	done
	if kill -0 "$PID" 2>/dev/null; then
		STOP_RC=124
		return 0
	fi
	wait "$PID" || rc=$?
	PID=
	STOP_RC=$rc
}

# The server key from the start banner ("server key: <64 hex>").
printed_key() {
	sed -n 's/^server key: \([0-9a-f]\{64\}\).*$/\1/p' "$TMP/out"
}

# http METHOD PATH: fetch into $TMP/body and $TMP/headers; prints the code.
http() {
	curl -s --max-time 5 -X "$1" -o "$TMP/body" -D "$TMP/headers" \
		-w '%{http_code}' "http://127.0.0.1:$PORT$2"
}

# raw REQUEST-LINE: send it by hand (curl will not show what follows a HEAD
# response) and keep everything the server sends until it closes in $TMP/raw.
raw() {
	exec 3<>"/dev/tcp/127.0.0.1/$PORT"
	printf '%s\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n' "$1" >&3
	timeout 5 cat <&3 >"$TMP/raw" || true
	exec 3<&-
}

# Nothing but the empty line after the headers in $TMP/raw?
raw_ends_with_headers() {
	[[ $(sed -n '/^\r$/,$p' "$TMP/raw" | wc -c) -eq 2 ]]
}

# An ASan/UBSan build reports leaks and errors on stderr (a failing exit
# status alone would not tell them apart from the expected failure).
no_sanitizer_report() { ! grep -q 'Sanitizer' "$TMP/err"; }

lacks() { ! grep -qF "$1" "$2"; }
has_header() { grep -qi "^$1: *$2"$'\r'"\?$" "$TMP/headers"; }

# --- first start: creates the data dir and the key ----------------------

start_server
KEY=$(printed_key)
check "start banner prints a 64-hex-digit server key" test -n "$KEY"
check "start banner prints the sync URL" \
	grep -qF "ws://127.0.0.1:$PORT/sync" "$TMP/out"
check "first start says the key is new" grep -q '^server key: .* (new)$' "$TMP/out"

code=$(http GET /healthz)
check "GET /healthz is 200" test "$code" = 200
check "/healthz is application/json" has_header content-type application/json
check '/healthz says "status":"ok"' grep -qF '"status":"ok"' "$TMP/body"
check "/healthz has the server key printed at start" \
	grep -qF "\"server_key\":\"$KEY\"" "$TMP/body"
check "/healthz has x-content-type-options: nosniff" \
	has_header x-content-type-options nosniff
check "/healthz has cache-control: no-store" has_header cache-control no-store

code=$(http GET /no-such-path)
check "GET /no-such-path is 404" test "$code" = 404
raw "HEAD /healthz HTTP/1.1"
check "HEAD /healthz is 200" grep -q '^HTTP/1.1 200 ' "$TMP/raw"
check "HEAD /healthz sends no body" raw_ends_with_headers
code=$(http POST /healthz)
check "POST /healthz is 405" test "$code" = 405

# veldd takes no WebSocket extension (docs/protocol.md P1): a handshake
# offering permessage-deflate is switched to veld.4 without it.
ws_handshake() {
	exec 3<>"/dev/tcp/127.0.0.1/$PORT"
	printf 'GET /sync HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: %s\r\nSec-WebSocket-Extensions: %s\r\n\r\n' \
		"$1" "$2" >&3
	timeout 2 cat <&3 >"$TMP/raw" || true
	exec 3<&-
}
ws_handshake veld.4 "permessage-deflate; client_max_window_bits"
check "a deflate offer is switched to veld.4" \
	grep -q '^HTTP/1.1 101 ' "$TMP/raw"
no_extension() { ! grep -qi '^sec-websocket-extensions' "$TMP/raw"; }
check "... without permessage-deflate" no_extension
# A device of protocol version 3, 2 or 1 is told to update (P1), then closed.
ws_handshake veld.3 ""
check "a veld.3 device is told to update" \
	grep -aq 'this server speaks veld.4; update veld' "$TMP/raw"
ws_handshake veld.2 ""
check "a veld.2 device is told to update" \
	grep -aq 'this server speaks veld.4; update veld' "$TMP/raw"
ws_handshake veld.1 ""
check "a veld.1 device is told to update" \
	grep -aq 'this server speaks veld.4; update veld' "$TMP/raw"

check "data dir has mode 700" test "$(stat -c %a "$DATA")" = 700
check "server.key exists" test -f "$DATA/server.key"
check "server.key has mode 600" test "$(stat -c %a "$DATA/server.key")" = 600
check "server.key is 32 bytes" test "$(stat -c %s "$DATA/server.key")" = 32
cp "$DATA/server.key" "$TMP/key.first"

stop_server
check "SIGTERM: veldd exits with status 0 within 5 s" test "$STOP_RC" = 0

# --- restart: loads the same key ----------------------------------------

start_server
check "restart prints the same server key" test "$(printed_key)" = "$KEY"
check "restart does not make a new key" lacks "(new)" "$TMP/out"
code=$(http GET /healthz)
check "restart: /healthz has the same server key" \
	grep -qF "\"server_key\":\"$KEY\"" "$TMP/body"
check "restart leaves server.key unchanged" cmp -s "$DATA/server.key" "$TMP/key.first"
stop_server
check "SIGTERM again: exit status 0" test "$STOP_RC" = 0

# --- a corrupt key is refused, never replaced ---------------------------

printf '12345' >"$DATA/server.key"
rc=0
timeout 5 "$VELDD" serve --data "$DATA" --listen "127.0.0.1:$PORT" \
	>"$TMP/out" 2>"$TMP/err" || rc=$?
check "corrupt server.key: veldd exits non-zero" \
	test "$rc" -ne 0 -a "$rc" -ne 124
check "corrupt server.key: the message names the file" \
	grep -qF "cannot read key '$DATA/server.key'" "$TMP/err"
check "corrupt server.key is left as it was" \
	test "$(stat -c %s "$DATA/server.key")" = 5
check "corrupt server.key: a clean failure (no sanitizer report)" \
	no_sanitizer_report

mkdir -m 700 "$TMP/envdata"
printf '12345' >"$TMP/envdata/server.key"
rc=0
VELDD_DATA=$TMP/envdata timeout 5 "$VELDD" serve \
	--listen "127.0.0.1:$PORT" >"$TMP/out" 2>"$TMP/err" || rc=$?
check "VELDD_DATA picks the data dir when --data is absent" \
	grep -qF "'$TMP/envdata/server.key'" "$TMP/err"

# --- usage errors --------------------------------------------------------

rc=0
timeout 5 "$VELDD" serve --data "$TMP/unused" --listen nonsense \
	>"$TMP/out" 2>"$TMP/err" || rc=$?
check "serve --listen nonsense exits 2" test "$rc" = 2
check "serve --listen nonsense says why" grep -q "bad listen address" "$TMP/err"
check "serve --listen nonsense: no sanitizer report" no_sanitizer_report
check "a usage error creates no data dir" test ! -e "$TMP/unused"

echo "$PASSED passed, $FAILED failed"
[[ $FAILED -eq 0 ]]
