/*
 * server.h - what one running veldd shares between its modules.
 *
 * main.c owns it; ws.c (the lws callbacks), session.c (the protocol state
 * machine of one connection), ingest.c (signature checks on worker
 * threads) and registry.c (who may connect) all borrow it.  Everything here
 * is touched only from the lws service thread, except what ingest.c says.
 */
#ifndef VELD_SERVER_H
#define VELD_SERVER_H

#include <stddef.h>
#include <stdint.h>

#include "key.h"
#include "log.h"
#include "metrics.h"
#include "replica.h"

/* Room the transport needs before a message (lws's LWS_PRE is 16 in
 * lws 4.1 on 64-bit; checked in ws.c). */
#define VELD_WS_HEADROOM 64

struct veld_session;
struct veld_ingest;
struct veld_event;
struct veld_web;
struct veld_settle;

/* How session.c asks the transport (ws.c) to act on a connection. */
struct veld_transport {
	/* Call back when the connection can take a message. */
	void (*want_write)(struct veld_session *s);
	/* Stop (0) or resume (1) reading from the connection. */
	void (*rx_flow)(struct veld_session *s, int on);
	/* Records wait to be settled (veld_server_pushed): call
	 * veld_server_settle when the pushes pause.  NULL: settle at once. */
	void (*want_settle)(struct veld_server *srv);
};

/*
 * What veldd notes for operators about each device in the store's meta
 * table: when it last authenticated ("last_sync:<key hex>", web.c) and how
 * far it has pulled ("ack:<key hex>", session.c).  Noted in memory and
 * written VELD_NOTES_MAX at a time or once a second
 * (veld_server_flush_notes), never one transaction per message: each would
 * wait for the disk on the service thread, and a live op sent to 1,000
 * connected devices comes back as 1,000 ACKs.
 */
#define VELD_NOTES_MAX 64
#define VELD_NOTE_KEY_MAX 80
#define VELD_NOTE_VALUE_MAX 32
struct veld_meta_note {
	char key[VELD_NOTE_KEY_MAX];
	uint8_t value[VELD_NOTE_VALUE_MAX];
	size_t len;
};

struct veld_server {
	struct veld_replica *replica; /* the server's replica (owned) */
	const struct veld_key *key;   /* the server key (borrowed) */
	struct veld_ingest *ingest;   /* worker pool (owned) */
	struct veld_transport tx;
	struct veld_session *sessions; /* every open connection */
	uint64_t next_session_id;
	/* Scratch for one outgoing message plus the transport's headroom
	 * (VELD_WS_HEADROOM + VELD_MSG_MAX bytes; owned). */
	unsigned char *wbuf;
	/* Enrolment attempts: a token bucket shared by all connections. */
	double enrol_tokens;
	uint64_t enrol_refill_ms;
	/* Observability (service thread only): the structured log, the
	 * counters behind /metrics, and where sessions report events
	 * (event.h; NULL: nobody listens, as in tests). */
	struct veld_log log;
	struct veld_metrics metrics;
	void (*on_event)(struct veld_server *srv, const struct veld_event *ev);
	/* The dashboard (web.h; NULL: none, as in tests), and what runs
	 * after ops were committed (veld_server_committed; may be NULL). */
	struct veld_web *web;
	void (*on_commit)(struct veld_server *srv);
	/* The timer behind tx.want_settle (settle.h; owned by main.c). */
	struct veld_settle *settle;
	/* Notes not yet written (veld_server_note). */
	struct veld_meta_note notes[VELD_NOTES_MAX];
	size_t nnotes;
};

/* Milliseconds on CLOCK_MONOTONIC (timeouts, rate limits). */
uint64_t veld_server_now_ms(void);

/* Microseconds on CLOCK_MONOTONIC (durations that are logged). */
uint64_t veld_server_now_us(void);

/*
 * veld_server_check_revoked - end the connections of devices revoked since
 * they authenticated (a revocation may come from another process).
 */
void veld_server_check_revoked(struct veld_server *srv);

/*
 * veld_server_committed - ops were committed to the replica: offer them to
 * every connection that is streaming (live push).
 */
void veld_server_committed(struct veld_server *srv);

/*
 * veld_server_pushed - pushes were committed and receipted; the records
 * they touched may wait (replica.h, deferred records): ask the transport
 * to settle them when the pushes pause, or settle them now.
 */
void veld_server_pushed(struct veld_server *srv);

/*
 * veld_server_note - set meta key to value (len bytes) with the next
 * veld_server_flush_notes; a later note of the same key replaces it.
 * Flushes by itself once VELD_NOTES_MAX keys wait.  VELD_EINVAL for a key
 * or value longer than VELD_NOTE_KEY_MAX - 1 / VELD_NOTE_VALUE_MAX bytes.
 */
int veld_server_note(struct veld_server *srv, const char *key,
		     const void *value, size_t len);

/*
 * veld_server_flush_notes - write the waiting notes in one transaction
 * (main.c: every second, and before the store closes; web.c: before it
 * shows them).  Monitoring only: if the store refuses, they are dropped
 * and nothing else is affected; 0, or the store's VELD_E* code to log.
 */
int veld_server_flush_notes(struct veld_server *srv);

/*
 * veld_server_settle - settle up to max waiting records; once none is
 * left, veld_server_committed (the dashboard hears of them).  0, or VELD_E*
 * with all of them still waiting; whatever reads the records view calls it
 * first.
 */
int veld_server_settle(struct veld_server *srv, size_t max);

#endif /* VELD_SERVER_H */
