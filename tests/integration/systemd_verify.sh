#!/usr/bin/env bash
# systemd_verify.sh - the deploy/ files for systemd, checked without systemd
# running: the unit passes `systemd-analyze verify` (with its ExecStart
# pointed at the veldd just built, which must exist for verify), keeps its
# hardening, and scores well in `systemd-analyze security`; install.sh
# installs into a scratch root, idempotently, and --dry-run changes nothing;
# the example configuration parses.
#
#   usage: systemd_verify.sh PATH/TO/veldd
#
# Exit status: 0 all passed, 1 a check failed, 77 (ctest: skipped)
# systemd-analyze is not installed (Debian package "systemd").
set -euo pipefail

veldd=${1:?usage: systemd_verify.sh PATH/TO/veldd}
here=$(cd "$(dirname "$0")" && pwd)
deploy=$here/../../deploy
unit=$deploy/veldd.service

if ! command -v systemd-analyze >/dev/null 2>&1; then
	echo "systemd_verify: SKIPPED: systemd-analyze not found (install" \
		"the Debian package 'systemd')"
	exit 77
fi
veldd=$(cd "$(dirname "$veldd")" && pwd)/$(basename "$veldd")
[ -x "$veldd" ] || {
	echo "systemd_verify: '$veldd' is not executable" >&2
	exit 1
}

tmp=$(mktemp -d "${TMPDIR:-/tmp}/systemd-verify.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
passed=0
failed=0
check() {
	local what=$1
	shift
	if "$@"; then
		passed=$((passed + 1))
		echo "ok   - $what"
	else
		failed=$((failed + 1))
		echo "FAIL - $what" >&2
	fi
}
fails() { ! "$@"; }
# to FILE CMD...: run CMD with its output in FILE.
to() {
	local f=$1
	shift
	"$@" >"$f" 2>&1
}

# --- the unit -------------------------------------------------------------

# verify FILE: systemd-analyze verify, quiet about FILE.  It exits 0 on
# unknown keys and bad values ("..., ignoring"), so its output counts too;
# lines about other units (the host's own) do not.
verify() {
	local out rc=0
	out=$(systemd-analyze verify "$1" 2>&1) || rc=$?
	if [ -n "$out" ]; then
		while IFS= read -r l; do echo "    $l"; done <<<"$out"
	fi
	[ "$rc" -eq 0 ] && ! echo "$out" | grep -q "$(basename "$1")"
}

mkdir "$tmp/unit"
sed "s#^ExecStart=/usr/local/bin/veldd #ExecStart=$veldd #" "$unit" \
	>"$tmp/unit/veldd.service"
check "ExecStart points at the built veldd" \
	grep -q "^ExecStart=$veldd serve " "$tmp/unit/veldd.service"
check "systemd-analyze verify veldd.service" verify "$tmp/unit/veldd.service"

# The check can fail: a bogus key and a missing binary are reported.
mkdir "$tmp/bad"
sed 's/^UMask=0077$/UMask=0077\nNoSuchSetting=1/' "$unit" |
	sed "s#^ExecStart=/usr/local/bin/veldd #ExecStart=$veldd #" \
		>"$tmp/bad/veldd.service"
check "verify notices an unknown key" fails verify "$tmp/bad/veldd.service"
cp "$unit" "$tmp/bad/veldd.service"
sed -i "s#^ExecStart=/usr/local/bin/veldd #ExecStart=$tmp/no-such-veldd #" \
	"$tmp/bad/veldd.service"
check "verify notices a missing binary" fails verify "$tmp/bad/veldd.service"

# The hardening the deployment relies on (docs/operations.md) stays.
# shellcheck disable=SC2016 # $MAINPID is literal in the unit
for line in "User=veldd" "StateDirectory=veldd" "UMask=0077" \
	"ProtectSystem=strict" "ProtectHome=yes" "PrivateTmp=yes" \
	"PrivateDevices=yes" "NoNewPrivileges=yes" \
	"RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX AF_NETLINK" \
	"RestrictNamespaces=yes" "LockPersonality=yes" \
	"MemoryDenyWriteExecute=yes" "SystemCallFilter=@system-service" \
	"SystemCallArchitectures=native" "CapabilityBoundingSet=" \
	"Restart=on-failure" "KillSignal=SIGTERM" \
	'ExecReload=/bin/kill -HUP $MAINPID' \
	"ExecStart=/usr/local/bin/veldd serve --data /var/lib/veldd --config /etc/veldd/veldd.conf"; do
	check "unit has '$line'" grep -qxF "$line" "$unit"
done
check "unit has a TimeoutStopSec" grep -q "^TimeoutStopSec=[0-9]" "$unit"

# Exposure as systemd rates it: 1.5 ("OK") when written; fail above 2.5.
# (--threshold is in tenths.)
if systemd-analyze security --help 2>&1 | grep -q -- --offline; then
	check "systemd-analyze security: exposure at most 2.5" \
		to "$tmp/security.txt" systemd-analyze security --offline=yes \
		--threshold=25 "$tmp/unit/veldd.service"
	tail -1 "$tmp/security.txt" | sed 's/^/    /'
fi

# --- install.sh -----------------------------------------------------------

inst=$deploy/install.sh
root=$tmp/root
mkdir "$root"

check "install.sh --dry-run" \
	to "$tmp/dry.txt" "$inst" --dry-run --root "$root" --binary "$veldd"
check "... and says what it would do" \
	grep -q "would run: install .*$root/usr/local/bin/veldd" "$tmp/dry.txt"
check "... and changes nothing" test -z "$(ls -A "$root")"

check "install.sh into a scratch root" \
	to "$tmp/first.txt" "$inst" --root "$root" --binary "$veldd"
check "binary installed, executable" test -x "$root/usr/local/bin/veldd"
check "binary is the built one" cmp -s "$veldd" "$root/usr/local/bin/veldd"
check "unit installed" cmp -s "$unit" "$root/etc/systemd/system/veldd.service"
check "example installed" \
	cmp -s "$deploy/veldd.conf.example" "$root/etc/veldd/veldd.conf.example"
check "veldd.conf made from the example" \
	cmp -s "$deploy/veldd.conf.example" "$root/etc/veldd/veldd.conf"
check "veldd.conf not world-readable" \
	test "$(stat -c %a "$root/etc/veldd/veldd.conf")" = 640
check "/etc/veldd not world-readable" \
	test "$(stat -c %a "$root/etc/veldd")" = 750

# The operator's edits survive a second run, which changes nothing else.
echo "log_level = debug" >>"$root/etc/veldd/veldd.conf"
cp "$root/etc/veldd/veldd.conf" "$tmp/edited.conf"
check "install.sh a second time" \
	to "$tmp/second.txt" "$inst" --root "$root" --binary "$veldd"
check "second run: everything unchanged or kept" \
	fails grep -Eq "install.sh: (installing|updating|creating)" \
	"$tmp/second.txt"
check "second run: veldd.conf kept" \
	cmp -s "$tmp/edited.conf" "$root/etc/veldd/veldd.conf"

check "install.sh: a missing binary is an error" \
	fails to /dev/null "$inst" --root "$root" --binary "$tmp/no-such-veldd"
"$inst" --no-such-option >/dev/null 2>&1 && rc=0 || rc=$?
check "install.sh: a bad option is a usage error (2)" test "$rc" -eq 2

# --- the example configuration ---------------------------------------------

# veldd reads it (all defaults), and every option in it uncommented.  An
# admin command parses the file without starting a server: past the file,
# it stops at the missing data directory.
parses() {
	local out
	out=$("$veldd" state-hash --config "$1" --data "$tmp/nodata" 2>&1) ||
		true
	grep -q "no veldd data directory" <<<"$out"
}
check "the example parses (as installed)" \
	parses "$root/etc/veldd/veldd.conf"
sed -E 's/^#([a-z_]+ = )/\1/' "$deploy/veldd.conf.example" >"$tmp/all.conf"
check "the example names all seven options" \
	test "$(grep -cE '^[a-z_]+ = ' "$tmp/all.conf")" -eq 7
check "the example parses with every option set" parses "$tmp/all.conf"
echo "colour = blue" >>"$tmp/all.conf"
check "... and a bad one does not" fails parses "$tmp/all.conf"

echo "systemd_verify: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
