#!/usr/bin/env bash
# Install what is missing, build, and run every test three ways:
#   1. build/       warnings as errors; all tests (format check included)
#   2. build-asan/  AddressSanitizer + UBSan; all tests again
#   3. build-fuzz/  clang + libFuzzer; a short bounded run of each target
# Exit status 0 only if all pass.  Long fuzz campaigns: tests/fuzz/run-long.sh
set -euo pipefail
cd "$(dirname "$0")"
jobs=$(nproc)

deploy/deps.sh test

echo "== build (warnings as errors)"
cmake -S . -B build -DVELD_WERROR=ON >/dev/null
cmake --build build -j"$jobs"
ctest --test-dir build --output-on-failure -j"$jobs"

echo "== AddressSanitizer + UndefinedBehaviorSanitizer"
cmake -S . -B build-asan -DVELD_WERROR=ON -DVELD_SANITIZE=ON \
	-DCMAKE_BUILD_TYPE=Debug >/dev/null
cmake --build build-asan -j"$jobs"
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
	UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	VELD_CONVERGE_SEEDS=150 \
	ctest --test-dir build-asan --output-on-failure -j"$jobs" -E '^format$'

echo "== libFuzzer (short runs)"
CC=clang cmake -S . -B build-fuzz -DVELD_WERROR=ON -DVELD_FUZZ=ON >/dev/null
cmake --build build-fuzz -j"$jobs" --target fuzz_op_decode fuzz_canon \
	fuzz_msg fuzz_session fuzz_form fuzz_web
ctest --test-dir build-fuzz --output-on-failure -R '^fuzz_'

echo "== all tests passed"
