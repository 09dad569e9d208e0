/*
 * test_security.c - the security test matrix, in-process: server/session.c
 * with the real registry, codes and ingest pool on a real store in a
 * temporary directory, and a fake transport (as test_session.c).
 *
 * Every case is an attack, and every case checks two things: the refusal
 * (the ERROR's VELD_E* code and the WebSocket close code), and that the
 * stored data did not change (state hash, op/author/fork counts and the
 * attacked chain head, taken before and after).  docs/security.md names
 * the case that shows each defence.  The transport-level attacks (oversize
 * frames on a real socket, slowloris, path traversal) are in
 * tests/integration/security_transport.sh.
 */
#include <sodium.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "code.h"
#include "hlc.h"
#include "replica_util.h"
#include "session.h"

static struct veld_key kS, kField, kCoord, kX, kY;
static struct veld_server srv;
static char dir[64], db[96];
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

static void remove_db(void)
{
	test_remove_db(db);
}

/* A server with a field device and a coordinator enrolled. */
static void server_up(void)
{
	memset(&srv, 0, sizeof(srv));
	remove_db();
	if (veld_replica_open(db, &kS, kS.pk, &srv.replica) ||
	    veld_ingest_new(&srv.ingest, 2, wake, NULL))
		abort();
	srv.key = &kS;
	srv.tx.want_write = want_write;
	srv.tx.rx_flow = rx_flow;
	srv.enrol_tokens = VELD_ENROL_BURST;
	srv.enrol_refill_ms = veld_server_now_ms();
	CHECK_EQ(veld_replica_device(srv.replica, kField.pk, "field", "Ahmed",
				     "noord", 0, NULL),
		 0);
	CHECK_EQ(veld_replica_device(srv.replica, kCoord.pk, "coordinator",
				     "Carla", NULL, 0, NULL),
		 0);
}

static void server_down(void)
{
	veld_ingest_free(srv.ingest);
	veld_replica_close(srv.replica);
	remove_db();
}

/* What must not change under attack. */
struct before_after {
	uint8_t hash[32];
	struct veld_store_counts c;
	int64_t devices;
};

static int count_device(void *ctx, const struct veld_device_row *row)
{
	(void)row;
	(*(int64_t *)ctx)++;
	return 0;
}

static void take(struct before_after *s)
{
	struct veld_store *st = veld_replica_store(srv.replica);

	memset(s, 0, sizeof(*s));
	state_hash(srv.replica, s->hash);
	CHECK_EQ(veld_store_counts(st, &s->c), 0);
	CHECK_EQ(veld_store_devices(st, count_device, &s->devices), 0);
}

static void same(const struct before_after *a, const char *what)
{
	struct before_after b;

	take(&b);
	if (memcmp(a->hash, b.hash, 32) || a->c.ops != b.c.ops ||
	    a->c.ops_fork != b.c.ops_fork || a->c.bodies != b.c.bodies ||
	    a->c.authors != b.c.authors || a->devices != b.devices) {
		fprintf(stderr, "stored data changed by: %s\n", what);
		CHECK(0);
	}
}

/* --- a connection over the fake transport (as test_session.c) --- */

struct conn {
	struct veld_session s;
	struct veld_msg m;
	struct veld_buf keep, tx;
	uint8_t nonce[32];
};

static int next(struct conn *c)
{
	const struct veld_buf *b = veld_session_out(&c->s);

	if (!b)
		return 0;
	veld_buf_reset(&c->keep);
	if (veld_buf_append(&c->keep, b->data, b->len))
		abort();
	veld_session_out_pop(&c->s);
	if (veld_msg_decode(c->keep.data, c->keep.len, &c->m))
		abort();
	/* Every OPS the server sends must decode into ops. */
	if (c->m.type == VELD_MSG_OPS && veld_msg_open_runs(&c->m))
		abort();
	return 1;
}

static void conn_open(struct conn *c)
{
	veld_buf_init(&c->keep, VELD_MSG_MAX);
	veld_buf_init(&c->tx, VELD_MSG_MAX);
	CHECK_EQ(veld_session_open(&c->s, &srv, c), 0);
	CHECK(next(c));
	CHECK_EQ(c->m.type, VELD_MSG_HELLO);
	memcpy(c->nonce, c->m.nonce, 32);
	veld_msg_release(&c->m);
}

static void conn_close(struct conn *c)
{
	veld_session_close(&c->s);
	veld_buf_release(&c->keep);
	veld_buf_release(&c->tx);
}

static void send_tx(struct conn *c)
{
	veld_session_input(&c->s, c->tx.data, c->tx.len);
}

#define expect_error(c, err, close_code)                                       \
	do {                                                                   \
		int failed_ = test_failed;                                     \
		expect_error_((c), (err), (close_code));                       \
		if (test_failed != failed_)                                    \
			fprintf(stderr, "  (case at line %d)\n", __LINE__);    \
	} while (0)

static void expect_error_(struct conn *c, int err, int close_code)
{
	CHECK(next(c));
	CHECK_EQ(c->m.type, VELD_MSG_ERROR);
	CHECK_ERR((int)c->m.err, err);
	CHECK(c->m.fatal);
	veld_msg_release(&c->m);
	CHECK_EQ(c->s.state, VELD_SS_CLOSING);
	CHECK_EQ(c->s.close_code, close_code);
}

static void expect_type(struct conn *c, int type)
{
	CHECK(next(c));
	CHECK_EQ(c->m.type, type);
	if (c->m.type == VELD_MSG_ERROR)
		fprintf(stderr, "unexpected ERROR %s\n",
			veld_err_name((int)c->m.err));
	veld_msg_release(&c->m);
}

static void auth(struct conn *c, const struct veld_key *k)
{
	veld_buf_reset(&c->tx);
	CHECK_EQ(veld_msg_auth(&c->tx, k, kS.pk, c->nonce), 0);
	send_tx(c);
}

/* Connect and authenticate as k; expect WELCOME. */
static void login(struct conn *c, const struct veld_key *k)
{
	conn_open(c);
	auth(c, k);
	expect_type(c, VELD_MSG_WELCOME);
}

static void settle_push(struct conn *c)
{
	struct veld_ingest_job *job = NULL;

	for (int i = 0; i < 5000 && !job; i++) {
		struct timespec ts = {0, 1000000};
		job = veld_ingest_done(srv.ingest);
		if (!job)
			nanosleep(&ts, NULL);
	}
	if (!job)
		abort();
	veld_session_push_done(&c->s, job);
	veld_ingest_release(srv.ingest, job);
}

static void push(struct conn *c, const struct veld_buf *ops, size_t n)
{
	struct veld_bytes b[8];

	for (size_t i = 0; i < n; i++)
		b[i] = (struct veld_bytes){ops[i].data, ops[i].len};
	veld_buf_reset(&c->tx);
	CHECK_EQ(veld_msg_push(&c->tx, 1, b, n), 0);
	send_tx(c);
	settle_push(c);
}

/* --- ops --- */

/* An op by k with the given seq/prev/kind/clock and a content fitting the
 * kind (for kind 6, a device op enrolling kY as a coordinator). */
static void make_op(const struct veld_key *k, uint64_t seq, const uint8_t *prev,
		    uint64_t kind, uint64_t wall_ms, uint8_t record_fill,
		    struct veld_buf *out, uint8_t id[32])
{
	struct veld_op_header h;
	struct veld_buf body;
	msgpack_packer pk;
	uint8_t salt[16];

	memset(&h, 0, sizeof(h));
	h.seq = seq;
	h.has_prev = prev != NULL;
	if (prev)
		memcpy(h.prev, prev, 32);
	h.hlc = VELD_HLC_MAKE(wall_ms, 0);
	memset(h.record, record_fill, 16);
	h.kind = kind;
	veld_salt_random(salt);
	veld_buf_init(&body, VELD_BODY_MAX);
	veld_buf_packer_init(&pk, &body);
	veld_body_begin(&pk, salt);
	switch (kind) {
	case VELD_KIND_FORM:
		msgpack_pack_map(&pk, 2);
		msgpack_pack_str_with_body(&pk, "def", 3);
		msgpack_pack_map(&pk, 0);
		msgpack_pack_str_with_body(&pk, "name", 4);
		msgpack_pack_str_with_body(&pk, "f", 1);
		break;
	case VELD_KIND_ERASE:
		msgpack_pack_map(&pk, 0);
		break;
	case VELD_KIND_DEVICE:
		memcpy(h.record, kY.pk, 16);
		msgpack_pack_map(&pk, 4);
		msgpack_pack_str_with_body(&pk, "key", 3);
		msgpack_pack_bin_with_body(&pk, kY.pk, 32);
		msgpack_pack_str_with_body(&pk, "name", 4);
		msgpack_pack_str_with_body(&pk, "Mallory", 7);
		msgpack_pack_str_with_body(&pk, "role", 4);
		msgpack_pack_str_with_body(&pk, "coordinator", 11);
		msgpack_pack_str_with_body(&pk, "status", 6);
		msgpack_pack_str_with_body(&pk, "active", 6);
		break;
	default:
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

static void put_op(const struct veld_key *k, uint64_t seq, const uint8_t *prev,
		   struct veld_buf *out, uint8_t id[32])
{
	make_op(k, seq, prev, VELD_KIND_PUT, veld_hlc_wall_ms(), 0xa0, out, id);
}

/* A field device with its first op on the server. */
static void field_with_one_op(uint8_t id1[32])
{
	struct conn c;
	struct veld_buf o1;

	put_op(&kField, 1, NULL, &o1, id1);
	login(&c, &kField);
	push(&c, &o1, 1);
	expect_type(&c, VELD_MSG_RECEIPT);
	conn_close(&c);
	veld_buf_release(&o1);
}

/* --- the matrix --- */

/* An op whose signature was tampered with (a man in the middle, or a
 * device forging another's op with its own author key). */
static void forged_signature(void)
{
	struct conn c;
	struct veld_buf o;
	uint8_t id[32];
	struct before_after before;

	server_up();
	put_op(&kField, 1, NULL, &o, id);
	o.data[o.len - 80] ^= 0x01; /* inside the signature */
	take(&before);
	login(&c, &kField);
	push(&c, &o, 1);
	expect_error(&c, VELD_ESIG, 4400);
	conn_close(&c);
	same(&before, "an op with a forged signature");
	veld_buf_release(&o);
	server_down();
}

/* AUTH proofs: signed by another key, replayed from another connection,
 * for another server, and by a key that was never enrolled. */
static void forged_and_replayed_auth(void)
{
	struct conn c, d;
	struct before_after before;
	uint8_t other_server[32];

	server_up();
	take(&before);

	/* kX signs but claims to be kField: the proof is for kX's key. */
	conn_open(&c);
	veld_buf_reset(&c.tx);
	CHECK_EQ(veld_msg_auth(&c.tx, &kX, kS.pk, c.nonce), 0);
	memcpy(c.tx.data + 4, kField.pk, 32); /* [2, bin8 32 ...] */
	CHECK(c.tx.data[2] == 0xc4 && c.tx.data[3] == 32);
	send_tx(&c);
	expect_error(&c, VELD_EAUTH, 4401);
	conn_close(&c);

	/* A valid AUTH recorded on one connection, replayed on another:
	 * its nonce is not the new connection's. */
	conn_open(&c);
	conn_open(&d);
	veld_buf_reset(&c.tx);
	CHECK_EQ(veld_msg_auth(&c.tx, &kField, kS.pk, c.nonce), 0);
	veld_session_input(&d.s, c.tx.data, c.tx.len);
	expect_error(&d, VELD_EAUTH, 4401);
	conn_close(&d);
	/* ... and later, when the recording connection is gone: every
	 * connection has a new nonce. */
	uint8_t recorded[128];
	size_t recorded_len = c.tx.len;
	CHECK(recorded_len <= sizeof(recorded));
	memcpy(recorded, c.tx.data, recorded_len);
	conn_close(&c);
	conn_open(&d);
	veld_session_input(&d.s, recorded, recorded_len);
	expect_error(&d, VELD_EAUTH, 4401);
	conn_close(&d);

	/* A proof made for another server (key) is worthless here. */
	memset(other_server, 0x99, sizeof(other_server));
	conn_open(&c);
	veld_buf_reset(&c.tx);
	CHECK_EQ(veld_msg_auth(&c.tx, &kField, other_server, c.nonce), 0);
	send_tx(&c);
	expect_error(&c, VELD_EAUTH, 4401);
	conn_close(&c);

	/* A key nobody enrolled, with a perfectly valid proof. */
	conn_open(&c);
	auth(&c, &kX);
	expect_error(&c, VELD_EAUTH, 4401);
	conn_close(&c);

	same(&before, "forged, replayed and unenrolled AUTH");
	server_down();
}

/* Revocation: at AUTH; while connected (the check every second); and ops
 * signed after the revocation arriving later by any path. */
static void revoked_key(void)
{
	struct conn c;
	struct veld_buf late;
	uint8_t id1[32], id2[32];
	struct before_after before;
	struct veld_head head;

	server_up();
	field_with_one_op(id1);

	/* Connected, then revoked (as `veldd revoke` would, also from
	 * another process): the next check closes the connection. */
	login(&c, &kField);
	CHECK_EQ(veld_replica_device(srv.replica, kField.pk, "field", "Ahmed",
				     "noord", 1, NULL),
		 0);
	take(&before);
	veld_server_check_revoked(&srv);
	expect_error(&c, VELD_EREVOKED, 4403);
	conn_close(&c);

	/* Reconnecting: refused at AUTH. */
	conn_open(&c);
	auth(&c, &kField);
	expect_error(&c, VELD_EREVOKED, 4403);
	conn_close(&c);
	/* ... and with a fresh enrolment code: the key is known, and
	 * revoked; the code is not used up (it still enrols another key). */
	{
		char code[VELD_CODE_BUF];
		struct veld_code_row row = {"field", "Nieuw", "noord", 0};
		row.expires = veld_hlc_wall_ms() + 3600000;
		CHECK_EQ(veld_code_issue(veld_replica_store(srv.replica), &row,
					 code),
			 0);
		conn_open(&c);
		veld_buf_reset(&c.tx);
		CHECK_EQ(veld_msg_enrol(&c.tx, &kField, kS.pk, c.nonce, code,
					"again"),
			 0);
		send_tx(&c);
		expect_error(&c, VELD_EREVOKED, 4403);
		conn_close(&c);
		same(&before, "a revoked device enrolling again");
		conn_open(&c);
		veld_buf_reset(&c.tx);
		CHECK_EQ(veld_msg_enrol(&c.tx, &kX, kS.pk, c.nonce, code, "x"),
			 0);
		send_tx(&c);
		expect_type(&c, VELD_MSG_WELCOME);
		conn_close(&c);
		take(&before); /* kX is enrolled now */
	}

	/* The stolen device signs an op after the revocation; a coordinator
	 * device (that does not check) relays it in its own PUSH: refused,
	 * the PUSH holds another author's op. */
	make_op(&kField, 2, id1, VELD_KIND_PUT, veld_hlc_wall_ms() + 1000, 0xa0,
		&late, id2);
	login(&c, &kCoord);
	push(&c, &late, 1);
	expect_error(&c, VELD_EAUTH, 4401);
	conn_close(&c);

	/* Applied directly (as a replica receiving it in OPS from anywhere
	 * would): refused as revoked, not stored. */
	{
		struct veld_bytes b = {late.data, late.len};
		size_t bad = 99;
		CHECK_ERR(veld_replica_apply_all(srv.replica, &b, 1, 0, &bad),
			  VELD_EREVOKED);
		CHECK_EQ(bad, 0);
	}
	same(&before, "a revoked device's ops and connections");
	CHECK_EQ(veld_store_head(veld_replica_store(srv.replica), kField.pk,
				 &head),
		 0);
	CHECK_EQ(head.seq, 1);
	veld_buf_release(&late);
	server_down();
}

/* A field device may write records (put, delete, note) and nothing else:
 * no forms, no registry (enrolling an accomplice as coordinator), no
 * erase. */
static void field_device_privilege(void)
{
	static const struct {
		uint64_t kind;
		const char *what;
	} kinds[] = {
		{VELD_KIND_FORM, "a field device writing a form"},
		{VELD_KIND_DEVICE, "a field device writing the registry"},
		{VELD_KIND_ERASE, "a field device erasing a record"},
	};
	struct conn c;
	struct veld_buf o;
	uint8_t id1[32], id[32];
	struct before_after before;

	server_up();
	field_with_one_op(id1);
	for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
		take(&before);
		make_op(&kField, 2, id1, kinds[i].kind, veld_hlc_wall_ms(),
			0xa0, &o, id);
		login(&c, &kField);
		push(&c, &o, 1);
		expect_error(&c, VELD_EROLE, 4400);
		conn_close(&c);
		same(&before, kinds[i].what);
		veld_buf_release(&o);
	}
	/* The accomplice it tried to enrol is not in the registry. */
	conn_open(&c);
	auth(&c, &kY);
	expect_error(&c, VELD_EAUTH, 4401);
	conn_close(&c);
	server_down();
}

/* Content that does not fit its kind (a note carrying a put's "set"), at
 * the end of a PUSH whose first op is fine: the whole PUSH is refused
 * (ECONTENT, checked on veldd's ingest threads) and nothing is stored. */
static void content_for_another_kind(void)
{
	struct conn c;
	struct veld_buf o[2];
	uint8_t id1[32], id2[32], id3[32];
	struct before_after before;

	server_up();
	field_with_one_op(id1);
	put_op(&kField, 2, id1, &o[0], id2);
	make_op(&kField, 3, id2, VELD_KIND_NOTE, veld_hlc_wall_ms(), 0xa0,
		&o[1], id3);
	take(&before);
	login(&c, &kField);
	push(&c, o, 2);
	expect_error(&c, VELD_ECONTENT, 4400);
	conn_close(&c);
	same(&before, "a note with a put's content");
	/* The good op alone is taken. */
	login(&c, &kField);
	push(&c, o, 1);
	expect_type(&c, VELD_MSG_RECEIPT);
	conn_close(&c);
	veld_buf_release(&o[0]);
	veld_buf_release(&o[1]);
	server_down();
}

/* Equivocation: a device (or a clone of its key) tells two stories with
 * the same seq.  The second is refused; the first stands. */
static void fork_equivocation(void)
{
	struct conn c;
	struct veld_buf other, branch;
	uint8_t id1[32], id_other[32], id2[32];
	struct before_after before;
	struct veld_head head;

	server_up();
	field_with_one_op(id1);
	take(&before);
	make_op(&kField, 1, NULL, VELD_KIND_PUT, veld_hlc_wall_ms(), 0xb0,
		&other, id_other);
	CHECK(memcmp(id1, id_other, 32) != 0);
	login(&c, &kField);
	push(&c, &other, 1);
	expect_error(&c, VELD_EFORK, 4400);
	conn_close(&c);
	same(&before, "a forked op (same author and seq)");
	CHECK_EQ(veld_store_head(veld_replica_store(srv.replica), kField.pk,
				 &head),
		 0);
	CHECK_EQ(head.seq, 1);
	CHECK_MEM(head.id, id1, 32);

	/* A branch built on the forked op is refused too: its prev is not
	 * the op the server holds at seq 1, which is the same fork. */
	make_op(&kField, 2, id_other, VELD_KIND_PUT, veld_hlc_wall_ms(), 0xb0,
		&branch, id2);
	login(&c, &kField);
	push(&c, &branch, 1);
	CHECK(next(&c));
	CHECK_EQ(c.m.type, VELD_MSG_ERROR);
	CHECK_ERR((int)c.m.err, VELD_EFORK);
	veld_msg_release(&c.m);
	conn_close(&c);
	same(&before, "an op built on a forked branch");
	veld_buf_release(&other);
	veld_buf_release(&branch);
	server_down();
}

/* Guessing enrolment codes: after the burst every attempt is ERATE, even
 * with the right code, and the right code still works once the bucket
 * refills (it was not burnt by the refusal). */
static void code_brute_force(void)
{
	struct conn c;
	char code[VELD_CODE_BUF];
	struct veld_code_row row = {"coordinator", "Carla2", NULL, 0};
	struct before_after before;
	int limited = 0, wrong = 0;

	server_up();
	row.expires = veld_hlc_wall_ms() + 3600000;
	CHECK_EQ(veld_code_issue(veld_replica_store(srv.replica), &row, code),
		 0);
	take(&before);
	for (int i = 0; i < 3 * VELD_ENROL_BURST; i++) {
		char guess[16];
		snprintf(guess, sizeof(guess), "ZZZZZ-%05d", i);
		conn_open(&c);
		veld_buf_reset(&c.tx);
		CHECK_EQ(veld_msg_enrol(&c.tx, &kX, kS.pk, c.nonce, guess,
					"guess"),
			 0);
		send_tx(&c);
		CHECK(next(&c));
		CHECK_EQ(c.m.type, VELD_MSG_ERROR);
		limited += c.m.err == VELD_ERATE;
		wrong += c.m.err == VELD_ECODE;
		if (c.m.err == VELD_ERATE)
			CHECK_EQ(c.s.close_code, 4429);
		veld_msg_release(&c.m);
		conn_close(&c);
	}
	CHECK(wrong <= VELD_ENROL_BURST + 1);
	CHECK(limited >= 2 * VELD_ENROL_BURST - 1);

	/* The right code, while limited: refused, and not used up. */
	conn_open(&c);
	veld_buf_reset(&c.tx);
	CHECK_EQ(veld_msg_enrol(&c.tx, &kX, kS.pk, c.nonce, code, "x"), 0);
	send_tx(&c);
	expect_error(&c, VELD_ERATE, 4429);
	conn_close(&c);
	same(&before, "enrolment code guessing");

	/* A minute later (the bucket refilled): it works. */
	srv.enrol_tokens = 1;
	srv.enrol_refill_ms = veld_server_now_ms();
	conn_open(&c);
	veld_buf_reset(&c.tx);
	CHECK_EQ(veld_msg_enrol(&c.tx, &kX, kS.pk, c.nonce, code, "x"), 0);
	send_tx(&c);
	expect_type(&c, VELD_MSG_WELCOME);
	conn_close(&c);
	server_down();
}

/* A message over VELD_MSG_MAX, as the transport hands it on (ws.c caps
 * the assembly buffer; the session refuses it too), and a PUSH with ops
 * of another author hidden behind the device's own. */
static void oversize_and_smuggled(void)
{
	struct conn c;
	struct veld_buf ops[2];
	uint8_t *big = calloc(1, VELD_MSG_MAX + 1);
	uint8_t id1[32], idx[32];
	struct before_after before;

	server_up();
	take(&before);
	if (!big)
		abort();
	memcpy(big, "\x93\x05\x01", 3); /* the rest: zero bytes */
	login(&c, &kField);
	veld_session_input(&c.s, big, VELD_MSG_MAX + 1);
	expect_error(&c, VELD_EMSGSIZE, 4413);
	conn_close(&c);
	free(big);

	put_op(&kField, 1, NULL, &ops[0], id1);
	put_op(&kCoord, 1, NULL, &ops[1], idx);
	login(&c, &kField);
	push(&c, ops, 2);
	expect_error(&c, VELD_EAUTH, 4401);
	conn_close(&c);
	same(&before, "an oversize message and a smuggled op");
	veld_buf_release(&ops[0]);
	veld_buf_release(&ops[1]);
	server_down();
}

/* Clock chaos from a device: within the drift bound (10 min ahead, or
 * days behind) the op is taken; beyond it, refused and nothing kept. */
static void clock_drift(void)
{
	struct conn c;
	struct veld_buf o1, o2, o3;
	uint8_t id1[32], id2[32], id3[32];
	struct before_after before;
	uint64_t now = veld_hlc_wall_ms();

	server_up();
	make_op(&kField, 1, NULL, VELD_KIND_PUT, now - 3 * 86400000ull, 0xa0,
		&o1, id1);
	make_op(&kField, 2, id1, VELD_KIND_PUT, now + 5 * 60000, 0xa0, &o2,
		id2);
	login(&c, &kField);
	push(&c, &o1, 1);
	expect_type(&c, VELD_MSG_RECEIPT);
	push(&c, &o2, 1);
	expect_type(&c, VELD_MSG_RECEIPT);
	conn_close(&c);

	take(&before);
	make_op(&kField, 3, id2, VELD_KIND_PUT, now + 3 * 3600000ull, 0xa0, &o3,
		id3);
	login(&c, &kField);
	push(&c, &o3, 1);
	expect_error(&c, VELD_ECLOCKAHEAD, 4400);
	conn_close(&c);
	same(&before, "an op from a clock hours ahead");
	veld_buf_release(&o1);
	veld_buf_release(&o2);
	veld_buf_release(&o3);
	server_down();
}

int main(void)
{
	if (sodium_init() < 0)
		return 2;
	snprintf(dir, sizeof(dir), "/tmp/test_security.XXXXXX");
	if (!mkdtemp(dir))
		return 2;
	snprintf(db, sizeof(db), "%s/veld.db", dir);
	util_key(&kS, 0x53);
	util_key(&kField, 0x41);
	util_key(&kCoord, 0x43);
	util_key(&kX, 0x58);
	util_key(&kY, 0x59);
	forged_signature();
	forged_and_replayed_auth();
	revoked_key();
	field_device_privilege();
	content_for_another_kind();
	fork_equivocation();
	code_brute_force();
	oversize_and_smuggled();
	clock_drift();
	rmdir(dir);
	return test_summary("test_security");
}
