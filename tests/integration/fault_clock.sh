#!/usr/bin/env bash
# fault_clock.sh - device clocks hours behind or ahead, within and beyond
# the drift bound (10 minutes), with real processes on 127.0.0.1 and
# libfaketime (Debian's faketime, preloaded) giving each device its own
# wrong clock.
#
#   fault_clock.sh VELDD VELD          (77 = libfaketime is not installed)
#
# - A, 3 hours behind (after enrolling with the right time): records and
#   syncs;
# - B, 5 minutes ahead (within the bound): records and syncs;
# - C, 3 hours ahead (beyond the bound): records (nothing is lost on the
#   device), but the server refuses its push with ECLOCKAHEAD, a clear
#   message, and stores nothing of it; when the server's time has caught
#   up (veldd restarted under faketime 3 h 15 min ahead), the same
#   entries go in;
# - a device whose clock is behind ops it pulls (B, 5 min ahead, against
#   C's entries 3 h ahead) is told to check its clock, and does not skip
#   them: once its clock is right it gets them;
# in the end every replica has every entry and one state hash.
# (The in-process version of these rules: tests/test_clock_chaos.c.)
set -euo pipefail
veldd=$1
veld=$2
if ! ls /usr/lib/*/faketime/libfaketime.so.1 >/dev/null 2>&1; then
	echo "fault_clock: SKIPPED: libfaketime (Debian: faketime) is not installed"
	exit 77
fi
faketime_lib=$(ls /usr/lib/*/faketime/libfaketime.so.1 2>/dev/null | head -n 1 || true)
# A sanitizer build refuses a preloaded library ahead of its runtime.
export ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

port=$(free_port)
url="ws://127.0.0.1:$port/sync"
start_server() { # start_server [faketime offset]
	if [ -n "${1:-}" ]; then
		veldd_up LD_PRELOAD="$faketime_lib" FAKETIME="$1"
	else
		veldd_up
	fi
}
code() { "$veldd" code new --data "$tmp/srv" --role "$1" --name "$2" --area noord | tail -1; }
# libfaketime preloaded by env (its faketime wrapper leaves a semaphore
# behind when killed, and then refuses to start); FAKETIME takes one
# unit: "+195m", not "+3h15m".
declare -A skew=([A]="-3h" [B]="+5m" [C]="+3h")
v() { # v DEVICE args...: with that device's clock
	local d=$1
	shift
	env LD_PRELOAD="$faketime_lib" FAKETIME="${skew[$d]}" \
		"$veld" --dir "$tmp/$d" "$@"
}
server_hash() { "$veldd" state-hash --data "$tmp/srv" | tail -1; }
ops() { sqlite3 "$tmp/srv/veld.db" 'SELECT count(*) FROM ops'; }
count() { # entries of street S on device D
	v "$1" list --json --street "$2" | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))'
}

start_server
first=$(sed -n 's/.*code (valid 24 hours): //p' "$tmp/srv.log")
# Enrolment happens with the right time (the device learns the server's
# clock from the ops it pulls); then the clocks go wrong.
"$veld" --dir "$tmp/A" init --server "$url" --code "$(code field Ahmed)" --name A >/dev/null
"$veld" --dir "$tmp/B" init --server "$url" --code "$(code field Bea)" --name B >/dev/null
"$veld" --dir "$tmp/C" init --server "$url" --code "$first" --name C >/dev/null
for d in A B C; do "$veld" --dir "$tmp/$d" sync >/dev/null; done

# A: 3 hours behind.
for i in 1 2 3; do
	check "A (3 h behind) records entry $i" \
		v A new huisbezoek street=Achter "house=$i" >/dev/null
done
check "A (3 h behind) syncs" v A sync >/dev/null
# B: 5 minutes ahead.
for i in 1 2; do
	check "B (5 min ahead) records entry $i" \
		v B new huisbezoek street=Voor "house=$i" >/dev/null
done
check "B (5 min ahead) syncs" v B sync >/dev/null

# C: 3 hours ahead, beyond the bound.
ops0=$(ops)
hash0=$(server_hash)
for i in 1 2; do
	check "C (3 h ahead) records entry $i on the device" \
		v C new huisbezoek street=Ver "house=$i" >/dev/null
done
if v C sync >"$tmp/c.out" 2>&1; then
	fail "C's push from 3 hours ahead was taken"
else
	check "C is told why: ECLOCKAHEAD ($(grep -m 1 ECLOCK "$tmp/c.out" || true))" \
		grep -q "ECLOCKAHEAD" "$tmp/c.out"
fi
check "server stored nothing of C's push" [ "$(ops)" = "$ops0" ]
check "server state unchanged by C's push" [ "$(server_hash)" = "$hash0" ]
check "C keeps its entries (unsynced 2)" grep -Eq "unsynced +2" <(v C status)
check "C still shows its 2 entries" [ "$(count C Ver)" = 2 ]

# Time passes on the server: C's entries are no longer from the future.
stop_server
start_server "+195m" # 3 h 15 min
check "C syncs once the server's time caught up" v C sync >/dev/null

# B's clock (5 min ahead of the real time) is now 3 h behind C's entries:
# B is told to check its clock and must not skip them.
if v B sync >"$tmp/b.out" 2>&1; then
	fail "B (clock behind C's entries) pulled without a word"
else
	check "B is told to check its clock ($(grep -m 1 ECLOCK "$tmp/b.out" || true))" \
		grep -q "check the device's date and time.*(ECLOCKAHEAD)" "$tmp/b.out"
fi
check "B does not have C's entries yet" [ "$(count B Ver)" = 0 ]

# Everyone's clock agrees with the server's again: every device catches
# up, nothing skipped.
skew=([A]="+195m" [B]="+195m" [C]="+195m")
for d in A B C; do v "$d" sync >/dev/null || fail "final sync $d"; done
h=$(server_hash)
for d in A B C; do
	check "$d: same state hash as the server" [ "$(v "$d" state-hash | tail -1)" = "$h" ]
	check "$d: every entry (3 + 2 + 2)" \
		[ "$(count "$d" Achter) $(count "$d" Voor) $(count "$d" Ver)" = "3 2 2" ]
done

echo "fault_clock: $passed passed, $failed failed"
[ "$failed" = 0 ]
