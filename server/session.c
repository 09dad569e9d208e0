/*
 * session.c - the server side of veld.2 for one connection; see session.h
 * and docs/protocol.md Part 2.
 *
 * Every refusal goes out as an ERROR message naming the VELD_E* code,
 * then the connection closes with a matching close code; nothing of a
 * refused PUSH is stored (veld_replica_apply_all), and other connections
 * never notice.
 */
#include "session.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "err.h"
#include "event.h"
#include "framed.h"
#include "hlc.h"
#include "store.h"

static struct veld_buf *out_slot(struct veld_session *s)
{
	struct veld_buf *b;

	if (s->out_n == VELD_SESSION_OUT_MAX)
		return NULL;
	b = &s->out[(s->out_head + s->out_n) % VELD_SESSION_OUT_MAX];
	veld_buf_reset(b);
	return b;
}

static void out_commit(struct veld_session *s)
{
	s->out_n++;
	s->srv->tx.want_write(s);
}

/* Tell the log and the metrics (event.h). */
static void report(struct veld_session *s, struct veld_event ev)
{
	ev.s = s;
	veld_event_emit(s->srv, &ev);
}

int veld_session_open(struct veld_session *s, struct veld_server *srv,
		      void *conn)
{
	struct veld_buf *b;

	memset(s, 0, sizeof(*s));
	s->srv = srv;
	s->conn = conn;
	s->id = ++srv->next_session_id;
	s->state = VELD_SS_HELLO;
	for (int i = 0; i < VELD_SESSION_OUT_MAX; i++)
		veld_buf_init(&s->out[i], VELD_MSG_MAX);
	randombytes_buf(s->nonce, sizeof(s->nonce));
	s->next = srv->sessions;
	srv->sessions = s;
	b = out_slot(s);
	if (veld_msg_hello(b, srv->key->pk, s->nonce) < 0)
		return VELD_ENOMEM;
	out_commit(s);
	return 0;
}

void veld_session_close(struct veld_session *s)
{
	struct veld_session **p = &s->srv->sessions;

	while (*p && *p != s)
		p = &(*p)->next;
	if (*p)
		*p = s->next;
	for (int i = 0; i < VELD_SESSION_OUT_MAX; i++)
		veld_buf_release(&s->out[i]);
	s->state = VELD_SS_CLOSING;
}

const struct veld_buf *veld_session_out(struct veld_session *s)
{
	return s->out_n ? &s->out[s->out_head] : NULL;
}

void veld_session_out_pop(struct veld_session *s)
{
	struct veld_buf *b;

	if (!s->out_n)
		return;
	/* A slot keeps its storage for the next message, but not a big one:
	 * catch-up OPS are up to VELD_MSG_MAX, and four slots of them on
	 * every idle connection were most of veldd's memory with 1,000
	 * devices (bench/idle_devices.sh: 343 KiB per connection). */
	b = &s->out[s->out_head];
	if (b->cap > VELD_SESSION_KEEP)
		veld_buf_release(b);
	s->out_head = (s->out_head + 1) % VELD_SESSION_OUT_MAX;
	s->out_n--;
	veld_session_pump(s);
}

static int close_code_for(int err)
{
	switch (err) {
	case VELD_EREVOKED:
		return 4403;
	case VELD_EAUTH:
	case VELD_ECODE:
	case VELD_ECODEUSED:
	case VELD_ECODEEXPIRED:
		return 4401;
	case VELD_ERATE:
		return 4429;
	case VELD_ETIMEOUT:
		return 4408;
	case VELD_EMSGSIZE:
		return 4413;
	case VELD_ESTORE:
	case VELD_EFULL:
	case VELD_ENOMEM:
	case VELD_ESERVER:
		return 4500;
	default:
		return 4400;
	}
}

/* veld_session_fail, once the caller has reported why. */
static void refuse(struct veld_session *s, int err, const char *text)
{
	struct veld_buf *b;
	char line[VELD_TEXT_MAX];

	if (s->state == VELD_SS_CLOSING)
		return;
	s->state = VELD_SS_CLOSING;
	s->close_code = close_code_for(err);
	snprintf(s->close_text, sizeof(s->close_text), "%s",
		 veld_err_name(err));
	snprintf(line, sizeof(line), "%s: %s", veld_strerror(err),
		 text ? text : "");
	/* If the queue is full the close code still says why. */
	b = out_slot(s);
	if (b && veld_msg_error(b, err, line, 1) == 0)
		out_commit(s);
	else
		s->srv->tx.want_write(s);
}

void veld_session_fail(struct veld_session *s, int err, const char *text)
{
	if (s->state == VELD_SS_CLOSING)
		return;
	report(s, (struct veld_event){
			  .kind = VELD_EV_ERROR, .err = err, .detail = text});
	refuse(s, err, text);
}

static void welcome(struct veld_session *s)
{
	struct veld_head head;
	struct veld_buf *b = out_slot(s);

	if (!b ||
	    veld_store_head(veld_replica_store(s->srv->replica), s->device,
			    &head) < 0 ||
	    veld_msg_welcome(b, s->info.role, s->info.name,
			     s->info.has_area ? s->info.area : NULL,
			     head.seq) < 0) {
		veld_session_fail(s, VELD_ESERVER, "cannot welcome");
		return;
	}
	s->state = VELD_SS_READY;
	out_commit(s);
}

static void on_hello_reply(struct veld_session *s, const struct veld_msg *m)
{
	int rc;

	if (m->type != VELD_MSG_AUTH && m->type != VELD_MSG_ENROL) {
		veld_session_fail(s, VELD_EPROTO, "expected AUTH or ENROL");
		return;
	}
	rc = veld_msg_verify_proof(m, s->srv->key->pk, s->nonce);
	if (rc == 0) {
		memcpy(s->device, m->key, 32);
		if (m->type == VELD_MSG_AUTH)
			rc = veld_registry_lookup(s->srv, m->key, &s->info);
		else
			rc = veld_registry_enrol(s->srv, m->key, m->code,
						 m->code_len, &s->info);
	}
	if (rc == 0 && s->info.revoked)
		rc = VELD_EREVOKED;
	report(s, (struct veld_event){.kind = m->type == VELD_MSG_AUTH
						      ? VELD_EV_AUTH
						      : VELD_EV_ENROL,
				      .err = rc});
	if (rc < 0) {
		refuse(s, rc,
		       m->type == VELD_MSG_AUTH ? "authentication"
						: "enrolment");
		return;
	}
	welcome(s);
}

static void on_push(struct veld_session *s, const struct veld_msg *m)
{
	struct veld_ingest_job *job;

	if (s->push_busy) {
		veld_session_fail(s, VELD_EPROTO, "PUSH before the RECEIPT");
		return;
	}
	job = veld_ingest_job_new(m, s->id, s->device);
	if (!job) {
		veld_session_fail(s, VELD_ENOMEM, "PUSH");
		return;
	}
	s->push_busy = 1;
	s->srv->tx.rx_flow(s, 0);
	veld_ingest_submit(s->srv->ingest, job);
}

/* Remember how far a device has pulled, for operators (server.h: written
 * within a second; monitoring only, so it cannot fail the sync). */
static void note_ack(struct veld_session *s, uint64_t cursor)
{
	char key[4 + 2 * VELD_PK_LEN + 1] = "ack:";
	uint8_t val[16];
	uint64_t now = veld_hlc_wall_ms();

	sodium_bin2hex(key + 4, sizeof(key) - 4, s->device, VELD_PK_LEN);
	for (int i = 0; i < 8; i++) {
		val[i] = (uint8_t)(cursor >> (56 - 8 * i));
		val[8 + i] = (uint8_t)(now >> (56 - 8 * i));
	}
	(void)veld_server_note(s->srv, key, val, sizeof(val));
}

void veld_session_input(struct veld_session *s, const uint8_t *raw, size_t len)
{
	struct veld_msg *m;
	int rc;

	if (s->state == VELD_SS_CLOSING)
		return;
	m = malloc(sizeof(*m));
	if (!m) {
		veld_session_fail(s, VELD_ENOMEM, "message");
		return;
	}
	rc = veld_msg_decode(raw, len, m);
	if (rc < 0) {
		veld_session_fail(s, rc, "message refused");
		goto out;
	}
	if (m->type == VELD_MSG_ERROR) { /* the peer gives up */
		s->state = VELD_SS_CLOSING;
		s->close_code = 1000;
		snprintf(s->close_text, sizeof(s->close_text), "bye");
		s->srv->tx.want_write(s);
		goto out;
	}
	if (s->state == VELD_SS_HELLO) {
		on_hello_reply(s, m);
		goto out;
	}
	switch (m->type) {
	case VELD_MSG_PUSH:
		on_push(s, m);
		break;
	case VELD_MSG_PULL:
		if (s->streaming) {
			veld_session_fail(s, VELD_EPROTO, "second PULL");
			break;
		}
		s->streaming = 1;
		s->cursor = m->cursor;
		veld_session_pump(s);
		break;
	case VELD_MSG_ACK:
		/* ACKs come in the order of the OPS they answer. */
		if (!s->ops_unacked || m->cursor != s->unacked[0]) {
			veld_session_fail(s, VELD_EPROTO, "unexpected ACK");
			break;
		}
		s->ops_unacked--;
		memmove(s->unacked, s->unacked + 1,
			s->ops_unacked * sizeof(s->unacked[0]));
		note_ack(s, m->cursor);
		veld_session_pump(s);
		break;
	default:
		veld_session_fail(s, VELD_EPROTO, veld_msg_name(m->type));
	}
out:
	veld_msg_release(m);
	free(m);
}

/* Answer a PUSH whose fate is in job (err, bad): a refusal, or the
 * receipt once it is durable.  us: what the store took. */
static void push_answer(struct veld_session *s, struct veld_ingest_job *job,
			uint64_t us)
{
	struct veld_head head;
	struct veld_buf *b;
	char what[64];
	size_t bad = job->bad;
	int rc = job->err;

	if (rc < 0) {
		report(s, (struct veld_event){.kind = VELD_EV_PUSH_REFUSED,
					      .err = rc,
					      .n = job->nops,
					      .bad = bad,
					      .batch = job->batch});
		if (job->err == VELD_EZIP || job->err == VELD_EZIPSIZE)
			snprintf(what, sizeof(what), "the ops of batch %llu",
				 (unsigned long long)job->batch);
		/* Ops that passed the workers (they set nops) and no op
		 * named: the store failed. */
		else if (job->nops && bad >= job->nops)
			snprintf(what, sizeof(what),
				 "on the server, batch %llu; nothing is lost",
				 (unsigned long long)job->batch);
		else
			snprintf(what, sizeof(what), "op %zu of batch %llu",
				 bad, (unsigned long long)job->batch);
		refuse(s, rc, what);
		return;
	}
	/* Durable now: the receipt may say so. */
	rc = veld_store_head(veld_replica_store(s->srv->replica), s->device,
			     &head);
	report(s, (struct veld_event){.kind = VELD_EV_PUSH,
				      .n = job->nops,
				      .batch = job->batch,
				      .seq = rc == 0 ? head.seq : 0,
				      .us = us});
	b = out_slot(s);
	if (!b || rc < 0 ||
	    veld_msg_receipt(b, s->srv->key, s->device, job->batch, head.seq,
			     head.id) < 0) {
		veld_session_fail(s, VELD_ESERVER, "receipt");
		return;
	}
	out_commit(s);
	s->srv->tx.rx_flow(s, 1);
}

/*
 * Keep the salt nodes a push handed over (store.h), to hand them over
 * again to every device that pulls these ops: without them veldd would
 * send each op's salt.  In the push's transaction.
 */
static int keep_salts(struct veld_replica *rep, const struct veld_runs *rs)
{
	struct veld_store *st = veld_replica_store(rep);
	int rc = 0;

	for (size_t i = 0; rc == 0 && i < rs->nruns; i++) {
		const struct veld_run *ri = &rs->runs[i];
		if (ri->node_n)
			rc = veld_store_salt_keep(st, ri->author,
						  rs->nodes + ri->node_first,
						  ri->node_n);
	}
	return rc;
}

/*
 * Apply the verified PUSH jobs of n sessions (ss[i] NULL: gone) in one
 * transaction, one savepoint each (replica.h, group commit), then answer
 * them all.  One fsync for all instead of one per PUSH; a store failure
 * fails every one of them ("nothing is lost": the devices push again).
 */
static void push_group(struct veld_server *srv, struct veld_session **ss,
		       struct veld_ingest_job **jobs, size_t n)
{
	struct veld_replica *rep = srv->replica;
	uint64_t t0 = veld_server_now_us(), us;
	int open = 0, failed = 0, answered = 0;

	for (size_t i = 0; i < n; i++) {
		struct veld_ingest_job *job = jobs[i];

		if (ss[i])
			ss[i]->push_busy = 0;
		if (!ss[i] || ss[i]->state == VELD_SS_CLOSING) {
			ss[i] = NULL;
			continue;
		}
		if (job->err < 0)
			continue; /* refused by the workers */
		if (!open && !failed) {
			failed = veld_replica_group_begin(rep);
			open = failed == 0;
		}
		if (failed) {
			job->err = failed;
			job->bad = job->nops;
			continue;
		}
		job->err = veld_replica_group_apply_all(
			rep, job->ops, job->runs.dec, job->nops, 1, &job->bad);
		if (job->err == 0 &&
		    (job->err = keep_salts(rep, &job->runs)) < 0)
			job->bad = job->nops; /* a store failure: all of it */
		if (job->err < 0 && job->bad >= job->nops) {
			veld_replica_group_rollback(rep);
			open = 0;
			failed = job->err;
		}
	}
	if (open)
		failed = veld_replica_group_commit(rep);
	/* Nothing of the group is kept: every applied job says so. */
	for (size_t i = 0; failed && i < n; i++)
		if (ss[i] &&
		    (jobs[i]->err == 0 || jobs[i]->bad >= jobs[i]->nops)) {
			jobs[i]->err = failed;
			jobs[i]->bad = jobs[i]->nops;
		}
	us = veld_server_now_us() - t0;
	for (size_t i = 0; i < n; i++) {
		if (!ss[i])
			continue;
		push_answer(ss[i], jobs[i], us);
		answered |= jobs[i]->err == 0;
	}
	if (answered) {
		veld_server_committed(srv);
		/* The records view follows the receipts. */
		veld_server_pushed(srv);
	}
}

void veld_session_push_done(struct veld_session *s, struct veld_ingest_job *job)
{
	push_group(s->srv, &s, &job, 1);
}

void veld_session_push_many(struct veld_server *srv,
			    struct veld_ingest_job **jobs, size_t n)
{
	struct veld_session *ss[VELD_PUSH_GROUP_MAX];

	while (n > 0) {
		size_t m = n < VELD_PUSH_GROUP_MAX ? n : VELD_PUSH_GROUP_MAX;

		for (size_t i = 0; i < m; i++) {
			struct veld_session *s = srv->sessions;
			while (s && s->id != jobs[i]->session_id)
				s = s->next;
			ss[i] = s; /* NULL: the connection went away */
		}
		push_group(srv, ss, jobs, m);
		jobs += m;
		n -= m;
	}
}

/* What the envelopes of one OPS are first given room for (bytes). */
#define VELD_COLLECT_RESERVE (256 * 1024)

/*
 * Collect framed ops after the cursor into one OPS message.  The message
 * travels as runs that each end with a signed op (runs.h), so it may only
 * end where every author in it ends on a signed op: ops from one PUSH sit
 * together in the log and end signed, server-written ops are each signed.
 * "good" remembers the last such place; a full message is cut back to it.
 */
struct collect {
	const uint8_t *device; /* the peer: its own ops are not sent back */
	size_t seen;	       /* rows the query gave */
	struct veld_framed f;  /* the ops of the message (framed.h) */
	int64_t last_pos;
	int full;
	/* authors in the message whose last op so far has no signature */
	uint8_t (*open)[VELD_PK_LEN];
	size_t nopen;
	size_t good_n; /* ops up to the last place the message may end */
	int64_t good_pos;
};

/* Note op's author as open (its op unsigned) or closed (signed). */
static void collect_track(struct collect *c, const struct veld_stored_op *op)
{
	size_t i = c->nopen;

	while (i > 0 && memcmp(c->open[i - 1], op->h.author, VELD_PK_LEN))
		i--;
	if (i > 0 && op->sig) { /* closed: drop it from the open set */
		memmove(c->open[i - 1], c->open[i],
			(c->nopen - i) * sizeof(*c->open));
		c->nopen--;
	} else if (i == 0 && !op->sig) {
		memcpy(c->open[c->nopen++], op->h.author, VELD_PK_LEN);
	}
}

static int collect_one(void *ctx, const struct veld_stored_op *op)
{
	struct collect *c = ctx;

	c->seen++;
	/* The device has its own ops: skip them, but move past them. */
	if (memcmp(op->h.author, c->device, 32) == 0) {
		if (c->f.n < VELD_OPS_MAX) {
			c->last_pos = op->pos;
			if (!c->nopen)
				c->good_pos = op->pos;
		}
		return 0;
	}
	if (veld_framed_add(&c->f, op) < 0) {
		c->full = 1; /* the message is full: the rest next time */
		return 1;
	}
	c->last_pos = op->pos;
	collect_track(c, op);
	if (!c->nopen) {
		c->good_n = c->f.n;
		c->good_pos = op->pos;
	}
	return 0;
}

void veld_session_pump(struct veld_session *s)
{
	struct veld_salt_source src;
	struct collect *c;
	struct veld_buf *b;
	int rc, sent = 0;

	/* Another OPS before the ACK only while catching up (P3). */
	if (s->state != VELD_SS_READY || !s->streaming ||
	    (s->ops_unacked &&
	     (!s->last_more || s->ops_unacked >= VELD_OPS_WINDOW)) ||
	    s->out_n == VELD_SESSION_OUT_MAX)
		return;
	c = calloc(1, sizeof(*c));
	if (!c) {
		veld_session_fail(s, VELD_ENOMEM, "OPS");
		return;
	}
	/* The runs block is smaller than the envelopes it carries.  A full
	 * OPS of survey entries frames ~300 KB: one allocation, not ten. */
	c->open = malloc(VELD_OPS_MAX * sizeof(*c->open));
	if (!c->open ||
	    veld_framed_init(&c->f, VELD_OPS_MAX, VELD_RUNS_MAX - 64,
			     VELD_COLLECT_RESERVE) < 0) {
		veld_session_fail(s, VELD_ENOMEM, "OPS");
		goto out;
	}
	c->device = s->device;
	for (;;) {
		c->last_pos = (int64_t)s->cursor;
		c->good_pos = c->last_pos;
		c->good_n = c->nopen = 0;
		c->seen = 0;
		rc = veld_store_ops_since(veld_replica_store(s->srv->replica),
					  (int64_t)s->cursor, VELD_OPS_MAX + 1,
					  collect_one, c);
		if (rc < 0) {
			veld_session_fail(s, VELD_ESERVER, "reading the log");
			goto out;
		}
		/* Full, or the page ended, inside a run: cut back to the
		 * last place where the message may end. */
		if (c->nopen) {
			if (!c->good_n && c->good_pos == (int64_t)s->cursor) {
				/* A PUSH's stretch always fits one OPS: this
				 * is an unsigned op nothing vouches for
				 * (veldd verify reports it). */
				veld_session_fail(s, VELD_ESERVER,
						  "an op without a signature "
						  "that no signed op follows");
				goto out;
			}
			veld_framed_cut(&c->f, c->good_n);
			c->last_pos = c->good_pos;
			c->nopen = 0;
			c->full = 1;
		}
		/* A full page of rows, even if all were skipped: maybe more */
		c->full = c->full || c->seen == VELD_OPS_MAX + 1;
		if (c->f.n || !s->caught_up)
			break;
		/* Live, and nothing new for this device (so far). */
		s->cursor = (uint64_t)c->last_pos;
		if (!c->full)
			goto out;
		c->full = 0;
	}
	b = out_slot(s);
	src.fn = veld_store_salt_source;
	src.ctx = veld_replica_store(s->srv->replica);
	if (veld_msg_ops_decoded(b, veld_framed_views(&c->f), c->f.n,
				 (uint64_t)c->last_pos, c->full, &src) < 0) {
		veld_session_fail(s, VELD_ESERVER, "OPS");
		goto out;
	}
	s->cursor = (uint64_t)c->last_pos;
	s->unacked[s->ops_unacked++] = (uint64_t)c->last_pos;
	s->last_more = c->full;
	if (!c->full)
		s->caught_up = 1;
	out_commit(s);
	report(s, (struct veld_event){
			  .kind = VELD_EV_PULL, .n = c->f.n, .more = c->full});
	sent = 1;
out:
	veld_framed_release(&c->f);
	free(c->open);
	free(c);
	/* Catching up: the next OPS goes out while the device applies this
	 * one (at most VELD_OPS_WINDOW deep, so this recursion is too). */
	if (sent && s->state == VELD_SS_READY && s->last_more &&
	    s->ops_unacked < VELD_OPS_WINDOW)
		veld_session_pump(s);
}
