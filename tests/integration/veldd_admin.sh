#!/usr/bin/env bash
# veldd_admin.sh - veldd's admin sub-commands against a running server.
#
#   usage: veldd_admin.sh PATH/TO/veldd REPO_ROOT [PATH/TO/veld]
#
# Starts `veldd serve` on 127.0.0.1 (random port in 20000-40000, fresh
# temporary data dir) and, while it runs, drives `veldd code new`,
# `devices`, `revoke`, `form import` and `state-hash` as an operator would:
# usage errors exit 2, bad forms are refused with a clear message and change
# nothing, the state hash moves only when a form does.  With the optional
# third argument (the field client), real devices enrol with the issued
# codes, so the registry listing and revocation are checked too.  Stops the
# server with SIGTERM.  Prints "N passed, M failed"; exits non-zero if
# anything failed.
set -euo pipefail

VELDD=${1:?usage: veldd_admin.sh PATH/TO/veldd REPO_ROOT [PATH/TO/veld]}
ROOT=${2:?usage: veldd_admin.sh PATH/TO/veldd REPO_ROOT [PATH/TO/veld]}
VELD=${3:-}
[[ -x $VELDD ]] || { echo "veldd_admin: '$VELDD' is not executable" >&2; exit 1; }
[[ -d $ROOT/deploy/forms ]] || { echo "veldd_admin: no '$ROOT/deploy/forms'" >&2; exit 1; }
[[ -z $VELD || -x $VELD ]] || { echo "veldd_admin: '$VELD' is not executable" >&2; exit 1; }
for tool in curl python3; do
	command -v $tool >/dev/null || { echo "veldd_admin: $tool not found" >&2; exit 1; }
done

TMP=$(mktemp -d "${TMPDIR:-/tmp}/veldd-admin.XXXXXX")
DATA=$TMP/data
PID=
PORT=
PASSED=0
FAILED=0
CODE_RE='^[0-9A-HJKMNP-TV-Z]{5}-[0-9A-HJKMNP-TV-Z]{5}$'

cleanup() {
	if [[ -n $PID ]] && kill -0 "$PID" 2>/dev/null; then
		kill -KILL "$PID" 2>/dev/null || true
		wait "$PID" 2>/dev/null || true
	fi
	rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

ok() { PASSED=$((PASSED + 1)); echo "ok   - $*"; }
not_ok() { FAILED=$((FAILED + 1)); echo "FAIL - $*" >&2; }

# check DESCRIPTION COMMAND...: one test, passes if COMMAND succeeds.
check() {
	local desc=$1
	shift
	if "$@"; then ok "$desc"; else not_ok "$desc"; fi
}

show_logs() {
	echo "--- veldd stdout ---" >&2; cat "$TMP/out" >&2 || true
	echo "--- veldd stderr ---" >&2; cat "$TMP/err" >&2 || true
}

die() {
	not_ok "$*"
	show_logs
	echo "$PASSED passed, $FAILED failed" >&2
	exit 1
}

# run ARGS...: veldd ARGS (10 s at most); stdout in $TMP/o, stderr in
# $TMP/e (and appended to $TMP/admin_err), exit status in $RC.
run() {
	RC=0
	timeout 10 "$VELDD" "$@" >"$TMP/o" 2>"$TMP/e" || RC=$?
	cat "$TMP/e" >>"$TMP/admin_err"
}

# admin ARGS...: run, on the test's data dir.
admin() { run "$@" --data "$DATA"; }

rc_is() { [[ $RC == "$1" ]]; }
out_has() { grep -qF -- "$1" "$TMP/o"; }
err_has() { grep -qF -- "$1" "$TMP/e"; }
last_line() { tail -n 1 "$TMP/o"; }

# The current state hash (empty if the command failed).
state_hash() {
	admin state-hash
	if rc_is 0; then cat "$TMP/o"; fi
}

# json_check PYTHON-EXPR: the JSON on stdout, loaded as `d`, makes EXPR true.
json_check() {
	python3 -c 'import json, sys
d = json.load(open(sys.argv[1]))
sys.exit(0 if eval(sys.argv[2]) else 1)' "$TMP/o" "$1"
}

# start_server: as in veldd_smoke.sh: a random port, /healthz within 10 s,
# another port (5 tries) if this one is taken.
start_server() {
	local i fresh=0
	[[ -e $DATA ]] || fresh=1
	for _ in 1 2 3 4 5; do
		PORT=$((20000 + RANDOM % 20001))
		"$VELDD" serve --data "$DATA" --listen "127.0.0.1:$PORT" \
			>"$TMP/out" 2>"$TMP/err" &
		PID=$!
		for ((i = 0; i < 100; i++)); do
			if ! kill -0 "$PID" 2>/dev/null; then
				break
			fi
			if curl -fs -o /dev/null --max-time 1 \
				"http://127.0.0.1:$PORT/healthz" &&
				kill -0 "$PID" 2>/dev/null; then
				return 0
			fi
			sleep 0.1
		done
		if kill -0 "$PID" 2>/dev/null; then
			die "veldd did not answer /healthz within 10 s"
		fi
		wait "$PID" || true
		PID=
		grep -q "cannot listen" "$TMP/err" ||
			die "veldd exited at start"
		echo "# port $PORT is taken, trying another" >&2
		if ((fresh)); then rm -rf "$DATA"; fi
	done
	die "no free port after 5 tries"
}

# stop_server: SIGTERM, then the exit status (124 if still alive after 5 s).
stop_server() {
	local i rc=0
	kill -TERM "$PID"
	for ((i = 0; i < 50; i++)); do
		kill -0 "$PID" 2>/dev/null || break
		sleep 0.1
	done
	if kill -0 "$PID" 2>/dev/null; then
		STOP_RC=124
		return 0
	fi
	wait "$PID" || rc=$?
	PID=
	STOP_RC=$rc
}

# --- before `veldd serve` has ever run --------------------------------

admin devices
check "no data dir: devices exits 1" rc_is 1
check "no data dir: says to start 'veldd serve' once first" \
	err_has "no veldd data directory at '$DATA'; start 'veldd serve' once first"
admin code new --role field --name Anna
check "no data dir: code new exits 1" rc_is 1
check "admin commands create no data dir" test ! -e "$DATA"
mkdir -m 700 "$TMP/nokey"
run state-hash --data "$TMP/nokey"
check "a data dir without server.key: exits 1" rc_is 1
check "a data dir without server.key: says so" err_has "no server key in '$TMP/nokey'"
check "a data dir without server.key: no key is made" test ! -e "$TMP/nokey/server.key"

start_server
SERVER_KEY=$(sed -n 's/^server key: \([0-9a-f]\{64\}\).*$/\1/p' "$TMP/out")
[[ -n $SERVER_KEY ]] || die "no server key in the start banner"

# --- usage errors: exit 2 ---------------------------------------------

usage_case() {
	local desc=$1
	shift
	admin "$@"
	check "usage: $desc exits 2" rc_is 2
}
usage_case "code new --role admin" code new --role admin --name X
usage_case "code new without --role" code new --name X
usage_case "code new without --name" code new --role field
usage_case "code new --expires 31d" code new --role field --name X --expires 31d
usage_case "code new --expires 10" code new --role field --name X --expires 10
usage_case "code new --expires 0h" code new --role field --name X --expires 0h
usage_case "code new --expires 2w" code new --role field --name X --expires 2w
usage_case "code new with a 65-byte name" code new --role field \
	--name "$(printf 'x%.0s' {1..65})"
usage_case "'code' without 'new'" code
usage_case "code old" code old
usage_case "devices --bogus" devices --bogus
usage_case "revoke without DEVICE" revoke
usage_case "revoke with two devices" revoke a b
usage_case "form without 'import'" form
usage_case "form import without FILE" form import
usage_case "state-hash extra" state-hash extra
admin code new --role field --name X --expires 99x
check "bad duration: the message says what a duration looks like" \
	err_has "bad duration '99x'"
check "bad duration: no code is printed" test ! -s "$TMP/o"
admin code new --role boss --name X
check "bad role: the message names it" err_has "bad role 'boss'"
run code new --help
check "code new --help exits 0" rc_is 0
check "code new --help shows the usage" out_has "usage: veldd code new"
run help
check "veldd help lists the admin commands" out_has "veldd form import FILE"

# --- code new --------------------------------------------------------------

admin code new --role field --name Anna --area Noord
check "code new exits 0 while the server runs" rc_is 0
CODE1=$(last_line)
check "the last line is a code XXXXX-XXXXX ($CODE1)" \
	grep -Eq "$CODE_RE" <<<"$CODE1"
check "code new says for whom the code is" out_has "named 'Anna' in area 'Noord'"
admin code new --role coordinator --name "Coördinator Wijk" --expires 30m
check "code new --role coordinator --expires 30m exits 0" rc_is 0
CODE2=$(last_line)
check "a second code is a code too" grep -Eq "$CODE_RE" <<<"$CODE2"
check "two codes differ" test "$CODE1" != "$CODE2"
RC=0
VELDD_DATA=$DATA timeout 10 "$VELDD" code new --role field --name Env \
	--expires 7d >"$TMP/o" 2>"$TMP/e" || RC=$?
check "VELDD_DATA picks the data dir" rc_is 0
# Only a hash of each code is kept (the WAL may still hold the pages).
check "the codes themselves are not in the database" \
	bash -c '! cat "$1"/veld.db* | grep -aqF -e "${2/-/}" -e "$2" -e "${3/-/}" -e "$3"' \
	_ "$DATA" "$CODE1" "$CODE2"

# --- state hash and an empty registry -------------------------------------

H0=$(state_hash)
check "state-hash prints 64 hex digits" grep -Eq '^[0-9a-f]{64}$' <<<"$H0"
admin devices --json
check "devices --json exits 0" rc_is 0
check "devices --json is [] before any enrolment" json_check 'd == []'
admin devices
check "devices (text) says no devices yet" out_has "no devices enrolled yet"

# --- form import ------------------------------------------------------------

admin form import "$ROOT/deploy/forms/huisbezoek.json"
check "form import huisbezoek.json exits 0" rc_is 0
check "it says the form was created" out_has "created form 'huisbezoek'"
FORM_ID=$(sed -n 's/^form id: \([0-9a-f]\{32\}\)$/\1/p' "$TMP/o")
check "it prints the form id (32 hex digits)" test -n "$FORM_ID"
check "it prints the op id (64 hex digits)" grep -Eq '^op: [0-9a-f]{64}$' "$TMP/o"
H1=$(state_hash)
check "the state hash changes after a form import" test "$H1" != "$H0"
admin form import "$ROOT/deploy/forms/containerdag.json"
check "form import containerdag.json exits 0" rc_is 0
H2=$(state_hash)
check "the state hash changes again" test "$H2" != "$H1"

admin form import "$ROOT/deploy/forms/huisbezoek.json"
check "importing the same form again exits 0" rc_is 0
check "... and says it is unchanged" out_has "form 'huisbezoek' is unchanged"
check "... and leaves the state hash alone" test "$(state_hash)" = "$H2"

# bad_form NAME WANT JSON: refused, exit 1, stderr has WANT, hash unchanged.
bad_form() {
	local name=$1 want=$2
	printf '%s\n' "$3" >"$TMP/$name.json"
	admin form import "$TMP/$name.json"
	check "bad form ($name) exits 1" rc_is 1
	check "bad form ($name) says: $want" err_has "$want"
	check "bad form ($name) leaves the state hash alone" \
		test "$(state_hash)" = "$H2"
}
bad_form badjson "is not valid JSON" '{"name": "x", "fields": [{"name": "a",'
bad_form dupfield "the name 'street' is already used by field 1" \
	'{"name": "x", "fields": [{"name": "street", "type": "text"},
	  {"name": "street", "type": "bool"}]}'
bad_form badtype "unknown type 'adres'" \
	'{"name": "x", "fields": [{"name": "street", "type": "adres"}]}'
bad_form badkey "unknown key 'lable'" \
	'{"name": "x", "fields": [{"name": "a", "type": "text", "lable": "A"}]}'
bad_form topkey "unknown key 'velden' in the form" \
	'{"name": "x", "velden": []}'
bad_form nofields "the form has no fields" '{"name": "x", "fields": []}'
bad_form nochoices 'needs "choices"' \
	'{"name": "x", "fields": [{"name": "a", "type": "choice"}]}'
bad_form baddefault '"default" must be one of its choices' \
	'{"name": "x", "fields": [{"name": "a", "type": "choice",
	  "choices": ["ja", "nee"], "default": "misschien"}]}'
bad_form notobject "a form is a JSON object" '["huisbezoek"]'
bad_form longname '"name" must be 1 to 64 bytes' \
	"{\"name\": \"$(printf 'x%.0s' {1..65})\", \"fields\": [{\"name\": \"a\", \"type\": \"text\"}]}"
admin form import "$TMP/no-such-form.json"
check "a missing form file: exits 1" rc_is 1
check "a missing form file: names it" err_has "cannot read form '$TMP/no-such-form.json'"

# A changed definition under the same name updates that form.
python3 - "$ROOT/deploy/forms/huisbezoek.json" "$TMP/huisbezoek2.json" <<'EOF'
import json, sys
form = json.load(open(sys.argv[1]))
form["title"] = "Huisbezoek (versie 2)"
json.dump(form, open(sys.argv[2], "w"), ensure_ascii=False)
EOF
admin form import "$TMP/huisbezoek2.json"
check "a changed form imports" rc_is 0
check "... as an update" out_has "updated form 'huisbezoek'"
check "... of the same form id" out_has "form id: $FORM_ID"
H3=$(state_hash)
check "... and the state hash changes" test "$H3" != "$H2"
RC=0
timeout 10 "$VELDD" form import - --data "$DATA" <"$TMP/huisbezoek2.json" \
	>"$TMP/o" 2>"$TMP/e" || RC=$?
check "form import - reads stdin" rc_is 0
check "... (the same form: unchanged)" out_has "is unchanged"

# --- revoke -------------------------------------------------------------------

admin revoke nobody
check "revoke of an unknown device exits 1" rc_is 1
check "... and says no device matches" err_has "no device matches 'nobody'"
admin revoke "${SERVER_KEY:0:12}"
check "revoking the server key is refused" rc_is 1
check "... as the root of trust" err_has "is the server key"
check "failed revocations leave the state hash alone" test "$(state_hash)" = "$H3"

# --- with real devices (needs the field client) -------------------------------

# enrol DIR CODE: a device in DIR enrols with CODE; prints its key.
enrol() {
	timeout 30 "$VELD" --dir "$1" init --server "ws://127.0.0.1:$PORT/sync" \
		--code "$2" >"$TMP/v" 2>"$TMP/ve" || return 1
	sed -n 's/^device *\([0-9a-f]\{64\}\)$/\1/p' "$TMP/v"
}

if [[ -n $VELD ]]; then
	KEY_A=$(enrol "$TMP/dev-a" "$(tr 'A-Z' 'a-z' <<<"$CODE1")") || KEY_A=
	check "a device enrols with the (lowercased) code" test -n "$KEY_A"
	admin devices --json
	check "devices --json lists it" json_check \
		"len(d) == 1 and d[0]['key'] == '$KEY_A' and d[0]['name'] == 'Anna' and d[0]['role'] == 'field' and d[0]['area'] == 'Noord' and d[0]['status'] == 'active' and d[0]['revoked'] is None and isinstance(d[0]['seq'], int) and d[0]['frozen'] is False and d[0]['enrolled'].endswith('Z')"
	admin devices
	check "devices (text) lists its key and name" \
		grep -q "^$KEY_A  field  Anna  Noord  " "$TMP/o"

	admin code new --role field --name Twin
	KEY_B=$(enrol "$TMP/dev-b" "$(last_line)") || KEY_B=
	admin code new --role field --name Twin
	KEY_C=$(enrol "$TMP/dev-c" "$(last_line)") || KEY_C=
	check "two more devices enrol" test -n "$KEY_B" -a -n "$KEY_C"
	admin revoke Twin
	check "revoke of an ambiguous name exits 1" rc_is 1
	check "... and says how many match" err_has "'Twin' matches 2 devices"

	H4=$(state_hash)
	admin revoke Anna
	check "revoke by name exits 0" rc_is 0
	check "... and says what it revoked" \
		out_has "revoked field device 'Anna' ($KEY_A)"
	check "... and the state hash changes" test "$(state_hash)" != "$H4"
	admin revoke Anna
	check "revoking it again exits 0" rc_is 0
	check "... and says it already is" out_has "is already revoked"
	admin revoke "$(tr 'a-f' 'A-F' <<<"${KEY_B:0:8}")"
	check "revoke by an 8-digit key prefix (any case) exits 0" rc_is 0
	admin devices --json
	check "devices --json shows who is revoked" json_check \
		"{e['key']: e['status'] for e in d} == {'$KEY_A': 'revoked', '$KEY_B': 'revoked', '$KEY_C': 'active'} and all(e['revoked'] for e in d if e['status'] == 'revoked')"
	RC=0
	timeout 30 "$VELD" --dir "$TMP/dev-a" sync >"$TMP/v" 2>"$TMP/ve" || RC=$?
	check "the revoked device is refused at its next sync" test "$RC" -ne 0
else
	echo "# no field client given: enrolment and revocation of real devices skipped"
fi

# --- stop ------------------------------------------------------------------

H_LAST=$(state_hash)
stop_server
check "SIGTERM: veldd exits with status 0" test "$STOP_RC" = 0
check "state-hash works with the server stopped, same hash" \
	test "$(state_hash)" = "$H_LAST"
check "no sanitizer report from any admin command" \
	bash -c '! grep -q Sanitizer "$1"' _ "$TMP/admin_err"
check "no sanitizer report from the server" bash -c '! grep -q Sanitizer "$1"' _ "$TMP/err"

echo "$PASSED passed, $FAILED failed"
[[ $FAILED -eq 0 ]]
