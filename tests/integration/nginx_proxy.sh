#!/usr/bin/env bash
# nginx_proxy.sh - deploy/nginx-veldd.conf in front of a real veldd: a
# device enrols and syncs over wss:// through nginx (WebSocket upgrade,
# TLS at nginx, plain ws:// behind it), /healthz passes through, plain
# HTTP is redirected.  The site file is used as shipped, with only the
# ports, name and certificate paths replaced.
#
#   usage: nginx_proxy.sh PATH/TO/veldd PATH/TO/veld
#
# Exit status: 0 all passed, 1 a check failed, 77 (ctest: skipped) nginx
# is not installed (Debian package "nginx-light" or "nginx").
set -euo pipefail

veldd=${1:?usage: nginx_proxy.sh VELDD VELD}
veld=${2:?usage: nginx_proxy.sh VELDD VELD}
here=$(cd "$(dirname "$0")" && pwd)
site=$here/../../deploy/nginx-veldd.conf
nginx=$(command -v nginx || echo /usr/sbin/nginx)
if [ ! -x "$nginx" ]; then
	echo "nginx_proxy: SKIPPED: nginx not found (install the Debian" \
		"package 'nginx-light')"
	exit 77
fi
for t in openssl curl; do
	command -v "$t" >/dev/null || {
		echo "nginx_proxy: $t not found" >&2
		exit 1
	}
done

tmp=$(mktemp -d "${TMPDIR:-/tmp}/nginx-proxy.XXXXXX")
vpid=
npid=
cleanup() {
	[ -n "$vpid" ] && kill -KILL "$vpid" 2>/dev/null
	[ -n "$npid" ] && kill -QUIT "$npid" 2>/dev/null
	sleep 0.2
	rm -rf "$tmp"
}
trap cleanup EXIT
passed=0
failed=0
quiet() { "$@" >/dev/null 2>&1; }
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

base=$((20000 + RANDOM % 20000))
pv=$base          # veldd
ph=$((base + 1))  # nginx, plain HTTP
ps=$((base + 2))  # nginx, TLS

openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
	-keyout "$tmp/key.pem" -out "$tmp/cert.pem" -days 1 \
	-subj "/CN=localhost" \
	-addext "subjectAltName=IP:127.0.0.1,DNS:localhost" 2>/dev/null

# The site as shipped; only what differs on a test machine is replaced.
sed -e "s#server 127.0.0.1:8787;#server 127.0.0.1:$pv;#" \
	-e "s#^\tlisten 80;#\tlisten 127.0.0.1:$ph;#" \
	-e "s#^\tlisten 443 ssl;#\tlisten 127.0.0.1:$ps ssl;#" \
	-e "/^\tlisten \[::\]/d" \
	-e "s#veld.example.org#localhost#g" \
	-e "s#/etc/letsencrypt/live/localhost/fullchain.pem#$tmp/cert.pem#" \
	-e "s#/etc/letsencrypt/live/localhost/privkey.pem#$tmp/key.pem#" \
	-e "s#/var/www/letsencrypt#$tmp/www#" \
	"$site" >"$tmp/site.conf"
mkdir -p "$tmp/www" "$tmp/logs"
cat >"$tmp/nginx.conf" <<EOF
daemon off;
worker_processes 1;
pid $tmp/nginx.pid;
error_log $tmp/logs/error.log;
events { worker_connections 64; }
http {
	access_log $tmp/logs/access.log;
	client_body_temp_path $tmp/body;
	proxy_temp_path $tmp/proxy;
	fastcgi_temp_path $tmp/fastcgi;
	uwsgi_temp_path $tmp/uwsgi;
	scgi_temp_path $tmp/scgi;
	include $tmp/site.conf;
}
EOF
check "the site file passes nginx -t" \
	"$nginx" -q -t -p "$tmp" -e "$tmp/logs/error.log" -c "$tmp/nginx.conf"

"$veldd" serve --config /dev/null --data "$tmp/srv" \
	--listen "127.0.0.1:$pv" >"$tmp/veldd.out" 2>"$tmp/veldd.err" &
vpid=$!
"$nginx" -p "$tmp" -e "$tmp/logs/error.log" -c "$tmp/nginx.conf" &
npid=$!
for _ in $(seq 100); do
	curl -sf --cacert "$tmp/cert.pem" "https://localhost:$ps/healthz" \
		--resolve "localhost:$ps:127.0.0.1" -o /dev/null && break
	sleep 0.1
done

check "/healthz through nginx (TLS)" \
	curl -sf --cacert "$tmp/cert.pem" --resolve "localhost:$ps:127.0.0.1" \
	"https://localhost:$ps/healthz" -o "$tmp/health.json"
check "... is veldd's answer" grep -q '"status":"ok"' "$tmp/health.json"
code=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$ph/healthz")
check "plain HTTP is redirected to HTTPS (301)" test "$code" = 301

url="wss://127.0.0.1:$ps/sync"
enrol=$(sed -n 's/.*code (valid 24 hours): //p' "$tmp/veldd.out")
check "enrol through nginx (wss, WebSocket upgrade)" \
	quiet "$veld" --dir "$tmp/dev" init --server "$url" --code "$enrol" \
	--ca "$tmp/cert.pem" --name Proxy
"$veld" --dir "$tmp/dev" new huisbezoek street=Kerkstraat >/dev/null
check "sync through nginx" quiet "$veld" --dir "$tmp/dev" sync
check "same state on both sides" \
	test "$("$veldd" state-hash --data "$tmp/srv" | tail -1)" = \
	"$("$veld" --dir "$tmp/dev" state-hash | tail -1)"

stop_veldd() {
	kill -TERM "$vpid"
	wait "$vpid"
}
check "veldd stops cleanly" stop_veldd
vpid=

echo "nginx_proxy: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
