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

/* With root: each salt is leaf seq of the salt tree under root (salts.h);
 * else random. */
static void chain_make_salted(struct chain *c, const struct veld_key *k,
			      size_t n, uint64_t hlc0,
			      const struct veld_salt_node *root)
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
		if (root)
			veld_salt_derive(root, i + 1, salt);
		else
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

static void chain_make(struct chain *c, const struct veld_key *k, size_t n,
		       uint64_t hlc0)
{
	chain_make_salted(c, k, n, hlc0, NULL);
}

static void chain_free(struct chain *c)
{
	for (size_t i = 0; i < c->n; i++)
		veld_buf_release(&c->op[i]);
}

/* Deflate raw into z (raw deflate, as the protocol). */
/* The last two columns of a hand-made block: no salt node in any of its
 * nruns runs (every salt in the salts column). */
static void no_trees(msgpack_packer *pk, size_t nruns)
{
	msgpack_pack_array(pk, nruns);
	for (size_t i = 0; i < nruns; i++)
		msgpack_pack_array(pk, 0);
	msgpack_pack_bin(pk, 0);
}

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
	msgpack_pack_array(&pk, 8);
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
	no_trees(&pk, 1);
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

/* --- derived record ids and op references --- */

/* One author's chain built op by op, contents given as msgpack bytes. */
struct chain2 {
	const struct veld_key *k;
	struct veld_buf op[16];
	struct veld_bytes b[16];
	uint8_t id[16][VELD_HASH_LEN];
	size_t n;
};

static void chain2_add(struct chain2 *c, uint64_t kind,
		       const uint8_t rec[VELD_RECORD_LEN],
		       const struct veld_buf *content)
{
	struct veld_op_header h;
	struct veld_buf body;
	uint8_t salt[VELD_SALT_LEN];
	msgpack_packer pk;
	size_t i = c->n++;

	veld_buf_init(&body, VELD_BODY_MAX);
	veld_salt_random(salt);
	veld_buf_packer_init(&pk, &body);
	veld_body_begin(&pk, salt);
	CHECK_ERR(veld_buf_append(&body, content->data, content->len), 0);
	memset(&h, 0, sizeof(h));
	h.seq = i + 1;
	h.has_prev = i > 0;
	if (i)
		memcpy(h.prev, c->id[i - 1], VELD_HASH_LEN);
	h.hlc = (1ULL << 40) + 65536 * i;
	memcpy(h.record, rec, VELD_RECORD_LEN);
	h.kind = kind;
	veld_buf_init(&c->op[i], VELD_OP_MAX);
	CHECK_ERR(veld_op_create(c->k, &h, body.data, body.len, &c->op[i],
				 c->id[i]),
		  0);
	c->b[i] = (struct veld_bytes){c->op[i].data, c->op[i].len};
	veld_buf_release(&body);
}

static void chain2_free(struct chain2 *c)
{
	for (size_t i = 0; i < c->n; i++)
		veld_buf_release(&c->op[i]);
}

static void pack_s(msgpack_packer *pk, const char *s)
{
	msgpack_pack_str_with_body(pk, s, strlen(s));
}

/* Content {"form": "f", "set": {"house": v}} into out (reset first). */
static void content_new(struct veld_buf *out, const char *v)
{
	msgpack_packer pk;

	veld_buf_reset(out);
	veld_buf_packer_init(&pk, out);
	msgpack_pack_map(&pk, 2);
	pack_s(&pk, "form");
	pack_s(&pk, "f");
	pack_s(&pk, "set");
	msgpack_pack_map(&pk, 1);
	pack_s(&pk, "house");
	pack_s(&pk, v);
}

/* Content {"pred": {"house": [ids...]}, "set": {"house": v}}. */
static void content_pred(struct veld_buf *out, const uint8_t (*ids)[32],
			 size_t n, const char *v)
{
	msgpack_packer pk;

	veld_buf_reset(out);
	veld_buf_packer_init(&pk, out);
	msgpack_pack_map(&pk, 2);
	pack_s(&pk, "pred");
	msgpack_pack_map(&pk, 1);
	pack_s(&pk, "house");
	msgpack_pack_array(&pk, n);
	for (size_t i = 0; i < n; i++)
		msgpack_pack_bin_with_body(&pk, ids[i], VELD_HASH_LEN);
	pack_s(&pk, "set");
	msgpack_pack_map(&pk, 1);
	pack_s(&pk, "house");
	pack_s(&pk, v);
}

/* Content {"seen": [ids...]}. */
static void content_seen(struct veld_buf *out, const uint8_t (*ids)[32],
			 size_t n)
{
	msgpack_packer pk;

	veld_buf_reset(out);
	veld_buf_packer_init(&pk, out);
	msgpack_pack_map(&pk, 1);
	pack_s(&pk, "seen");
	msgpack_pack_array(&pk, n);
	for (size_t i = 0; i < n; i++)
		msgpack_pack_bin_with_body(&pk, ids[i], VELD_HASH_LEN);
}

/* Inflate a block and decode its msgpack (the test's own look inside). */
static void unzip_block(const struct veld_buf *z, struct veld_buf *raw,
			msgpack_unpacked *u)
{
	z_stream s;
	size_t off = 0;

	memset(&s, 0, sizeof(s));
	veld_buf_init(raw, VELD_RUNS_MAX);
	CHECK_ERR(veld_buf_reserve(raw, VELD_RUNS_MAX), 0);
	CHECK(inflateInit2(&s, -15) == Z_OK);
	s.next_in = z->data;
	s.avail_in = (uInt)z->len;
	s.next_out = raw->data;
	s.avail_out = VELD_RUNS_MAX;
	CHECK(inflate(&s, Z_FINISH) == Z_STREAM_END);
	raw->len = VELD_RUNS_MAX - s.avail_out;
	inflateEnd(&s);
	msgpack_unpacked_init(u);
	CHECK(msgpack_unpack_next(u, (const char *)raw->data, raw->len, &off) ==
	      MSGPACK_UNPACK_SUCCESS);
}

/* The derivation, computed here from its definition (§4). */
static void derive_here(const uint8_t pk[32], uint64_t seq, uint8_t out[16])
{
	crypto_generichash_state st;
	uint8_t be[8], h[32];

	for (int i = 0; i < 8; i++)
		be[i] = (uint8_t)(seq >> (56 - 8 * i));
	crypto_generichash_init(&st, NULL, 0, 32);
	crypto_generichash_update(&st, (const uint8_t *)"veld-record-id-1", 17);
	crypto_generichash_update(&st, pk, 32);
	crypto_generichash_update(&st, be, 8);
	crypto_generichash_final(&st, h, 32);
	memcpy(out, h, 16);
}

/*
 * A block of two authors where records are derived and pred/seen name ops
 * of the block: every op comes back byte-identical, and the block holds
 * the short forms (nil records, [bin] contents with references) exactly
 * where they apply.
 */
static void derived_and_refs(void)
{
	struct chain2 a = {&ka, {{0}}, {{0}}, {{0}}, 0};
	struct chain2 b = {&kb, {{0}}, {{0}}, {{0}}, 0};
	uint8_t r1[16], r3[16], rb[16], other[32], ids[3][32];
	struct veld_bytes all[8];
	struct veld_buf c, z, raw;
	struct veld_runs r;
	msgpack_unpacked u;
	size_t bad = 99, n = 0;

	/* the derivation is what §4 says, and differs by author and seq */
	veld_record_derive(ka.pk, 1, r1);
	derive_here(ka.pk, 1, r3);
	CHECK_MEM(r1, r3, 16);
	veld_record_derive(ka.pk, 3, r3);
	CHECK(memcmp(r1, r3, 16) != 0);
	veld_record_derive(kb.pk, 1, rb);
	CHECK(memcmp(r1, rb, 16) != 0);

	veld_buf_init(&c, VELD_BODY_MAX);
	/* a1 creates r1 (derived); a2 edits it, pred a1 */
	content_new(&c, "1");
	chain2_add(&a, VELD_KIND_PUT, r1, &c);
	content_pred(&c, (const uint8_t(*)[32])a.id[0], 1, "2");
	chain2_add(&a, VELD_KIND_PUT, r1, &c);
	/* a3 creates a record whose id is NOT its derivation (a random id,
	 * as older replicas chose): it travels as bin(16) */
	memset(r3, 0x5a, sizeof(r3));
	content_new(&c, "3");
	chain2_add(&a, VELD_KIND_PUT, r3, &c);
	/* b1 creates rb (derived), b2 edits r1: pred a2 and an id from
	 * outside the block (stays a literal) */
	content_new(&c, "b");
	chain2_add(&b, VELD_KIND_PUT, rb, &c);
	memset(other, 0x33, sizeof(other));
	memcpy(ids[0], a.id[1], 32);
	memcpy(ids[1], other, 32);
	content_pred(&c, (const uint8_t(*)[32])ids, 2, "4");
	chain2_add(&b, VELD_KIND_PUT, r1, &c);
	/* a4 deletes r1 having seen a1, b2 and other */
	memcpy(ids[0], a.id[0], 32);
	memcpy(ids[1], b.id[1], 32);
	memcpy(ids[2], other, 32);
	content_seen(&c, (const uint8_t(*)[32])ids, 3);
	chain2_add(&a, VELD_KIND_DELETE, r1, &c);

	/* block order: a1 a2 a3 b1 b2 a4 */
	for (size_t i = 0; i < 3; i++)
		all[n++] = a.b[i];
	all[n++] = b.b[0];
	all[n++] = b.b[1];
	all[n++] = a.b[3];
	veld_buf_init(&z, VELD_MSG_MAX);
	CHECK_ERR(veld_runs_encode(all, n, VELD_RUNS_LEVEL, &z), 0);

	/* What travels. */
	unzip_block(&z, &raw, &u);
	{
		const msgpack_object *col = u.data.via.array.ptr;
		const msgpack_object *rec = col[2].via.array.ptr;
		const msgpack_object *con = col[5].via.array.ptr;
		CHECK_EQ(rec[0].type, MSGPACK_OBJECT_NIL); /* a1: derived */
		CHECK_EQ(rec[1].type, MSGPACK_OBJECT_POSITIVE_INTEGER);
		CHECK_EQ(rec[1].via.u64, 0);
		CHECK_EQ(rec[2].type, MSGPACK_OBJECT_BIN); /* a3: random */
		CHECK_MEM(rec[2].via.bin.ptr, r3, 16);
		CHECK_EQ(rec[3].type, MSGPACK_OBJECT_NIL); /* b1: derived */
		CHECK_EQ(rec[4].via.u64, 0);		   /* b2: r1 again */
		CHECK_EQ(rec[5].via.u64, 0);
		/* plain bins where no op of the block is named */
		CHECK_EQ(con[0].type, MSGPACK_OBJECT_BIN);
		CHECK_EQ(con[2].type, MSGPACK_OBJECT_BIN);
		CHECK_EQ(con[3].type, MSGPACK_OBJECT_BIN);
		/* [bin] with references: a2 -> 0; b2 -> 1 and a literal;
		 * a4 -> 0, 4 and a literal */
		for (size_t i = 1; i < 6; i += i == 1 ? 3 : 1) {
			CHECK_EQ(con[i].type, MSGPACK_OBJECT_ARRAY);
			CHECK_EQ(con[i].via.array.size, 1);
		}
		{
			const msgpack_object *e = &con[5].via.array.ptr[0];
			const uint8_t *p = (const uint8_t *)e->via.bin.ptr;
			/* {"seen": [ref 0, ref 4, bin(32)]}: 81 a4 seen 93 */
			CHECK_EQ(e->via.bin.size, 1 + 5 + 1 + 4 + 4 + 34);
			CHECK_MEM(p + 7, "\xd5\x01\x00\x00\xd5\x01\x00\x04", 8);
			CHECK_MEM(p + 17, other, 32);
		}
	}
	msgpack_unpacked_destroy(&u);
	veld_buf_release(&raw);

	/* What arrives: the same ops, ids and signatures. */
	CHECK_ERR(veld_runs_decode(z.data, z.len, VELD_OPS_MAX, &r), 0);
	CHECK_EQ(r.n, n);
	CHECK_EQ(r.nruns, 3);
	CHECK_ERR(veld_runs_verify(&r, &bad), 0);
	for (size_t i = 0; i < n; i++) {
		struct veld_op got, want;
		CHECK_ERR(veld_op_decode(r.ops[i].p, r.ops[i].len, &got), 0);
		CHECK_ERR(veld_op_decode(all[i].p, all[i].len, &want), 0);
		CHECK_EQ(got.header_len, want.header_len);
		CHECK_MEM(got.header, want.header, want.header_len);
		CHECK_MEM(got.id, want.id, VELD_HASH_LEN);
		CHECK_EQ(got.body_len, want.body_len);
		CHECK_MEM(got.body, want.body, want.body_len);
		CHECK_MEM(r.dec[i].h.record, want.h.record, 16);
		if (got.sig) { /* the runs' last ops: whole envelopes */
			CHECK_EQ(r.ops[i].len, all[i].len);
			CHECK_MEM(r.ops[i].p, all[i].p, all[i].len);
			CHECK_ERR(veld_op_verify(&got), 0);
		}
	}
	veld_runs_release(&r);

	/* Alone, a2 names nothing of its block: a plain bin again, and r1
	 * (a2's record, not derived from a2's seq) travels as bin(16). */
	veld_buf_reset(&z);
	CHECK_ERR(veld_runs_encode(&a.b[1], 1, VELD_RUNS_LEVEL, &z), 0);
	unzip_block(&z, &raw, &u);
	CHECK_EQ(u.data.via.array.ptr[2].via.array.ptr[0].type,
		 MSGPACK_OBJECT_BIN);
	CHECK_EQ(u.data.via.array.ptr[5].via.array.ptr[0].type,
		 MSGPACK_OBJECT_BIN);
	msgpack_unpacked_destroy(&u);
	veld_buf_release(&raw);
	CHECK_ERR(veld_runs_decode(z.data, z.len, VELD_OPS_MAX, &r), 0);
	CHECK_EQ(r.ops[0].len, a.b[1].len);
	CHECK_MEM(r.ops[0].p, a.b[1].p, a.b[1].len);
	veld_runs_release(&r);

	veld_buf_release(&z);
	veld_buf_release(&c);
	chain2_free(&a);
	chain2_free(&b);
}

/* Block of a1 (creates r1) and a2 (pred a1) with a2's content as given. */
enum refcase {
	RF_OK,	    /* [bin] with ref 0 where a2 names a1 */
	RF_SELF,    /* ref 1: a2 itself, not an earlier op */
	RF_RANGE,   /* ref 9: no such op */
	RF_TYPE,    /* fixext 2 of type 2 */
	RF_SIZE,    /* fixext 1 of type 1 */
	RF_EXT8,    /* ext 8 of type 1, 2 bytes */
	RF_PLACE,   /* a reference as a value in set */
	RF_NONE,    /* [bin] without any reference */
	RF_KIND,    /* a2 travels as a note: no references there */
	RF_TOPEXT,  /* an ext in the block itself, as a2's content entry */
	RF_RECNIL,  /* a2's record as nil: derive(ka, 2), not what it signed */
	RF_NONCANON /* the reference's map written non-canonically */
};

static int ref_block(enum refcase f)
{
	struct chain2 a = {&ka, {{0}}, {{0}}, {{0}}, 0};
	struct veld_op d[2];
	struct veld_buf c, raw, inner;
	uint8_t r1[16], salts[32];
	msgpack_packer pk, ip;
	int rc;

	veld_record_derive(ka.pk, 1, r1);
	veld_buf_init(&c, VELD_BODY_MAX);
	content_new(&c, "1");
	chain2_add(&a, VELD_KIND_PUT, r1, &c);
	content_pred(&c, (const uint8_t(*)[32])a.id[0], 1, "2");
	chain2_add(&a, VELD_KIND_PUT, r1, &c);
	for (size_t i = 0; i < 2; i++)
		CHECK_ERR(veld_op_decode(a.b[i].p, a.b[i].len, &d[i]), 0);

	/* a2's content with its reference(s), by hand */
	veld_buf_init(&inner, VELD_BODY_MAX);
	veld_buf_packer_init(&ip, &inner);
	if (f == RF_NONCANON)
		CHECK_ERR(veld_buf_append(&inner, "\xde\x00\x02", 3), 0);
	else
		msgpack_pack_map(&ip, 2);
	pack_s(&ip, "pred");
	msgpack_pack_map(&ip, 1);
	pack_s(&ip, "house");
	msgpack_pack_array(&ip, 1);
	if (f == RF_NONE || f == RF_PLACE) {
		msgpack_pack_bin_with_body(&ip, a.id[0], 32);
	} else if (f == RF_SIZE) {
		msgpack_pack_ext(&ip, 1, 1);
		msgpack_pack_ext_body(&ip, "\x00", 1);
	} else if (f == RF_EXT8) {
		CHECK_ERR(veld_buf_append(&inner, "\xc7\x02\x01\x00\x00", 5),
			  0);
	} else {
		uint8_t idx = f == RF_SELF ? 1 : f == RF_RANGE ? 9 : 0;
		uint8_t be[2] = {0, idx};
		msgpack_pack_ext(&ip, 2, f == RF_TYPE ? 2 : 1);
		msgpack_pack_ext_body(&ip, be, 2);
	}
	pack_s(&ip, "set");
	msgpack_pack_map(&ip, 1);
	pack_s(&ip, "house");
	if (f == RF_PLACE) {
		msgpack_pack_ext(&ip, 2, 1);
		msgpack_pack_ext_body(&ip, "\x00\x00", 2);
	} else {
		pack_s(&ip, "2");
	}
	CHECK_EQ(inner.err, 0);

	veld_buf_init(&raw, VELD_RUNS_MAX);
	veld_buf_packer_init(&pk, &raw);
	msgpack_pack_array(&pk, 8);
	msgpack_pack_array(&pk, 1);
	msgpack_pack_array(&pk, 5);
	msgpack_pack_bin_with_body(&pk, ka.pk, 32);
	msgpack_pack_uint64(&pk, 1);
	msgpack_pack_nil(&pk);
	msgpack_pack_uint64(&pk, 2);
	msgpack_pack_bin_with_body(&pk, d[1].sig, VELD_SIG_LEN);
	msgpack_pack_array(&pk, 2);
	msgpack_pack_uint64(&pk, d[0].h.hlc);
	msgpack_pack_uint64(&pk, d[1].h.hlc - d[0].h.hlc);
	msgpack_pack_array(&pk, 2);
	msgpack_pack_nil(&pk); /* a1's record: derived */
	if (f == RF_RECNIL)
		msgpack_pack_nil(&pk);
	else
		msgpack_pack_uint8(&pk, 0);
	msgpack_pack_array(&pk, 2);
	msgpack_pack_uint8(&pk, VELD_KIND_PUT);
	msgpack_pack_uint8(&pk, f == RF_KIND ? VELD_KIND_NOTE : VELD_KIND_PUT);
	memcpy(salts, d[0].body + 3, 16);
	memcpy(salts + 16, d[1].body + 3, 16);
	msgpack_pack_bin_with_body(&pk, salts, 32);
	msgpack_pack_array(&pk, 2);
	msgpack_pack_bin_with_body(&pk, d[0].body + 19, d[0].body_len - 19);
	if (f == RF_TOPEXT) {
		msgpack_pack_ext(&pk, 2, 1);
		msgpack_pack_ext_body(&pk, "\x00\x00", 2);
	} else if (f == RF_RECNIL) {
		msgpack_pack_bin_with_body(&pk, d[1].body + 19,
					   d[1].body_len - 19);
	} else {
		msgpack_pack_array(&pk, 1);
		msgpack_pack_bin_with_body(&pk, inner.data, inner.len);
	}
	no_trees(&pk, 1);
	CHECK_EQ(raw.err, 0);
	rc = decode_raw(&raw, VELD_OPS_MAX);
	if (f == RF_RECNIL) { /* nil decodes to the derivation */
		struct veld_runs r;
		struct veld_buf z;
		uint8_t want[16];
		zip(&raw, &z);
		CHECK_ERR(veld_runs_decode(z.data, z.len, VELD_OPS_MAX, &r), 0);
		veld_record_derive(ka.pk, 2, want);
		CHECK_MEM(r.dec[1].h.record, want, 16);
		CHECK_MEM(r.dec[0].h.record, r1, 16);
		veld_runs_release(&r);
		veld_buf_release(&z);
	}
	veld_buf_release(&raw);
	veld_buf_release(&inner);
	veld_buf_release(&c);
	chain2_free(&a);
	return rc;
}

static void ref_refusals(void)
{
	CHECK_ERR(ref_block(RF_OK), 0);
	CHECK_ERR(ref_block(RF_SELF), VELD_EOPREF);
	CHECK_ERR(ref_block(RF_RANGE), VELD_EOPREF);
	CHECK_ERR(ref_block(RF_TYPE), VELD_EOPREF);
	CHECK_ERR(ref_block(RF_SIZE), VELD_EOPREF);
	CHECK_ERR(ref_block(RF_EXT8), VELD_EOPREF);
	CHECK_ERR(ref_block(RF_PLACE), VELD_EOPREF);
	CHECK_ERR(ref_block(RF_NONE), VELD_EOPREF);
	CHECK_ERR(ref_block(RF_KIND), VELD_EOPREF);
	CHECK_ERR(ref_block(RF_TOPEXT), VELD_EEXT);
	CHECK_ERR(ref_block(RF_NONCANON), VELD_ENONCANON);
	/* decodes (to derive(ka, 2)), but that is not the signed op */
	CHECK_ERR(ref_block(RF_RECNIL), VELD_ESIG);
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
		CHECK_ERR(veld_msg_ops_decoded(&again, d, 5, 42, 1, NULL), 0);
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
		CHECK_ERR(veld_msg_push_decoded(&m1, 9, v, f.n, NULL), 0);
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

/* --- salt nodes in a block (docs/protocol.md §5.1, §P2.1) --- */

enum tcase {
	T_OK,	   /* ops 1..4: [1] [2,3] [4], no salt travels */
	T_PART,	   /* [2,3] only: ops 1 and 4 with their salts */
	T_NONE,	   /* no node: every salt travels */
	T_BEFORE,  /* [0,3]: below the run's first seq */
	T_AFTER,   /* [5]: past its last */
	T_ORDER,   /* [4] before [2,3] */
	T_OVERLAP, /* [2,3] and [3] */
	T_DEPTH,   /* depth 33 */
	T_INDEX,   /* index 2 at depth 1 */
	T_ERASED,  /* [2,3] over op 2, which travels erased */
	T_SEEDS,   /* the seeds one byte short */
	T_ODD,	   /* a trees entry of odd length */
	T_SALTS,   /* [2,3], and op 2's salt travels too */
	T_WRONG,   /* [2,3] with another seed: the signature fails */
};

static int tree_block(enum tcase f)
{
	struct veld_salt_node root = {0, 0, {0}};
	struct veld_salt_set nodes = {0}, all = {0};
	struct veld_op d[4];
	struct veld_buf raw;
	msgpack_packer pk;
	struct chain a;
	uint8_t covered[4] = {0};
	int rc;

	memset(root.seed, 0x5a, sizeof(root.seed));
	chain_make_salted(&a, &ka, 4, 1ULL << 40, &root);
	for (size_t i = 0; i < 4; i++)
		CHECK_ERR(veld_op_decode(a.b[i].p, a.b[i].len, &d[i]), 0);
	CHECK_EQ(veld_salt_cover(&root, 1, 4, &all), 0); /* [1] [2,3] [4] */
	CHECK_EQ(all.n, 3);
	switch (f) {
	case T_OK:
		nodes = all;
		memset(&all, 0, sizeof(all));
		break;
	case T_PART:
	case T_ERASED:
	case T_SALTS:
	case T_WRONG:
		CHECK_EQ(veld_salt_set_add(&nodes, &all.v[1]), 0);
		if (f == T_WRONG)
			nodes.v[0].seed[0] ^= 1;
		break;
	case T_NONE:
		break;
	case T_BEFORE:
		CHECK_EQ(veld_salt_cover(&root, 0, 3, &nodes), 0);
		break;
	case T_AFTER:
		CHECK_EQ(veld_salt_cover(&root, 5, 5, &nodes), 0);
		break;
	case T_ORDER:
		CHECK_EQ(veld_salt_set_add(&nodes, &all.v[2]), 0);
		CHECK_EQ(veld_salt_set_add(&nodes, &all.v[1]), 0);
		break;
	case T_OVERLAP:
		CHECK_EQ(veld_salt_set_add(&nodes, &all.v[1]), 0);
		CHECK_EQ(veld_salt_cover(&root, 3, 3, &nodes), 0);
		break;
	case T_DEPTH:
	case T_INDEX:
	case T_SEEDS:
	case T_ODD:
		nodes = all;
		memset(&all, 0, sizeof(all));
		break;
	}
	/* which ops' salts the nodes derive (as the decoder will see it) */
	for (size_t j = 0; j < nodes.n; j++)
		for (uint64_t q = nodes.v[j].lo;
		     q <= veld_salt_hi(&nodes.v[j]) && q <= 4; q++)
			if (q >= 1)
				covered[q - 1] = 1;
	if (f == T_SALTS)
		covered[1] = 0;

	veld_buf_init(&raw, VELD_RUNS_MAX);
	veld_buf_packer_init(&pk, &raw);
	msgpack_pack_array(&pk, 8);
	msgpack_pack_array(&pk, 1);
	msgpack_pack_array(&pk, 5);
	msgpack_pack_bin_with_body(&pk, ka.pk, 32);
	msgpack_pack_uint64(&pk, 1);
	msgpack_pack_nil(&pk);
	msgpack_pack_uint8(&pk, 4);
	msgpack_pack_bin_with_body(&pk, d[3].sig, VELD_SIG_LEN);
	msgpack_pack_array(&pk, 4); /* clocks */
	for (size_t i = 0; i < 4; i++)
		if (i == 0)
			msgpack_pack_uint64(&pk, d[i].h.hlc);
		else
			msgpack_pack_int64(
				&pk, (int64_t)(d[i].h.hlc - d[i - 1].h.hlc));
	msgpack_pack_array(&pk, 4); /* records */
	for (size_t i = 0; i < 4; i++)
		msgpack_pack_bin_with_body(&pk, d[i].h.record, 16);
	msgpack_pack_array(&pk, 4); /* kinds */
	for (size_t i = 0; i < 4; i++)
		msgpack_pack_uint64(&pk, d[i].h.kind);
	{ /* salts of the ops no node derives (op 2 erased: none) */
		size_t ns = 0;
		uint8_t salts[4 * VELD_SALT_LEN];
		for (size_t i = 0; i < 4; i++)
			if (!covered[i] && !(f == T_ERASED && i == 1))
				memcpy(salts + VELD_SALT_LEN * ns++,
				       d[i].body + 3, VELD_SALT_LEN);
		msgpack_pack_bin_with_body(&pk, salts, ns * VELD_SALT_LEN);
	}
	msgpack_pack_array(&pk, 4); /* contents */
	for (size_t i = 0; i < 4; i++) {
		if (f == T_ERASED && i == 1) {
			msgpack_pack_array(&pk, 2);
			msgpack_pack_uint64(&pk, d[i].h.body_len);
			msgpack_pack_bin_with_body(&pk, d[i].h.body_hash, 32);
		} else {
			msgpack_pack_bin_with_body(&pk, d[i].body + 19,
						   d[i].body_len - 19);
		}
	}
	/* trees, seeds */
	msgpack_pack_array(&pk, 1);
	msgpack_pack_array(&pk, 2 * nodes.n + (f == T_ODD));
	for (size_t j = 0; j < nodes.n; j++) {
		uint64_t depth = nodes.v[j].depth, index;
		index = veld_salt_index(&nodes.v[j]);
		if (f == T_DEPTH && j == 0)
			depth = 33;
		if (f == T_INDEX && j == 0) {
			depth = 1;
			index = 2;
		}
		msgpack_pack_uint64(&pk, depth);
		msgpack_pack_uint64(&pk, index);
	}
	if (f == T_ODD)
		msgpack_pack_uint8(&pk, 32);
	msgpack_pack_bin(&pk, nodes.n * VELD_SALT_LEN - (f == T_SEEDS));
	for (size_t j = 0; j < nodes.n; j++)
		msgpack_pack_bin_body(&pk, nodes.v[j].seed,
				      VELD_SALT_LEN - (f == T_SEEDS && !j));
	CHECK_EQ(raw.err, 0);
	rc = decode_raw(&raw, VELD_OPS_MAX);
	veld_buf_release(&raw);
	veld_salt_set_release(&nodes);
	veld_salt_set_release(&all);
	chain_free(&a);
	return rc;
}

static void salt_nodes(void)
{
	CHECK_ERR(tree_block(T_OK), 0);
	CHECK_ERR(tree_block(T_PART), 0);
	CHECK_ERR(tree_block(T_NONE), 0);
	CHECK_ERR(tree_block(T_BEFORE), VELD_ESALTNODE);
	CHECK_ERR(tree_block(T_AFTER), VELD_ESALTNODE);
	CHECK_ERR(tree_block(T_ORDER), VELD_ESALTNODE);
	CHECK_ERR(tree_block(T_OVERLAP), VELD_ESALTNODE);
	CHECK_ERR(tree_block(T_DEPTH), VELD_ESALTNODE);
	CHECK_ERR(tree_block(T_INDEX), VELD_ESALTNODE);
	CHECK_ERR(tree_block(T_ERASED), VELD_ESALTNODE);
	CHECK_ERR(tree_block(T_SEEDS), VELD_EMSGSHAPE);
	CHECK_ERR(tree_block(T_ODD), VELD_EMSGSHAPE);
	CHECK_ERR(tree_block(T_SALTS), VELD_EMSGSHAPE);
	CHECK_ERR(tree_block(T_WRONG), VELD_ESIG);
}

/* The sender's side: a source of nodes gives a block without salts; nodes
 * that do not derive an op's salt are punctured for it, never sent over
 * it; the decoded ops are the same either way. */
static int src_root(void *ctx, const uint8_t author[VELD_PK_LEN], uint64_t lo,
		    uint64_t hi, struct veld_salt_set *out)
{
	(void)author;
	(void)lo;
	(void)hi;
	return veld_salt_set_add(out, ctx);
}

static void salt_source(void)
{
	struct veld_salt_node root = {0, 0, {0}}, other = {0, 0, {0}};
	struct veld_salt_source src = {src_root, &root};
	struct veld_buf z0, z1, z2;
	struct veld_runs r;
	struct veld_op d[8];
	struct chain a;
	size_t bad;

	memset(root.seed, 0x33, 16);
	memset(other.seed, 0x44, 16);
	chain_make_salted(&a, &ka, 8, 1ULL << 40, &root);
	for (size_t i = 0; i < 8; i++)
		CHECK_ERR(veld_op_decode(a.b[i].p, a.b[i].len, &d[i]), 0);
	veld_buf_init(&z0, VELD_RUNS_MAX);
	veld_buf_init(&z1, VELD_RUNS_MAX);
	veld_buf_init(&z2, VELD_RUNS_MAX);
	CHECK_ERR(veld_runs_encode_ops(d, 8, VELD_RUNS_LEVEL, NULL, &z0), 0);
	CHECK_ERR(veld_runs_encode_ops(d, 8, VELD_RUNS_LEVEL, &src, &z1), 0);
	/* 8 salts (128 bytes) become the seeds of [1] [2,3] [4,7] [8] */
	CHECK(z1.len + 32 < z0.len);
	CHECK_ERR(veld_runs_decode(z1.data, z1.len, VELD_OPS_MAX, &r), 0);
	CHECK_EQ(r.nnodes, 4);
	CHECK_EQ(r.runs[0].node_n, 4);
	CHECK_ERR(veld_runs_verify(&r, &bad), 0);
	for (size_t i = 0; i < 8; i++)
		CHECK(memcmp(r.dec[i].id, d[i].id, 32) == 0);
	veld_runs_release(&r);
	/* a source whose tree is not the author's: nothing of it is sent */
	src.ctx = &other;
	CHECK_ERR(veld_runs_encode_ops(d, 8, VELD_RUNS_LEVEL, &src, &z2), 0);
	CHECK_ERR(veld_runs_decode(z2.data, z2.len, VELD_OPS_MAX, &r), 0);
	CHECK_EQ(r.nnodes, 0);
	CHECK_ERR(veld_runs_verify(&r, &bad), 0);
	for (size_t i = 0; i < 8; i++)
		CHECK(memcmp(r.dec[i].id, d[i].id, 32) == 0);
	veld_runs_release(&r);
	/* a block of one op decodes with a limit of one op: its eight
	 * columns are not held against that limit */
	veld_buf_reset(&z0);
	CHECK_ERR(veld_runs_encode_ops(d, 1, VELD_RUNS_LEVEL, NULL, &z0), 0);
	CHECK_ERR(veld_runs_decode(z0.data, z0.len, 1, &r), 0);
	veld_runs_release(&r);
	veld_buf_release(&z0);
	veld_buf_release(&z1);
	veld_buf_release(&z2);
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
	derived_and_refs();
	ref_refusals();
	messages();
	framed_ops();
	salt_nodes();
	salt_source();
	return test_summary("test_runs");
}
