/*
 * fuzz_web.c - the dashboard's HTTP handler (server/web.c) in-process, on a
 * real store: the fuzzer chooses the method, path, query, Cookie, Origin,
 * Host, X-CSRF-Token and body.  A coordinator is logged in once, and the
 * input may use its real cookie and CSRF token ("@" in that field, "@..."
 * for the token with bytes after it), so the authenticated routes and the
 * writes are reached too.  Checks: a status is always set, bodies stay
 * under the response limit, and nothing crashes, leaks or trips the
 * sanitizers.
 *
 * Input: fields separated by '\n': method (G, H, P, anything else),
 * path, query (a=b&c=d), cookie, origin, host, csrf, then the body (the
 * rest, newlines included).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "code.h"
#include "key.h"
#include "replica.h"
#include "server.h"
#include "store.h"
#include "web.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct veld_server srv;
static struct veld_web web;
static struct veld_key key;
static char cookie[128], csrf[128];
static char dir[] = "/tmp/fuzz_web.XXXXXX";

/* The store goes with the process. */
static void cleanup(void)
{
	static const char *const sfx[] = {"", "-wal", "-shm"};
	char path[64];

	veld_replica_close(srv.replica);
	for (int i = 0; i < 3; i++) {
		snprintf(path, sizeof(path), "%s/veld.db%s", dir, sfx[i]);
		remove(path);
	}
	remove(dir);
}

/* Log in as a coordinator with a fresh code; keep cookie and CSRF. */
static void login(void)
{
	struct veld_code_row row = {.role = "coordinator",
				    .name = "Carla",
				    .expires = (uint64_t)1 << 62};
	char code[VELD_CODE_BUF], body[64];
	struct veld_web_req q = {.method = VELD_WEB_POST,
				 .path = "/api/login",
				 .origin = "http://h",
				 .host = "h"};
	struct veld_web_resp r;
	struct veld_websession *s;

	if (veld_code_issue(veld_replica_store(srv.replica), &row, code) != 0)
		abort();
	snprintf(body, sizeof(body), "{\"code\":\"%s\"}", code);
	q.body = body;
	q.body_len = strlen(body);
	veld_web_handle(&srv, &q, &r);
	if (r.status != 200 || strncmp(r.cookie, VELD_WEB_COOKIE "=", 13))
		abort();
	snprintf(cookie, sizeof(cookie), "%.*s", (int)strcspn(r.cookie, ";"),
		 r.cookie);
	veld_web_resp_release(&r);
	s = veld_web_session(&srv, cookie);
	if (!s)
		abort();
	snprintf(csrf, sizeof(csrf), "%s", s->csrf);
}

static int setup(void)
{
	char path[64];
	uint8_t seed[VELD_SEED_LEN] = {7};
	uint8_t rec[VELD_RECORD_LEN], id[VELD_HASH_LEN];
	struct veld_field f = {.name = "street", .text = "Kerkstraat"};

	if (sodium_init() < 0 || !mkdtemp(dir))
		abort();
	snprintf(path, sizeof(path), "%s/veld.db", dir);
	veld_key_from_seed(&key, seed);
	if (veld_replica_open(path, &key, key.pk, &srv.replica) != 0)
		abort();
	veld_log_init(&srv.log, fopen("/dev/null", "w"));
	veld_metrics_init(&srv.metrics, path);
	atexit(cleanup);
	veld_web_init(&web, 0, 0);
	srv.key = &key;
	srv.web = &web;
	if (veld_replica_put(srv.replica, rec, 1, "f", "noord", &f, 1, id) != 0)
		abort();
	login();
	return 0;
}

/* The next '\n'-separated field of the input, NUL-terminated in buf. */
static const char *field(const uint8_t **p, const uint8_t *end, char *buf,
			 size_t n)
{
	const uint8_t *nl = memchr(*p, '\n', (size_t)(end - *p));
	size_t len = (size_t)((nl ? nl : end) - *p);

	if (len >= n)
		len = n - 1;
	memcpy(buf, *p, len);
	buf[len] = 0;
	*p = nl ? nl + 1 : end;
	return buf;
}

/* Query arguments from "a=b&c=d" (no decoding: the fuzzer writes bytes). */
static const char *arg(void *ctx, const char *name, char *buf, size_t n)
{
	const char *q = ctx;
	size_t len = strlen(name);

	while (q && *q) {
		const char *amp = strchr(q, '&');
		size_t seg = amp ? (size_t)(amp - q) : strlen(q);

		if (seg > len && !strncmp(q, name, len) && q[len] == '=') {
			size_t v = seg - len - 1;
			if (v >= n)
				v = n - 1;
			memcpy(buf, q + len + 1, v);
			buf[v] = 0;
			return buf;
		}
		q = amp ? amp + 1 : NULL;
	}
	return NULL;
}

/* "@" is the real value, "@..." the real value followed by the rest. */
static const char *real(const char *in, const char *value, char *buf, size_t n)
{
	if (in[0] != '@')
		return in[0] ? in : NULL;
	snprintf(buf, n, "%s%s", value, in + 1);
	return buf;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int ready;
	static char m[8], path[512], query[512], ck[256], origin[128],
		host[128], token[256], ckb[512], tokb[512], orb[256];
	const uint8_t *p = data, *end = data + size;
	struct veld_web_req q = {0};
	struct veld_web_resp r;

	if (!ready)
		ready = setup() == 0;
	field(&p, end, m, sizeof(m));
	field(&p, end, path, sizeof(path));
	field(&p, end, query, sizeof(query));
	field(&p, end, ck, sizeof(ck));
	field(&p, end, origin, sizeof(origin));
	field(&p, end, host, sizeof(host));
	field(&p, end, token, sizeof(token));
	q.method = m[0] == 'G'	 ? VELD_WEB_GET
		   : m[0] == 'H' ? VELD_WEB_HEAD
		   : m[0] == 'P' ? VELD_WEB_POST
				 : VELD_WEB_OTHER;
	q.path = path;
	q.cookie = real(ck, cookie, ckb, sizeof(ckb));
	q.host = host[0] ? host : NULL;
	q.origin =
		origin[0] == '@' && q.host
			? (snprintf(orb, sizeof(orb), "http://%s", host), orb)
		: origin[0] ? origin
			    : NULL;
	q.csrf = real(token, csrf, tokb, sizeof(tokb));
	q.arg = arg;
	q.arg_ctx = query;
	q.body = (const char *)p;
	q.body_len = (size_t)(end - p);
	veld_web_handle(&srv, &q, &r);
	if (r.status < 100 || r.status > 599 ||
	    r.body.len > VELD_WEB_RESPONSE_MAX)
		abort();
	veld_web_resp_release(&r);
	/* A logout ends ours: start afresh (also clearing the failed-login
	 * limit the input may have run into) and log in again. */
	if (!veld_web_session(&srv, cookie)) {
		veld_web_release(&web);
		veld_web_init(&web, 0, 0);
		login();
	}
	return 0;
}
