/*
 * metrics.c - counters and the Prometheus text format; see metrics.h.
 *
 * The text is built line by line: snprintf into a line buffer, then
 * appended to a bounded struct veld_buf.  No library: the format is a few
 * fixed lines (https://prometheus.io/docs/instrumenting/exposition_formats/,
 * version 0.0.4), and every value is an unsigned integer except the
 * histogram's sum, printed from microseconds with six decimals.
 */
#include "metrics.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "server.h"
#include "session.h"

static const uint64_t bounds_us[VELD_METRICS_NBOUNDS] = VELD_METRICS_BOUNDS;

void veld_metrics_init(struct veld_metrics *m, const char *db_path)
{
	memset(m, 0, sizeof(*m));
	m->db_path = db_path;
}

void veld_metrics_rejected(struct veld_metrics *m, int err, uint64_t n)
{
	if (err < 0 && err >= -VELD_ERR_COUNT)
		m->ops_rejected[-err - 1] += n;
}

void veld_metrics_commit(struct veld_metrics *m, uint64_t us)
{
	int i = 0;

	/* "le": a bucket counts what is less than or equal to its bound. */
	while (i < VELD_METRICS_NBOUNDS && us > bounds_us[i])
		i++;
	m->commit_bucket[i]++;
	m->commit_count++;
	m->commit_sum_us += us;
}

static int line(struct veld_buf *out, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Append one formatted line (the caller's fmt ends in \n). */
static int line(struct veld_buf *out, const char *fmt, ...)
{
	char buf[256];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(buf))
		return VELD_ETOOBIG; /* a bug: our lines are short */
	return veld_buf_append(out, buf, (size_t)n);
}

/* # HELP and # TYPE of one metric. */
static int head(struct veld_buf *out, const char *name, const char *type,
		const char *help)
{
	int rc = line(out, "# HELP %s %s\n", name, help);

	if (rc == 0)
		rc = line(out, "# TYPE %s %s\n", name, type);
	return rc;
}

/* A metric without labels: HELP, TYPE and its one sample. */
static int single(struct veld_buf *out, const char *name, const char *type,
		  const char *help, uint64_t value)
{
	int rc = head(out, name, type, help);

	if (rc == 0)
		rc = line(out, "%s %" PRIu64 "\n", name, value);
	return rc;
}

/* Bytes of a file, 0 if it does not exist (no -wal after a checkpoint). */
static uint64_t file_bytes(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 ? (uint64_t)st.st_size : 0;
}

static uint64_t store_bytes(const char *db_path)
{
	char wal[4096];

	if (!db_path)
		return 0;
	if (snprintf(wal, sizeof(wal), "%s-wal", db_path) >= (int)sizeof(wal))
		return file_bytes(db_path);
	return file_bytes(db_path) + file_bytes(wal);
}

static int rejected(struct veld_buf *out, const struct veld_metrics *m)
{
	int rc = head(out, "veld_ops_rejected_total", "counter",
		      "Ops of refused pushes (a batch is all or nothing), by "
		      "the error of the first bad op.");

	for (int i = 0; rc == 0 && i < VELD_ERR_COUNT; i++)
		if (m->ops_rejected[i])
			rc = line(out,
				  "veld_ops_rejected_total{reason=\"%s\"} "
				  "%" PRIu64 "\n",
				  veld_err_name(-1 - i), m->ops_rejected[i]);
	return rc;
}

static int histogram(struct veld_buf *out, const struct veld_metrics *m)
{
	static const char name[] = "veld_batch_commit_seconds";
	uint64_t cum = 0;
	int rc = head(out, name, "histogram",
		      "Time to apply and commit one pushed batch.");

	for (int i = 0; rc == 0 && i < VELD_METRICS_NBOUNDS; i++) {
		cum += m->commit_bucket[i];
		/* %g prints these bounds exactly: "0.0025", "1". */
		rc = line(out, "%s_bucket{le=\"%g\"} %" PRIu64 "\n", name,
			  (double)bounds_us[i] / 1e6, cum);
	}
	if (rc == 0)
		rc = line(out, "%s_bucket{le=\"+Inf\"} %" PRIu64 "\n", name,
			  m->commit_count);
	if (rc == 0)
		rc = line(out, "%s_sum %" PRIu64 ".%06" PRIu64 "\n", name,
			  m->commit_sum_us / 1000000,
			  m->commit_sum_us % 1000000);
	if (rc == 0)
		rc = line(out, "%s_count %" PRIu64 "\n", name, m->commit_count);
	return rc;
}

int veld_metrics_render(const struct veld_server *srv, struct veld_buf *out)
{
	const struct veld_metrics *m = &srv->metrics;
	uint64_t active = 0, devices = 0;
	int rc;

	for (const struct veld_session *s = srv->sessions; s; s = s->next) {
		active++;
		if (s->state == VELD_SS_READY)
			devices++;
	}

	rc = single(out, "veld_ops_accepted_total", "counter",
		    "Ops committed from pushes (duplicates included).",
		    m->ops_accepted);
	if (rc == 0)
		rc = rejected(out, m);
	if (rc == 0)
		rc = single(out, "veld_sync_sessions_total", "counter",
			    "Sync connections opened.", m->sessions);
	if (rc == 0)
		rc = single(out, "veld_sync_sessions_active", "gauge",
			    "Sync connections open now.", active);
	if (rc == 0)
		rc = single(out, "veld_devices_connected", "gauge",
			    "Sync connections with an authenticated device.",
			    devices);
	if (rc == 0)
		rc = single(out, "veld_bytes_in_total", "counter",
			    "WebSocket payload bytes received.", m->bytes_in);
	if (rc == 0)
		rc = single(out, "veld_bytes_out_total", "counter",
			    "WebSocket payload bytes sent.", m->bytes_out);
	if (rc == 0)
		rc = histogram(out, m);
	if (rc == 0)
		rc = head(out, "veld_enrolments_total", "counter",
			  "Enrolment attempts, by result.");
	if (rc == 0)
		rc = line(out,
			  "veld_enrolments_total{result=\"ok\"} %" PRIu64 "\n"
			  "veld_enrolments_total{result=\"fail\"} %" PRIu64
			  "\n",
			  m->enrol_ok, m->enrol_fail);
	if (rc == 0)
		rc = single(out, "veld_records_unsettled", "gauge",
			    "Records whose pushes were receipted and that wait "
			    "to be settled into the dashboard's view (once "
			    "per op that touched them: an upper bound).",
			    srv->replica ? veld_replica_unsettled(srv->replica)
					 : 0);
	if (rc == 0)
		rc = single(out, "veld_store_bytes", "gauge",
			    "Size of the store: veld.db and its -wal file.",
			    store_bytes(m->db_path));
	return rc;
}
