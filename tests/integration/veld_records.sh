#!/usr/bin/env bash
# The record commands of veld as a field worker runs them, offline: new,
# edit, note, delete, list, show, state-hash, their errors, and a conflict
# made on two devices.  tests/tools/provision stands in for the server: it
# enrols the devices and moves ops between them as a sync would.
# Usage: veld_records.sh PATH/TO/veld PATH/TO/provision
set -euo pipefail
veld=$1
provision=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
passed=0
failed=0

ok() { passed=$((passed + 1)); }
fail() {
	failed=$((failed + 1))
	echo "FAIL: $*" >&2
}
# check DESCRIPTION COMMAND... : the command must succeed.
check() {
	local what=$1
	shift
	if "$@"; then ok; else fail "$what"; fi
}
# expect_exit CODE PATTERN DIR ARGS... : veld exits with CODE and says
# something matching PATTERN on stderr.
expect_exit() {
	local code=$1 pattern=$2 dir=$3 rc=0
	shift 3
	"$veld" --dir "$dir" "$@" >"$tmp/out" 2>"$tmp/err" || rc=$?
	if [ "$rc" != "$code" ]; then
		fail "veld $* exited $rc, want $code: $(cat "$tmp/err")"
	elif ! grep -q -- "$pattern" "$tmp/err"; then
		fail "veld $*: no '$pattern' in: $(cat "$tmp/err")"
	else
		ok
	fi
}
# py DIR ARGS -- PYTHON : run veld, feed its JSON to a python check that
# must print "ok".
pyjson() {
	local dir=$1 code=$2
	shift 2
	local out
	out=$("$veld" --dir "$dir" "$@" | python3 -c "
import json, re, sys
d = json.load(sys.stdin)
$code
print('ok')
" 2>&1) || true
	[ "$out" = ok ] && ok || fail "veld $* json: $out"
}
count_records() { "$veld" --dir "$1" list --json --all |
	python3 -c 'import json,sys; print(len(json.load(sys.stdin)))'; }

seed=$(printf '5%.0s' {1..64})
A=$tmp/A
B=$tmp/B
"$provision" "$tmp/server.db" "$seed" "$A" "Device A" field centrum >/dev/null
"$provision" "$tmp/server.db" "$seed" "$B" "Device B" field centrum >/dev/null

# --- new, edit, note on A ---
out=$("$veld" --dir "$A" new huisbezoek street=Kerkstraat house=12 wish=bankjes)
id=$(echo "$out" | tail -n 1)
[[ $id =~ ^[0-9a-f]{32}$ ]] && ok || fail "new printed no id last: $out"
short=${id:0:8}
check "edit by prefix" "$veld" --dir "$A" edit "${id:0:6}" house=14 >/dev/null
upper=$(echo "$id" | tr a-f A-F)
check "edit by full upper-case id" "$veld" --dir "$A" edit "$upper" \
	deur=open >/dev/null
check "clear a field" "$veld" --dir "$A" edit "$id" deur= >/dev/null
check "note" "$veld" --dir "$A" note "$short" Bewoner wil bankjes bij de \
	speeltuin >/dev/null

# --- list and show ---
"$veld" --dir "$A" list >"$tmp/list"
grep -q "^$short  huisbezoek *Kerkstraat .* -\$" "$tmp/list" && ok ||
	fail "list: $(cat "$tmp/list")"
pyjson "$A" '
assert len(d) == 1, d
r = d[0]
assert r["id"] == "'"$id"'", r["id"]
assert (r["form"], r["area"], r["street"]) == ("huisbezoek", "centrum", "Kerkstraat"), r
assert r["values"] == {"street": "Kerkstraat", "house": "14", "wish": "bankjes", "deur": None}, r["values"]
iso = r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$"
assert re.match(iso, r["created"]) and re.match(iso, r["updated"]), r
assert r["created"] <= r["updated"]
assert r["deleted"] is False and r["erased"] is False and r["conflicts"] == 0, r
' list --json
pyjson "$A" 'assert d == [], d' list --json --form buurtschouw
pyjson "$A" 'assert len(d) == 1, d' list --json --street Kerkstraat
pyjson "$A" 'assert d == [], d' list --json --conflicts

"$veld" --dir "$A" show "$short" >"$tmp/show"
for want in "record   $id" "form     huisbezoek" "area     centrum" \
	"house   14" "wish    bankjes" "deur    (cleared)" \
	"Bewoner wil bankjes bij de speeltuin" "put     Device A" \
	"note    Device A"; do
	grep -qF -- "$want" "$tmp/show" && ok || fail "show lacks '$want'"
done
[ "$(grep -c '  put  ' "$tmp/show")" = 4 ] && ok ||
	fail "show history: $(cat "$tmp/show")"
pyjson "$A" '
assert d["notes"][0]["text"] == "Bewoner wil bankjes bij de speeltuin", d["notes"]
assert d["notes"][0]["device"] == "Device A"
assert [h["kind"] for h in d["history"]] == ["put"] * 4 + ["note"], d["history"]
assert [h["seq"] for h in d["history"]] == [1, 2, 3, 4, 5]
assert d["current"]["house"][0]["value"] == "14" and d["current"]["house"][0]["winner"]
' show "$id" --json

# --- usage errors: exit 2, nothing written ---
before=$(count_records "$A")
expect_exit 2 "'street' is not field=value" "$A" new huisbezoek street
expect_exit 2 "empty field name" "$A" new huisbezoek =Kerkstraat
expect_exit 2 "field 'a' is given twice" "$A" new huisbezoek a=1 b=2 a=3
expect_exit 2 "no fields given" "$A" new huisbezoek
expect_exit 2 "field 'a' is not valid UTF-8" "$A" new huisbezoek \
	"a=$(printf 'x\377')"
expect_exit 2 "bytes of UTF-8 text" "$A" note "$id" "$(printf 'x\377')"
expect_exit 2 "longer than 64 bytes" "$A" new huisbezoek \
	"$(printf 'f%.0s' {1..65})=1"
expect_exit 2 "usage: veld new" "$A" new
expect_exit 2 "'wish' is not field=value" "$A" edit "$id" wish
expect_exit 2 "empty field name" "$A" edit "$short" house=1 =x
expect_exit 2 "is not a record id" "$A" show xyz1
expect_exit 2 "is not a record id" "$A" show abc
expect_exit 2 "unknown option" "$A" list --bogus
expect_exit 2 "unknown command" "$A" frobnicate
[ "$(count_records "$A")" = "$before" ] && ok || fail "a bad command wrote"
[ "$("$veld" --dir "$A" show "$id" --json | python3 -c \
	'import json,sys; print(len(json.load(sys.stdin)["history"]))')" = 5 ] &&
	ok || fail "a bad edit wrote"

# --- runtime errors: exit 1 ---
expect_exit 1 "no record with id '00000000'" "$A" show 00000000
expect_exit 1 "no record with id" "$A" edit 0000 house=1
expect_exit 1 "no record with id" "$A" note 0000 text
expect_exit 1 "no record with id" "$A" delete 0000
expect_exit 1 "run 'veld init --server URL --code CODE'" "$tmp/none" list
"$veld" --dir "$tmp/N" init >/dev/null
expect_exit 1 "not enrolled" "$tmp/N" new huisbezoek a=1
expect_exit 1 "run 'veld init --server URL --code CODE'" "$tmp/N" state-hash

# --- delete ---
out=$("$veld" --dir "$A" new huisbezoek street=Dorpsweg)
gone=$(echo "$out" | tail -n 1)
check "delete" "$veld" --dir "$A" delete "${gone:0:5}" >/dev/null
pyjson "$A" 'assert [r["id"] for r in d] == ["'"$id"'"], d' list --json
pyjson "$A" '
r = [r for r in d if r["id"] == "'"$gone"'"]
assert len(r) == 1 and r[0]["deleted"] is True, d
' list --json --all
"$veld" --dir "$A" list --all | grep -q "^${gone:0:8} .* deleted\$" && ok ||
	fail "list --all: no deleted flag"

# --- text from a replica cannot drive the terminal ---
out=$("$veld" --dir "$A" new huisbezoek "street=$(printf 'Rood\033[31mstraat')")
esc=$(echo "$out" | tail -n 1)
"$veld" --dir "$A" list >"$tmp/list"
grep -q $'\033' "$tmp/list" && fail "list printed an escape" || ok
grep -q "Rood \[31mstraat" "$tmp/list" && ok || fail "list: $(cat "$tmp/list")"
pyjson "$A" '
assert [r for r in d if r["id"] == "'"$esc"'"][0]["street"] == "Rood\x1b[31mstraat"
' list --json
check "delete" "$veld" --dir "$A" delete "$esc" >/dev/null

# --- forms: an unknown form is refused once forms are known ---
"$provision" --form "$tmp/server2.db" "$seed" huisbezoek
"$provision" "$tmp/server2.db" "$seed" "$tmp/C" "Device C" field "" >/dev/null
expect_exit 2 "unknown form 'buurt'; known forms: huisbezoek" "$tmp/C" \
	new buurt a=1
check "new with a known form" "$veld" --dir "$tmp/C" new huisbezoek a=1 \
	>/dev/null
pyjson "$tmp/C" 'assert d[0]["area"] is None, d' list --json

# --- ambiguous prefixes ---
prefix=$("$provision" --collide "$tmp/C" huisbezoek)
expect_exit 1 "record id '$prefix' is ambiguous" "$tmp/C" show "$prefix"
[ "$(grep -c "^  $prefix" "$tmp/err")" -ge 2 ] && ok ||
	fail "ambiguous: candidates not listed: $(cat "$tmp/err")"
pyjson "$tmp/C" '
assert len([r for r in d if r["id"].startswith("'"$prefix"'")]) >= 2
' list --json

# --- two devices: ship A to B, edit concurrently, ship both ways ---
"$provision" --ship "$A" "$B" >/dev/null
pyjson "$B" 'assert [r["id"] for r in d] == ["'"$id"'"], d' list --json
check "B edits" "$veld" --dir "$B" edit "$short" wish=bloembakken >/dev/null
check "A edits" "$veld" --dir "$A" edit "$short" wish=zitbank >/dev/null
"$provision" --ship "$A" "$B" >/dev/null
"$provision" --ship "$B" "$A" >/dev/null
hA=$("$veld" --dir "$A" state-hash)
hB=$("$veld" --dir "$B" state-hash)
[[ $hA =~ ^[0-9a-f]{64}$ ]] && ok || fail "state-hash: $hA"
[ "$hA" = "$hB" ] && ok || fail "state hashes differ: $hA $hB"
for dev in "$A" "$B"; do
	"$veld" --dir "$dev" list --conflicts >"$tmp/list"
	grep -q "^$short .* conflict\$" "$tmp/list" && ok ||
		fail "list --conflicts on $dev: $(cat "$tmp/list")"
	"$veld" --dir "$dev" show "$short" >"$tmp/show"
	for want in "wish    CONFLICT: 2 values" "zitbank  -- Device A" \
		"bloembakken  -- Device B" "1 field in conflict"; do
		grep -qF -- "$want" "$tmp/show" && ok ||
			fail "show on $dev lacks '$want': $(cat "$tmp/show")"
	done
	pyjson "$dev" '
w = d["current"]["wish"]
assert sorted(v["value"] for v in w) == ["bloembakken", "zitbank"], w
assert [v["winner"] for v in w] == [True, False], w
assert d["values"]["wish"] == w[0]["value"] and d["conflicts"] == 1
' show "$short" --json
done
# An edit resolves the conflict everywhere.
check "resolve" "$veld" --dir "$B" edit "$short" wish=zitbank >/dev/null
"$provision" --ship "$B" "$A" >/dev/null
[ "$("$veld" --dir "$A" state-hash)" = "$("$veld" --dir "$B" state-hash)" ] &&
	ok || fail "state hashes differ after the resolution"
pyjson "$A" 'assert d == [], d' list --json --conflicts
pyjson "$A" 'assert d[0]["values"]["wish"] == "zitbank", d' list --json

echo "veld_records: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
