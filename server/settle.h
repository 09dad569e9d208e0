/*
 * settle.h - when veldd settles the records that pushes left for after
 * their receipts (replica.h, deferred records; server.h,
 * veld_server_pushed): the transport's want_settle, a timer on the lws
 * service loop.
 *
 * A device's receipt waits only for its ops to be verified and durable in
 * the log.  The records view (what the dashboard, exports and the state
 * hash read) follows, and pushes come first: settling waits while pushes
 * are being checked or applied and for VELD_SETTLE_QUIET_MS after the last
 * commit, but never longer than VELD_SETTLE_LAG_MS after the first record
 * began to wait (a steady stream of pushes still reaches the dashboard).
 * It then settles VELD_SETTLE_CHUNK records per transaction, returning to
 * the service loop between them, until none is left.  A store failure is
 * logged and tried again a second later; veldd's next start settles
 * whatever is left.  The dashboard's API settles everything first
 * (web.c), so it never shows less than the receipts promised.
 *
 * Service thread only.
 */
#ifndef VELD_SETTLE_H
#define VELD_SETTLE_H

#include <libwebsockets.h>

#include "server.h"

#define VELD_SETTLE_QUIET_MS 10
#define VELD_SETTLE_LAG_MS 500
#define VELD_SETTLE_CHUNK 256

/* The timer of one server (main.c owns it). */
struct veld_settle {
	lws_sorted_usec_list_t sul;
	struct lws_context *context;
	struct veld_server *srv;
	uint64_t since_ms; /* when the first waiting record began to wait */
	uint64_t push_ms;  /* the last commit that left records waiting */
	int armed;
};

/* Bind the timer to srv (srv->settle, srv->tx.want_settle). */
void veld_settle_bind(struct veld_settle *st, struct veld_server *srv,
		      struct lws_context *context);

#endif /* VELD_SETTLE_H */
