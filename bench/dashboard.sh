#!/usr/bin/env bash
# dashboard.sh: response times of the dashboard API and the exports on a
# server holding N records (default 10,000), on 127.0.0.1.
#
#   bench/dashboard.sh [--n N] [--runs R]
#
# Uses ${VELD_BUILD:-build}/server/veldd and .../client/veld.  Starts a
# veldd on a free loopback port, enrols one field device, creates N
# huisbezoek records on it offline (N `veld new` launches: not measured),
# syncs them, logs a coordinator in, then times each request R times
# (default 5) with curl and prints the median and the answer's size:
# the default record list (500 newest), a street filter, a text search over
# every value, one record with its history, counts, the device list, and
# the three exports of all N records over HTTP, plus `veldd export`.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(dirname "$here")
n=10000
runs=5
while [ $# -gt 0 ]; do
	case $1 in
	--n) n=$2; shift 2 ;;
	--runs) runs=$2; shift 2 ;;
	*) echo "usage: bench/dashboard.sh [--n N] [--runs R]" >&2; exit 2 ;;
	esac
done
build=${VELD_BUILD:-build}
[[ $build = /* ]] || build=$root/$build
veldd=$build/server/veldd
veld=$build/client/veld
for b in "$veldd" "$veld"; do
	[ -x "$b" ] || { echo "missing $b (build first)" >&2; exit 2; }
done

tmp=$(mktemp -d "${TMPDIR:-/tmp}/veld-bench-dash.XXXXXX")
pid=
cleanup() {
	[ -n "$pid" ] && kill -TERM "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT

for _ in 1 2 3 4 5; do
	port=$((20000 + RANDOM % 20001))
	"$veldd" serve --data "$tmp/srv" --listen "127.0.0.1:$port" >"$tmp/out" 2>"$tmp/err" &
	pid=$!
	for _ in $(seq 100); do
		curl -fs -o /dev/null --max-time 1 "http://127.0.0.1:$port/healthz" && break 2
		sleep 0.1
	done
	kill -TERM "$pid" 2>/dev/null || true
	wait "$pid" 2>/dev/null || true
	pid=
	rm -rf "$tmp/srv"
done
[ -n "$pid" ] || { echo "veldd did not start" >&2; exit 1; }
url=http://127.0.0.1:$port
"$veldd" form import --data "$tmp/srv" "$root/deploy/forms/huisbezoek.json" >/dev/null
code=$("$veldd" code new --data "$tmp/srv" --role field --name W --area noord | tail -1)
"$veld" --dir "$tmp/w" init --server "ws://127.0.0.1:$port/sync" --code "$code" --name W >/dev/null

echo "creating $n records offline ..." >&2
streets=(Kerkstraat Dorpsweg Brink Molenweg Stationsstraat Beekstraat Schoolstraat Esweg)
answers=(ja "een beetje" nee)
follow=(geen bellen langsgaan reparatie)
for i in $(seq "$n"); do
	"$veld" --dir "$tmp/w" new huisbezoek "street=${streets[i % 8]}" "house_number=$i" \
		at_home=ja "knows_team=${answers[i % 3]}" "followup=${follow[i % 4]}" \
		"wish=wens nummer $i" >/dev/null
done
t0=$(date +%s.%N)
"$veld" --dir "$tmp/w" sync >/dev/null
t1=$(date +%s.%N)
echo "sync of $n records: $(python3 -c "print(f'{$t1-$t0:.2f}')") s" >&2

ccode=$("$veldd" code new --data "$tmp/srv" --role coordinator --name Bench | tail -1)
curl -s -c "$tmp/jar" -H "Origin: $url" -d "{\"code\":\"$ccode\"}" "$url/api/login" >/dev/null
id=$(curl -s -b "$tmp/jar" "$url/api/records?limit=1" | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["id"])')

# time NAME PATH: median seconds over the runs, and the size.
time_it() {
	local name=$1 p=$2 ts=()
	for _ in $(seq "$runs"); do
		ts+=("$(curl -s -b "$tmp/jar" -o "$tmp/body" -w '%{time_total}' "$url$p")")
	done
	python3 - "$name" "$(wc -c <"$tmp/body")" "${ts[@]}" <<'PY'
import statistics, sys
name, size, ts = sys.argv[1], int(sys.argv[2]), [float(x) for x in sys.argv[3:]]
print(f"{name:<36} {statistics.median(ts) * 1000:9.1f} ms  {size:>10} bytes")
PY
}

echo "N=$n records, median of $runs runs"
time_it "records (500 newest)" "/api/records?form=huisbezoek"
time_it "records street=Brink (limit 5000)" "/api/records?street=Brink&limit=5000"
time_it "records q=nummer 9999 (text search)" "/api/records?q=nummer%209999"
time_it "records sort=street asc" "/api/records?sort=street&order=asc"
time_it "one record with history" "/api/records/$id"
time_it "counts" "/api/counts?form=huisbezoek"
time_it "devices" "/api/devices"
time_it "followups (open)" "/api/followups?followup=open&limit=5000"
time_it "export csv (all)" "/api/export?form=huisbezoek&format=csv"
time_it "export csv-excel (all)" "/api/export?form=huisbezoek&format=csv-excel"
time_it "export json (all)" "/api/export?form=huisbezoek&format=json"
t0=$(date +%s.%N)
"$veldd" export --data "$tmp/srv" --form huisbezoek >"$tmp/cli.csv"
t1=$(date +%s.%N)
printf '%-36s %9.1f ms  %10s bytes\n' "veldd export (CLI, csv)" \
	"$(python3 -c "print(($t1-$t0)*1000)")" "$(wc -c <"$tmp/cli.csv")"
