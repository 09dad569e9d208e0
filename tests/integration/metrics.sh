#!/usr/bin/env bash
# metrics.sh - /metrics and the structured log of a real veldd.
#
#   usage: metrics.sh PATH/TO/veldd PATH/TO/veld
#
# On 127.0.0.1 only: starts veldd serve on a fresh data directory, enrols a
# device with the first coordinator code, makes a record and syncs it, fails
# an enrolment with a wrong code, keeps a device connected (sync --watch);
# then fetches /metrics and parses it (every line a valid exposition line,
# one TYPE per family before its samples, histogram buckets cumulative with
# +Inf == _count) and checks the values; stops veldd and checks that every
# stderr line is logfmt with ts, level and event, that the events happened,
# and that no record field value, device name or enrolment code is in it.
# Prints "N passed, M failed"; exits non-zero if anything failed.
set -euo pipefail

VELDD=${1:?usage: metrics.sh PATH/TO/veldd PATH/TO/veld}
VELD=${2:?usage: metrics.sh PATH/TO/veldd PATH/TO/veld}
for b in "$VELDD" "$VELD"; do
	[[ -x $b ]] || { echo "metrics.sh: '$b' is not executable" >&2; exit 1; }
done
command -v curl >/dev/null || { echo "metrics.sh: curl not found" >&2; exit 1; }
command -v python3 >/dev/null || { echo "metrics.sh: python3 not found" >&2; exit 1; }

TMP=$(mktemp -d "${TMPDIR:-/tmp}/veld-metrics.XXXXXX")
PID=
WATCH=
PORT=
PASSED=0
FAILED=0

cleanup() {
	local p
	for p in $WATCH $PID; do
		if kill -0 "$p" 2>/dev/null; then
			kill -KILL "$p" 2>/dev/null || true
			wait "$p" 2>/dev/null || true
		fi
	done
	rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

ok() { PASSED=$((PASSED + 1)); echo "ok   - $*"; }
not_ok() { FAILED=$((FAILED + 1)); echo "FAIL - $*" >&2; }
check() {
	local desc=$1
	shift
	if "$@"; then ok "$desc"; else not_ok "$desc"; fi
}
die() {
	not_ok "$*"
	echo "--- veldd stdout ---" >&2; cat "$TMP/out" >&2 || true
	echo "--- veldd stderr ---" >&2; cat "$TMP/err" >&2 || true
	echo "$PASSED passed, $FAILED failed"
	exit 1
}

# veldd serve on a random port (5 tries if taken); waits for /healthz.
start_server() {
	local i
	for _ in 1 2 3 4 5; do
		PORT=$((20000 + RANDOM % 20001))
		"$VELDD" serve --data "$TMP/srv" --listen "127.0.0.1:$PORT" \
			>"$TMP/out" 2>"$TMP/err" &
		PID=$!
		for ((i = 0; i < 100; i++)); do
			kill -0 "$PID" 2>/dev/null || break
			if curl -fs -o /dev/null --max-time 1 \
				"http://127.0.0.1:$PORT/healthz"; then
				return 0
			fi
			sleep 0.1
		done
		kill -0 "$PID" 2>/dev/null && die "veldd did not answer within 10 s"
		wait "$PID" || true
		PID=
		grep -q "cannot listen" "$TMP/err" || die "veldd exited at start"
		rm -rf "$TMP/srv"
	done
	die "no free port after 5 tries"
}

v() { "$VELD" --dir "$TMP/$1" "${@:2}"; }

# metric NAME_WITH_LABELS: its value in $TMP/metrics (empty if absent).
metric() {
	awk -v n="$1" '$1 == n { print $2 }' "$TMP/metrics"
}
ge() { [[ -n $1 ]] && python3 -c 'import sys; sys.exit(not float(sys.argv[1]) >= float(sys.argv[2]))' "$1" "$2"; }
gt() { [[ -n $1 ]] && python3 -c 'import sys; sys.exit(not float(sys.argv[1]) > float(sys.argv[2]))' "$1" "$2"; }
fetch() {
	curl -s --max-time 5 -D "$TMP/headers" -o "$TMP/metrics" \
		-w '%{http_code}' "http://127.0.0.1:$PORT/metrics"
}
# wait_metric NAME VALUE: up to 5 s for /metrics to show NAME == VALUE.
wait_metric() {
	for _ in $(seq 50); do
		fetch >/dev/null
		[[ $(metric "$1") == "$2" ]] && return 0
		sleep 0.1
	done
	return 1
}

# --- the story ---------------------------------------------------------

start_server
URL="ws://127.0.0.1:$PORT/sync"
CODE=$(sed -n 's/^first coordinator enrolment code (valid 24 hours): //p' "$TMP/out")
[[ $CODE =~ ^[0-9A-Z]{5}-[0-9A-Z]{5}$ ]] || die "no first coordinator code on stdout"

check "enrol with the first coordinator code" \
	v C init --server "$URL" --code "$CODE" --name Wilhelmina >/dev/null
v C new huisbezoek street=Kerkstraat house=12 wish=bankjes >/dev/null
check "veld sync" v C sync >/dev/null
if v X init --server "$URL" --code 00000-00000 --name Bartholomeus \
	>"$TMP/x.out" 2>&1; then
	not_ok "enrolment with a wrong code succeeded"
else
	ok "enrolment with a wrong code fails"
fi

# A device that stays connected (veld itself in the background, not a
# subshell: $! must be its pid).
"$VELD" --dir "$TMP/C" sync --watch >/dev/null 2>&1 &
WATCH=$!
check "a watching device shows as connected" wait_metric veld_devices_connected 1
check "... and as an active session" ge "$(metric veld_sync_sessions_active)" 1
kill "$WATCH" 2>/dev/null || true
wait "$WATCH" 2>/dev/null || true
WATCH=
check "gone again: veld_devices_connected 0" wait_metric veld_devices_connected 0
check "gone again: veld_sync_sessions_active 0" wait_metric veld_sync_sessions_active 0

# --- /metrics ------------------------------------------------------------

code=$(fetch)
check "GET /metrics is 200" test "$code" = 200
check "Content-Type: text/plain; version=0.0.4" \
	grep -qi '^content-type: text/plain; version=0.0.4' "$TMP/headers"

cat >"$TMP/parse.py" <<'EOF'
# Parse a Prometheus text exposition (0.0.4); print problems, exit 1 if any.
import math, re, sys

NAME = r'[a-zA-Z_:][a-zA-Z0-9_:]*'
LABEL = r'[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\[\\"n])*"'
VALUE = r'[-+]?(?:[0-9]*\.?[0-9]+(?:[eE][-+]?[0-9]+)?|Inf|NaN)'
SAMPLE = re.compile(r'^(%s)(?:\{((?:%s)(?:,%s)*)?,?\})? (%s)(?: -?[0-9]+)?$'
                    % (NAME, LABEL, LABEL, VALUE))
COMMENT = re.compile(r'^# (HELP|TYPE) (%s)(?: (.*))?$' % NAME)
TYPES = {'counter', 'gauge', 'histogram', 'summary', 'untyped'}

text = open(sys.argv[1], encoding='utf-8').read()
bad = []
if not text.endswith('\n'):
    bad.append('no newline at the end')
types, seen, samples = {}, set(), []
for n, line in enumerate(text.split('\n')[:-1], 1):
    m = COMMENT.match(line)
    if m:
        kind, name, rest = m.groups()
        if kind == 'TYPE':
            if rest not in TYPES:
                bad.append('%d: bad type %r' % (n, rest))
            if name in types:
                bad.append('%d: second TYPE for %s' % (n, name))
            if name in seen:
                bad.append('%d: TYPE of %s after its samples' % (n, name))
            types[name] = rest
        continue
    if line.startswith('#') or line == '':
        bad.append('%d: not an exposition line: %r' % (n, line))
        continue
    m = SAMPLE.match(line)
    if not m:
        bad.append('%d: not an exposition line: %r' % (n, line))
        continue
    name, labels, value = m.groups()
    labels = dict(re.findall(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"',
                             labels or ''))
    family = name
    for suffix in ('_bucket', '_sum', '_count'):
        base = name[:-len(suffix)]
        if name.endswith(suffix) and types.get(base) == 'histogram':
            family = base
    if family not in types:
        bad.append('%d: %s has no TYPE' % (n, name))
    seen.add(family)
    samples.append((family, name, labels, float(value)))

for fam, typ in types.items():
    if typ != 'histogram':
        continue
    buckets = [(float(l['le']), v) for f, nm, l, v in samples
               if nm == fam + '_bucket']
    count = [v for f, nm, l, v in samples if nm == fam + '_count']
    if not buckets or buckets[-1][0] != math.inf:
        bad.append('%s: no le="+Inf" bucket last' % fam)
    if [b for b, _ in buckets] != sorted(b for b, _ in buckets):
        bad.append('%s: le not ascending' % fam)
    if any(a[1] > b[1] for a, b in zip(buckets, buckets[1:])):
        bad.append('%s: buckets not cumulative' % fam)
    if len(count) != 1 or not buckets or buckets[-1][1] != count[0]:
        bad.append('%s: +Inf bucket != _count' % fam)
    if len([1 for f, nm, l, v in samples if nm == fam + '_sum']) != 1:
        bad.append('%s: no _sum' % fam)
for b in bad:
    print('metrics:', b)
sys.exit(1 if bad else 0)
EOF
check "/metrics parses as exposition format 0.0.4" python3 "$TMP/parse.py" "$TMP/metrics"

check "veld_ops_accepted_total >= 1" ge "$(metric veld_ops_accepted_total)" 1
check "veld_sync_sessions_total >= 2" ge "$(metric veld_sync_sessions_total)" 2
check 'veld_enrolments_total{result="ok"} >= 1' \
	ge "$(metric 'veld_enrolments_total{result="ok"}')" 1
check 'veld_enrolments_total{result="fail"} >= 1' \
	ge "$(metric 'veld_enrolments_total{result="fail"}')" 1
check "veld_bytes_in_total > 0" gt "$(metric veld_bytes_in_total)" 0
check "veld_bytes_out_total > 0" gt "$(metric veld_bytes_out_total)" 0
check "veld_store_bytes > 0" gt "$(metric veld_store_bytes)" 0
check "veld_batch_commit_seconds_count >= 1" \
	ge "$(metric veld_batch_commit_seconds_count)" 1
check "no rejected ops" test -z "$(grep '^veld_ops_rejected_total{' "$TMP/metrics")"

code=$(curl -s --max-time 5 -X POST -o /dev/null -w '%{http_code}' \
	"http://127.0.0.1:$PORT/metrics")
check "POST /metrics is 405" test "$code" = 405
code=$(curl -s --max-time 5 -o "$TMP/health" -w '%{http_code}' \
	"http://127.0.0.1:$PORT/healthz")
check "/healthz still answers" test "$code" = 200

# --- stop, then the log --------------------------------------------------

kill -TERM "$PID"
rc=0
wait "$PID" || rc=$?
PID=
check "SIGTERM: exit status 0" test "$rc" = 0

cat >"$TMP/logfmt.py" <<'EOF'
# Check that every line is logfmt with ts, level and event first; print the
# events seen as "level=... event=... key=value ..." lines for grep.
import re, sys

PAIR = re.compile(r' ([a-z0-9_]+)=("(?:[^"\\]|\\.)*"|[^ "=\\]+)')
TS = re.compile(r'^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$')
bad = 0
for n, line in enumerate(open(sys.argv[1], encoding='utf-8'), 1):
    line = line.rstrip('\n')
    pairs, pos = [], 0
    s = ' ' + line
    while pos < len(s):
        m = PAIR.match(s, pos)
        if not m:
            break
        pairs.append((m.group(1), m.group(2)))
        pos = m.end()
    keys = [k for k, _ in pairs]
    if (pos != len(s) or keys[:3] != ['ts', 'level', 'event']
            or not TS.match(pairs[0][1])
            or pairs[1][1] not in ('error', 'warn', 'info', 'debug')
            or len(set(keys)) != len(keys)):
        print('not logfmt, line %d: %r' % (n, line), file=sys.stderr)
        bad += 1
        continue
    print(' '.join(k + '=' + v for k, v in pairs[1:]))
sys.exit(1 if bad else 0)
EOF
rc=0
python3 "$TMP/logfmt.py" "$TMP/err" >"$TMP/events" || rc=$?
check "every stderr line is logfmt with ts, level, event" test "$rc" = 0

has() { grep -Eq "$1" "$TMP/events"; }
check "log: start" has '^level=info event=start '
check "log: connection open" has '^level=info event=open session=[0-9]+$'
check "log: enrol ok, with the device's key prefix" \
	has '^level=info event=enrol session=[0-9]+ device=[0-9a-f]{8} result=ok role=coordinator$'
check "log: enrol fail with the reason" \
	has '^level=warn event=enrol session=[0-9]+ device=[0-9a-f]{8} result=fail reason=ECODE$'
check "log: auth ok" has '^level=info event=auth .*result=ok'
check "log: push with ops, seq and ms" \
	has '^level=info event=push .*device=[0-9a-f]{8} batch=[0-9]+ ops=[1-9][0-9]* seq=[0-9]+ ms=[0-9]+\.[0-9]$'
check "log: pull with ops" has '^level=info event=pull .*ops=[0-9]+ more=[01]$'
check "log: close with code and who closed" \
	has '^level=info event=close .*code=[0-9]+ by=(server|peer|none) ms='
check "log: the refused enrolment closes with 4401" \
	has 'event=close .*code=4401 by=server'
check "log: stop" has '^level=info event=stop '
for secret in Kerkstraat bankjes Wilhelmina Bartholomeus "$CODE" "${CODE/-/}"; do
	check "log never shows '$secret'" test -z "$(grep -F -- "$secret" "$TMP/err")"
done
key=$(v C whoami | awk '{print $2}')
check "log never shows a whole device key" \
	test -z "$(grep -F -- "$key" "$TMP/err")"
check "no sanitizer report" test -z "$(grep Sanitizer "$TMP/err")"

rc=0
"$VELDD" serve --data "$TMP/unused" --log-level chatty >/dev/null \
	2>"$TMP/usage" || rc=$?
check "--log-level chatty is a usage error (2)" test "$rc" = 2
check "... that says why" grep -q "bad log level 'chatty'" "$TMP/usage"

echo "$PASSED passed, $FAILED failed"
[[ $FAILED -eq 0 ]]
