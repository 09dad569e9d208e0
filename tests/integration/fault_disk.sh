#!/usr/bin/env bash
# fault_disk.sh - a full disk on the server and on a device, real processes
# on 127.0.0.1, data directories on small tmpfs mounts.
#
#   fault_disk.sh VELDD VELD
#
# The mounts need a private mount namespace: the script re-runs itself
# under `unshare --user --map-root-user --mount` (no real root needed).
# Where the kernel or the container does not allow that, it skips (exit
# 77) and says so.
#
# Server (data dir on a 1.5 MiB tmpfs): a device pushes more than fits ->
#   - the device is told clearly (the sync fails, naming the server's
#     storage), and keeps every entry (unsynced, not lost);
#   - veldd keeps running; its store passes integrity_check; every op the
#     device holds a receipt for is on the server;
#   - once there is space again (the tmpfs is grown) the same sync
#     completes: every entry on the server once, one state hash.
# Device (device dir on a tmpfs, then filled up): a new entry is refused
#   with a clear message, earlier entries and the state hash are intact,
#   integrity_check ok; with space again, entries and sync work.
set -euo pipefail
veldd=$1
veld=$2

if [ -z "${FAULT_DISK_NS:-}" ]; then
	if ! unshare --user --map-root-user --mount \
		sh -c 'd=$(mktemp -d) && mount -t tmpfs -o size=1m tmpfs "$d" && umount "$d"; rc=$?; rmdir "$d"; exit $rc' \
		2>/dev/null; then
		echo "fault_disk: SKIPPED: cannot mount a tmpfs in a user +" \
			"mount namespace here (unshare -rm)"
		exit 77
	fi
	FAULT_DISK_NS=1 exec unshare --user --map-root-user --mount \
		bash "$0" "$@"
fi

. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
at_exit() {
	umount "$tmp/srvfs" 2>/dev/null || true
	umount "$tmp/devfs" 2>/dev/null || true
}

port=$(free_port)
url="ws://127.0.0.1:$port/sync"
mkdir -p "$tmp/srvfs" "$tmp/devfs"
mount -t tmpfs -o size=1536k tmpfs "$tmp/srvfs"
srv_data=$tmp/srvfs/data
data=$srv_data
db=$data/veld.db
start_server
v() { # v DEVICE args...
	local d=$1
	shift
	"$veld" --dir "$tmp/$d" "$@"
}
integrity() { [ "$(sqlite3 "$1" 'PRAGMA integrity_check')" = ok ]; }
receipt_seq() { v "$1" status | sed -n 's/^receipt *\([0-9]*\).*/\1/p'; }
server_seq() {
	sqlite3 "$db" "SELECT coalesce(max(seq), 0) FROM heads WHERE author = X'$(v "$1" whoami | awk '{print $2}')'"
}
count_street() { # count_street DEVICE STREET: "entries distinct"
	v "$1" list --json --street "$2" | python3 -c '
import json, sys
houses = [r["values"].get("house") for r in json.load(sys.stdin)]
print(len(houses), len(set(houses)))'
}

# --- the server's disk fills up ------------------------------------------
first=$(sed -n 's/.*code (valid 24 hours): //p' "$tmp/srv.log")
v A init --server "$url" --code "$first" --name Carla >/dev/null
note=$(head -c 6000 /dev/zero | tr '\0' 'x')
n=300
for i in $(seq "$n"); do
	id=$(v A new huisbezoek street=Vol "house=$i" | tail -1)
	v A note "$id" "$note $i" >/dev/null
done
if v A sync >"$tmp/full.out" 2>&1; then
	fail "a sync of ~2 MiB into a 1.5 MiB disk succeeded"
else
	check "the device is told the server's disk is full" \
		grep -q "storage is full.*on the server.*(EFULL)" "$tmp/full.out"
fi
grep EFULL "$tmp/full.out" | head -n 3 | sed 's/^/  device says: /'
check "veldd still runs with a full disk" kill -0 "$srv_pid"
check "healthz answers with a full disk" \
	curl -sf -m 5 -o /dev/null "http://127.0.0.1:$port/healthz"
check "server store: integrity_check ok" integrity "$db"
r=$(receipt_seq A)
s=$(server_seq A)
check "receipted ops are on the server (receipt ${r:-none}, server $s)" \
	[ "${r:-0}" -le "$s" ]
check "the device kept everything (unsynced > 0)" \
	grep -Eq "unsynced +[1-9]" <(v A status)
check "the device still has all $n entries" [ "$(count_street A Vol)" = "$n $n" ]

# Space returns: the same sync completes.
mount -o remount,size=64m "$tmp/srvfs"
v A sync >"$tmp/after.out" 2>&1 || { cat "$tmp/after.out" >&2; fail "sync once there is space"; }
check "nothing unsynced after the disk has room" grep -Eq "unsynced +0" <(v A status)
check "server and device agree" \
	[ "$(v A state-hash | tail -1)" = "$("$veldd" state-hash --data "$data" | tail -1)" ]
check "server store: integrity_check after recovery" integrity "$db"
check "all $n entries on the server, once" \
	[ "$(sqlite3 "$db" "SELECT count(*) FROM ops WHERE kind = 1")" -ge "$n" ]

# --- the device's disk fills up ------------------------------------------
mount -t tmpfs -o size=16m tmpfs "$tmp/devfs"
mkdir "$tmp/devfs/B"
ln -s "$tmp/devfs/B" "$tmp/B"
v B init --server "$url" --code "$("$veldd" code new --data "$data" --role field --name Bea --area noord | tail -1)" --name B >/dev/null
for i in 1 2 3; do v B new huisbezoek street=Klein "house=$i" >/dev/null; done
h0=$(v B state-hash | tail -1)
# Fill what is left (the filler is what a full phone looks like).
dd if=/dev/zero of="$tmp/devfs/filler" bs=64k 2>/dev/null || true
refused=0
for i in $(seq 50); do # the WAL may still have a page or two of room
	if ! id=$(v B new huisbezoek street=Klein "house=x$i" 2>"$tmp/dev.out" | tail -1) ||
		! v B note "$id" "$note" >/dev/null 2>"$tmp/dev.out"; then
		refused=1
		break
	fi
done
check "a new entry on a full device is refused" [ "$refused" = 1 ]
check "with a clear message ($(head -n 1 "$tmp/dev.out"))" \
	grep -q "(EFULL)" "$tmp/dev.out"
sed 's/^/  device says: /' "$tmp/dev.out"
rm -f "$tmp/devfs/filler"
check "device store: integrity_check ok" integrity "$tmp/devfs/B/veld.db"
check "earlier entries intact" [ "$(count_street B Klein | awk '{print $1}')" -ge 3 ]
check "entries work again with space" \
	v B new huisbezoek street=Klein house=after >/dev/null
v B sync >/dev/null 2>&1 || fail "B syncs after its disk had room again"
check "B and the server agree" \
	[ "$(v B state-hash | tail -1)" = "$("$veldd" state-hash --data "$data" | tail -1)" ]
[ -n "$h0" ] || fail "no state hash before the device's disk filled"

echo "fault_disk: $passed passed, $failed failed"
[ "$failed" = 0 ]
