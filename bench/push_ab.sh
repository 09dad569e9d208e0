#!/usr/bin/env bash
# push_ab.sh: the wijklab push of two builds, alternated, from one prepared
# snapshot, so that a change to veld or veldd can be judged on a noisy
# machine by ratios measured in the same run.
#
#   bench/push_ab.sh [--pairs N] [--W N] [--R N] [--dir DIR] [--keep] A B
#
# A and B are build directories (with server/veldd, client/veld and
# bench/wijklab_tool).  Once, with A's programs: a veldd data directory,
# W field devices enrolled with `veld init` and each prepared offline with
# `wijklab_tool prep` (seed 42, R records; the workload of bench/wijklab),
# then veldd stopped.  Then N pairs, in the order A B, B A, A B, ... (so a
# drift of the machine falls on both): each run copies the snapshot afresh,
# starts that build's veldd on it (loopback, the port the devices were
# enrolled with), starts `wijklab_tool push-threads` with the W device
# directories, and releases the threads at once, as `bench/wijklab
# --devices threads` does, but without the counting proxy in between.
# Every device must push all of its ops and hold the receipt.
#
# Per run: the push's wall time (the launcher's), the launcher's CPU time
# in that window (the devices), and veldd's CPU time (utime + stime from
# /proc) from the release until the last receipt.  Prints every run, the
# medians per build and B / A.  Both builds must read the stores A makes
# (the same store schema).
#
# Exit codes: 0 ok; 1 a run failed (a device did not get its receipt,
# veldd did not start); 2 bad usage or missing binaries.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(dirname "$here")
me=push_ab

pairs=6
W=20
R=500
base=${TMPDIR:-/tmp}
keep=0

usage() {
	echo "usage: bench/push_ab.sh [--pairs N] [--W N] [--R N] [--dir DIR] [--keep] BUILD_A BUILD_B" >&2
	exit 2
}

# shellcheck source=bench/lib.sh
. "$here/lib.sh"

args=()
while [ $# -gt 0 ]; do
	case $1 in
	--pairs) pairs=${2:-}; shift 2 ;;
	--W) W=${2:-}; shift 2 ;;
	--R) R=${2:-}; shift 2 ;;
	--dir) base=${2:-}; shift 2 ;;
	--keep) keep=1; shift ;;
	-h | --help) usage ;;
	-*) usage ;;
	*) args+=("$1"); shift ;;
	esac
done
[ ${#args[@]} -eq 2 ] || usage
for v in "$pairs" "$W" "$R"; do
	[[ $v =~ ^[1-9][0-9]{0,4}$ ]] || usage
done
abs() { case $1 in /*) echo "$1" ;; *) echo "$PWD/$1" ;; esac; }
A=$(abs "${args[0]}")
B=$(abs "${args[1]}")
for b in "$A" "$B"; do
	need_bins "$b" server/veldd client/veld bench/wijklab_tool
done
need_tools curl python3

tmp=$(mktemp -d "$base/push_ab.XXXXXX")
cleanup() {
	veldd_kill
	if [ "$keep" = 1 ]; then
		echo "$me: kept $tmp" >&2
	else
		rm -rf "$tmp"
	fi
}
trap cleanup EXIT

# --- the snapshot, with A's programs
snap=$tmp/snap
mkdir -p "$snap/dev"
veldd_start_free "$A/server/veldd" "$snap/srv" "$tmp/prepare.log" ||
	die "veldd did not start (see $tmp/prepare.log)"
# The form bench/wijklab imports.
form=$root/deploy/forms/wijklab.json
[ -f "$form" ] || form=$here/wijklab-form.json
"$A/server/veldd" form import "$form" --data "$snap/srv" >/dev/null ||
	die "form import failed"
devs=()
for i in $(seq 0 $((W - 1))); do
	name=$(printf d%03d "$i")
	code=$("$A/server/veldd" code new --data "$snap/srv" --role field \
		--name "$name" --area wijk | tail -1)
	"$A/client/veld" --dir "$snap/dev/$name" init --server \
		"ws://127.0.0.1:$port/sync" --code "$code" --name "$name" \
		>/dev/null || die "veld init $name failed"
	devs+=("$name")
done
veldd_stop
for i in $(seq 0 $((W - 1))); do
	"$A/bench/wijklab_tool" prep --seed 42 --R "$R" --device "$i" \
		--dir "$snap/dev/${devs[$i]}" --map "$tmp/${devs[$i]}.map" \
		>/dev/null &
	if ((i % 4 == 3)); then wait; fi
done
wait
echo "$me: W=$W R=$R prepared; $pairs pairs, A = $A, B = $B" >&2

# --- one push: prints "wall_ms devices_cpu_s veldd_cpu_s"
push_once() {
	local X=$1 run=$tmp/run out=$tmp/out fifo=$tmp/go c0 c1 i line
	rm -rf "$run" "$out" "$fifo"
	cp -a "$snap" "$run"
	sync
	veldd_start "$X/server/veldd" "$run/srv" "$port" "$tmp/run.log" ||
		die "veldd of $X did not start (see $tmp/run.log)"
	mkfifo "$fifo"
	(cd "$run/dev" && exec "$X/bench/wijklab_tool" push-threads \
		--timeout 60 "${devs[@]}" <"$fifo" >"$out" 2>"$tmp/err") &
	local launcher=$!
	exec 3>"$fifo"
	for i in $(seq 600); do # at most 60 s
		grep -q '^ready' "$out" 2>/dev/null && break
		kill -0 "$launcher" 2>/dev/null || break
		sleep 0.1
	done
	grep -q "^ready $W\$" "$out" || die "push-threads not ready: $(cat "$tmp/err")"
	c0=$(cpu_ticks "$srv_pid")
	echo go >&3
	exec 3>&-
	for i in $(seq 12000); do # at most 60 s
		grep -q '^threads' "$out" && break
		kill -0 "$launcher" 2>/dev/null || break
		sleep 0.005
	done
	c1=$(cpu_ticks "$srv_pid")
	wait "$launcher" || die "a device failed: $(cat "$tmp/err")"
	veldd_stop
	[ "$(grep -c '^device .* err 0 ok$' "$out")" = "$W" ] ||
		die "not every device got its receipt: $(cat "$out")"
	line=$(grep '^threads' "$out")
	read -r _ _ _ wall _ cpu _ <<<"$line"
	echo "$wall $cpu $(((c1 - c0) * 1000 / $(getconf CLK_TCK)))"
}

results=$tmp/results
: >"$results"
for k in $(seq 1 "$pairs"); do
	if ((k % 2)); then order=("A:$A" "B:$B"); else order=("B:$B" "A:$A"); fi
	for e in "${order[@]}"; do
		r=$(push_once "${e#*:}")
		echo "${e%%:*} $r" >>"$results"
		read -r wall cpu vcpu <<<"$r"
		printf '%s pair %d: push %s ms, devices CPU %s s, veldd CPU %s ms\n' \
			"${e%%:*}" "$k" "$wall" "$cpu" "$vcpu"
	done
done

python3 - "$results" <<'EOF'
import statistics, sys
rows = [l.split() for l in open(sys.argv[1])]
med = {}
for b in ("A", "B"):
    xs = [r for r in rows if r[0] == b]
    med[b] = [statistics.median(float(r[i]) for r in xs) for i in (1, 2, 3)]
print(f"\n| build | runs | push ms | devices CPU s | veldd CPU ms |")
print("|---|---:|---:|---:|---:|")
for b in ("A", "B"):
    w, c, v = med[b]
    print(f"| {b} | {len([r for r in rows if r[0] == b])} | {w:.1f} | {c:.3f} | {v:.0f} |")
w, c, v = (med["B"][i] / med["A"][i] for i in range(3))
print(f"\nB / A (medians): push {w:.3f}, devices CPU {c:.3f}, veldd CPU {v:.3f}")
EOF
