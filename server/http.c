/*
 * http.c - veldd's plain-HTTP endpoint; see http.h.
 *
 * The lws 4.1 idiom for a dynamic response: LWS_CALLBACK_HTTP decides the
 * whole response, sends the headers and asks for a writeable callback;
 * LWS_CALLBACK_HTTP_WRITEABLE sends the body with one LWS_WRITE_HTTP_FINAL
 * and completes the transaction.  Responses are a few hundred bytes, built
 * in a fixed buffer in the per-session struct; only /metrics is bigger and
 * goes into a bounded struct veld_buf (VELD_METRICS_MAX), freed as soon as
 * it is written.  Nothing in the request but its method and path is looked
 * at.
 */
#include "http.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "key.h"
#include "metrics.h"
#include "server.h"

#define HEX_LEN (2 * VELD_PK_LEN)
#define BODY_MAX 256	/* largest response body we ever send */
#define HEADERS_MAX 512 /* status line and headers */

#define TEXT_PLAIN "text/plain; charset=utf-8"
#define PROMETHEUS_TEXT "text/plain; version=0.0.4; charset=utf-8"

/* Per vhost: configuration copied from the pvo at PROTOCOL_INIT. */
struct vhd_http {
	char server_key_hex[HEX_LEN + 1];
};

/* Per HTTP transaction (h1 connection, reused on keep-alive; h2 stream). */
struct pss_http {
	unsigned char buf[LWS_PRE + BODY_MAX]; /* LWS_PRE, then the body */
	struct veld_buf big; /* or, if it holds data: LWS_PRE, then the body */
	size_t body_len;
	int pending;	 /* the body is still to be written */
	int close_after; /* drop the connection once the body is out */
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
 * The request method, as LWSHUMETH_GET, LWSHUMETH_HEAD or -1 for anything
 * else.  Over h2 the method is a pseudo-header of its own.
 */
static int request_method(struct lws *wsi)
{
	char method[8];
	char *uri;
	int uri_len, m;

	m = lws_http_get_uri_and_method(wsi, &uri, &uri_len);
	if (m == LWSHUMETH_GET || m == LWSHUMETH_HEAD)
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
	return 0;
}

static int path_is(const char *path, size_t len, const char *want)
{
	return len == strlen(want) && !memcmp(path, want, len);
}

/* LWS_CALLBACK_HTTP: decide the response, send its headers. */
static int on_http(struct lws *wsi, struct pss_http *pss,
		   const struct vhd_http *vhd, const char *path, size_t len)
{
	unsigned char hbuf[LWS_PRE + HEADERS_MAX];
	unsigned char *start = hbuf + LWS_PRE, *p = start;
	unsigned char *end = hbuf + sizeof(hbuf) - 1;
	const char *type = TEXT_PLAIN;
	unsigned int status;
	int method, rc;

	pss->pending = 0;
	pss->close_after = 0;
	method = request_method(wsi);

	if (method < 0) {
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
	} else {
		status = HTTP_STATUS_NOT_FOUND;
		rc = set_body(pss, "not found\n");
	}
	if (rc < 0)
		return -1;

	if (lws_add_http_common_headers(
		    wsi, status, type, (lws_filepos_t)pss->body_len, &p, end) ||
	    lws_add_http_header_by_name(
		    wsi, (const unsigned char *)"x-content-type-options:",
		    (const unsigned char *)"nosniff", 7, &p, end) ||
	    lws_add_http_header_by_token(wsi, WSI_TOKEN_HTTP_CACHE_CONTROL,
					 (const unsigned char *)"no-store", 8,
					 &p, end))
		return -1;
	if (status == HTTP_STATUS_METHOD_NOT_ALLOWED &&
	    lws_add_http_header_by_name(wsi, (const unsigned char *)"allow:",
					(const unsigned char *)"GET, HEAD", 9,
					&p, end))
		return -1;
	if (lws_finalize_write_http_header(wsi, start, &p, end))
		return -1;

	if (method == LWSHUMETH_HEAD) {
		/* Headers only; the content-length is what GET would send. */
		veld_buf_release(&pss->big);
		if (lws_http_transaction_completed(wsi))
			return -1;
		return 0;
	}
	pss->pending = 1;
	lws_callback_on_writable(wsi);
	return 0;
}

/* LWS_CALLBACK_HTTP_WRITEABLE: the body, in one final write. */
static int on_writeable(struct lws *wsi, struct pss_http *pss)
{
	unsigned char *body = pss->big.data ? pss->big.data : pss->buf;
	int n = (int)pss->body_len, written;

	if (!pss->pending)
		return 0;
	pss->pending = 0;
	written = lws_write(wsi, body + LWS_PRE, pss->body_len,
			    LWS_WRITE_HTTP_FINAL);
	/* lws keeps its own copy of what the socket did not take. */
	veld_buf_release(&pss->big);
	if (written != n)
		return -1;
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
			veld_buf_release(&pss->big);
		break;

	case LWS_CALLBACK_HTTP_BODY:
	case LWS_CALLBACK_HTTP_BODY_COMPLETION:
		/*
		 * Only 405 answers have a body to ignore, and they close the
		 * connection themselves; the default handler would complete
		 * the transaction under them.
		 */
		return 0;

	case LWS_CALLBACK_FILTER_PROTOCOL_CONNECTION:
		/* No WebSocket endpoint yet: refuse every upgrade. */
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
