/*
 * sync.h - the client side of veld.4: the sync driver used by `veld`.
 *
 * One run connects to the server, authenticates (or enrols with a one-time
 * code), pushes this device's own ops that the server does not have yet,
 * one batch at a time, each answered by a signed receipt, then pulls
 * everything after its cursor and applies it, acknowledging each batch.
 * Without --watch it then closes; with it, it stays connected and applies
 * ops the server pushes live.  With push_only it closes as soon as the
 * server has receipted all of this device's ops (a quick upload on a
 * café's wifi; the pull waits for the next sync).
 *
 * Resumable by construction: what to push is decided from the server's
 * view (WELCOME says how far it has our chain), what to pull from the
 * cursor stored after each applied batch.  An interrupted run repeats at
 * most the batch in flight, and applying an op twice changes nothing.
 * Connection failures are retried with backoff; refusals (bad code,
 * revoked device ...) are not.
 */
#ifndef VELD_CLIENT_SYNC_H
#define VELD_CLIENT_SYNC_H

#include <stdint.h>
#include <stdio.h>

#include "home.h"

struct veld_sync_opts {
	const char *url;  /* ws://host:port/sync or wss://...; NULL: stored */
	const char *code; /* enrol with this one-time code; NULL: AUTH */
	const char *name; /* device name sent with ENROL */
	int watch;	  /* stay connected after catching up */
	int push_only;	  /* stop once our ops are receipted; no pull */
	int attempts;	  /* connection attempts (default 5) */
	const char *ca_file; /* wss: CA file for the server certificate */
	int insecure;	     /* wss: accept any certificate (tests) */
	FILE *progress;	     /* progress lines, or NULL */
};

struct veld_sync_report {
	uint64_t pushed, pulled;       /* ops */
	uint64_t bytes_up, bytes_down; /* WebSocket payload bytes */
	uint64_t receipt_seq;	       /* the server holds our chain to here */
	int err;		       /* 0 or VELD_E* */
	char text[300];		       /* the reason, for people */
	int wiped; /* revoked: local resident data removed */
};

/*
 * veld_sync_global_init - the driver's process-wide set-up: call it once,
 * before the first veld_sync_run and before any thread runs one (as
 * sodium_init()).  libwebsockets keeps its log level process-wide, and in
 * lws 4.1 its log formatter writes every line into one static buffer: runs
 * in several threads at once must not log through it, so pass log_errors
 * 0 for them (each run's error still comes back in its report).  With 1,
 * lws prints its own errors on stderr, as veld does.
 */
void veld_sync_global_init(int log_errors);

/*
 * veld_sync_run - sync the device in home.  For enrolment (opts->code
 * set) the device key must exist and the device must not be enrolled yet;
 * the server's key from HELLO becomes server.pub.  Returns 0 or a
 * VELD_E* code (also in report->err, with report->text).
 *
 * Runs in several threads at once are safe when each has its own home
 * (replica), opts and report, after veld_sync_global_init(0): all of a
 * run's state, its lws context included, is its own.  ws:// only: for
 * wss://, lws 4.1 takes new OpenSSL ex-data indexes into process globals
 * with every context it creates.
 */
int veld_sync_run(const struct veld_home *home,
		  const struct veld_sync_opts *opts,
		  struct veld_sync_report *report)
	__attribute__((warn_unused_result));

/* Meta keys the driver keeps in the replica. */
/* A pull commits what it applied at least this often (client/sync.c,
 * on_ops): another process's local write waits at most about this long
 * for the store. */
#define VELD_PULL_COMMIT_MS 250
#define VELD_PULL_COMMIT_OPS 16384
/* File descriptors a sync's lws context may use: its one connection (a
 * retry closes the old one first), lws's event pipe, and room to spare. */
#define VELD_SYNC_FDS 8

#define VELD_META_URL "server_url"
#define VELD_META_CA "ca_file" /* wss: the CA file given at enrolment */
#define VELD_META_NAME "name"
#define VELD_META_ROLE "role"
#define VELD_META_AREA "area"
#define VELD_META_CURSOR "pull_cursor" /* 8 bytes, big-endian */
#define VELD_META_RECEIPT "receipt"    /* the last RECEIPT message */
#define VELD_META_ACKED "acked_seq"    /* 8 bytes: receipt's seq */
/* 8 bytes: how far the server last said it holds our chain: WELCOME's
 * your_seq or a receipt's seq.  Above acked_seq when a receipt was lost
 * with the connection (the ops arrived; the proof did not). */
#define VELD_META_SERVER_HAS "server_has"
#define VELD_META_LAST_SYNC "last_sync" /* 8 bytes: wall-clock ms */

/* Read/write an 8-byte big-endian meta value (0 if unset). */
int veld_meta_get_u64(struct veld_replica *r, const char *key, uint64_t *v)
	__attribute__((warn_unused_result));
int veld_meta_set_u64(struct veld_replica *r, const char *key, uint64_t v)
	__attribute__((warn_unused_result));

#endif /* VELD_CLIENT_SYNC_H */
