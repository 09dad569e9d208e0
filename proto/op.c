/*
 * op.c - encode, decode, sign and verify operations; see op.h and
 * docs/protocol.md.
 *
 * Decoding trusts nothing: sizes are checked before msgpack-c sees a byte
 * (canon.c), every header field is type- and range-checked, and the id and
 * signature are computed over the received header bytes.  Encoding goes
 * through the same checks, so this module never signs an op it would
 * refuse to decode.
 */
#include "op.h"

#include <string.h>

#include <sodium.h>

#include "canon.h"
#include "err.h"

const char *veld_kind_name(uint64_t kind)
{
	switch (kind) {
	case VELD_KIND_PUT:
		return "put";
	case VELD_KIND_DELETE:
		return "delete";
	case VELD_KIND_NOTE:
		return "note";
	case VELD_KIND_ERASE:
		return "erase";
	case VELD_KIND_FORM:
		return "form";
	case VELD_KIND_DEVICE:
		return "device";
	}
	return "unknown";
}

static void hash2(const char *ds, size_t ds_len, const uint8_t *p, size_t n,
		  uint8_t out[VELD_HASH_LEN])
{
	crypto_generichash_state st;

	crypto_generichash_init(&st, NULL, 0, VELD_HASH_LEN);
	crypto_generichash_update(&st, (const uint8_t *)ds, ds_len);
	crypto_generichash_update(&st, p, n);
	crypto_generichash_final(&st, out, VELD_HASH_LEN);
}

void veld_op_id(const uint8_t *header, size_t len, uint8_t id[VELD_HASH_LEN])
{
	hash2(VELD_DS_ID, VELD_DS_LEN(VELD_DS_ID), header, len, id);
}

void veld_body_hash(const uint8_t *body, size_t len, uint8_t out[VELD_HASH_LEN])
{
	hash2(VELD_DS_BODY, VELD_DS_LEN(VELD_DS_BODY), body, len, out);
}

void veld_record_derive(const uint8_t author[VELD_PK_LEN], uint64_t seq,
			uint8_t record[VELD_RECORD_LEN])
{
	uint8_t msg[VELD_PK_LEN + 8], out[VELD_HASH_LEN];

	memcpy(msg, author, VELD_PK_LEN);
	for (int i = 0; i < 8; i++)
		msg[VELD_PK_LEN + i] = (uint8_t)(seq >> (56 - 8 * i));
	hash2(VELD_DS_RECORD, VELD_DS_LEN(VELD_DS_RECORD), msg, sizeof(msg),
	      out);
	memcpy(record, out, VELD_RECORD_LEN);
}

void veld_salt_random(uint8_t salt[VELD_SALT_LEN])
{
	randombytes_buf(salt, VELD_SALT_LEN);
}

int veld_body_begin(msgpack_packer *pk, const uint8_t salt[VELD_SALT_LEN])
{
	if (msgpack_pack_array(pk, 2) < 0)
		return -1;
	return msgpack_pack_bin_with_body(pk, salt, VELD_SALT_LEN);
}

/* The signed message: VELD_DS_SIG || header, in one contiguous buffer. */
struct sig_msg {
	uint8_t bytes[sizeof(VELD_DS_SIG) + VELD_HEADER_MAX];
	size_t len;
};

static void sig_msg_init(struct sig_msg *m, const uint8_t *header, size_t len)
{
	memcpy(m->bytes, VELD_DS_SIG, VELD_DS_LEN(VELD_DS_SIG));
	memcpy(m->bytes + VELD_DS_LEN(VELD_DS_SIG), header, len);
	m->len = VELD_DS_LEN(VELD_DS_SIG) + len;
}

static int is_bin(const msgpack_object *o, uint32_t len)
{
	return o->type == MSGPACK_OBJECT_BIN && o->via.bin.size == len;
}

static int is_uint(const msgpack_object *o)
{
	return o->type == MSGPACK_OBJECT_POSITIVE_INTEGER;
}

/* Range checks shared by the decoder and the encoder. */
static int check_fields(const struct veld_op_header *h)
{
	if (h->version != VELD_OP_VERSION)
		return VELD_EVERSION;
	if (h->seq < 1 || h->seq > VELD_SEQ_MAX)
		return VELD_ESEQ;
	if ((h->seq == 1) != !h->has_prev)
		return VELD_EPREV;
	if (h->kind < 1 || h->kind > VELD_KIND_MAX)
		return VELD_EKIND;
	if (h->body_len > VELD_BODY_MAX)
		return VELD_EBODYLEN;
	return 0;
}

static int header_from_obj(const msgpack_object *o, struct veld_op_header *h)
{
	const msgpack_object *f;

	if (o->type != MSGPACK_OBJECT_ARRAY || o->via.array.size < 1)
		return VELD_EHDRSHAPE;
	f = o->via.array.ptr;
	/* Version first: a later version may have another shape. */
	if (!is_uint(&f[VELD_H_VERSION]) ||
	    f[VELD_H_VERSION].via.u64 != VELD_OP_VERSION)
		return VELD_EVERSION;
	if (o->via.array.size != VELD_H_COUNT)
		return VELD_EHDRSHAPE;
	h->version = f[VELD_H_VERSION].via.u64;

	if (!is_bin(&f[VELD_H_AUTHOR], VELD_PK_LEN))
		return VELD_EAUTHOR;
	memcpy(h->author, f[VELD_H_AUTHOR].via.bin.ptr, VELD_PK_LEN);

	if (!is_uint(&f[VELD_H_SEQ]))
		return VELD_ESEQ;
	h->seq = f[VELD_H_SEQ].via.u64;

	if (f[VELD_H_PREV].type == MSGPACK_OBJECT_NIL) {
		h->has_prev = 0;
		memset(h->prev, 0, VELD_HASH_LEN);
	} else if (is_bin(&f[VELD_H_PREV], VELD_HASH_LEN)) {
		h->has_prev = 1;
		memcpy(h->prev, f[VELD_H_PREV].via.bin.ptr, VELD_HASH_LEN);
	} else {
		return VELD_EPREV;
	}

	if (!is_uint(&f[VELD_H_HLC]))
		return VELD_EHLC;
	h->hlc = f[VELD_H_HLC].via.u64;

	if (!is_bin(&f[VELD_H_RECORD], VELD_RECORD_LEN))
		return VELD_ERECORD;
	memcpy(h->record, f[VELD_H_RECORD].via.bin.ptr, VELD_RECORD_LEN);

	if (!is_uint(&f[VELD_H_KIND]))
		return VELD_EKIND;
	h->kind = f[VELD_H_KIND].via.u64;

	if (!is_uint(&f[VELD_H_BODY_LEN]))
		return VELD_EBODYLEN;
	h->body_len = f[VELD_H_BODY_LEN].via.u64;

	if (!is_bin(&f[VELD_H_BODY_HASH], VELD_HASH_LEN))
		return VELD_EBODYHASHLEN;
	memcpy(h->body_hash, f[VELD_H_BODY_HASH].via.bin.ptr, VELD_HASH_LEN);

	return check_fields(h);
}

/*
 * The fast path of veld_op_header_decode: every header veldwerk writes has
 * one shape, a fixarray of 9 whose uints are in msgpack-c's shortest form
 * and whose bins are bin 8.  Read that shape straight from the bytes, with
 * no msgpack zone and no tree: 1 and *h filled if buf is exactly that and
 * its fields pass check_fields(), else 0 and the full decoder decides (and
 * says what is wrong).  What it accepts is thus what the full decoder
 * accepts, with the same fields: the canonical encoding of a valid header
 * (test_op checks that encoding *h again gives buf).
 */
struct hdr_reader {
	const uint8_t *p, *end;
};

/* A uint in its shortest form: below 0x80 a fixint, else the narrowest
 * of uint 8, 16, 32, 64 that holds it. */
static int read_uint(struct hdr_reader *r, uint64_t *v)
{
	uint64_t min;
	size_t n;

	if (r->p >= r->end)
		return 0;
	if (*r->p < 0x80) {
		*v = *r->p++;
		return 1;
	}
	switch (*r->p) {
	case 0xcc:
		n = 1;
		min = 0x80;
		break;
	case 0xcd:
		n = 2;
		min = 0x100;
		break;
	case 0xce:
		n = 4;
		min = 0x10000;
		break;
	case 0xcf:
		n = 8;
		min = 0x100000000;
		break;
	default:
		return 0;
	}
	if ((size_t)(r->end - r->p) < 1 + n)
		return 0;
	*v = 0;
	for (size_t i = 1; i <= n; i++)
		*v = (*v << 8) | r->p[i];
	if (*v < min)
		return 0;
	r->p += 1 + n;
	return 1;
}

/* bin 8 of exactly n bytes (n < 256) into out */
static int read_bin(struct hdr_reader *r, uint8_t *out, size_t n)
{
	if ((size_t)(r->end - r->p) < 2 + n || r->p[0] != 0xc4 || r->p[1] != n)
		return 0;
	memcpy(out, r->p + 2, n);
	r->p += 2 + n;
	return 1;
}

static int header_fast(const uint8_t *buf, size_t len, struct veld_op_header *h)
{
	struct hdr_reader r = {buf, buf + len};

	if (len < 1 || *r.p++ != 0x90 + VELD_H_COUNT)
		return 0;
	if (!read_uint(&r, &h->version) ||
	    !read_bin(&r, h->author, VELD_PK_LEN) || !read_uint(&r, &h->seq))
		return 0;
	if (r.p < r.end && *r.p == 0xc0) {
		r.p++;
		h->has_prev = 0;
		memset(h->prev, 0, VELD_HASH_LEN);
	} else if (read_bin(&r, h->prev, VELD_HASH_LEN)) {
		h->has_prev = 1;
	} else {
		return 0;
	}
	return read_uint(&r, &h->hlc) &&
	       read_bin(&r, h->record, VELD_RECORD_LEN) &&
	       read_uint(&r, &h->kind) && read_uint(&r, &h->body_len) &&
	       read_bin(&r, h->body_hash, VELD_HASH_LEN) && r.p == r.end &&
	       check_fields(h) == 0;
}

int veld_op_header_decode(const uint8_t *buf, size_t len,
			  struct veld_op_header *h)
{
	msgpack_unpacked u;
	int rc;

	if (len > VELD_HEADER_MAX)
		return VELD_EHDRSIZE;
	if (buf && header_fast(buf, len, h))
		return 0;
	msgpack_unpacked_init(&u);
	rc = veld_canon_decode(buf, len, &u);
	if (rc == 0)
		rc = header_from_obj(&u.data, h);
	msgpack_unpacked_destroy(&u);
	return rc;
}

int veld_op_header_encode(const struct veld_op_header *h, struct veld_buf *out)
{
	size_t start = out->len;
	msgpack_packer pk;
	int rc = check_fields(h);

	if (rc < 0)
		return rc;
	veld_buf_packer_init(&pk, out);
	if (msgpack_pack_array(&pk, VELD_H_COUNT) < 0 ||
	    msgpack_pack_uint64(&pk, h->version) < 0 ||
	    msgpack_pack_bin_with_body(&pk, h->author, VELD_PK_LEN) < 0 ||
	    msgpack_pack_uint64(&pk, h->seq) < 0 ||
	    (h->has_prev
		     ? msgpack_pack_bin_with_body(&pk, h->prev, VELD_HASH_LEN)
		     : msgpack_pack_nil(&pk)) < 0 ||
	    msgpack_pack_uint64(&pk, h->hlc) < 0 ||
	    msgpack_pack_bin_with_body(&pk, h->record, VELD_RECORD_LEN) < 0 ||
	    msgpack_pack_uint64(&pk, h->kind) < 0 ||
	    msgpack_pack_uint64(&pk, h->body_len) < 0 ||
	    msgpack_pack_bin_with_body(&pk, h->body_hash, VELD_HASH_LEN) < 0) {
		rc = out->err ? out->err : VELD_ENOMEM;
		out->len = start;
		out->err = 0;
		return rc;
	}
	return 0;
}

int veld_body_open(const uint8_t *body, size_t len, msgpack_unpacked *u)
{
	const msgpack_object *o;
	int rc;

	if (len > VELD_BODY_MAX)
		return VELD_EBODYSIZE;
	rc = veld_canon_decode(body, len, u);
	if (rc == 0) {
		o = &u->data;
		if (o->type != MSGPACK_OBJECT_ARRAY || o->via.array.size != 2 ||
		    !is_bin(&o->via.array.ptr[0], VELD_SALT_LEN))
			rc = VELD_EBODYSHAPE;
	}
	return rc;
}

int veld_body_check(const uint8_t *body, size_t len)
{
	msgpack_unpacked u;
	int rc;

	msgpack_unpacked_init(&u);
	rc = veld_body_open(body, len, &u);
	msgpack_unpacked_destroy(&u);
	return rc;
}

/* The envelope may carry a body bin larger than VELD_STR_MAX. */
static const struct veld_canon_limits envelope_limits = {1, 3, VELD_BODY_MAX};

int veld_op_decode(const uint8_t *buf, size_t len, struct veld_op *op)
{
	msgpack_unpacked u;
	const msgpack_object *e;
	uint8_t hash[VELD_HASH_LEN];
	int rc;

	memset(op, 0, sizeof(*op));
	if (len > VELD_OP_MAX)
		return VELD_EOPSIZE;
	msgpack_unpacked_init(&u);
	rc = veld_canon_decode_limits(buf, len, &envelope_limits, &u);
	if (rc < 0)
		goto out;

	if (u.data.type != MSGPACK_OBJECT_ARRAY || u.data.via.array.size != 3) {
		rc = VELD_EOPSHAPE;
		goto out;
	}
	e = u.data.via.array.ptr;
	if (e[0].type != MSGPACK_OBJECT_BIN ||
	    e[1].type != MSGPACK_OBJECT_BIN ||
	    (e[2].type != MSGPACK_OBJECT_BIN &&
	     e[2].type != MSGPACK_OBJECT_NIL)) {
		rc = VELD_EOPSHAPE;
		goto out;
	}
	if (e[0].via.bin.size > VELD_HEADER_MAX) {
		rc = VELD_EHDRSIZE;
		goto out;
	}
	/* bin(0): no own signature; a later op of the run vouches (§13.1) */
	if (e[1].via.bin.size != VELD_SIG_LEN && e[1].via.bin.size != 0) {
		rc = VELD_ESIGLEN;
		goto out;
	}
	if (e[2].type == MSGPACK_OBJECT_BIN &&
	    e[2].via.bin.size > VELD_BODY_MAX) {
		rc = VELD_EBODYSIZE;
		goto out;
	}

	op->header = (const uint8_t *)e[0].via.bin.ptr;
	op->header_len = e[0].via.bin.size;
	op->sig = e[1].via.bin.size ? (const uint8_t *)e[1].via.bin.ptr : NULL;
	rc = veld_op_header_decode(op->header, op->header_len, &op->h);
	if (rc < 0)
		goto out;
	veld_op_id(op->header, op->header_len, op->id);

	if (e[2].type == MSGPACK_OBJECT_BIN) {
		op->body = (const uint8_t *)e[2].via.bin.ptr;
		op->body_len = e[2].via.bin.size;
		if (op->body_len != op->h.body_len) {
			rc = VELD_EBODYMISMATCH;
			goto out;
		}
		veld_body_hash(op->body, op->body_len, hash);
		if (sodium_memcmp(hash, op->h.body_hash, VELD_HASH_LEN) != 0) {
			rc = VELD_EBODYHASH;
			goto out;
		}
		rc = veld_body_check(op->body, op->body_len);
	}
out:
	msgpack_unpacked_destroy(&u);
	if (rc < 0)
		memset(op, 0, sizeof(*op));
	return rc;
}

int veld_op_verify(const struct veld_op *op)
{
	struct sig_msg m;

	if (!op->header || op->header_len > VELD_HEADER_MAX)
		return VELD_EINVAL;
	if (!op->sig)
		return VELD_ESIG; /* none of its own */
	sig_msg_init(&m, op->header, op->header_len);
	if (crypto_sign_verify_detached(op->sig, m.bytes, m.len,
					op->h.author) != 0)
		return VELD_ESIG;
	return 0;
}

int veld_op_frame_at(const uint8_t *header, size_t header_len,
		     const uint8_t sig[VELD_SIG_LEN], const uint8_t *body,
		     size_t body_len, struct veld_buf *out,
		     struct veld_op_at *at)
{
	size_t start = out->len, sig_len = sig ? VELD_SIG_LEN : 0;
	msgpack_packer pk;
	int rc;

	veld_buf_packer_init(&pk, out);
	if (msgpack_pack_array(&pk, 3) < 0 ||
	    msgpack_pack_bin(&pk, header_len) < 0)
		goto fail;
	at->header = out->len;
	if (msgpack_pack_bin_body(&pk, header, header_len) < 0 ||
	    msgpack_pack_bin(&pk, sig_len) < 0)
		goto fail;
	at->sig = out->len;
	if (msgpack_pack_bin_body(&pk, sig, sig_len) < 0)
		goto fail;
	if (!body)
		rc = msgpack_pack_nil(&pk);
	else if ((rc = msgpack_pack_bin(&pk, body_len)) == 0) {
		at->body = out->len;
		rc = msgpack_pack_bin_body(&pk, body, body_len);
	}
	if (rc == 0)
		return 0;
fail:
	rc = out->err ? out->err : VELD_ENOMEM;
	out->len = start;
	out->err = 0;
	return rc;
}

int veld_op_frame(const uint8_t *header, size_t header_len,
		  const uint8_t sig[VELD_SIG_LEN], const uint8_t *body,
		  size_t body_len, struct veld_buf *out)
{
	struct veld_op_at at;

	return veld_op_frame_at(header, header_len, sig, body, body_len, out,
				&at);
}

int veld_op_create(const struct veld_key *key, struct veld_op_header *h,
		   const uint8_t *body, size_t body_len, struct veld_buf *out,
		   uint8_t id[VELD_HASH_LEN])
{
	struct veld_buf hdr;
	uint8_t sig[VELD_SIG_LEN];
	struct sig_msg m;
	int rc;

	rc = veld_body_check(body, body_len);
	if (rc < 0)
		return rc;
	h->version = VELD_OP_VERSION;
	memcpy(h->author, key->pk, VELD_PK_LEN);
	h->body_len = body_len;
	veld_body_hash(body, body_len, h->body_hash);

	veld_buf_init(&hdr, VELD_HEADER_MAX);
	rc = veld_op_header_encode(h, &hdr);
	if (rc < 0) {
		rc = rc == VELD_ETOOBIG ? VELD_EHDRSIZE : rc;
		goto out;
	}
	sig_msg_init(&m, hdr.data, hdr.len);
	crypto_sign_detached(sig, NULL, m.bytes, m.len, key->sk);
	rc = veld_op_frame(hdr.data, hdr.len, sig, body, body_len, out);
	if (rc == 0 && id)
		veld_op_id(hdr.data, hdr.len, id);
out:
	veld_buf_release(&hdr);
	return rc;
}
