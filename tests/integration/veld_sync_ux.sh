#!/usr/bin/env bash
# veld's sync as a field worker sees it: offline work without a server,
# a one-line summary for scripts, progress on a terminal (tmux), and
# `sync --watch` started while the server is down: it waits, syncs as soon
# as the server is up, stays live, survives a server restart.  English and
# Dutch progress.
#
#   veld_sync_ux.sh VELDD VELD
set -euo pipefail
veldd=$1
veld=$2
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
sock=veld-sync-$$
at_exit() { tmux -L "$sock" kill-server 2>/dev/null || true; }
v() { # v DEVICE args...
	local d=$1
	shift
	"$veld" --dir "$tmp/$d" "$@" </dev/null
}
port=$(free_port)
url="ws://127.0.0.1:$port/sync"
screen() { tmux -L "$sock" capture-pane -p -t "$1" -S -400; }
# wait_for NAME TEXT [SECONDS] : until the screen shows TEXT
wait_for() {
	local n=$((${3:-15} * 10))
	for _ in $(seq "$n"); do
		grep -qF -- "$2" <(screen "$1") && return 0
		sleep 0.1
	done
	fail "screen of $1 never showed '$2'"
	screen "$1" | tail -15 >&2
	return 1
}
tty_run() { # tty_run NAME LANG DEVICE ARGS...
	local name=$1 lang=$2 d=$3
	shift 3
	tmux -L "$sock" new-session -d -s "$name" -x 150 -y 50 \
		"env LANG=$lang LANGUAGE= LC_ALL= LC_MESSAGES= $(printf '%q ' \
			"$veld" --dir "$tmp/$d" "$@"); echo EXIT=\$?; sleep 60"
}

start_server
first=$(sed -n 's/.*code (valid 24 hours): //p' "$tmp/srv.log")
v C init --server "$url" --code "$first" --name Coord >/dev/null
code=$("$veldd" code new --data "$tmp/srv" --role field --name Ahmed \
	--area noord | tail -1)
v A init --server "$url" --code "$code" --name A >/dev/null
stop_server

# --- offline is normal: no server, no network, no error ---
for i in 1 2 3; do
	v A new huisbezoek street=Kerkstraat "house=$i" >/dev/null
done
grep -Eq "unsynced +3" <(v A status) && ok || fail "status offline"
[ "$(v A list --json | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))')" = 3 ] &&
	ok || fail "list offline"

# --- sync --watch before the server is up ---
tty_run w1 C.UTF-8 A sync --watch
wait_for w1 "server not reachable; trying again in"
grep -qF "[pushed 0, pulled 0 ops;" <(screen w1) && ok ||
	fail "no totals on the waiting line"
start_server
wait_for w1 "receipt: the server holds our ops up to #3"
grep -qF "[pushed 3, pulled" <(screen w1) && ok || fail "totals after push"
grep -qE "pushing ops 1\.\.3" <(screen w1) && ok || fail "push progress"
for _ in $(seq 50); do
	grep -Eq "unsynced +0" <(v A status) && break
	sleep 0.1
done
grep -Eq "unsynced +0" <(v A status) && ok || fail "not synced while watching"
grep -Eq "receipt +3" <(v A status) && ok || fail "receipt not kept"
# Live: the coordinator writes, the watcher pulls without being asked.
v C new containerdag street=Markt need=1 >/dev/null
v C sync >/dev/null
wait_for w1 "pulled 1 ops"
# The server goes away and comes back: the watcher waits and goes on.
stop_server
wait_for w1 "server not reachable; trying again in" 20
start_server
v C new containerdag street=Plein need=2 >/dev/null
v C sync >/dev/null
wait_for w1 "[pushed 3, pulled 2 ops" 40
# Ctrl-C ends the watch (and its window).
tmux -L "$sock" send-keys -t w1 C-c
for _ in $(seq 50); do
	tmux -L "$sock" has-session -t w1 2>/dev/null || break
	sleep 0.1
done
tmux -L "$sock" has-session -t w1 2>/dev/null && fail "Ctrl-C did not end the watch" || ok

# --- scripts get one summary line ---
v A new huisbezoek street=Brink house=9 >/dev/null
v A sync >"$tmp/out" 2>&1
[ "$(wc -l <"$tmp/out")" = 1 ] && ok || fail "sync printed: $(cat "$tmp/out")"
grep -q "^synced: pushed 1 ops, pulled 0 ops; [0-9]* bytes up, [0-9]* down; receipt for our ops up to #4$" \
	"$tmp/out" && ok || fail "summary: $(cat "$tmp/out")"

# --- a sync with nothing to keep does not take the store's write lock ---
# Another process holds it (the interactive veld saving an entry, say):
# a push with nothing new neither waits for it nor fails.  Before, WELCOME's
# settings were written again on every sync, which waited here for the
# busy timeout (5 s) and then failed.
python3 -c '
import sqlite3, sys, time
c = sqlite3.connect(sys.argv[1], isolation_level=None, timeout=1)
c.execute("BEGIN IMMEDIATE")
print("locked", flush=True)
time.sleep(30)
' "$tmp/A/veld.db" >"$tmp/lock.out" &
locker=$!
for _ in $(seq 100); do
	grep -q locked "$tmp/lock.out" && break
	sleep 0.1
done
grep -q locked "$tmp/lock.out" && ok || fail "python3 did not take the lock"
timeout 4 "$veld" --dir "$tmp/A" sync --push-only </dev/null >"$tmp/out" 2>&1 &&
	ok || fail "sync while the store is locked: $(cat "$tmp/out")"
grep -q "^synced: pushed 0 ops" "$tmp/out" && ok || fail "locked sync: $(cat "$tmp/out")"
kill "$locker" 2>/dev/null || true
wait "$locker" 2>/dev/null || true
# With the lock gone, a push with something new keeps its receipt.
v A new huisbezoek street=Brink house=10 >/dev/null
v A sync --push-only >/dev/null && ok || fail "push after the lock"
grep -Eq "receipt +5" <(v A status) && ok || fail "receipt after the lock: $(v A status)"

# --- many open files: the sync's connection gets a high fd number ---
# veld's lws context is limited to a few fds (VELD_SYNC_FDS); lws then looks
# sockets up by value, so a socket numbered far above that limit (an
# embedding process with many files open) must still work.
v A new huisbezoek street=Brink house=11 >/dev/null
(
	for i in $(seq 3 200); do eval "exec $i</dev/null"; done
	"$veld" --dir "$tmp/A" sync --push-only </dev/null >"$tmp/out" 2>&1
) && ok || fail "sync with 198 files open: $(cat "$tmp/out")"
grep -q "^synced: pushed 1 ops" "$tmp/out" && ok || fail "high fd sync: $(cat "$tmp/out")"

# --- Dutch progress on a terminal ---
v C new containerdag street=Dorp need=3 >/dev/null
v C sync >/dev/null
tty_run n1 nl_NL.UTF-8 A sync
wait_for n1 "opgehaald (cursor"
wait_for n1 "gesynchroniseerd: 0 ops verstuurd, 1 ops opgehaald"
wait_for n1 "EXIT=0"

echo "veld_sync_ux: $passed passed, $failed failed"
[ "$failed" = 0 ]
