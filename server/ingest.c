/*
 * ingest.c - worker pool that decodes and verifies pushed batches; see
 * ingest.h.  Two queues under one mutex: todo (service thread -> workers)
 * and done (workers -> service thread).
 */
#include "ingest.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "merge.h"

struct veld_ingest {
	pthread_mutex_t lock;
	pthread_cond_t work;
	struct veld_ingest_job *todo, *todo_tail;
	struct veld_ingest_job *done, *done_tail;
	int stop;
	size_t decoded; /* jobs taken by a worker and not yet released */
	size_t busy;	/* submitted, not yet released (service thread) */
	int nthreads;
	pthread_t threads[8];
	void (*wake)(void *);
	void *wake_ctx;
};

static void push(struct veld_ingest_job **head, struct veld_ingest_job **tail,
		 struct veld_ingest_job *job)
{
	job->next = NULL;
	if (*tail)
		(*tail)->next = job;
	else
		*head = job;
	*tail = job;
}

static struct veld_ingest_job *pop(struct veld_ingest_job **head,
				   struct veld_ingest_job **tail)
{
	struct veld_ingest_job *job = *head;

	if (job) {
		*head = job->next;
		if (!*head)
			*tail = NULL;
	}
	return job;
}

/*
 * Decode the runs, check whose they are and verify one signature per run
 * (the linkage within a run holds by construction: each op's prev is
 * rebuilt as the id of the op before it).
 */
static void check(struct veld_ingest_job *job)
{
	int rc =
		veld_runs_decode(job->z, job->zlen, VELD_BATCH_MAX, &job->runs);

	job->bad = job->runs.bad;
	if (rc == 0 && job->runs.n == 0)
		rc = VELD_EMSGSHAPE; /* a PUSH carries at least one op */
	for (size_t i = 0; rc == 0 && i < job->runs.nruns; i++)
		if (memcmp(job->runs.runs[i].author, job->author, 32) != 0) {
			rc = VELD_EAUTH; /* a device pushes its own ops */
			job->bad = job->runs.runs[i].first;
		}
	if (rc == 0)
		rc = veld_runs_verify(&job->runs, &job->bad);
	/* The content checks were made by veld_runs_decode, here rather than
	 * on the service thread, which applies the ops; an op that fails one
	 * is left unmarked, and the replica refuses it in its turn, as it
	 * would have. */
	job->err = rc;
	if (rc == 0) {
		job->ops = job->runs.ops;
		job->nops = job->runs.n;
	}
}

static void *worker(void *arg)
{
	struct veld_ingest *in = arg;

	pthread_mutex_lock(&in->lock);
	for (;;) {
		struct veld_ingest_job *job;

		/* Bounded: a checked job holds its rebuilt ops (up to ~0.5 MB)
		 * until the service thread has applied and released it. */
		while (!in->stop &&
		       (!in->todo || in->decoded >= VELD_INGEST_DECODED_MAX))
			pthread_cond_wait(&in->work, &in->lock);
		if (in->stop)
			break;
		job = pop(&in->todo, &in->todo_tail);
		/* Counted from now on, not once checked: with two workers,
		 * both could otherwise take a job at MAX - 1, and MAX + 1
		 * would wait (test_session ingest_bounded saw it). */
		in->decoded++;
		pthread_mutex_unlock(&in->lock);
		check(job);
		pthread_mutex_lock(&in->lock);
		push(&in->done, &in->done_tail, job);
		pthread_mutex_unlock(&in->lock);
		in->wake(in->wake_ctx);
		pthread_mutex_lock(&in->lock);
	}
	pthread_mutex_unlock(&in->lock);
	return NULL;
}

int veld_ingest_new(struct veld_ingest **out, int threads, void (*wake)(void *),
		    void *ctx)
{
	struct veld_ingest *in = calloc(1, sizeof(*in));

	if (!in)
		return VELD_ENOMEM;
	if (threads < 1)
		threads = 1;
	if (threads > 8)
		threads = 8;
	pthread_mutex_init(&in->lock, NULL);
	pthread_cond_init(&in->work, NULL);
	in->wake = wake;
	in->wake_ctx = ctx;
	for (int i = 0; i < threads; i++) {
		if (pthread_create(&in->threads[i], NULL, worker, in) != 0) {
			veld_ingest_free(in);
			return VELD_EIO;
		}
		in->nthreads++;
	}
	*out = in;
	return 0;
}

void veld_ingest_free(struct veld_ingest *in)
{
	struct veld_ingest_job *job;

	if (!in)
		return;
	pthread_mutex_lock(&in->lock);
	in->stop = 1;
	pthread_cond_broadcast(&in->work);
	pthread_mutex_unlock(&in->lock);
	for (int i = 0; i < in->nthreads; i++)
		pthread_join(in->threads[i], NULL);
	while ((job = pop(&in->todo, &in->todo_tail)))
		veld_ingest_job_free(job);
	while ((job = pop(&in->done, &in->done_tail)))
		veld_ingest_job_free(job);
	pthread_cond_destroy(&in->work);
	pthread_mutex_destroy(&in->lock);
	free(in);
}

struct veld_ingest_job *veld_ingest_job_new(const struct veld_msg *m,
					    uint64_t session_id,
					    const uint8_t author[32])
{
	struct veld_ingest_job *job = calloc(1, sizeof(*job));

	if (!job)
		return NULL;
	job->z = malloc(m->runs_len + 1);
	if (!job->z) {
		free(job);
		return NULL;
	}
	memcpy(job->z, m->runs, m->runs_len);
	job->zlen = m->runs_len;
	job->session_id = session_id;
	job->batch = m->batch;
	memcpy(job->author, author, 32);
	return job;
}

void veld_ingest_job_free(struct veld_ingest_job *job)
{
	if (job) {
		veld_runs_release(&job->runs);
		free(job->z);
		free(job);
	}
}

void veld_ingest_release(struct veld_ingest *in, struct veld_ingest_job *job)
{
	if (!job)
		return;
	veld_ingest_job_free(job);
	in->busy--;
	pthread_mutex_lock(&in->lock);
	in->decoded--;
	pthread_cond_signal(&in->work);
	pthread_mutex_unlock(&in->lock);
}

void veld_ingest_submit(struct veld_ingest *in, struct veld_ingest_job *job)
{
	in->busy++;
	pthread_mutex_lock(&in->lock);
	push(&in->todo, &in->todo_tail, job);
	pthread_cond_signal(&in->work);
	pthread_mutex_unlock(&in->lock);
}

size_t veld_ingest_busy(const struct veld_ingest *in)
{
	return in ? in->busy : 0;
}

struct veld_ingest_job *veld_ingest_done(struct veld_ingest *in)
{
	struct veld_ingest_job *job;

	pthread_mutex_lock(&in->lock);
	job = pop(&in->done, &in->done_tail);
	pthread_mutex_unlock(&in->lock);
	return job;
}
