/*
 * ws.c - lws callbacks of the veld.4 sync endpoint; see ws.h.
 */
#include "ws.h"

#include <string.h>

#include "err.h"
#include "event.h"
#include "ingest.h"
#include "msg.h"
#include "session.h"

_Static_assert(LWS_PRE <= VELD_WS_HEADROOM, "raise VELD_WS_HEADROOM");

/* Per connection. */
struct pss {
	struct veld_session s;
	struct veld_buf rx; /* the message being assembled */
	int open;
	/* For the log and the metrics. */
	uint64_t opened_us, bytes_in, bytes_out;
	int peer_code; /* close code in the peer's close frame, or 0 */
};

static struct veld_server *server_of(struct lws *wsi)
{
	return lws_context_user(lws_get_context(wsi));
}

static void want_write(struct veld_session *s)
{
	lws_callback_on_writable(s->conn);
}

static void rx_flow(struct veld_session *s, int on)
{
	lws_rx_flow_control(s->conn, on);
}

void veld_ws_bind(struct veld_server *srv)
{
	srv->tx.want_write = want_write;
	srv->tx.rx_flow = rx_flow;
}

void veld_ws_wake(void *ctx)
{
	lws_cancel_service(ctx);
}

/* Every PUSH the workers have finished, applied as one group (one
 * commit, session.h) while more keep coming. */
static void drain_ingest(struct veld_server *srv)
{
	struct veld_ingest_job *jobs[VELD_PUSH_GROUP_MAX];
	size_t n;

	do {
		for (n = 0; n < VELD_PUSH_GROUP_MAX; n++)
			if (!(jobs[n] = veld_ingest_done(srv->ingest)))
				break;
		veld_session_push_many(srv, jobs, n);
		for (size_t i = 0; i < n; i++)
			veld_ingest_release(srv->ingest, jobs[i]);
	} while (n == VELD_PUSH_GROUP_MAX);
}

/* Sync connections only on /sync. */
static int path_ok(struct lws *wsi)
{
	char uri[64];

	if (lws_hdr_copy(wsi, uri, sizeof(uri), WSI_TOKEN_GET_URI) < 0)
		return 0;
	return strcmp(uri, "/sync") == 0;
}

static int receive(struct pss *p, struct lws *wsi, const void *in, size_t len)
{
	p->bytes_in += len;
	p->s.srv->metrics.bytes_in += len;
	if (!lws_frame_is_binary(wsi)) {
		veld_session_fail(&p->s, VELD_EMSGSHAPE, "text frame");
		return 0;
	}
	if (veld_buf_append(&p->rx, in, len) < 0) {
		veld_session_fail(&p->s, VELD_EMSGSIZE, "message");
		veld_buf_reset(&p->rx);
		return 0;
	}
	if (!lws_is_final_fragment(wsi) || lws_remaining_packet_payload(wsi))
		return 0;
	veld_session_input(&p->s, p->rx.data, p->rx.len);
	if (p->rx.cap > VELD_SESSION_KEEP) /* a PUSH: do not keep it */
		veld_buf_release(&p->rx);
	veld_buf_reset(&p->rx);
	if (p->s.state != VELD_SS_HELLO) /* handshake done (or failed) */
		lws_set_timeout(wsi, NO_PENDING_TIMEOUT, 0);
	return 0;
}

static int writeable(struct pss *p, struct lws *wsi)
{
	const struct veld_buf *m = veld_session_out(&p->s);
	unsigned char *wbuf = p->s.srv->wbuf;

	if (m) {
		/* lws needs LWS_PRE bytes of headroom before the payload. */
		memcpy(wbuf + LWS_PRE, m->data, m->len);
		if (lws_write(wsi, wbuf + LWS_PRE, m->len, LWS_WRITE_BINARY) <
		    (int)m->len)
			return -1;
		p->bytes_out += m->len;
		p->s.srv->metrics.bytes_out += m->len;
		veld_session_out_pop(&p->s);
		if (veld_session_out(&p->s) || p->s.close_code)
			lws_callback_on_writable(wsi);
		return 0;
	}
	if (p->s.state == VELD_SS_CLOSING && p->s.close_code) {
		lws_close_reason(wsi, (enum lws_close_status)p->s.close_code,
				 (unsigned char *)p->s.close_text,
				 strlen(p->s.close_text));
		return -1;
	}
	return 0;
}

/* The connection is gone: say how it ended. */
static void report_close(struct pss *p)
{
	struct veld_event ev = {.kind = VELD_EV_CLOSE, .s = &p->s};

	if (p->s.close_code) { /* we refused or said goodbye */
		ev.code = p->s.close_code;
		ev.by = "server";
	} else if (p->peer_code) {
		ev.code = p->peer_code;
		ev.by = "peer";
	} else { /* no close frame: dropped, timed out */
		ev.code = LWS_CLOSE_STATUS_ABNORMAL_CLOSE;
		ev.by = "none";
	}
	ev.us = veld_server_now_us() - p->opened_us;
	ev.bytes_in = p->bytes_in;
	ev.bytes_out = p->bytes_out;
	veld_event_emit(p->s.srv, &ev);
}

static int callback_veld(struct lws *wsi, enum lws_callback_reasons reason,
			 void *user, void *in, size_t len)
{
	struct pss *p = user;
	struct veld_server *srv;

	switch (reason) {
	case LWS_CALLBACK_FILTER_PROTOCOL_CONNECTION:
		return path_ok(wsi) ? 0 : -1;
	case LWS_CALLBACK_ESTABLISHED:
		srv = server_of(wsi);
		veld_buf_init(&p->rx, VELD_MSG_MAX);
		if (veld_session_open(&p->s, srv, wsi) < 0) {
			/* It is already on the server's list: take it off. */
			veld_session_close(&p->s);
			veld_buf_release(&p->rx);
			return -1;
		}
		p->open = 1;
		p->opened_us = veld_server_now_us();
		veld_event_emit(srv, &(struct veld_event){.kind = VELD_EV_OPEN,
							  .s = &p->s});
		lws_set_timeout(wsi, PENDING_TIMEOUT_USER_OK,
				VELD_HANDSHAKE_SECONDS);
		return 0;
	case LWS_CALLBACK_RECEIVE:
		return p->open ? receive(p, wsi, in, len) : -1;
	case LWS_CALLBACK_SERVER_WRITEABLE:
		return p->open ? writeable(p, wsi) : -1;
	case LWS_CALLBACK_TIMER:
		break;
	case LWS_CALLBACK_WS_PEER_INITIATED_CLOSE:
		/* The payload starts with the code (RFC 6455 5.5.1). */
		if (p && len >= 2)
			p->peer_code = ((const uint8_t *)in)[0] << 8 |
				       ((const uint8_t *)in)[1];
		else if (p)
			p->peer_code = LWS_CLOSE_STATUS_NO_STATUS;
		return 0;
	case LWS_CALLBACK_CLOSED:
		if (p->open) {
			report_close(p);
			veld_session_close(&p->s);
			veld_buf_release(&p->rx);
			p->open = 0;
		}
		return 0;
	case LWS_CALLBACK_EVENT_WAIT_CANCELLED:
		srv = lws_context_user(lws_get_context(wsi));
		if (srv && srv->ingest)
			drain_ingest(srv);
		return 0;
	default:
		break;
	}
	return 0;
}

const struct lws_protocols veld_ws_protocol = {
	.name = VELD_SUBPROTOCOL,
	.callback = callback_veld,
	.per_session_data_size = sizeof(struct pss),
	.rx_buffer_size = 65536,
};

/*
 * The earlier subprotocols, veld.3 (every salt on the wire), veld.2 (runs
 * without derived records and op references) and veld.1 (ops as
 * envelopes, every op signed): a device
 * that still speaks one gets one ERROR saying what to do, then the
 * connection is closed (4400).  Nothing else is read.
 */
static int callback_old(struct lws *wsi, enum lws_callback_reasons reason,
			void *user, void *in, size_t len)
{
	static const char text[] = "this server speaks " VELD_SUBPROTOCOL
				   "; update veld to sync with it";
	unsigned char buf[LWS_PRE + 512];
	int *sent = user;
	struct veld_buf m;
	int rc;

	(void)in;
	(void)len;
	switch (reason) {
	case LWS_CALLBACK_FILTER_PROTOCOL_CONNECTION:
		return path_ok(wsi) ? 0 : -1;
	case LWS_CALLBACK_ESTABLISHED:
		*sent = 0;
		lws_callback_on_writable(wsi);
		lws_set_timeout(wsi, PENDING_TIMEOUT_USER_OK,
				VELD_HANDSHAKE_SECONDS);
		return 0;
	case LWS_CALLBACK_RECEIVE:
		return 0; /* nothing an old device says matters now */
	case LWS_CALLBACK_SERVER_WRITEABLE:
		if (*sent) { /* the ERROR is out: close */
			lws_close_reason(wsi, (enum lws_close_status)4400,
					 (unsigned char *)"version", 7);
			return -1;
		}
		veld_buf_init(&m, sizeof(buf) - LWS_PRE);
		rc = veld_msg_error(&m, VELD_EVERSION, text, 1);
		if (rc == 0) {
			memcpy(buf + LWS_PRE, m.data, m.len);
			rc = lws_write(wsi, buf + LWS_PRE, m.len,
				       LWS_WRITE_BINARY) < (int)m.len
				     ? -1
				     : 0;
		}
		veld_buf_release(&m);
		if (rc < 0)
			return -1;
		*sent = 1;
		lws_callback_on_writable(wsi);
		return 0;
	default:
		break;
	}
	return 0;
}

const struct lws_protocols veld_ws_v3_protocol = {
	.name = VELD_SUBPROTOCOL_V3,
	.callback = callback_old,
	.per_session_data_size = sizeof(int),
	.rx_buffer_size = 4096,
};

const struct lws_protocols veld_ws_v2_protocol = {
	.name = VELD_SUBPROTOCOL_V2,
	.callback = callback_old,
	.per_session_data_size = sizeof(int),
	.rx_buffer_size = 4096,
};

const struct lws_protocols veld_ws_v1_protocol = {
	.name = VELD_SUBPROTOCOL_V1,
	.callback = callback_old,
	.per_session_data_size = sizeof(int),
	.rx_buffer_size = 4096,
};
