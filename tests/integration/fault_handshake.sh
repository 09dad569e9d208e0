#!/usr/bin/env bash
# fault_handshake.sh - the WebSocket upgrade never completes: `veld sync`
# must give up with a clear error after its attempts, never wait for ever,
# and lose nothing.  Real processes on 127.0.0.1.
#
#   fault_handshake.sh VELDD VELD      (MODES="close silent" for some)
#
# A device enrols with a real veldd and records two entries; then its
# server's address is taken by tests/tools/badserver.py, which accepts
# connections but answers each one differently, never with a WebSocket
# upgrade: closes at once, "503 Service Unavailable", bytes that are not
# HTTP, or silence.  For each:
#
#   - `veld sync --push-only` exits 1 within 150 s (veld's attempts and
#     backoff, libwebsockets' handshake timeout), saying ECONNECT and that
#     nothing is lost;
#   - it tried more than once (the server counted the connections);
#   - the device still holds both entries, unsynced, and its store passes
#     integrity_check.
# At the end the real veldd is back on the port and the same device syncs.
# (libwebsockets 4.1 reports a connection lost before the upgrade as
# CLOSED_CLIENT_HTTP; veld used to ignore it and wait in its event loop for
# ever.)
set -euo pipefail
veldd=$1
veld=$2
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"

port=$(free_port)
url="ws://127.0.0.1:$port/sync"
v() { "$veld" --dir "$tmp/A" "$@"; }
integrity() { [ "$(sqlite3 "$1" 'PRAGMA integrity_check')" = ok ]; }

start_server
code=$("$veldd" code new --data "$tmp/srv" --role field --name A --area noord | tail -1)
check "enrol A" v init --server "$url" --code "$code" --name A
v new huisbezoek street=Kerkstraat house=12 >/dev/null
v new huisbezoek street=Kerkstraat house=14 >/dev/null
stop_server

for mode in ${MODES:-close http503 garbage silent}; do
	python3 "$here/../tools/badserver.py" "$port" "$mode" 170 \
		>"$tmp/bad-$mode.out" 2>&1 &
	bad=$!
	for _ in $(seq 50); do
		grep -q ready "$tmp/bad-$mode.out" && break
		sleep 0.1
	done
	start=$(date +%s)
	rc=0
	timeout 150 "$veld" --dir "$tmp/A" sync --push-only \
		>"$tmp/sync-$mode.out" 2>&1 || rc=$?
	took=$(($(date +%s) - start))
	kill -TERM "$bad" 2>/dev/null || true
	wait "$bad" 2>/dev/null || true
	echo "fault_handshake: $mode: exit $rc after ${took} s;" \
		"$(tail -1 "$tmp/bad-$mode.out")"
	check "$mode: veld gives up (exit 1, not the 150 s timeout)" [ "$rc" = 1 ]
	check "$mode: says ECONNECT" grep -q ECONNECT "$tmp/sync-$mode.out"
	check "$mode: says nothing is lost" grep -q "nothing is lost" \
		"$tmp/sync-$mode.out"
	n=$(sed -n 's/^connections //p' "$tmp/bad-$mode.out")
	check "$mode: it tried again (connections: ${n:-none})" \
		[ "${n:-0}" -ge 2 ]
	check "$mode: both entries still on the device" \
		[ "$(v list --json --street Kerkstraat | grep -c '^{')" = 2 ]
	check "$mode: both still unsynced" grep -Eq "unsynced +2" <(v status)
	check "$mode: store intact" integrity "$tmp/A/veld.db"
done

start_server
check "the real server back: the sync works" v sync --push-only \
	>"$tmp/sync-back.out"
check "and pushed both entries" grep -q "pushed 2 ops" "$tmp/sync-back.out"
check "then nothing unsynced" grep -Eq "unsynced +0" <(v status)
stop_server

echo "fault_handshake: $passed passed, $failed failed"
[ "$failed" = 0 ]
