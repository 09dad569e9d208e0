/*
 * web.c - the dashboard and its HTTP API; see web.h and docs/api.md.
 *
 * One function per route.  Reads come from the store's dashboard helpers,
 * which build the JSON in SQLite; this file only decides who may ask,
 * what the answer's status is, and which headers it carries.  Writes are
 * ordinary local writes of the server's replica (signed with the server
 * key), attributed with veld_replica_set_by() to the coordinator whose
 * session made them, and then offered to every sync connection and live
 * page at once (veld_server_committed).
 *
 * Request bodies are small JSON objects of strings, read with the store's
 * JSON walker (SQLite's json_tree); nothing here parses JSON by hand.
 */
#include "web.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "assets.h"
#include "code.h"
#include "err.h"
#include "event.h"
#include "hlc.h"
#include "registry.h"
#include "replica.h"
#include "session.h"
#include "store.h"

#define JSON "application/json"
#define TEXT "text/plain; charset=utf-8"

void veld_web_init(struct veld_web *w, uint64_t ttl_s, int tls)
{
	memset(w, 0, sizeof(*w));
	veld_websessions_init(&w->sessions, ttl_s, veld_server_now_ms());
	w->tls = tls;
	w->notified = -1;
}

void veld_web_release(struct veld_web *w)
{
	veld_websessions_release(&w->sessions);
}

void veld_web_resp_release(struct veld_web_resp *r)
{
	veld_buf_release(&r->body);
}

static struct veld_store *store_of(struct veld_server *srv)
{
	return veld_replica_store(srv->replica);
}

/* --- responses --- */

/* A fixed body (a literal, which must be valid for its type). */
static int reply(struct veld_web_resp *r, unsigned status, const char *type,
		 const char *text)
{
	r->status = status;
	r->type = type;
	r->fixed = (const unsigned char *)text;
	r->fixed_len = strlen(text);
	return 0;
}

/* {"error": "<literal>"}: the texts are ours, plain ASCII without quotes. */
#define ERROR_JSON(msg) "{\"error\":\"" msg "\"}"
#define FAIL(r, status, msg) reply(r, status, JSON, ERROR_JSON(msg))

/* A store error as a 500 (or 413 when the answer would be too big). */
static int store_failed(struct veld_server *srv, struct veld_web_resp *r,
			int rc)
{
	veld_log_message(&srv->log, VELD_LOG_ERROR, "web", veld_strerror(rc));
	veld_buf_reset(&r->body);
	if (rc == VELD_ETOOBIG)
		return FAIL(r, 413, "answer too big: narrow the filter");
	return FAIL(r, 500, "store error");
}

/* r->body holds JSON from the store: answer it with 200. */
static int reply_body(struct veld_web_resp *r, const char *type)
{
	r->status = 200;
	r->type = type;
	return 0;
}

/* --- request pieces --- */

/* The value of cookie name in a Cookie header, into out; 0 or -1. */
static int cookie_value(const char *header, const char *name, char *out,
			size_t n)
{
	size_t nl = strlen(name);
	const char *p = header;

	while (p && *p) {
		while (*p == ' ' || *p == ';')
			p++;
		const char *end = strchr(p, ';');
		size_t len = end ? (size_t)(end - p) : strlen(p);
		if (len > nl && !strncmp(p, name, nl) && p[nl] == '=') {
			len -= nl + 1;
			if (len >= n)
				return -1;
			memcpy(out, p + nl + 1, len);
			out[len] = 0;
			return 0;
		}
		p = end;
	}
	return -1;
}

struct veld_websession *veld_web_session(struct veld_server *srv,
					 const char *cookie)
{
	char token[VELD_WEB_TOKEN_TEXT];

	if (!srv->web || !cookie ||
	    cookie_value(cookie, VELD_WEB_COOKIE, token, sizeof(token)) < 0)
		return NULL;
	return veld_websession_find(&srv->web->sessions, token,
				    veld_server_now_ms());
}

int veld_web_same_origin(const char *origin, const char *host)
{
	size_t n;

	if (!origin || !host || !*host)
		return 0;
	/* Behind a TLS-terminating proxy the browser says https while
	 * veldd hears http: the host is what must match. */
	if (!strncmp(origin, "http://", 7))
		origin += 7;
	else if (!strncmp(origin, "https://", 8))
		origin += 8;
	else
		return 0;
	n = strlen(host);
	return strlen(origin) == n && !memcmp(origin, host, n);
}

/* Hex of exactly 2 * n digits into out; 0 or -1. */
static int from_hex(const char *hex, size_t hex_len, uint8_t *out, size_t n)
{
	size_t got = 0;

	if (hex_len != 2 * n)
		return -1;
	for (size_t i = 0; i < hex_len; i++)
		if (!((hex[i] >= '0' && hex[i] <= '9') ||
		      (hex[i] >= 'a' && hex[i] <= 'f') ||
		      (hex[i] >= 'A' && hex[i] <= 'F')))
			return -1;
	if (sodium_hex2bin(out, n, hex, hex_len, NULL, &got, NULL) < 0 ||
	    got != n)
		return -1;
	return 0;
}

/* The members of a request body: a JSON object of strings. */
struct body_args {
	const char *names[4];
	char values[4][256];
	int set[4];
	int bad; /* not an object, a non-string member, too long */
};

static int body_member(void *ctx, const struct veld_json_node *n)
{
	struct body_args *b = ctx;

	if (n->depth == 0) {
		if (n->type != VELD_JSON_OBJECT)
			b->bad = 1;
		return b->bad;
	}
	if (n->depth > 1)
		return 0;
	for (int i = 0; i < 4 && b->names[i]; i++) {
		if (strcmp(n->key, b->names[i]))
			continue;
		if (n->type == VELD_JSON_NULL)
			return 0;
		if (n->type != VELD_JSON_TEXT ||
		    n->text_len >= sizeof(b->values[i]) ||
		    strlen(n->text) != n->text_len) {
			b->bad = 1;
			return 1;
		}
		memcpy(b->values[i], n->text, n->text_len + 1);
		b->set[i] = 1;
	}
	return 0;
}

/* Read q's body into b (names set by the caller); 0 or -1 (malformed). */
static int body_read(struct veld_server *srv, const struct veld_web_req *q,
		     struct body_args *b)
{
	int rc;

	if (!q->body || !q->body_len)
		return -1;
	rc = veld_store_json_walk(store_of(srv), q->body, q->body_len,
				  body_member, b);
	return rc || b->bad ? -1 : 0;
}

/* --- login, logout, session --- */

/* {"name": ..., "csrf": ..., "expires_in": seconds} */
static int session_json(struct veld_server *srv, struct veld_web_resp *r,
			const struct veld_websession *s)
{
	char tail[VELD_WEB_CSRF_TEXT + 64];
	int rc;

	veld_buf_reset(&r->body);
	rc = veld_buf_append(&r->body, "{\"name\":", 8);
	if (rc == 0)
		rc = veld_store_json_quote(store_of(srv), s->name,
					   strlen(s->name), &r->body);
	/* The token is hex and the number ours: nothing to escape. */
	snprintf(tail, sizeof(tail), ",\"csrf\":\"%s\",\"expires_in\":%llu}",
		 s->csrf,
		 (unsigned long long)veld_websession_left_s(
			 s, veld_server_now_ms()));
	if (rc == 0)
		rc = veld_buf_append(&r->body, tail, strlen(tail));
	return rc ? store_failed(srv, r, rc) : reply_body(r, JSON);
}

static void set_cookie(const struct veld_web *w, struct veld_web_resp *r,
		       const char *token, uint64_t max_age)
{
	snprintf(r->cookie, sizeof(r->cookie),
		 "%s=%s; Path=/; Max-Age=%llu; HttpOnly; SameSite=Strict%s",
		 VELD_WEB_COOKIE, token, (unsigned long long)max_age,
		 w->tls ? "; Secure" : "");
}

static int on_login(struct veld_server *srv, const struct veld_web_req *q,
		    struct veld_web_resp *r)
{
	struct veld_web *w = srv->web;
	struct body_args b = {.names = {"code"}};
	struct veld_store *st = store_of(srv);
	struct veld_websession *s;
	struct veld_code_row row;
	char strings[256], token[VELD_WEB_TOKEN_TEXT];
	uint8_t hash[VELD_CODE_HASH_LEN];
	uint64_t now = veld_server_now_ms();
	int rc;

	if (!veld_websession_login_allowed(&w->sessions, now))
		return FAIL(r, 429, "too many failed logins; wait a minute");
	if (body_read(srv, q, &b) < 0 || !b.set[0])
		return FAIL(r, 400, "want {\"code\": \"XXXXX-XXXXX\"}");
	if (veld_code_hash(b.values[0], hash) < 0) {
		veld_websession_login_failed(&w->sessions);
		return FAIL(r, 401, "not a valid code");
	}
	if ((rc = veld_store_begin(st)) < 0)
		return store_failed(srv, r, rc);
	rc = veld_store_code_take(st, hash, veld_hlc_wall_ms(), &row, strings,
				  sizeof(strings));
	/* A field worker's code stays good for its device. */
	if (rc == 0 && strcmp(row.role, "coordinator"))
		rc = VELD_EROLE;
	if (rc == 0)
		rc = veld_store_commit(st);
	if (rc < 0) {
		veld_store_rollback(st);
		if (rc == VELD_ESTORE)
			return store_failed(srv, r, rc);
		veld_websession_login_failed(&w->sessions);
		veld_log_message(&srv->log, VELD_LOG_WARN, "web_login",
				 veld_err_name(rc));
		if (rc == VELD_EROLE)
			return FAIL(r, 403, "not a coordinator code");
		if (rc == VELD_ECODEUSED)
			return FAIL(r, 401, "code already used");
		if (rc == VELD_ECODEEXPIRED)
			return FAIL(r, 401, "code expired");
		return FAIL(r, 401, "unknown code");
	}
	s = veld_websession_new(&w->sessions, row.name, now, token);
	set_cookie(w, r, token, w->sessions.ttl_ms / 1000);
	sodium_memzero(token, sizeof(token));
	veld_log_message(&srv->log, VELD_LOG_INFO, "web_login", "ok");
	return session_json(srv, r, s);
}

static int on_logout(struct veld_web_resp *r, struct veld_web *w,
		     struct veld_websession *s)
{
	veld_websession_end(s);
	snprintf(r->cookie, sizeof(r->cookie),
		 "%s=; Path=/; Max-Age=0; HttpOnly; SameSite=Strict%s",
		 VELD_WEB_COOKIE, w->tls ? "; Secure" : "");
	return reply(r, 200, JSON, "{\"ok\":true}");
}

/* --- reads --- */

static const char *arg(const struct veld_web_req *q, const char *name,
		       char *buf, size_t n)
{
	const char *v = q->arg ? q->arg(q->arg_ctx, name, buf, n) : NULL;

	return v && *v ? v : NULL;
}

static int is_date(const char *s)
{
	static const char shape[] = "dddd-dd-dd";

	if (!s || strlen(s) != sizeof(shape) - 1)
		return 0;
	for (size_t i = 0; shape[i]; i++)
		if (shape[i] == 'd' ? s[i] < '0' || s[i] > '9' : s[i] != '-')
			return 0;
	return 1;
}

static int is_status(const char *s)
{
	return !strcmp(s, "open") || !strcmp(s, "in progress") ||
	       !strcmp(s, "done");
}

static int on_records(struct veld_server *srv, const struct veld_web_req *q,
		      struct veld_web_resp *r, int conflicts, int followups)
{
	char form[256], area[256], street[256], fu[64], text[256], from[32],
		to[32], sort[32], order[8], lim[16], del[8];
	struct veld_dash_filter f = {0};
	int rc;

	f.form = arg(q, "form", form, sizeof(form));
	f.area = arg(q, "area", area, sizeof(area));
	f.street = arg(q, "street", street, sizeof(street));
	f.followup = arg(q, "followup", fu, sizeof(fu));
	f.text = arg(q, "q", text, sizeof(text));
	f.from = arg(q, "from", from, sizeof(from));
	f.to = arg(q, "to", to, sizeof(to));
	f.sort = arg(q, "sort", sort, sizeof(sort));
	f.only_conflicts = conflicts;
	if (followups && !f.followup)
		f.followup = "any";
	if (arg(q, "order", order, sizeof(order)))
		f.desc = !strcmp(order, "desc");
	else
		f.desc = !f.sort; /* newest first by default */
	if (arg(q, "deleted", del, sizeof(del)))
		f.include_deleted = !strcmp(del, "1");
	if (arg(q, "limit", lim, sizeof(lim))) {
		char *end;
		unsigned long v = strtoul(lim, &end, 10);
		if (*end || v == 0 || v > VELD_DASH_LIMIT_MAX)
			return FAIL(r, 400, "limit must be 1..5000");
		f.limit = (unsigned)v;
	}
	if ((f.from && !is_date(f.from)) || (f.to && !is_date(f.to)))
		return FAIL(r, 400, "from and to must be YYYY-MM-DD");
	if (f.sort && !veld_store_dash_sort_ok(f.sort))
		return FAIL(r, 400,
			    "unknown sort (want updated, created, street, "
			    "area, form, followup, conflicts or id)");
	if (f.followup && strcmp(f.followup, "any") && !is_status(f.followup))
		return FAIL(r, 400,
			    "followup must be open, in progress, done or any");
	rc = veld_store_dash_records(store_of(srv), &f, &r->body);
	return rc ? store_failed(srv, r, rc) : reply_body(r, JSON);
}

static int on_record(struct veld_server *srv, struct veld_web_resp *r,
		     const uint8_t id[VELD_RECORD_LEN])
{
	int rc = veld_store_dash_record(store_of(srv), id, srv->key->pk,
					&r->body);

	if (rc < 0)
		return store_failed(srv, r, rc);
	if (rc == 0)
		return FAIL(r, 404, "no such record");
	return reply_body(r, JSON);
}

static int on_counts(struct veld_server *srv, const struct veld_web_req *q,
		     struct veld_web_resp *r)
{
	char form[256];
	const char *f = arg(q, "form", form, sizeof(form));
	int rc;

	if (!f)
		return FAIL(r, 400, "form is required");
	rc = veld_store_dash_counts(store_of(srv), f, &r->body);
	if (rc == VELD_ENOTFOUND)
		return FAIL(r, 404, "no such form");
	return rc ? store_failed(srv, r, rc) : reply_body(r, JSON);
}

/* A file name for a download: the form's name, [A-Za-z0-9_-] only. */
static void safe_name(const char *in, char *out, size_t n)
{
	size_t i = 0;

	for (; in[i] && i + 1 < n && i < 64; i++) {
		char c = in[i];
		out[i] = ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
			  (c >= '0' && c <= '9') || c == '-')
				 ? c
				 : '_';
	}
	out[i] = 0;
}

static int on_export(struct veld_server *srv, const struct veld_web_req *q,
		     struct veld_web_resp *r)
{
	char form[256], fmt[16], name[72], day[16];
	const char *f = arg(q, "form", form, sizeof(form));
	const char *how = arg(q, "format", fmt, sizeof(fmt));
	enum veld_export_format format;
	time_t now = time(NULL);
	struct tm tm;
	int rc;

	if (!f)
		return FAIL(r, 400, "form is required");
	if (!how || !strcmp(how, "csv"))
		format = VELD_EXPORT_CSV;
	else if (!strcmp(how, "csv-excel"))
		format = VELD_EXPORT_CSV_EXCEL;
	else if (!strcmp(how, "json"))
		format = VELD_EXPORT_JSON;
	else
		return FAIL(r, 400, "format must be csv, csv-excel or json");
	/* Coordinators see personal fields: the page is theirs only. */
	rc = veld_store_dash_export(store_of(srv), f, format, 1, &r->body);
	if (rc == VELD_ENOTFOUND)
		return FAIL(r, 404, "no such form");
	if (rc)
		return store_failed(srv, r, rc);
	safe_name(f, name, sizeof(name));
	gmtime_r(&now, &tm);
	strftime(day, sizeof(day), "%Y-%m-%d", &tm);
	snprintf(r->disposition, sizeof(r->disposition),
		 "attachment; filename=\"%s-%s%s.%s\"", name, day,
		 format == VELD_EXPORT_CSV_EXCEL ? "-excel" : "",
		 format == VELD_EXPORT_JSON ? "json" : "csv");
	return reply_body(r,
			  format == VELD_EXPORT_JSON
				  ? JSON
				  : "text/csv; charset=utf-8; header=present");
}

/* --- writes, signed by the server for the coordinator --- */

/* Offer what was just written to sync connections and live pages. */
static int written(struct veld_server *srv, struct veld_web_resp *r,
		   const char *what, const uint8_t op[VELD_HASH_LEN])
{
	char hex[2 * VELD_HASH_LEN + 1];
	char text[160];

	veld_server_committed(srv);
	veld_log_message(&srv->log, VELD_LOG_INFO, "web_write", what);
	sodium_bin2hex(hex, sizeof(hex), op, VELD_HASH_LEN);
	snprintf(text, sizeof(text), "{\"ok\":true,\"op\":\"%s\"}", hex);
	veld_buf_reset(&r->body);
	if (veld_buf_append(&r->body, text, strlen(text)) < 0)
		return store_failed(srv, r, VELD_ENOMEM);
	return reply_body(r, JSON);
}

static int write_failed(struct veld_server *srv, struct veld_web_resp *r,
			int rc)
{
	if (rc == VELD_ENOTFOUND)
		return FAIL(r, 404, "no such record");
	if (rc == VELD_EINVAL || rc == VELD_EBODYSIZE || rc == VELD_ECONTENT)
		return FAIL(r, 400, "refused: not a valid change");
	return store_failed(srv, r, rc);
}

/* The current values of one field, and the one the coordinator chose. */
struct pick {
	const char *field;
	uint8_t op[VELD_HASH_LEN];
	size_t n;
	int found, erased;
	uint8_t value[VELD_BODY_MAX];
	size_t value_len;
};

static int pick_one(void *ctx, const struct veld_value_row *v)
{
	struct pick *p = ctx;

	if (strcmp(v->field, p->field))
		return 0;
	p->n++;
	if (memcmp(v->op, p->op, VELD_HASH_LEN))
		return 0;
	p->found = 1;
	if (!v->value || v->value_len > sizeof(p->value)) {
		p->erased = 1;
		return 0;
	}
	memcpy(p->value, v->value, v->value_len);
	p->value_len = v->value_len;
	return 0;
}

/* Run a local write as s's coordinator: the op carries "by". */
static int as_coordinator(struct veld_server *srv,
			  const struct veld_websession *s)
{
	return veld_replica_set_by(srv->replica, s->name);
}

/* Back to unattributed local writes (cannot fail for NULL). */
static void as_nobody(struct veld_server *srv)
{
	if (veld_replica_set_by(srv->replica, NULL) < 0)
		veld_log_message(&srv->log, VELD_LOG_ERROR, "web", "set_by");
}

static int on_resolve(struct veld_server *srv, const struct veld_web_req *q,
		      struct veld_web_resp *r, uint8_t id[VELD_RECORD_LEN],
		      const struct veld_websession *s)
{
	struct body_args b = {.names = {"field", "op"}};
	struct veld_field fld = {0};
	uint8_t op[VELD_HASH_LEN];
	struct pick *p;
	int rc;

	if (body_read(srv, q, &b) < 0 || !b.set[0] || !b.set[1])
		return FAIL(r, 400, "want {\"field\": ..., \"op\": ...}");
	p = calloc(1, sizeof(*p));
	if (!p)
		return store_failed(srv, r, VELD_ENOMEM);
	p->field = b.values[0];
	if (from_hex(b.values[1], strlen(b.values[1]), p->op, VELD_HASH_LEN)) {
		free(p);
		return FAIL(r, 400, "op must be 64 hex digits");
	}
	rc = veld_store_values(store_of(srv), id, pick_one, p);
	if (rc < 0) {
		free(p);
		return store_failed(srv, r, rc);
	}
	if (!p->found || p->erased || p->n < 2) {
		rc = !p->found ? 404 : 409;
		free(p);
		if (rc == 404)
			return FAIL(r, 404,
				    "that value is not current for that field");
		return FAIL(r, 409, "no conflict to resolve on that field");
	}
	fld.name = p->field;
	fld.mp = p->value;
	fld.mp_len = p->value_len;
	/* The put names every current value as pred: that resolves it. */
	rc = as_coordinator(srv, s);
	if (rc == 0)
		rc = veld_replica_put(srv->replica, id, 0, NULL, NULL, &fld, 1,
				      op);
	as_nobody(srv);
	free(p);
	return rc ? write_failed(srv, r, rc) : written(srv, r, "resolve", op);
}

/* Whether the record exists and can still take values (not erased). */
static int writable_cb(void *ctx, const struct veld_record_row *row)
{
	*(int *)ctx = row->erased ? 2 : 1;
	return 0;
}

static int on_followup(struct veld_server *srv, const struct veld_web_req *q,
		       struct veld_web_resp *r, uint8_t id[VELD_RECORD_LEN],
		       const struct veld_websession *s)
{
	struct body_args b = {.names = {"status", "owner"}};
	struct veld_field f[2] = {{0}};
	uint8_t op[VELD_HASH_LEN];
	int rc, state = 0;

	if (body_read(srv, q, &b) < 0 || !b.set[0] || !is_status(b.values[0]))
		return FAIL(r, 400,
			    "want {\"status\": \"open\" | \"in progress\" | "
			    "\"done\", \"owner\": name}");
	if (b.set[1] && (!*b.values[1] || strlen(b.values[1]) > 64))
		return FAIL(r, 400, "owner must be 1..64 bytes");
	rc = veld_store_record(store_of(srv), id, writable_cb, &state);
	if (rc < 0)
		return store_failed(srv, r, rc);
	if (state == 0)
		return FAIL(r, 404, "no such record");
	if (state == 2)
		return FAIL(r, 409, "the record is erased");
	/* Field order does not matter: the put sorts them. */
	f[0].name = "followup_status";
	f[0].text = b.values[0];
	f[1].name = "followup_owner";
	f[1].text = b.values[1];
	rc = as_coordinator(srv, s);
	if (rc == 0)
		rc = veld_replica_put(srv->replica, id, 0, NULL, NULL, f,
				      b.set[1] ? 2 : 1, op);
	as_nobody(srv);
	return rc ? write_failed(srv, r, rc) : written(srv, r, "followup", op);
}

static int on_note(struct veld_server *srv, const struct veld_web_req *q,
		   struct veld_web_resp *r, uint8_t id[VELD_RECORD_LEN],
		   const struct veld_websession *s)
{
	struct body_args b = {.names = {"text"}};
	uint8_t op[VELD_HASH_LEN];
	int rc;

	if (body_read(srv, q, &b) < 0 || !b.set[0] || !*b.values[0])
		return FAIL(r, 400, "want {\"text\": \"...\"} (1..255 bytes)");
	rc = as_coordinator(srv, s);
	if (rc == 0)
		rc = veld_replica_note(srv->replica, id, b.values[0], op);
	as_nobody(srv);
	return rc ? write_failed(srv, r, rc) : written(srv, r, "note", op);
}

static int on_revoke(struct veld_server *srv, struct veld_web_resp *r,
		     const uint8_t key[VELD_PK_LEN],
		     const struct veld_websession *s)
{
	struct veld_device_info info;
	uint8_t op[VELD_HASH_LEN];
	int rc = veld_registry_lookup(srv, key, &info);

	if (rc == VELD_EAUTH)
		return FAIL(r, 404, "no such device");
	if (rc < 0)
		return store_failed(srv, r, rc);
	if (info.revoked)
		return FAIL(r, 409, "the device is already revoked");
	rc = as_coordinator(srv, s);
	if (rc == 0)
		rc = veld_replica_device(
			srv->replica, key, info.role, info.name,
			info.has_area ? info.area : NULL, 1, op);
	as_nobody(srv);
	if (rc)
		return write_failed(srv, r, rc);
	/* Its open sync connection ends now, not at the next tick. */
	veld_server_check_revoked(srv);
	return written(srv, r, "revoke", op);
}

/* --- routing --- */

static int serve_asset(const char *path, struct veld_web_resp *r)
{
	if (!strcmp(path, "/"))
		path = "/index.html";
	for (size_t i = 0; i < veld_assets_count; i++) {
		if (strcmp(path, veld_assets[i].path))
			continue;
		r->status = 200;
		r->type = veld_assets[i].type;
		r->fixed = veld_assets[i].data;
		r->fixed_len = veld_assets[i].len;
		return 1;
	}
	return 0;
}

/* path is prefix + 2*n hex digits + suffix: id into out.  1 or 0. */
static int path_id(const char *path, const char *prefix, const char *suffix,
		   uint8_t *out, size_t n)
{
	size_t pl = strlen(prefix), sl = strlen(suffix), len = strlen(path);

	if (len != pl + 2 * n + sl || strncmp(path, prefix, pl) ||
	    strcmp(path + pl + 2 * n, suffix))
		return 0;
	return from_hex(path + pl, 2 * n, out, n) == 0;
}

/* Routes behind the session, with the session's method checked. */
static int route_api(struct veld_server *srv, const struct veld_web_req *q,
		     struct veld_web_resp *r, struct veld_websession *s)
{
	const char *p = q->path;
	int get = q->method == VELD_WEB_GET || q->method == VELD_WEB_HEAD;
	uint8_t id[VELD_RECORD_LEN], key[VELD_PK_LEN];
	int rc;

	if (get) {
		if (!strcmp(p, "/api/session"))
			return session_json(srv, r, s);
		if (!strcmp(p, "/api/forms")) {
			rc = veld_store_dash_forms(store_of(srv), &r->body);
			return rc ? store_failed(srv, r, rc)
				  : reply_body(r, JSON);
		}
		if (!strcmp(p, "/api/records"))
			return on_records(srv, q, r, 0, 0);
		if (!strcmp(p, "/api/conflicts"))
			return on_records(srv, q, r, 1, 0);
		if (!strcmp(p, "/api/followups"))
			return on_records(srv, q, r, 0, 1);
		if (!strcmp(p, "/api/devices")) {
			(void)veld_server_flush_notes(srv); /* last_sync */
			rc = veld_store_dash_devices(store_of(srv), &r->body);
			return rc ? store_failed(srv, r, rc)
				  : reply_body(r, JSON);
		}
		if (!strcmp(p, "/api/counts"))
			return on_counts(srv, q, r);
		if (!strcmp(p, "/api/export"))
			return on_export(srv, q, r);
		if (path_id(p, "/api/records/", "", id, sizeof(id)))
			return on_record(srv, r, id);
		return FAIL(r, 404, "no such endpoint");
	}
	/* Writes: POST, from this origin, with the session's CSRF token. */
	if (q->method != VELD_WEB_POST)
		return FAIL(r, 405, "method not allowed");
	if (!veld_web_same_origin(q->origin, q->host))
		return FAIL(r, 403, "cross-origin request refused");
	if (!veld_websession_csrf_ok(s, q->csrf))
		return FAIL(r, 403, "missing or wrong X-CSRF-Token");
	if (!strcmp(p, "/api/logout"))
		return on_logout(r, srv->web, s);
	if (path_id(p, "/api/records/", "/resolve", id, sizeof(id)))
		return on_resolve(srv, q, r, id, s);
	if (path_id(p, "/api/records/", "/followup", id, sizeof(id)))
		return on_followup(srv, q, r, id, s);
	if (path_id(p, "/api/records/", "/notes", id, sizeof(id)))
		return on_note(srv, q, r, id, s);
	if (path_id(p, "/api/devices/", "/revoke", key, sizeof(key)))
		return on_revoke(srv, r, key, s);
	return FAIL(r, 404, "no such endpoint");
}

int veld_web_handle(struct veld_server *srv, const struct veld_web_req *q,
		    struct veld_web_resp *r)
{
	struct veld_websession *s;

	memset(r, 0, sizeof(*r));
	veld_buf_init(&r->body, VELD_WEB_RESPONSE_MAX);
	if (!srv->web)
		return FAIL(r, 404, "no dashboard");
	if (q->method == VELD_WEB_OTHER)
		return FAIL(r, 405, "method not allowed");

	if (strncmp(q->path, "/api/", 5)) {
		if (q->method == VELD_WEB_POST)
			return FAIL(r, 405, "method not allowed");
		if (serve_asset(q->path, r))
			return 0;
		return reply(r, 404, TEXT, "not found\n");
	}
	if (!strcmp(q->path, "/api/login")) {
		if (q->method != VELD_WEB_POST)
			return FAIL(r, 405, "method not allowed");
		/* Login CSRF: a foreign page must not log a browser in. */
		if (!veld_web_same_origin(q->origin, q->host))
			return FAIL(r, 403, "cross-origin request refused");
		return on_login(srv, q, r);
	}
	s = veld_web_session(srv, q->cookie);
	/* The page asks this first: not being logged in is no error. */
	if (!s && !strcmp(q->path, "/api/session") &&
	    q->method != VELD_WEB_POST)
		return reply(r, 200, JSON, "{\"name\":null}");
	if (!s)
		return FAIL(r, 401, "not logged in or session expired");
	/* The dashboard reads the records view: settled up to the last
	 * receipt (settle.h). */
	if (veld_server_settle(srv, SIZE_MAX) < 0)
		return FAIL(r, 500, "store error");
	return route_api(srv, q, r, s);
}

/* --- live and events --- */

void veld_web_committed(struct veld_server *srv)
{
	struct veld_web *w = srv->web;
	int64_t pos;

	/* Records still waiting: the settle that ends the wait calls again. */
	if (!w || !w->wake || veld_replica_unsettled(srv->replica))
		return;
	pos = veld_store_ops_last(store_of(srv));
	if (pos < 0 || pos == w->notified)
		return;
	w->notified = pos;
	w->wake(w->wake_ctx);
}

void veld_web_event(struct veld_server *srv, const struct veld_event *ev)
{
	char key[20 + 2 * 32 + 1], when[32];
	time_t now;
	struct tm tm;

	veld_event_record(srv, ev);
	if ((ev->kind != VELD_EV_AUTH && ev->kind != VELD_EV_ENROL) || ev->err)
		return;
	memcpy(key, "last_sync:", 10);
	sodium_bin2hex(key + 10, sizeof(key) - 10, ev->s->device, 32);
	now = time(NULL);
	gmtime_r(&now, &tm);
	strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
	/* Written within a second (server.h), not in a transaction of its
	 * own: 1,000 devices connecting would be 1,000 waits for the disk. */
	(void)veld_server_note(srv, key, when, strlen(when));
}
