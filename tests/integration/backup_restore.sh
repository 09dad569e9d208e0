#!/usr/bin/env bash
# backup_restore.sh - veldd backup, verify and restore with real processes
# on 127.0.0.1: a veldd server, a coordinator device C and a field device A.
#
#   backup_restore.sh VELDD VELD
#
# 1. backup while A pushes 300 records (backups are taken in a loop until
#    the push is over): every backup succeeds, passes integrity_check, and
#    `veldd verify` on a data dir holding it is clean and reports the state
#    hash the backup printed;
# 2. the server enrols B (an op it signs itself) and the devices go on
#    working; stop the server, restore the first backup with the ops of
#    C's store (`veldd restore --ops-from`), start it again; C makes a new
#    record and a device E enrols, then all sync twice: the server takes
#    back every op it had lost from the devices' logs (A's last work is
#    only in A's), and every replica ends with one state hash - A too,
#    whose pull cursor was beyond the restored log - and verifies clean;
# 3. `veldd verify` names an op whose stored header has one byte flipped,
#    and reports a flipped body byte as a body hash mismatch;
# 4. the refusals: backup over an existing file, restore under a running
#    veldd, usage errors.
# Prints "N passed, N failed"; exits non-zero if anything failed.
set -euo pipefail
veldd=${1:?usage: backup_restore.sh VELDD VELD}
veld=${2:?usage: backup_restore.sh VELDD VELD}
for tool in curl python3 sqlite3; do
	command -v $tool >/dev/null || {
		echo "backup_restore: $tool not found" >&2
		exit 1
	}
done
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
trap 'exit 130' INT TERM
# A sanitizer build reports to files, from every process (also the server
# and commands whose output is dropped); none may appear.
export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}log_path=$tmp/sanitizer"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:+$UBSAN_OPTIONS:}log_path=$tmp/sanitizer"

port=$(free_port)
url="ws://127.0.0.1:$port/sync"
srv=$tmp/srv

v() { # v DEVICE args...
	local d=$1
	shift
	"$veld" --dir "$tmp/$d" "$@"
}
quiet() { "$@" >/dev/null; }
server_hash() { "$veldd" state-hash --data "$srv" | tail -1; }
same_hash_everywhere() {
	local h
	h=$(server_hash)
	for d in "$@"; do
		[ "$(v "$d" state-hash | tail -1)" = "$h" ] || return 1
	done
}
# json FILE EXPR: a value from a JSON document (python3 expression on j).
json() { python3 -c "import json,sys; j = json.load(open(sys.argv[1])); print($2)" "$1"; }
# A data dir holding a copy of a backup (and the server key) for verify.
dir_with() { # dir_with NAME BACKUP
	mkdir -p "$tmp/$1"
	cp "$srv/server.key" "$tmp/$1/"
	cp "$2" "$tmp/$1/veld.db"
}
ops_in() { # ops_in DATADIR: ops in the server's log
	"$veldd" verify --data "$1" --json >"$tmp/ops.json" || true
	json "$tmp/ops.json" 'j["snapshot"]["ops"]'
}

# --- setup: two devices, some records -----------------------------------
start_server
first=$(sed -n 's/.*code (valid 24 hours): //p' "$tmp/srv.log")
check "enrol coordinator C" quiet v C init --server "$url" --code "$first" --name Carla
code=$("$veldd" code new --data "$srv" --role field --name Ahmed | tail -1)
check "enrol field device A" quiet v A init --server "$url" --code "$code" --name A
for i in 1 2 3; do v A new huisbezoek street=Kerkstraat "house=$i" >/dev/null; done
for i in 1 2; do v C new containerdag street=Markt "need=$i" >/dev/null; done
for d in A C A; do v "$d" sync >/dev/null || fail "sync $d"; done
check "setup: one state hash" same_hash_everywhere A C

# --- 1. backups while A pushes 300 records ------------------------------
for i in $(seq 300); do v A new huisbezoek street=Lange_Laan "house=$i" >/dev/null; done
before=$(ops_in "$srv")
"$veld" --dir "$tmp/A" sync >"$tmp/push.log" 2>&1 &
sync_pid=$!
n=0
while :; do
	n=$((n + 1))
	if "$veldd" backup "$tmp/b$n.db" --data "$srv" >"$tmp/b$n.out" 2>&1; then
		ok "backup $n during the push"
	else
		fail "backup $n during the push"
		cat "$tmp/b$n.out" >&2
	fi
	kill -0 "$sync_pid" 2>/dev/null || break
done
check "A's push of 300 records" wait "$sync_pid"
sync_pid=
after=$(ops_in "$srv")
check "the server took the push ($before -> $after ops)" [ "$after" -eq $((before + 300)) ]
mid=0
for i in $(seq "$n"); do
	b=$tmp/b$i.db
	[ -f "$b" ] || continue
	check "b$i: integrity_check ok" [ "$(sqlite3 "$b" 'PRAGMA integrity_check')" = ok ]
	check "b$i: one file, no -wal/-shm/.tmp left" \
		test ! -e "$b-wal" -a ! -e "$b-shm" -a ! -e "$b.tmp"
	check "b$i: mode 0600" [ "$(stat -c %a "$b")" = 600 ]
	dir_with "v$i" "$b"
	"$veldd" verify --data "$tmp/v$i" --json >"$tmp/v$i.json" && rc=0 || rc=$?
	check "b$i: veldd verify clean (exit $rc)" [ "$rc" = 0 ]
	printed=$(sed -n 's/^  state hash  //p' "$tmp/b$i.out")
	check "b$i: verify's state hash is the one backup printed" \
		[ "$(json "$tmp/v$i.json" 'j["state_hash"]')" = "$printed" ]
	ops=$(json "$tmp/v$i.json" 'j["snapshot"]["ops"]')
	[ "$ops" -gt "$before" ] && [ "$ops" -lt "$after" ] && mid=$((mid + 1))
	echo "     b$i: $ops ops; $(sed -n 's/^  size *//p' "$tmp/b$i.out")"
done
echo "     $n backups during the push, $mid of them with part of it"
check "the backup says the server key is not in it" \
	grep -q "server.key" "$tmp/b1.out"
old_hash=$(sed -n 's/^  state hash  //p' "$tmp/b1.out")

# --- 2. work on, lose it, restore, heal ---------------------------------
# After the backup the server also signs an op itself: B's enrolment.
code=$("$veldd" code new --data "$srv" --role field --name Bea | tail -1)
check "enrol field device B after the backup" \
	quiet v B init --server "$url" --code "$code" --name B
b_rec=$(v B new huisbezoek street=Dorpsweg house=1 | tail -1)
for i in 1 2 3 4 5; do v A new huisbezoek street=Brink "house=$i" >/dev/null; done
for i in 1 2 3; do v C new containerdag street=Plein "need=$i" >/dev/null; done
for d in A B C A B; do v "$d" sync >/dev/null || fail "sync $d before the loss"; done
check "before the loss: one state hash" same_hash_everywhere A B C
# A's last work reaches the server, but no other device.
for i in 1 2 3 4 5; do v A new huisbezoek street=Esdoorn "house=$i" >/dev/null; done
check "A syncs its last work before the loss" quiet v A sync
full=$(ops_in "$srv")
stop_server

# The server's own op (B's enrolment) comes back only from a replica that
# has it: C's store, taken with --ops-from (C is not running).
if "$veldd" restore "$tmp/b1.db" --ops-from "$tmp/C/veld.db" --data "$srv" \
	>"$tmp/restore.out" 2>&1; then
	ok "restore the first backup, with the ops of C's store"
else
	fail "restore the first backup, with the ops of C's store"
	cat "$tmp/restore.out" >&2
fi
check "the store replaced is kept" quiet ls "$srv"/veld.db.replaced-*
check "restore verified the backup's state" \
	[ "$(sed -n 's/^  state hash  //p' "$tmp/restore.out")" = "$old_hash" ]
check "restore took ops from C" grep -Eq "taken from .*: [1-9][0-9]* ops new" "$tmp/restore.out"
start_server
check "the restored server still lacks ops ($(ops_in "$srv") < $full)" \
	[ "$(ops_in "$srv")" -lt "$full" ]
# C works first after the restore: A must still be sent C's new record,
# although A had pulled past the end of the restored log.  And the server
# signs again (E's enrolment): no device may see that as a fork.
late=$(v C new containerdag street=Nieuw need=1 | tail -1)
code=$("$veldd" code new --data "$srv" --role field --name Eva | tail -1)
check "enrol field device E after the restore" \
	quiet v E init --server "$url" --code "$code" --name E
for d in C A B E C A B E; do v "$d" sync >/dev/null || fail "re-sync $d"; done
check "healed: server, A, B, C and E have one state hash" \
	same_hash_everywhere A B C E
check "healed: the server holds every op again, and the 2 new ones" \
	[ "$(ops_in "$srv")" -eq $((full + 2)) ]
check "A received C's record made after the restore" \
	grep -q "$late" <(v A list --json)
check "E received B's record made after the backup" \
	grep -q "$b_rec" <(v E list --json)
"$veldd" verify --data "$srv" >"$tmp/verify.out" && rc=0 || rc=$?
check "healed store verifies clean (exit $rc)" [ "$rc" = 0 ]
# The devices' replicas follow the same rules (held ops, their own clock).
for d in A C; do
	dir_with "dev$d" "$tmp/$d/veld.db"
	"$veldd" verify --data "$tmp/dev$d" >"$tmp/dev$d.out" && rc=0 || rc=$?
	check "device $d's replica verifies clean (exit $rc)" [ "$rc" = 0 ]
	[ "$rc" = 0 ] || cat "$tmp/dev$d.out" >&2
done
count=$(v C list --json | python3 -c 'import json,sys; print(sum(1 for r in json.load(sys.stdin) if r.get("street") == "Lange_Laan"))')
check "all 300 records of the push are there ($count)" [ "$count" = 300 ]

# --- 3. verify finds damage ---------------------------------------------
# flip DB TABLE COLUMN: flip one byte in the middle of one blob; prints
# the op id concerned.
flip() {
	python3 - "$@" <<'EOF'
import sqlite3, sys
db, table, col = sys.argv[1:4]
c = sqlite3.connect(db)
key = "pos" if table == "ops" else "id"
# the op half way through (of those with a body, for the body)
row = c.execute(f"SELECT {key}, {col}, id FROM {table}"
                f" WHERE {col} IS NOT NULL ORDER BY {key} LIMIT 1 OFFSET"
                f" (SELECT count(*) / 2 FROM {table} WHERE {col} IS NOT NULL)"
                ).fetchone()
blob = bytearray(row[1])
blob[len(blob) // 2] ^= 0x01
c.execute(f"UPDATE {table} SET {col} = ? WHERE {key} = ?", (bytes(blob), row[0]))
c.commit()
print(row[2].hex())
EOF
}
dir_with hdr "$tmp/b1.db"
op=$(flip "$tmp/hdr/veld.db" ops header)
"$veldd" verify --data "$tmp/hdr" >"$tmp/hdr.out" 2>&1 && rc=0 || rc=$?
check "flipped header byte: verify exits 1 (got $rc)" [ "$rc" = 1 ]
check "flipped header byte: the op is named" grep -q "op $op" "$tmp/hdr.out"
check "flipped header byte: its signature fails" \
	grep -q "signature op $op.*does not verify" "$tmp/hdr.out"
dir_with body "$tmp/b1.db"
op=$(flip "$tmp/body/veld.db" ops body)
"$veldd" verify --data "$tmp/body" --json >"$tmp/body.json" && rc=0 || rc=$?
check "flipped body byte: verify exits 1 (got $rc)" [ "$rc" = 1 ]
check "flipped body byte: a body hash mismatch of that op" \
	[ "$(json "$tmp/body.json" '[p["error"] for p in j["problems"] if p["op"] == "'"$op"'"][0]')" = EBODYHASH ]
check "verify never writes: the backup is unchanged" \
	cmp -s "$tmp/b1.db" "$tmp/v1/veld.db"

# --- 4. refusals ---------------------------------------------------------
"$veldd" backup "$tmp/b1.db" --data "$srv" >/dev/null 2>&1 && rc=0 || rc=$?
check "backup refuses to replace an existing file (exit $rc)" [ "$rc" = 1 ]
check "backup --force replaces it" quiet \
	"$veldd" backup "$tmp/b1.db" --force --data "$srv"
"$veldd" backup "$srv/veld.db" --force --data "$srv" >/dev/null 2>&1 && rc=0 || rc=$?
check "backup refuses to write over the live store (exit $rc)" [ "$rc" = 1 ]
"$veldd" restore "$tmp/b1.db" --data "$srv" >"$tmp/busy.out" 2>&1 && rc=0 || rc=$?
check "restore refuses while veldd runs (exit $rc)" [ "$rc" = 1 ]
check "restore says why" grep -q "stop veldd" "$tmp/busy.out"
"$veldd" backup --data "$srv" >/dev/null 2>&1 && rc=0 || rc=$?
check "backup without FILE is a usage error (exit $rc)" [ "$rc" = 2 ]
"$veldd" verify --data "$srv" extra >/dev/null 2>&1 && rc=0 || rc=$?
check "verify with an argument is a usage error (exit $rc)" [ "$rc" = 2 ]
stop_server
reports=$(find "$tmp" -maxdepth 1 -name 'sanitizer.*' | wc -l)
check "no sanitizer reports ($reports)" [ "$reports" = 0 ]
[ "$reports" = 0 ] || cat "$tmp"/sanitizer.* >&2

echo "backup_restore: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
