/*
 * settle.c - settling deferred records between pushes; see settle.h.
 */
#include "settle.h"

#include <string.h>

#include "ingest.h"

static void on_timer(lws_sorted_usec_list_t *sul);

static void arm(struct veld_settle *st, lws_usec_t us)
{
	if (!st->armed) {
		st->armed = 1;
		lws_sul_schedule(st->context, 0, &st->sul, on_timer, us);
	}
}

static void on_timer(lws_sorted_usec_list_t *sul)
{
	struct veld_settle *st = lws_container_of(sul, struct veld_settle, sul);
	struct veld_server *srv = st->srv;
	uint64_t now = veld_server_now_ms();

	st->armed = 0;
	if (!veld_replica_unsettled(srv->replica)) {
		st->since_ms = 0;
		return;
	}
	/* Pushes first, within the lag bound. */
	if ((veld_ingest_busy(srv->ingest) ||
	     now - st->push_ms < VELD_SETTLE_QUIET_MS) &&
	    now - st->since_ms < VELD_SETTLE_LAG_MS) {
		arm(st, VELD_SETTLE_QUIET_MS * LWS_US_PER_MS);
		return;
	}
	if (veld_server_settle(srv, VELD_SETTLE_CHUNK) < 0) {
		veld_log_message(&srv->log, VELD_LOG_ERROR, "settle",
				 "cannot settle the records of the last "
				 "pushes; trying again in a second");
		arm(st, LWS_US_PER_SEC);
	} else if (veld_replica_unsettled(srv->replica))
		arm(st, 0);
	else
		st->since_ms = 0;
}

static void want_settle(struct veld_server *srv)
{
	struct veld_settle *st = srv->settle;
	uint64_t now = veld_server_now_ms();

	if (!st->since_ms)
		st->since_ms = now;
	st->push_ms = now;
	arm(st, VELD_SETTLE_QUIET_MS * LWS_US_PER_MS);
}

void veld_settle_bind(struct veld_settle *st, struct veld_server *srv,
		      struct lws_context *context)
{
	memset(st, 0, sizeof(*st));
	st->srv = srv;
	st->context = context;
	srv->settle = st;
	srv->tx.want_settle = want_settle;
}
