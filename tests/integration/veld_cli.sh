#!/usr/bin/env bash
# veld as a user runs it: device key creation, identity, op inspection.
# Usage: veld_cli.sh PATH/TO/veld tests/vectors/op-v1.txt
set -euo pipefail
veld=$1
vectors=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
passed=0
failed=0

ok() { passed=$((passed + 1)); }
fail() {
	failed=$((failed + 1))
	echo "FAIL: $*" >&2
}
vector() { sed -n "s/^$1 = //p" "$vectors"; }

# init creates a 0600 key of 32 bytes; a second init refuses.
out=$("$veld" --dir "$tmp/home" init)
key=$(echo "$out" | sed -n 's/^device *//p')
[ ${#key} -eq 64 ] && ok || fail "init printed no key: $out"
[ "$(stat -c %a "$tmp/home/device.key")" = 600 ] && ok || fail "key mode"
[ "$(stat -c %s "$tmp/home/device.key")" = 32 ] && ok || fail "key size"
if "$veld" --dir "$tmp/home" init 2>"$tmp/err"; then
	fail "second init succeeded"
else
	grep -q "already exists" "$tmp/err" && ok || fail "second init: $(cat "$tmp/err")"
fi
# whoami prints the same key, also when found through $VELD_DIR.
[ "$(VELD_DIR=$tmp/home "$veld" whoami | sed -n 's/^device *//p')" = "$key" ] &&
	ok || fail "whoami"
if "$veld" --dir "$tmp/none" whoami 2>"$tmp/err"; then
	fail "whoami without key succeeded"
else
	grep -q "veld init" "$tmp/err" && ok || fail "whoami hint"
fi

# inspect: both worked-example ops verify and show their ids.
for op in op1 op2; do
	out=$(vector "$op.op" | "$veld" inspect --hex)
	echo "$out" | grep -q "^id *$(vector "$op.op_id")\$" && ok || fail "$op id"
	echo "$out" | grep -q "^signature *ok" && ok || fail "$op signature"
done
# A flipped signature byte is refused with the reason, exit status 1.
bad=$(vector op1.op | sed 's/c44061fa/c44061fb/')
if echo "$bad" | "$veld" inspect --hex 2>"$tmp/err"; then
	fail "forged op accepted"
else
	grep -q "(ESIG)" "$tmp/err" && ok || fail "forged op: $(cat "$tmp/err")"
fi
# A truncated op, and input that is not hex.
vector op1.op | cut -c1-100 >"$tmp/cut"
if "$veld" inspect --hex "$tmp/cut" 2>"$tmp/err"; then
	fail "truncated op accepted"
else
	grep -q "op refused" "$tmp/err" && ok || fail "truncated: $(cat "$tmp/err")"
fi
if echo "zz" | "$veld" inspect --hex 2>"$tmp/err"; then
	fail "non-hex accepted"
else
	grep -q "not hex" "$tmp/err" && ok || fail "non-hex"
fi
# Binary input from a file.
vector op2.op | python3 -c 'import sys; sys.stdout.buffer.write(bytes.fromhex(sys.stdin.read().strip()))' >"$tmp/op2.bin"
"$veld" inspect "$tmp/op2.bin" | grep -q "^kind *note" && ok || fail "binary inspect"

# Usage errors exit 2.
set +e
"$veld" frobnicate 2>/dev/null
[ $? -eq 2 ] && ok || fail "unknown command exit status"
"$veld" 2>/dev/null
[ $? -eq 2 ] && ok || fail "no command exit status"
set -e
"$veld" help | grep -q "usage: veld" && ok || fail "help"

echo "veld_cli: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
