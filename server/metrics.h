/*
 * metrics.h - veldd's counters, and /metrics in the Prometheus text
 * exposition format 0.0.4.
 *
 * The counters are plain integers in struct veld_server (srv->metrics),
 * changed only on the lws service thread: by event.c as sessions report
 * what happened, and by ws.c for payload bytes.  The ingest workers never
 * touch them.  Gauges are not kept at all but measured at scrape time:
 * sessions and connected devices by walking srv->sessions, the store's
 * size with stat(2); so they cannot drift.
 *
 * Exposed (all names veld_*):
 *
 *	ops_accepted_total          counter  ops committed from pushes
 *	ops_rejected_total{reason}  counter  ops of refused pushes, by the
 *	                                     VELD_E* name of the first bad op
 *	sync_sessions_total         counter  sync connections opened
 *	sync_sessions_active        gauge    sync connections open now
 *	devices_connected           gauge    of those, authenticated
 *	bytes_in_total              counter  WebSocket payload bytes received
 *	bytes_out_total             counter  WebSocket payload bytes sent
 *	batch_commit_seconds        histogram  apply + commit of one pushed
 *	                                     batch (VELD_METRICS_BOUNDS)
 *	enrolments_total{result}    counter  result="ok" or "fail"
 *	store_bytes                 gauge    DIR/veld.db plus its -wal file
 *
 * Labels come from fixed sets only (error names, ok/fail), never from
 * anything a peer sends, so the number of series is bounded.  A rejection
 * reason appears once it has been counted; the other series are always
 * present.  Nothing here identifies a device or a person.
 */
#ifndef VELD_METRICS_H
#define VELD_METRICS_H

#include <stdint.h>

#include "buf.h"
#include "err.h"

struct veld_server;

/* Upper bounds of the histogram buckets, in microseconds (+Inf implied). */
#define VELD_METRICS_BOUNDS                                                    \
	{                                                                      \
		1000, 2500, 5000, 10000, 25000, 50000, 100000, 250000, 500000, \
			1000000, 2500000                                       \
	}
#define VELD_METRICS_NBOUNDS 11

/* Largest /metrics text: every reason present still fits, with room. */
#define VELD_METRICS_MAX 16384

struct veld_metrics {
	uint64_t ops_accepted;
	uint64_t ops_rejected[VELD_ERR_COUNT]; /* [-err - 1] */
	uint64_t sessions;
	uint64_t bytes_in, bytes_out;
	uint64_t enrol_ok, enrol_fail;
	/* Batch commits per bucket (not cumulative); [NBOUNDS]: slower. */
	uint64_t commit_bucket[VELD_METRICS_NBOUNDS + 1];
	uint64_t commit_count;
	uint64_t commit_sum_us;
	const char *db_path; /* borrowed: the store, for store_bytes */
};

/* Zero every counter; db_path (borrowed, may be NULL) is the store file. */
void veld_metrics_init(struct veld_metrics *m, const char *db_path);

/* n ops of a batch refused for err (a VELD_E* code; others are ignored). */
void veld_metrics_rejected(struct veld_metrics *m, int err, uint64_t n);

/* One batch applied and committed in us microseconds. */
void veld_metrics_commit(struct veld_metrics *m, uint64_t us);

/*
 * veld_metrics_render - append the exposition text of srv->metrics and the
 * gauges of srv to out.  Returns 0, VELD_ETOOBIG if out's maximum is too
 * small, or VELD_ENOMEM; out then holds a prefix to be thrown away.
 */
int veld_metrics_render(const struct veld_server *srv, struct veld_buf *out)
	__attribute__((warn_unused_result));

#endif /* VELD_METRICS_H */
