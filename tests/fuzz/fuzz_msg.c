/*
 * fuzz_msg.c - libFuzzer target for every veld.4 message decoder
 * (proto/msg.c: veld_msg_decode and the shape of each of the ten types).
 *
 * The input is one WebSocket message as a peer could send it.  Besides "no
 * crash, no sanitizer report", an accepted message must mean exactly what
 * its bytes say, one message one byte form:
 *
 *  - the unsigned messages (HELLO of our version, WELCOME, PULL, ACK,
 *    ERROR) re-encoded from the decoded fields with msg.h's own encoders
 *    give back exactly the input;
 *  - the signed ones (AUTH, ENROL, RECEIPT), whose signature the encoders
 *    would make afresh, re-packed field by field with msgpack-c give back
 *    exactly the input (so every pointer points where it should);
 *  - the proof and receipt checks answer only 0 or their refusal code.
 *
 *  - the runs block of a PUSH or OPS that inflates and decodes (runs.h)
 *    gives ops that decode; encoded again and decoded, they are the same
 *    ops (headers, ids, bodies, the signatures that end runs); the run
 *    check answers only 0 or ESIG.  (Deflate has many byte forms of one
 *    block, so the bytes themselves are not compared.)
 *
 * The op rules themselves are fuzz_op_decode's business.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "buf.h"
#include "err.h"
#include "msg.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint8_t server_pk[32], nonce[VELD_NONCE_LEN];

static void fail(const char *what, int type, int rc)
{
	fprintf(stderr, "fuzz_msg: %s: %s (rc %d, %s)\n", veld_msg_name(type),
		what, rc, veld_err_name(rc));
	abort();
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	if (sodium_init() < 0) {
		fprintf(stderr, "fuzz_msg: sodium_init failed\n");
		abort();
	}
	/* Fixed, so a found input replays the same way. */
	memset(server_pk, 0x53, sizeof(server_pk));
	memset(nonce, 0x4e, sizeof(nonce));
	return 0;
}

/* A decoded string as a C string, or 0 if it holds a NUL (the encoders
 * take C strings, so such a message cannot be re-encoded by them). */
static int cstr(char *dst, size_t cap, const char *p, size_t n)
{
	if (n >= cap || (n && memchr(p, 0, n)))
		return 0;
	if (n)
		memcpy(dst, p, n);
	dst[n] = 0;
	return 1;
}

static void pack_bin(msgpack_packer *pk, const uint8_t *p, size_t n)
{
	msgpack_pack_bin_with_body(pk, p, n);
}

static void pack_text(msgpack_packer *pk, const char *p, size_t n)
{
	msgpack_pack_str_with_body(pk, p, n);
}

/* Re-pack a signed message from its fields; 1 if it was one. */
static int repack_signed(const struct veld_msg *m, struct veld_buf *out)
{
	msgpack_packer pk;

	veld_buf_packer_init(&pk, out);
	switch (m->type) {
	case VELD_MSG_AUTH:
		msgpack_pack_array(&pk, 3);
		msgpack_pack_uint8(&pk, VELD_MSG_AUTH);
		pack_bin(&pk, m->key, 32);
		pack_bin(&pk, m->sig, 64);
		return 1;
	case VELD_MSG_ENROL:
		msgpack_pack_array(&pk, 5);
		msgpack_pack_uint8(&pk, VELD_MSG_ENROL);
		pack_bin(&pk, m->key, 32);
		pack_text(&pk, m->code, m->code_len);
		pack_text(&pk, m->name, m->name_len);
		pack_bin(&pk, m->sig, 64);
		return 1;
	case VELD_MSG_RECEIPT:
		msgpack_pack_array(&pk, 5);
		msgpack_pack_uint8(&pk, VELD_MSG_RECEIPT);
		msgpack_pack_uint64(&pk, m->batch);
		msgpack_pack_uint64(&pk, m->seq);
		pack_bin(&pk, m->head, VELD_HASH_LEN);
		pack_bin(&pk, m->sig, 64);
		return 1;
	}
	return 0;
}

/* Re-encode with msg.h's encoders; 1 if the message could be. */
static int reencode(const struct veld_msg *m, struct veld_buf *out)
{
	char role[80], name[80], area[80], text[VELD_TEXT_MAX + 1];
	int rc = 0;

	switch (m->type) {
	case VELD_MSG_HELLO:
		if (m->version != VELD_PROTO_VERSION)
			return 0; /* the encoder only speaks its own version */
		rc = veld_msg_hello(out, m->key, m->nonce);
		break;
	case VELD_MSG_WELCOME:
		if (!cstr(role, sizeof(role), m->role, m->role_len) ||
		    !cstr(name, sizeof(name), m->name, m->name_len) ||
		    (m->area &&
		     !cstr(area, sizeof(area), m->area, m->area_len)))
			return 0;
		rc = veld_msg_welcome(out, role, name, m->area ? area : NULL,
				      m->seq);
		break;
	case VELD_MSG_PUSH:
	case VELD_MSG_OPS:
		/* Deflate has many encodings of one block: runs_check()
		 * compares the ops instead of the bytes. */
		return 0;
	case VELD_MSG_PULL:
		rc = veld_msg_pull(out, m->cursor);
		break;
	case VELD_MSG_ACK:
		rc = veld_msg_ack(out, m->cursor);
		break;
	case VELD_MSG_ERROR:
		if (m->err < -1000000 || m->err > 0 ||
		    !cstr(text, sizeof(text), m->text, m->text_len))
			return 0;
		rc = veld_msg_error(out, (int)m->err, text, m->fatal);
		break;
	default:
		return repack_signed(m, out);
	}
	if (rc < 0)
		fail("the encoder refused a decoded message", m->type, rc);
	return 1;
}

/* The header and body bytes of an envelope (the signature may differ). */
static void op_parts(const struct veld_bytes *b, struct veld_op *op)
{
	if (veld_op_decode(b->p, b->len, op) != 0)
		fail("a decoded runs block gave an op that does not decode", 0,
		     0);
}

/*
 * A runs block that decodes: every op it gives decodes; encoding those ops
 * again and decoding that gives the same ops (headers, ids, bodies) and
 * the same signatures at the ends of runs.
 */
static void runs_check(struct veld_msg *m)
{
	struct veld_buf z;
	struct veld_runs again;
	size_t bad;
	int rc;

	if (veld_msg_open_runs(m) < 0)
		return;
	rc = veld_runs_verify(&m->rs, &bad);
	if (rc != 0 && rc != VELD_ESIG)
		fail("run verify gave neither 0 nor ESIG", m->type, rc);
	veld_buf_init(&z, VELD_MSG_MAX);
	rc = veld_runs_encode(m->ops, m->nops, 1, &z);
	if (rc == VELD_ETOOBIG) {
		veld_buf_release(&z);
		return;
	}
	if (rc < 0)
		fail("the runs encoder refused decoded ops", m->type, rc);
	rc = veld_runs_decode(z.data, z.len, m->nops, &again);
	if (rc < 0 || again.n != m->nops)
		fail("re-encoded runs do not decode", m->type, rc);
	for (size_t i = 0; i < m->nops; i++) {
		struct veld_op a, b;
		op_parts(&m->ops[i], &a);
		op_parts(&again.ops[i], &b);
		if (a.header_len != b.header_len ||
		    memcmp(a.header, b.header, a.header_len) ||
		    memcmp(a.id, b.id, VELD_HASH_LEN) ||
		    (a.body == NULL) != (b.body == NULL) ||
		    (a.body && memcmp(a.body, b.body, a.body_len)) ||
		    (b.sig && (!a.sig || memcmp(a.sig, b.sig, VELD_SIG_LEN))))
			fail("re-encoded runs give other ops", m->type, 0);
	}
	veld_runs_release(&again);
	veld_buf_release(&z);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct veld_msg *m = malloc(sizeof(*m));
	struct veld_buf out;
	int rc;

	if (!m)
		abort();
	rc = veld_msg_decode(data, size, m);
	if (rc < 0) {
		veld_msg_release(m);
		free(m);
		return 0;
	}
	if (!strcmp(veld_msg_name(m->type), "unknown"))
		fail("accepted a message of no known type", m->type, 0);

	veld_buf_init(&out, VELD_MSG_MAX);
	if (reencode(m, &out) &&
	    (out.len != size || memcmp(out.data, data, size) != 0))
		fail("re-encoded message differs from the input", m->type, 0);
	veld_buf_release(&out);

	if (m->type == VELD_MSG_AUTH || m->type == VELD_MSG_ENROL) {
		rc = veld_msg_verify_proof(m, server_pk, nonce);
		if (rc != 0 && rc != VELD_EAUTH)
			fail("proof check gave neither 0 nor EAUTH", m->type,
			     rc);
	}
	if (m->type == VELD_MSG_RECEIPT) {
		rc = veld_msg_verify_receipt(m, server_pk, nonce);
		if (rc != 0 && rc != VELD_ESIG)
			fail("receipt check gave neither 0 nor ESIG", m->type,
			     rc);
	}
	if (m->type == VELD_MSG_PUSH || m->type == VELD_MSG_OPS)
		runs_check(m);
	veld_msg_release(m);
	free(m);
	return 0;
}
