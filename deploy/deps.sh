#!/usr/bin/env bash
# Install the Debian 12 packages veldwerk needs, and only those missing.
# Non-interactive and idempotent: a second run installs nothing.
#
#   deploy/deps.sh build   compiler, CMake, the five libraries and gettext
#                          (msgfmt builds veld's message catalogues)
#   deploy/deps.sh test    the above plus clang (sanitizers, libFuzzer),
#                          clang-format, curl, python3, sqlite3, openssl, systemd
#                          (systemd-analyze), libfaketime (clock chaos tests),
#                          tmux (veld_interactive), Node.js with npm, and
#                          chromium (the dashboard's browser test)
set -euo pipefail

build_pkgs=(build-essential cmake pkg-config
	libwebsockets-dev libmsgpack-dev libsodium-dev libsqlite3-dev zlib1g-dev
	gettext)
test_pkgs=(clang libclang-rt-14-dev clang-format curl python3 procps sqlite3
	libfaketime openssl systemd chromium tmux)

case "${1:-}" in
build) want=("${build_pkgs[@]}") ;;
test) want=("${build_pkgs[@]}" "${test_pkgs[@]}") ;;
*)
	echo "usage: $0 build|test" >&2
	exit 2
	;;
esac

# Node.js may come from elsewhere (nvm, NodeSource); any `node` will do.
if [ "$1" = test ] && ! command -v node >/dev/null 2>&1; then
	want+=(nodejs)
fi
# npm installs playwright-core for the browser test (tests/browser).
if [ "$1" = test ] && ! command -v npm >/dev/null 2>&1; then
	want+=(npm)
fi

missing=()
for p in "${want[@]}"; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null |
		grep -q "install ok installed"; then
		missing+=("$p")
	fi
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "deps: installing ${missing[*]}"
sudo=()
if [ "$(id -u)" -ne 0 ]; then
	if command -v sudo >/dev/null 2>&1; then
		sudo=(sudo)
	else
		echo "deps: missing packages (${missing[*]}); run as root" >&2
		exit 1
	fi
fi
export DEBIAN_FRONTEND=noninteractive
"${sudo[@]}" apt-get update -qq
"${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
