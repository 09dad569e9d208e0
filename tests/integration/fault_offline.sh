#!/usr/bin/env bash
# fault_offline.sh - a device offline for "days": thousands of local
# entries, made while the server is unreachable and over days of (fake)
# device time, then one sync, with real processes on 127.0.0.1.
#
#   fault_offline.sh VELDD VELD [ENTRIES]      (default 300; the long
#                                               campaign uses 5000)
#
# A enrols, goes out of coverage (the server is down for it), and records
# ENTRIES entries (a note on every tenth) over three days (libfaketime
# moves the clocks of A, B and veldd on by days when it is installed; else
# it all happens "now"); every sync attempt meanwhile fails.  On day 3 the
# server is back, B records and syncs, and then A syncs once:
#
#   - the sync succeeds in one run and A's receipt covers its whole chain;
#   - every entry of A is on the server once, every entry of B is on A;
#   - server, A and B: one state hash, integrity_check ok.
set -euo pipefail
veldd=$1
veld=$2
entries=${3:-300}
faketime_lib=$(ls /usr/lib/*/faketime/libfaketime.so.1 2>/dev/null | head -n 1 || true)
# A sanitizer build refuses a preloaded library ahead of its runtime.
export ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

port=$(free_port)
url="ws://127.0.0.1:$port/sync"
later() { # later DAYS cmd...: run cmd DAYS days from now
	local days=$1
	shift
	# (libfaketime preloaded by env: its faketime wrapper leaves a
	# semaphore behind when killed, and then refuses to start)
	if [ -n "$faketime_lib" ] && ((days > 0)); then
		env LD_PRELOAD="$faketime_lib" FAKETIME="+${days}d" "$@"
	else
		"$@"
	fi
}
start_server() { # start_server [DAYS later]
	if [ -n "$faketime_lib" ] && ((${1:-0} > 0)); then
		veldd_up LD_PRELOAD="$faketime_lib" FAKETIME="+${1}d"
	else
		veldd_up
	fi
}
code() { "$veldd" code new --data "$tmp/srv" --role "$1" --name "$2" --area noord | tail -1; }
day=0
v() { # v DEVICE args...: on the current day
	local d=$1
	shift
	later "$day" "$veld" --dir "$tmp/$d" "$@"
}
integrity() { [ "$(sqlite3 "$1" 'PRAGMA integrity_check')" = ok ]; }
count() { # entries of street S on device D: "all distinct"
	v "$1" list --json --street "$2" | python3 -c '
import json, sys
houses = [r["values"].get("house") for r in json.load(sys.stdin)]
print(len(houses), len(set(houses)))'
}

start_server
first=$(sed -n 's/.*code (valid 24 hours): //p' "$tmp/srv.log")
v B init --server "$url" --code "$first" --name B >/dev/null
v A init --server "$url" --code "$(code field Ahmed)" --name A >/dev/null
# A goes out of coverage.
kill_server

t0=$(date +%s)
for i in $(seq "$entries"); do
	day=$((3 * i / (entries + 1))) # days 0, 1, 2
	id=$(v A new huisbezoek street=Offline "house=$i" | tail -1)
	if ((i % 10 == 0)); then v A note "$id" "teruggebeld op dag $day" >/dev/null; fi
	if ((i % 200 == 0)); then # an attempt in passing: fails, loses nothing
		if v A sync >/dev/null 2>&1; then fail "sync without a server succeeded"; fi
	fi
done
echo "fault_offline: $entries entries on A in $(($(date +%s) - t0)) s"
check "A counts everything unsynced" grep -Eq "unsynced +[1-9][0-9]+" <(v A status)

day=3
start_server "$day"
for i in $(seq 50); do v B new huisbezoek street=Online "house=$i" >/dev/null; done
v B sync >/dev/null || fail "B syncs"
t0=$(date +%s%N)
check "A syncs in one run after days offline" v A sync >"$tmp/a.out"
echo "fault_offline: $(tail -n 1 "$tmp/a.out") in $((($(date +%s%N) - t0) / 1000000)) ms"
want=$((entries + entries / 10)) # entries and notes are ops of A's chain
seq_a=$(v A status | sed -n 's/^receipt *\([0-9]*\).*/\1/p')
check "A's receipt covers its whole chain (#${seq_a:-none} >= $want)" \
	[ "${seq_a:-0}" -ge "$want" ]
check "A: nothing unsynced" grep -Eq "unsynced +0" <(v A status)
v B sync >/dev/null || fail "B syncs again"
check "every entry of A on the server once" [ "$(count B Offline)" = "$entries $entries" ]
check "every entry of B on A" [ "$(count A Online)" = "50 50" ]
h=$(later "$day" "$veldd" state-hash --data "$tmp/srv" | tail -1)
for d in A B; do
	check "$d: same state hash as the server" [ "$(v "$d" state-hash | tail -1)" = "$h" ]
	check "$d: integrity_check" integrity "$tmp/$d/veld.db"
done
check "server: integrity_check" integrity "$tmp/srv/veld.db"

echo "fault_offline: $passed passed, $failed failed"
[ "$failed" = 0 ]
