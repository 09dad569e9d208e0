#!/usr/bin/env bash
# run-long.sh - the long reliability campaign: the fault scripts of
# tests/integration/ with far more iterations than CI runs.
#
#   tests/fault/run-long.sh [BUILD_DIR]        (default <top>/build)
#
# Environment (defaults in brackets):
#   KILL_ITERATIONS     kill -9 rounds of fault_kill.sh            [150]
#   KILL_RUNS           fault_kill.sh runs, each with its own seed [2]
#   NET_ENTRIES         entries per device in fault_network.sh     [500]
#   NET_RUNS            fault_network.sh runs (new seed each)      [5]
#   OFFLINE_ENTRIES     entries of the offline device              [5000]
#
# Every run prints its SEED; replay one with SEED=<n> and the same
# arguments.  fault_disk.sh and fault_clock.sh have no random part and run
# once.  Exits 1 if any run failed (their logs are kept under
# BUILD_DIR/fault-long/<date-time>/), 0 otherwise.
set -uo pipefail
top=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
build=${1:-$top/build}
veldd=$build/server/veldd
veld=$build/client/veld
it=$top/tests/integration
if [[ ! -x $veldd || ! -x $veld ]]; then
	echo "run-long.sh: build veldd and veld in '$build' first" >&2
	exit 2
fi
logs=$build/fault-long/$(date +%Y%m%d-%H%M%S)
mkdir -p "$logs"
failed=0
run() { # run NAME script args...
	local name=$1 rc
	shift
	echo "== $name"
	bash "$@" >"$logs/$name.log" 2>&1
	rc=$?
	grep -E "SEED=|passed|SKIPPED|in [0-9]+ (s|ms)$" "$logs/$name.log" | sed 's/^/   /'
	if ((rc != 0 && rc != 77)); then
		failed=1
		echo "   FAILED (exit $rc): $logs/$name.log"
	fi
}

for i in $(seq "${KILL_RUNS:-2}"); do
	run "fault_kill-$i" "$it/fault_kill.sh" "$veldd" "$veld" "${KILL_ITERATIONS:-150}"
done
for i in $(seq "${NET_RUNS:-5}"); do
	run "fault_network-$i" "$it/fault_network.sh" "$veldd" "$veld" "${NET_ENTRIES:-500}"
done
run fault_offline "$it/fault_offline.sh" "$veldd" "$veld" "${OFFLINE_ENTRIES:-5000}"
run fault_disk "$it/fault_disk.sh" "$veldd" "$veld"
run fault_clock "$it/fault_clock.sh" "$veldd" "$veld"

if ((failed)); then
	echo "run-long.sh: failures; logs in $logs"
	exit 1
fi
echo "run-long.sh: all passed; logs in $logs"
