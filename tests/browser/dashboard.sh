#!/usr/bin/env bash
# dashboard.sh - the coordinator dashboard in a real browser.
#
#   usage: dashboard.sh VELDD VELD WORKDIR
#
# Installs playwright-core from the committed package-lock.json into
# WORKDIR (npm ci; nothing is downloaded but that package: the browser is
# Debian's /usr/bin/chromium), starts a real veldd on 127.0.0.1 with a
# fresh data directory and a form, and runs dashboard.js, which drives
# headless chromium and real `veld` devices.  Screenshots of every view
# are kept in WORKDIR/artifacts.  Prints "N passed, M failed".
set -euo pipefail

VELDD=${1:?usage: dashboard.sh VELDD VELD WORKDIR}
VELD=${2:?usage: dashboard.sh VELDD VELD WORKDIR}
WORK=${3:?usage: dashboard.sh VELDD VELD WORKDIR}
HERE=$(cd "$(dirname "$0")" && pwd)

[[ -x /usr/bin/chromium ]] || { echo "dashboard: /usr/bin/chromium missing (deploy/deps.sh test)" >&2; exit 1; }
command -v npm >/dev/null || { echo "dashboard: npm missing (deploy/deps.sh test)" >&2; exit 1; }

mkdir -p "$WORK"
cp "$HERE/package.json" "$HERE/package-lock.json" "$WORK/"
want=$(sed -n 's/.*"playwright-core": "\(.*\)".*/\1/p' "$HERE/package.json")
if ! grep -qs "\"version\": \"$want\"" "$WORK/node_modules/playwright-core/package.json"; then
	(cd "$WORK" && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
fi
rm -rf "$WORK/artifacts"
mkdir -p "$WORK/artifacts"

TMP=$(mktemp -d "${TMPDIR:-/tmp}/veld-dash.XXXXXX")
PID=
cleanup() {
	if [[ -n $PID ]] && kill -0 "$PID" 2>/dev/null; then
		kill -TERM "$PID" 2>/dev/null || true
		wait "$PID" 2>/dev/null || true
	fi
	rm -rf "$TMP"
}
trap cleanup EXIT

# veldd on a free port; waits (10 s at most) for /healthz.
start_server() {
	for _ in 1 2 3 4 5; do
		PORT=$((20000 + RANDOM % 20001))
		"$VELDD" serve --data "$TMP/srv" --listen "127.0.0.1:$PORT" \
			>"$TMP/out" 2>"$TMP/err" &
		PID=$!
		for ((i = 0; i < 100; i++)); do
			kill -0 "$PID" 2>/dev/null || break
			if curl -fs -o /dev/null --max-time 1 "http://127.0.0.1:$PORT/healthz"; then
				return 0
			fi
			sleep 0.1
		done
		kill -0 "$PID" 2>/dev/null && { echo "veldd did not start" >&2; exit 1; }
		wait "$PID" || true
		PID=
		grep -q "cannot listen" "$TMP/err" || { cat "$TMP/err" >&2; exit 1; }
		rm -rf "$TMP/srv"
	done
	echo "dashboard: no free port" >&2
	exit 1
}

start_server
"$VELDD" form import --data "$TMP/srv" "$HERE/../../deploy/forms/huisbezoek.json" >/dev/null

rc=0
VELDD="$VELDD" VELD="$VELD" DATA="$TMP/srv" TMPDIR="$TMP" PORT="$PORT" \
	ARTIFACTS="$WORK/artifacts" NODE_PATH="$WORK/node_modules" \
	timeout 150 node "$HERE/dashboard.js" || rc=$?
# A clean stop, and no sanitizer report (ASan/UBSan builds).
kill -TERM "$PID"
stop=0
wait "$PID" || stop=$?
PID=
if ((stop)) || grep -q Sanitizer "$TMP/err"; then
	echo "FAIL - veldd did not stop cleanly (exit $stop) or reported a sanitizer error" >&2
	rc=1
fi
if ((rc)); then
	echo "--- veldd stderr (last lines) ---" >&2
	tail -40 "$TMP/err" >&2 || true
fi
exit $rc
