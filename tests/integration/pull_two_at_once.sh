#!/usr/bin/env bash
# pull_two_at_once.sh - two OPS messages read in one go, with real veldd
# and veld processes on 127.0.0.1.
#
#   pull_two_at_once.sh VELDD VELD WIJKLAB_TOOL FORM_JSON
#
# veldd sends the next OPS of a catch-up before the device acknowledged
# the one before (two in flight, docs/protocol.md).  Handed both in one
# write, a device must still acknowledge each, in order: one ACK written
# over the other would make veldd refuse the pull (EPROTO, "unexpected
# ACK"), which a reading of client/sync.c suggested could happen (one
# send buffer).  With lws 4.1.6 it does not: this test pins that.
#
# A field device pushes 1,220 ops (the wijklab log of R=1000, offline);
# the coordinator, enrolled through tests/tools/opsproxy.py, then pulls
# them: OPS 3 (1,024 ops, more to come) and OPS 4 (the rest), which the
# proxy hands over in one write.  The coordinator's sync must succeed,
# hold every op veldd holds and reach veldd's state hash.
set -euo pipefail
veldd=$1
veld=$2
tool=$3
form=$4
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$here/lib.sh"

port=$(free_port)
pport=$(free_port)
start_server
"$veldd" form import "$form" --data "$tmp/srv" >/dev/null
python3 "$here/../tools/opsproxy.py" "$pport" "$port" --join 3 \
	--log "$tmp/proxy.log" &
for _ in $(seq 50); do
	python3 -c "import socket; socket.create_connection(('127.0.0.1', $pport), 1)" \
		2>/dev/null && break
	sleep 0.1
done

first=$(sed -n 's/.*code (valid 24 hours): //p' "$tmp/srv.log")
# The coordinator's init pulls the registry and the form: OPS 1.
"$veld" --dir "$tmp/coord" init --server "ws://127.0.0.1:$pport/sync" \
	--code "$first" --name Carla >/dev/null
code=$("$veldd" code new --data "$tmp/srv" --role field --name d000 \
	--area wijk | tail -1)
"$veld" --dir "$tmp/dev" init --server "ws://127.0.0.1:$port/sync" \
	--code "$code" --name d000 >/dev/null
"$tool" prep --seed 42 --R 1000 --device 0 --dir "$tmp/dev" \
	--map "$tmp/map" >/dev/null
"$veld" --dir "$tmp/dev" sync --push-only >/dev/null

"$veld" --dir "$tmp/coord" sync >"$tmp/pull.out" 2>&1 && rc=0 || rc=$?
check "the coordinator's pull succeeds ($rc: $(tail -n 1 "$tmp/pull.out"))" \
	[ "$rc" = 0 ]
check "the proxy joined OPS 3 (more) and OPS 4 (the last)" \
	grep -q "^ops 4 cursor [0-9]* more 0$" "$tmp/proxy.log"
check "... and OPS 3 had more to come" \
	grep -q "^ops 3 cursor [0-9]* more 1$" "$tmp/proxy.log"
stop_server
ops_of() { sqlite3 "$1" 'SELECT count(*) FROM ops'; }
check "the coordinator holds every op veldd holds" \
	[ "$(ops_of "$tmp/coord/veld.db")" = "$(ops_of "$tmp/srv/veld.db")" ]
check "the same state hash" [ "$("$veld" --dir "$tmp/coord" state-hash | tail -1)" = \
	"$("$veldd" state-hash --data "$tmp/srv" | tail -1)" ]

echo "pull_two_at_once: $passed passed, $failed failed"
[ "$failed" = 0 ]
