/*
 * test_op.c - creating, decoding and verifying ops (proto/op.c).
 *
 * The rejection tests build each bad op with a *valid* signature over the
 * bad header, so that the check under test, not the signature, is what
 * refuses it.
 */
#include <stdlib.h>

#include <sodium.h>

#include "buf.h"
#include "canon.h"
#include "op.h"
#include "test.h"

static struct veld_key key, other;

static void seed_key(struct veld_key *k, uint8_t fill)
{
	uint8_t seed[VELD_SEED_LEN];

	memset(seed, fill, sizeof(seed));
	veld_key_from_seed(k, seed);
}

/* A survey body: [salt, {"house": "12", "street": "Kerkstraat"}]. */
static void make_body(struct veld_buf *b, const char *house)
{
	uint8_t salt[VELD_SALT_LEN];
	msgpack_packer pk;

	veld_buf_init(b, VELD_BODY_MAX);
	veld_salt_random(salt);
	veld_buf_packer_init(&pk, b);
	veld_body_begin(&pk, salt);
	msgpack_pack_map(&pk, 2);
	msgpack_pack_str_with_body(&pk, "house", 5);
	msgpack_pack_str_with_body(&pk, house, strlen(house));
	msgpack_pack_str_with_body(&pk, "street", 6);
	msgpack_pack_str_with_body(&pk, "Kerkstraat", 10);
}

static void base_header(struct veld_op_header *h, uint64_t seq)
{
	memset(h, 0, sizeof(*h));
	h->seq = seq;
	h->has_prev = seq > 1;
	memset(h->prev, 0x33, sizeof(h->prev));
	h->hlc = UINT64_C(1795000000000) << 16;
	memset(h->record, 0x44, sizeof(h->record));
	h->kind = VELD_KIND_PUT;
}

/* Sign arbitrary header bytes as key k and frame them with body. */
static void sign_raw(const struct veld_key *k, const uint8_t *hdr, size_t n,
		     const uint8_t *body, size_t body_len, struct veld_buf *op)
{
	uint8_t msg[sizeof(VELD_DS_SIG) + 512], sig[VELD_SIG_LEN];

	memcpy(msg, VELD_DS_SIG, sizeof(VELD_DS_SIG));
	memcpy(msg + sizeof(VELD_DS_SIG), hdr, n);
	crypto_sign_detached(sig, NULL, msg, sizeof(VELD_DS_SIG) + n, k->sk);
	veld_buf_init(op, 1 << 20);
	if (veld_op_frame(hdr, n, sig, body, body_len, op) != 0)
		abort();
}

/*
 * Header fields of a valid op as msgpack objects, for tampering: copy the
 * array, change one element, pack it again with craft().
 */
struct fields {
	msgpack_unpacked u;
	msgpack_object f[VELD_H_COUNT + 1];
	struct veld_buf body;
	struct veld_buf hdr;
};

static void fields_init(struct fields *fs, uint64_t seq)
{
	struct veld_op_header h;

	base_header(&h, seq);
	make_body(&fs->body, "12");
	h.version = VELD_OP_VERSION;
	memcpy(h.author, key.pk, VELD_PK_LEN);
	h.body_len = fs->body.len;
	veld_body_hash(fs->body.data, fs->body.len, h.body_hash);
	veld_buf_init(&fs->hdr, VELD_HEADER_MAX);
	if (veld_op_header_encode(&h, &fs->hdr) != 0)
		abort();
	msgpack_unpacked_init(&fs->u);
	if (veld_canon_decode(fs->hdr.data, fs->hdr.len, &fs->u) != 0)
		abort();
	memcpy(fs->f, fs->u.data.via.array.ptr,
	       VELD_H_COUNT * sizeof(msgpack_object));
	fs->f[VELD_H_COUNT] = fs->f[0];
}

static void fields_release(struct fields *fs)
{
	msgpack_unpacked_destroy(&fs->u);
	veld_buf_release(&fs->body);
	veld_buf_release(&fs->hdr);
}

/* Pack the first n fields as a header, sign it, decode the op. */
static int craft(struct fields *fs, uint32_t n)
{
	struct veld_buf hdr, op;
	struct veld_op d;
	msgpack_packer pk;
	int rc;

	veld_buf_init(&hdr, 1024);
	veld_buf_packer_init(&pk, &hdr);
	msgpack_pack_array(&pk, n);
	for (uint32_t i = 0; i < n; i++)
		msgpack_pack_object(&pk, fs->f[i]);
	sign_raw(&key, hdr.data, hdr.len, fs->body.data, fs->body.len, &op);
	rc = veld_op_decode(op.data, op.len, &d);
	veld_buf_release(&hdr);
	veld_buf_release(&op);
	return rc;
}

static msgpack_object uint_obj(uint64_t v)
{
	msgpack_object o = {.type = MSGPACK_OBJECT_POSITIVE_INTEGER};
	o.via.u64 = v;
	return o;
}

static msgpack_object bin_obj(const void *p, uint32_t n)
{
	msgpack_object o = {.type = MSGPACK_OBJECT_BIN};
	o.via.bin.ptr = p;
	o.via.bin.size = n;
	return o;
}

static void round_trip(void)
{
	struct veld_op_header h;
	struct veld_buf body, out;
	struct veld_op d;
	uint8_t id[VELD_HASH_LEN], id2[VELD_HASH_LEN];

	make_body(&body, "12");
	base_header(&h, 1);
	veld_buf_init(&out, VELD_OP_MAX);
	CHECK_ERR(veld_op_create(&key, &h, body.data, body.len, &out, id), 0);
	CHECK_ERR(veld_op_decode(out.data, out.len, &d), 0);
	CHECK_ERR(veld_op_verify(&d), 0);
	CHECK_MEM(d.id, id, VELD_HASH_LEN);
	veld_op_id(d.header, d.header_len, id2);
	CHECK_MEM(id2, id, VELD_HASH_LEN);
	CHECK_EQ(d.h.seq, 1);
	CHECK_EQ(d.h.has_prev, 0);
	CHECK_U64(d.h.hlc, h.hlc);
	CHECK_EQ(d.h.kind, VELD_KIND_PUT);
	CHECK_MEM(d.h.author, key.pk, VELD_PK_LEN);
	CHECK_MEM(d.h.record, h.record, VELD_RECORD_LEN);
	CHECK_EQ(d.body_len, body.len);
	CHECK(d.body && memcmp(d.body, body.data, body.len) == 0);

	/* Re-framing the parts gives the same bytes: one op, one form. */
	{
		struct veld_buf again;
		veld_buf_init(&again, VELD_OP_MAX);
		CHECK_ERR(veld_op_frame(d.header, d.header_len, d.sig, d.body,
					d.body_len, &again),
			  0);
		CHECK_EQ(again.len, out.len);
		CHECK_MEM(again.data, out.data, out.len);
		veld_buf_release(&again);
	}

	/* seq 2 names its predecessor. */
	base_header(&h, 2);
	memcpy(h.prev, id, VELD_HASH_LEN);
	veld_buf_reset(&out);
	CHECK_ERR(veld_op_create(&key, &h, body.data, body.len, &out, NULL), 0);
	CHECK_ERR(veld_op_decode(out.data, out.len, &d), 0);
	CHECK_ERR(veld_op_verify(&d), 0);
	CHECK_EQ(d.h.has_prev, 1);
	CHECK_MEM(d.h.prev, id, VELD_HASH_LEN);

	/* Erased: body nil, header and signature still verify. */
	{
		struct veld_buf erased;
		struct veld_op e;
		veld_buf_init(&erased, VELD_OP_MAX);
		CHECK_ERR(veld_op_frame(d.header, d.header_len, d.sig, NULL, 0,
					&erased),
			  0);
		CHECK_ERR(veld_op_decode(erased.data, erased.len, &e), 0);
		CHECK_ERR(veld_op_verify(&e), 0);
		CHECK(e.body == NULL);
		CHECK_MEM(e.id, d.id, VELD_HASH_LEN);
		CHECK_EQ(e.h.body_len, body.len);
		veld_buf_release(&erased);
	}
	veld_buf_release(&out);
	veld_buf_release(&body);
}

/* Every single-bit change anywhere in an op must be refused. */
static void every_bit_flip_is_refused(void)
{
	struct veld_op_header h;
	struct veld_buf body, out;
	struct veld_op d;
	int accepted = 0;

	make_body(&body, "12");
	base_header(&h, 3);
	veld_buf_init(&out, VELD_OP_MAX);
	CHECK_ERR(veld_op_create(&key, &h, body.data, body.len, &out, NULL), 0);
	for (size_t i = 0; i < out.len; i++) {
		for (int bit = 0; bit < 8; bit++) {
			out.data[i] ^= (uint8_t)(1u << bit);
			if (veld_op_decode(out.data, out.len, &d) == 0 &&
			    veld_op_verify(&d) == 0) {
				accepted++;
				fprintf(stderr,
					"flip of byte %zu bit %d "
					"accepted\n",
					i, bit);
			}
			out.data[i] ^= (uint8_t)(1u << bit);
		}
	}
	CHECK_EQ(accepted, 0);

	/* Every truncation, and one trailing byte. */
	for (size_t n = 0; n < out.len; n++)
		CHECK(veld_op_decode(out.data, n, &d) < 0);
	CHECK_ERR(veld_buf_append(&out, "", 1), 0);
	CHECK_ERR(veld_op_decode(out.data, out.len, &d), VELD_ETRAILING);
	veld_buf_release(&out);
	veld_buf_release(&body);
}

static void header_rejections(void)
{
	struct fields fs;
	uint8_t short_bytes[VELD_HASH_LEN] = {0};
	msgpack_object nil = {.type = MSGPACK_OBJECT_NIL};
	msgpack_object neg = {.type = MSGPACK_OBJECT_NEGATIVE_INTEGER};

	neg.via.i64 = -1;
	fields_init(&fs, 2);
	CHECK_ERR(craft(&fs, VELD_H_COUNT), 0);

#define TRY(pos, value, want)                                                  \
	do {                                                                   \
		msgpack_object keep_ = fs.f[pos];                              \
		fs.f[pos] = (value);                                           \
		CHECK_ERR(craft(&fs, VELD_H_COUNT), want);                     \
		fs.f[pos] = keep_;                                             \
	} while (0)

	TRY(VELD_H_VERSION, uint_obj(2), VELD_EVERSION);
	TRY(VELD_H_VERSION, uint_obj(0), VELD_EVERSION);
	TRY(VELD_H_VERSION, nil, VELD_EVERSION);
	TRY(VELD_H_AUTHOR, bin_obj(key.pk, 31), VELD_EAUTHOR);
	TRY(VELD_H_AUTHOR, nil, VELD_EAUTHOR);
	TRY(VELD_H_SEQ, uint_obj(0), VELD_ESEQ);
	TRY(VELD_H_SEQ, uint_obj(VELD_SEQ_MAX + 1), VELD_ESEQ);
	TRY(VELD_H_SEQ, neg, VELD_ESEQ);
	TRY(VELD_H_SEQ, uint_obj(1), VELD_EPREV); /* seq 1 with prev */
	TRY(VELD_H_PREV, nil, VELD_EPREV);	  /* seq 2 without prev */
	TRY(VELD_H_PREV, bin_obj(short_bytes, 31), VELD_EPREV);
	TRY(VELD_H_HLC, neg, VELD_EHLC);
	TRY(VELD_H_HLC, nil, VELD_EHLC);
	TRY(VELD_H_RECORD, bin_obj(short_bytes, 15), VELD_ERECORD);
	TRY(VELD_H_RECORD, bin_obj(short_bytes, 17), VELD_ERECORD);
	TRY(VELD_H_KIND, uint_obj(0), VELD_EKIND);
	TRY(VELD_H_KIND, uint_obj(VELD_KIND_MAX + 1), VELD_EKIND);
	TRY(VELD_H_BODY_LEN, uint_obj(VELD_BODY_MAX + 1), VELD_EBODYLEN);
	TRY(VELD_H_BODY_LEN, uint_obj(fs.body.len + 1), VELD_EBODYMISMATCH);
	TRY(VELD_H_BODY_HASH, bin_obj(short_bytes, 31), VELD_EBODYHASHLEN);
	TRY(VELD_H_BODY_HASH, bin_obj(short_bytes, 32), VELD_EBODYHASH);
#undef TRY
	/* Wrong field count. */
	CHECK_ERR(craft(&fs, VELD_H_COUNT - 1), VELD_EHDRSHAPE);
	CHECK_ERR(craft(&fs, VELD_H_COUNT + 1), VELD_EHDRSHAPE);
	fields_release(&fs);
}

static void noncanonical_header_is_refused(void)
{
	struct fields fs;
	struct veld_buf hdr, op;
	struct veld_op d;
	msgpack_packer pk;

	fields_init(&fs, 2);
	veld_buf_init(&hdr, 1024);
	veld_buf_packer_init(&pk, &hdr);
	msgpack_pack_array(&pk, VELD_H_COUNT);
	for (uint32_t i = 0; i < VELD_H_COUNT; i++) {
		if (i == VELD_H_SEQ) /* 2 as uint8: 0xcc 0x02 */
			msgpack_pack_fix_uint8(&pk, 2);
		else
			msgpack_pack_object(&pk, fs.f[i]);
	}
	sign_raw(&key, hdr.data, hdr.len, fs.body.data, fs.body.len, &op);
	CHECK_ERR(veld_op_decode(op.data, op.len, &d), VELD_ENONCANON);
	veld_buf_release(&op);
	veld_buf_release(&hdr);
	fields_release(&fs);
}

static void signature_rejections(void)
{
	struct fields fs;
	struct veld_buf op;
	struct veld_op d;
	uint8_t sig[VELD_SIG_LEN] = {0};

	fields_init(&fs, 2);
	/* Signed by another key than the author in the header. */
	sign_raw(&other, fs.hdr.data, fs.hdr.len, fs.body.data, fs.body.len,
		 &op);
	CHECK_ERR(veld_op_decode(op.data, op.len, &d), 0);
	CHECK_ERR(veld_op_verify(&d), VELD_ESIG);
	veld_buf_release(&op);

	/* A zero signature. */
	veld_buf_init(&op, VELD_OP_MAX);
	CHECK_ERR(veld_op_frame(fs.hdr.data, fs.hdr.len, sig, fs.body.data,
				fs.body.len, &op),
		  0);
	CHECK_ERR(veld_op_decode(op.data, op.len, &d), 0);
	CHECK_ERR(veld_op_verify(&d), VELD_ESIG);
	veld_buf_release(&op);

	/* Signed without the domain prefix: not a veldwerk op signature. */
	crypto_sign_detached(sig, NULL, fs.hdr.data, fs.hdr.len, key.sk);
	veld_buf_init(&op, VELD_OP_MAX);
	CHECK_ERR(veld_op_frame(fs.hdr.data, fs.hdr.len, sig, fs.body.data,
				fs.body.len, &op),
		  0);
	CHECK_ERR(veld_op_decode(op.data, op.len, &d), 0);
	CHECK_ERR(veld_op_verify(&d), VELD_ESIG);
	veld_buf_release(&op);
	fields_release(&fs);
}

static void envelope_and_body_rejections(void)
{
	struct veld_op_header h;
	struct veld_buf body, out, bad;
	struct veld_op d;
	msgpack_packer pk;
	uint8_t salt[VELD_SALT_LEN] = {0};

	make_body(&body, "12");
	base_header(&h, 1);
	veld_buf_init(&out, VELD_OP_MAX);
	CHECK_ERR(veld_op_create(&key, &h, body.data, body.len, &out, NULL), 0);

	/* Oversize input, refused before it is parsed. */
	{
		uint8_t *huge = calloc(1, VELD_OP_MAX + 1);
		CHECK_ERR(veld_op_decode(huge, VELD_OP_MAX + 1, &d),
			  VELD_EOPSIZE);
		free(huge);
	}
	/* Not an array of three. */
	CHECK_ERR(veld_op_decode((const uint8_t *)"\xc0", 1, &d),
		  VELD_EOPSHAPE);
	CHECK_ERR(
		veld_op_decode((const uint8_t *)"\x92\xc4\x00\xc4\x00", 5, &d),
		VELD_EOPSHAPE);
	/* Envelope bins: signature of 63 bytes; header given as a str. */
	veld_buf_init(&bad, VELD_OP_MAX);
	veld_buf_packer_init(&pk, &bad);
	msgpack_pack_array(&pk, 3);
	msgpack_pack_bin_with_body(&pk, out.data, 100);
	msgpack_pack_bin_with_body(&pk, out.data, 63);
	msgpack_pack_nil(&pk);
	CHECK_ERR(veld_op_decode(bad.data, bad.len, &d), VELD_ESIGLEN);
	veld_buf_reset(&bad);
	msgpack_pack_array(&pk, 3);
	msgpack_pack_str_with_body(&pk, "header", 6);
	msgpack_pack_bin_with_body(&pk, out.data, 64);
	msgpack_pack_nil(&pk);
	CHECK_ERR(veld_op_decode(bad.data, bad.len, &d), VELD_EOPSHAPE);
	veld_buf_reset(&bad);
	msgpack_pack_array(&pk, 3);
	msgpack_pack_bin(&pk, VELD_HEADER_MAX + 1);
	for (int i = 0; i < VELD_HEADER_MAX + 1; i++)
		msgpack_pack_bin_body(&pk, "", 1);
	msgpack_pack_bin_with_body(&pk, out.data, 64);
	msgpack_pack_nil(&pk);
	CHECK_ERR(veld_op_decode(bad.data, bad.len, &d), VELD_EHDRSIZE);
	veld_buf_release(&bad);

	/* Bodies the creator refuses to sign. */
	veld_buf_init(&bad, 2 * VELD_BODY_MAX);
	veld_buf_packer_init(&pk, &bad);
	veld_body_begin(&pk, salt);
	msgpack_pack_map(&pk, 2); /* keys out of order */
	msgpack_pack_str_with_body(&pk, "street", 6);
	msgpack_pack_nil(&pk);
	msgpack_pack_str_with_body(&pk, "house", 5);
	msgpack_pack_nil(&pk);
	veld_buf_reset(&out);
	CHECK_ERR(veld_op_create(&key, &h, bad.data, bad.len, &out, NULL),
		  VELD_EKEYORDER);
	CHECK_EQ(out.len, 0);

	veld_buf_reset(&bad); /* no salt */
	msgpack_pack_array(&pk, 2);
	msgpack_pack_bin_with_body(&pk, salt, 15);
	msgpack_pack_nil(&pk);
	CHECK_ERR(veld_op_create(&key, &h, bad.data, bad.len, &out, NULL),
		  VELD_EBODYSHAPE);
	veld_buf_reset(&bad);
	msgpack_pack_str_with_body(&pk, "just text", 9);
	CHECK_ERR(veld_op_create(&key, &h, bad.data, bad.len, &out, NULL),
		  VELD_EBODYSHAPE);

	veld_buf_reset(&bad); /* too big: many strings just under the limit */
	veld_body_begin(&pk, salt);
	msgpack_pack_array(&pk, 5);
	for (int i = 0; i < 5; i++) {
		static char s[VELD_STR_MAX];
		memset(s, 'x', sizeof(s));
		msgpack_pack_str_with_body(&pk, s, sizeof(s));
	}
	CHECK(bad.len > VELD_BODY_MAX);
	CHECK_ERR(veld_op_create(&key, &h, bad.data, bad.len, &out, NULL),
		  VELD_EBODYSIZE);

	/* A signed op whose body is non-canonical is refused on decode. */
	{
		struct fields fs;
		struct veld_buf op;
		uint8_t noncanon[] = {0x92, 0xc4, 0x10, 0, 0, 0,    0,
				      0,    0,	  0,	0, 0, 0,    0,
				      0,    0,	  0,	0, 0, 0xcc, 0x01};
		fields_init(&fs, 2);
		uint8_t hash[VELD_HASH_LEN];
		veld_body_hash(noncanon, sizeof(noncanon), hash);
		fs.f[VELD_H_BODY_LEN] = uint_obj(sizeof(noncanon));
		fs.f[VELD_H_BODY_HASH] = bin_obj(hash, VELD_HASH_LEN);
		struct veld_buf hdr;
		veld_buf_init(&hdr, 1024);
		veld_buf_packer_init(&pk, &hdr);
		msgpack_pack_array(&pk, VELD_H_COUNT);
		for (int i = 0; i < VELD_H_COUNT; i++)
			msgpack_pack_object(&pk, fs.f[i]);
		sign_raw(&key, hdr.data, hdr.len, noncanon, sizeof(noncanon),
			 &op);
		CHECK_ERR(veld_op_decode(op.data, op.len, &d), VELD_ENONCANON);
		veld_buf_release(&op);
		veld_buf_release(&hdr);
		fields_release(&fs);
	}
	veld_buf_release(&bad);
	veld_buf_release(&out);
	veld_buf_release(&body);
}

static void header_encode_checks_fields(void)
{
	struct veld_op_header h;
	struct veld_buf out, body;

	make_body(&body, "1");
	veld_buf_init(&out, VELD_OP_MAX);
	base_header(&h, 1);
	h.kind = 99;
	CHECK_ERR(veld_op_create(&key, &h, body.data, body.len, &out, NULL),
		  VELD_EKIND);
	base_header(&h, 1);
	h.has_prev = 1;
	CHECK_ERR(veld_op_create(&key, &h, body.data, body.len, &out, NULL),
		  VELD_EPREV);
	base_header(&h, 0);
	CHECK_ERR(veld_op_create(&key, &h, body.data, body.len, &out, NULL),
		  VELD_ESEQ);
	CHECK_EQ(out.len, 0);
	CHECK(strcmp(veld_kind_name(VELD_KIND_ERASE), "erase") == 0);
	CHECK(strcmp(veld_kind_name(42), "unknown") == 0);
	veld_buf_release(&out);
	veld_buf_release(&body);
}

/* Decode n bytes of p from a buffer of exactly n bytes (ASan sees any
 * read past them); 0 and *h, or the error. */
static int decode_exact(const uint8_t *p, size_t n, struct veld_op_header *h)
{
	uint8_t *q = malloc(n ? n : 1);
	int rc;

	CHECK(q != NULL);
	if (n)
		memcpy(q, p, n);
	rc = veld_op_header_decode(q, n, h);
	free(q);
	return rc;
}

/* 1 if decoding p gives a header that encodes back to exactly p. */
static int encodes_back(const uint8_t *p, size_t n,
			const struct veld_op_header *h)
{
	struct veld_buf b;
	int same;

	veld_buf_init(&b, VELD_HEADER_MAX);
	same = veld_op_header_encode(h, &b) == 0 && b.len == n &&
	       memcmp(b.data, p, n) == 0;
	veld_buf_release(&b);
	return same;
}

/*
 * Headers with their numbers at every uint width decode to their fields;
 * and whatever the decoder accepts, of any one-byte change, cut or
 * extension of such a header, is exactly the canonical encoding of the
 * header it returns: the fast path (op.c, header_fast) takes nothing the
 * full decoder would refuse or read otherwise.
 */
static void header_decode_is_exact(void)
{
	static const uint64_t nums[] = {1,
					0x7f,
					0x80,
					0xff,
					0x100,
					0xffff,
					0x10000,
					UINT64_C(0xffffffff),
					UINT64_C(0x100000000),
					UINT64_C(1795000000000) << 16};
	static const uint8_t subst[] = {0x00, 0x01, 0x7f, 0x80, 0x99, 0x98,
					0x9a, 0xc0, 0xc4, 0xc5, 0xcc, 0xcd,
					0xce, 0xcf, 0xd0, 0xff};
	struct veld_op_header h, d;
	struct veld_buf a;
	uint8_t m[VELD_HEADER_MAX + 1];
	int accepted = 0, refused = 0;

	veld_buf_init(&a, VELD_HEADER_MAX);
	for (size_t w = 0; w < sizeof(nums) / sizeof(nums[0]); w++) {
		base_header(&h, nums[w] <= VELD_SEQ_MAX ? nums[w] : 2);
		h.version = VELD_OP_VERSION;
		h.hlc = nums[w];
		h.body_len = nums[w] <= VELD_BODY_MAX ? nums[w] : 7;
		h.kind = 1 + w % VELD_KIND_MAX;
		veld_buf_reset(&a);
		CHECK_ERR(veld_op_header_encode(&h, &a), 0);
		CHECK_ERR(decode_exact(a.data, a.len, &d), 0);
		CHECK_U64(d.seq, h.seq);
		CHECK_U64(d.hlc, h.hlc);
		CHECK_U64(d.body_len, h.body_len);
		CHECK_U64(d.kind, h.kind);
		CHECK_EQ(d.has_prev, h.has_prev);
		CHECK(encodes_back(a.data, a.len, &d));

		for (size_t i = 0; i < a.len; i++) {
			for (size_t k = 0; k <= sizeof(subst); k++) {
				memcpy(m, a.data, a.len);
				m[i] = k < sizeof(subst) ? subst[k]
							 : (uint8_t)(m[i] ^ 1);
				if (decode_exact(m, a.len, &d) == 0) {
					CHECK(encodes_back(m, a.len, &d));
					accepted++;
				} else {
					refused++;
				}
			}
			CHECK(decode_exact(a.data, i, &d) < 0);
		}
		memcpy(m, a.data, a.len);
		m[a.len] = 0x00;
		CHECK(decode_exact(m, a.len + 1, &d) < 0);
	}
	CHECK(accepted > 0);
	CHECK(refused > 0);
	veld_buf_release(&a);
}

int main(void)
{
	if (sodium_init() < 0)
		return 2;
	seed_key(&key, 0x01);
	seed_key(&other, 0x02);
	round_trip();
	every_bit_flip_is_refused();
	header_rejections();
	noncanonical_header_is_refused();
	signature_rejections();
	envelope_and_body_rejections();
	header_encode_checks_fields();
	header_decode_is_exact();
	veld_key_release(&key);
	veld_key_release(&other);
	return test_summary("test_op");
}
