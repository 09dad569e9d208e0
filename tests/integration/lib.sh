# lib.sh - what the integration scripts share; source it right after
# reading the script's arguments:
#
#	. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
#
# It makes $tmp (removed on exit, with veldd ($srv_pid) and every
# background job killed), the counters $passed/$failed with check, ok and
# fail, the negations not and lacks, and free_port.  A script ends by
# printing "NAME: $passed passed, $failed failed" and [ "$failed" = 0 ].
tmp=$(mktemp -d)
srv_pid=
cleanup() {
	[ -n "$srv_pid" ] && kill -9 "$srv_pid" 2>/dev/null || true
	jobs -p | xargs -r kill -9 2>/dev/null || true
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
