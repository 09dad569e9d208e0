/*
 * live.c - the dashboard's live WebSocket; see live.h.
 *
 * Each connection remembers its session id and the op position it last
 * announced; a wake (web.c, after a commit) asks every connection of the
 * protocol for a writeable callback, where it sends one small message if
 * the log moved on.  Nothing is queued, so a slow page costs no memory.
 */
#include "live.h"

#include <stdio.h>
#include <string.h>

#include "replica.h"
#include "store.h"
#include "web.h"
#include "websession.h"

struct pss_live {
	uint64_t session; /* websession id */
	int64_t sent;	  /* newest position announced */
	int closing;
};

static struct veld_server *server_of(struct lws *wsi)
{
	return lws_context_user(lws_get_context(wsi));
}

void veld_live_wake(void *context)
{
	lws_callback_on_writable_all_protocol(context, &veld_live_protocol);
}

void veld_live_tick(struct lws_context *context)
{
	/* The writeable callback checks the session. */
	lws_callback_on_writable_all_protocol(context, &veld_live_protocol);
}

/* The upgrade: same origin, a live session; 0 to accept. */
static int filter(struct lws *wsi, struct pss_live *p)
{
	struct veld_server *srv = server_of(wsi);
	char uri[16], origin[256], host[256], cookie[1024];
	struct veld_websession *s;

	if (!srv || !srv->web ||
	    lws_hdr_copy(wsi, uri, sizeof(uri), WSI_TOKEN_GET_URI) < 0 ||
	    strcmp(uri, "/live"))
		return -1;
	if (lws_hdr_copy(wsi, origin, sizeof(origin), WSI_TOKEN_ORIGIN) <= 0 ||
	    lws_hdr_copy(wsi, host, sizeof(host), WSI_TOKEN_HOST) <= 0 ||
	    !veld_web_same_origin(origin, host))
		return -1;
	if (lws_hdr_copy(wsi, cookie, sizeof(cookie), WSI_TOKEN_HTTP_COOKIE) <=
	    0)
		return -1;
	s = veld_web_session(srv, cookie);
	if (!s)
		return -1;
	p->session = s->id;
	return 0;
}

static int writeable(struct lws *wsi, struct pss_live *p)
{
	struct veld_server *srv = server_of(wsi);
	unsigned char buf[LWS_PRE + 64];
	int64_t pos;
	int n;

	if (!srv || !srv->web ||
	    !veld_websession_alive(&srv->web->sessions, p->session,
				   veld_server_now_ms())) {
		lws_close_reason(wsi, LWS_CLOSE_STATUS_POLICY_VIOLATION,
				 (unsigned char *)"session ended", 13);
		return -1;
	}
	pos = veld_store_ops_last(veld_replica_store(srv->replica));
	if (pos < 0 || pos == p->sent)
		return 0;
	n = snprintf((char *)buf + LWS_PRE, sizeof(buf) - LWS_PRE,
		     "{\"type\":\"ops\",\"pos\":%lld}", (long long)pos);
	if (lws_write(wsi, buf + LWS_PRE, (size_t)n, LWS_WRITE_TEXT) < n)
		return -1;
	p->sent = pos;
	return 0;
}

static int callback_live(struct lws *wsi, enum lws_callback_reasons reason,
			 void *user, void *in, size_t len)
{
	struct pss_live *p = user;

	(void)in;
	switch (reason) {
	case LWS_CALLBACK_FILTER_PROTOCOL_CONNECTION:
		return p ? filter(wsi, p) : -1;
	case LWS_CALLBACK_ESTABLISHED:
		/* Announce the current position: the page knows it is live. */
		p->sent = -1;
		lws_callback_on_writable(wsi);
		return 0;
	case LWS_CALLBACK_SERVER_WRITEABLE:
		return writeable(wsi, p);
	case LWS_CALLBACK_RECEIVE:
		return len > 256 ? -1 : 0;
	default:
		break;
	}
	return 0;
}

const struct lws_protocols veld_live_protocol = {
	.name = VELD_LIVE_PROTOCOL_NAME,
	.callback = callback_live,
	.per_session_data_size = sizeof(struct pss_live),
	.rx_buffer_size = 256,
};
