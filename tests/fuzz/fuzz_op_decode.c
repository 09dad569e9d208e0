/*
 * fuzz_op_decode.c - libFuzzer target for the op decoder (proto/op.c).
 *
 * The input is any byte string, as a peer or a damaged file could hand it
 * to veld_op_decode().  Besides "no crash, no sanitizer report", this
 * target checks the promises op.h and canon.h make about accepted ops, and
 * aborts (a libFuzzer finding) when one is broken:
 *
 *  - one op, one byte form: framing the decoded parts again
 *    (veld_op_frame) gives back exactly the input, and so does encoding the
 *    decoded header fields (veld_op_header_encode) for the header;
 *  - the id is the hash of the header bytes received;
 *  - the op and body decoders agree with the generic canonical decoder:
 *    an accepted op whose body fits VELD_STR_MAX, and an accepted body,
 *    are canonical msgpack.
 *
 * The signature is checked too, for coverage; almost every input has a bad
 * one, so its verdict is not asserted.  A mutated body no longer matches
 * the body hash in its header, so veld_op_decode() rarely gets as far as
 * the body; the raw input also goes to veld_body_check() to reach it.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "buf.h"
#include "canon.h"
#include "err.h"
#include "op.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A broken promise: say which, then abort so libFuzzer saves the input. */
static void fail(const char *what, int rc)
{
	fprintf(stderr, "fuzz_op_decode: %s (rc %d, %s)\n", what, rc,
		veld_err_name(rc));
	abort();
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	if (sodium_init() < 0) {
		fprintf(stderr, "fuzz_op_decode: sodium_init failed\n");
		abort();
	}
	return 0;
}

/* Re-frame the decoded parts; the bytes must be the input's. */
static void check_frame(const struct veld_op *op, const uint8_t *data,
			size_t size)
{
	struct veld_buf out;
	int rc;

	veld_buf_init(&out, VELD_OP_MAX);
	rc = veld_op_frame(op->header, op->header_len, op->sig, op->body,
			   op->body_len, &out);
	if (rc < 0)
		fail("veld_op_frame refused a decoded op", rc);
	if (out.len != size || memcmp(out.data, data, size) != 0)
		fail("re-framed op differs from the input", 0);
	veld_buf_release(&out);
}

/* Encode the decoded header fields; the bytes must be the header's. */
static void check_header(const struct veld_op *op)
{
	struct veld_buf out;
	int rc;

	veld_buf_init(&out, VELD_HEADER_MAX);
	rc = veld_op_header_encode(&op->h, &out);
	if (rc < 0)
		fail("veld_op_header_encode refused a decoded header", rc);
	if (out.len != op->header_len ||
	    memcmp(out.data, op->header, op->header_len) != 0)
		fail("re-encoded header differs from the header bytes", 0);
	veld_buf_release(&out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct veld_op op;
	uint8_t id[VELD_HASH_LEN];
	int decoded, canon, body, verified;

	decoded = veld_op_decode(data, size, &op);
	/* Any verdicts are fine here, as long as they agree (see below). */
	canon = veld_canon_check(data, size);
	body = veld_body_check(data, size);
	if (body == 0 && canon != 0)
		fail("accepted body is not canonical msgpack", canon);
	if (decoded < 0)
		return 0;

	verified = veld_op_verify(&op);
	if (verified != 0 && verified != VELD_ESIG)
		fail("veld_op_verify returned neither 0 nor ESIG", verified);

	check_frame(&op, data, size);
	check_header(&op);

	veld_op_id(op.header, op.header_len, id);
	if (memcmp(id, op.id, VELD_HASH_LEN) != 0)
		fail("op.id is not the id of op.header", 0);

	/*
	 * The envelope is decoded with tighter depth and count limits than
	 * veld_canon_check() uses, but a looser string limit (the body may
	 * exceed VELD_STR_MAX); below that, the two must agree.
	 */
	if ((!op.body || op.body_len <= VELD_STR_MAX) && canon != 0)
		fail("accepted op is not canonical msgpack", canon);
	return 0;
}
