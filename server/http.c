/*
 * http.c - veldd's plain-HTTP endpoint; see http.h.
 *
 * The lws 4.1 idiom for a dynamic response: LWS_CALLBACK_HTTP decides the
 * whole response (for a POST: once LWS_CALLBACK_HTTP_BODY_COMPLETION has
 * delivered the body), sends the headers and asks for a writeable
 * callback; LWS_CALLBACK_HTTP_WRITEABLE sends the body, a chunk of at most
 * CHUNK bytes per callback (LWS_WRITE_HTTP, the last LWS_WRITE_HTTP_FINAL),
 * and completes the transaction.  /healthz and /metrics are answered here;
 * every other path is the dashboard's (web.c), which gets the request's
 * method, path, query arguments, a few headers and the body, and nothing
 * of lws.
 */
#include "http.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "key.h"
#include "metrics.h"
#include "server.h"
#include "web.h"

#define HEX_LEN (2 * VELD_PK_LEN)
#define BODY_MAX 256	 /* largest /healthz or error body */
#define HEADERS_MAX 2048 /* status line and headers */
#define CHUNK 16384	 /* body bytes per writeable callback */

#define TEXT_PLAIN "text/plain; charset=utf-8"
#define PROMETHEUS_TEXT "text/plain; version=0.0.4; charset=utf-8"

/* Every dashboard answer: nothing from elsewhere, nothing inline. */
#define CSP                                                                    \
	"default-src 'self'; script-src 'self'; style-src 'self'; "            \
	"img-src 'self'; connect-src 'self'; object-src 'none'; "              \
	"base-uri 'none'; form-action 'self'; frame-ancestors 'none'"

/* Per vhost: configuration copied from the pvo at PROTOCOL_INIT. */
struct vhd_http {
	char server_key_hex[HEX_LEN + 1];
};

/* Request headers the dashboard looks at, copied while they exist. */
struct req_headers {
	char cookie[1024];
	char origin[256];
	char host[256];
	char csrf[80];
};

/* Per HTTP transaction (h1 connection, reused on keep-alive; h2 stream). */
struct pss_http {
	unsigned char buf[LWS_PRE + BODY_MAX]; /* LWS_PRE, then the body */
	struct veld_buf big; /* or, if it holds data: LWS_PRE, then the body */
	struct veld_web_resp web; /* or the dashboard's answer */
	int has_web;
	const unsigned char *out; /* the body being sent */
	size_t body_len, sent;
	int pending;	 /* the body is still to be written */
	int close_after; /* drop the connection once the body is out */
	/* A POST to the dashboard, until its body is complete. */
	int posting, too_big;
	char path[128];
	struct req_headers h;
	struct veld_buf req_body;
	unsigned char chunk[LWS_PRE + CHUNK];
};

static int is_lower_hex(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= '0' && s[i] <= '9') ||
		      (s[i] >= 'a' && s[i] <= 'f')))
			return 0;
	return s[n] == '\0';
}

static int vhd_init(struct lws *wsi,
		    const struct lws_protocol_vhost_options *pvo)
{
	const struct lws_protocol_vhost_options *key;
	struct vhd_http *vhd;

	key = lws_pvo_search(pvo, VELD_HTTP_PVO_SERVER_KEY);
	/* The key goes into JSON verbatim: accept nothing but hex. */
	if (!key || !key->value || strlen(key->value) != HEX_LEN ||
	    !is_lower_hex(key->value, HEX_LEN)) {
		lwsl_err("%s: pvo '%s' missing or not %d hex digits\n",
			 VELD_HTTP_PROTOCOL_NAME, VELD_HTTP_PVO_SERVER_KEY,
			 HEX_LEN);
		return -1;
	}
	vhd = lws_protocol_vh_priv_zalloc(lws_get_vhost(wsi),
					  lws_get_protocol(wsi), sizeof(*vhd));
	if (!vhd)
		return -1;
	memcpy(vhd->server_key_hex, key->value, HEX_LEN + 1);
	return 0;
}

/*
 * The request method, as LWSHUMETH_GET, LWSHUMETH_HEAD, LWSHUMETH_POST or
 * -1 for anything else.  Over h2 the method is a pseudo-header of its own.
 */
static int request_method(struct lws *wsi)
{
	char method[8];
	char *uri;
	int uri_len, m;

	m = lws_http_get_uri_and_method(wsi, &uri, &uri_len);
	if (m == LWSHUMETH_GET || m == LWSHUMETH_HEAD || m == LWSHUMETH_POST)
		return m;
	if (m != LWSHUMETH_COLON_PATH)
		return -1;
	if (lws_hdr_copy(wsi, method, sizeof(method),
			 WSI_TOKEN_HTTP_COLON_METHOD) < 0)
		return -1;
	if (!strcmp(method, "GET"))
		return LWSHUMETH_GET;
	if (!strcmp(method, "HEAD"))
		return LWSHUMETH_HEAD;
	if (!strcmp(method, "POST"))
		return LWSHUMETH_POST;
	return -1;
}

static int set_body(struct pss_http *pss, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Format the response body into pss; -1 if it does not fit (a bug). */
static int set_body(struct pss_http *pss, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf((char *)pss->buf + LWS_PRE, BODY_MAX, fmt, ap);
	va_end(ap);
	if (n < 0 || n >= BODY_MAX) {
		pss->body_len = 0;
		return -1;
	}
	pss->body_len = (size_t)n;
	pss->out = pss->buf + LWS_PRE;
	return 0;
}

/* The /metrics text into pss->big, after LWS_PRE bytes of headroom. */
static int set_metrics(struct lws *wsi, struct pss_http *pss)
{
	static const unsigned char headroom[LWS_PRE];
	const struct veld_server *srv = lws_context_user(lws_get_context(wsi));

	veld_buf_release(&pss->big);
	veld_buf_init(&pss->big, LWS_PRE + VELD_METRICS_MAX);
	if (!srv || veld_buf_append(&pss->big, headroom, LWS_PRE) < 0 ||
	    veld_metrics_render(srv, &pss->big) < 0) {
		lwsl_err("%s: cannot render /metrics\n",
			 VELD_HTTP_PROTOCOL_NAME);
		veld_buf_release(&pss->big);
		return -1;
	}
	pss->body_len = pss->big.len - LWS_PRE;
	pss->out = pss->big.data + LWS_PRE;
	return 0;
}

static int path_is(const char *path, size_t len, const char *want)
{
	return len == strlen(want) && !memcmp(path, want, len);
}

static int add_header(struct lws *wsi, const char *name, const char *value,
		      unsigned char **p, unsigned char *end)
{
	return lws_add_http_header_by_name(wsi, (const unsigned char *)name,
					   (const unsigned char *)value,
					   (int)strlen(value), p, end);
}

static void release_all(struct pss_http *pss)
{
	veld_buf_release(&pss->big);
	veld_buf_release(&pss->req_body);
	if (pss->has_web)
		veld_web_resp_release(&pss->web);
	pss->has_web = 0;
	pss->out = NULL;
}

/* Send the headers of a response whose body is pss->out (body_len). */
static int send_headers(struct lws *wsi, struct pss_http *pss,
			unsigned int status, const char *type, int method)
{
	unsigned char hbuf[LWS_PRE + HEADERS_MAX];
	unsigned char *start = hbuf + LWS_PRE, *p = start;
	unsigned char *end = hbuf + sizeof(hbuf) - 1;
	const struct veld_web_resp *w = pss->has_web ? &pss->web : NULL;

	if (lws_add_http_common_headers(
		    wsi, status, type, (lws_filepos_t)pss->body_len, &p, end) ||
	    add_header(wsi, "x-content-type-options:", "nosniff", &p, end) ||
	    lws_add_http_header_by_token(wsi, WSI_TOKEN_HTTP_CACHE_CONTROL,
					 (const unsigned char *)"no-store", 8,
					 &p, end))
		return -1;
	if (status == HTTP_STATUS_METHOD_NOT_ALLOWED &&
	    add_header(wsi, "allow:", w ? "GET, HEAD, POST" : "GET, HEAD", &p,
		       end))
		return -1;
	if (w && (add_header(wsi, "content-security-policy:", CSP, &p, end) ||
		  add_header(wsi, "referrer-policy:", "no-referrer", &p, end) ||
		  add_header(wsi, "x-frame-options:", "DENY", &p, end)))
		return -1;
	if (w && w->cookie[0] &&
	    add_header(wsi, "set-cookie:", w->cookie, &p, end))
		return -1;
	if (w && w->disposition[0] &&
	    add_header(wsi, "content-disposition:", w->disposition, &p, end))
		return -1;
	if (lws_finalize_write_http_header(wsi, start, &p, end))
		return -1;

	pss->sent = 0;
	if (method == LWSHUMETH_HEAD) {
		/* Headers only; the content-length is what GET would send. */
		release_all(pss);
		if (pss->close_after || lws_http_transaction_completed(wsi))
			return -1;
		return 0;
	}
	pss->pending = 1;
	lws_callback_on_writable(wsi);
	return 0;
}

/* Query arguments for web.c: lws has decoded them already. */
static const char *query_arg(void *ctx, const char *name, char *buf, size_t n)
{
	char key[32], whole[1024];
	const char *v;
	size_t len;

	if (snprintf(key, sizeof(key), "%s=", name) >= (int)sizeof(key))
		return NULL;
	/* lws copies "name=value" and points after the '='. */
	v = lws_get_urlarg_by_name(ctx, key, whole, (int)sizeof(whole));
	if (!v || (len = strlen(v)) >= n)
		return NULL;
	memcpy(buf, v, len + 1);
	return buf;
}

/* A header into dst ("" if absent or too long). */
static void copy_header(struct lws *wsi, char *dst, size_t n,
			enum lws_token_indexes h)
{
	if (lws_hdr_copy(wsi, dst, (int)n, h) < 0)
		dst[0] = 0;
}

static void copy_headers(struct lws *wsi, struct req_headers *h)
{
	copy_header(wsi, h->cookie, sizeof(h->cookie), WSI_TOKEN_HTTP_COOKIE);
	copy_header(wsi, h->origin, sizeof(h->origin), WSI_TOKEN_ORIGIN);
	copy_header(wsi, h->host, sizeof(h->host), WSI_TOKEN_HOST);
	if (!h->host[0]) /* h2 */
		copy_header(wsi, h->host, sizeof(h->host),
			    WSI_TOKEN_HTTP_COLON_AUTHORITY);
	if (lws_hdr_custom_copy(wsi, h->csrf, sizeof(h->csrf),
				"x-csrf-token:", 13) < 0)
		h->csrf[0] = 0;
}

/* Whether a request body follows (a Content-Length above 0, or chunked);
 * without one lws makes no BODY callbacks. */
static int has_body(struct lws *wsi)
{
	char v[24], *end;

	if (lws_hdr_total_length(wsi, WSI_TOKEN_HTTP_TRANSFER_ENCODING) > 0)
		return 1;
	if (lws_hdr_copy(wsi, v, sizeof(v), WSI_TOKEN_HTTP_CONTENT_LENGTH) <= 0)
		return 0;
	return strtoull(v, &end, 10) > 0;
}

/* Hand the request to the dashboard and send its answer. */
static int dispatch_web(struct lws *wsi, struct pss_http *pss, int method)
{
	struct veld_server *srv = lws_context_user(lws_get_context(wsi));
	struct veld_web_req q = {0};
	int rc;

	q.method = method == LWSHUMETH_GET    ? VELD_WEB_GET
		   : method == LWSHUMETH_HEAD ? VELD_WEB_HEAD
		   : method == LWSHUMETH_POST ? VELD_WEB_POST
					      : VELD_WEB_OTHER;
	q.path = pss->path;
	q.cookie = pss->h.cookie[0] ? pss->h.cookie : NULL;
	q.origin = pss->h.origin[0] ? pss->h.origin : NULL;
	q.host = pss->h.host[0] ? pss->h.host : NULL;
	q.csrf = pss->h.csrf[0] ? pss->h.csrf : NULL;
	q.arg = query_arg;
	q.arg_ctx = wsi;
	q.body = (const char *)pss->req_body.data;
	q.body_len = pss->req_body.len;

	rc = veld_web_handle(srv, &q, &pss->web);
	pss->has_web = 1;
	veld_buf_release(&pss->req_body);
	if (rc < 0)
		return -1;
	if (pss->web.fixed) {
		pss->out = pss->web.fixed;
		pss->body_len = pss->web.fixed_len;
	} else {
		pss->out = pss->web.body.data;
		pss->body_len = pss->web.body.len;
	}
	return send_headers(wsi, pss, pss->web.status, pss->web.type, method);
}

/* LWS_CALLBACK_HTTP: decide the response, send its headers. */
static int on_http(struct lws *wsi, struct pss_http *pss,
		   const struct vhd_http *vhd, const char *path, size_t len)
{
	struct veld_server *srv = lws_context_user(lws_get_context(wsi));
	const char *type = TEXT_PLAIN;
	unsigned int status;
	int method, rc;

	release_all(pss);
	pss->pending = 0;
	pss->close_after = 0;
	pss->posting = 0;
	pss->too_big = 0;
	method = request_method(wsi);

	if (method == LWSHUMETH_POST && srv && srv->web &&
	    len < sizeof(pss->path)) {
		/* The dashboard's: answered once the body is in. */
		memcpy(pss->path, path, len);
		pss->path[len] = 0;
		copy_headers(wsi, &pss->h);
		veld_buf_init(&pss->req_body, VELD_WEB_BODY_MAX);
		pss->posting = 1;
		if (!has_body(wsi)) {
			/* No body at all: no BODY callbacks will come. */
			pss->posting = 0;
			pss->close_after = 1;
			return dispatch_web(wsi, pss, method);
		}
		return 0;
	}
	if (method < 0 || method == LWSHUMETH_POST) {
		status = HTTP_STATUS_METHOD_NOT_ALLOWED;
		rc = set_body(pss, "method not allowed\n");
		/* A request body may follow that we will not read. */
		pss->close_after = 1;
	} else if (path_is(path, len, "/healthz")) {
		status = HTTP_STATUS_OK;
		type = "application/json";
		rc = set_body(pss,
			      "{\"status\":\"ok\",\"version\":\"%s\","
			      "\"server_key\":\"%s\"}",
			      VELDD_VERSION, vhd->server_key_hex);
	} else if (path_is(path, len, "/metrics")) {
		status = HTTP_STATUS_OK;
		type = PROMETHEUS_TEXT;
		rc = set_metrics(wsi, pss);
	} else if (srv && srv->web && len < sizeof(pss->path)) {
		memcpy(pss->path, path, len);
		pss->path[len] = 0;
		copy_headers(wsi, &pss->h);
		return dispatch_web(wsi, pss, method);
	} else {
		status = HTTP_STATUS_NOT_FOUND;
		rc = set_body(pss, "not found\n");
	}
	if (rc < 0)
		return -1;
	return send_headers(wsi, pss, status, type, method);
}

/* LWS_CALLBACK_HTTP_WRITEABLE: the body, a chunk at a time. */
static int on_writeable(struct lws *wsi, struct pss_http *pss)
{
	size_t n = pss->body_len - pss->sent;
	int last, written;

	if (!pss->pending)
		return 0;
	if (n > CHUNK)
		n = CHUNK;
	last = pss->sent + n == pss->body_len;
	/* lws needs LWS_PRE bytes of headroom before what it writes. */
	if (n)
		memcpy(pss->chunk + LWS_PRE, pss->out + pss->sent, n);
	written = lws_write(wsi, pss->chunk + LWS_PRE, n,
			    last ? LWS_WRITE_HTTP_FINAL : LWS_WRITE_HTTP);
	if (written < 0 || (size_t)written != n)
		return -1;
	pss->sent += n;
	if (!last) {
		lws_callback_on_writable(wsi);
		return 0;
	}
	pss->pending = 0;
	release_all(pss);
	/* lws flushes what is still buffered before it closes. */
	if (pss->close_after)
		return -1;
	if (lws_http_transaction_completed(wsi))
		return -1;
	return 0;
}

static int callback_http(struct lws *wsi, enum lws_callback_reasons reason,
			 void *user, void *in, size_t len)
{
	struct pss_http *pss = user;
	const struct vhd_http *vhd;

	switch (reason) {
	case LWS_CALLBACK_PROTOCOL_INIT:
		return vhd_init(wsi, in);

	case LWS_CALLBACK_HTTP:
		vhd = lws_protocol_vh_priv_get(lws_get_vhost(wsi),
					       lws_get_protocol(wsi));
		if (!vhd || !pss)
			return -1;
		return on_http(wsi, pss, vhd, in, len);

	case LWS_CALLBACK_HTTP_WRITEABLE:
		return pss ? on_writeable(wsi, pss) : 0;

	case LWS_CALLBACK_CLOSED_HTTP:
		if (pss) /* closed before the body went out */
			release_all(pss);
		break;

	case LWS_CALLBACK_HTTP_BODY:
		/* Only dashboard POSTs read their body; 405 answers close
		 * the connection themselves. */
		if (pss && pss->posting && !pss->too_big &&
		    veld_buf_append(&pss->req_body, in, len) < 0)
			pss->too_big = 1;
		return 0;

	case LWS_CALLBACK_HTTP_BODY_COMPLETION:
		if (!pss || !pss->posting)
			return 0;
		pss->posting = 0;
		if (pss->too_big) {
			release_all(pss);
			pss->close_after = 1;
			if (set_body(pss, "request body too large\n") < 0)
				return -1;
			return send_headers(wsi, pss,
					    HTTP_STATUS_REQ_ENTITY_TOO_LARGE,
					    TEXT_PLAIN, LWSHUMETH_POST);
		}
		return dispatch_web(wsi, pss, LWSHUMETH_POST);

	case LWS_CALLBACK_FILTER_PROTOCOL_CONNECTION:
		/* Upgrades name their subprotocol (veld.2, veld-live...). */
		return 1;

	default:
		break;
	}
	return lws_callback_http_dummy(wsi, reason, user, in, len);
}

const struct lws_protocols veld_http_protocol = {
	.name = VELD_HTTP_PROTOCOL_NAME,
	.callback = callback_http,
	.per_session_data_size = sizeof(struct pss_http),
};
