/*
 * mkseeds.c - write the seed corpora of fuzz_msg and fuzz_session.
 *
 *	mkseeds DIR      writes the files of DIR/msg/ and DIR/session/
 *
 * The seeds are made with msg.h's encoders (and, for fuzz_session, in that
 * target's script format), not typed in as bytes, so that after a change
 * to the wire format running this again gives seeds that are valid again.
 * tests/fuzz/corpus/ holds its output; see README.md.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <sodium.h>

#include "buf.h"
#include "err.h"
#include "hlc.h"
#include "msg.h"
#include "runs.h"
#include "salts.h"

static const char *top;

static void die(const char *what)
{
	fprintf(stderr, "mkseeds: %s\n", what);
	exit(1);
}

static void save(const char *sub, const char *name, const void *p, size_t n)
{
	char path[512];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", top, sub);
	if (mkdir(path, 0755) && errno != EEXIST)
		die("cannot make a corpus directory");
	snprintf(path, sizeof(path), "%s/%s/%s", top, sub, name);
	f = fopen(path, "wb");
	if (!f || fwrite(p, 1, n, f) != n || fclose(f))
		die("cannot write a seed");
}

static void key(struct veld_key *k, uint8_t fill)
{
	uint8_t seed[VELD_SEED_LEN];

	memset(seed, fill, sizeof(seed));
	veld_key_from_seed(k, seed);
}

static void str(msgpack_packer *pk, const char *s)
{
	msgpack_pack_str_with_body(pk, s, strlen(s));
}

/* One signed put op by k, for the PUSH and OPS seeds. */
static void make_op(const struct veld_key *k, struct veld_buf *out)
{
	struct veld_op_header h;
	struct veld_buf body;
	msgpack_packer pk;
	uint8_t salt[VELD_SALT_LEN] = {0}, id[VELD_HASH_LEN];

	memset(&h, 0, sizeof(h));
	h.seq = 1;
	h.hlc = VELD_HLC_MAKE(UINT64_C(1767225600000), 0);
	memset(h.record, 0xa1, sizeof(h.record));
	h.kind = VELD_KIND_PUT;
	veld_buf_init(&body, VELD_BODY_MAX);
	veld_buf_packer_init(&pk, &body);
	veld_body_begin(&pk, salt);
	msgpack_pack_map(&pk, 1);
	str(&pk, "set");
	msgpack_pack_map(&pk, 1);
	str(&pk, "wish");
	str(&pk, "bankjes");
	veld_buf_init(out, VELD_OP_MAX);
	if (veld_op_create(k, &h, body.data, body.len, out, id))
		die("cannot make an op");
	veld_buf_release(&body);
}

/* The salt tree of the chains (salts.h): their salts are its leaves. */
static struct veld_salt_node tree_root = {0, 0, {0x5a, 0x5a, 0x5a, 0x5a}};

static int tree_source(void *ctx, const uint8_t author[VELD_PK_LEN],
		       uint64_t lo, uint64_t hi, struct veld_salt_set *out)
{
	(void)ctx;
	(void)author;
	(void)lo;
	(void)hi;
	return veld_salt_set_add(out, &tree_root);
}

/*
 * A chain of n ops by k (seq 1..n, clocks up then one step down, records
 * a, b, a, ... so that the runs block refers back to a record), framed as
 * they travel; op erase (if < n) without its body, as an erased op.  Each
 * salt is leaf seq of tree_root.
 */
static void make_chain(const struct veld_key *k, size_t n, size_t erase,
		       struct veld_buf *out)
{
	uint8_t salt[VELD_SALT_LEN] = {0}, id[VELD_HASH_LEN];
	struct veld_op_header h;

	memset(&h, 0, sizeof(h));
	for (size_t i = 0; i < n; i++) {
		struct veld_buf body, one;
		struct veld_op d;
		msgpack_packer pk;

		h.seq = i + 1;
		h.has_prev = i > 0;
		if (i)
			memcpy(h.prev, id, VELD_HASH_LEN);
		h.hlc = VELD_HLC_MAKE(UINT64_C(1767225600000) + 1000 * i,
				      i == 2 ? 0 : 5);
		memset(h.record, i % 2 ? 0xb2 : 0xa1, sizeof(h.record));
		h.kind = VELD_KIND_PUT;
		veld_salt_derive(&tree_root, h.seq, salt);
		veld_buf_init(&body, VELD_BODY_MAX);
		veld_buf_packer_init(&pk, &body);
		veld_body_begin(&pk, salt);
		msgpack_pack_map(&pk, 1);
		str(&pk, "set");
		msgpack_pack_map(&pk, 1);
		str(&pk, "wish");
		str(&pk, i % 2 ? "bankjes" : "bomen");
		veld_buf_init(&one, VELD_OP_MAX);
		if (veld_op_create(k, &h, body.data, body.len, &one, id) ||
		    veld_op_decode(one.data, one.len, &d))
			die("cannot make a chain");
		veld_buf_init(&out[i], VELD_OP_MAX);
		if (veld_op_frame(d.header, d.header_len, d.sig,
				  i == erase ? NULL : d.body, d.body_len,
				  &out[i]))
			die("cannot frame a chain op");
		veld_buf_release(&one);
		veld_buf_release(&body);
	}
}

/*
 * Three ops by k that the runs block carries in its short forms: a put
 * creating a record with the derived id (records: nil), a put on it whose
 * pred names the first op, a delete whose seen names both (contents:
 * [bin] with op references).
 */
static void make_refchain(const struct veld_key *k, struct veld_buf *out)
{
	uint8_t salt[VELD_SALT_LEN] = {0}, id[3][VELD_HASH_LEN];
	struct veld_op_header h;

	memset(&h, 0, sizeof(h));
	veld_record_derive(k->pk, 1, h.record);
	for (size_t i = 0; i < 3; i++) {
		struct veld_buf body;
		msgpack_packer pk;

		h.seq = i + 1;
		h.has_prev = i > 0;
		if (i)
			memcpy(h.prev, id[i - 1], VELD_HASH_LEN);
		h.hlc = VELD_HLC_MAKE(UINT64_C(1767225600000) + 1000 * i, 0);
		h.kind = i == 2 ? VELD_KIND_DELETE : VELD_KIND_PUT;
		salt[0] = (uint8_t)(0x40 + i);
		veld_buf_init(&body, VELD_BODY_MAX);
		veld_buf_packer_init(&pk, &body);
		veld_body_begin(&pk, salt);
		if (i == 2) {
			msgpack_pack_map(&pk, 1);
			str(&pk, "seen");
			msgpack_pack_array(&pk, 2);
			msgpack_pack_bin_with_body(&pk, id[0], VELD_HASH_LEN);
			msgpack_pack_bin_with_body(&pk, id[1], VELD_HASH_LEN);
		} else {
			msgpack_pack_map(&pk, 2);
			if (i) {
				str(&pk, "pred");
				msgpack_pack_map(&pk, 1);
				str(&pk, "wish");
				msgpack_pack_array(&pk, 1);
				msgpack_pack_bin_with_body(&pk, id[0],
							   VELD_HASH_LEN);
			} else {
				str(&pk, "form");
				str(&pk, "huisbezoek");
			}
			str(&pk, "set");
			msgpack_pack_map(&pk, 1);
			str(&pk, "wish");
			str(&pk, i ? "bankjes" : "bomen");
		}
		veld_buf_init(&out[i], VELD_OP_MAX);
		if (veld_op_create(k, &h, body.data, body.len, &out[i], id[i]))
			die("cannot make a chain with references");
		veld_buf_release(&body);
	}
}

/* A PUSH or OPS whose runs block is deflate "stored" (not compressed). */
static int stored(struct veld_buf *b, int type, const struct veld_bytes *ops,
		  size_t n, const struct veld_salt_source *src)
{
	struct veld_op d[8];
	struct veld_buf z;
	msgpack_packer pk;
	int rc = n > 8 ? VELD_EINVAL : 0;

	for (size_t i = 0; rc == 0 && i < n; i++)
		rc = veld_op_decode(ops[i].p, ops[i].len, &d[i]);
	veld_buf_init(&z, VELD_MSG_MAX);
	if (rc == 0)
		rc = veld_runs_encode_ops(d, n, 0, src, &z);
	veld_buf_packer_init(&pk, b);
	msgpack_pack_array(&pk, type == VELD_MSG_PUSH ? 3 : 4);
	msgpack_pack_uint8(&pk, (uint8_t)type);
	if (type == VELD_MSG_PUSH)
		msgpack_pack_uint8(&pk, 3);
	msgpack_pack_bin_with_body(&pk, z.data, z.len);
	if (type == VELD_MSG_OPS) {
		msgpack_pack_uint8(&pk, 121);
		msgpack_pack_false(&pk);
	}
	veld_buf_release(&z);
	return rc ? rc : b->err;
}

static void msg_seeds(void)
{
	struct veld_salt_source tree = {tree_source, NULL};
	struct veld_key srv, dev;
	struct veld_buf b, op;
	struct veld_bytes ops[2];
	uint8_t nonce[VELD_NONCE_LEN], head[VELD_HASH_LEN];

	key(&srv, 0x53);
	key(&dev, 0x41);
	memset(nonce, 0x4e, sizeof(nonce));
	memset(head, 0x68, sizeof(head));
	make_op(&dev, &op);
	ops[0] = ops[1] = (struct veld_bytes){op.data, op.len};
	veld_buf_init(&b, VELD_MSG_MAX);
#define SEED(name, call)                                                       \
	do {                                                                   \
		veld_buf_reset(&b);                                            \
		if (call)                                                      \
			die("cannot encode " name);                            \
		save("msg", name, b.data, b.len);                              \
	} while (0)
	SEED("hello", veld_msg_hello(&b, srv.pk, nonce));
	SEED("auth", veld_msg_auth(&b, &dev, srv.pk, nonce));
	SEED("enrol", veld_msg_enrol(&b, &dev, srv.pk, nonce, "ABCDE-12345",
				     "tablet 3"));
	SEED("welcome", veld_msg_welcome(&b, "field", "Ahmed", "noord", 7));
	SEED("welcome_no_area",
	     veld_msg_welcome(&b, "coordinator", "Carla", NULL, 0));
	SEED("push", veld_msg_push(&b, 1, ops, 2));
	/* Runs: one author's chain (one run, one signature), an erased op,
	 * a record named again; then two authors in one OPS. */
	{
		struct veld_buf a[4], x[2];
		struct veld_bytes all[6];

		make_chain(&dev, 4, 1, a);
		make_chain(&srv, 2, 9, x);
		for (size_t i = 0; i < 4; i++)
			all[i] = (struct veld_bytes){a[i].data, a[i].len};
		for (size_t i = 0; i < 2; i++)
			all[4 + i] = (struct veld_bytes){x[i].data, x[i].len};
		SEED("push_run", veld_msg_push(&b, 2, all, 4));
		SEED("ops_runs", veld_msg_ops(&b, all, 6, 120, 0));
		/* The same, deflate "stored" (level 0): the fuzzer then mutates
		 * the runs block itself, not compressed bits. */
		SEED("push_run_stored",
		     stored(&b, VELD_MSG_PUSH, all, 4, NULL));
		SEED("ops_runs_stored", stored(&b, VELD_MSG_OPS, all, 6, NULL));
		/* Salts as nodes of the salt tree (§5.1): none over the
		 * erased op. */
		SEED("push_tree_stored",
		     stored(&b, VELD_MSG_PUSH, all, 4, &tree));
		SEED("ops_tree_stored",
		     stored(&b, VELD_MSG_OPS, all, 6, &tree));
		for (size_t i = 0; i < 4; i++)
			veld_buf_release(&a[i]);
		for (size_t i = 0; i < 2; i++)
			veld_buf_release(&x[i]);
	}
	/* Derived records and op references (runs.h): as sent, and stored
	 * so that the fuzzer mutates the references themselves. */
	{
		struct veld_buf a[3];
		struct veld_bytes all[3];

		make_refchain(&dev, a);
		for (size_t i = 0; i < 3; i++)
			all[i] = (struct veld_bytes){a[i].data, a[i].len};
		SEED("push_refs", veld_msg_push(&b, 4, all, 3));
		SEED("push_refs_stored",
		     stored(&b, VELD_MSG_PUSH, all, 3, NULL));
		for (size_t i = 0; i < 3; i++)
			veld_buf_release(&a[i]);
	}
	SEED("receipt", veld_msg_receipt(&b, &srv, dev.pk, 1, 7, head));
	SEED("pull", veld_msg_pull(&b, 12345));
	SEED("ops", veld_msg_ops(&b, ops, 1, 99, 1));
	SEED("ops_empty", veld_msg_ops(&b, ops, 0, 99, 0));
	SEED("ack", veld_msg_ack(&b, 99));
	SEED("error", veld_msg_error(&b, -5, "refused: op 3 of batch 2", 1));
	SEED("error_zero", veld_msg_error(&b, 0, "", 0));
#undef SEED
	veld_buf_release(&b);
	veld_buf_release(&op);
}

/* fuzz_session's script format (see fuzz_session.c). */
struct script {
	uint8_t bytes[4096];
	size_t len;
};

static void chunk(struct script *s, uint8_t tag, const void *p, size_t n)
{
	if (s->len + 3 + n > sizeof(s->bytes))
		die("script too long");
	s->bytes[s->len++] = tag;
	s->bytes[s->len++] = (uint8_t)(n >> 8);
	s->bytes[s->len++] = (uint8_t)n;
	if (n)
		memcpy(s->bytes + s->len, p, n);
	s->len += n;
}

/* Chunk 2: an op with seq mode, kind, record byte, clock hours and the
 * content packed by fill(). */
static void op_chunk(struct script *s, uint8_t mode, uint8_t kind,
		     uint8_t record, int8_t hours,
		     void (*fill)(msgpack_packer *pk))
{
	struct veld_buf b;
	msgpack_packer pk;
	uint8_t head[4] = {mode, kind, record, (uint8_t)hours};

	veld_buf_init(&b, 2048);
	if (veld_buf_append(&b, head, sizeof(head)))
		die("no memory");
	veld_buf_packer_init(&pk, &b);
	fill(&pk);
	chunk(s, 2, b.data, b.len);
	veld_buf_release(&b);
}

static void c_put(msgpack_packer *pk)
{
	msgpack_pack_map(pk, 2);
	str(pk, "form");
	str(pk, "huisbezoek");
	str(pk, "set");
	msgpack_pack_map(pk, 2);
	str(pk, "visits");
	msgpack_pack_int(pk, 3);
	str(pk, "wish");
	str(pk, "bankjes");
}

static void c_note(msgpack_packer *pk)
{
	msgpack_pack_map(pk, 1);
	str(pk, "text");
	str(pk, "geen handgreep bij het toilet");
}

/* Names and note text with a NUL inside: refused (ECONTENT), never stored
 * (a NUL-led field name once reached the state hash as NULL). */
static void c_put_nul(msgpack_packer *pk)
{
	msgpack_pack_map(pk, 1);
	str(pk, "set");
	msgpack_pack_map(pk, 1);
	msgpack_pack_str_with_body(pk, "\0isits", 6);
	msgpack_pack_int(pk, 3);
}

static void c_note_nul(msgpack_packer *pk)
{
	msgpack_pack_map(pk, 1);
	str(pk, "text");
	msgpack_pack_str_with_body(pk, "geen\0handgreep", 14);
}

static void c_delete(msgpack_packer *pk)
{
	msgpack_pack_map(pk, 1);
	str(pk, "seen");
	msgpack_pack_array(pk, 0);
}

static void c_erase(msgpack_packer *pk)
{
	msgpack_pack_map(pk, 0);
}

static void c_form(msgpack_packer *pk)
{
	msgpack_pack_map(pk, 2);
	str(pk, "def");
	msgpack_pack_map(pk, 1);
	str(pk, "fields");
	msgpack_pack_array(pk, 0);
	str(pk, "name");
	str(pk, "containerdag");
}

static void c_device(msgpack_packer *pk)
{
	uint8_t k[32];

	memset(k, 0x44, sizeof(k));
	msgpack_pack_map(pk, 4);
	str(pk, "key");
	msgpack_pack_bin_with_body(pk, k, sizeof(k));
	str(pk, "name");
	str(pk, "Dirk");
	str(pk, "role");
	str(pk, "field");
	str(pk, "status");
	str(pk, "active");
}

static void session_seed(const char *name, const struct script *s)
{
	save("session", name, s->bytes, s->len);
}

static void session_seeds(void)
{
	struct script s;
	struct veld_buf b;
	uint8_t batch = 1, cursor[8] = {0};

	veld_buf_init(&b, 1024);
#define BEGIN(who) (s.len = 0, s.bytes[s.len++] = (who))
#define PUSH() chunk(&s, 3, &batch, 1)
#define PULL() chunk(&s, 4, cursor, sizeof(cursor))
#define ACK() chunk(&s, 1, NULL, 0)
	BEGIN(0);
	op_chunk(&s, 0, 1, 0xa1, 0, c_put);
	op_chunk(&s, 0, 3, 0xa1, 0, c_note);
	PUSH();
	PULL();
	ACK();
	op_chunk(&s, 0, 2, 0xa1, 0, c_delete);
	PUSH();
	session_seed("field_put_note_delete_pull", &s);

	BEGIN(0);
	op_chunk(&s, 0, 5, 0xf0, 0, c_form);
	PUSH();
	session_seed("field_form_refused", &s);

	BEGIN(0);
	op_chunk(&s, 0, 1, 0xa1, 0, c_put);
	PUSH();
	op_chunk(&s, 1, 1, 0xa2, 0, c_put);
	PUSH();
	session_seed("field_fork", &s);

	BEGIN(0);
	op_chunk(&s, 2, 1, 0xa1, 0, c_put);
	PUSH();
	session_seed("field_gap", &s);

	BEGIN(0);
	op_chunk(&s, 0, 1, 0xa1, 5, c_put);
	PUSH();
	session_seed("field_clock_ahead", &s);

	BEGIN(0);
	op_chunk(&s, 0, 1, 0xa1, -100, c_put);
	PUSH();
	session_seed("field_clock_behind", &s);

	BEGIN(0);
	op_chunk(&s, 4, 1, 0xa1, 0, c_put);
	PUSH();
	session_seed("field_other_author", &s);

	BEGIN(0);
	op_chunk(&s, 0, 1, 0xa1, 0, c_put_nul);
	PUSH();
	session_seed("field_nul_in_name", &s);

	BEGIN(0);
	op_chunk(&s, 0, 3, 0xa1, 0, c_note_nul);
	PUSH();
	session_seed("field_nul_in_note", &s);

	BEGIN(1);
	op_chunk(&s, 0, 5, 0xf0, 0, c_form);
	op_chunk(&s, 0, 4, 0xa1, 0, c_erase);
	op_chunk(&s, 0, 6, 0x44, 0, c_device);
	PUSH();
	PULL();
	ACK();
	session_seed("coordinator_form_erase_device", &s);

	BEGIN(2);
	op_chunk(&s, 0, 1, 0xa1, 0, c_put);
	PUSH();
	session_seed("revoked", &s);

	BEGIN(3);
	PULL();
	session_seed("unknown_key", &s);

	/* No AUTH: raw messages in the handshake state. */
	BEGIN(9);
	veld_buf_reset(&b);
	if (veld_msg_pull(&b, 0))
		die("cannot encode PULL");
	chunk(&s, 0, b.data, b.len);
	session_seed("no_auth_pull", &s);

	BEGIN(9);
	veld_buf_reset(&b);
	if (veld_msg_error(&b, -1, "bye", 1))
		die("cannot encode ERROR");
	chunk(&s, 0, b.data, b.len);
	session_seed("no_auth_error", &s);

	/* Raw: a PUSH before the RECEIPT is impossible in-process, but a
	 * second PULL, a stray ACK and a HELLO from the device are not. */
	BEGIN(0);
	PULL();
	PULL();
	session_seed("field_second_pull", &s);
	BEGIN(1);
	ACK();
	session_seed("coordinator_stray_ack", &s);
#undef BEGIN
#undef PUSH
#undef PULL
#undef ACK
	veld_buf_release(&b);
}

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: mkseeds DIR\n");
		return 2;
	}
	if (sodium_init() < 0)
		die("sodium_init failed");
	top = argv[1];
	msg_seeds();
	session_seeds();
	return 0;
}
