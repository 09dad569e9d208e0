#!/usr/bin/env bash
# client_footprint.sh: how small veld is (a benchmark, not a test).
#
#   bench/client_footprint.sh [--pull N ...]
#
# Reports
#   1. the stripped size of veld (strip --strip-all of a copy) and the
#      libraries it links dynamically;
#   2. peak RSS of veld while entering a record: an interactive survey
#      typed through a pseudo-terminal (script(1)), and a field=value new;
#   3. peak RSS of `veld sync` pushing N ops from a field device and of a
#      coordinator's `veld sync` pulling them, for each N given (default
#      2000 20000 100000).  The records are made by bench/footprint_records.c
#      (compiled here against the build's libveld: the library call veld new
#      uses, in one process instead of N launches); push and pull are the
#      real veld.  Flat with N means the sync streams.
#
# Uses ${VELD_BUILD:-build}/server/veldd and .../client/veld (relative to
# the repository root unless absolute).  Needs /usr/bin/time, strip, script,
# curl, cc, pkg-config.  A tmpfs TMPDIR (/dev/shm) keeps the disk out of it.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(dirname "$here")
build=${VELD_BUILD:-build}
[[ $build = /* ]] || build=$root/$build
veld=$build/client/veld
veldd=$build/server/veldd
pulls=()
while [ $# -gt 0 ]; do
	case $1 in
	--pull)
		pulls+=("$2")
		shift 2
		;;
	*)
		echo "usage: $0 [--pull N ...]" >&2
		exit 2
		;;
	esac
done
[ ${#pulls[@]} -gt 0 ] || pulls=(2000 20000 100000)
for b in "$veld" "$veldd" /usr/bin/time; do
	[ -x "$b" ] || {
		echo "missing $b (build first; VELD_BUILD=DIR)" >&2
		exit 2
	}
done
tmp=$(mktemp -d)
srv_pid=
cleanup() {
	if [ -n "$srv_pid" ]; then
		kill "$srv_pid" 2>/dev/null || true
		wait "$srv_pid" 2>/dev/null || true
	fi
	rm -rf "$tmp"
}
trap cleanup EXIT

# 1. size
cp "$veld" "$tmp/veld.stripped"
strip --strip-all "$tmp/veld.stripped"
size=$(stat -c %s "$tmp/veld.stripped")
echo "veld stripped: $size bytes ($((size / 1024)) KiB)"
echo "linked: $(ldd "$veld" | awk '{print $1}' | grep -E 'sodium|msgpack|sqlite|websockets' | tr '\n' ' ')"

# 2. entering: a server with the shipped forms, one device
port=$((20000 + RANDOM % 20000))
"$veldd" serve --data "$tmp/srv" --listen "127.0.0.1:$port" >"$tmp/srv.log" 2>&1 &
srv_pid=$!
for _ in $(seq 100); do
	curl -sf "http://127.0.0.1:$port/healthz" >/dev/null && break
	sleep 0.1
done
for f in "$root"/deploy/forms/*.json; do
	"$veldd" form import "$f" --data "$tmp/srv" >/dev/null
done
code=$("$veldd" code new --data "$tmp/srv" --role field --name F | tail -1)
"$veld" --dir "$tmp/A" init --server "ws://127.0.0.1:$port/sync" \
	--code "$code" --name F >/dev/null
# The answers of a whole survey, typed into a terminal.
printf '%s\n' Kerkstraat 12 "" 2 ja "meer groen" "" ja Piet 0612345678 \
	"goed gesprek" "" >"$tmp/answers"
script -qfec "/usr/bin/time -f 'RSS %M' -o $tmp/enter.time $veld --dir $tmp/A new huisbezoek" \
	/dev/null <"$tmp/answers" >"$tmp/enter.out" 2>&1 || true
grep -q "saved a new" "$tmp/enter.out" || {
	echo "interactive entry failed:" >&2
	tail -5 "$tmp/enter.out" >&2
	exit 1
}
echo "peak RSS entering (interactive survey): $(sed -n 's/RSS //p' "$tmp/enter.time") KiB"
/usr/bin/time -f 'RSS %M' -o "$tmp/new.time" "$veld" --dir "$tmp/A" new \
	wijklab street=Kerkstraat house_number=12 knows_org=yes >/dev/null </dev/null
echo "peak RSS entering (veld new field=value): $(sed -n 's/RSS //p' "$tmp/new.time") KiB"
kill "$srv_pid"
wait "$srv_pid" 2>/dev/null || true
srv_pid=

# 3. pulling N ops: a field device W makes N records (bench/
# footprint_records.c, one process, the library call veld new uses), the
# real veld pushes them, and a coordinator P pulls them all.
cc -std=c17 -D_POSIX_C_SOURCE=200809L -O2 -I"$root/proto" \
	"$root/bench/footprint_records.c" "$build/proto/libveld.a" \
	$(pkg-config --cflags --libs libsodium msgpack sqlite3) \
	-o "$tmp/footprint_records"
for n in "${pulls[@]}"; do
	d=$tmp/pull-$n
	mkdir -p "$d"
	"$veldd" serve --data "$d/srv" --listen "127.0.0.1:$port" \
		>"$d/srv.log" 2>&1 &
	srv_pid=$!
	for _ in $(seq 100); do
		curl -sf "http://127.0.0.1:$port/healthz" >/dev/null && break
		sleep 0.1
	done
	first=$(sed -n 's/.*code (valid 24 hours): //p' "$d/srv.log")
	"$veld" --dir "$d/P" init --server "ws://127.0.0.1:$port/sync" \
		--code "$first" --name P >/dev/null
	code=$("$veldd" code new --data "$d/srv" --role field --name W \
		--area noord | tail -1)
	"$veld" --dir "$d/W" init --server "ws://127.0.0.1:$port/sync" \
		--code "$code" --name W >/dev/null
	"$tmp/footprint_records" "$d/W" "$n"
	/usr/bin/time -f 'RSS %M' -o "$d/push.time" "$veld" --dir "$d/W" sync \
		>"$d/push.out"
	/usr/bin/time -f 'RSS %M' -o "$d/pull.time" "$veld" --dir "$d/P" sync \
		>"$d/pull.out"
	grep -q "pulled $((n + 1)) ops" "$d/pull.out" || {
		echo "the pull of $n ops did not complete: $(cat "$d/pull.out")" >&2
		exit 1
	}
	[ "$("$veld" --dir "$d/P" state-hash)" = \
		"$("$veldd" state-hash --data "$d/srv" | tail -1)" ] || {
		echo "P and the server differ after the pull" >&2
		exit 1
	}
	echo "peak RSS pushing $n ops: $(sed -n 's/RSS //p' "$d/push.time") KiB;" \
		"pulling them (coordinator): $(sed -n 's/RSS //p' "$d/pull.time") KiB"
	kill "$srv_pid"
	wait "$srv_pid" 2>/dev/null || true
	srv_pid=
	rm -rf "$d"
done
