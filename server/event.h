/*
 * event.h - what a sync connection reports about itself, for the log and
 * the metrics.
 *
 * session.c and ws.c describe what happened in a struct veld_event and
 * hand it to srv->on_event; in veldd that is veld_event_record(), the one
 * place that decides how each event is logged (log.h) and counted
 * (metrics.h).  Reading that one function is enough to check that no
 * personal data reaches the log: an event carries the session (for its id
 * and the first bytes of the device key), counts, timings and error codes.
 *
 * session.c reaches the recorder only through the hook, the way it reaches
 * the transport through srv->tx: tests/test_session.c runs it with a
 * zeroed struct veld_server, that is without log and metrics.
 */
#ifndef VELD_EVENT_H
#define VELD_EVENT_H

#include <stdint.h>

#include "server.h"

struct veld_session;

enum veld_event_kind {
	VELD_EV_OPEN,	      /* a sync connection opened */
	VELD_EV_CLOSE,	      /* it closed: code, by, us, bytes_in, bytes_out */
	VELD_EV_AUTH,	      /* AUTH answered: err (0: welcome) */
	VELD_EV_ENROL,	      /* ENROL answered: err (0: enrolled) */
	VELD_EV_PUSH,	      /* a batch committed: n ops, batch, seq, us */
	VELD_EV_PUSH_REFUSED, /* a batch refused: err, n ops, bad, batch */
	VELD_EV_PULL,	      /* an OPS message queued: n ops, more */
	VELD_EV_ERROR,	      /* the session failed: err, detail */
};

struct veld_event {
	enum veld_event_kind kind;
	const struct veld_session *s; /* borrowed, for the call */
	int err;		      /* a VELD_E* code, or 0 */
	uint64_t n;		      /* ops */
	uint64_t batch;		      /* the client's batch number */
	uint64_t seq;		      /* the device's head after a push */
	uint64_t bad;		      /* index of the refused op */
	uint64_t us;		      /* duration, microseconds */
	int more;		      /* PULL: another OPS follows */
	int code;		      /* CLOSE: the WebSocket close code */
	const char *by;		      /* CLOSE: "server", "peer" or "none" */
	uint64_t bytes_in, bytes_out; /* CLOSE: this connection's payload */
	/* ERROR: a literal (or numbers) written by us, never peer data. */
	const char *detail;
};

/*
 * veld_event_record - log ev on srv->log and count it in srv->metrics.
 * Service thread only.  This is what veldd puts in srv->on_event.
 */
void veld_event_record(struct veld_server *srv, const struct veld_event *ev);

/* Hand ev to srv->on_event, if anybody listens. */
static inline void veld_event_emit(struct veld_server *srv,
				   const struct veld_event *ev)
{
	if (srv->on_event)
		srv->on_event(srv, ev);
}

#endif /* VELD_EVENT_H */
