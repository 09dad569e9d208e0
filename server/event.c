/*
 * event.c - sync connection events into log lines and counters; see
 * event.h.
 *
 * Levels: failures the peer caused or suffered (refused auth, enrolment or
 * push, protocol errors) are warn; the normal life of a connection is info.
 * What the session knows of its device beyond the key (name, area) is
 * personal and never read here.
 */
#include "event.h"

#include "err.h"
#include "log.h"
#include "metrics.h"
#include "session.h"

static const char *event_name(enum veld_event_kind kind)
{
	switch (kind) {
	case VELD_EV_OPEN:
		return "open";
	case VELD_EV_CLOSE:
		return "close";
	case VELD_EV_AUTH:
		return "auth";
	case VELD_EV_ENROL:
		return "enrol";
	case VELD_EV_PUSH:
		return "push";
	case VELD_EV_PUSH_REFUSED:
		return "push_refused";
	case VELD_EV_PULL:
		return "pull";
	case VELD_EV_ERROR:
		return "session_error";
	}
	return "unknown";
}

static void count(struct veld_metrics *m, const struct veld_event *ev)
{
	switch (ev->kind) {
	case VELD_EV_OPEN:
		m->sessions++;
		break;
	case VELD_EV_ENROL:
		if (ev->err)
			m->enrol_fail++;
		else
			m->enrol_ok++;
		break;
	case VELD_EV_PUSH:
		m->ops_accepted += ev->n;
		veld_metrics_commit(m, ev->us);
		break;
	case VELD_EV_PUSH_REFUSED:
		veld_metrics_rejected(m, ev->err, ev->n);
		break;
	default: /* gauges are measured at scrape time */
		break;
	}
}

/* The device key is known once the peer proved it holds it. */
static int has_device(const struct veld_session *s)
{
	for (int i = 0; i < 32; i++)
		if (s->device[i])
			return 1;
	return 0;
}

/* result=ok role=... or result=fail reason=E... */
static void log_result(struct veld_log_line *l, const struct veld_event *ev)
{
	if (ev->err) {
		veld_log_str(l, "result", "fail");
		veld_log_str(l, "reason", veld_err_name(ev->err));
	} else {
		veld_log_str(l, "result", "ok");
		veld_log_str(l, "role", ev->s->info.role);
	}
}

static void log_fields(struct veld_log_line *l, const struct veld_event *ev)
{
	switch (ev->kind) {
	case VELD_EV_OPEN:
		break;
	case VELD_EV_CLOSE:
		veld_log_int(l, "code", ev->code);
		veld_log_str(l, "by", ev->by);
		veld_log_ms(l, "ms", ev->us);
		veld_log_u64(l, "bytes_in", ev->bytes_in);
		veld_log_u64(l, "bytes_out", ev->bytes_out);
		break;
	case VELD_EV_AUTH:
	case VELD_EV_ENROL:
		log_result(l, ev);
		break;
	case VELD_EV_PUSH:
		veld_log_u64(l, "batch", ev->batch);
		veld_log_u64(l, "ops", ev->n);
		veld_log_u64(l, "seq", ev->seq);
		veld_log_ms(l, "ms", ev->us);
		break;
	case VELD_EV_PUSH_REFUSED:
		veld_log_str(l, "reason", veld_err_name(ev->err));
		veld_log_u64(l, "batch", ev->batch);
		veld_log_u64(l, "ops", ev->n);
		veld_log_u64(l, "bad", ev->bad);
		break;
	case VELD_EV_PULL:
		veld_log_u64(l, "ops", ev->n);
		veld_log_int(l, "more", ev->more);
		break;
	case VELD_EV_ERROR:
		veld_log_str(l, "reason", veld_err_name(ev->err));
		veld_log_str(l, "detail", ev->detail);
		break;
	}
}

void veld_event_record(struct veld_server *srv, const struct veld_event *ev)
{
	struct veld_log_line l;
	int level = VELD_LOG_INFO;

	count(&srv->metrics, ev);
	if (ev->err || ev->kind == VELD_EV_ERROR)
		level = VELD_LOG_WARN;
	if (!veld_log_begin(&srv->log, &l, level, event_name(ev->kind)))
		return;
	veld_log_u64(&l, "session", ev->s->id);
	if (has_device(ev->s))
		veld_log_hex(&l, "device", ev->s->device, VELD_LOG_ID_BYTES);
	log_fields(&l, ev);
	veld_log_end(&srv->log, &l);
}
