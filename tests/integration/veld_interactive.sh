#!/usr/bin/env bash
# veld at the front door, driven through a real terminal (tmux): a full
# survey typed as a person would, with one wrong value corrected; a
# cancel (Ctrl-C) that keeps a draft and a resume of it; Dutch and English
# output; form validation of field=value with its error paths; forms,
# resolve, list --today, status, help and --json output parsed.
#
#   veld_interactive.sh VELDD VELD REPO_ROOT
set -euo pipefail
veldd=$1
veld=$2
root=$3
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
sock=veld-test-$$
at_exit() { tmux -L "$sock" kill-server 2>/dev/null || true; }
v() { # v DEVICE args...
	local d=$1
	shift
	"$veld" --dir "$tmp/$d" "$@"
}
# expect_exit CODE PATTERN DEVICE ARGS... (stdin not a terminal)
expect_exit() {
	local code=$1 pattern=$2 d=$3 rc=0
	shift 3
	v "$d" "$@" </dev/null >"$tmp/out" 2>"$tmp/err" || rc=$?
	if [ "$rc" != "$code" ]; then
		fail "veld $* exited $rc, want $code: $(cat "$tmp/err")"
	elif ! grep -qF -- "$pattern" "$tmp/err"; then
		fail "veld $*: no '$pattern' in: $(cat "$tmp/err")"
	else
		ok
	fi
}
# pyjson DEVICE CODE ARGS... : veld's JSON, checked by python (prints ok)
pyjson() {
	local d=$1 code=$2 out
	shift 2
	out=$(v "$d" "$@" </dev/null | python3 -c "
import json, sys
d = json.load(sys.stdin)
$code
print('ok')
" 2>&1) || true
	[ "$out" = ok ] && ok || fail "veld $* json: $out"
}
count() { v A list --json --all </dev/null |
	python3 -c 'import json,sys; print(len(json.load(sys.stdin)))'; }

# --- a server with the shipped forms, one enrolled device ---
port=$(free_port)
start_server
for f in "$root"/deploy/forms/*.json; do
	"$veldd" form import "$f" --data "$tmp/srv" >/dev/null
done
code=$("$veldd" code new --data "$tmp/srv" --role field --name Ahmed \
	--area noord | tail -1)
v A init --server "ws://127.0.0.1:$port/sync" --code "$code" \
	--name A >/dev/null
code=$("$veldd" code new --data "$tmp/srv" --role field --name Bea \
	--area noord | tail -1)
v B init --server "ws://127.0.0.1:$port/sync" --code "$code" \
	--name B >/dev/null

# --- tmux: a terminal the way a person has one ---
screen() { tmux -L "$sock" capture-pane -p -t "$1" -S -400; }
# wait_for NAME TEXT : until the screen shows TEXT (10 s at most)
wait_for() {
	for _ in $(seq 100); do
		grep -qF -- "$2" <(screen "$1") && return 0
		sleep 0.1
	done
	fail "screen of $1 never showed '$2'"
	screen "$1" | tail -20 >&2
	return 1
}
# type NAME TEXT WAIT : type a line, then wait for WAIT on the screen
type_line() {
	tmux -L "$sock" send-keys -t "$1" -l -- "$2"
	tmux -L "$sock" send-keys -t "$1" Enter
	[ -z "${3:-}" ] || wait_for "$1" "$3"
}
# exited NAME : the process's exit status once it has ended
exited() {
	for _ in $(seq 100); do
		if grep -q '^EXIT=' "$tmp/$1.out" 2>/dev/null; then
			sed -n 's/^EXIT=//p' "$tmp/$1.out"
			return 0
		fi
		sleep 0.1
	done
	echo timeout
}
# The pane itself runs veld directly (stdin a terminal); output goes to
# the screen and is read from there.
start_tty() {
	local name=$1 lang=$2
	shift 2
	printf '%q ' "$veld" --dir "$tmp/A" "$@" >"$tmp/cmd"
	tmux -L "$sock" new-session -d -s "$name" -x 120 -y 50 \
		"env LANG=$lang LANGUAGE= LC_ALL= LC_MESSAGES= $(cat "$tmp/cmd"); \
		echo EXIT=\$? >$tmp/$name.out; sleep 60"
}

before=$(count)

# 1. A full survey in English, one wrong value corrected.
start_tty s1 C.UTF-8 new huisbezoek
wait_for s1 "Keys: Enter = default or skip"
wait_for s1 "Today: 0 entries on this device."
type_line s1 "Kerkstraat" "(2/11) Huisnummer (required)"
type_line s1 "12a" "(3/11) Iemand thuis?"
type_line s1 "" "(4/11) Kent u het buurtteam?"
type_line s1 "7" "'7' is not a choice of field 'knows_team'"
type_line s1 "2" "(5/11)"
type_line s1 "misschien" "field 'contacted_before' wants yes or no"
type_line s1 "ja" "(6/11)"
type_line s1 "meer groen in de straat" "(7/11) Vervolg gewenst?"
type_line s1 "" "(8/11)"
type_line s1 "j" "(9/11) Naam bewoner"
type_line s1 "Piet" "(10/11) Telefoonnummer"
type_line s1 "<" "(9/11) Naam bewoner"
type_line s1 "" "(10/11) Telefoonnummer"
type_line s1 "0612345678" "(11/11) Opmerkingen"
type_line s1 "" "Save? [Enter/y = save"
grep -qE '4\) Kent u het buurtteam\? +een beetje' <(screen s1) && ok ||
	fail "summary lacks the corrected choice: $(screen s1 | tail -20)"
type_line s1 "" "saved a new 'huisbezoek' record on this device (1 today)"
[ "$(exited s1)" = 0 ] && ok || fail "the survey did not exit 0"
[ "$(count)" = $((before + 1)) ] && ok || fail "no record after the survey"
pyjson A '
r = d[0]
v = r["values"]
assert r["form"] == "huisbezoek", r
assert v == {"street": "Kerkstraat", "house_number": "12a", "at_home": True,
  "knows_team": "een beetje", "contacted_before": True,
  "wish": "meer groen in de straat", "followup": "geen", "consent": True,
  "contact_name": "Piet", "contact_phone": "0612345678"}, v
' list --json

# 2. Dutch: a cancel with Ctrl-C keeps a draft, nothing is written.
start_tty s2 nl_NL.UTF-8 new huisbezoek
wait_for s2 "Toetsen: Enter = standaard of overslaan"
wait_for s2 "Vandaag: 1 invoer(en) op dit apparaat."
# The last street is offered: Enter takes it.
wait_for s2 "[Enter = Kerkstraat]"
type_line s2 "" "(2/11) Huisnummer (verplicht)"
type_line s2 "14" "(3/11) Iemand thuis?"
type_line s2 "" "(4/11) Kent u het buurtteam?"
type_line s2 "5" "'5' is geen keuze van veld 'knows_team'"
tmux -L "$sock" send-keys -t s2 C-c
wait_for s2 "Gestopt. Er is geen record opgeslagen"
[ "$(exited s2)" != 0 ] && ok || fail "a cancelled entry exited 0"
[ "$(count)" = $((before + 1)) ] && ok || fail "a cancel wrote a record"

# 3. Resume the draft (English), finish it with the "nobody home" key.
start_tty s3 C.UTF-8 new huisbezoek
wait_for s3 "There is an unfinished 'huisbezoek' entry"
type_line s3 "y" "(4/11) Kent u het buurtteam?"
type_line s3 "*" "Save? [Enter/y = save"
type_line s3 "" "saved a new 'huisbezoek' record on this device (2 today)"
[ "$(exited s3)" = 0 ] && ok || fail "the resumed entry did not exit 0"
pyjson A '
v = d[0]["values"]
assert v == {"street": "Kerkstraat", "house_number": "14",
  "at_home": False}, v
' list --json

# 4. A draft discarded; EOF (Ctrl-D) at the first question keeps nothing.
start_tty s4 C.UTF-8 new containerdag
wait_for s4 "(1/10) Tijdstip (required)"
type_line s4 "gisteren" "wants a date and time YYYY-MM-DDTHH:MM"
type_line s4 "" "(2/10) Adres"
type_line s4 "anoniem" "(3/10) Onderwerpen"
tmux -L "$sock" send-keys -t s4 C-d
wait_for s4 "Stopped."
start_tty s5 C.UTF-8 new containerdag
wait_for s5 "There is an unfinished 'containerdag' entry"
type_line s5 "n" "Draft discarded."
tmux -L "$sock" send-keys -t s5 C-d
wait_for s5 "Stopped. Nothing was saved."
[ "$(count)" = $((before + 2)) ] && ok || fail "cancels wrote records"

# --- non-interactive field=value: the same checks, nothing written ---
n=$(count)
expect_exit 2 "form 'huisbezoek' has no field 'huis'; its fields are: street, house_number" \
	A new huisbezoek street=X house_number=1 knows_team=ja huis=3
expect_exit 2 "'misschien' is not a choice of field 'knows_team'; choose one of: ja, een beetje, nee" \
	A new huisbezoek street=X house_number=1 knows_team=misschien
expect_exit 2 "field 'house_number' wants a whole number (integer), not 'twaalf'" \
	A new wijklab street=X house_number=twaalf
expect_exit 2 "required field 'knows_team' (Kent u het buurtteam?) is missing" \
	A new huisbezoek street=X house_number=1
expect_exit 2 "choose one of: ja, een beetje, nee" \
	A new huisbezoek street=X house_number=1
expect_exit 2 "field 'contact_name' holds personal data" \
	A new huisbezoek street=X house_number=1 knows_team=ja contact_name=Piet
expect_exit 2 "wants a date and time" A new containerdag time=morgen \
	street=anoniem needs=lekkage followup=gemeente
expect_exit 2 "'vocht' is not a choice of field 'needs'" A new containerdag \
	street=anoniem needs=lekkage,vocht followup=gemeente
expect_exit 2 "field 'needs' is required; choose at least one of: handgreep of beugel" \
	A new containerdag street=anoniem needs=, followup=gemeente
expect_exit 2 "unknown form 'buurt'; known forms: containerdag, huisbezoek, wijklab" \
	A new buurt a=1
expect_exit 2 "no fields given" A new huisbezoek
expect_exit 2 "--not-home needs one" A new wijklab --not-home street=X
expect_exit 2 "unknown option '--bogus'" A new huisbezoek --bogus
LANG=nl_NL.UTF-8 LANGUAGE= expect_exit 2 "verplicht veld 'knows_team' (Kent u het buurtteam?) ontbreekt" \
	A new huisbezoek street=X house_number=1
[ "$(count)" = "$n" ] && ok || fail "a refused write wrote something"

# Types stored as the form says; defaults filled in.
id=$(v A new wijklab street=Kerkstraat house_number=12 knows_org=vaguely \
	contacted_before=true "wish=meer groen" follow_up=visit notes= \
	visited_at=1717200000000 </dev/null | tail -1)
pyjson A '
v = d["values"]
assert v == {"street": "Kerkstraat", "house_number": 12,
  "knows_org": "vaguely", "contacted_before": True, "wish": "meer groen",
  "follow_up": "visit", "visited_at": 1717200000000}, v
' show "${id:0:6}" --json
pyjson A '
assert d["form"] == "containerdag" and len(d["id"]) == 32, d
assert d["today"] == 4, d
' new containerdag --json time=2026-06-01T10:30 street=anoniem \
	"needs=lekkage, handgreep of beugel" followup=welzijn
pyjson A '
v = d[0]["values"]
assert v["needs"] == ["handgreep of beugel", "lekkage"], v
assert v["urgency"] == "deze week" and v["consent"] is False, v
' list --json --form containerdag
survey=$(v A list --json --form huisbezoek </dev/null | python3 -c '
import json, sys; print(json.load(sys.stdin)[-1]["id"])')
expect_exit 2 "field 'street' is required; it cannot be left empty" \
	A edit "${survey:0:6}" street=
expect_exit 2 "field 'visited_at' wants a whole number" \
	A edit "$id" visited_at=gisteren
pyjson A 'assert d["action"] == "edit" and d["id"] == "'"$id"'", d' \
	edit "${id:0:5}" house_number=14 --json

# --- forms, list --today, status, help ---
pyjson A '
names = [f["name"] for f in d]
assert names == ["containerdag", "huisbezoek", "wijklab"], names
w = d[2]
assert [(f["name"], f["type"]) for f in w["fields"]] == [("street", "text"),
  ("house_number", "integer"), ("knows_org", "choice"),
  ("contacted_before", "bool"), ("wish", "text"), ("follow_up", "choice"),
  ("notes", "text"), ("visited_at", "integer")], w
assert w["fields"][2]["choices"] == ["yes", "vaguely", "no"]
assert len(w["id"]) == 32 and w["updated"].endswith("Z")
' forms --json
grep -q '^wijklab' <(v A forms) && ok || fail "forms text"
pyjson A 'assert len(d) == 4, len(d)' list --json --today
pyjson A '
assert d["name"] == "Ahmed" and d["role"] == "field" and d["area"] == "noord", d
assert d["server"] == "ws://127.0.0.1:'"$port"'/sync", d
assert d["unsynced"] >= 5 and d["receipt"] == 0 and d["last_sync"], d
assert len(d["device"]) == 64
' status --json
grep -q "^usage: veld resolve ID FIELD VALUE" <(v A help resolve) && ok ||
	fail "help resolve"
grep -q "^gebruik: veld resolve" <(LANG=nl_NL.UTF-8 LANGUAGE= v A help resolve) &&
	ok || fail "help in Dutch"
expect_exit 2 "unknown command 'nope'" A help nope
expect_exit 2 "usage: veld status [--json]" A status --bogus
expect_exit 2 "usage: veld forms [--json]" A forms --bogus
expect_exit 2 "usage: veld state-hash [--json]" A state-hash --bogus
expect_exit 2 "usage: veld sync [--server URL] [--watch | --push-only]" A sync --bogus
expect_exit 2 "--server and --code go together" A init --server ws://x/sync
expect_exit 2 "unknown option '--bogus'" A edit "$id" --bogus
expect_exit 2 "unknown option '--bogus'" A delete "$id" --bogus
expect_exit 2 "usage: veld note ID TEXT" A note "$id"
expect_exit 1 "this device is not set up" Z status --json
expect_exit 1 "this device is not set up" Z forms
pyjson A 'assert len(d["state_hash"]) == 64, d' state-hash --json

# --- resolve: a conflict made on two devices, gone everywhere ---
v A sync >/dev/null
v B sync >/dev/null
v A edit "$id" wish=bankjes >/dev/null
v B edit "$id" wish=bomen >/dev/null
v A sync >/dev/null
v B sync >/dev/null
v A sync >/dev/null
pyjson A 'assert d[0]["conflicts"] == 1, d' list --json --conflicts
expect_exit 1 "field 'street' of this record is not in conflict" \
	A resolve "$id" street Dorpsstraat
expect_exit 2 "'geen idee' is not a choice of field 'follow_up'" \
	A resolve "$id" follow_up "geen idee"
expect_exit 2 "usage: veld resolve ID FIELD VALUE" A resolve "$id" wish
expect_exit 1 "no record with id 'ffff'" A resolve ffff wish x
pyjson A 'assert d["action"] == "resolve", d' resolve "${id:0:6}" wish \
	"bankjes en bomen" --json
v A sync >/dev/null
v B sync >/dev/null
pyjson B '
c = d["current"]["wish"]
assert len(c) == 1 and c[0]["value"] == "bankjes en bomen", c
assert d["conflicts"] == 0
' show "$id" --json
pyjson A 'assert d == [], d' list --json --conflicts

# --- on a terminal, only what is missing is asked ---
start_tty s6 C.UTF-8 new huisbezoek street=Brink house_number=3 knows_team=nee
wait_for s6 "saved a new 'huisbezoek' record"
grep -q "Summary:" <(screen s6) && fail "asked although nothing required was missing" || ok
start_tty s7 C.UTF-8 new huisbezoek street=Brink
wait_for s7 "(1/10) Huisnummer (required)"
type_line s7 "5" "(2/10) Iemand thuis?"
type_line s7 "!" "kept as a draft"
[ "$(exited s7)" = 1 ] && ok || fail "stopping with ! did not exit 1"
# Ctrl-C at the resume question keeps the draft as it was.
start_tty s8 C.UTF-8 new huisbezoek
wait_for s8 "There is an unfinished 'huisbezoek' entry"
tmux -L "$sock" send-keys -t s8 C-c
wait_for s8 "Stopped."
start_tty s9 C.UTF-8 new huisbezoek
wait_for s9 "There is an unfinished 'huisbezoek' entry"
type_line s9 "" "(3/11) Iemand thuis?"
type_line s9 "<" "(2/11) Huisnummer"
grep -qF "[Enter = keep: 5]" <(screen s9) && ok || fail "the resumed draft lost its answer"
tmux -L "$sock" send-keys -t s9 C-d
wait_for s9 "kept as a draft"

# --- ids: too short a prefix is refused with the rule ---
expect_exit 2 "is not a record id (4 to 32 hex digits)" A show "${id:0:2}"
expect_exit 1 "no record with id 'ffffff'" A show ffffff

echo "veld_interactive: $passed passed, $failed failed"
[ "$failed" = 0 ]
