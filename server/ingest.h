/*
 * ingest.h - checking pushed ops off the lws service thread.
 *
 * A PUSH carries its ops as a compressed runs block (runs.h): inflating
 * it, rebuilding and hashing every header and checking the one signature
 * that ends each run costs ~1-3 ms for a full PUSH.  Done on the service
 * thread it would stall every other connection, so a small pool of worker
 * threads decodes and verifies each pushed batch, then wakes the service thread
 * (lws_cancel_service, through the wake callback), which applies the batch to
 * the replica (SQLite stays on the service thread) and answers with a receipt.
 *
 * Threading: submit() and done() are called from the service thread only;
 * the workers touch nothing but the jobs they take.
 */
#ifndef VELD_INGEST_H
#define VELD_INGEST_H

#include <stddef.h>
#include <stdint.h>

#include "msg.h"

#define VELD_INGEST_THREADS 2
/* Checked jobs waiting to be applied, at most: each holds its rebuilt ops
 * (up to ~0.5 MB for a full PUSH), so with many devices pushing at once
 * this, not the number of devices, bounds veldd's memory.  The service
 * thread applies the waiting ones as one group (session.h). */
#define VELD_INGEST_DECODED_MAX 8

struct veld_ingest;

struct veld_ingest_job {
	struct veld_ingest_job *next;
	uint64_t session_id; /* who pushed (the session may be gone) */
	uint64_t batch;	     /* the client's batch number */
	uint8_t author[32];  /* every op must be by this key */
	uint8_t *z;	     /* owned copy of the compressed runs block */
	size_t zlen;
	struct veld_runs runs;	      /* the decoded ops, once checked */
	const struct veld_bytes *ops; /* = runs.ops */
	size_t nops;
	int err;    /* result: 0, or the first op's VELD_E* reason */
	size_t bad; /* index of that op; nops if the block itself failed */
};

/*
 * veld_ingest_new - start threads workers; wake(ctx) is called from a
 * worker after each finished job (it must be thread-safe:
 * lws_cancel_service is).  Returns 0, VELD_ENOMEM or VELD_EIO.
 */
int veld_ingest_new(struct veld_ingest **out, int threads, void (*wake)(void *),
		    void *ctx) __attribute__((warn_unused_result));

/* Stop and join the workers, free every job.  NULL is fine. */
void veld_ingest_free(struct veld_ingest *in);

/*
 * veld_ingest_job_new - a job for one decoded PUSH: copies its runs block.
 * The worker decodes it (veld_runs_decode), checks that every run is by
 * author and verifies the signature ending each run, which authenticates
 * the run (docs/protocol.md §13.1).  NULL on ENOMEM.
 */
struct veld_ingest_job *veld_ingest_job_new(const struct veld_msg *m,
					    uint64_t session_id,
					    const uint8_t author[32]);
void veld_ingest_job_free(struct veld_ingest_job *job);

/* Queue a job (ownership moves to the pool). */
void veld_ingest_submit(struct veld_ingest *in, struct veld_ingest_job *job);

/* Take one finished job (ownership moves to the caller, who gives it back
 * with veld_ingest_release), or NULL. */
struct veld_ingest_job *veld_ingest_done(struct veld_ingest *in);

/* Jobs submitted and not yet released: pushes being checked or waiting
 * to be applied.  Service thread only. */
size_t veld_ingest_busy(const struct veld_ingest *in);

/* veld_ingest_release - free a job that veld_ingest_done() gave, making
 * room for the workers to check the next one.  NULL is fine. */
void veld_ingest_release(struct veld_ingest *in, struct veld_ingest_job *job);

#endif /* VELD_INGEST_H */
