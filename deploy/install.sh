#!/usr/bin/env bash
# install.sh - install veldd as a systemd service (docs/operations.md).
#
#   deploy/install.sh [--dry-run] [--binary PATH] [--root DIR]
#
# Installs, as root:
#   /usr/local/bin/veldd                   the binary (default: build/server/veldd)
#   /etc/systemd/system/veldd.service      the unit (deploy/veldd.service)
#   /etc/veldd/veldd.conf.example          every option, commented
#   /etc/veldd/veldd.conf                  a copy of the example, only if absent
# and creates the system user and group "veldd" if missing.  It never
# touches /var/lib/veldd (systemd creates it, StateDirectory=) and never
# starts, stops or restarts the service: it says what to run next.
#
# Idempotent: a file already identical is left alone, an existing
# veldd.conf is never overwritten, a second run changes nothing.
#
#   --dry-run      print what would be done, change nothing (needs no root)
#   --binary PATH  the veldd to install
#   --root DIR     install below DIR instead of / (packaging, tests): no
#                  user, no ownership changes, no systemctl
#
# Exit status: 0 ok, 1 failure, 2 usage error.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
binary=$here/../build/server/veldd
root=
dry=0

usage() {
	sed -n '2,4p' "$0" | sed 's/^# \{0,1\}//' >&2
	exit 2
}

while [ $# -gt 0 ]; do
	case $1 in
	--dry-run) dry=1 ;;
	--binary)
		[ $# -ge 2 ] || usage
		binary=$2
		shift
		;;
	--binary=*) binary=${1#--binary=} ;;
	--root)
		[ $# -ge 2 ] || usage
		root=$2
		shift
		;;
	--root=*) root=${1#--root=} ;;
	-h | --help) usage ;;
	*)
		echo "install.sh: unknown argument '$1'" >&2
		usage
		;;
	esac
	shift
done
root=${root%/}

say() { echo "install.sh: $*"; }
# run CMD...: do it, or with --dry-run only show it.
run() {
	if [ "$dry" -eq 1 ]; then
		printf 'would run:'
		printf ' %q' "$@"
		echo
	else
		"$@"
	fi
}

if [ ! -x "$binary" ]; then
	echo "install.sh: no veldd binary at '$binary' (build it first:" \
		"cmake -S . -B build && cmake --build build --target veldd," \
		"or pass --binary PATH)" >&2
	exit 1
fi
for f in veldd.service veldd.conf.example; do
	[ -f "$here/$f" ] || {
		echo "install.sh: missing '$here/$f'" >&2
		exit 1
	}
done
if [ "$dry" -eq 0 ] && [ -z "$root" ] && [ "$(id -u)" -ne 0 ]; then
	echo "install.sh: run as root (or with --dry-run to see what it" \
		"would do)" >&2
	exit 1
fi

# Ownership only on a real system: --root trees belong to whoever builds.
owner=()
real=0
if [ -z "$root" ]; then
	real=1
	owner=(-o root -g veldd)
fi

# install_file SRC DEST MODE: copy SRC to DEST unless it is there already.
changed=0
install_file() {
	local src=$1 dest=$2 mode=$3
	if [ -f "$dest" ] && cmp -s "$src" "$dest"; then
		say "unchanged: $dest"
		return
	fi
	say "$([ -e "$dest" ] && echo updating || echo installing) $dest"
	run install -D -m "$mode" "$src" "$dest"
	changed=1
}

# 1. The user the service runs as (and admin commands: sudo -u veldd).
if [ "$real" -eq 1 ]; then
	if getent passwd veldd >/dev/null; then
		say "unchanged: user veldd"
	else
		say "creating system user veldd"
		run useradd --system --user-group --home-dir /var/lib/veldd \
			--no-create-home --shell /usr/sbin/nologin \
			--comment "veldwerk sync server" veldd
	fi
else
	say "--root: not creating user veldd"
fi

# 2. The binary and the unit.
install_file "$binary" "$root/usr/local/bin/veldd" 0755
bin_changed=$changed
changed=0
install_file "$here/veldd.service" "$root/etc/systemd/system/veldd.service" \
	0644
unit_changed=$changed

# 3. Configuration: the directory and the example always, veldd.conf only
# when there is none (it is the operator's from then on).
if [ -d "$root/etc/veldd" ]; then
	say "unchanged: $root/etc/veldd/"
else
	say "creating $root/etc/veldd/"
	run install -d -m 0750 "${owner[@]}" "$root/etc/veldd"
fi
install_file "$here/veldd.conf.example" "$root/etc/veldd/veldd.conf.example" \
	0644
if [ -e "$root/etc/veldd/veldd.conf" ]; then
	say "kept: $root/etc/veldd/veldd.conf (yours; compare with" \
		"veldd.conf.example for new options)"
else
	say "installing $root/etc/veldd/veldd.conf (from the example)"
	run install -m 0640 "${owner[@]}" "$here/veldd.conf.example" \
		"$root/etc/veldd/veldd.conf"
fi

# 4. Tell systemd, if it runs this machine.
if [ "$real" -eq 1 ] && [ -d /run/systemd/system ]; then
	if [ "$unit_changed" -eq 1 ]; then
		run systemctl daemon-reload
	fi
	if systemctl is-active --quiet veldd 2>/dev/null; then
		if [ "$bin_changed" -eq 1 ] || [ "$unit_changed" -eq 1 ]; then
			say "veldd is running the old version: back up" \
				"(docs/operations.md), then: systemctl restart veldd"
		fi
	else
		say "next: edit /etc/veldd/veldd.conf, then:" \
			"systemctl enable --now veldd"
	fi
elif [ "$real" -eq 1 ]; then
	say "systemd is not running here: start veldd another way" \
		"(docs/operations.md)"
fi
[ "$dry" -eq 1 ] && say "dry run: nothing was changed"
exit 0
