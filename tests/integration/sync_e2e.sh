#!/usr/bin/env bash
# End-to-end sync with real processes on 127.0.0.1: a veldd server and
# three veld devices (two field workers, one coordinator).
#
#   sync_e2e.sh VELDD VELD
#
# 1. enrol three devices; stop the server; everyone works offline
#    (creates, edits, notes, deletes; the same field edited on two devices);
#    start the server; devices sync in different orders -> one state hash
#    everywhere, the conflict visible on every replica;
# 2. kill -9 a device mid-push, and the server mid-batch, repeatedly ->
#    after re-syncing nothing is lost or doubled, integrity_check ok;
# 3. live: a device watching receives a new record without polling;
# 4. an erasure by the server reaches the devices;
# 5. a revoked device is refused and wipes its copy.
set -euo pipefail
veldd=$1
veld=$2
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

port=$(free_port)
url="ws://127.0.0.1:$port/sync"

code() { "$veldd" code new --data "$tmp/srv" --role "$1" --name "$2" --area noord | tail -1; }
v() { # v DEVICE args...
	local d=$1
	shift
	"$veld" --dir "$tmp/$d" "$@"
}
server_hash() { "$veldd" state-hash --data "$tmp/srv" | tail -1; }
same_hash_everywhere() {
	local h
	h=$(server_hash)
	for d in "$@"; do
		[ "$(v "$d" state-hash | tail -1)" = "$h" ] || return 1
	done
}
integrity() { [ "$(sqlite3 "$1" 'PRAGMA integrity_check')" = ok ]; }

# --- 1. enrol, work offline, converge -----------------------------------
start_server
first=$(sed -n 's/.*code (valid 24 hours): //p' "$tmp/srv.log")
check "enrol coordinator" v C init --server "$url" --code "$first" --name Carla
check "enrol A" v A init --server "$url" --code "$(code field Ahmed)" --name A
check "enrol B" v B init --server "$url" --code "$(code field Bea)" --name B
check "A's role" grep -q "field" <(v A status)
# The store is created at WELCOME, sized for its role (client/sync.c).
page_size() { sqlite3 "$tmp/$1/veld.db" 'PRAGMA page_size'; }
check "coordinator's store: 16 KiB pages" test "$(page_size C)" = 16384
check "field device's store: 4 KiB pages" test "$(page_size A)" = 4096

id=$(v A new huisbezoek street=Kerkstraat house=12 wish=bankjes | tail -1)
check "A syncs" v A sync
check "B syncs" v B sync
check "B has A's record" grep -q Kerkstraat <(v B list --json)
# --push-only: B's entry is receipted, and nothing is pulled.
v B new huisbezoek street=Stationsweg house=3 >/dev/null
v A new huisbezoek street=Marktplein house=5 >/dev/null
v A sync --push-only >"$tmp/po.out" 2>&1
check "push-only: receipted, nothing pulled" \
	grep -q "pushed 1 ops, pulled 0 ops;.*receipt" "$tmp/po.out"
v B sync --push-only >/dev/null 2>&1
check "push-only: B did not pull A's new entry" \
	lacks Marktplein <(v B list --json)
check "push-only with --watch is refused" not v B sync --push-only --watch
check "B pulls it with a plain sync" v B sync
check "then B has it" grep -q Marktplein <(v B list --json)
# A receipt lost with the connection (the server committed, the device
# never heard): the next sync has nothing to push, and status must not
# keep counting those entries as unsynced.
sqlite3 "$tmp/A/veld.db" "DELETE FROM meta WHERE key IN ('acked_seq', 'receipt', 'server_has')"
check "lost receipt: A counts its entries as unsynced" \
	grep -Eq "unsynced +[1-9]" <(v A status)
check "lost receipt: a sync with nothing to push" \
	grep -q "pushed 0 ops" <(v A sync --push-only)
check "lost receipt: then nothing unsynced" grep -Eq "unsynced +0" <(v A status)
stop_server

# Offline: the same field on two devices, and more of everything.
v A edit "$id" wish=bloemen >/dev/null
v B edit "$id" wish=speeltuin >/dev/null
v A note "$id" "mevrouw wil teruggebeld worden" >/dev/null
gone=$(v B new huisbezoek street=Dorpsweg house=1 | tail -1)
v B delete "$gone" >/dev/null
v C new containerdag street=Markt need=handgreep >/dev/null
for i in 1 2 3; do v A new huisbezoek street=Brink "house=$i" >/dev/null; done
if v A sync >"$tmp/out" 2>&1; then
	fail "sync with the server down succeeded"
else
	check "offline sync says nothing is lost" grep -q "nothing is lost" "$tmp/out"
fi
check "A counts unsynced entries" grep -Eq "unsynced +[1-9]" <(v A status)

start_server
for order in "A B C" "C A B" "B C A"; do
	for d in $order; do v "$d" sync >/dev/null || fail "sync $d"; done
done
check "one state hash: server, A, B, C" same_hash_everywhere A B C
for d in A B C; do
	check "conflict visible on $d" grep -q "$id" <(v "$d" list --conflicts --json)
done
check "A has nothing unsynced" grep -Eq "unsynced +0" <(v A status)

# --- 2. kill -9 mid-push and mid-batch ----------------------------------
for i in $(seq 200); do echo "huisbezoek street=Lange_Laan house=$i"; done >"$tmp/batch"
while read -r form f1 f2; do v A new "$form" "$f1" "$f2" >/dev/null; done <"$tmp/batch"
for round in 1 2 3; do
	"$veld" --dir "$tmp/A" sync >/dev/null 2>&1 & # veld itself: $! is what -9 kills
	sleep "0.0$((RANDOM % 9 + 1))"
	kill -9 $! 2>/dev/null || true
	wait $! 2>/dev/null || true
done
for d in B C; do
	for i in $(seq 60); do v "$d" new huisbezoek street=Esdoorn "house=$d$i" >/dev/null; done
done
for round in 1 2; do
	"$veld" --dir "$tmp/B" sync >/dev/null 2>&1 &
	sleep "0.0$((RANDOM % 9 + 1))"
	kill_server
	wait $! 2>/dev/null || true
	start_server
done
for d in A B C A B C; do v "$d" sync >/dev/null || fail "re-sync $d"; done
check "after the kills: one state hash" same_hash_everywhere A B C
check "integrity_check: server" integrity "$tmp/srv/veld.db"
for d in A B C; do check "integrity_check: $d" integrity "$tmp/$d/veld.db"; done
count=$(v C list --json | python3 -c 'import json,sys; print(sum(1 for r in json.load(sys.stdin) if r.get("street") == "Lange_Laan"))')
check "all 200 records of A arrived once ($count)" [ "$count" = 200 ]

# --- 3. live ------------------------------------------------------------
# veld itself in the background, not a subshell around it (v is a
# function): killing $watch_pid must stop the watcher, which never gives up.
"$veld" --dir "$tmp/C" sync --watch >"$tmp/watch.log" 2>&1 &
watch_pid=$!
sleep 0.5
live=$(v A new huisbezoek street=Live house=1 | tail -1)
v A sync >/dev/null
seen=0
for _ in $(seq 50); do
	# (not a pipe into grep -q: with pipefail, an early match is a
	# SIGPIPE for veld, and so a failure)
	if grep -q "$live" <(v C list --json); then
		seen=1
		break
	fi
	sleep 0.1
done
check "a watching device receives a new record live" [ "$seen" = 1 ]
[ "$seen" = 1 ] || cat "$tmp/watch.log" >&2
kill "$watch_pid" 2>/dev/null || true
wait "$watch_pid" 2>/dev/null || true

# --- 4. erasure (GDPR) --------------------------------------------------
check "veldd erase" "$veldd" erase --data "$tmp/srv" "${id:0:8}"
# veldd is running and keeps its store open: the erase's commit
# checkpointed the WAL into the file and truncated it (veld_store_scrub),
# so neither holds the erased street or note any more.
check "erased: veldd's store file and WAL (server running) hold neither" \
	not grep -aqE 'teruggebeld|Kerkstraat' "$tmp/srv/veld.db" \
	$([ -e "$tmp/srv/veld.db-wal" ] && echo "$tmp/srv/veld.db-wal")
v A sync >/dev/null
erased=$(v A show "$id" --json | python3 -c 'import json,sys; r=json.load(sys.stdin); print(r["erased"], len(r["values"]), r["notes"][0]["text"])')
check "erased on A: no values, note text gone ($erased)" [ "$erased" = "True 0 None" ]
check "erased: server and A agree" same_hash_everywhere A
# Erased means gone from the files too, not only from what veld shows:
# SQLite zeroes what it frees (secure_delete, store.c), so neither the
# note nor the street is left in a free part of a page (A: 4 KiB pages,
# C: 16).  A closed store has no WAL left (veld's last connection
# checkpoints it into the file and removes it).
v C sync >/dev/null
for d in A C; do
	check "erased: $d's store file no longer holds the note or street" \
		not grep -aqE 'teruggebeld|Kerkstraat' "$tmp/$d/veld.db"
done

# --- 5. revocation ------------------------------------------------------
bkey=$(v B status | sed -n 's/^device *//p')
"$veld" --dir "$tmp/B" sync --watch >"$tmp/bwatch.log" 2>&1 &
bwatch=$!
sleep 0.5
check "revoke B" "$veldd" revoke --data "$tmp/srv" "$bkey"
# A connected device is cut off too, within the server's 1 s tick.
for _ in $(seq 50); do
	kill -0 "$bwatch" 2>/dev/null || break
	sleep 0.1
done
if kill -0 "$bwatch" 2>/dev/null; then
	fail "revoked device still connected"
	kill "$bwatch"
else
	check "connected device told it is revoked" grep -q revoked "$tmp/bwatch.log"
fi
wait "$bwatch" 2>/dev/null || true
if v B sync >"$tmp/out" 2>&1; then
	fail "revoked device synced"
else
	check "revoked device is told" grep -q "revoked" "$tmp/out"
	grep -q revoked "$tmp/out" || cat "$tmp/out" >&2
	check "revoked device wiped its copy" [ ! -e "$tmp/B/veld.db" ]
fi
check "A still syncs" v A sync

stop_server
# veldd checkpointed its WAL into the file when it stopped (section 4).
check "erased: the server's store file no longer holds the note or street" \
	not grep -aqE 'teruggebeld|Kerkstraat' "$tmp/srv/veld.db"
echo "sync_e2e: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
