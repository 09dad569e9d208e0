#!/usr/bin/env bash
# dashboard_api.sh - the dashboard's HTTP API and `veldd export`, from the
# outside with curl, against a real veldd on 127.0.0.1 with real devices.
#
#   usage: dashboard_api.sh VELDD VELD
#
# Checks the refusals (no session, forged cookie, wrong / field / used
# code, cross-origin and CSRF-less writes, oversized and malformed
# bodies, unknown paths, expired sessions, logout, login rate limit), the
# headers (cookie flags, CSP), the JSON endpoints, a write's attribution,
# and the exports: CSV parsed back by Python's csv module, the Excel
# variant's BOM and separator, JSON, personal fields only when asked,
# erased records as erased.  Prints "N passed, M failed".
set -euo pipefail

VELDD=${1:?usage: dashboard_api.sh VELDD VELD}
VELD=${2:?usage: dashboard_api.sh VELDD VELD}
HERE=$(cd "$(dirname "$0")" && pwd)
TMP=$(mktemp -d "${TMPDIR:-/tmp}/veld-dapi.XXXXXX")
PIDS=()
passed=0
failed=0

cleanup() {
	for p in "${PIDS[@]}"; do
		kill -TERM "$p" 2>/dev/null || true
		wait "$p" 2>/dev/null || true
	done
	rm -rf "$TMP"
}
trap cleanup EXIT

ok() { passed=$((passed + 1)); echo "ok   - $*"; }
fail() { failed=$((failed + 1)); echo "FAIL - $*" >&2; }
check() {
	local desc=$1
	shift
	if "$@"; then ok "$desc"; else fail "$desc"; fi
}

# start DIR [ARGS...]: veldd on a free port; sets PORT, URL.
start() {
	local dir=$1
	shift
	for _ in 1 2 3 4 5; do
		PORT=$((20000 + RANDOM % 20001))
		"$VELDD" serve --data "$dir" --listen "127.0.0.1:$PORT" "$@" \
			>"$TMP/out.$PORT" 2>"$TMP/err.$PORT" &
		local pid=$!
		for ((i = 0; i < 100; i++)); do
			kill -0 "$pid" 2>/dev/null || break
			if curl -fs -o /dev/null --max-time 1 "http://127.0.0.1:$PORT/healthz"; then
				PIDS+=("$pid")
				URL="http://127.0.0.1:$PORT"
				return 0
			fi
			sleep 0.1
		done
		kill -TERM "$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
		grep -q "cannot listen" "$TMP/err.$PORT" || { cat "$TMP/err.$PORT" >&2; exit 1; }
		rm -rf "$dir"
	done
	echo "no free port" >&2
	exit 1
}

code() { "$VELDD" code new --data "$1" --role "$2" --name "$3" --area noord | tail -1; }
v() { local d=$1; shift; "$VELD" --dir "$TMP/$d" "$@"; }

# req METHOD PATH [CURL ARGS...]: status code; body in $TMP/body, headers
# in $TMP/headers.  The cookie jar is $TMP/jar.
req() {
	local m=$1 p=$2
	shift 2
	curl -s --max-time 5 -X "$m" -o "$TMP/body" -D "$TMP/headers" \
		-w '%{http_code}' -b "$TMP/jar" -c "$TMP/jar" "$@" "$URL$p"
}
jq_() { python3 -c "import json,sys; d=json.load(open('$TMP/body')); print($1)"; }

SRV=$TMP/srv
start "$SRV"
"$VELDD" form import --data "$SRV" "$HERE/../../deploy/forms/huisbezoek.json" >/dev/null

# --- refusals before login ---
check "no session: 401" test "$(req GET /api/records)" = 401
check "forged cookie: 401" test "$(req GET /api/records -b veld_session=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA)" = 401
check "session check without a session says so (200, name null)" \
	test "$(req GET /api/session)" = 200
check "... name is null" test "$(jq_ 'd["name"]')" = None
check "wrong code: 401" test "$(req POST /api/login -H "Origin: $URL" -d '{"code":"AAAAA-AAAAA"}')" = 401
check "garbage code: 401" test "$(req POST /api/login -H "Origin: $URL" -d '{"code":"<script>"}')" = 401
fcode=$(code "$SRV" field Anna)
check "a field code does not log in: 403" test "$(req POST /api/login -H "Origin: $URL" -d "{\"code\":\"$fcode\"}")" = 403
check "... and still enrols its device" v A init --server "ws://127.0.0.1:$PORT/sync" --code "$fcode" --name Anna
ccode=$(code "$SRV" coordinator Carla)
check "login without Origin: 403" test "$(req POST /api/login -d "{\"code\":\"$ccode\"}")" = 403
check "login from another origin: 403" test "$(req POST /api/login -H 'Origin: http://evil.example' -d "{\"code\":\"$ccode\"}")" = 403
check "malformed login body: 400" test "$(req POST /api/login -H "Origin: $URL" -d '{"code":')" = 400
check "login over GET: 405" test "$(req GET /api/login)" = 405

# --- login ---
check "coordinator login: 200" test "$(req POST /api/login -H "Origin: $URL" -d "{\"code\":\"$ccode\"}")" = 200
csrf=$(jq_ 'd["csrf"]')
check "cookie is HttpOnly, SameSite=Strict, not Secure without TLS" \
	grep -qiE '^set-cookie: veld_session=[A-Za-z0-9_-]{43}; Path=/; Max-Age=28800; HttpOnly; SameSite=Strict'$'\r''$' "$TMP/headers"
check "the code is used up" test "$(req POST /api/login -H "Origin: $URL" -d "{\"code\":\"$ccode\"}" -c /dev/null)" = 401
check "strict CSP on the API" grep -qi "^content-security-policy: default-src 'self'; script-src 'self'" "$TMP/headers"
check "page served: 200" test "$(req GET /)" = 200
check "... with the CSP" grep -qi "^content-security-policy: default-src 'self'" "$TMP/headers"
check "... and no inline script" bash -c "! grep -qi '<script>' '$TMP/body'"
check "unknown asset: 404" test "$(req GET /nope.js)" = 404
check "path traversal: 404" test "$(curl -s --path-as-is -o /dev/null -w '%{http_code}' "$URL/../../etc/passwd")" = 404
check "unknown endpoint: 404" test "$(req GET /api/nope)" = 404

# --- data from a device ---
v A sync >/dev/null
v A new huisbezoek street=Kerkstraat house_number=1 knows_team=ja followup=bellen consent=ja contact_name=Jan >/dev/null
v A new huisbezoek street=Dorpsweg house_number=2 knows_team=nee followup=geen 'wish==SUM(1+1)' consent=ja contact_phone=0612345678 >/dev/null
v A new huisbezoek 'street=Brink' house_number=3 knows_team=ja 'wish=regel 1
regel 2; "quote"' >/dev/null
v A sync >/dev/null
check "records: 3" test "$(req GET '/api/records?form=huisbezoek')" = 200
check "... three of them" test "$(jq_ 'len(d)')" = 3
check "street filter" test "$(req GET '/api/records?street=Dorpsweg')" = 200
check "... one" test "$(jq_ 'len(d) == 1 and d[0]["street"] == "Dorpsweg"')" = True
check "text search is case-insensitive" test "$(req GET '/api/records?q=REGEL%202')" = 200
check "... finds Brink" test "$(jq_ '[r["street"] for r in d]')" = "['Brink']"
check "sort by street ascending" test "$(req GET '/api/records?sort=street&order=asc')" = 200
check "... Brink, Dorpsweg, Kerkstraat" test "$(jq_ '[r["street"] for r in d]')" = "['Brink', 'Dorpsweg', 'Kerkstraat']"
check "follow-ups: only the record that asks for one" test "$(req GET /api/followups)" = 200
check "... Kerkstraat, open" test "$(jq_ '[(r["street"], r["followup_status"]) for r in d]')" = "[('Kerkstraat', 'open')]"
check "bad sort: 400" test "$(req GET '/api/records?sort=evil;drop')" = 400
check "bad date: 400" test "$(req GET '/api/records?from=2025-1-1')" = 400
check "date filter today" test "$(req GET "/api/records?from=$(date -u +%F)&to=$(date -u +%F)")" = 200
check "... all three" test "$(jq_ 'len(d)')" = 3
check "counts per street and answer" test "$(req GET '/api/counts?form=huisbezoek')" = 200
check "... knows_team ja=2 nee=1; streets one each" test \
	"$(jq_ '([f["counts"] for f in d["fields"] if f["name"] == "knows_team"], d["total"], len(d["streets"]))')" = \
	"([[{'value': 'ja', 'n': 2}, {'value': 'nee', 'n': 1}]], 3, 3)"
check "counts of an unknown form: 404" test "$(req GET '/api/counts?form=nope')" = 404
check "devices" test "$(req GET /api/devices)" = 200
check "... Anna with a last sync" test "$(jq_ '[(x["name"], x["last_sync"] is not None) for x in d]')" = "[('Anna', True)]"

rec=$(v A list | awk '/Kerkstraat/ {print $1}')
id=$(req GET "/api/records?street=Kerkstraat" >/dev/null; jq_ 'd[0]["id"]')
check "one record: 200" test "$(req GET "/api/records/$id")" = 200
check "... with history" test "$(jq_ 'd["history"][0]["device"]')" = Anna
check "no such record: 404" test "$(req GET /api/records/00000000000000000000000000000000)" = 404
check "malformed record id: 404" test "$(req GET /api/records/xyz)" = 404

# --- writes ---
P="/api/records/$id/followup"
check "write without CSRF token: 403" test "$(req POST "$P" -H "Origin: $URL" -d '{"status":"done"}')" = 403
check "write with a wrong CSRF token: 403" test "$(req POST "$P" -H "Origin: $URL" -H "X-CSRF-Token: ${csrf//?/0}" -d '{"status":"done"}')" = 403
check "write from another origin: 403" test "$(req POST "$P" -H 'Origin: http://evil.example' -H "X-CSRF-Token: $csrf" -d '{"status":"done"}')" = 403
check "write without Origin: 403" test "$(req POST "$P" -H "X-CSRF-Token: $csrf" -d '{"status":"done"}')" = 403
H=(-H "Origin: $URL" -H "X-CSRF-Token: $csrf")
check "bad status: 400" test "$(req POST "$P" "${H[@]}" -d '{"status":"finished"}')" = 400
check "malformed body: 400" test "$(req POST "$P" "${H[@]}" -d '[1,2')" = 400
head -c 20000 /dev/zero | tr '\0' 'x' >"$TMP/big"
check "oversized body: 413" test "$(req POST "$P" "${H[@]}" --data-binary "@$TMP/big")" = 413
check "follow-up done, owner Noor: 200" test "$(req POST "$P" "${H[@]}" -d '{"status":"done","owner":"Noor"}')" = 200
check "... attributed to Carla, signed by the server" test "$(req GET "/api/records/$id")" = 200
check "... history says so" test "$(jq_ '(d["history"][-1]["role"], d["history"][-1]["by"], d["followup_status"], d["followup_owner"])')" = "('server', 'Carla', 'done', 'Noor')"
check "resolve without a conflict: 409" test "$(req POST "/api/records/$id/resolve" "${H[@]}" -d "{\"field\":\"knows_team\",\"op\":\"$(jq_ 'd["current"]["knows_team"][0]["op"]')\"}")" = 409
check "revoke an unknown device: 404" test "$(req POST "/api/devices/$(printf '0%.0s' {1..64})/revoke" "${H[@]}" -d '{}')" = 404
check "the device sees the write after syncing" grep -q "Noor" <(v A sync >/dev/null && v A show "$rec")

# --- exports ---
"$VELDD" export --data "$SRV" --form huisbezoek >"$TMP/plain.csv"
check "export CLI: CSV parses back (RFC 4180), personal fields left out" python3 - "$TMP/plain.csv" <<'PY'
import csv, sys
raw = open(sys.argv[1], 'rb').read()
assert not raw.startswith(b'\xef\xbb\xbf') and b'\r\n' in raw
rows = list(csv.DictReader(open(sys.argv[1], newline='', encoding='utf-8')))
assert len(rows) == 3, rows
assert 'contact_name' not in rows[0] and 'contact_phone' not in rows[0]
b = [r for r in rows if r['street'] == 'Brink'][0]
assert b['wish'] == 'regel 1\nregel 2; "quote"', b['wish']
k = [r for r in rows if r['street'] == 'Kerkstraat'][0]
assert k['followup_status'] == 'done' and k['followup_owner'] == 'Noor'
d = [r for r in rows if r['street'] == 'Dorpsweg'][0]
assert d['wish'] == '=SUM(1+1)'
PY
"$VELDD" export --data "$SRV" --form huisbezoek --personal --format csv-excel >"$TMP/excel.csv"
check "export CLI: csv-excel has a BOM, ';', personal fields with --personal, no formulas" python3 - "$TMP/excel.csv" <<'PY'
import csv, sys
raw = open(sys.argv[1], 'rb').read()
assert raw.startswith(b'\xef\xbb\xbf')
rows = list(csv.DictReader(open(sys.argv[1], newline='', encoding='utf-8-sig'), delimiter=';'))
assert len(rows) == 3
assert [r['contact_name'] for r in rows if r['street'] == 'Kerkstraat'] == ['Jan']
assert [r['wish'] for r in rows if r['street'] == 'Dorpsweg'] == ["'=SUM(1+1)"]
PY
check "export CLI: JSON" bash -c "'$VELDD' export --data '$SRV' --form huisbezoek --format json | python3 -c 'import json,sys; d=json.load(sys.stdin); assert d[\"form\"]==\"huisbezoek\" and len(d[\"records\"])==3 and not d[\"personal\"]'"
check "export CLI: unknown form exits 1" bash -c "! '$VELDD' export --data '$SRV' --form nope 2>/dev/null"
check "export CLI: bad format exits 2" bash -c "'$VELDD' export --data '$SRV' --form huisbezoek --format xls 2>/dev/null; test \$? = 2"
check "export API: CSV with personal fields (coordinators)" test "$(req GET '/api/export?form=huisbezoek&format=csv')" = 200
check "... as a download" grep -qi '^content-disposition: attachment; filename="huisbezoek-' "$TMP/headers"
check "... with contact_name" grep -q '"contact_name"' "$TMP/body"
"$VELDD" erase --data "$SRV" "$rec" >/dev/null
"$VELDD" export --data "$SRV" --form huisbezoek --personal >"$TMP/erased.csv"
check "an erased record exports as erased" python3 - "$TMP/erased.csv" <<'PY'
import csv, sys
rows = list(csv.DictReader(open(sys.argv[1], newline='', encoding='utf-8')))
e = [r for r in rows if r['erased'] == 'true']
assert len(e) == 1 and e[0]['contact_name'] == '[erased]' and e[0]['street'] == '[erased]', e
assert 'Jan' not in open(sys.argv[1]).read()
PY
check "export API JSON: erased values are null" test "$(req GET '/api/export?form=huisbezoek&format=json')" = 200
check "... flagged erased" test "$(jq_ '[r["values"] for r in d["records"] if r["erased"]]')" = "[None]"

# --- logout ---
check "logout: 200" test "$(req POST /api/logout "${H[@]}")" = 200
check "... and the cookie is dead" test "$(req GET /api/records)" = 401

# --- expiry: sessions of 1 s ---
start "$TMP/short" --session-ttl 1
k=$(code "$TMP/short" coordinator Kort)
rm -f "$TMP/jar"
check "short session: login" test "$(req POST /api/login -H "Origin: $URL" -d "{\"code\":\"$k\"}")" = 200
check "... works at once" test "$(req GET /api/devices)" = 200
sleep 1.5
check "... refused once expired" test "$(req GET /api/devices)" = 401

# --- native TLS: Secure cookie; a browser's h2 offer gets HTTP/1.1, where
# the CSRF header (and the live WebSocket) work ---
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
	-keyout "$TMP/key.pem" -out "$TMP/cert.pem" -days 2 -subj /CN=127.0.0.1 \
	-addext subjectAltName=IP:127.0.0.1 2>/dev/null
start_tls() {
	for _ in 1 2 3 4 5; do
		PORT=$((20000 + RANDOM % 20001))
		"$VELDD" serve --data "$TMP/tls" --listen "127.0.0.1:$PORT" \
			--tls-cert "$TMP/cert.pem" --tls-key "$TMP/key.pem" \
			>"$TMP/out.$PORT" 2>"$TMP/err.$PORT" &
		local pid=$!
		for ((i = 0; i < 100; i++)); do
			kill -0 "$pid" 2>/dev/null || break
			if curl -kfs -o /dev/null --max-time 1 "https://127.0.0.1:$PORT/healthz"; then
				PIDS+=("$pid")
				URL="https://127.0.0.1:$PORT"
				return 0
			fi
			sleep 0.1
		done
		kill -TERM "$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
		rm -rf "$TMP/tls"
	done
	echo "no free port for TLS" >&2
	exit 1
}
start_tls
t=$(code "$TMP/tls" coordinator Tess)
rm -f "$TMP/jar"
check "TLS: login over an h2-capable client" test "$(req POST /api/login -k --http2 -H "Origin: $URL" -d "{\"code\":\"$t\"}")" = 200
check "... answered in HTTP/1.1" grep -q '^HTTP/1.1 200' "$TMP/headers"
check "... the cookie is Secure" grep -qi '^set-cookie: veld_session=.*; HttpOnly; SameSite=Strict; Secure' "$TMP/headers"
tcsrf=$(jq_ 'd["csrf"]')
check "... a write with the CSRF header works" test "$(req POST /api/logout -k --http2 -H "Origin: $URL" -H "X-CSRF-Token: $tcsrf")" = 200

# --- login rate limit: 10 failures, then 429 ---
for _ in $(seq 1 10); do req POST /api/login -k -H "Origin: $URL" -d '{"code":"AAAAA-AAAAA"}' >/dev/null; done
check "too many failed logins: 429" test "$(req POST /api/login -k -H "Origin: $URL" -d '{"code":"AAAAA-AAAAA"}')" = 429

# --- clean stops: exit 0, and no sanitizer report (ASan/UBSan builds) ---
for p in "${PIDS[@]}"; do
	kill -TERM "$p"
	rc=0
	wait "$p" || rc=$?
	check "veldd $p stops cleanly on SIGTERM" test "$rc" = 0
done
PIDS=()
check "no sanitizer report from veldd" bash -c "! cat '$TMP'/err.* | grep -q Sanitizer"

echo "dashboard_api: $passed passed, $failed failed"
((failed == 0))
