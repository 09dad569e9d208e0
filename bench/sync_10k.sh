#!/usr/bin/env bash
# sync_10k.sh: push/pull time and bytes of a real sync of N records (default
# 10,000) between one device and the server, on 127.0.0.1.
#
#   bench/sync_10k.sh [--n N] [--runs R] [--dir DIR] [--out FILE] [--keep]
#
# Uses ${VELD_BUILD:-build}/server/veldd and .../client/veld (relative to the
# repository root unless absolute).  Starts a veldd on a free loopback port,
# enrols a field device W and a coordinator P, stops the server, creates N
# records on W offline (not part of the measurement; its time is reported
# separately), and snapshots the three data directories.  Then, R times,
# from a fresh copy of that snapshot: start veldd, time `veld sync` on W
# (push of N ops), time `veld sync` on P (a coordinator pulling all of them),
# check that server, W and P have one state hash and that P lists exactly
# the N records W made, record peak RSS, stop veldd.
#
# Prints a table (the median over the runs if R > 1) and writes the figures
# to bench/results/sync_10k.json (or --out FILE).  See bench/README.md.
#
# Exit codes: 0 ok; 1 a step failed or a check did not hold; 2 bad usage or
# missing binaries/tools.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(dirname "$here")
me=sync_10k

n=10000
runs=1
base=${TMPDIR:-/tmp}
out=$root/bench/results/sync_10k.json
keep=0
sync_timeout=${SYNC_TIMEOUT:-900} # seconds, per veld sync

usage() {
	echo "usage: bench/sync_10k.sh [--n N] [--runs R] [--dir DIR] [--out FILE] [--keep]" >&2
	exit 2
}
is_uint() { [[ $1 =~ ^[0-9]+$ ]] && [ "${#1}" -le 8 ]; }
while [ $# -gt 0 ]; do
	case $1 in
	--n) [ $# -ge 2 ] || usage; n=$2; shift 2 ;;
	--runs) [ $# -ge 2 ] || usage; runs=$2; shift 2 ;;
	--dir) [ $# -ge 2 ] || usage; base=$2; shift 2 ;;
	--out) [ $# -ge 2 ] || usage; out=$2; shift 2 ;;
	--keep) keep=1; shift ;;
	-h | --help) usage ;;
	*) echo "sync_10k: unknown argument '$1'" >&2; usage ;;
	esac
done
if ! is_uint "$n" || [ "$n" -lt 1 ] || [ "$n" -gt 1000000 ]; then
	echo "sync_10k: --n takes 1..1000000" >&2
	exit 2
fi
if ! is_uint "$runs" || [ "$runs" -lt 1 ] || [ "$runs" -gt 100 ]; then
	echo "sync_10k: --runs takes 1..100" >&2
	exit 2
fi

# shellcheck source=bench/lib.sh
. "$here/lib.sh"
build=$(bench_build)
need_bins "$build" server/veldd client/veld
need_tools curl python3 timeout
veldd=$build/server/veldd
veld=$build/client/veld
gnu_time=
if [ -x /usr/bin/time ] && /usr/bin/time -v -o /dev/null true 2>/dev/null; then
	gnu_time=/usr/bin/time
fi

mkdir -p "$base"
tmp=$(mktemp -d "$base/sync_10k.XXXXXX")
cleanup() {
	veldd_kill
	if [ "$keep" = 1 ]; then
		echo "sync_10k: kept $tmp" >&2
	else
		rm -rf "$tmp"
	fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

lo_bytes() { cat /sys/class/net/lo/statistics/tx_bytes 2>/dev/null || echo 0; }

# --- setup: server, enrolment --------------------------------------------
snap=$tmp/snap
mkdir -p "$snap"
veldd_start_free "$veldd" "$snap/srv" "$tmp/setup.log" || {
	cat "$tmp/setup.log" >&2
	die "veldd did not start"
}
url="ws://127.0.0.1:$port/sync"
first=$(veldd_first_code "$tmp/setup.log") || {
	cat "$tmp/setup.log" >&2
	die "no first coordinator code in veldd's output"
}
wcode=$("$veldd" code new --data "$snap/srv" --role field --name W --area noord | tail -1)
"$veld" --dir "$snap/w" init --server "$url" --code "$wcode" --name W \
	>>"$tmp/setup.log" 2>&1 || { cat "$tmp/setup.log" >&2; die "enrolling W failed"; }
"$veld" --dir "$snap/p" init --server "$url" --code "$first" --name P \
	>>"$tmp/setup.log" 2>&1 || { cat "$tmp/setup.log" >&2; die "enrolling P failed"; }
veldd_stop

# --- N records on W, offline (server stopped; not measured) --------------
streets=(Kerkstraat Dorpsweg Markt Brink Lange_Laan Molenweg Schoolstraat
	Stationsweg Beukenlaan Eikenlaan Lindelaan Wilhelminastraat Julianastraat
	Oranjestraat Nieuwstraat Achterweg Kastanjelaan Prinsengracht Havenstraat
	Zuiderdiep Noorderpad Vaartweg Kanaalstraat Meidoornstraat Rozenstraat
	Tulpstraat Sportlaan Parallelweg Vondelstraat Bremstraat)
wishes=("meer bankjes" "speeltuin opknappen" "minder zwerfafval"
	"betere verlichting" "groen in de straat" "een buurthuis"
	"veilig oversteken" "minder hard rijden" "vaker de wijkagent"
	"een moestuin")
needs=("Handgreep in de badkamer en hulp bij de aanvraag voor de Wmo"
	"Wil graag contact met de schuldhulp, brieven blijven liggen"
	"Vocht en schimmel in de slaapkamer, melding bij de corporatie"
	"Eenzaam sinds het overlijden van partner, zoekt koffieochtend"
	"Trapleuning los, valt bijna; klusjesdienst inschakelen graag"
	"Hulp nodig bij formulieren energietoeslag en de huurtoeslag"
	"Kinderen zoeken sportclub, vraagt naar het jeugdfonds sport"
	"Scootmobiel kan niet naar binnen, drempel bij de voordeur"
	"Geluidsoverlast van de buren, wil bemiddeling in de buurt"
	"Mantelzorger voor moeder, zoekt respijtzorg op het weekend")
RANDOM=42 # the same records every time
echo "creating $n records on W offline ($n 'veld new' launches) ..." >&2
t0=$(now_ns)
for i in $(seq "$n"); do
	"$veld" --dir "$snap/w" new huisbezoek \
		"street=${streets[RANDOM % 30]}" "house=$((1 + RANDOM % 240))" \
		"wish=${wishes[RANDOM % 10]}" "needs=${needs[RANDOM % 10]}" \
		>>"$tmp/new.out" || die "veld new failed at record $i"
done
t1=$(now_ns)
create_ns=$((t1 - t0))
grep -E '^[0-9a-f]{32}$' "$tmp/new.out" | sort >"$tmp/ids"
[ "$(wc -l <"$tmp/ids")" -eq "$n" ] || die "veld new printed $(wc -l <"$tmp/ids") ids, not $n"
fs=$(stat -f -c %T "$tmp" 2>/dev/null || echo unknown)

# --- measured runs ---------------------------------------------------------
tck=$(getconf CLK_TCK)
results=$tmp/results.tsv
: >"$results"
# parse_summary FILE: "pushed pulled up down" from veld's one-line summary.
parse_summary() {
	sed -n 's/^synced: pushed \([0-9]*\) ops, pulled \([0-9]*\) ops; \([0-9]*\) bytes up, \([0-9]*\) down.*/\1 \2 \3 \4/p' "$1" | tail -1
}
# timed_sync DIR TAG: run `veld sync` on DIR; sets sec_ns, sum (4 numbers),
# rss_kib, cli_cpu_ms, srv_cpu_ticks, lo.
timed_sync() {
	local dir=$1 tag=$2 c0 c1 l0 l1 t0 t1 rc=0
	c0=$(cpu_ticks "$srv_pid")
	l0=$(lo_bytes)
	t0=$(now_ns)
	if [ -n "$gnu_time" ]; then
		timeout "$sync_timeout" "$gnu_time" -v -o "$tmp/$tag.time" \
			"$veld" --dir "$dir" sync >"$tmp/$tag.out" 2>&1 || rc=$?
	else
		timeout "$sync_timeout" "$veld" --dir "$dir" sync \
			>"$tmp/$tag.out" 2>&1 || rc=$?
	fi
	t1=$(now_ns)
	l1=$(lo_bytes)
	c1=$(cpu_ticks "$srv_pid")
	if [ "$rc" != 0 ]; then
		cat "$tmp/$tag.out" >&2
		die "$tag: veld sync exited $rc"
	fi
	sec_ns=$((t1 - t0))
	srv_cpu_ticks=$((c1 - c0))
	lo=$((l1 - l0))
	sum=$(parse_summary "$tmp/$tag.out")
	[ -n "$sum" ] || {
		cat "$tmp/$tag.out" >&2
		die "$tag: no summary line from veld sync"
	}
	rss_kib=-1 cli_cpu_ms=-1
	if [ -n "$gnu_time" ]; then
		rss_kib=$(sed -n 's/.*Maximum resident set size (kbytes): *//p' "$tmp/$tag.time")
		cli_cpu_ms=$(awk -F': *' '/User time \(seconds\)|System time \(seconds\)/ \
			{ t += $2 } END { printf "%d", t * 1000 + 0.5 }' "$tmp/$tag.time")
	fi
}

for r in $(seq "$runs"); do
	run=$tmp/run$r
	rm -rf "$run"
	cp -a "$snap" "$run"
	veldd_start "$veldd" "$run/srv" "$port" "$tmp/srv$r.log" || {
		cat "$tmp/srv$r.log" >&2
		die "run $r: veldd did not start on 127.0.0.1:$port"
	}

	timed_sync "$run/w" "push$r"
	read -r pu_pushed pu_pulled pu_up pu_down <<<"$sum"
	pu_ns=$sec_ns pu_rss=$rss_kib pu_ccpu=$cli_cpu_ms pu_cpu=$srv_cpu_ticks pu_lo=$lo
	[ "$pu_pushed" -eq "$n" ] || die "run $r: W pushed $pu_pushed ops, not $n"

	timed_sync "$run/p" "pull$r"
	read -r pl_pushed pl_pulled pl_up pl_down <<<"$sum"
	pl_ns=$sec_ns pl_rss=$rss_kib pl_ccpu=$cli_cpu_ms pl_cpu=$srv_cpu_ticks pl_lo=$lo
	[ "$pl_pulled" -ge "$n" ] || die "run $r: P pulled $pl_pulled ops, fewer than $n"

	srv_hwm=$(proc_kib "$srv_pid" VmHWM)

	# Verification: one state hash everywhere; P lists exactly W's records.
	hs=$("$veldd" state-hash --data "$run/srv" | tail -1)
	hw=$("$veld" --dir "$run/w" state-hash | tail -1)
	hp=$("$veld" --dir "$run/p" state-hash | tail -1)
	if [ -z "$hs" ] || [ "$hs" != "$hw" ] || [ "$hs" != "$hp" ]; then
		die "run $r: state hashes differ: server $hs, W $hw, P $hp"
	fi
	"$veld" --dir "$run/p" list --json >"$tmp/p$r.json"
	python3 - "$tmp/p$r.json" "$tmp/ids" "$n" <<'EOF' || die "run $r: P's records are not W's $n records"
import json, sys
recs = json.load(open(sys.argv[1]))
ids = set(open(sys.argv[2]).read().split())
n = int(sys.argv[3])
got = [r["id"] for r in recs]
bad = [r["id"] for r in recs if r.get("form") != "huisbezoek" or r.get("deleted")]
if len(got) != n or set(got) != ids or bad:
    print(f"P lists {len(got)} records ({len(set(got) & ids)} of W's {len(ids)}, "
          f"{len(bad)} unexpected)", file=sys.stderr)
    sys.exit(1)
EOF
	srv_bytes=$(du -sb "$run/srv" | cut -f1)
	veldd_stop
	printf '%s\n' "$r $pu_ns $pu_pushed $pu_pulled $pu_up $pu_down $pu_rss $pu_ccpu $pu_cpu $pu_lo $pl_ns $pl_pushed $pl_pulled $pl_up $pl_down $pl_rss $pl_ccpu $pl_cpu $pl_lo $srv_hwm $srv_bytes $hs" >>"$results"
	[ "$runs" -gt 1 ] && echo "run $r/$runs done" >&2
	[ "$keep" = 1 ] || [ "$r" -eq "$runs" ] || rm -rf "$run"
done

# --- report --------------------------------------------------------------
mkdir -p "$(dirname "$out")"
python3 - "$results" "$out" "$n" "$runs" "$create_ns" "$tck" "$fs" "$gnu_time" \
	"$("$veld" version 2>/dev/null | head -1)" "$(nproc 2>/dev/null || echo 0)" <<'EOF'
import json, statistics, sys, time, platform
res, out, n, runs, create_ns, tck, fs, gnu_time, version, ncpu = sys.argv[1:]
n, runs, create_s, tck = int(n), int(runs), int(create_ns) / 1e9, int(tck)
keys = ("run push_ns push_pushed push_pulled push_up push_down push_rss push_cli_cpu push_srv_cpu push_lo "
        "pull_ns pull_pushed pull_pulled pull_up pull_down pull_rss pull_cli_cpu pull_srv_cpu pull_lo "
        "srv_hwm srv_bytes state_hash").split()
rows = []
for line in open(res):
    v = line.split()
    d = {k: (x if k == "state_hash" else int(x)) for k, x in zip(keys, v)}
    rows.append(d)

def phase(d, p):
    ops = d[p + "_pushed"] if p == "push" else d[p + "_pulled"]
    s = d[p + "_ns"] / 1e9
    up, down = d[p + "_up"], d[p + "_down"]
    return {
        "seconds": s, "ops": ops, "ops_per_s": ops / s if s else None,
        "bytes_up": up, "bytes_down": down,
        "bytes_per_op": (up + down) / ops if ops else None,
        "client_peak_rss_kib": d[p + "_rss"] if d[p + "_rss"] >= 0 else None,
        "client_cpu_s": d[p + "_cli_cpu"] / 1000 if d[p + "_cli_cpu"] >= 0 else None,
        "server_cpu_s": d[p + "_srv_cpu"] / tck,
        "host_loopback_bytes": d[p + "_lo"],
    }

per_run = [{"run": d["run"], "push": phase(d, "push"), "pull": phase(d, "pull"),
            "server_peak_rss_kib": d["srv_hwm"], "server_data_bytes": d["srv_bytes"],
            "state_hash": d["state_hash"]} for d in rows]

def med(get):
    vals = [get(r) for r in per_run]
    if any(v is None for v in vals):
        return None
    return statistics.median(vals)

summary = {}
for p in ("push", "pull"):
    summary[p] = {k: med(lambda r, k=k: r[p][k]) for k in per_run[0][p]}
summary["server_peak_rss_kib"] = med(lambda r: r["server_peak_rss_kib"])

def row(name, s, ops, up, down):
    ops_s = f"{ops / s:10.0f}" if s else f"{'-':>10}"
    if up is None:
        return f"{name:<30}{s:>9.3f}{ops_s}{'-':>9}{'-':>9}{'-':>8}"
    return (f"{name:<30}{s:>9.3f}{ops_s}{up / 1e6:>9.3f}{down / 1e6:>9.3f}"
            f"{(up + down) / ops:>8.0f}")

label = "median of %d runs" % runs if runs > 1 else "1 run"
print(f"veldwerk sync, {n} records, one device <-> veldd on 127.0.0.1 ({label})")
print(f"{version}; {ncpu} CPUs; data on {fs}")
print()
print(f"{'phase':<30}{'seconds':>9}{'ops/s':>10}{'MB up':>9}{'MB down':>9}{'B/op':>8}")
print(row(f"create (offline, {n}x new)", create_s, n, None, None))
for p, name in (("push", "push  (W: veld sync)"), ("pull", "pull  (P: veld sync)")):
    s = summary[p]
    print(row(name, s["seconds"], s["ops"], s["bytes_up"], s["bytes_down"]))
print()
def kib(v):
    return "n/a" if v is None else f"{v / 1024:.1f} MiB"
def cpu(v):
    return "n/a" if v is None else f"{v:.2f} s"
print(f"cpu (user+sys):  push: veld {cpu(summary['push']['client_cpu_s'])}, "
      f"veldd {cpu(summary['push']['server_cpu_s'])}; "
      f"pull: veld {cpu(summary['pull']['client_cpu_s'])}, "
      f"veldd {cpu(summary['pull']['server_cpu_s'])}")
print(f"server peak RSS: {kib(summary['server_peak_rss_kib'])}")
if gnu_time:
    print(f"client peak RSS: push {kib(summary['push']['client_peak_rss_kib'])}, "
          f"pull {kib(summary['pull']['client_peak_rss_kib'])}")
else:
    print("client peak RSS: not measured (no GNU /usr/bin/time)")
if runs > 1:
    print("per run (s): push " + " ".join(f"{r['push']['seconds']:.3f}" for r in per_run)
          + "; pull " + " ".join(f"{r['pull']['seconds']:.3f}" for r in per_run))
print(f"verified: one state hash on server, W and P ({per_run[-1]['state_hash'][:16]}...); "
      f"P lists exactly W's {n} records")
print("MB = 10^6 bytes of WebSocket message payload as counted by veld; "
      "B/op = (up + down) / ops moved")

doc = {
    "bench": "sync_10k", "n": n, "runs": runs, "version": version,
    "host": platform.node(), "cpus": int(ncpu), "fs": fs,
    "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    "create": {"seconds": create_s, "ops_per_s": n / create_s if create_s else None,
               "note": "N separate 'veld new' processes, offline; not a sync figure"},
    "median": summary, "runs_detail": per_run,
    "notes": {
        "bytes": "WebSocket message payload bytes, from veld's summary line",
        "seconds": "wall time of the veld sync process (date +%s%N around it)",
        "host_loopback_bytes": "delta of /sys/class/net/lo tx_bytes during the phase: "
                               "includes TCP/IP/WebSocket framing and any other loopback "
                               "traffic on the host (upper bound)",
        "client_peak_rss_kib": "GNU time -v maximum resident set size of veld sync",
        "client_cpu_s": "GNU time -v user + system time of veld sync",
        "server_cpu_s": "user + system time veldd used during the phase (/proc/PID/stat)",
        "server_peak_rss_kib": "VmHWM of veldd at the end of the run",
    },
}
with open(out, "w") as f:
    json.dump(doc, f, indent=2)
    f.write("\n")
print(f"wrote {out}")
EOF
