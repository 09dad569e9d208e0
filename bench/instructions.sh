#!/usr/bin/env bash
# instructions.sh: CPU work of the wijklab push and pull in instructions,
# which, unlike seconds, do not depend on what else the machine is doing:
# two builds compared on a shared machine, as a ratio.
#
#   bench/instructions.sh [--base DIR] [--W N] [--R N] [--dir DIR] [--keep]
#
# For the build in ${VELD_BUILD:-build} (and, with --base, the build in DIR
# too; both relative to the repository root unless absolute; each needs
# server/veldd, client/veld and bench/wijklab_tool), in a new temporary
# directory:
#   1. veldd with a fresh data directory on a free loopback port; the
#      wijklab form; W field devices enrolled (`veld init`) and prepared
#      offline with the wijklab workload (`wijklab_tool prep`, seed 42);
#   2. push: veldd runs under valgrind --tool=callgrind while all W devices
#      run `veld sync --push-only` at once, the first of them under
#      callgrind too; veldd's instructions, and that device's;
#   3. pull: veldd again under callgrind, and a fresh coordinator's
#      `veld init` (which pulls everything) under callgrind too:
#      veldd's instructions serving it, and the coordinator's.
# Every device must report its R + E + D ops pushed and receipted, the
# coordinator every op.  Counts are user-space instructions (Ir); the
# kernel's work (fsync, sockets) is not in them.  Prints a table, with
# --base the ratios (build / base), and writes
# bench/results/instructions.json.
#
# Exit codes: 0 ok; 1 a step failed; 2 bad usage or missing
# binaries/tools.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(dirname "$here")
me=instructions

W=20
R=500
base_build=
tmp_base=${TMPDIR:-/tmp}
keep=0
out=$root/bench/results/instructions.json

usage() {
	echo "usage: bench/instructions.sh [--base DIR] [--W N] [--R N] [--dir DIR] [--keep]" >&2
	exit 2
}
while [ $# -gt 0 ]; do
	case "$1" in
	--base) base_build=${2:?}; shift 2 ;;
	--W) W=${2:?}; shift 2 ;;
	--R) R=${2:?}; shift 2 ;;
	--dir) tmp_base=${2:?}; shift 2 ;;
	--keep) keep=1; shift ;;
	*) usage ;;
	esac
done
case "$W$R" in *[!0-9]*) usage ;; esac
[ "$W" -ge 1 ] && [ "$R" -ge 50 ] || usage

. "$here/lib.sh"

need_tools valgrind curl python3
build=$(bench_build)
need_bins "$build" server/veldd client/veld bench/wijklab_tool
if [ -n "$base_build" ]; then
	case "$base_build" in /*) ;; *) base_build=$root/$base_build ;; esac
	need_bins "$base_build" server/veldd client/veld bench/wijklab_tool
fi

work=$(mktemp -d "$tmp_base/veld-instr.XXXXXX")
cleanup() {
	veldd_kill
	[ "$keep" = 1 ] && echo "$me: kept $work" >&2 || rm -rf "$work"
}
trap cleanup EXIT

E=$((R * 20 / 100))
D=$((R * 2 / 100))

# Ir of a finished callgrind run, from its log ("Collected : N").
ir_of() { sed -n 's/.*Collected : \([0-9]*\).*/\1/p' "$1" | tail -1; }

# veldd under callgrind on 127.0.0.1:$port; at most 60 s for /healthz.
veldd_cg() { # BUILD DATA LOG CGOUT
	valgrind --tool=callgrind --callgrind-out-file="$4" \
		"$1/server/veldd" serve --data "$2" --listen "127.0.0.1:$port" \
		>"$3" 2>&1 &
	srv_pid=$!
	for _ in $(seq 600); do
		curl -sf "http://127.0.0.1:$port/healthz" >/dev/null && return 0
		kill -0 "$srv_pid" 2>/dev/null || return 1
		sleep 0.1
	done
	return 1
}

measure() { # NAME BUILD -> sets push_ir serve_ir pull_ir
	local name=$1 b=$2 d=$work/$1 i n code pids=()
	mkdir -p "$d/dev"
	# 1. set-up, not measured
	veldd_start_free "$b/server/veldd" "$d/srv" "$d/veldd.log" ||
		die "$name: veldd did not start"
	"$b/server/veldd" form import "$root/bench/wijklab-form.json" \
		--data "$d/srv" >/dev/null || die "$name: form import"
	for ((i = 0; i < W; i++)); do
		n=$(printf 'd%03d' "$i")
		code=$("$b/server/veldd" code new --data "$d/srv" --role field \
			--name "$n" --area wijk | tail -1)
		"$b/client/veld" --dir "$d/dev/$n" init --server \
			"ws://127.0.0.1:$port/sync" --code "$code" --name "$n" \
			>/dev/null || die "$name: veld init $n"
	done
	for ((i = 0; i < W; i++)); do
		n=$(printf 'd%03d' "$i")
		"$b/bench/wijklab_tool" prep --seed 42 --R "$R" --device "$i" \
			--dir "$d/dev/$n" --map "$d/$n.map" >"$d/$n.prep" &
		pids+=($!)
		if [ ${#pids[@]} -ge 2 ]; then
			wait "${pids[0]}" || die "$name: prep"
			pids=("${pids[@]:1}")
		fi
	done
	for p in "${pids[@]}"; do wait "$p" || die "$name: prep"; done
	veldd_stop
	# 2. push
	veldd_cg "$b" "$d/srv" "$d/push-veldd.log" "$d/push.cg" ||
		die "$name: veldd (callgrind) did not start"
	pids=()
	for ((i = 0; i < W; i++)); do
		n=$(printf 'd%03d' "$i")
		if [ "$i" = 0 ]; then # one device's own work, beside the others
			valgrind --tool=callgrind \
				--callgrind-out-file="$d/device.cg" \
				"$b/client/veld" --dir "$d/dev/$n" sync \
				--push-only >"$d/$n.push" 2>"$d/device.log" &
		else
			"$b/client/veld" --dir "$d/dev/$n" sync --push-only \
				>"$d/$n.push" 2>&1 &
		fi
		pids+=($!)
	done
	for p in "${pids[@]}"; do wait "$p" || die "$name: a push failed"; done
	for ((i = 0; i < W; i++)); do
		n=$(printf 'd%03d' "$i")
		grep -q "pushed $((R + E + D)) ops" "$d/$n.push" ||
			die "$name: $n did not push its $((R + E + D)) ops"
	done
	veldd_stop
	push_ir=$(ir_of "$d/push-veldd.log")
	device_ir=$(ir_of "$d/device.log")
	# 3. pull
	veldd_cg "$b" "$d/srv" "$d/pull-veldd.log" "$d/serve.cg" ||
		die "$name: veldd (callgrind) did not start"
	code=$("$b/server/veldd" code new --data "$d/srv" --role coordinator \
		--name coordinator | tail -1)
	valgrind --tool=callgrind --callgrind-out-file="$d/pull.cg" \
		"$b/client/veld" --dir "$d/coord" init --server \
		"ws://127.0.0.1:$port/sync" --code "$code" --name coordinator \
		>"$d/pull.out" 2>"$d/pull.log" || die "$name: the pull failed"
	veldd_stop
	n=$(sed -n 's/.*pulled \([0-9]*\) ops.*/\1/p' "$d/pull.out")
	[ "${n:-0}" -ge $((W * (R + E + D))) ] ||
		die "$name: the coordinator pulled ${n:-0} ops"
	serve_ir=$(ir_of "$d/pull-veldd.log")
	pull_ir=$(ir_of "$d/pull.log")
	[ -n "$push_ir" ] && [ -n "$serve_ir" ] && [ -n "$pull_ir" ] &&
		[ -n "$device_ir" ] ||
		die "$name: a count is missing (valgrind logs in $d)"
	ops=$((W * (R + E + D)))
}

port=
echo "$me: W=$W R=$R; valgrind makes this take a minute or two per build" >&2
measure build "$build"
b_push=$push_ir b_serve=$serve_ir b_pull=$pull_ir b_device=$device_ir
if [ -n "$base_build" ]; then
	veldd_kill
	measure base "$base_build"
	o_push=$push_ir o_serve=$serve_ir o_pull=$pull_ir o_device=$device_ir
fi

mkdir -p "$(dirname "$out")"
python3 - "$out" "$W" "$R" "$ops" "$build" "$b_push" "$b_serve" "$b_pull" \
	"$b_device" "${base_build:-}" "${o_push:-0}" "${o_serve:-0}" \
	"${o_pull:-0}" "${o_device:-0}" <<'EOF'
import json, sys
out, W, R, ops, build = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), \
    int(sys.argv[4]), sys.argv[5]
b = [int(x) for x in sys.argv[6:10]]
base = sys.argv[10]
o = [int(x) for x in sys.argv[11:15]]
names = ["push: veldd", "pull: veldd serving", "pull: coordinator veld",
         "push: one device's veld (its own ops)"]
keys = ["pushVeldd", "pullVeldd", "pullVeld", "pushDevice"]
# the device row counts per op of its own ops, the others per op of all
per = [ops, ops, ops, ops // W]
print(f"wijklab W={W} R={R}: {ops} device ops; user-space instructions "
      "(valgrind callgrind), M = 10^6")
print()
head = "| | build M | per op |" + (" base M | per op | build / base |" if base else "")
print(head)
print("|---|---:|---:|" + ("---:|---:|---:|" if base else ""))
for i, n in enumerate(names):
    row = f"| {n} | {b[i] / 1e6:.1f} | {b[i] / per[i]:,.0f} |"
    if base:
        row += (f" {o[i] / 1e6:.1f} | {o[i] / per[i]:,.0f} |"
                f" {b[i] / o[i]:.2f} |")
    print(row)
res = {"W": W, "R": R, "ops": ops, "build": build,
       "instructions": dict(zip(keys, b))}
if base:
    res["base"] = base
    res["baseInstructions"] = dict(zip(keys, o))
    res["ratios"] = {k: b[i] / o[i] for i, k in enumerate(keys)}
with open(out, "w") as f:
    json.dump(res, f, indent=2)
print(f"\nwrote {out}")
EOF
