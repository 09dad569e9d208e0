# lib.sh - what the integration scripts share; source it right after
# reading the script's arguments:
#
#	. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
#
# It makes $tmp (removed on exit, with veldd ($srv_pid) and every
# background job killed; a script that leaves more behind, such as a tmux
# server or a mount, redefines at_exit, called once they are gone), the counters $passed/$failed with check, ok
# and fail, the negations not and lacks, free_port, and the server's
# start_server, stop_server and kill_server (below).  A script ends by
# printing "NAME: $passed passed, $failed failed" and [ "$failed" = 0 ].
tmp=$(mktemp -d)
srv_pid=
at_exit() { :; }
cleanup() {
	[ -n "$srv_pid" ] && kill -9 "$srv_pid" 2>/dev/null || true
	jobs -p | xargs -r kill -9 2>/dev/null || true
	wait 2>/dev/null || true
	at_exit
	rm -rf "$tmp"
}
trap cleanup EXIT
passed=0
failed=0
ok() { passed=$((passed + 1)); }
fail() {
	failed=$((failed + 1))
	echo "FAIL: $*" >&2
}
check() { # check "what" command...
	local what=$1
	shift
	if "$@"; then ok; else fail "$what"; fi
}
not() { ! "$@" >/dev/null 2>&1; }
lacks() { ! grep -q "$1" "$2"; }

# A TCP port on 127.0.0.1 that was free a moment ago (the kernel's pick,
# not a random guess that may be taken).
free_port() {
	python3 -c 'import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])'
}

# The server, for scripts that set $veldd and $port: veldd_up [NAME=VALUE...]
# runs `veldd serve` with its data in $srv_data (default $tmp/srv) on
# 127.0.0.1:$port, its log
# appended to $tmp/srv.log and the NAME=VALUEs in its environment (through
# env, which execs: $srv_pid is veldd itself, even with a preloaded
# library), and waits up to 10 s for /healthz; a server that does not come
# up ends the script, showing its log.  start_server is veldd_up with no
# environment (a script with variants redefines it on top of veldd_up).
veldd_up() {
	env "$@" "$veldd" serve --data "${srv_data:-$tmp/srv}" \
		--listen "127.0.0.1:$port" \
		>>"$tmp/srv.log" 2>&1 &
	srv_pid=$!
	for _ in $(seq 100); do
		curl -sf -o /dev/null "http://127.0.0.1:$port/healthz" && return 0
		kill -0 "$srv_pid" 2>/dev/null || break
		sleep 0.1
	done
	echo "veldd did not start on 127.0.0.1:$port" >&2
	tail -n 30 "$tmp/srv.log" >&2
	exit 1
}
start_server() { veldd_up; }
# stop_server: SIGTERM, then wait for the clean shutdown.
stop_server() {
	kill -TERM "$srv_pid"
	wait "$srv_pid" 2>/dev/null || true
	srv_pid=
}
# kill_server: SIGKILL, as a crash or a power cut would.
kill_server() {
	kill -9 "$srv_pid" 2>/dev/null || true
	wait "$srv_pid" 2>/dev/null || true
	srv_pid=
}
