#!/usr/bin/env bash
# pull_1m.sh: a fresh coordinator pulls a log of N ops (default 1,000,000)
# from a real veldd; time and peak memory of both, sampled as the pull goes,
# to show that memory stays flat as the log grows (issue 8).
#
#   bench/pull_1m.sh [--ops N] [--devices W] [--jobs J] [--seed S]
#                    [--dir DIR] [--out FILE] [--timeout S] [--keep]
#
# Uses ${VELD_BUILD:-build}/server/veldd, .../client/veld and
# .../bench/wijklab_tool (relative to the repository root unless absolute).
#
# 1. starts a durable `veldd serve` on a free 127.0.0.1 port in a new
#    temporary directory, imports the wijklab form, enrols W field devices
#    and a coordinator (the first-start code; `veld init` syncs the few ops
#    there are then);
# 2. fills the server (not a figure; its time is printed): every device
#    writes its wijklab log offline (`wijklab_tool prep`: R creates, R/5
#    edits, R/50 deletes, each a signed, durably committed local write) and
#    pushes it with `veld sync --push-only`, J devices at a time; R is
#    picked so that W * (R + R/5 + R/50) is as close to N as it gets;
# 3. resets veldd's peak RSS (`echo 5 > /proc/PID/clear_refs`) and times the
#    coordinator's `veld sync` (under `wijklab_tool run`, which reports the
#    child's own ru_maxrss), sampling every 0.1 s veld's and veldd's VmRSS
#    and VmHWM and how many ops the coordinator holds (a read-only query of
#    its store); the samples when 10% and 50% of N have arrived and the end
#    figures show whether memory grows with the log;
# 4. checks: every device pushed all its ops, veldd accepted W's logs
#    exactly, the coordinator pulled at least N ops and holds them, has
#    the server's state hash, and lists exactly the expected live records
#    with the expected values (the wijklab verifier); exit 1 otherwise;
# 5. prints a table and writes bench/results/pull-1m.json (or --out FILE).
#
# See bench/README.md.  Exit codes: 0 ok (the memory targets are reported,
# PASS or MISS, but do not change the status); 1 a step or check failed or
# timed out; 2 bad usage or missing binaries/tools.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(dirname "$here")
me=pull_1m

ops=1000000
devices=50
jobs=4
seed=42
base=${TMPDIR:-/tmp}
out=$root/bench/results/pull-1m.json
keep=0
limit=1800 # seconds, for each step (a device's prep or push, the pull)

usage() {
	echo "usage: bench/pull_1m.sh [--ops N] [--devices W] [--jobs J] [--seed S]" \
		"[--dir DIR] [--out FILE] [--timeout S] [--keep]" >&2
	exit 2
}
is_uint() { [[ $1 =~ ^[0-9]+$ ]] && [ "${#1}" -le 9 ]; }
while [ $# -gt 0 ]; do
	case $1 in
	--ops) [ $# -ge 2 ] || usage; ops=$2; shift 2 ;;
	--devices) [ $# -ge 2 ] || usage; devices=$2; shift 2 ;;
	--jobs) [ $# -ge 2 ] || usage; jobs=$2; shift 2 ;;
	--seed) [ $# -ge 2 ] || usage; seed=$2; shift 2 ;;
	--dir) [ $# -ge 2 ] || usage; base=$2; shift 2 ;;
	--out) [ $# -ge 2 ] || usage; out=$2; shift 2 ;;
	--timeout) [ $# -ge 2 ] || usage; limit=$2; shift 2 ;;
	--keep) keep=1; shift ;;
	-h | --help) usage ;;
	*) echo "$me: unknown argument '$1'" >&2; usage ;;
	esac
done
bad() {
	echo "$me: $*" >&2
	exit 2
}
is_uint "$ops" && [ "$ops" -ge 100 ] && [ "$ops" -le 10000000 ] ||
	bad "--ops takes 100..10000000"
is_uint "$devices" && [ "$devices" -ge 1 ] && [ "$devices" -le 1000 ] ||
	bad "--devices takes 1..1000"
is_uint "$jobs" && [ "$jobs" -ge 1 ] && [ "$jobs" -le 64 ] ||
	bad "--jobs takes 1..64"
is_uint "$seed" && [ "$seed" -le 4294967295 ] || bad "--seed takes 0..4294967295"
is_uint "$limit" && [ "$limit" -ge 10 ] && [ "$limit" -le 86400 ] ||
	bad "--timeout takes 10..86400 (seconds)"

# shellcheck source=bench/lib.sh
. "$here/lib.sh"
build=$(bench_build)
need_bins "$build" server/veldd client/veld bench/wijklab_tool
need_tools curl python3 timeout
veldd=$build/server/veldd
veld=$build/client/veld
tool=$build/bench/wijklab_tool
form=$root/deploy/forms/wijklab.json
[ -f "$form" ] || form=$here/wijklab-form.json

# R per device: each device writes R + R*20/100 + R*2/100 ops (wijklab).
per_dev() { echo $(($1 + $1 * 20 / 100 + $1 * 2 / 100)); }
R=$(((ops * 100 / 122 + devices / 2) / devices))
[ "$R" -ge 1 ] || R=1
while [ "$R" -gt 1 ] && [ $((devices * $(per_dev "$R"))) -gt "$ops" ]; do
	R=$((R - 1))
done
while [ $((devices * $(per_dev $((R + 1))))) -le "$ops" ]; do
	R=$((R + 1))
done
[ "$R" -le 100000 ] || bad "$ops ops from $devices devices is $R records each;" \
	"wijklab takes at most 100000: use more --devices"
dev_ops=$(per_dev "$R")
data_ops=$((devices * dev_ops))

mkdir -p "$base"
tmp=$(mktemp -d "$base/pull_1m.XXXXXX")
sampler_pid=
pull_pid=
fill_pids=()
cleanup() {
	local p
	for p in "$sampler_pid" "$pull_pid" "${fill_pids[@]}"; do
		kill_tree "$p" # the job's timeout, wijklab_tool and veld too
	done
	veldd_kill
	if [ "$keep" = 1 ]; then
		echo "$me: kept $tmp" >&2
	else
		rm -rf "$tmp"
	fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
fail_log() {
	tail -20 "$1" >&2
	shift
	die "$@"
}
json_get() { # json_get FILE KEY: a top-level value of a JSON object
	python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])' "$1" "$2"
}
metric() { # metric NAME: a counter from veldd's /metrics
	curl -sf --max-time 10 "http://127.0.0.1:$port/metrics" |
		awk -v k="$1" '$1 == k { print $2 }'
}

echo "$me: $data_ops ops: $devices devices x $R records ($dev_ops ops each); data in $tmp" >&2

# --- 1. server, form, devices, coordinator ---------------------------------
veldd_start_free "$veldd" "$tmp/srv" "$tmp/veldd.log" ||
	fail_log "$tmp/veldd.log" "veldd did not start"
url="ws://127.0.0.1:$port/sync"
first=$(veldd_first_code "$tmp/veldd.log") ||
	fail_log "$tmp/veldd.log" "no first coordinator code in veldd's output"
"$veldd" form import "$form" --data "$tmp/srv" >>"$tmp/setup.log" 2>&1 ||
	fail_log "$tmp/setup.log" "veldd form import failed"
t0=$(now_ns)
for d in $(seq 0 $((devices - 1))); do
	name=$(printf 'd%03d' "$d")
	code=$("$veldd" code new --data "$tmp/srv" --role field --name "$name" \
		--area wijk 2>>"$tmp/setup.log" | tail -1) ||
		fail_log "$tmp/setup.log" "veldd code new failed for $name"
	timeout 60 "$veld" --dir "$tmp/dev/$name" init --server "$url" \
		--code "$code" --name "$name" >>"$tmp/setup.log" 2>&1 ||
		fail_log "$tmp/setup.log" "veld init of $name failed"
done
coord=$tmp/coordinator
timeout 60 "$veld" --dir "$coord" init --server "$url" --code "$first" \
	--name coordinator >>"$tmp/setup.log" 2>&1 ||
	fail_log "$tmp/setup.log" "veld init of the coordinator failed"
enrol_ms=$((($(now_ns) - t0) / 1000000))

# --- 2. fill: prep + push per device, J at a time ---------------------------
# fill_one D: device D's log written offline, then pushed; "$tmp/fill/D.ok"
# holds "pushed" on success.
mkdir -p "$tmp/fill"
fill_one() {
	local name=$1 dir=$tmp/dev/$1 log=$tmp/fill/$1.log pushed
	timeout "$limit" "$tool" prep --seed "$seed" --R "$R" \
		--device "$((10#${name#d}))" --dir "$dir" --map "$tmp/fill/$name.map" \
		>"$log" 2>&1 || return 1
	timeout "$limit" "$veld" --dir "$dir" sync --push-only >>"$log" 2>&1 ||
		return 1
	pushed=$(sed -n 's/^synced: pushed \([0-9]*\) ops.*/\1/p' "$log" | tail -1)
	[ "$pushed" = "$dev_ops" ] || {
		echo "pushed '$pushed' ops, not $dev_ops" >>"$log"
		return 1
	}
	echo "$pushed" >"$tmp/fill/$name.ok"
}
# reap_one: wait for one fill job; die if it failed.
reap_one() {
	local done_pid='' i name
	wait -n -p done_pid "${fill_pids[@]}" || true
	[ -n "$done_pid" ] || die "lost track of the fill jobs"
	for i in "${!fill_pids[@]}"; do
		[ "${fill_pids[$i]}" = "$done_pid" ] || continue
		name=${fill_names[$i]}
		unset "fill_pids[$i]" "fill_names[$i]"
		fill_pids=("${fill_pids[@]}")
		fill_names=("${fill_names[@]}")
		[ -e "$tmp/fill/$name.ok" ] ||
			fail_log "$tmp/fill/$name.log" "device $name: prep or push failed"
		return 0
	done
	die "a fill job that is not ours ended ($done_pid)"
}
echo "$me: filling the server: $devices devices write and push $data_ops ops," \
	"$jobs at a time (not timed as a figure) ..." >&2
fill_names=()
t0=$(now_ns)
for d in $(seq 0 $((devices - 1))); do
	[ "${#fill_pids[@]}" -lt "$jobs" ] || reap_one
	name=$(printf 'd%03d' "$d")
	fill_one "$name" &
	fill_pids+=($!)
	fill_names+=("$name")
done
while [ "${#fill_pids[@]}" -gt 0 ]; do
	reap_one
done
fill_ms=$((($(now_ns) - t0) / 1000000))
accepted=$(metric veld_ops_accepted_total)
[ "$accepted" = "$data_ops" ] ||
	die "veldd accepted '$accepted' ops from the devices, not $data_ops"
srv_fill_hwm=$(proc_kib "$srv_pid" VmHWM)
echo "$me: filled: $data_ops ops in $((fill_ms / 1000)) s" >&2

read -r exp_live exp_sha < <("$tool" expect --seed "$seed" --W "$devices" \
	--R "$R" --lines "$tmp/expected.lines") || die "wijklab_tool expect failed"

# --- 3. the pull, timed and sampled ----------------------------------------
count_ops() { # count_ops DB: ops in a store (a read-only query)
	python3 -c 'import sqlite3, sys
c = sqlite3.connect(f"file:{sys.argv[1]}?mode=ro", uri=True)
print(*c.execute("SELECT count(*), coalesce(max(pos), 0) FROM ops").fetchone())' "$1"
}
read -r ops0 pos0 < <(count_ops "$coord/veld.db") || die "cannot read the coordinator's store"
hwm_reset=1
echo 5 >"/proc/$srv_pid/clear_refs" 2>/dev/null || hwm_reset=0
srv_before_rss=$(proc_kib "$srv_pid" VmRSS)
srv_before_hwm=$(proc_kib "$srv_pid" VmHWM)
srv_cpu0=$(cpu_ticks "$srv_pid")

echo "$me: the coordinator pulls ..." >&2
t0=$(now_ns)
timeout "$limit" "$tool" run --rss-out "$tmp/pull.rss" -- \
	"$veld" --dir "$coord" sync >"$tmp/pull.out" 2>&1 &
pull_pid=$!
# The sampler: one line every 0.1 s until the pull ends ("ms pulled
# veld_rss veld_hwm veldd_rss veldd_hwm", KiB; -1 where not readable).
python3 - "$pull_pid" "$srv_pid" "$coord/veld.db" "$pos0" "$tmp/samples" \
	"$((limit + 30))" <<'EOF' &
import os, sqlite3, sys, time
launcher, srv, db, pos0, out, limit = sys.argv[1:]
launcher, srv, pos0, limit = int(launcher), int(srv), int(pos0), float(limit)

def mem(pid):
    rss = hwm = -1
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    rss = int(line.split()[1])
                elif line.startswith("VmHWM:"):
                    hwm = int(line.split()[1])
    except OSError:
        pass
    return rss, hwm

def find_veld(pid, depth=0):
    """veld below the launcher: timeout -> wijklab_tool -> veld."""
    try:
        with open(f"/proc/{pid}/comm") as f:
            if f.read().strip() == "veld":
                return pid
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            kids = [int(k) for k in f.read().split()]
    except OSError:
        return None
    for k in kids if depth < 4 else []:
        v = find_veld(k, depth + 1)
        if v:
            return v
    return None

conn = None
veld = None
t0 = time.monotonic()
with open(out, "w") as f:
    while time.monotonic() - t0 < limit:
        alive = os.path.exists(f"/proc/{launcher}") and \
            open(f"/proc/{launcher}/stat").read().split(") ")[1][0] != "Z"
        if not alive:
            break
        if veld is None:
            veld = find_veld(launcher)
        pulled = -1
        try:
            if conn is None:
                conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True,
                                       timeout=0.05)
            pulled = conn.execute(
                "SELECT coalesce(max(pos), 0) FROM ops").fetchone()[0] - pos0
        except sqlite3.Error:
            pass
        vr, vh = mem(veld) if veld else (-1, -1)
        sr, sh = mem(srv)
        f.write(f"{int((time.monotonic() - t0) * 1000)} {pulled} "
                f"{vr} {vh} {sr} {sh}\n")
        f.flush()
        time.sleep(0.1)
EOF
sampler_pid=$!
pull_rc=0
wait "$pull_pid" || pull_rc=$?
pull_ns=$(($(now_ns) - t0))
pull_pid=
wait "$sampler_pid" || true
sampler_pid=
srv_cpu1=$(cpu_ticks "$srv_pid")
[ "$pull_rc" = 0 ] || fail_log "$tmp/pull.out" "the coordinator's veld sync exited $pull_rc" \
	"$([ "$pull_rc" = 124 ] && echo "(timed out after $limit s)")"
srv_after_rss=$(proc_kib "$srv_pid" VmRSS)
srv_after_hwm=$(proc_kib "$srv_pid" VmHWM)
cli_peak=$(cat "$tmp/pull.rss")
read -r pulled bytes_up bytes_down < <(sed -n \
	's/^synced: pushed [0-9]* ops, pulled \([0-9]*\) ops; \([0-9]*\) bytes up, \([0-9]*\) down.*/\1 \2 \3/p' \
	"$tmp/pull.out" | tail -1) || fail_log "$tmp/pull.out" "no summary line from veld sync"

# --- 4. checks ---------------------------------------------------------------
[ "$pulled" -ge "$data_ops" ] || die "the coordinator pulled $pulled ops, fewer than $data_ops"
read -r ops1 _ < <(count_ops "$coord/veld.db") || die "cannot read the coordinator's store"
read -r srv_ops _ < <(count_ops "$tmp/srv/veld.db") || die "cannot read veldd's store"
[ "$ops1" = $((ops0 + pulled)) ] ||
	die "the coordinator holds $ops1 ops; $ops0 before + $pulled pulled = $((ops0 + pulled))"
[ "$ops1" = "$srv_ops" ] || die "the coordinator holds $ops1 ops, veldd $srv_ops"
hs=$("$veldd" state-hash --data "$tmp/srv" | tail -1)
hc=$("$veld" --dir "$coord" state-hash | tail -1)
[ -n "$hs" ] && [ "$hs" = "$hc" ] || die "state hashes differ: veldd $hs, coordinator $hc"
timeout "$limit" "$veld" --dir "$coord" list --json --form wijklab >"$tmp/list.json" ||
	die "veld list on the coordinator failed"
cat "$tmp"/fill/d*.map >"$tmp/idmap"
python3 - "$here/wijklab" "$tmp/list.json" "$tmp/idmap" "$tmp/expected.lines" \
	"$exp_live" "$exp_sha" >"$tmp/verify.json" <<'EOF' || die "the coordinator's records are not the expected ones"
import importlib.machinery, importlib.util, json, sys
path, listing, idmap_path, lines, live, sha = sys.argv[1:]
loader = importlib.machinery.SourceFileLoader("wijklab", path)
spec = importlib.util.spec_from_loader("wijklab", loader)
wijklab = importlib.util.module_from_spec(spec)
loader.exec_module(wijklab)
exp_lines = {}
with open(lines) as f:
    for line in f:
        v = json.loads(line)
        exp_lines[v[0]] = v[1:]
idmap = {}
with open(idmap_path) as f:
    for line in f:
        vid, wid = line.split()
        idmap[vid] = wid
with open(listing) as f:
    recs = json.load(f)
ver = wijklab.verify(recs, idmap, (exp_lines, int(live), sha))
json.dump(ver, sys.stdout)
if not ver["verified"]:
    for p in ver["problems"]:
        print(p, file=sys.stderr)
    sys.exit(1)
EOF
listed=$(json_get "$tmp/verify.json" live)
srv_bytes=$(du -sb "$tmp/srv" | cut -f1)
coord_bytes=$(du -sb "$coord" | cut -f1)
fs=$(stat -f -c %T "$tmp" 2>/dev/null || echo unknown)
veldd_stop

# --- 5. report ---------------------------------------------------------------
mkdir -p "$(dirname "$out")"
python3 - "$tmp/samples" "$out" <<EOF
import json, platform, sys, time
samples_path, out = sys.argv[1:]
n_target, n, W, R, dev_ops = $ops, $data_ops, $devices, $R, $dev_ops
pulled, up, down, pull_s = $pulled, $bytes_up, $bytes_down, $pull_ns / 1e9
cli_peak = $cli_peak
srv_before = {"rss_kib": $srv_before_rss, "hwm_kib": $srv_before_hwm}
srv_after = {"rss_kib": $srv_after_rss, "hwm_kib": $srv_after_hwm}
hwm_reset = bool($hwm_reset)
fill_s, enrol_s = $fill_ms / 1000, $enrol_ms / 1000
tck = $(getconf CLK_TCK)
srv_cpu_s = ($srv_cpu1 - $srv_cpu0) / tck
version = "$("$veld" version 2>/dev/null | head -1)"
ncpu = $(nproc 2>/dev/null || echo 0)
fs = "$fs"
samples = []
with open(samples_path) as f:
    for line in f:
        v = [int(x) for x in line.split()]
        if len(v) == 6:
            samples.append(dict(zip(
                ("ms", "pulled", "veld_rss_kib", "veld_hwm_kib",
                 "veldd_rss_kib", "veldd_hwm_kib"), v)))

def at(frac):
    """The first sample with frac of N pulled and veld's memory read."""
    for s in samples:
        if s["pulled"] >= frac * n and s["veld_hwm_kib"] > 0:
            return s
    return None

points = {}
for name, frac in (("10%", 0.1), ("50%", 0.5)):
    s = at(frac)
    points[name] = None if s is None else {
        "seconds": s["ms"] / 1000, "pulled": s["pulled"],
        "coordinator_rss_kib": s["veld_rss_kib"],
        "coordinator_peak_kib": s["veld_hwm_kib"],
        "server_rss_kib": s["veldd_rss_kib"], "server_peak_kib": s["veldd_hwm_kib"]}
# veld's peak: its ru_maxrss and the highest VmHWM sampled, whichever is
# larger (the two are counted at different moments; they differ by ~1%).
sampled_hwm = max([s["veld_hwm_kib"] for s in samples] + [-1])
cli_ru_maxrss = cli_peak
cli_peak = max(cli_peak, sampled_hwm)
points["100%"] = {"seconds": pull_s, "pulled": pulled,
                  "coordinator_rss_kib": None, "coordinator_peak_kib": cli_peak,
                  "server_rss_kib": srv_after["rss_kib"],
                  "server_peak_kib": srv_after["hwm_kib"]}
p10 = points["10%"]
flat = {
    "coordinator_peak_ratio_n_vs_n10":
        cli_peak / p10["coordinator_peak_kib"] if p10 else None,
    "server_peak_ratio_n_vs_n10":
        srv_after["hwm_kib"] / p10["server_peak_kib"] if p10 else None,
}
targets = {"server_peak_mib": 24, "coordinator_peak_mib": 12}
srv_mib, cli_mib = srv_after["hwm_kib"] / 1024, cli_peak / 1024
verdict = {
    "server": "PASS" if srv_mib <= 24 else "MISS",
    "coordinator": "PASS" if cli_mib <= 12 else "MISS",
}

def mib(k):
    return "-" if k is None or k < 0 else f"{k / 1024:.1f}"

print(f"veldwerk: a fresh coordinator pulls {pulled:,} ops from veldd on 127.0.0.1")
print(f"{version}; {ncpu} CPUs; data on {fs}; {W} devices x {R} wijklab records "
      f"({dev_ops:,} ops each, {n:,} in all; --ops {n_target:,})")
print(f"fill (not a figure): enrol {W} devices {enrol_s:.1f} s; write offline + "
      f"push {n:,} ops {fill_s:.1f} s ({n / fill_s:,.0f} ops/s)")
print()
print(f"pull: {pull_s:.2f} s, {pulled / pull_s:,.0f} ops/s; {down / 1e6:.1f} MB down, "
      f"{up / 1e6:.2f} MB up ({(up + down) / pulled:.0f} B/op); veldd cpu {srv_cpu_s:.1f} s")
print()
print(f"{'MiB, during the pull':<28}{'10%':>8}{'50%':>8}{'100%':>8}{'target':>8}  verdict")
def row(label, key, target, v):
    cells = "".join(f"{mib(None if points[p] is None else points[p][key]):>8}"
                    for p in ("10%", "50%", "100%"))
    print(f"{label:<28}{cells}{target:>8}  {v}")
row("coordinator peak (veld)", "coordinator_peak_kib", "12", verdict["coordinator"])
row("server peak (veldd)", "server_peak_kib", "24", verdict["server"])
row("server RSS (veldd)", "server_rss_kib", "", "")
print()
if p10:
    print(f"flat as the log grows: peak at N / peak at N/10: coordinator "
          f"{flat['coordinator_peak_ratio_n_vs_n10']:.2f}, server "
          f"{flat['server_peak_ratio_n_vs_n10']:.2f}")
else:
    print("flat as the log grows: no sample at 10% (the pull was too short to sample)")
if not hwm_reset:
    print("note: veldd's peak could not be reset before the pull; it includes the fill")
print(f"verified: veldd accepted all {n:,} device ops; the coordinator holds "
      f"all {$ops1:,} ops veldd holds, has its state hash and lists the "
      f"expected $listed live records with the expected values")
doc = {
    "bench": "pull_1m", "ops_target": n_target, "ops": n, "devices": W,
    "records_per_device": R, "ops_per_device": dev_ops,
    "version": version, "host": platform.node(), "cpus": ncpu, "fs": fs,
    "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    "command": "bench/pull_1m.sh --ops $ops --devices $devices --jobs $jobs --seed $seed",
    "fill": {"enrol_seconds": enrol_s, "seconds": fill_s, "jobs": $jobs,
             "server_peak_rss_kib": $srv_fill_hwm},
    "pull": {"seconds": pull_s, "ops": pulled, "ops_per_s": pulled / pull_s,
             "bytes_up": up, "bytes_down": down, "server_cpu_s": srv_cpu_s,
             "coordinator_peak_rss_kib": cli_peak,
             "coordinator_ru_maxrss_kib": cli_ru_maxrss,
             "coordinator_sampled_hwm_kib": sampled_hwm,
             "server_peak_rss_kib": srv_after["hwm_kib"],
             "server_rss_before_kib": srv_before["rss_kib"],
             "server_rss_after_kib": srv_after["rss_kib"],
             "server_peak_reset": hwm_reset},
    "points": points, "flat": flat, "targets": targets, "verdict": verdict,
    "verified": {"server_accepted": n, "coordinator_ops": $ops1, "server_ops": $srv_ops,
                 "state_hash": "$hs", "live_records": $listed,
                 "expected_live": $exp_live, "digest": "$exp_sha"},
    "data_bytes": {"server": $srv_bytes, "coordinator": $coord_bytes},
    "samples": samples,
    "notes": {
        "coordinator_peak_kib": "VmHWM of veld from /proc when that share of N "
            "had arrived; at 100% the larger of its ru_maxrss (wijklab_tool "
            "run) and the highest VmHWM sampled",
        "server_peak_kib": "VmHWM of veldd, reset (clear_refs 5) just before the pull",
        "pulled": "ops in the coordinator's store, read-only query every 0.1 s",
        "fill": "devices' offline writes (durable, one commit each) and their "
                "pushes, J devices at a time; not a figure",
    },
}
with open(out, "w") as f:
    json.dump(doc, f, indent=1)
    f.write("\n")
print(f"wrote {out}")
EOF
