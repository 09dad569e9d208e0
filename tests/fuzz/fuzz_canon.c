/*
 * fuzz_canon.c - libFuzzer target for the canonical msgpack decoder
 * (proto/canon.c).
 *
 * The input is any byte string.  Besides "no crash, no sanitizer report"
 * (in particular: no allocation driven by a declared count, see canon.h),
 * it checks the canonical promise from the outside, both ways: whatever
 * veld_canon_decode() accepts, msgpack-c's packer turns back into exactly
 * the input bytes; whatever it refuses as ENONCANON (not the shortest
 * form), msgpack-c reads and packs back into other bytes.  A difference
 * aborts, which libFuzzer reports.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <msgpack.h>

#include "buf.h"
#include "canon.h"
#include "err.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fail(const char *what, int rc)
{
	fprintf(stderr, "fuzz_canon: %s (rc %d, %s)\n", what, rc,
		veld_err_name(rc));
	abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	msgpack_unpacked u;
	msgpack_packer pk;
	struct veld_buf out;
	int rc;

	msgpack_unpacked_init(&u);
	rc = veld_canon_decode(data, size, &u);
	if (rc == VELD_ENONCANON) {
		/* Everything else held, so msgpack-c reads the whole input. */
		size_t off = 0;
		msgpack_unpacked_destroy(&u);
		msgpack_unpacked_init(&u);
		if (msgpack_unpack_next(&u, (const char *)data, size, &off) !=
			    MSGPACK_UNPACK_SUCCESS ||
		    off != size)
			fail("ENONCANON for input msgpack-c does not read", rc);
		veld_buf_init(&out, 2 * size + 16);
		veld_buf_packer_init(&pk, &out);
		if (msgpack_pack_object(&pk, u.data) < 0)
			fail("msgpack_pack_object failed", out.err);
		if (out.len == size && memcmp(out.data, data, size) == 0)
			fail("ENONCANON for bytes msgpack-c writes", rc);
		veld_buf_release(&out);
		msgpack_unpacked_destroy(&u);
		return 0;
	}
	if (rc < 0) {
		msgpack_unpacked_destroy(&u);
		return 0;
	}

	/* Room to spare, so that a longer re-encoding shows as a mismatch. */
	veld_buf_init(&out, 2 * size + 16);
	veld_buf_packer_init(&pk, &out);
	if (msgpack_pack_object(&pk, u.data) < 0)
		fail("msgpack_pack_object failed on an accepted value",
		     out.err);
	if (out.len != size || memcmp(out.data, data, size) != 0)
		fail("re-encoded value differs from the input", 0);

	veld_buf_release(&out);
	msgpack_unpacked_destroy(&u);
	return 0;
}
