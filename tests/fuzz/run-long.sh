#!/usr/bin/env bash
# run-long.sh - a long libFuzzer campaign over every target (see README.md).
#
# Builds the fuzzers with clang and -DVELD_FUZZ=ON into build-fuzz/ at the
# top of the tree (unless that build exists), then fuzzes each target for
# FUZZ_SECONDS in FUZZ_JOBS worker processes (libFuzzer -fork).  Each target
# grows a writable corpus under build-fuzz/corpus/<name>/ that is kept from
# run to run; the seed corpus in tests/fuzz/corpus/ is only read.  Crash,
# timeout, leak and OOM inputs go to build-fuzz/artifacts/<run>/<target>/.
#
# Environment:
#   FUZZ_SECONDS  seconds per target (default 600)
#   FUZZ_JOBS     worker processes per target (default 2)
#   FUZZ_BUILD    build directory (default <top>/build-fuzz)
#
# Exits 0 if no target found anything, 1 if any did, 2 on usage errors.
set -euo pipefail

top=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
build=${FUZZ_BUILD:-$top/build-fuzz}
seconds=${FUZZ_SECONDS:-600}
jobs=${FUZZ_JOBS:-2}
seeds=$top/tests/fuzz/corpus
run=$(date +%Y%m%d-%H%M%S)

# target:seed-corpus pairs, as in tests/fuzz/CMakeLists.txt
targets=(fuzz_op_decode:op_decode fuzz_canon:canon fuzz_msg:msg
	fuzz_session:session fuzz_form:form fuzz_web:web)

if ! [[ $seconds =~ ^[0-9]+$ && $jobs =~ ^[0-9]+$ ]] || ((jobs < 1)); then
	echo "run-long.sh: FUZZ_SECONDS and FUZZ_JOBS must be positive integers" >&2
	exit 2
fi

if [[ ! -f $build/CMakeCache.txt ]]; then
	CC=clang cmake -S "$top" -B "$build" -DVELD_FUZZ=ON \
		-DCMAKE_BUILD_TYPE=RelWithDebInfo
elif ! grep -q '^VELD_FUZZ:BOOL=ON$' "$build/CMakeCache.txt"; then
	echo "run-long.sh: '$build' is not a -DVELD_FUZZ=ON build" >&2
	exit 2
fi
names=()
for t in "${targets[@]}"; do
	names+=("${t%%:*}")
done
cmake --build "$build" --target "${names[@]}" -j "$jobs"

findings=0
for t in "${targets[@]}"; do
	name=${t%%:*}
	corpus=$build/corpus/${t#*:}
	art=$build/artifacts/$run/$name
	log=$build/artifacts/$run/$name.log
	bin=$build/tests/fuzz/$name
	if [[ ! -x $bin ]]; then
		echo "run-long.sh: no '$name' binary under '$build'" >&2
		exit 2
	fi
	mkdir -p "$corpus" "$art"

	echo "== $name: ${seconds}s, $jobs jobs, corpus $corpus"
	# The seed directory comes second: libFuzzer only writes to the first.
	rc=0
	"$bin" -fork="$jobs" -ignore_crashes=1 -ignore_timeouts=1 \
		-ignore_ooms=1 -max_total_time="$seconds" -timeout=5 \
		-rss_limit_mb=1024 -artifact_prefix="$art/" \
		"$corpus" "$seeds/${t#*:}" >"$log" 2>&1 || rc=$?

	# Fork mode reports "#<execs>: cov: ... time: <s>s ..." per job.
	last=$(grep -E '^#[0-9]+: cov:' "$log" | tail -n 1 || true)
	execs=$(sed -E 's/^#([0-9]+):.*/\1/' <<<"$last")
	secs=$(sed -E 's/.* time: ([0-9]+)s.*/\1/' <<<"$last")
	if [[ -n $execs && -n $secs ]] && ((secs > 0)); then
		echo "$name: $execs executions in ${secs}s ($((execs / secs))/s)," \
			"$(find "$corpus" -type f | wc -l) corpus files"
	else
		echo "$name: no progress lines; see $log"
	fi

	mapfile -t found < <(find "$art" -type f | sort)
	if ((${#found[@]} > 0)); then
		findings=1
		echo "$name: ${#found[@]} finding(s) in $art:"
		for f in "${found[@]}"; do
			# Replay once to name the bug; the log has full traces.
			why=$("$bin" -runs=1 "$f" 2>&1 |
				grep -m 1 -E 'SUMMARY|^fuzz_' || true)
			echo "  $f"
			echo "    ${why:-(does not reproduce alone)}"
		done
	elif ((rc != 0)); then
		findings=1
		echo "$name: fuzzer exited with $rc but left no input; see $log"
	fi
done

if ((findings)); then
	echo "run-long.sh: findings; reproduce with <fuzzer> <file>" \
		"(see tests/fuzz/README.md)"
	exit 1
fi
echo "run-long.sh: no findings"
