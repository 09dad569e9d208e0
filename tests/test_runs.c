/*
 * test_runs.c - op batches as compressed runs (proto/runs.c): the round
 * trip gives back the same op bytes and ids, and every malformed block is
 * refused with its own error.
 */
#include <stdlib.h>

#include <sodium.h>
#include <zlib.h>

#include "buf.h"
#include "err.h"
#include "framed.h"
#include "msg.h"
#include "op.h"
#include "runs.h"
#include "test.h"

static struct veld_key ka, kb;

static void seed_key(struct veld_key *k, uint8_t fill)
{
	uint8_t seed[VELD_SEED_LEN];

	memset(seed, fill, sizeof(seed));
	veld_key_from_seed(k, seed);
}

/* A chain of n ops by k into ops (one buffer each), seq from 1. */
struct chain {
	struct veld_buf op[16];
	struct veld_bytes b[16];
	uint8_t id[16][VELD_HASH_LEN];
	size_t n;
};

static void chain_make(struct chain *c, const struct veld_key *k, size_t n,
		       uint64_t hlc0)
{
	uint8_t prev[VELD_HASH_LEN];

	c->n = n;
	for (size_t i = 0; i < n; i++) {
		struct veld_op_header h;
		struct veld_buf body;
		uint8_t salt[VELD_SALT_LEN];
		msgpack_packer pk;
		char v[24];

		veld_buf_init(&body, VELD_BODY_MAX);
		veld_salt_random(salt);
		veld_buf_packer_init(&pk, &body);
		veld_body_begin(&pk, salt);
		msgpack_pack_map(&pk, 1);
		msgpack_pack_str_with_body(&pk, "house", 5);
		snprintf(v, sizeof(v), "%zu", i);
		msgpack_pack_str_with_body(&pk, v, strlen(v));
		memset(&h, 0, sizeof(h));
		h.seq = i + 1;
		h.has_prev = i > 0;
		if (i)
			memcpy(h.prev, prev, VELD_HASH_LEN);
		/* clocks that go back once: a negative delta */
		h.hlc = hlc0 + (i == 2 ? 5 : 1000 * (i + 1));
		memset(h.record, (int)(i % 3) + 1, VELD_RECORD_LEN);
		h.kind = VELD_KIND_PUT;
		veld_buf_init(&c->op[i], VELD_OP_MAX);
		CHECK_ERR(veld_op_create(k, &h, body.data, body.len, &c->op[i],
					 c->id[i]),
			  0);
		memcpy(prev, c->id[i], VELD_HASH_LEN);
		c->b[i] = (struct veld_bytes){c->op[i].data, c->op[i].len};
		veld_buf_release(&body);
	}
}

static void chain_free(struct chain *c)
{
	for (size_t i = 0; i < c->n; i++)
		veld_buf_release(&c->op[i]);
}

/* Deflate raw into z (raw deflate, as the protocol). */
static void zip(const struct veld_buf *raw, struct veld_buf *z)
{
	uLongf cap = compressBound(raw->len) + 64;
	z_stream s;

	memset(&s, 0, sizeof(s));
	veld_buf_init(z, cap);
	if (deflateInit2(&s, 6, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY) != Z_OK)
		abort();
	z->data = malloc(cap);
	z->cap = cap;
	s.next_in = raw->data;
	s.avail_in = (uInt)raw->len;
	s.next_out = z->data;
	s.avail_out = (uInt)cap;
	if (deflate(&s, Z_FINISH) != Z_STREAM_END)
		abort();
	z->len = cap - s.avail_out;
	deflateEnd(&s);
}

static int decode_raw(const struct veld_buf *raw, size_t max_ops)
{
	struct veld_runs r;
	struct veld_buf z;
	size_t bad;
	int rc;

	zip(raw, &z);
	rc = veld_runs_decode(z.data, z.len, max_ops, &r);
	if (rc == 0)
		rc = veld_runs_verify(&r, &bad);
	veld_runs_release(&r);
	veld_buf_release(&z);
	return rc;
}

static void round_trip(void)
{
	struct chain a, b;
	struct veld_bytes all[16];
	struct veld_buf z;
	struct veld_runs r;
	struct veld_buf erased;
	size_t n = 0, bad = 99;

	chain_make(&a, &ka, 6, 1ULL << 40);
	chain_make(&b, &kb, 3, 1ULL << 41);
	/* a1..a3, b1..b3, a4..a6: three runs */
	for (size_t i = 0; i < 3; i++)
		all[n++] = a.b[i];
	for (size_t i = 0; i < 3; i++)
		all[n++] = b.b[i];
	for (size_t i = 3; i < 6; i++)
		all[n++] = a.b[i];
	/* a4 travels erased: no body, its length and hash */
	{
		struct veld_op e4;
		CHECK_ERR(veld_op_decode(a.b[3].p, a.b[3].len, &e4), 0);
		veld_buf_init(&erased, VELD_OP_MAX);
		CHECK_ERR(veld_op_frame(e4.header, e4.header_len, e4.sig, NULL,
					0, &erased),
			  0);
		all[6] = (struct veld_bytes){erased.data, erased.len};
	}
	veld_buf_init(&z, VELD_MSG_MAX);
	CHECK_ERR(veld_runs_encode(all, n, VELD_RUNS_LEVEL, &z), 0);
	CHECK_ERR(veld_runs_decode(z.data, z.len, VELD_OPS_MAX, &r), 0);
	CHECK_EQ(r.n, n);
	CHECK_EQ(r.nruns, 3);
	CHECK_EQ(r.runs[1].first, 3);
	CHECK_MEM(r.runs[1].author, kb.pk, VELD_PK_LEN);
	CHECK_ERR(veld_runs_verify(&r, &bad), 0);
	for (size_t i = 0; i < n; i++) {
		struct veld_op got, want;
		int last = i == 2 || i == 5 || i == 8;
		CHECK_ERR(veld_op_decode(r.ops[i].p, r.ops[i].len, &got), 0);
		CHECK_ERR(veld_op_decode(all[i].p, all[i].len, &want), 0);
		/* same header bytes, id and body: the same op */
		CHECK_EQ(got.header_len, want.header_len);
		CHECK_MEM(got.header, want.header, want.header_len);
		CHECK_MEM(got.id, want.id, VELD_HASH_LEN);
		CHECK_EQ(got.body_len, want.body_len);
		CHECK_EQ(got.body != NULL, want.body != NULL);
		if (want.body)
			CHECK_MEM(got.body, want.body, want.body_len);
		/* only the run's last op keeps its signature */
		CHECK_EQ(got.sig != NULL, last);
		/* dec[i] is exactly what decoding ops[i] gives */
		{
			const struct veld_op *d = &r.dec[i];
			CHECK(d->header == got.header);
			CHECK_EQ(d->header_len, got.header_len);
			CHECK(d->sig == got.sig);
			CHECK(d->body == got.body);
			CHECK_EQ(d->body_len, got.body_len);
			CHECK_MEM(d->id, got.id, VELD_HASH_LEN);
			CHECK_MEM(d->h.author, got.h.author, VELD_PK_LEN);
			CHECK_EQ(d->h.seq, got.h.seq);
			CHECK_EQ(d->h.has_prev, got.h.has_prev);
			CHECK_MEM(d->h.prev, got.h.prev, VELD_HASH_LEN);
			CHECK_EQ(d->h.hlc, got.h.hlc);
			CHECK_MEM(d->h.record, got.h.record, VELD_RECORD_LEN);
			CHECK_EQ(d->h.kind, got.h.kind);
			CHECK_EQ(d->h.body_len, got.h.body_len);
			CHECK_MEM(d->h.body_hash, got.h.body_hash,
				  VELD_HASH_LEN);
		}
		if (last) {
			CHECK_EQ(r.ops[i].len, all[i].len);
			CHECK_MEM(r.ops[i].p, all[i].p, all[i].len);
			CHECK_ERR(veld_op_verify(&got), 0);
		} else {
			CHECK_ERR(veld_op_verify(&got), VELD_ESIG);
		}
	}
	/* Smaller than the envelopes it carries. */
	CHECK(z.len < (size_t)(all[0].len * n) / 2);
	veld_runs_release(&r);

	/* A run that does not end signed cannot be sent. */
	{
		struct veld_buf unsig;
		struct veld_op d;
		struct veld_bytes two[2] = {a.b[0]};

		veld_buf_init(&unsig, VELD_OP_MAX);
		CHECK_ERR(veld_op_decode(a.b[1].p, a.b[1].len, &d), 0);
		CHECK_ERR(veld_op_frame(d.header, d.header_len, NULL, d.body,
					d.body_len, &unsig),
			  0);
		two[1] = (struct veld_bytes){unsig.data, unsig.len};
		veld_buf_reset(&z);
		CHECK_ERR(veld_runs_encode(two, 2, VELD_RUNS_LEVEL, &z),
			  VELD_ERUNSIG);
		CHECK_EQ(z.len, 0);
		veld_buf_release(&unsig);
	}
	/* A full message decodes, one more op does not fit. */
	veld_buf_reset(&z);
	CHECK_ERR(veld_runs_encode(all, n, 1, &z), 0);
	/* (the columns are arrays of one entry per op: over the limit) */
	CHECK_ERR(veld_runs_decode(z.data, z.len, n - 1, &r), VELD_ECOUNT);
	veld_runs_release(&r);
	CHECK_ERR(veld_runs_decode(z.data, z.len, n, &r), 0);
	veld_runs_release(&r);
	/* An empty batch (OPS with nothing new). */
	veld_buf_reset(&z);
	CHECK_ERR(veld_runs_encode(all, 0, VELD_RUNS_LEVEL, &z), 0);
	CHECK_ERR(veld_runs_decode(z.data, z.len, VELD_OPS_MAX, &r), 0);
	CHECK_EQ(r.n, 0);
	veld_runs_release(&r);

	/* Compressed data: truncated, garbage, junk after the stream. */
	veld_buf_reset(&z);
	CHECK_ERR(veld_runs_encode(all, n, VELD_RUNS_LEVEL, &z), 0);
	CHECK_ERR(veld_runs_decode(z.data, z.len - 3, VELD_OPS_MAX, &r),
		  VELD_EZIP);
	CHECK_EQ(r.n, 0);
	veld_runs_release(&r);
	CHECK_ERR(veld_runs_decode((const uint8_t *)"\xff\xfe\xfd\x00", 4,
				   VELD_OPS_MAX, &r),
		  VELD_EZIP);
	veld_runs_release(&r);
	CHECK_ERR(veld_runs_decode(z.data, 0, VELD_OPS_MAX, &r), VELD_EZIP);
	veld_runs_release(&r);
	CHECK_ERR(veld_buf_append(&z, "x", 1), 0);
	CHECK_ERR(veld_runs_decode(z.data, z.len, VELD_OPS_MAX, &r), VELD_EZIP);
	veld_runs_release(&r);

	veld_buf_release(&z);
	veld_buf_release(&erased);
	chain_free(&a);
	chain_free(&b);
}

/* A block by hand: [[author, seq, prev, [op...], sig]] from a's chain. */
enum forge {
	F_NONE,
	F_BADSIG,
	F_BODY,	   /* a middle op's body changed: its id, so the linkage */
	F_PREV,	   /* the run's first prev is another id */
	F_RECREF,  /* a record index beyond the table */
	F_NEGHLC,  /* a clock going below zero */
	F_SHAPE,   /* a salt missing from its column */
	F_BODYBAD, /* a body that is not [salt, content] */
};

static int forged(enum forge f)
{
	struct chain a;
	struct veld_op d[4];
	struct veld_buf raw;
	msgpack_packer pk;
	uint8_t sig[VELD_SIG_LEN], salts[3 * VELD_SALT_LEN];
	int rc;

	chain_make(&a, &ka, 4, 1ULL << 40);
	for (size_t i = 0; i < 4; i++)
		CHECK_ERR(veld_op_decode(a.b[i].p, a.b[i].len, &d[i]), 0);
	memcpy(sig, d[3].sig, VELD_SIG_LEN);
	if (f == F_BADSIG)
		sig[5] ^= 1;
	veld_buf_init(&raw, VELD_RUNS_MAX);
	veld_buf_packer_init(&pk, &raw);
	msgpack_pack_array(&pk, 6);
	/* runs: ops 2..4 of a's chain */
	msgpack_pack_array(&pk, 1);
	msgpack_pack_array(&pk, 5);
	msgpack_pack_bin_with_body(&pk, ka.pk, 32);
	msgpack_pack_uint64(&pk, 2); /* the run starts at seq 2 */
	if (f == F_PREV)
		msgpack_pack_bin_with_body(&pk, a.id[1], 32);
	else
		msgpack_pack_bin_with_body(&pk, a.id[0], 32);
	msgpack_pack_uint8(&pk, 3);
	msgpack_pack_bin_with_body(&pk, sig, VELD_SIG_LEN);
	/* clocks */
	msgpack_pack_array(&pk, 3);
	for (size_t i = 1; i < 4; i++) {
		if (i == 1)
			msgpack_pack_uint64(&pk, d[i].h.hlc);
		else if (f == F_NEGHLC && i == 3)
			msgpack_pack_int64(&pk, -(int64_t)(d[2].h.hlc + 1));
		else
			msgpack_pack_int64(
				&pk, (int64_t)(d[i].h.hlc - d[i - 1].h.hlc));
	}
	/* records; or op 4 names a third record of a table of two */
	msgpack_pack_array(&pk, 3);
	msgpack_pack_bin_with_body(&pk, d[1].h.record, 16);
	msgpack_pack_bin_with_body(&pk, d[2].h.record, 16);
	if (f == F_RECREF)
		msgpack_pack_uint8(&pk, 2);
	else
		msgpack_pack_bin_with_body(&pk, d[3].h.record, 16);
	/* kinds */
	msgpack_pack_array(&pk, 3);
	for (size_t i = 1; i < 4; i++)
		msgpack_pack_uint64(&pk, d[i].h.kind);
	/* salts */
	for (size_t i = 1; i < 4; i++)
		memcpy(salts + (i - 1) * VELD_SALT_LEN, d[i].body + 3,
		       VELD_SALT_LEN);
	if (f == F_BODY)
		salts[VELD_SALT_LEN + 2] ^= 1; /* op 3's body still valid */
	msgpack_pack_bin_with_body(
		&pk, salts, f == F_SHAPE ? 2 * VELD_SALT_LEN : sizeof(salts));
	/* contents */
	msgpack_pack_array(&pk, 3);
	for (size_t i = 1; i < 4; i++) {
		if (f == F_BODYBAD && i == 2)
			msgpack_pack_bin_with_body(&pk, "\xc1", 1);
		else
			msgpack_pack_bin_with_body(&pk, d[i].body + 19,
						   d[i].body_len - 19);
	}
	CHECK_EQ(raw.err, 0);
	rc = decode_raw(&raw, VELD_OPS_MAX);
	veld_buf_release(&raw);
	chain_free(&a);
	return rc;
}

static void refusals(void)
{
	struct veld_buf raw, z;
	struct veld_runs r;
	msgpack_packer pk;

	CHECK_ERR(forged(F_NONE), 0);
	CHECK_ERR(forged(F_BADSIG), VELD_ESIG);
	CHECK_ERR(forged(F_BODY), VELD_ESIG);
	CHECK_ERR(forged(F_PREV), VELD_ESIG);
	CHECK_ERR(forged(F_RECREF), VELD_ERECORDREF);
	CHECK_ERR(forged(F_NEGHLC), VELD_EHLC);
	CHECK_ERR(forged(F_SHAPE), VELD_EMSGSHAPE);
	CHECK(forged(F_BODYBAD) < 0);

	/* A deflate bomb: 4 MiB of zeros in a few KiB. */
	veld_buf_init(&raw, 4 * 1024 * 1024);
	for (size_t i = 0; i < 4 * 1024; i++) {
		static const uint8_t zeros[1024];
		CHECK_ERR(veld_buf_append(&raw, zeros, sizeof(zeros)), 0);
	}
	zip(&raw, &z);
	CHECK(z.len < 10000);
	CHECK_ERR(veld_runs_decode(z.data, z.len, VELD_OPS_MAX, &r),
		  VELD_EZIPSIZE);
	veld_runs_release(&r);
	veld_buf_release(&z);
	/* Exactly at the limit is not a bomb (but not msgpack either). */
	raw.len = VELD_RUNS_MAX;
	zip(&raw, &z);
	CHECK_ERR(veld_runs_decode(z.data, z.len, VELD_OPS_MAX, &r),
		  VELD_ETRAILING);
	veld_runs_release(&r);
	veld_buf_release(&z);

	/* Not an array of runs; not canonical. */
	veld_buf_reset(&raw);
	veld_buf_packer_init(&pk, &raw);
	msgpack_pack_uint8(&pk, 1);
	CHECK_ERR(decode_raw(&raw, VELD_OPS_MAX), VELD_EMSGSHAPE);
	veld_buf_reset(&raw);
	CHECK_ERR(veld_buf_append(&raw, "\xdc\x00\x00", 3), 0);
	CHECK(decode_raw(&raw, VELD_OPS_MAX) < 0);
	veld_buf_release(&raw);
}

/* The messages: PUSH and OPS carry the block, open_runs unpacks it. */
static void messages(void)
{
	struct chain a;
	struct veld_buf out;
	struct veld_msg m;

	chain_make(&a, &ka, 5, 1ULL << 40);
	veld_buf_init(&out, VELD_MSG_MAX);
	CHECK_ERR(veld_msg_push(&out, 7, a.b, 5), 0);
	CHECK_ERR(veld_msg_decode(out.data, out.len, &m), 0);
	CHECK_EQ(m.type, VELD_MSG_PUSH);
	CHECK_EQ(m.batch, 7);
	CHECK_ERR(veld_msg_open_runs(&m), 0);
	CHECK_EQ(m.nops, 5);
	CHECK_EQ(m.ops[4].len, a.b[4].len);
	CHECK_MEM(m.ops[4].p, a.b[4].p, a.b[4].len);
	veld_msg_release(&m);

	veld_buf_reset(&out);
	CHECK_ERR(veld_msg_ops(&out, a.b, 5, 42, 1), 0);
	CHECK_ERR(veld_msg_decode(out.data, out.len, &m), 0);
	CHECK_EQ(m.cursor, 42);
	CHECK_ERR(veld_msg_open_runs(&m), 0);
	CHECK_EQ(m.nops, 5);
	veld_msg_release(&m);

	/* From ops already decoded: the very same message. */
	{
		struct veld_op d[5];
		struct veld_buf again;

		for (size_t i = 0; i < 5; i++)
			CHECK_ERR(veld_op_decode(a.b[i].p, a.b[i].len, &d[i]),
				  0);
		veld_buf_init(&again, VELD_MSG_MAX);
		CHECK_ERR(veld_msg_ops_decoded(&again, d, 5, 42, 1), 0);
		CHECK_EQ(again.len, out.len);
		CHECK_MEM(again.data, out.data, out.len);
		veld_buf_release(&again);
	}

	/* A PUSH of no ops is refused. */
	veld_buf_reset(&out);
	CHECK_ERR(veld_msg_ops(&out, a.b, 0, 42, 0), 0);
	out.data[1] = 5; /* [8, runs, ...] -> [5, runs, ...]: wrong shape */
	CHECK_ERR(veld_msg_decode(out.data, out.len, &m), VELD_EMSGSHAPE);
	veld_msg_release(&m);

	veld_buf_release(&out);
	chain_free(&a);
}

/*
 * framed.h: stored ops copied out keep views equal to decoding their
 * envelopes; a full buffer says ETOOBIG and stays as it was; a cut keeps
 * the first ops; a PUSH from the views is the PUSH from the envelopes.
 */
static void framed_ops(void)
{
	struct chain a;
	struct veld_framed f;
	struct veld_buf m1, m2;
	struct veld_bytes env[4];

	chain_make(&a, &ka, 4, 1ULL << 40);
	CHECK_ERR(veld_framed_init(&f, 3, VELD_RUNS_MAX, 0), 0);
	for (size_t i = 0; i < 4; i++) {
		struct veld_op d;
		struct veld_stored_op so;
		CHECK_ERR(veld_op_decode(a.b[i].p, a.b[i].len, &d), 0);
		memset(&so, 0, sizeof(so));
		memcpy(so.id, d.id, VELD_HASH_LEN);
		so.h = d.h;
		so.header = d.header;
		so.header_len = d.header_len;
		so.sig = d.sig;
		so.body = d.body;
		so.body_len = d.body_len;
		CHECK_ERR(veld_framed_add(&f, &so), i < 3 ? 0 : VELD_ETOOBIG);
	}
	CHECK_EQ(f.n, 3);
	{
		const struct veld_op *v = veld_framed_views(&f);
		for (size_t i = 0; i < f.n; i++) {
			struct veld_op want;
			struct veld_bytes e = veld_framed_envelope(&f, i);
			CHECK_EQ(e.len, a.b[i].len);
			CHECK_MEM(e.p, a.b[i].p, a.b[i].len);
			CHECK_ERR(veld_op_decode(e.p, e.len, &want), 0);
			CHECK(v[i].header == want.header);
			CHECK(v[i].sig == want.sig);
			CHECK(v[i].body == want.body);
			CHECK_EQ(v[i].body_len, want.body_len);
			CHECK_MEM(v[i].id, want.id, VELD_HASH_LEN);
			env[i] = e;
		}
		veld_buf_init(&m1, VELD_MSG_MAX);
		veld_buf_init(&m2, VELD_MSG_MAX);
		CHECK_ERR(veld_msg_push_decoded(&m1, 9, v, f.n), 0);
		CHECK_ERR(veld_msg_push(&m2, 9, env, f.n), 0);
		CHECK_EQ(m1.len, m2.len);
		CHECK_MEM(m1.data, m2.data, m2.len);
	}
	veld_framed_cut(&f, 1);
	CHECK_EQ(f.n, 1);
	CHECK_EQ(veld_framed_envelope(&f, 0).len, a.b[0].len);
	CHECK_EQ(f.env.len, a.b[0].len);
	veld_buf_release(&m1);
	veld_buf_release(&m2);
	veld_framed_release(&f);
	chain_free(&a);
}

int main(void)
{
	if (sodium_init() < 0)
		return 1;
	seed_key(&ka, 1);
	seed_key(&kb, 2);
	round_trip();
	refusals();
	messages();
	framed_ops();
	return test_summary("test_runs");
}
