/*
 * fuzz_canon.c - libFuzzer target for the canonical msgpack decoder
 * (proto/canon.c).
 *
 * The input is any byte string.  Besides "no crash, no sanitizer report"
 * (in particular: no allocation driven by a declared count, see canon.h),
 * it checks the canonical promise from the outside: whatever
 * veld_canon_decode() accepts, msgpack-c's packer turns back into exactly
 * the input bytes.  A difference aborts, which libFuzzer reports.
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
