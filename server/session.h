/*
 * session.h - one sync connection's protocol state machine (veld.2).
 *
 * Transport-free: ws.c feeds it whole messages and writes out what it
 * queues; it never sees lws.  States (docs/protocol.md §P3):
 *
 *	HELLO    sent HELLO, waiting for AUTH or ENROL (handshake timeout)
 *	READY    authenticated: PUSH / RECEIPT, PULL / OPS / ACK, live OPS
 *	CLOSING  an ERROR (or nothing) is queued; then the connection closes
 *
 * Memory per connection is bounded: at most VELD_SESSION_OUT_MAX queued
 * messages of at most VELD_MSG_MAX bytes, one PUSH in the worker pool at a
 * time (reading is paused meanwhile) and at most VELD_OPS_WINDOW OPS
 * messages unacknowledged.
 * A slow reader therefore only slows itself.
 */
#ifndef VELD_SESSION_H
#define VELD_SESSION_H

#include <stdint.h>

#include "buf.h"
#include "ingest.h"
#include "registry.h"
#include "server.h"

#define VELD_SESSION_OUT_MAX 4
/* OPS messages in flight while a device catches up (docs/protocol.md P3):
 * the next one is packed and sent while the device applies the one
 * before.  Live OPS, and anything after an OPS with more = false, wait for
 * the ACK as before. */
#define VELD_OPS_WINDOW 2
/* Bytes a queue slot (and ws.c's assembly buffer) may keep allocated
 * between messages; bigger ones are freed once sent (or handled), so an
 * idle connection costs a few KiB whatever it has moved. */
#define VELD_SESSION_KEEP 4096
#define VELD_HANDSHAKE_SECONDS 10

enum veld_session_state {
	VELD_SS_HELLO,
	VELD_SS_READY,
	VELD_SS_CLOSING,
};

struct veld_session {
	struct veld_session *next; /* in srv->sessions */
	struct veld_server *srv;
	void *conn; /* the transport's handle */
	uint64_t id;
	int state;
	uint8_t nonce[VELD_NONCE_LEN];
	uint8_t device[32];
	struct veld_device_info info;
	int push_busy;	      /* a PUSH is being checked */
	int streaming;	      /* PULL received: OPS flow, then live */
	unsigned ops_unacked; /* OPS sent, not yet acknowledged */
	uint64_t unacked[VELD_OPS_WINDOW]; /* their cursors, oldest first */
	int last_more;			   /* the last OPS sent had more */
	int caught_up;	 /* an OPS with more = false was sent */
	uint64_t cursor; /* log position of the last op sent */
	struct veld_buf out[VELD_SESSION_OUT_MAX];
	unsigned out_head, out_n;
	int close_code; /* WebSocket close code once CLOSING */
	char close_text[80];
};

/* Start a session on a new connection: queues HELLO. */
int veld_session_open(struct veld_session *s, struct veld_server *srv,
		      void *conn) __attribute__((warn_unused_result));

/* Forget the session (connection gone). */
void veld_session_close(struct veld_session *s);

/* One complete message from the peer. */
void veld_session_input(struct veld_session *s, const uint8_t *msg, size_t len);

/*
 * Refuse and close: queue ERROR err, then close.  Also for a message that
 * did not arrive whole or as binary (transport's view).  text goes to the
 * log (event.h): a literal or numbers, never anything the peer sent.
 */
void veld_session_fail(struct veld_session *s, int err, const char *text);

/* The next message to send, or NULL; pop it once it is written. */
const struct veld_buf *veld_session_out(struct veld_session *s);
void veld_session_out_pop(struct veld_session *s);

/* A PUSH came back from the worker pool: apply it, answer it. */
void veld_session_push_done(struct veld_session *s,
			    struct veld_ingest_job *job);

/* Most PUSH jobs applied in one transaction (group commit). */
#define VELD_PUSH_GROUP_MAX 64

/*
 * veld_session_push_many - PUSH jobs that came back from the worker pool
 * together (each names its session by id; a session gone meanwhile is
 * skipped): applied in one transaction, each job still all-or-nothing on
 * its own, one commit for all (at most VELD_PUSH_GROUP_MAX at a time),
 * then every receipt or refusal.  The jobs stay the caller's.
 */
void veld_session_push_many(struct veld_server *srv,
			    struct veld_ingest_job **jobs, size_t n);

/* New ops may be in the log: stream them if the peer is ready. */
void veld_session_pump(struct veld_session *s);

#endif /* VELD_SESSION_H */
