/*
 * msg.c - encode and decode the veld.4 sync messages; see msg.h and
 * docs/protocol.md Part 2.
 */
#include "msg.h"

#include <string.h>

#include <sodium.h>

#include "canon.h"
#include "err.h"

/* One flat array; the longest bin is a PUSH's or OPS's runs block. */
static const struct veld_canon_limits msg_limits = {1, 8, VELD_MSG_MAX};

const char *veld_msg_name(int type)
{
	static const char *const names[] = {
		NULL,	   "HELLO", "AUTH", "ENROL", "WELCOME", "PUSH",
		"RECEIPT", "PULL",  "OPS",  "ACK",   "ERROR"};

	if (type >= VELD_MSG_HELLO && type <= VELD_MSG_ERROR)
		return names[type];
	return "unknown";
}

static int is_bin(const msgpack_object *o, uint32_t n)
{
	return o->type == MSGPACK_OBJECT_BIN && o->via.bin.size == n;
}

static int is_uint(const msgpack_object *o)
{
	return o->type == MSGPACK_OBJECT_POSITIVE_INTEGER;
}

static int get_str(const msgpack_object *o, size_t min, size_t max,
		   const char **p, size_t *n)
{
	if (o->type != MSGPACK_OBJECT_STR || o->via.str.size < min ||
	    o->via.str.size > max)
		return 0;
	*p = o->via.str.ptr;
	*n = o->via.str.size;
	return 1;
}

static int get_runs(const msgpack_object *o, struct veld_msg *m)
{
	if (o->type != MSGPACK_OBJECT_BIN)
		return 0;
	m->runs = (const uint8_t *)o->via.bin.ptr;
	m->runs_len = o->via.bin.size;
	return 1;
}

/* Fill m from the decoded array a of n elements; 1 if the shape fits. */
static int shape(struct veld_msg *m, const msgpack_object *a, uint32_t n)
{
	switch (m->type) {
	case VELD_MSG_HELLO:
		if (n != 4 || !is_uint(&a[1]) || !is_bin(&a[2], 32) ||
		    !is_bin(&a[3], VELD_NONCE_LEN))
			return 0;
		m->version = a[1].via.u64;
		m->key = (const uint8_t *)a[2].via.bin.ptr;
		m->nonce = (const uint8_t *)a[3].via.bin.ptr;
		return 1;
	case VELD_MSG_AUTH:
		if (n != 3 || !is_bin(&a[1], 32) || !is_bin(&a[2], 64))
			return 0;
		m->key = (const uint8_t *)a[1].via.bin.ptr;
		m->sig = (const uint8_t *)a[2].via.bin.ptr;
		return 1;
	case VELD_MSG_ENROL:
		if (n != 5 || !is_bin(&a[1], 32) || !is_bin(&a[4], 64) ||
		    !get_str(&a[2], 1, VELD_CODE_MAX, &m->code, &m->code_len) ||
		    !get_str(&a[3], 1, 64, &m->name, &m->name_len))
			return 0;
		m->key = (const uint8_t *)a[1].via.bin.ptr;
		m->sig = (const uint8_t *)a[4].via.bin.ptr;
		return 1;
	case VELD_MSG_WELCOME:
		if (n != 5 || !get_str(&a[1], 1, 64, &m->role, &m->role_len) ||
		    !get_str(&a[2], 1, 64, &m->name, &m->name_len) ||
		    !is_uint(&a[4]))
			return 0;
		if (a[3].type != MSGPACK_OBJECT_NIL &&
		    !get_str(&a[3], 1, 64, &m->area, &m->area_len))
			return 0;
		m->seq = a[4].via.u64;
		return 1;
	case VELD_MSG_PUSH:
		if (n != 3 || !is_uint(&a[1]) || !get_runs(&a[2], m))
			return 0;
		m->batch = a[1].via.u64;
		return 1;
	case VELD_MSG_RECEIPT:
		if (n != 5 || !is_uint(&a[1]) || !is_uint(&a[2]) ||
		    !is_bin(&a[3], VELD_HASH_LEN) || !is_bin(&a[4], 64))
			return 0;
		m->batch = a[1].via.u64;
		m->seq = a[2].via.u64;
		m->head = (const uint8_t *)a[3].via.bin.ptr;
		m->sig = (const uint8_t *)a[4].via.bin.ptr;
		return 1;
	case VELD_MSG_PULL:
	case VELD_MSG_ACK:
		if (n != 2 || !is_uint(&a[1]))
			return 0;
		m->cursor = a[1].via.u64;
		return 1;
	case VELD_MSG_OPS:
		if (n != 4 || !get_runs(&a[1], m) || !is_uint(&a[2]) ||
		    a[3].type != MSGPACK_OBJECT_BOOLEAN)
			return 0;
		m->cursor = a[2].via.u64;
		m->more = a[3].via.boolean;
		return 1;
	case VELD_MSG_ERROR:
		if (n != 4 || a[3].type != MSGPACK_OBJECT_BOOLEAN ||
		    !get_str(&a[2], 0, VELD_TEXT_MAX, &m->text, &m->text_len))
			return 0;
		if (a[1].type == MSGPACK_OBJECT_NEGATIVE_INTEGER)
			m->err = a[1].via.i64;
		else if (!is_uint(&a[1]) || a[1].via.u64 != 0)
			return 0;
		m->fatal = a[3].via.boolean;
		return 1;
	}
	return 0;
}

int veld_msg_decode(const uint8_t *buf, size_t len, struct veld_msg *m)
{
	const msgpack_object *a;
	int rc;

	memset(m, 0, sizeof(*m));
	msgpack_unpacked_init(&m->u);
	if (len > VELD_MSG_MAX)
		return VELD_EMSGSIZE;
	rc = veld_canon_decode_limits(buf, len, &msg_limits, &m->u);
	if (rc < 0)
		return rc;
	if (m->u.data.type != MSGPACK_OBJECT_ARRAY ||
	    m->u.data.via.array.size < 1 ||
	    !is_uint(&m->u.data.via.array.ptr[0]))
		return VELD_EMSGSHAPE;
	a = m->u.data.via.array.ptr;
	if (a[0].via.u64 < VELD_MSG_HELLO || a[0].via.u64 > VELD_MSG_ERROR)
		return VELD_EMSGTYPE;
	m->type = (int)a[0].via.u64;
	return shape(m, a, m->u.data.via.array.size) ? 0 : VELD_EMSGSHAPE;
}

void veld_msg_release(struct veld_msg *m)
{
	msgpack_unpacked_destroy(&m->u);
	veld_runs_release(&m->rs);
}

int veld_msg_open_runs(struct veld_msg *m)
{
	size_t max = m->type == VELD_MSG_PUSH ? VELD_BATCH_MAX : VELD_OPS_MAX;
	int rc;

	if (m->type != VELD_MSG_PUSH && m->type != VELD_MSG_OPS)
		return VELD_EINVAL;
	veld_runs_release(&m->rs);
	rc = veld_runs_decode(m->runs, m->runs_len, max, &m->rs);
	if (rc == 0 && m->type == VELD_MSG_PUSH && m->rs.n == 0)
		rc = VELD_EMSGSHAPE; /* a PUSH carries at least one op */
	m->ops = rc == 0 ? m->rs.ops : NULL;
	m->nops = rc == 0 ? m->rs.n : 0;
	return rc;
}

/* Start a message: remember where it began so a failure leaves out as it
 * was. */
struct enc {
	struct veld_buf *out;
	size_t start;
	msgpack_packer pk;
};

static void enc_begin(struct enc *e, struct veld_buf *out, int type, size_t n)
{
	e->out = out;
	e->start = out->len;
	out->err = 0;
	veld_buf_packer_init(&e->pk, out);
	msgpack_pack_array(&e->pk, n);
	msgpack_pack_uint8(&e->pk, (uint8_t)type);
}

static int enc_end(struct enc *e)
{
	int rc = e->out->err;

	if (rc) {
		e->out->len = e->start;
		e->out->err = 0;
	}
	return rc;
}

static void pack_str(msgpack_packer *pk, const char *s)
{
	msgpack_pack_str_with_body(pk, s, strlen(s));
}

/* prefix || a || b || c, signed or verified as one message. */
struct proof {
	uint8_t bytes[32 + 32 + 32 + 8 + VELD_CODE_MAX + 16];
	size_t len;
};

static void proof_add(struct proof *p, const void *x, size_t n)
{
	memcpy(p->bytes + p->len, x, n);
	p->len += n;
}

static void proof_init(struct proof *p, const char *ds, size_t ds_len,
		       const uint8_t server_key[32], const uint8_t *nonce)
{
	p->len = 0;
	proof_add(p, ds, ds_len);
	proof_add(p, server_key, 32);
	if (nonce)
		proof_add(p, nonce, VELD_NONCE_LEN);
}

int veld_msg_hello(struct veld_buf *out, const uint8_t server_key[32],
		   const uint8_t nonce[VELD_NONCE_LEN])
{
	struct enc e;

	enc_begin(&e, out, VELD_MSG_HELLO, 4);
	msgpack_pack_uint8(&e.pk, VELD_PROTO_VERSION);
	msgpack_pack_bin_with_body(&e.pk, server_key, 32);
	msgpack_pack_bin_with_body(&e.pk, nonce, VELD_NONCE_LEN);
	return enc_end(&e);
}

int veld_msg_auth(struct veld_buf *out, const struct veld_key *device,
		  const uint8_t server_key[32],
		  const uint8_t nonce[VELD_NONCE_LEN])
{
	struct proof p;
	uint8_t sig[64];
	struct enc e;

	proof_init(&p, VELD_DS_AUTH, sizeof(VELD_DS_AUTH), server_key, nonce);
	crypto_sign_detached(sig, NULL, p.bytes, p.len, device->sk);
	enc_begin(&e, out, VELD_MSG_AUTH, 3);
	msgpack_pack_bin_with_body(&e.pk, device->pk, 32);
	msgpack_pack_bin_with_body(&e.pk, sig, 64);
	return enc_end(&e);
}

int veld_msg_enrol(struct veld_buf *out, const struct veld_key *device,
		   const uint8_t server_key[32],
		   const uint8_t nonce[VELD_NONCE_LEN], const char *code,
		   const char *name)
{
	size_t code_len = strlen(code);
	struct proof p;
	uint8_t sig[64];
	struct enc e;

	if (code_len < 1 || code_len > VELD_CODE_MAX || !*name ||
	    strlen(name) > 64)
		return VELD_EINVAL;
	proof_init(&p, VELD_DS_ENROL, sizeof(VELD_DS_ENROL), server_key, nonce);
	proof_add(&p, code, code_len);
	crypto_sign_detached(sig, NULL, p.bytes, p.len, device->sk);
	enc_begin(&e, out, VELD_MSG_ENROL, 5);
	msgpack_pack_bin_with_body(&e.pk, device->pk, 32);
	pack_str(&e.pk, code);
	pack_str(&e.pk, name);
	msgpack_pack_bin_with_body(&e.pk, sig, 64);
	return enc_end(&e);
}

int veld_msg_verify_proof(const struct veld_msg *m,
			  const uint8_t server_key[32],
			  const uint8_t nonce[VELD_NONCE_LEN])
{
	struct proof p;

	if (m->type == VELD_MSG_AUTH) {
		proof_init(&p, VELD_DS_AUTH, sizeof(VELD_DS_AUTH), server_key,
			   nonce);
	} else if (m->type == VELD_MSG_ENROL) {
		proof_init(&p, VELD_DS_ENROL, sizeof(VELD_DS_ENROL), server_key,
			   nonce);
		proof_add(&p, m->code, m->code_len);
	} else {
		return VELD_EINVAL;
	}
	if (crypto_sign_verify_detached(m->sig, p.bytes, p.len, m->key) != 0)
		return VELD_EAUTH;
	return 0;
}

int veld_msg_welcome(struct veld_buf *out, const char *role, const char *name,
		     const char *area, uint64_t your_seq)
{
	struct enc e;

	enc_begin(&e, out, VELD_MSG_WELCOME, 5);
	pack_str(&e.pk, role);
	pack_str(&e.pk, name);
	if (area)
		pack_str(&e.pk, area);
	else
		msgpack_pack_nil(&e.pk);
	msgpack_pack_uint64(&e.pk, your_seq);
	return enc_end(&e);
}

/* Pack ops (envelopes, or dec: decoded) as one bin: the compressed runs
 * block. */
static void pack_runs(struct enc *e, const struct veld_bytes *ops,
		      const struct veld_op *dec, size_t n,
		      const struct veld_salt_source *src)
{
	struct veld_buf z;
	int rc;

	veld_buf_init(&z, VELD_MSG_MAX);
	rc = dec ? veld_runs_encode_ops(dec, n, VELD_RUNS_LEVEL, src, &z)
		 : veld_runs_encode(ops, n, VELD_RUNS_LEVEL, &z);
	/* The message grows by the block at once, not by doubling. */
	if (rc == 0)
		rc = veld_buf_reserve(e->out, z.len + 16);
	if (rc == 0)
		msgpack_pack_bin_with_body(&e->pk, z.data, z.len);
	else if (!e->out->err)
		e->out->err = rc;
	veld_buf_release(&z);
}

static int msg_push(struct veld_buf *out, uint64_t batch,
		    const struct veld_bytes *ops, const struct veld_op *dec,
		    size_t n, const struct veld_salt_source *src)
{
	struct enc e;

	if (n < 1 || n > VELD_BATCH_MAX)
		return VELD_EINVAL;
	enc_begin(&e, out, VELD_MSG_PUSH, 3);
	msgpack_pack_uint64(&e.pk, batch);
	pack_runs(&e, ops, dec, n, src);
	return enc_end(&e);
}

int veld_msg_push(struct veld_buf *out, uint64_t batch,
		  const struct veld_bytes *ops, size_t n)
{
	return msg_push(out, batch, ops, NULL, n, NULL);
}

int veld_msg_push_decoded(struct veld_buf *out, uint64_t batch,
			  const struct veld_op *ops, size_t n,
			  const struct veld_salt_source *src)
{
	return msg_push(out, batch, NULL, ops, n, src);
}

static void receipt_proof(struct proof *p, const uint8_t server_key[32],
			  const uint8_t device_key[32], uint64_t seq,
			  const uint8_t head[VELD_HASH_LEN])
{
	uint8_t be[8];

	for (int i = 0; i < 8; i++)
		be[i] = (uint8_t)(seq >> (56 - 8 * i));
	proof_init(p, VELD_DS_RECEIPT, sizeof(VELD_DS_RECEIPT), server_key,
		   NULL);
	proof_add(p, device_key, 32);
	proof_add(p, be, 8);
	proof_add(p, head, VELD_HASH_LEN);
}

int veld_msg_receipt(struct veld_buf *out, const struct veld_key *server,
		     const uint8_t device_key[32], uint64_t batch, uint64_t seq,
		     const uint8_t head[VELD_HASH_LEN])
{
	struct proof p;
	uint8_t sig[64];
	struct enc e;

	receipt_proof(&p, server->pk, device_key, seq, head);
	crypto_sign_detached(sig, NULL, p.bytes, p.len, server->sk);
	enc_begin(&e, out, VELD_MSG_RECEIPT, 5);
	msgpack_pack_uint64(&e.pk, batch);
	msgpack_pack_uint64(&e.pk, seq);
	msgpack_pack_bin_with_body(&e.pk, head, VELD_HASH_LEN);
	msgpack_pack_bin_with_body(&e.pk, sig, 64);
	return enc_end(&e);
}

int veld_msg_verify_receipt(const struct veld_msg *m,
			    const uint8_t server_key[32],
			    const uint8_t device_key[32])
{
	struct proof p;

	if (m->type != VELD_MSG_RECEIPT)
		return VELD_EINVAL;
	receipt_proof(&p, server_key, device_key, m->seq, m->head);
	if (crypto_sign_verify_detached(m->sig, p.bytes, p.len, server_key))
		return VELD_ESIG;
	return 0;
}

int veld_msg_pull(struct veld_buf *out, uint64_t cursor)
{
	struct enc e;

	enc_begin(&e, out, VELD_MSG_PULL, 2);
	msgpack_pack_uint64(&e.pk, cursor);
	return enc_end(&e);
}

static int msg_ops(struct veld_buf *out, const struct veld_bytes *ops,
		   const struct veld_op *dec, size_t n, uint64_t cursor,
		   int more, const struct veld_salt_source *src)
{
	struct enc e;

	if (n > VELD_OPS_MAX)
		return VELD_EINVAL;
	enc_begin(&e, out, VELD_MSG_OPS, 4);
	pack_runs(&e, ops, dec, n, src);
	msgpack_pack_uint64(&e.pk, cursor);
	if (more)
		msgpack_pack_true(&e.pk);
	else
		msgpack_pack_false(&e.pk);
	return enc_end(&e);
}

int veld_msg_ops(struct veld_buf *out, const struct veld_bytes *ops, size_t n,
		 uint64_t cursor, int more)
{
	return msg_ops(out, ops, NULL, n, cursor, more, NULL);
}

int veld_msg_ops_decoded(struct veld_buf *out, const struct veld_op *ops,
			 size_t n, uint64_t cursor, int more,
			 const struct veld_salt_source *src)
{
	return msg_ops(out, NULL, ops, n, cursor, more, src);
}

int veld_msg_ack(struct veld_buf *out, uint64_t cursor)
{
	struct enc e;

	enc_begin(&e, out, VELD_MSG_ACK, 2);
	msgpack_pack_uint64(&e.pk, cursor);
	return enc_end(&e);
}

int veld_msg_error(struct veld_buf *out, int err, const char *text, int fatal)
{
	size_t n = strlen(text);
	struct enc e;

	if (n > VELD_TEXT_MAX)
		n = VELD_TEXT_MAX; /* may cut a UTF-8 sequence: keep ASCII */
	enc_begin(&e, out, VELD_MSG_ERROR, 4);
	msgpack_pack_int64(&e.pk, err > 0 ? 0 : err);
	msgpack_pack_str_with_body(&e.pk, text, n);
	if (fatal)
		msgpack_pack_true(&e.pk);
	else
		msgpack_pack_false(&e.pk);
	return enc_end(&e);
}
