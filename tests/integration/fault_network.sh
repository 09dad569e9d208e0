#!/usr/bin/env bash
# fault_network.sh - sync over a hostile network, real processes on
# 127.0.0.1.
#
#   fault_network.sh VELDD VELD [ENTRIES] [CUT]   (defaults 100, 0.7;
#                                                   SEED=n to replay)
#
# Three devices enrol through the proxy (connections cut after 1..1024 B:
# in the handshake), running `veld init` again with the same code until it
# works; then each records
# ENTRIES entries offline and all three sync at once through
# tests/tools/faultproxy.py, which splits every byte stream into random
# pieces, delays each piece (so both directions' timing is shuffled), and
# cuts a connection after 1..8 KiB (in the middle of a message) with
# probability CUT.
# (tc netem would do loss and delay in the kernel, but it needs the
# sch_netem module, which containers usually lack; the proxy needs
# nothing.)  Every device syncs until it succeeds (at most 40 runs), then
# once more to pull the others' entries; then:
#
#   - every entry is on the server exactly once;
#   - server and devices: one state hash, integrity_check ok, one op per
#     (author, seq);
#   - the proxy did cut connections (else the test proved nothing).
set -euo pipefail
veldd=$1
veld=$2
entries=${3:-100}
cut=${4:-0.7}
seed=${SEED:-$((RANDOM * 32768 + RANDOM))}
RANDOM=$seed
here=$(cd "$(dirname "$0")" && pwd)
proxy_py=$here/../tools/faultproxy.py
echo "fault_network: $entries entries per device, cut $cut, SEED=$seed"
. "$here/lib.sh"
proxy_pid= # killed at exit with the other background jobs

port=$(free_port)
pport=$(free_port)
while [ "$pport" = "$port" ]; do pport=$(free_port); done
db=$tmp/srv/veld.db
start_server
proxy() { # proxy ARGS... : (re)start the proxy in front of the server
	if [ -n "$proxy_pid" ]; then
		kill -TERM "$proxy_pid" 2>/dev/null || true
		wait "$proxy_pid" 2>/dev/null || true
	fi
	python3 "$proxy_py" "$pport" "$port" --seed "$RANDOM" \
		--stats "$tmp/proxy.stats" "$@" &
	proxy_pid=$!
	for _ in $(seq 50); do
		(exec 3<>"/dev/tcp/127.0.0.1/$pport") 2>/dev/null && return 0
		sleep 0.1
	done
	echo "proxy did not start" >&2
	exit 1
}
url="ws://127.0.0.1:$pport/sync"
code() { "$veldd" code new --data "$tmp/srv" --role "$1" --name "$2" --area noord | tail -1; }
v() { # v DEVICE args...
	local d=$1
	shift
	"$veld" --dir "$tmp/$d" "$@"
}
integrity() { [ "$(sqlite3 "$1" 'PRAGMA integrity_check')" = ok ]; }
no_double() {
	[ "$(sqlite3 "$1" 'SELECT count(*) FROM (SELECT 1 FROM ops GROUP BY author, seq HAVING count(*) > 1)')" = 0 ]
}
sync_until_ok() { # sync_until_ok DEVICE: at most 40 runs
	local d=$1 n
	for n in $(seq 40); do
		if v "$d" sync >>"$tmp/$d.sync.log" 2>&1; then
			echo "$n" >"$tmp/$d.runs"
			return 0
		fi
	done
	echo "never" >"$tmp/$d.runs"
	return 1
}

# Enrolment through the hostile network, cut short (1..1024 bytes): a cut
# after the server enrolled the key but before WELCOME arrived must not
# strand the device; running init again with the same code finishes it.
proxy --split --delay 3 --cut "$cut" --cutmax 1024
enrol() { # enrol DEVICE CODE NAME: at most 20 runs of init
	local n
	for n in $(seq 20); do
		if v "$1" init --server "$url" --code "$2" --name "$3" \
			>>"$tmp/$1.init.log" 2>&1; then
			echo "$n" >"$tmp/$1.init.runs"
			return 0
		fi
	done
	fail "$1 could not enrol through the proxy:" \
		"$(tail -n 2 "$tmp/$1.init.log")"
	return 1
}
first=$(sed -n 's/.*code (valid 24 hours): //p' "$tmp/srv.log")
enrol C "$first" Carla
enrol A "$(code field Ahmed)" A
enrol B "$(code field Bea)" B
check "all three enrolled, with their roles" \
	[ "$(for d in A B C; do v "$d" status | awk '$1 == "role" {print $2}'; done | tr '\n' ' ')" = "field field coordinator " ]
inits="A $(cat "$tmp/A.init.runs") B $(cat "$tmp/B.init.runs") C $(cat "$tmp/C.init.runs")"

# Offline work: notes make the messages bigger than the cut distance.
# Random text, so that the messages stay big even if sync messages are
# ever compressed (a repeated phrase would shrink to nothing and the cuts
# would fall after the end of every connection).
for d in A B C; do
	for i in $(seq "$entries"); do
		id=$(v "$d" new huisbezoek street=Net "house=$d-$i" | tail -1)
		if ((i % 10 == 0)); then
			v "$d" note "$id" "$(head -c 240 /dev/urandom | base64 -w0)" >/dev/null
		fi
	done
done

proxy --split --delay 3 --cut "$cut" --cutmax 8192
pids=()
for d in A B C; do
	sync_until_ok "$d" &
	pids+=($!)
done
for i in 0 1 2; do
	wait "${pids[$i]}" || fail "device $i never got a sync through"
done
for d in A B C; do # pull what the others pushed meanwhile
	sync_until_ok "$d" || fail "$d: final sync"
done
kill -TERM "$proxy_pid"
wait "$proxy_pid" 2>/dev/null || true
proxy_pid=
stats=$(cat "$tmp/proxy.stats")
runs="A $(cat "$tmp/A.runs") B $(cat "$tmp/B.runs") C $(cat "$tmp/C.runs")"
cuts=$(awk '{print $4}' <<<"$stats")
check "the proxy cut connections mid-message ($stats)" [ "${cuts:-0}" -gt 0 ]

h=$("$veldd" state-hash --data "$tmp/srv" | tail -1)
for d in A B C; do
	check "$d: same state hash as the server" [ "$(v "$d" state-hash | tail -1)" = "$h" ]
	check "$d: integrity_check" integrity "$tmp/$d/veld.db"
	check "$d: one op per seq" no_double "$tmp/$d/veld.db"
	check "$d: nothing unsynced" grep -Eq "unsynced +0" <(v "$d" status)
done
check "server: integrity_check" integrity "$db"
check "server: one op per seq" no_double "$db"
want=$((3 * entries))
got=$(v C list --json --street Net | python3 -c '
import json, sys
houses = [r["values"].get("house") for r in json.load(sys.stdin)]
print(len(houses), len(set(houses)))')
check "all $want entries on the server once ($got)" [ "$got" = "$want $want" ]

echo "fault_network: $passed passed, $failed failed (proxy: $stats;" \
	"init runs: $inits; sync runs of the last round: $runs; SEED=$seed)"
[ "$failed" = 0 ]
