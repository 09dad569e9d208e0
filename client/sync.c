/*
 * sync.c - the veld.4 client; see sync.h and docs/protocol.md Part 2.
 *
 * The only file of veld that includes libwebsockets.h.  One lws client
 * context per run; struct sync is the connection's state; messages are
 * handled whole (fragments are assembled up to VELD_MSG_MAX).
 */
#include "sync.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libwebsockets.h>
#include <sodium.h>

#include "err.h"
#include "framed.h"
#include "hlc.h"
#include "i18n.h"
#include "msg.h"
#include "store.h"

enum phase {
	P_CONNECTING,
	P_HELLO,   /* waiting for HELLO */
	P_WELCOME, /* sent AUTH/ENROL */
	P_PUSHING, /* a PUSH is waiting for its RECEIPT */
	P_PULLING, /* streaming OPS */
	P_LIVE,	   /* caught up, --watch */
	P_DONE,
};

struct sync {
	const struct veld_home *home;
	const struct veld_sync_opts *opts;
	struct veld_sync_report *rep;
	struct veld_device dev;
	int keys; /* dev's keys are loaded; dev.replica: its store is open
		   * (enrolling: from WELCOME) */
	struct lws_context *ctx;
	struct lws *wsi;
	int phase;
	int attempts;
	int finished; /* stop the loop */
	int retry;    /* reconnect after this connection */
	int ended;    /* this attempt's end was handled (retry or stop) */
	lws_sorted_usec_list_t sul;
	/* connection target (points into url) */
	char url[512];
	char host_buf[256], path_buf[256];
	const char *host, *path;
	int port, tls;
	/* protocol */
	uint8_t nonce[VELD_NONCE_LEN];
	uint64_t server_seq; /* the server has our chain to here */
	uint64_t batch;
	uint64_t pushing_to; /* last seq in the PUSH in flight */
	struct veld_buf rx, tx;
	int tx_ready;
	unsigned char *wbuf;
	uint64_t pull_ops; /* applied since the pull's last commit */
};

int veld_meta_get_u64(struct veld_replica *r, const char *key, uint64_t *v)
{
	int rc = veld_store_meta_get_u64(veld_replica_store(r), key, v);

	return rc < 0 ? rc : 0;
}

int veld_meta_set_u64(struct veld_replica *r, const char *key, uint64_t v)
{
	return veld_store_meta_set_u64(veld_replica_store(r), key, v);
}

/* 1 if key holds exactly p[0..n), 0 if not (or unset), VELD_ESTORE. */
static int meta_holds(struct veld_replica *r, const char *key, const char *p,
		      size_t n)
{
	struct veld_buf cur;
	int rc;

	veld_buf_init(&cur, VELD_MSG_MAX);
	rc = veld_store_meta_get(veld_replica_store(r), key, &cur);
	if (rc == 1)
		rc = cur.len == n && (n == 0 || memcmp(cur.data, p, n) == 0);
	veld_buf_release(&cur);
	return rc < 0 ? VELD_ESTORE : rc;
}

/* One progress line: the event, then the totals so far. */
static void progress(struct sync *s, const char *fmt, const char *a, uint64_t x,
		     uint64_t y)
{
	const struct veld_sync_report *r = s->rep;

	if (!s->opts->progress)
		return;
	fprintf(s->opts->progress, _(fmt), a, (unsigned long long)x,
		(unsigned long long)y);
	fprintf(s->opts->progress,
		_("  [pushed %llu, pulled %llu ops; %llu bytes up, %llu down; "
		  "receipt #%llu]\n"),
		(unsigned long long)r->pushed, (unsigned long long)r->pulled,
		(unsigned long long)r->bytes_up,
		(unsigned long long)r->bytes_down,
		(unsigned long long)r->receipt_seq);
	fflush(s->opts->progress);
}

/* Stop with an error; retry only for transient ones. */
static void fail(struct sync *s, int err, const char *text, int transient)
{
	/* What a pull applied so far stays, with its cursor (replica.h). */
	if (s->dev.replica && veld_replica_pull_commit(s->dev.replica) < 0)
		err = err ? err : VELD_ESTORE;
	s->rep->err = err;
	snprintf(s->rep->text, sizeof(s->rep->text), "%s", text);
	s->retry = transient;
	s->phase = P_DONE;
}

static int send_msg(struct sync *s)
{
	s->tx_ready = 1;
	lws_callback_on_writable(s->wsi);
	return 0;
}

/* Own ops after seq from, framed, at most a batch's worth. */
struct pick {
	uint64_t after;
	struct veld_framed f; /* the ops of the PUSH (framed.h) */
	uint64_t last_seq;
};

static int pick_one(void *ctx, const struct veld_stored_op *op)
{
	struct pick *p = ctx;

	if (op->h.seq <= p->after || op->status == VELD_STATUS_FORK)
		return 0;
	if (veld_framed_add(&p->f, op) < 0)
		return 1; /* the message is full */
	p->last_seq = op->h.seq;
	return 0;
}

static void start_pull(struct sync *s)
{
	uint64_t cursor;

	veld_buf_reset(&s->tx);
	if (veld_meta_get_u64(s->dev.replica, VELD_META_CURSOR, &cursor) < 0 ||
	    veld_msg_pull(&s->tx, cursor) < 0) {
		fail(s, VELD_ESTORE, "cannot read the pull cursor", 0);
		return;
	}
	s->phase = P_PULLING;
	send_msg(s);
}

/* Push the next batch of our own ops, or go on to pulling. */
static void push_next(struct sync *s)
{
	struct pick *p = calloc(1, sizeof(*p));
	int rc;

	/* The runs block is smaller than the envelopes it carries. */
	if (!p || veld_framed_init(&p->f, VELD_BATCH_MAX, VELD_RUNS_MAX - 64,
				   0) < 0) {
		if (p)
			veld_framed_release(&p->f);
		free(p);
		fail(s, VELD_ENOMEM, "out of memory", 0);
		return;
	}
	p->after = s->server_seq;
	rc = veld_store_author_ops_after(veld_replica_store(s->dev.replica),
					 s->dev.key.pk, s->server_seq,
					 VELD_BATCH_MAX + 1, pick_one, p);
	if (rc < 0) {
		fail(s, rc, "cannot read the local log", 0);
	} else if (p->f.n == 0) {
		if (s->opts->push_only)
			s->phase = P_DONE; /* everything receipted */
		else
			start_pull(s);
	} else {
		/* our salts travel as nodes of our salt tree (§5.1) */
		struct veld_salt_source src = {
			veld_store_salt_source,
			veld_replica_store(s->dev.replica)};

		veld_buf_reset(&s->tx);
		if (veld_msg_push_decoded(&s->tx, ++s->batch,
					  veld_framed_views(&p->f), p->f.n,
					  &src) < 0) {
			fail(s, VELD_ENOMEM, "cannot build PUSH", 0);
		} else {
			s->pushing_to = p->last_seq;
			s->rep->pushed += p->f.n;
			s->phase = P_PUSHING;
			progress(s, N_("%spushing ops %llu..%llu"), "",
				 s->server_seq + 1, p->last_seq);
			send_msg(s);
		}
	}
	veld_framed_release(&p->f);
	free(p);
}

/* HELLO: check (or, enrolling, learn) the server key; prove ours. */
static void on_hello(struct sync *s, const struct veld_msg *m)
{
	int rc;

	if (m->version != VELD_PROTO_VERSION) {
		fail(s, VELD_EVERSION, "server speaks another protocol version",
		     0);
		return;
	}
	memcpy(s->nonce, m->nonce, VELD_NONCE_LEN);
	if (!s->keys) {
		/* Enrolling: trust the key this server presents (its
		 * certificate vouches for it under TLS).  The store follows
		 * at WELCOME, which says what it is for. */
		rc = veld_home_set_server(s->home, m->key);
		if (rc == 0)
			rc = veld_device_load(&s->dev, s->home);
		if (rc < 0) {
			fail(s, rc, "cannot set up the device", 0);
			return;
		}
		s->keys = 1;
	} else if (memcmp(m->key, s->dev.server_key, 32) != 0) {
		fail(s, VELD_EAUTH,
		     "the server's key is not the one this device enrolled "
		     "with",
		     0);
		return;
	}
	veld_buf_reset(&s->tx);
	if (s->opts->code)
		rc = veld_msg_enrol(&s->tx, &s->dev.key, m->key, m->nonce,
				    s->opts->code,
				    s->opts->name ? s->opts->name : "veld");
	else
		rc = veld_msg_auth(&s->tx, &s->dev.key, m->key, m->nonce);
	if (rc < 0) {
		fail(s, rc, "cannot build AUTH/ENROL", 0);
		return;
	}
	s->phase = P_WELCOME;
	send_msg(s);
}

/*
 * Several settings at once are one transaction: one wait for the disk
 * instead of one per setting (a push used to wait for it 12 times).
 */
static int meta_begin(struct veld_replica *r)
{
	return veld_store_begin(veld_replica_store(r));
}

/* Commit what meta_begin opened if rc is 0, else undo it. */
static int meta_end(struct veld_replica *r, int rc)
{
	if (rc == 0 && veld_store_commit(veld_replica_store(r)) == 0)
		return 0;
	veld_store_rollback(veld_replica_store(r));
	return VELD_ESTORE;
}

/*
 * Enrolling, the store is created at WELCOME: a coordinator's takes in
 * everyone's ops in bulk and gets larger pages (a quarter of the page
 * writes and reads of a pull; docs/bench.md, "Page size"), a field
 * device's holds mostly its own entries and keeps SQLite's 4 KiB.
 */
static int attach(struct sync *s, const struct veld_msg *m)
{
	static const char coordinator[] = "coordinator";
	int bulk, rc;

	if (s->dev.replica)
		return 0;
	bulk = m->role_len == strlen(coordinator) &&
	       memcmp(m->role, coordinator, m->role_len) == 0;
	rc = veld_device_attach(&s->dev, bulk ? VELD_STORE_PAGE_BULK : 0);
	if (rc < 0) {
		fail(s, rc, "cannot set up the device", 0);
		return rc;
	}
	return 0;
}

/*
 * WELCOME: keep what the server says about us.  What changed is written in
 * one transaction; a sync where nothing did (the usual case) neither takes
 * the store's write lock nor waits for the disk before its first PUSH.
 */
static void on_welcome(struct sync *s, const struct veld_msg *m)
{
	struct veld_replica *r = attach(s, m) == 0 ? s->dev.replica : NULL;
	const char *ca = s->opts->ca_file;
	const struct {
		const char *key, *p; /* p NULL: not said, left as it is */
		size_t n;
	} set[] = {
		{VELD_META_ROLE, m->role, m->role_len},
		{VELD_META_NAME, m->name, m->name_len},
		{VELD_META_AREA, m->area, m->area_len},
		{VELD_META_URL, s->url, strlen(s->url)},
		{VELD_META_CA, ca, ca ? strlen(ca) : 0},
	};
	const size_t nset = sizeof(set) / sizeof(set[0]);
	int differs[sizeof(set) / sizeof(set[0])], any = 0, rc = 0;
	uint64_t has;

	if (!r)
		return;
	for (size_t i = 0; rc == 0 && i < nset; i++) {
		int h = set[i].p ? meta_holds(r, set[i].key, set[i].p, set[i].n)
				 : 1;
		rc = h < 0 ? h : 0;
		differs[i] = h == 0;
		any |= differs[i];
	}
	if (rc == 0 && veld_meta_get_u64(r, VELD_META_SERVER_HAS, &has) < 0)
		rc = VELD_ESTORE;
	if (rc == 0 && (any || has != m->seq)) {
		rc = meta_begin(r);
		for (size_t i = 0; rc == 0 && i < nset; i++)
			if (differs[i] &&
			    veld_store_meta_set(veld_replica_store(r),
						set[i].key, set[i].p,
						set[i].n) < 0)
				rc = VELD_ESTORE;
		if (rc == 0 &&
		    veld_meta_set_u64(r, VELD_META_SERVER_HAS, m->seq) < 0)
			rc = VELD_ESTORE;
		rc = meta_end(r, rc);
	}
	if (rc < 0) {
		fail(s, VELD_ESTORE, "cannot save the device settings", 0);
		return;
	}
	s->server_seq = m->seq;
	push_next(s);
}

static void on_receipt(struct sync *s, const struct veld_msg *m,
		       const uint8_t *raw, size_t len)
{
	struct veld_replica *r = s->dev.replica;
	uint8_t mine[VELD_HASH_LEN];
	int rc;

	if (s->phase != P_PUSHING || m->batch != s->batch ||
	    veld_msg_verify_receipt(m, s->dev.server_key, s->dev.key.pk) < 0) {
		fail(s, VELD_ESIG, "a receipt did not verify", 0);
		return;
	}
	/* The receipt must name exactly our op at that seq. */
	if (m->seq != s->pushing_to ||
	    veld_store_op_at(veld_replica_store(r), s->dev.key.pk, m->seq,
			     mine) != 1 ||
	    memcmp(mine, m->head, VELD_HASH_LEN) != 0) {
		fail(s, VELD_ESIG, "a receipt names another op", 0);
		return;
	}
	rc = meta_begin(r);
	if (rc == 0 && (veld_store_meta_set(veld_replica_store(r),
					    VELD_META_RECEIPT, raw, len) < 0 ||
			veld_meta_set_u64(r, VELD_META_ACKED, m->seq) < 0 ||
			veld_meta_set_u64(r, VELD_META_SERVER_HAS, m->seq) < 0))
		rc = VELD_ESTORE;
	if (meta_end(r, rc) < 0) {
		fail(s, VELD_ESTORE, "cannot keep the receipt", 0);
		return;
	}
	s->rep->receipt_seq = m->seq;
	s->server_seq = m->seq;
	progress(s, N_("%sreceipt: the server holds our ops up to #%llu"), "",
		 m->seq, 0);
	push_next(s);
}

static void on_ops(struct sync *s, struct veld_msg *m)
{
	struct veld_replica *r = s->dev.replica;
	struct veld_apply_result res[VELD_OPS_MAX];
	int rc;

	if (s->phase != P_PULLING && s->phase != P_LIVE) {
		fail(s, VELD_EPROTO, "OPS before PULL", 0);
		return;
	}
	/* Each run is authenticated by its last op's signature, checked
	 * in the apply (run authentication, §13.1). */
	rc = veld_msg_open_runs(m);
	if (rc < 0) {
		fail(s, rc, "the server sent ops that do not decode", 0);
		return;
	}
	/*
	 * Pulled ops can be fetched again from the server: while more is to
	 * come, they go into the pull's open transaction (replica.h), which
	 * commits without waiting for the disk, at the latest every
	 * VELD_PULL_COMMIT_MS (another process's local write waits at most
	 * that long) or VELD_PULL_COMMIT_OPS.  The batch that ends the pull
	 * commits what is open, then waits once, for all of them (one WAL
	 * file, synced as a whole).  A power loss can only take a suffix of
	 * the WAL (its frames are checksummed in a chain), and the cursor is
	 * in the transaction of its ops, so it never gets ahead of them.  The
	 * device's own entries never take this path: they are durable where
	 * written.
	 */
	if (m->more) {
		rc = veld_replica_pull_apply(r, m->ops, m->rs.dec, m->nops,
					     res);
	} else {
		rc = veld_replica_pull_commit(r);
		if (rc == 0)
			rc = veld_replica_apply_decoded(r, m->ops, m->rs.dec,
							m->nops, 0, res);
	}
	/*
	 * An op from further ahead than the drift bound is refused for now,
	 * not for ever: this device's clock may be behind.  Keep the cursor
	 * before it, so that the next sync (clock fixed, or time passed)
	 * brings it again; moving on would lose it on this device.
	 */
	for (size_t i = 0; rc == 0 && i < m->nops; i++) {
		if (res[i].status == VELD_APPLY_REFUSED &&
		    res[i].err == VELD_ECLOCKAHEAD) {
			fail(s, VELD_ECLOCKAHEAD,
			     "an op from the server is dated too far after "
			     "this device's clock; check the device's date and "
			     "time, then sync again (nothing is lost)",
			     0);
			return;
		}
	}
	if (rc == 0)
		rc = veld_meta_set_u64(r, VELD_META_CURSOR, m->cursor);
	if (rc == 0 && !m->more)
		rc = veld_meta_set_u64(r, VELD_META_LAST_SYNC,
				       veld_hlc_wall_ms());
	/* The message that ends a pull committed everything. */
	s->pull_ops = m->more ? s->pull_ops + m->nops : 0;
	if (rc == 0 && m->more &&
	    (veld_replica_pull_open(r) >= VELD_PULL_COMMIT_MS ||
	     s->pull_ops >= VELD_PULL_COMMIT_OPS)) {
		rc = veld_replica_pull_commit(r);
		s->pull_ops = 0;
	}
	if (rc < 0) {
		fail(s, rc, "cannot store what the server sent", 0);
		return;
	}
	s->rep->pulled += m->nops;
	if (m->nops)
		progress(s, N_("%spulled %llu ops (cursor %llu)"), "", m->nops,
			 m->cursor);
	veld_buf_reset(&s->tx);
	if (veld_msg_ack(&s->tx, m->cursor) < 0) {
		fail(s, VELD_ENOMEM, "ACK", 0);
		return;
	}
	send_msg(s);
	if (!m->more)
		s->phase = s->opts->watch ? P_LIVE : P_DONE;
}

/* Revoked: this device may no longer hold residents' data. */
static void wipe(struct sync *s)
{
	static const char *const sfx[] = {"", "-wal", "-shm"};
	char path[PATH_MAX + 8];

	if (s->keys) {
		veld_device_close(&s->dev);
		s->keys = 0;
	}
	/* Mark first: whatever happens next, the device stays revoked. */
	int fd = open(s->home->revoked_path, O_WRONLY | O_CREAT | O_CLOEXEC,
		      0600);
	if (fd >= 0)
		close(fd);
	for (int i = 0; i < 3; i++) {
		snprintf(path, sizeof(path), "%s%s", s->home->db_path, sfx[i]);
		if (unlink(path) < 0 && errno != ENOENT)
			return;
	}
	s->rep->wiped = 1;
}

static void on_error(struct sync *s, const struct veld_msg *m)
{
	char text[VELD_TEXT_MAX + 1];
	int err = (int)m->err;

	snprintf(text, sizeof(text), "%.*s", (int)m->text_len, m->text);
	if (err == VELD_EREVOKED)
		wipe(s);
	/* The server's own trouble may pass; a refusal will not. */
	fail(s, err ? err : VELD_ESERVER, text,
	     err == VELD_ESERVER || err == VELD_ESTORE || err == VELD_EFULL ||
		     err == VELD_ENOMEM);
}

static void handle(struct sync *s, const uint8_t *raw, size_t len)
{
	struct veld_msg *m = malloc(sizeof(*m));
	int rc;

	if (!m) {
		fail(s, VELD_ENOMEM, "out of memory", 0);
		return;
	}
	rc = veld_msg_decode(raw, len, m);
	/* Only OPS add to an open pull transaction; the rest write alone. */
	if (rc == 0 && m->type != VELD_MSG_OPS && s->dev.replica &&
	    veld_replica_pull_commit(s->dev.replica) < 0)
		rc = VELD_ESTORE;
	if (rc == VELD_ESTORE)
		fail(s, rc, "cannot store what the server sent", 0);
	else if (rc < 0)
		fail(s, rc, "the server sent a malformed message", 0);
	else if (m->type == VELD_MSG_ERROR)
		on_error(s, m);
	else if (m->type == VELD_MSG_HELLO && s->phase == P_HELLO)
		on_hello(s, m);
	else if (m->type == VELD_MSG_WELCOME && s->phase == P_WELCOME)
		on_welcome(s, m);
	else if (m->type == VELD_MSG_RECEIPT)
		on_receipt(s, m, raw, len);
	else if (m->type == VELD_MSG_OPS)
		on_ops(s, m);
	else
		fail(s, VELD_EPROTO, veld_msg_name(m->type), 0);
	veld_msg_release(m);
	free(m);
}

static void connect_now(lws_sorted_usec_list_t *sul);

/*
 * The end of a connection attempt, however lws reports it: retry or stop,
 * once per attempt.  lws 4.1 reports most failures as CONNECTION_ERROR,
 * but an upgrade that timed out (a server or proxy that accepts the
 * connection and never answers) only as CLOSED_CLIENT_HTTP, and a wsi can
 * go without any other word (WSI_DESTROY); left unhandled, the loop
 * waited for ever (tests/integration/fault_handshake.sh, "silent").
 */
static void schedule_retry(struct sync *s)
{
	lws_usec_t delay = 500 * LWS_US_PER_MS;

	if (s->ended)
		return;
	s->ended = 1;
	s->wsi = NULL;
	if (!s->retry || s->attempts >= s->opts->attempts) {
		s->finished = 1;
		return;
	}
	/* Backoff: 0.5 s doubling to 8 s (30 s when watching). */
	for (int i = 1; i < s->attempts &&
			delay < (s->opts->watch ? 30 : 8) * LWS_US_PER_SEC;
	     i++)
		delay *= 2;
	if (s->opts->watch)
		progress(s,
			 N_("%sserver not reachable; trying again in %llu s"),
			 "", (uint64_t)(delay / LWS_US_PER_SEC), 0);
	else
		progress(s,
			 N_("%sconnection lost; retrying (attempt %llu of "
			    "%llu)"),
			 "", (uint64_t)s->attempts + 1,
			 (uint64_t)s->opts->attempts);
	lws_sul_schedule(s->ctx, 0, &s->sul, connect_now, delay);
}

static int callback(struct lws *wsi, enum lws_callback_reasons reason,
		    void *user, void *in, size_t len)
{
	struct sync *s = user;

	(void)user;
	switch (reason) {
	case LWS_CALLBACK_CLIENT_CONNECTION_ERROR:
		if (s) {
			fail(s, VELD_ECONNECT,
			     in ? (const char *)in : "cannot connect", 1);
			schedule_retry(s);
		}
		return 0;
	case LWS_CALLBACK_CLIENT_ESTABLISHED:
		/* Watching: a connection that worked restarts the backoff. */
		if (s->opts->watch)
			s->attempts = 1;
		s->phase = P_HELLO;
		s->rep->err = 0;
		s->rep->text[0] = 0;
		return 0;
	case LWS_CALLBACK_CLIENT_RECEIVE:
		s->rep->bytes_down += len;
		if (veld_buf_append(&s->rx, in, len) < 0) {
			fail(s, VELD_EMSGSIZE, "message too large", 0);
			return -1;
		}
		if (!lws_is_final_fragment(wsi) ||
		    lws_remaining_packet_payload(wsi))
			return 0;
		handle(s, s->rx.data, s->rx.len);
		veld_buf_reset(&s->rx);
		if (s->phase == P_DONE && !s->tx_ready)
			return -1; /* done (or failed): close */
		return 0;
	case LWS_CALLBACK_CLIENT_WRITEABLE:
		if (s->tx_ready) {
			memcpy(s->wbuf + LWS_PRE, s->tx.data, s->tx.len);
			if (lws_write(wsi, s->wbuf + LWS_PRE, s->tx.len,
				      LWS_WRITE_BINARY) < (int)s->tx.len)
				return -1;
			s->rep->bytes_up += s->tx.len;
			s->tx_ready = 0;
			veld_buf_reset(&s->tx);
		}
		if (s->phase == P_DONE) {
			lws_close_reason(wsi, LWS_CLOSE_STATUS_NORMAL, NULL, 0);
			return -1;
		}
		return 0;
	case LWS_CALLBACK_CLIENT_CLOSED:
		if (s->phase != P_DONE)
			fail(s, VELD_ECONNECT, "the connection closed", 1);
		else if (!s->rep->err)
			s->retry = 0;
		schedule_retry(s);
		return 0;
	case LWS_CALLBACK_CLOSED_CLIENT_HTTP:
	case LWS_CALLBACK_WSI_DESTROY:
		/* Gone before the upgrade, or without any other word (not
		 * the wsi of an attempt already ended: that is not s->wsi). */
		if (s && !s->ended && (!s->wsi || s->wsi == wsi)) {
			if (s->phase != P_DONE)
				fail(s, VELD_ECONNECT,
				     "no WebSocket upgrade from the server "
				     "(no answer, or not veldd)",
				     1);
			schedule_retry(s);
		}
		return 0;
	default:
		break;
	}
	return 0;
}

static const struct lws_protocols protocols[] = {{.name = VELD_SUBPROTOCOL,
						  .callback = callback,
						  .rx_buffer_size = 65536},
						 {0}};

static void connect_now(lws_sorted_usec_list_t *sul)
{
	struct sync *s = lws_container_of(sul, struct sync, sul);
	struct lws_client_connect_info ci;

	memset(&ci, 0, sizeof(ci));
	s->attempts++;
	s->phase = P_CONNECTING;
	s->retry = 0;
	s->ended = 0;
	s->tx_ready = 0;
	veld_buf_reset(&s->rx);
	ci.context = s->ctx;
	ci.address = s->host;
	ci.port = s->port;
	ci.path = s->path;
	ci.host = s->host;
	ci.origin = s->host;
	ci.protocol = VELD_SUBPROTOCOL;
	ci.userdata = s;
	ci.pwsi = &s->wsi;
	if (s->tls) {
		ci.ssl_connection = LCCSCF_USE_SSL;
		if (s->opts->insecure)
			ci.ssl_connection |=
				LCCSCF_ALLOW_SELFSIGNED |
				LCCSCF_SKIP_SERVER_CERT_HOSTNAME_CHECK;
	}
	if (!lws_client_connect_via_info(&ci)) {
		fail(s, VELD_ECONNECT, "cannot connect", 1);
		schedule_retry(s);
	}
}

static int parse_url(struct sync *s, const char *url)
{
	char copy[sizeof(s->url)];
	const char *prot, *host, *path;

	if (strlen(url) >= sizeof(copy))
		return VELD_EINVAL;
	snprintf(s->url, sizeof(s->url), "%s", url);
	/* lws_parse_uri cuts its argument apart: give it a copy. */
	snprintf(copy, sizeof(copy), "%s", url);
	if (lws_parse_uri(copy, &prot, &host, &s->port, &path))
		return VELD_EINVAL;
	s->tls = strcmp(prot, "wss") == 0;
	if (!s->tls && strcmp(prot, "ws") != 0)
		return VELD_EINVAL;
	snprintf(s->host_buf, sizeof(s->host_buf), "%s", host);
	/* lws_parse_uri drops the leading '/'. */
	snprintf(s->path_buf, sizeof(s->path_buf), "/%s", path);
	s->host = s->host_buf;
	s->path = s->path_buf;
	return 0;
}

void veld_sync_global_init(int log_errors)
{
	lws_set_log_level(log_errors ? LLL_ERR : 0, NULL);
}

int veld_sync_run(const struct veld_home *home,
		  const struct veld_sync_opts *opts,
		  struct veld_sync_report *rep)
{
	struct lws_context_creation_info info;
	struct veld_sync_opts o = *opts;
	struct veld_buf url, ca;
	struct sync *s;
	int rc = 0;

	memset(rep, 0, sizeof(*rep));
	if (o.attempts < 1)
		o.attempts = 5;
	s = calloc(1, sizeof(*s));
	if (!s)
		return VELD_ENOMEM;
	s->home = home;
	s->opts = &o;
	s->rep = rep;
	veld_buf_init(&s->rx, VELD_MSG_MAX);
	veld_buf_init(&s->tx, VELD_MSG_MAX);
	veld_buf_init(&url, 512);
	veld_buf_init(&ca, 4096);
	s->wbuf = malloc(LWS_PRE + VELD_MSG_MAX);
	if (!s->wbuf) {
		rc = VELD_ENOMEM;
		goto out;
	}
	if (!o.code) {
		rc = veld_device_open(&s->dev, home);
		if (rc < 0)
			goto out;
		s->keys = 1;
		if (!o.url) {
			/* Stored at enrolment. */
			if (veld_store_meta_get(
				    veld_replica_store(s->dev.replica),
				    VELD_META_URL, &url) != 1 ||
			    veld_buf_append(&url, "", 1) < 0) {
				rc = VELD_EINVAL;
				snprintf(rep->text, sizeof(rep->text),
					 "no server known; use --server URL");
				goto out;
			}
			o.url = (const char *)url.data;
		}
		/* The CA file given at enrolment, for wss:// later on. */
		if (!o.ca_file &&
		    veld_store_meta_get(veld_replica_store(s->dev.replica),
					VELD_META_CA, &ca) == 1 &&
		    veld_buf_append(&ca, "", 1) == 0)
			o.ca_file = (const char *)ca.data;
	}
	if (!o.url || parse_url(s, o.url) < 0) {
		rc = VELD_EINVAL;
		snprintf(rep->text, sizeof(rep->text),
			 "bad server URL (want ws://HOST:PORT/sync or "
			 "wss://...)");
		goto out;
	}

	memset(&info, 0, sizeof(info));
	info.port = CONTEXT_PORT_NO_LISTEN;
	info.protocols = protocols;
	/*
	 * One connection at a time, and lws's event pipe: without a limit lws
	 * sizes its fd tables by the process's open-file limit (ulimit -n)
	 * and zeroes them: ~300 KB touched per sync with a limit of 20,000
	 * (docs/bench.md).  With one, it searches a table this long instead.
	 */
	info.fd_limit_per_thread = VELD_SYNC_FDS;
	if (s->tls) {
		info.options |= LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT;
		info.client_ssl_ca_filepath = o.ca_file;
	}
	s->ctx = lws_create_context(&info);
	if (!s->ctx) {
		rc = VELD_ECONNECT;
		goto out;
	}
	connect_now(&s->sul);
	while (!s->finished)
		if (lws_service(s->ctx, 0) < 0)
			break;
	lws_context_destroy(s->ctx);
	rc = rep->err;
	/* A pull cut short keeps what it applied, with its cursor. */
	if (s->dev.replica && veld_replica_pull_commit(s->dev.replica) < 0 &&
	    !rc)
		rc = VELD_ESTORE;
out:
	if (rc && !rep->err)
		rep->err = rc;
	if (rc && !rep->text[0])
		snprintf(rep->text, sizeof(rep->text), "%s", veld_strerror(rc));
	if (s->keys)
		veld_device_close(&s->dev);
	veld_buf_release(&url);
	veld_buf_release(&ca);
	veld_buf_release(&s->rx);
	veld_buf_release(&s->tx);
	free(s->wbuf);
	free(s);
	return rc;
}
