/*
 * test_session.c - the server's side of veld.1, driven in-process: the
 * real session, registry, code and ingest modules, a real replica, and a
 * fake transport.  Each refusal is checked twice: the ERROR (code and close
 * code) the peer gets, and that the server's state did not change.
 */
#include <sodium.h>
#include <stdlib.h>
#include <time.h>
#include <zlib.h>

#include "code.h"
#include "hlc.h"
#include "replica_util.h"
#include "session.h"

static struct veld_key kS, kA, kB, kX, kY;
static struct veld_server srv;
static int flow_on = 1;

static void want_write(struct veld_session *s)
{
	(void)s;
}

static void rx_flow(struct veld_session *s, int on)
{
	(void)s;
	flow_on = on;
}

static void wake(void *ctx)
{
	(void)ctx;
}

static void server_up(void)
{
	memset(&srv, 0, sizeof(srv));
	if (veld_replica_open(":memory:", &kS, kS.pk, &srv.replica) ||
	    veld_ingest_new(&srv.ingest, 2, wake, NULL))
		abort();
	srv.key = &kS;
	srv.tx.want_write = want_write;
	srv.tx.rx_flow = rx_flow;
	srv.enrol_tokens = VELD_ENROL_BURST;
	srv.enrol_refill_ms = veld_server_now_ms();
}

static void server_down(void)
{
	veld_ingest_free(srv.ingest);
	veld_replica_close(srv.replica);
}

/* The cursor meta "ack:<device hex>" holds, or -1 if there is none. */
static int64_t acked(const uint8_t device[VELD_PK_LEN])
{
	char key[4 + 2 * VELD_PK_LEN + 1] = "ack:";
	struct veld_buf v;
	int64_t cursor = -1;

	sodium_bin2hex(key + 4, sizeof(key) - 4, device, VELD_PK_LEN);
	veld_buf_init(&v, 64);
	if (veld_store_meta_get(veld_replica_store(srv.replica), key, &v) ==
		    1 &&
	    v.len == 16) {
		cursor = 0;
		for (int i = 0; i < 8; i++)
			cursor = (cursor << 8) | v.data[i];
	}
	veld_buf_release(&v);
	return cursor;
}

static void issue(const char *role, const char *name, uint64_t expires,
		  char code[VELD_CODE_BUF])
{
	struct veld_code_row row = {role, name, "noord", expires};
	if (veld_code_issue(veld_replica_store(srv.replica), &row, code))
		abort();
}

/* Pop the next queued message into m (caller releases); 0 if none. */
static int next(struct veld_session *s, struct veld_msg *m,
		struct veld_buf *keep)
{
	const struct veld_buf *b = veld_session_out(s);

	if (!b)
		return 0;
	veld_buf_reset(keep);
	if (veld_buf_append(keep, b->data, b->len))
		abort();
	veld_session_out_pop(s);
	if (veld_msg_decode(keep->data, keep->len, m))
		abort();
	/* Every OPS the server sends must decode into ops. */
	if (m->type == VELD_MSG_OPS && veld_msg_open_runs(m))
		abort();
	return 1;
}

static void input(struct veld_session *s, const struct veld_buf *b)
{
	veld_session_input(s, b->data, b->len);
}

/* Let the worker pool finish a PUSH and hand it back. */
static void settle_push(struct veld_session *s)
{
	struct veld_ingest_job *job = NULL;

	for (int i = 0; i < 2000 && !job; i++) {
		struct timespec ts = {0, 1000000};
		job = veld_ingest_done(srv.ingest);
		if (!job)
			nanosleep(&ts, NULL);
	}
	if (!job)
		abort();
	veld_session_push_done(s, job);
	veld_ingest_release(srv.ingest, job);
}

struct conn {
	struct veld_session s;
	struct veld_msg m;
	struct veld_buf keep, tx;
	uint8_t nonce[32];
};

/* Connect: HELLO arrives, its nonce is kept. */
static void conn_open(struct conn *c)
{
	veld_buf_init(&c->keep, VELD_MSG_MAX);
	veld_buf_init(&c->tx, VELD_MSG_MAX);
	CHECK_EQ(veld_session_open(&c->s, &srv, c), 0);
	CHECK(next(&c->s, &c->m, &c->keep));
	CHECK_EQ(c->m.type, VELD_MSG_HELLO);
	CHECK_MEM(c->m.key, kS.pk, 32);
	memcpy(c->nonce, c->m.nonce, 32);
	veld_msg_release(&c->m);
}

static void conn_close(struct conn *c)
{
	veld_session_close(&c->s);
	veld_buf_release(&c->keep);
	veld_buf_release(&c->tx);
}

/* Expect an ERROR with this code, then the close code. */
static void expect_error(struct conn *c, int err, int close_code)
{
	CHECK(next(&c->s, &c->m, &c->keep));
	CHECK_EQ(c->m.type, VELD_MSG_ERROR);
	CHECK_ERR((int)c->m.err, err);
	CHECK(c->m.fatal);
	veld_msg_release(&c->m);
	CHECK_EQ(c->s.state, VELD_SS_CLOSING);
	CHECK_EQ(c->s.close_code, close_code);
}

static void auth(struct conn *c, const struct veld_key *k)
{
	veld_buf_reset(&c->tx);
	CHECK_EQ(veld_msg_auth(&c->tx, k, kS.pk, c->nonce), 0);
	input(&c->s, &c->tx);
}

static void enrol(struct conn *c, const struct veld_key *k, const char *code)
{
	veld_buf_reset(&c->tx);
	CHECK_EQ(veld_msg_enrol(&c->tx, k, kS.pk, c->nonce, code, "dev"), 0);
	input(&c->s, &c->tx);
}

static void expect_welcome(struct conn *c, const char *role)
{
	CHECK(next(&c->s, &c->m, &c->keep));
	CHECK_EQ(c->m.type, VELD_MSG_WELCOME);
	CHECK(c->m.role_len == strlen(role) &&
	      memcmp(c->m.role, role, c->m.role_len) == 0);
	veld_msg_release(&c->m);
}

static void hash_now(uint8_t h[32])
{
	state_hash(srv.replica, h);
}

/* A device's own put op, seq/prev given. */
static void own_op(const struct veld_key *k, uint64_t seq, const uint8_t *prev,
		   uint64_t kind, struct veld_buf *out, uint8_t id[32])
{
	struct veld_op_header h;
	struct veld_buf body;
	msgpack_packer pk;
	uint8_t salt[16] = {0};

	memset(&h, 0, sizeof(h));
	h.seq = seq;
	h.has_prev = prev != NULL;
	if (prev)
		memcpy(h.prev, prev, 32);
	h.hlc = VELD_HLC_MAKE(veld_hlc_wall_ms(), seq);
	memset(h.record, (int)seq, 16);
	h.kind = kind;
	veld_buf_init(&body, VELD_BODY_MAX);
	veld_buf_packer_init(&pk, &body);
	veld_body_begin(&pk, salt);
	if (kind == VELD_KIND_FORM) {
		msgpack_pack_map(&pk, 2);
		msgpack_pack_str_with_body(&pk, "def", 3);
		msgpack_pack_map(&pk, 0);
		msgpack_pack_str_with_body(&pk, "name", 4);
		msgpack_pack_str_with_body(&pk, "f", 1);
	} else {
		msgpack_pack_map(&pk, 1);
		msgpack_pack_str_with_body(&pk, "set", 3);
		msgpack_pack_map(&pk, 1);
		msgpack_pack_str_with_body(&pk, "wish", 4);
		msgpack_pack_str_with_body(&pk, "bankjes", 7);
	}
	veld_buf_init(out, VELD_OP_MAX);
	if (veld_op_create(k, &h, body.data, body.len, out, id))
		abort();
	veld_buf_release(&body);
}

static void push(struct conn *c, uint64_t batch, struct veld_buf *ops, size_t n)
{
	struct veld_bytes b[8];

	for (size_t i = 0; i < n; i++)
		b[i] = (struct veld_bytes){ops[i].data, ops[i].len};
	veld_buf_reset(&c->tx);
	CHECK_EQ(veld_msg_push(&c->tx, batch, b, n), 0);
	input(&c->s, &c->tx);
	CHECK_EQ(flow_on, 0); /* not read while the batch is checked */
	settle_push(&c->s);
}

/* A PUSH whose runs block is z, as a hostile device could send it. */
static void push_runs(struct conn *c, uint64_t batch, const uint8_t *z,
		      size_t zlen)
{
	msgpack_packer pk;

	veld_buf_reset(&c->tx);
	veld_buf_packer_init(&pk, &c->tx);
	msgpack_pack_array(&pk, 3);
	msgpack_pack_uint8(&pk, VELD_MSG_PUSH);
	msgpack_pack_uint64(&pk, batch);
	msgpack_pack_bin_with_body(&pk, z, zlen);
	CHECK_EQ(c->tx.err, 0);
	input(&c->s, &c->tx);
	settle_push(&c->s);
}

/* Raw deflate of n zero bytes: a few KiB that inflate to n. */
static size_t zero_bomb(uint8_t *out, size_t cap, size_t n)
{
	uint8_t *zeros = calloc(1, n);
	z_stream z;
	size_t len;

	memset(&z, 0, sizeof(z));
	if (!zeros ||
	    deflateInit2(&z, 9, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY) != Z_OK)
		abort();
	z.next_in = zeros;
	z.avail_in = (uInt)n;
	z.next_out = out;
	z.avail_out = (uInt)cap;
	if (deflate(&z, Z_FINISH) != Z_STREAM_END)
		abort();
	len = cap - z.avail_out;
	deflateEnd(&z);
	free(zeros);
	return len;
}

static void enrolment(void)
{
	struct conn c;
	char code[VELD_CODE_BUF], lower[VELD_CODE_BUF];
	uint8_t h0[32], h1[32];

	server_up();
	issue("field", "Ahmed", veld_hlc_wall_ms() + 60000, code);
	/* What a person types: lowercase, no dash. */
	snprintf(lower, sizeof(lower), "%.5s%s", code, code + 6);
	for (char *p = lower; *p; p++)
		*p = (char)(*p >= 'A' && *p <= 'Z' ? *p + 32 : *p);
	conn_open(&c);
	enrol(&c, &kA, lower);
	expect_welcome(&c, "field");
	conn_close(&c);

	/* The same code again: refused; nothing new stored. */
	hash_now(h0);
	conn_open(&c);
	enrol(&c, &kB, code);
	expect_error(&c, VELD_ECODEUSED, 4401);
	conn_close(&c);
	/* Expired and unknown codes. */
	issue("field", "Bea", veld_hlc_wall_ms() - 10000, code);
	conn_open(&c);
	enrol(&c, &kB, code);
	expect_error(&c, VELD_ECODEEXPIRED, 4401);
	conn_close(&c);
	conn_open(&c);
	enrol(&c, &kB, "00000-00000");
	expect_error(&c, VELD_ECODE, 4401);
	conn_close(&c);
	/* code_retention: long-expired codes are forgotten. */
	CHECK_EQ(veld_store_codes_prune(veld_replica_store(srv.replica),
					veld_hlc_wall_ms(), 5000),
		 1);
	conn_open(&c);
	enrol(&c, &kB, code);
	expect_error(&c, VELD_ECODE, 4401);
	conn_close(&c);
	/* An enrolled key enrolling again (its WELCOME was lost) is let in
	 * as what it is: a second code cannot make it a coordinator, and
	 * that code is not used up. */
	issue("coordinator", "Mallory", veld_hlc_wall_ms() + 60000, code);
	conn_open(&c);
	enrol(&c, &kA, code);
	expect_welcome(&c, "field");
	conn_close(&c);
	hash_now(h1);
	CHECK_MEM(h0, h1, 32);
	conn_open(&c);
	enrol(&c, &kX, code);
	expect_welcome(&c, "coordinator");
	conn_close(&c);
	/* Guessing codes: the bucket runs dry. */
	int limited = 0;
	for (int i = 0; i < 20; i++) {
		conn_open(&c);
		enrol(&c, &kB, "ZZZZZ-ZZZZZ");
		CHECK(next(&c.s, &c.m, &c.keep));
		limited += c.m.err == VELD_ERATE;
		veld_msg_release(&c.m);
		conn_close(&c);
	}
	CHECK(limited >= 10);
	server_down();
}

static void authentication(void)
{
	struct conn c, d;
	char code[VELD_CODE_BUF];

	server_up();
	issue("field", "Ahmed", veld_hlc_wall_ms() + 60000, code);
	conn_open(&c);
	enrol(&c, &kA, code);
	expect_welcome(&c, "field");
	conn_close(&c);

	conn_open(&c);
	auth(&c, &kA);
	expect_welcome(&c, "field");
	conn_close(&c);
	/* Unknown key. */
	conn_open(&c);
	auth(&c, &kX);
	expect_error(&c, VELD_EAUTH, 4401);
	conn_close(&c);
	/* A recorded AUTH replayed on another connection. */
	conn_open(&c);
	conn_open(&d);
	veld_buf_reset(&c.tx);
	CHECK_EQ(veld_msg_auth(&c.tx, &kA, kS.pk, c.nonce), 0);
	input(&d.s, &c.tx);
	expect_error(&d, VELD_EAUTH, 4401);
	conn_close(&d);
	conn_close(&c);
	/* Messages out of order, and garbage. */
	conn_open(&c);
	veld_buf_reset(&c.tx);
	CHECK_EQ(veld_msg_pull(&c.tx, 0), 0);
	input(&c.s, &c.tx);
	expect_error(&c, VELD_EPROTO, 4400);
	conn_close(&c);
	conn_open(&c);
	veld_session_input(&c.s, (const uint8_t *)"\x93\x01", 2);
	expect_error(&c, VELD_EDECLARED, 4400);
	conn_close(&c);
	conn_open(&c);
	veld_session_input(&c.s, (const uint8_t *)"\x91\x63", 2);
	expect_error(&c, VELD_EMSGTYPE, 4400);
	conn_close(&c);
	/* Revoked: told so. */
	CHECK_EQ(veld_replica_device(srv.replica, kA.pk, "field", "Ahmed",
				     "noord", 1, NULL),
		 0);
	conn_open(&c);
	auth(&c, &kA);
	expect_error(&c, VELD_EREVOKED, 4403);
	conn_close(&c);
	server_down();
}

static void pushing(void)
{
	struct conn c;
	char code[VELD_CODE_BUF];
	struct veld_buf o1, o2, o3, other, form;
	uint8_t id1[32], id2[32], id3[32], idx[32], idf[32], h0[32], h1[32];
	struct veld_head head;

	server_up();
	issue("field", "Ahmed", veld_hlc_wall_ms() + 60000, code);
	conn_open(&c);
	enrol(&c, &kA, code);
	expect_welcome(&c, "field");
	own_op(&kA, 1, NULL, VELD_KIND_PUT, &o1, id1);
	own_op(&kA, 2, id1, VELD_KIND_PUT, &o2, id2);
	own_op(&kA, 3, id2, VELD_KIND_PUT, &o3, id3);
	own_op(&kB, 1, NULL, VELD_KIND_PUT, &other, idx);
	own_op(&kA, 3, id2, VELD_KIND_FORM, &form, idf);

	/* A good batch: a signed receipt for our chain head. */
	push(&c, 1, &o1, 1);
	CHECK(next(&c.s, &c.m, &c.keep));
	CHECK_EQ(c.m.type, VELD_MSG_RECEIPT);
	CHECK_EQ(c.m.batch, 1);
	CHECK_EQ(c.m.seq, 1);
	CHECK_MEM(c.m.head, id1, 32);
	CHECK_EQ(veld_msg_verify_receipt(&c.m, kS.pk, kA.pk), 0);
	CHECK_EQ(veld_msg_verify_receipt(&c.m, kS.pk, kB.pk), VELD_ESIG);
	veld_msg_release(&c.m);
	CHECK_EQ(flow_on, 1);
	hash_now(h0);

	/* A field device may not push a form: nothing of the batch kept. */
	struct veld_buf batch[2] = {o2, form};
	push(&c, 2, batch, 2);
	expect_error(&c, VELD_EROLE, 4400);
	hash_now(h1);
	CHECK_MEM(h0, h1, 32);
	CHECK_EQ(veld_store_head(veld_replica_store(srv.replica), kA.pk, &head),
		 0);
	CHECK_EQ(head.seq, 1); /* op 2 of that batch was not kept either */
	conn_close(&c);

	/* Someone else's op; a forged signature; a gap. */
	conn_open(&c);
	auth(&c, &kA);
	expect_welcome(&c, "field");
	push(&c, 3, &other, 1);
	expect_error(&c, VELD_EAUTH, 4401);
	conn_close(&c);
	conn_open(&c);
	auth(&c, &kA);
	expect_welcome(&c, "field");
	o2.data[o2.len - 80] ^= 1; /* inside the signature */
	push(&c, 4, &o2, 1);
	expect_error(&c, VELD_ESIG, 4400);
	o2.data[o2.len - 80] ^= 1;
	conn_close(&c);
	conn_open(&c);
	auth(&c, &kA);
	expect_welcome(&c, "field");
	push(&c, 5, &o3, 1);
	expect_error(&c, VELD_ESEQ, 4400);
	conn_close(&c);
	/* A deflate bomb; compressed garbage: refused, nothing stored. */
	{
		static uint8_t z[64 * 1024];
		size_t n = zero_bomb(z, sizeof(z), 8 * 1024 * 1024);

		conn_open(&c);
		auth(&c, &kA);
		expect_welcome(&c, "field");
		push_runs(&c, 6, z, n);
		expect_error(&c, VELD_EZIPSIZE, 4400);
		conn_close(&c);
		conn_open(&c);
		auth(&c, &kA);
		expect_welcome(&c, "field");
		push_runs(&c, 7, (const uint8_t *)"\x03\x00garbage", 9);
		expect_error(&c, VELD_EZIP, 4400);
		conn_close(&c);
	}
	hash_now(h1);
	CHECK_MEM(h0, h1, 32);

	/* Resuming: WELCOME says how far the server is; the rest goes. */
	conn_open(&c);
	auth(&c, &kA);
	CHECK(next(&c.s, &c.m, &c.keep));
	CHECK_EQ(c.m.seq, 1);
	veld_msg_release(&c.m);
	struct veld_buf rest[2] = {o2, o3};
	push(&c, 6, rest, 2);
	CHECK(next(&c.s, &c.m, &c.keep));
	CHECK_EQ(c.m.type, VELD_MSG_RECEIPT);
	CHECK_EQ(c.m.seq, 3);
	veld_msg_release(&c.m);
	/* Sent twice (a lost receipt): fine, same receipt. */
	push(&c, 7, rest, 2);
	CHECK(next(&c.s, &c.m, &c.keep));
	CHECK_EQ(c.m.type, VELD_MSG_RECEIPT);
	CHECK_EQ(c.m.seq, 3);
	veld_msg_release(&c.m);
	conn_close(&c);
	veld_buf_release(&o1);
	veld_buf_release(&o2);
	veld_buf_release(&o3);
	veld_buf_release(&other);
	veld_buf_release(&form);
	server_down();
}

static void pulling_and_live(void)
{
	struct conn a, b;
	char c1[VELD_CODE_BUF], c2[VELD_CODE_BUF];
	struct veld_buf o1;
	uint8_t id1[32];
	uint64_t cursor;

	server_up();
	issue("field", "Ahmed", veld_hlc_wall_ms() + 60000, c1);
	issue("coordinator", "Carla", veld_hlc_wall_ms() + 60000, c2);
	conn_open(&a);
	enrol(&a, &kA, c1);
	expect_welcome(&a, "field");
	conn_open(&b);
	enrol(&b, &kB, c2);
	expect_welcome(&b, "coordinator");

	/* B pulls from 0: the two enrolments, then caught up. */
	veld_buf_reset(&b.tx);
	CHECK_EQ(veld_msg_pull(&b.tx, 0), 0);
	input(&b.s, &b.tx);
	CHECK(next(&b.s, &b.m, &b.keep));
	CHECK_EQ(b.m.type, VELD_MSG_OPS);
	CHECK_EQ(b.m.nops, 2);
	CHECK_EQ(b.m.more, 0);
	cursor = b.m.cursor;
	veld_msg_release(&b.m);
	CHECK(!next(&b.s, &b.m, &b.keep)); /* nothing before the ACK */
	/* A wrong ACK is a protocol error; the right one is quiet. */
	veld_buf_reset(&b.tx);
	CHECK_EQ(veld_msg_ack(&b.tx, cursor), 0);
	input(&b.s, &b.tx);
	CHECK(!next(&b.s, &b.m, &b.keep));
	/* How far B got is written for operators with the next flush (main.c
	 * flushes every second), not in a transaction of its own. */
	CHECK_EQ(acked(kB.pk), -1);
	veld_server_flush_notes(&srv);
	CHECK_EQ(acked(kB.pk), (int64_t)cursor);

	/* A pushes: B gets it live, without asking. */
	own_op(&kA, 1, NULL, VELD_KIND_PUT, &o1, id1);
	push(&a, 1, &o1, 1);
	CHECK(next(&a.s, &a.m, &a.keep));
	CHECK_EQ(a.m.type, VELD_MSG_RECEIPT);
	veld_msg_release(&a.m);
	CHECK(next(&b.s, &b.m, &b.keep));
	CHECK_EQ(b.m.type, VELD_MSG_OPS);
	CHECK_EQ(b.m.nops, 1);
	CHECK(b.m.nops == 1 && b.m.ops[0].len == o1.len &&
	      memcmp(b.m.ops[0].p, o1.data, o1.len) == 0);
	veld_msg_release(&b.m);
	veld_buf_reset(&b.tx);
	CHECK_EQ(veld_msg_ack(&b.tx, cursor), 0); /* stale cursor */
	input(&b.s, &b.tx);
	expect_error(&b, VELD_EPROTO, 4400);
	conn_close(&a);
	conn_close(&b);
	veld_buf_release(&o1);
	server_down();
}

/* Notes for more than VELD_NOTES_MAX keys at once (a live op sent to
 * everyone comes back as one ACK each) are written VELD_NOTES_MAX at a
 * time; a key noted again before the flush keeps one entry, the last
 * value. */
static void notes_batched(void)
{
	char key[VELD_NOTE_KEY_MAX + 1];
	struct veld_buf v;

	server_up();
	veld_buf_init(&v, 64);
	for (int i = 0; i < VELD_NOTES_MAX; i++) {
		snprintf(key, sizeof(key), "k%d", i);
		CHECK_EQ(veld_server_note(&srv, key, "first", 5), 0);
	}
	CHECK_EQ(veld_server_note(&srv, "k3", "again", 5), 0);
	CHECK_EQ(srv.nnotes, VELD_NOTES_MAX);
	CHECK_EQ(veld_store_meta_get(veld_replica_store(srv.replica), "k3", &v),
		 0);
	CHECK_EQ(veld_server_note(&srv, "one more", "x", 1), 0);
	CHECK_EQ(srv.nnotes, 1);
	CHECK_EQ(veld_store_meta_get(veld_replica_store(srv.replica), "k3", &v),
		 1);
	CHECK(v.len == 5 && memcmp(v.data, "again", 5) == 0);
	CHECK_EQ(veld_store_meta_get(veld_replica_store(srv.replica),
				     "one more", &v),
		 0);
	veld_server_flush_notes(&srv);
	CHECK_EQ(srv.nnotes, 0);
	CHECK_EQ(veld_store_meta_get(veld_replica_store(srv.replica),
				     "one more", &v),
		 1);
	/* Too long for the table: refused, nothing noted. */
	memset(key, 'k', VELD_NOTE_KEY_MAX);
	key[VELD_NOTE_KEY_MAX] = 0;
	CHECK_ERR(veld_server_note(&srv, key, "x", 1), VELD_EINVAL);
	CHECK_ERR(veld_server_note(&srv, "k", key, VELD_NOTE_VALUE_MAX + 1),
		  VELD_EINVAL);
	CHECK_EQ(srv.nnotes, 0);
	veld_buf_release(&v);
	server_down();
}

/* More than a page of the device's own ops: skipped, but the stream goes
 * on past them and ends caught up. */
static void own_ops_skipped(void)
{
	struct conn a;
	char code[VELD_CODE_BUF];
	struct veld_buf ops[8];
	uint8_t prev[32];
	uint64_t seq = 0, got = 0, rounds = 0;
	int more = 1;

	server_up();
	issue("field", "Ahmed", veld_hlc_wall_ms() + 60000, code);
	conn_open(&a);
	enrol(&a, &kA, code);
	expect_welcome(&a, "field");
	for (int b = 0; b < 40; b++) { /* 320 ops */
		for (int i = 0; i < 8; i++) {
			seq++;
			own_op(&kA, seq, seq > 1 ? prev : NULL, VELD_KIND_PUT,
			       &ops[i], prev);
		}
		push(&a, (uint64_t)b + 1, ops, 8);
		CHECK(next(&a.s, &a.m, &a.keep));
		CHECK_EQ(a.m.type, VELD_MSG_RECEIPT);
		veld_msg_release(&a.m);
		for (int i = 0; i < 8; i++)
			veld_buf_release(&ops[i]);
	}
	veld_buf_reset(&a.tx);
	CHECK_EQ(veld_msg_pull(&a.tx, 0), 0);
	input(&a.s, &a.tx);
	while (more && rounds++ < 10) {
		CHECK(next(&a.s, &a.m, &a.keep));
		CHECK_EQ(a.m.type, VELD_MSG_OPS);
		for (size_t i = 0; i < a.m.nops; i++) {
			struct veld_op op;
			CHECK_EQ(veld_op_decode(a.m.ops[i].p, a.m.ops[i].len,
						&op),
				 0);
			CHECK(memcmp(op.h.author, kA.pk, 32) != 0);
		}
		got += a.m.nops;
		more = a.m.more;
		veld_buf_reset(&a.tx);
		CHECK_EQ(veld_msg_ack(&a.tx, a.m.cursor), 0);
		veld_msg_release(&a.m);
		input(&a.s, &a.tx);
	}
	CHECK_EQ(more, 0);
	CHECK_EQ(got, 1); /* only the enrolment, by the server */
	conn_close(&a);
	server_down();
}

/* Send a PUSH without handing it back yet. */
static void push_send(struct conn *c, uint64_t batch, struct veld_buf *ops,
		      size_t n)
{
	struct veld_bytes b[8];

	for (size_t i = 0; i < n; i++)
		b[i] = (struct veld_bytes){ops[i].data, ops[i].len};
	veld_buf_reset(&c->tx);
	CHECK_EQ(veld_msg_push(&c->tx, batch, b, n), 0);
	input(&c->s, &c->tx);
}

/*
 * Pushes of several devices ready at once are applied as one group (one
 * commit): each is still taken whole or not at all, each gets its own
 * receipt or refusal, and a push whose connection went away is dropped.
 */
static void grouped_pushes(void)
{
	struct conn a, b, x;
	char ca[VELD_CODE_BUF], cb[VELD_CODE_BUF], cx[VELD_CODE_BUF];
	struct veld_buf oa, ob1, ob2, ox;
	uint8_t ida[32], idb1[32], idb2[32], idx[32];
	struct veld_ingest_job *jobs[3] = {NULL, NULL, NULL};
	size_t got = 0;
	int status;

	server_up();
	issue("field", "Ahmed", veld_hlc_wall_ms() + 60000, ca);
	issue("field", "Bea", veld_hlc_wall_ms() + 60000, cb);
	issue("field", "Xavier", veld_hlc_wall_ms() + 60000, cx);
	conn_open(&a);
	enrol(&a, &kA, ca);
	expect_welcome(&a, "field");
	conn_open(&b);
	enrol(&b, &kB, cb);
	expect_welcome(&b, "field");
	conn_open(&x);
	enrol(&x, &kX, cx);
	expect_welcome(&x, "field");
	own_op(&kA, 1, NULL, VELD_KIND_PUT, &oa, ida);
	own_op(&kB, 1, NULL, VELD_KIND_PUT, &ob1, idb1);
	own_op(&kB, 2, idb1, VELD_KIND_FORM, &ob2, idb2); /* not a field's */
	own_op(&kX, 1, NULL, VELD_KIND_PUT, &ox, idx);
	struct veld_buf bb[2] = {ob1, ob2};
	push_send(&a, 1, &oa, 1);
	push_send(&b, 1, bb, 2);
	push_send(&x, 1, &ox, 1);
	for (int i = 0; i < 2000 && got < 3; i++) {
		struct timespec ts = {0, 1000000};
		jobs[got] = veld_ingest_done(srv.ingest);
		if (jobs[got])
			got++;
		else
			nanosleep(&ts, NULL);
	}
	CHECK_EQ(got, 3);
	conn_close(&x); /* gone before its push is applied */
	veld_session_push_many(&srv, jobs, got);
	for (size_t i = 0; i < got; i++)
		veld_ingest_release(srv.ingest, jobs[i]);

	CHECK(next(&a.s, &a.m, &a.keep));
	CHECK_EQ(a.m.type, VELD_MSG_RECEIPT);
	CHECK_EQ(a.m.seq, 1);
	CHECK_MEM(a.m.head, ida, 32);
	veld_msg_release(&a.m);
	expect_error(&b, VELD_EROLE, 4400);
	CHECK_EQ(veld_store_op_status(veld_replica_store(srv.replica), ida,
				      &status),
		 1);
	CHECK_EQ(veld_store_op_status(veld_replica_store(srv.replica), idb1,
				      &status),
		 0);
	CHECK_EQ(veld_store_op_status(veld_replica_store(srv.replica), idx,
				      &status),
		 0);
	conn_close(&a);
	conn_close(&b);
	veld_buf_release(&oa);
	veld_buf_release(&ob1);
	veld_buf_release(&ob2);
	veld_buf_release(&ox);
	server_down();
}

/* n own ops of k, seq 1..n, pushed in one PUSH; the RECEIPT is checked. */
static void push_chain(struct conn *c, const struct veld_key *k, size_t n)
{
	struct veld_buf *ops = calloc(n, sizeof(*ops));
	struct veld_bytes *b = calloc(n, sizeof(*b));
	uint8_t id[32];

	if (!ops || !b)
		abort();
	for (size_t i = 0; i < n; i++) {
		own_op(k, i + 1, i ? id : NULL, VELD_KIND_PUT, &ops[i], id);
		b[i] = (struct veld_bytes){ops[i].data, ops[i].len};
	}
	veld_buf_reset(&c->tx);
	CHECK_EQ(veld_msg_push(&c->tx, 1, b, n), 0);
	input(&c->s, &c->tx);
	settle_push(&c->s);
	CHECK(next(&c->s, &c->m, &c->keep));
	CHECK_EQ(c->m.type, VELD_MSG_RECEIPT);
	CHECK_EQ(c->m.seq, n);
	veld_msg_release(&c->m);
	for (size_t i = 0; i < n; i++)
		veld_buf_release(&ops[i]);
	free(ops);
	free(b);
}

/* A server where two field devices a and b have pushed 700 ops each, and
 * a coordinator c is connected (nothing pulled yet). */
static void two_pushes(struct conn *a, struct conn *b, struct conn *c)
{
	char c1[VELD_CODE_BUF], c2[VELD_CODE_BUF], c3[VELD_CODE_BUF];

	server_up();
	issue("field", "Ahmed", veld_hlc_wall_ms() + 60000, c1);
	issue("field", "Bea", veld_hlc_wall_ms() + 60000, c2);
	issue("coordinator", "Carla", veld_hlc_wall_ms() + 60000, c3);
	conn_open(a);
	enrol(a, &kA, c1);
	expect_welcome(a, "field");
	conn_open(b);
	enrol(b, &kB, c2);
	expect_welcome(b, "field");
	conn_open(c);
	enrol(c, &kX, c3);
	expect_welcome(c, "coordinator");
	push_chain(a, &kA, 700);
	push_chain(b, &kB, 700);
}

/*
 * Only the last op of a PUSH's run carries a signature, so an OPS may only
 * end where every author in it ends signed: two pushes of 700 ops do not
 * fit one OPS (1024 ops), and the first message ends after the first push
 * instead of inside the second.
 */
static void pull_cut_at_signed(void)
{
	struct conn a, b, c;
	size_t got = 0, msgs = 0, first = 0;
	int more = 1;

	two_pushes(&a, &b, &c);

	veld_buf_reset(&c.tx);
	CHECK_EQ(veld_msg_pull(&c.tx, 0), 0);
	input(&c.s, &c.tx);
	while (more && msgs < 10) {
		size_t bad;
		CHECK(next(&c.s, &c.m, &c.keep));
		CHECK_EQ(c.m.type, VELD_MSG_OPS);
		/* next() opened the runs; each ends signed and verifies */
		CHECK_EQ(veld_runs_verify(&c.m.rs, &bad), 0);
		if (!msgs)
			first = c.m.nops;
		got += c.m.nops;
		more = c.m.more;
		msgs++;
		veld_buf_reset(&c.tx);
		CHECK_EQ(veld_msg_ack(&c.tx, c.m.cursor), 0);
		veld_msg_release(&c.m);
		input(&c.s, &c.tx);
	}
	CHECK_EQ(first, 3 + 700); /* the enrolments and A's push */
	CHECK_EQ(got, 3 + 700 + 700);
	CHECK_EQ(msgs, 2);
	conn_close(&a);
	conn_close(&b);
	conn_close(&c);
	server_down();
}

/*
 * While a device catches up the server packs the next OPS before the ACK
 * of the one before (VELD_OPS_WINDOW, protocol P3), so packing and
 * applying overlap; after an OPS with more = false, and for live ops, it
 * waits for the ACKs.  ACKs must come in order.
 */
static void pull_window(void)
{
	struct conn a, b, c, d;
	char c4[VELD_CODE_BUF];
	uint64_t cur1, cur2;

	two_pushes(&a, &b, &c);
	issue("field", "Dirk", veld_hlc_wall_ms() + 60000, c4);

	veld_buf_reset(&c.tx);
	CHECK_EQ(veld_msg_pull(&c.tx, 0), 0);
	input(&c.s, &c.tx);
	/* Two OPS before any ACK: the second ends the catch-up. */
	CHECK(next(&c.s, &c.m, &c.keep));
	CHECK_EQ(c.m.type, VELD_MSG_OPS);
	CHECK_EQ(c.m.more, 1);
	cur1 = c.m.cursor;
	veld_msg_release(&c.m);
	CHECK(next(&c.s, &c.m, &c.keep));
	CHECK_EQ(c.m.type, VELD_MSG_OPS);
	CHECK_EQ(c.m.more, 0);
	cur2 = c.m.cursor;
	CHECK(cur2 > cur1);
	veld_msg_release(&c.m);
	CHECK(!next(&c.s, &c.m, &c.keep));

	/* A new device's enrolment is a live op: it waits for the ACKs. */
	conn_open(&d);
	enrol(&d, &kY, c4);
	expect_welcome(&d, "field");
	CHECK(!next(&c.s, &c.m, &c.keep));
	veld_buf_reset(&c.tx);
	CHECK_EQ(veld_msg_ack(&c.tx, cur1), 0);
	input(&c.s, &c.tx);
	CHECK(!next(&c.s, &c.m, &c.keep));
	veld_buf_reset(&c.tx);
	CHECK_EQ(veld_msg_ack(&c.tx, cur2), 0);
	input(&c.s, &c.tx);
	CHECK(next(&c.s, &c.m, &c.keep));
	CHECK_EQ(c.m.type, VELD_MSG_OPS);
	CHECK_EQ(c.m.nops, 1);
	CHECK(c.m.cursor > cur2);
	veld_msg_release(&c.m);

	/* An ACK out of order is a protocol error. */
	veld_buf_reset(&c.tx);
	CHECK_EQ(veld_msg_ack(&c.tx, cur1), 0);
	input(&c.s, &c.tx);
	expect_error(&c, VELD_EPROTO, 4400);
	conn_close(&a);
	conn_close(&b);
	conn_close(&c);
	conn_close(&d);
	server_down();
}

/*
 * The workers stop checking pushes once VELD_INGEST_DECODED_MAX checked
 * jobs wait to be applied (each holds its rebuilt ops), and go on as soon
 * as one is released: veldd's memory does not grow with the number of
 * devices pushing at once.
 */
static void ingest_bounded(void)
{
	enum { N = VELD_INGEST_DECODED_MAX + 4 };
	static const uint8_t junk[] = {1, 2, 3};
	struct veld_ingest_job *got[N];
	struct veld_msg m = {
		.type = VELD_MSG_PUSH, .runs = junk, .runs_len = sizeof(junk)};
	uint8_t author[32] = {0};
	struct timespec ts = {0, 2000000};
	size_t n = 0;

	server_up();
	for (int i = 0; i < N; i++)
		veld_ingest_submit(
			srv.ingest,
			veld_ingest_job_new(&m, (uint64_t)i, author));
	for (int i = 0; i < 200 && n < VELD_INGEST_DECODED_MAX; i++) {
		struct veld_ingest_job *j = veld_ingest_done(srv.ingest);
		if (j)
			got[n++] = j;
		else
			nanosleep(&ts, NULL);
	}
	CHECK_EQ(n, VELD_INGEST_DECODED_MAX);
	CHECK(got[0]->err < 0); /* not a runs block: refused, still counted */
	for (int i = 0; i < 50; i++) /* 100 ms: the workers wait */
		nanosleep(&ts, NULL);
	CHECK(veld_ingest_done(srv.ingest) == NULL);
	veld_ingest_release(srv.ingest, got[0]);
	for (int i = 0; i < 200 && n == VELD_INGEST_DECODED_MAX; i++) {
		struct veld_ingest_job *j = veld_ingest_done(srv.ingest);
		if (j)
			got[n++] = j;
		else
			nanosleep(&ts, NULL);
	}
	CHECK_EQ(n, VELD_INGEST_DECODED_MAX + 1);
	for (size_t i = 1; i < n; i++)
		veld_ingest_release(srv.ingest, got[i]);
	server_down(); /* frees the jobs still queued */
}

int main(void)
{
	if (sodium_init() < 0)
		return 2;
	util_key(&kS, 0x53);
	util_key(&kA, 0x41);
	util_key(&kB, 0x42);
	util_key(&kX, 0x58);
	util_key(&kY, 0x59);
	enrolment();
	authentication();
	pushing();
	pulling_and_live();
	notes_batched();
	own_ops_skipped();
	grouped_pushes();
	pull_cut_at_signed();
	pull_window();
	ingest_bounded();
	return test_summary("test_session");
}
