# shellcheck shell=bash disable=SC2154,SC2034
# bench/lib.sh - the shell pieces the bench scripts share (sync_10k.sh,
# idle_devices.sh, pull_1m.sh); source it after setting $me (the script's
# name, for messages) and $root (the repository root):
#
#	. "$here/lib.sh"
#
# Only functions, plus srv_pid (veldd's pid while one of ours runs, else
# empty).  The caller owns its temporary directory and its EXIT trap; the
# trap should call veldd_kill.
#
#   die MSG...                 MSG on stderr, exit 1
#   now_ns                     wall clock in nanoseconds
#   free_port                  a TCP port on 127.0.0.1 that was free a moment
#                              ago (the kernel's pick)
#   proc_kib PID FIELD         a /proc/PID/status field in KiB (VmRSS, VmHWM)
#   cpu_ticks PID              user + system time of PID so far, clock ticks
#   bench_build                prints ${VELD_BUILD:-build}, made absolute
#                              against $root
#   need_bins BUILD TARGET...  exit 2 with a build hint unless every
#                              BUILD/TARGET is executable (TARGET as
#                              server/veldd, bench/idle_devices, ...)
#   need_tools TOOL...         exit 2 unless every TOOL is on $PATH
#   veldd_start VELDD DATA PORT LOG
#                              start `VELDD serve` on 127.0.0.1:PORT with its
#                              output appended to LOG, in the background
#                              (sets srv_pid); wait at most 10 s for
#                              /healthz.  Returns 1 if it exited or did not
#                              answer.  With $veldd_nofile set, its open-file
#                              limit is set to that first (ulimit -n).
#   veldd_start_free VELDD DATA LOG
#                              the same on a free port, up to 5 tries (a port
#                              can be taken between the pick and the bind);
#                              sets port; returns 1 if all failed
#   veldd_stop                 SIGTERM, at most 10 s for a clean exit, then
#                              SIGKILL
#   veldd_kill                 SIGKILL at once (for EXIT traps)
#   veldd_first_code LOG       the first-start coordinator code from veldd's
#                              output in LOG (waits at most 5 s for it);
#                              returns 1 if there is none
#   kill_tree PID              SIGKILL PID and everything below it (children
#                              first, from /proc/PID/task/PID/children),
#                              and reap PID

srv_pid=

die() {
	echo "$me: $*" >&2
	exit 1
}
now_ns() { date +%s%N; }
free_port() {
	python3 -c 'import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])'
}
proc_kib() { awk -v k="$2:" '$1 == k { print $2 }' "/proc/$1/status"; }
cpu_ticks() { awk '{ sub(/.*\) /, ""); print $12 + $13 }' "/proc/$1/stat"; }

bench_build() {
	local b=${VELD_BUILD:-build}
	case $b in /*) ;; *) b=$root/$b ;; esac
	echo "$b"
}
need_bins() {
	local build=$1 t missing=
	shift
	for t in "$@"; do
		[ -x "$build/$t" ] || missing="$missing $(basename "$t")"
	done
	[ -z "$missing" ] && return 0
	echo "$me: missing in $build:$missing" >&2
	echo "  Build first, e.g.:" >&2
	echo "    cmake -S $root -B $build -DCMAKE_BUILD_TYPE=RelWithDebInfo" >&2
	echo "    cmake --build $build -j2 --target$missing" >&2
	echo "  or point VELD_BUILD at an existing build directory." >&2
	exit 2
}
need_tools() {
	local t
	for t in "$@"; do
		command -v "$t" >/dev/null || {
			echo "$me: needs '$t'" >&2
			exit 2
		}
	done
}

veldd_start() {
	local veldd=$1 data=$2 p=$3 log=$4 i
	if [ -n "${veldd_nofile:-}" ]; then
		(ulimit -n "$veldd_nofile" && exec "$veldd" serve --data "$data" \
			--listen "127.0.0.1:$p") >>"$log" 2>&1 &
	else
		"$veldd" serve --data "$data" --listen "127.0.0.1:$p" >>"$log" 2>&1 &
	fi
	srv_pid=$!
	for i in $(seq 100); do
		if ! kill -0 "$srv_pid" 2>/dev/null; then
			wait "$srv_pid" 2>/dev/null || true
			srv_pid=
			return 1
		fi
		curl -sf "http://127.0.0.1:$p/healthz" >/dev/null 2>&1 && return 0
		sleep 0.1
	done
	return 1
}
veldd_start_free() {
	local p i
	port=
	for i in 1 2 3 4 5; do
		p=$(free_port)
		if veldd_start "$1" "$2" "$p" "$3"; then
			port=$p
			return 0
		fi
		veldd_kill
	done
	return 1
}
veldd_stop() {
	[ -n "$srv_pid" ] || return 0
	kill -TERM "$srv_pid" 2>/dev/null || true
	local i
	for i in $(seq 100); do
		kill -0 "$srv_pid" 2>/dev/null || break
		sleep 0.1
	done
	veldd_kill
}
veldd_kill() {
	[ -n "$srv_pid" ] || return 0
	kill -9 "$srv_pid" 2>/dev/null || true
	wait "$srv_pid" 2>/dev/null || true
	srv_pid=
}
veldd_first_code() {
	local i c
	for i in $(seq 50); do
		c=$(sed -n 's/.*first coordinator enrolment code (valid 24 hours): *//p' \
			"$1" | head -1)
		if [ -n "$c" ]; then
			echo "$c"
			return 0
		fi
		sleep 0.1
	done
	return 1
}
kill_tree() {
	local k
	[ -n "$1" ] || return 0
	kill -STOP "$1" 2>/dev/null || true # no new children meanwhile
	for k in $(cat "/proc/$1/task/$1/children" 2>/dev/null); do
		kill_tree "$k"
	done
	kill -9 "$1" 2>/dev/null || true
	kill -CONT "$1" 2>/dev/null || true
	wait "$1" 2>/dev/null || true
}
