#!/usr/bin/env bash
# fault_kill.sh - kill -9 veldd (and devices) at random moments while
# several devices push and pull, with real processes on 127.0.0.1.
#
#   fault_kill.sh VELDD VELD [ITERATIONS]      (default 10; SEED=n to replay)
#
# Three devices (two field workers, one coordinator) record entries and
# sync, all at once, in a loop; each iteration kills the server with
# SIGKILL after a random 0-200 ms, and now and then one device mid-sync
# too.  After every kill, before anything syncs again:
#
#   - every op a device holds a RECEIPT for is on the server (the device's
#     receipt seq <= the server's head of its chain);
#   - the server's store passes integrity_check;
#
# and at the end, after everyone synced twice more:
#
#   - no op stored twice: one op per (author, seq) everywhere, no fork
#     evidence (a crash must never make a device sign a seq twice);
#   - every entry made on any device is on the server exactly once;
#   - server and devices: integrity_check ok and one state hash.
#
# tests/fault/run-long.sh runs this with 100+ iterations.
set -euo pipefail
veldd=$1
veld=$2
iterations=${3:-10}
seed=${SEED:-$((RANDOM * 32768 + RANDOM))}
RANDOM=$seed
echo "fault_kill: $iterations iterations, SEED=$seed"
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

port=$(free_port)
url="ws://127.0.0.1:$port/sync"
db=$tmp/srv/veld.db

code() { "$veldd" code new --data "$tmp/srv" --role "$1" --name "$2" --area noord | tail -1; }
v() { # v DEVICE args...
	local d=$1
	shift
	"$veld" --dir "$tmp/$d" "$@"
}
integrity() { [ "$(sqlite3 "$1" 'PRAGMA integrity_check')" = ok ]; }
receipt_seq() { v "$1" status | sed -n 's/^receipt *\([0-9]*\).*/\1/p'; }
server_seq() { # the server's head of a device's chain
	sqlite3 "$db" "SELECT coalesce(max(seq), 0) FROM heads WHERE author = X'$(v "$1" whoami | awk '{print $2}')'"
}
no_double() { # one op per (author, seq), no fork evidence
	[ "$(sqlite3 "$1" 'SELECT count(*) FROM (SELECT 1 FROM ops GROUP BY author, seq HAVING count(*) > 1)')" = 0 ] &&
		[ "$(sqlite3 "$1" 'SELECT count(*) FROM heads WHERE frozen != 0 OR fork_seq != 0')" = 0 ]
}

start_server
first=$(sed -n 's/.*code (valid 24 hours): //p' "$tmp/srv.log")
v C init --server "$url" --code "$first" --name Carla >/dev/null
v A init --server "$url" --code "$(code field Ahmed)" --name A >/dev/null
v B init --server "$url" --code "$(code field Bea)" --name B >/dev/null

made=0
receipt_lost=0
mid_sync=0
for it in $(seq "$iterations"); do
	# Everyone records a few entries (offline is fine).
	for d in A B C; do
		for i in $(seq $((RANDOM % 6 + 1))); do
			v "$d" new huisbezoek street=Kill "house=$d-$it-$i" >/dev/null
			made=$((made + 1))
		done
	done
	# Everyone syncs, twice, while the server is killed.
	pids=()
	for d in A B C; do
		(for _ in 1 2; do v "$d" sync >/dev/null 2>&1 || true; done) &
		pids+=($!)
	done
	sleep "0.$(printf '%03d' $((RANDOM % 200)))"
	for p in "${pids[@]}"; do
		if kill -0 "$p" 2>/dev/null; then
			mid_sync=$((mid_sync + 1)) # the kill hits a running sync
			break
		fi
	done
	kill_server
	if ((RANDOM % 3 == 0)); then # and a device mid-sync
		kill -9 "${pids[$((RANDOM % 3))]}" 2>/dev/null || true
	fi

	# Durable means durable: a receipt is a promise.  (The devices are
	# retrying meanwhile; with no server, no new receipt can arrive.)
	for d in A B C; do
		r=$(receipt_seq "$d")
		s=$(server_seq "$d")
		if [ -n "$r" ] && ((r > s)); then
			receipt_lost=$((receipt_lost + 1))
			fail "iteration $it: $d holds a receipt for #$r, server has #$s"
		fi
	done
	integrity "$db" || fail "iteration $it: server integrity_check"
	# Back at once: the devices' retries reach the new process.
	start_server
	for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
done
check "no receipted op lost in $iterations kills" [ "$receipt_lost" = 0 ]

for _ in 1 2; do
	for d in A B C; do v "$d" sync >/dev/null || fail "final sync $d"; done
done
h=$("$veldd" state-hash --data "$tmp/srv" | tail -1)
for d in A B C; do
	check "$d: same state hash as the server" [ "$(v "$d" state-hash | tail -1)" = "$h" ]
	check "$d: integrity_check" integrity "$tmp/$d/veld.db"
	check "$d: no op stored twice" no_double "$tmp/$d/veld.db"
	check "$d: nothing unsynced" grep -Eq "unsynced +0" <(v "$d" status)
done
check "server: integrity_check" integrity "$db"
check "server: no op stored twice" no_double "$db"
got=$(v C list --json --street Kill | python3 -c '
import json, sys
houses = [r["values"].get("house") for r in json.load(sys.stdin)]
print(len(houses), len(set(houses)))')
check "all $made entries on the server once ($got)" [ "$got" = "$made $made" ]

echo "fault_kill: $passed passed, $failed failed ($made entries;" \
	"$mid_sync of $iterations kills hit a running sync; SEED=$seed)"
[ "$failed" = 0 ]
