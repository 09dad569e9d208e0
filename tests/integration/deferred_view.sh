#!/usr/bin/env bash
# deferred_view.sh - veldd receipts a push once its ops are verified and
# durable in the log; the records view follows (server/settle.h).  A crash
# in between must lose nothing, with real processes on 127.0.0.1:
#
#   deferred_view.sh VELDD VELD WIJKLAB_TOOL FORM_JSON
#
# Each attempt: five field devices write the wijklab workload offline
# (500 creates, 100 edits, 10 deletes each).
#
# 1. The first pushes while a reader polls /metrics every millisecond: as
#    soon as records wait (veld_records_unsettled > 0: the push was
#    committed and receipted, its records not yet settled), it asks the
#    dashboard's API for the form's counts, which must be all 490 live
#    records: the API settles what waits before it reads.
# 2. The other four push at once (threads of `wijklab_tool push-threads`)
#    and veldd is killed with SIGKILL as soon as they have their receipts.
#    With veldd down, `veldd verify` finds no problem (when the kill came
#    before the records were settled it says so, state_unsettled_after,
#    instead of comparing the view with the re-fold) and `veldd export`
#    (read-only) notes exactly then that the last pushes are not in it
#    yet, and `veldd backup` copies and checks it all the same.  After
#    veldd started again, without any further sync, the export holds all
#    2,500 records, its live ones those the devices list, and verify
#    compares the view with the re-fold: the same.
#
# Up to 4 attempts, until both the reader and a kill have come while
# records waited at least once (the settle starts 10 ms after the last
# push); the checks above hold in every attempt.
set -euo pipefail
veldd=$1
veld=$2
tool=$3
form=$4
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

# login_dashboard: a coordinator's session for the dashboard API.
login_dashboard() {
	local c
	c=$("$veldd" code new --data "$srv_data" --role coordinator \
		--name Carla --area wijk | tail -1)
	rm -f "$tmp/jar"
	[ "$(curl -s -o /dev/null -w '%{http_code}' -c "$tmp/jar" \
		-H "Origin: http://127.0.0.1:$port" -d "{\"code\":\"$c\"}" \
		"http://127.0.0.1:$port/api/login")" = 200 ]
}
# device NAME N: enrol NAME and write device N's wijklab log offline.
device() {
	local code
	code=$("$veldd" code new --data "$srv_data" --role field \
		--name "$1" --area wijk | tail -1)
	"$veld" --dir "$tmp/$attempt-$1" init \
		--server "ws://127.0.0.1:$port/sync" --code "$code" \
		--name "$1" >/dev/null
	"$tool" prep --seed 42 --R 500 --device "$2" --dir "$tmp/$attempt-$1" \
		--map "$tmp/$attempt-$1.map" >/dev/null
}

raced=0
hit=0
for attempt in 1 2 3 4; do
	port=$(free_port)
	srv_data=$tmp/srv$attempt
	start_server
	"$veldd" form import "$form" --data "$srv_data" >/dev/null
	check "attempt $attempt: coordinator logs in" login_dashboard
	for d in 0 1 2 3 4; do device "d00$d" "$d"; done

	# 1. The dashboard while records wait.
	python3 - "$port" "$(awk '$6 == "veld_session" {print $7}' "$tmp/jar")" \
		"$tmp/ready$attempt" >"$tmp/reader$attempt.out" <<'PY' &
import http.client, json, re, sys, time
port, session, ready = int(sys.argv[1]), sys.argv[2], sys.argv[3]
conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
def get(path, headers={}):
    conn.request("GET", path, headers=headers)
    r = conn.getresponse()
    return r.read().decode()
for i in range(20000):  # bounded: 20 s and more
    m = re.search(r"^veld_records_unsettled (\d+)$", get("/metrics"), re.M)
    if i == 0:
        open(ready, "w").close()
    if m and int(m.group(1)) > 0:
        counts = json.loads(get("/api/counts?form=wijklab",
                                {"Cookie": "veld_session=" + session}))
        print(m.group(1), counts["total"])
        break
    time.sleep(0.001)
else:
    print("none")
PY
	reader=$!
	for _ in $(seq 100); do
		[ -e "$tmp/ready$attempt" ] && break
		sleep 0.1
	done
	"$veld" --dir "$tmp/$attempt-d000" sync --push-only >/dev/null 2>&1
	wait "$reader"
	read -r n total <"$tmp/reader$attempt.out"
	if [ "$n" != none ]; then
		raced=$((raced + 1))
		check "attempt $attempt: the dashboard counts all 490 live records while $n wait to be settled ($total)" \
			[ "$total" = 490 ]
	fi

	# 2. A crash right after a receipt.
	"$tool" push-threads "$tmp/$attempt-d001" "$tmp/$attempt-d002" \
		"$tmp/$attempt-d003" "$tmp/$attempt-d004" <<<go \
		>"$tmp/threads$attempt.out" 2>&1
	kill_server
	"$veldd" verify --data "$srv_data" --json >"$tmp/verify$attempt.json" &&
		rc=0 || rc=$?
	check "attempt $attempt: verify after the kill exits 0 ($rc)" \
		[ "$rc" = 0 ]
	"$veldd" export --data "$srv_data" --form wijklab --format json \
		>"$tmp/export$attempt.json" 2>"$tmp/export$attempt.err"
	if grep -q '"state_unsettled_after": null' "$tmp/verify$attempt.json"; then
		check "attempt $attempt: settled view, no note" \
			lacks "not in this yet" "$tmp/export$attempt.err"
	else
		hit=$((hit + 1))
		check "attempt $attempt: unsettled view, export notes it" \
			grep -q "not in this yet" "$tmp/export$attempt.err"
		# A backup of it: the copy's view is the store's, unsettled.
		check "attempt $attempt: unsettled view, veldd backup copies and checks it" \
			"$veldd" backup --data "$srv_data" "$tmp/backup$attempt.db"
	fi

	start_server
	"$veldd" export --data "$srv_data" --form wijklab --format json \
		>"$tmp/after$attempt.json" 2>"$tmp/after$attempt.err"
	for d in 0 1 2 3 4; do
		"$veld" --dir "$tmp/$attempt-d00$d" list --json --form wijklab \
			>"$tmp/list$attempt-$d.json"
	done
	check "attempt $attempt: after the restart the export holds every record, live as the devices list them" \
		python3 - "$tmp/after$attempt.json" "$tmp/list$attempt"-?.json <<'PY'
import json, sys
exported = json.load(open(sys.argv[1]))
rows = exported["records"] if isinstance(exported, dict) else exported
ids = {r["id"] for r in rows if not r["deleted"]}
want = set()
for path in sys.argv[2:]:
    want |= {r["id"] for r in json.load(open(path))}
if len(rows) != 2500 or len(want) != 2450 or ids != want:
    sys.exit(f"export {len(rows)} records ({len(ids)} live), devices list "
             f"{len(want)}")
PY
	check "attempt $attempt: after the restart no note" \
		lacks "not in this yet" "$tmp/after$attempt.err"
	stop_server
	"$veldd" verify --data "$srv_data" --json >"$tmp/verify2-$attempt.json" &&
		rc=0 || rc=$?
	check "attempt $attempt: verify after the restart: the view is the re-fold ($rc)" \
		grep -q '"state_unsettled_after": null' "$tmp/verify2-$attempt.json"
	[ "$rc" = 0 ] || fail "attempt $attempt: verify after the restart exits $rc"
	[ "$hit" -gt 0 ] && [ "$raced" -gt 0 ] && break
done
check "the dashboard was asked while records waited (in $attempt attempts)" \
	[ "$raced" -gt 0 ]
check "a kill came before the records were settled (in $attempt attempts)" \
	[ "$hit" -gt 0 ]

echo "deferred_view: $passed passed, $failed failed"
[ "$failed" = 0 ]
