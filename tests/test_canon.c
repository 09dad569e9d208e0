/*
 * test_canon.c - canonical, bounded msgpack decoding (proto/canon.c).
 *
 * Every rule in canon.h has an input here that breaks it and nothing else,
 * and the error that input must produce.  Then two properties: whatever
 * msgpack-c's packer produces from sorted data is accepted and re-encodes
 * to itself; random bytes never crash the decoder and never make it accept
 * a non-canonical value.
 */
#include <math.h>
#include <stdlib.h>

#include "buf.h"
#include "canon.h"
#include "test.h"

#define B(...) ((const uint8_t[]){__VA_ARGS__})
#define CANON(...) veld_canon_check(B(__VA_ARGS__), sizeof(B(__VA_ARGS__)))

static void accepts_canonical_values(void)
{
	CHECK_ERR(CANON(0x00), 0);
	CHECK_ERR(CANON(0x7f), 0);
	CHECK_ERR(CANON(0xcc, 0x80), 0);
	CHECK_ERR(CANON(0xcd, 0x01, 0x00), 0);
	CHECK_ERR(CANON(0xcf, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff),
		  0);
	CHECK_ERR(CANON(0xe0), 0);	       /* -32 */
	CHECK_ERR(CANON(0xd0, 0xdf), 0);       /* -33 */
	CHECK_ERR(CANON(0xd1, 0xff, 0x7f), 0); /* -129 */
	CHECK_ERR(CANON(0xc0), 0);
	CHECK_ERR(CANON(0xc2), 0);
	CHECK_ERR(CANON(0xc3), 0);
	CHECK_ERR(CANON(0xcb, 0x3f, 0xf0, 0, 0, 0, 0, 0, 0), 0); /* 1.0 */
	CHECK_ERR(CANON(0xa1, 'a'), 0);
	CHECK_ERR(CANON(0xa2, 0xc3, 0xa9), 0);		   /* "é" */
	CHECK_ERR(CANON(0xa3, 0xe2, 0x82, 0xac), 0);	   /* "€" */
	CHECK_ERR(CANON(0xa4, 0xf0, 0x9d, 0x84, 0x9e), 0); /* U+1D11E */
	CHECK_ERR(CANON(0xc4, 0x02, 0xff, 0x00), 0);	   /* bin */
	CHECK_ERR(CANON(0x90), 0);
	CHECK_ERR(CANON(0x80), 0);
	/* {"a": 1, "ab": 2, "b": 3}: a proper prefix sorts first */
	CHECK_ERR(CANON(0x83, 0xa1, 'a', 0x01, 0xa2, 'a', 'b', 0x02, 0xa1, 'b',
			0x03),
		  0);
	/* The empty key sorts first (found by fuzz_canon: msgpack-c gives
	 * an empty str a NULL pointer). */
	CHECK_ERR(CANON(0x82, 0xa0, 0xc0, 0xa1, 'a', 0xc0), 0);
	CHECK_ERR(CANON(0x82, 0xa1, 'a', 0xc0, 0xa0, 0xc0), VELD_EKEYORDER);
	CHECK_ERR(CANON(0x82, 0xa0, 0xc0, 0xa0, 0xc0), VELD_EKEYDUP);
}

static void refuses_each_broken_rule(void)
{
	uint8_t big[VELD_STR_MAX + 16];

	CHECK_ERR(veld_canon_check(NULL, 0), VELD_ETRUNCATED);
	CHECK_ERR(CANON(0xcc), VELD_ETRUNCATED);
	CHECK_ERR(CANON(0xcd, 0x01), VELD_ETRUNCATED);
	CHECK_ERR(CANON(0x92, 0x01, 0xcc), VELD_ETRUNCATED);
	CHECK_ERR(CANON(0x00, 0x00), VELD_ETRAILING);
	CHECK_ERR(CANON(0x91, 0x01, 0x02), VELD_ETRAILING);

	/* Huge declared counts and lengths: refused before allocation. */
	CHECK_ERR(CANON(0xdd, 0xff, 0xff, 0xff, 0xff), VELD_EDECLARED);
	CHECK_ERR(CANON(0xdf, 0xff, 0xff, 0xff, 0xff, 0x01), VELD_EDECLARED);
	CHECK_ERR(CANON(0xdb, 0xff, 0xff, 0xff, 0xff, 'a'), VELD_EDECLARED);
	CHECK_ERR(CANON(0xc6, 0x7f, 0xff, 0xff, 0xff), VELD_EDECLARED);
	CHECK_ERR(CANON(0x93, 0x01, 0x02), VELD_EDECLARED);
	CHECK_ERR(CANON(0xa5, 'a', 'b'), VELD_EDECLARED);

	/* Limits. */
	memset(big, 0xc0, sizeof(big));
	big[0] = 0xdc; /* array16 of VELD_ITEMS_MAX + 1 nils */
	big[1] = (VELD_ITEMS_MAX + 1) >> 8;
	big[2] = (VELD_ITEMS_MAX + 1) & 0xff;
	CHECK_ERR(veld_canon_check(big, 3 + VELD_ITEMS_MAX + 1), VELD_ECOUNT);
	big[2] = VELD_ITEMS_MAX & 0xff;
	big[1] = VELD_ITEMS_MAX >> 8;
	CHECK_ERR(veld_canon_check(big, 3 + VELD_ITEMS_MAX), 0);

	memset(big, 'x', sizeof(big));
	big[0] = 0xda; /* str16 of VELD_STR_MAX + 1 bytes */
	big[1] = (VELD_STR_MAX + 1) >> 8;
	big[2] = (VELD_STR_MAX + 1) & 0xff;
	CHECK_ERR(veld_canon_check(big, 3 + VELD_STR_MAX + 1), VELD_ESTRLEN);
	big[1] = VELD_STR_MAX >> 8;
	big[2] = VELD_STR_MAX & 0xff;
	CHECK_ERR(veld_canon_check(big, 3 + VELD_STR_MAX), 0);

	memset(big, 0x91, VELD_DEPTH_MAX + 1);
	big[VELD_DEPTH_MAX + 1] = 0xc0;
	CHECK_ERR(veld_canon_check(big, VELD_DEPTH_MAX + 2), VELD_EDEPTH);
	big[VELD_DEPTH_MAX] = 0xc0;
	CHECK_ERR(veld_canon_check(big, VELD_DEPTH_MAX + 1), 0);

	/* Refused types. */
	CHECK_ERR(CANON(0xc1), VELD_EMSGPACK);
	CHECK_ERR(CANON(0xd4, 0x01, 0x00), VELD_EEXT);
	CHECK_ERR(CANON(0xc7, 0x01, 0x01, 0x00), VELD_EEXT);
	CHECK_ERR(CANON(0xca, 0x3f, 0x80, 0x00, 0x00), VELD_EFLOAT32);
	CHECK_ERR(CANON(0xcb, 0x7f, 0xf8, 0, 0, 0, 0, 0, 0), VELD_EFLOAT);
	CHECK_ERR(CANON(0xcb, 0xff, 0xf0, 0, 0, 0, 0, 0, 0), VELD_EFLOAT);

	/* Not the shortest form. */
	CHECK_ERR(CANON(0xcc, 0x05), VELD_ENONCANON);
	CHECK_ERR(CANON(0xcd, 0x00, 0xff), VELD_ENONCANON);
	CHECK_ERR(CANON(0xd0, 0x05), VELD_ENONCANON); /* positive as int8 */
	CHECK_ERR(CANON(0xd0, 0xf0), VELD_ENONCANON); /* -16 fits fixint */
	CHECK_ERR(CANON(0xd1, 0xff, 0x80), VELD_ENONCANON);
	CHECK_ERR(CANON(0xd9, 0x01, 'a'), VELD_ENONCANON);
	CHECK_ERR(CANON(0xc5, 0x00, 0x01, 0x00), VELD_ENONCANON);
	CHECK_ERR(CANON(0xdc, 0x00, 0x01, 0x01), VELD_ENONCANON);
	CHECK_ERR(CANON(0xde, 0x00, 0x01, 0xa1, 'a', 0x01), VELD_ENONCANON);
	CHECK_ERR(CANON(0x91, 0xcc, 0x01), VELD_ENONCANON);

	/* Maps: string keys, strictly ascending. */
	CHECK_ERR(CANON(0x81, 0x01, 0x02), VELD_EKEYTYPE);
	CHECK_ERR(CANON(0x82, 0xa1, 'b', 0x01, 0xa1, 'a', 0x02),
		  VELD_EKEYORDER);
	CHECK_ERR(CANON(0x82, 0xa2, 'a', 'b', 0x01, 0xa1, 'a', 0x02),
		  VELD_EKEYORDER);
	CHECK_ERR(CANON(0x82, 0xa1, 'a', 0x01, 0xa1, 'a', 0x02), VELD_EKEYDUP);
	CHECK_ERR(CANON(0x91, 0x81, 0xa1, 0xff, 0x01), VELD_EUTF8);

	/* UTF-8. */
	CHECK_ERR(CANON(0xa1, 0xff), VELD_EUTF8);
	CHECK_ERR(CANON(0xa1, 0x80), VELD_EUTF8);	      /* lone cont. */
	CHECK_ERR(CANON(0xa2, 0xc0, 0x80), VELD_EUTF8);	      /* overlong */
	CHECK_ERR(CANON(0xa3, 0xe0, 0x80, 0x80), VELD_EUTF8); /* overlong */
	CHECK_ERR(CANON(0xa3, 0xed, 0xa0, 0x80), VELD_EUTF8); /* surrogate */
	CHECK_ERR(CANON(0xa4, 0xf4, 0x90, 0x80, 0x80), VELD_EUTF8); /* >max */
	CHECK_ERR(CANON(0xa1, 0xc3), VELD_EUTF8); /* cut sequence */
	CHECK_ERR(CANON(0xa2, 0xc3, 'a'), VELD_EUTF8);
	/* bin is not text: any bytes */
	CHECK_ERR(CANON(0xc4, 0x01, 0xff), 0);
}

/* Pack a random value whose maps have sorted, distinct keys. */
static void pack_random(msgpack_packer *pk, uint64_t *rs, int depth)
{
	uint64_t r = test_rand(rs);
	char s[8];

	switch (depth >= 4 ? r % 6 : r % 8) {
	case 0:
		msgpack_pack_uint64(pk, test_rand(rs) >> (test_rand(rs) % 64));
		break;
	case 1:
		msgpack_pack_int64(pk,
				   -(int64_t)(test_rand(rs) >> (1 + r % 63)));
		break;
	case 2:
		msgpack_pack_double(pk, (double)(int64_t)test_rand(rs) / 7.0);
		break;
	case 3:
		for (size_t i = 0; i < sizeof(s); i++)
			s[i] = (char)('a' + test_rand(rs) % 26);
		msgpack_pack_str_with_body(pk, s, 1 + r % sizeof(s));
		break;
	case 4:
		msgpack_pack_bin_with_body(pk, s, r % sizeof(s));
		break;
	case 5:
		msgpack_pack_nil(pk);
		break;
	case 6: {
		uint32_t n = (uint32_t)(test_rand(rs) % 20);
		msgpack_pack_array(pk, n);
		for (uint32_t i = 0; i < n; i++)
			pack_random(pk, rs, depth + 1);
		break;
	}
	case 7: {
		uint32_t n = (uint32_t)(test_rand(rs) % 10);
		msgpack_pack_map(pk, n);
		for (uint32_t i = 0; i < n; i++) {
			/* "k00", "k01", ...: ascending by construction */
			char k[4] = {'k', (char)('0' + i / 10),
				     (char)('0' + i % 10), 0};
			msgpack_pack_str_with_body(pk, k, 3);
			pack_random(pk, rs, depth + 1);
		}
		break;
	}
	}
}

static void property_packer_output_is_canonical(void)
{
	uint64_t rs = 42;
	int bad = 0;

	for (int i = 0; i < 3000; i++) {
		struct veld_buf b;
		msgpack_packer pk;
		int rc;

		veld_buf_init(&b, 1 << 20);
		veld_buf_packer_init(&pk, &b);
		pack_random(&pk, &rs, 0);
		rc = veld_canon_check(b.data, b.len);
		if (rc != 0 && bad++ < 5)
			fprintf(stderr, "value %d refused: %s\n", i,
				veld_err_name(rc));
		veld_buf_release(&b);
	}
	CHECK_EQ(bad, 0);
}

/*
 * Random and mutated bytes: no crash (ASan watches), and anything accepted
 * re-encodes to exactly itself.
 */
static void property_random_bytes(void)
{
	uint64_t rs = 7;
	uint8_t in[64];
	int accepted = 0, bad = 0;

	for (int i = 0; i < 200000; i++) {
		size_t n = 1 + test_rand(&rs) % sizeof(in);
		msgpack_unpacked u;

		for (size_t k = 0; k < n; k++) {
			uint64_t r = test_rand(&rs);
			/* Favour small containers and short strings. */
			in[k] = (r & 3) ? (uint8_t)(0x80 + (r >> 8) % 0x40)
					: (uint8_t)(r >> 8);
		}
		msgpack_unpacked_init(&u);
		if (veld_canon_decode(in, n, &u) == 0) {
			struct veld_buf b;
			msgpack_packer pk;

			accepted++;
			veld_buf_init(&b, 4096);
			veld_buf_packer_init(&pk, &b);
			msgpack_pack_object(&pk, u.data);
			if (b.len != n || memcmp(b.data, in, n) != 0)
				bad++;
			veld_buf_release(&b);
		}
		msgpack_unpacked_destroy(&u);
	}
	CHECK(accepted > 100); /* the generator does reach valid values */
	CHECK_EQ(bad, 0);
}

/*
 * The shortest form, at every boundary: what msgpack-c's packer writes is
 * accepted; the same integer written in each wider form is ENONCANON.  And
 * ENONCANON is reported only when nothing else is wrong.
 */
static void shortest_form_boundaries(void)
{
	static const int64_t ints[] = {
		0,	   1,	   127,	   128,		 255,
		256,	   65535,  65536,  4294967295LL, 4294967296LL,
		INT64_MAX, -1,	   -32,	   -33,		 -128,
		-129,	   -32768, -32769, INT32_MIN,	 -2147483649LL,
		INT64_MIN};
	uint8_t in[16];

	for (size_t i = 0; i < sizeof(ints) / sizeof(ints[0]); i++) {
		struct veld_buf b;
		msgpack_packer pk;
		int64_t v = ints[i];

		veld_buf_init(&b, 16);
		veld_buf_packer_init(&pk, &b);
		if (v >= 0)
			msgpack_pack_uint64(&pk, (uint64_t)v);
		else
			msgpack_pack_int64(&pk, v);
		CHECK_ERR(veld_canon_check(b.data, b.len), 0);
		/* every wider form of v: uint for v >= 0, int for v < 0 */
		for (size_t w = 1; w <= 8; w *= 2) {
			size_t bits = 8 * w;
			int fits =
				v >= 0 ? (bits == 64 ||
					  (uint64_t)v < (1ULL << bits))
				       : (bits == 64 ||
					  v >= -(int64_t)(1ULL << (bits - 1)));
			if (!fits || 1 + w <= b.len)
				continue; /* not wider than the packer's */
			in[0] = (uint8_t)((v >= 0 ? 0xcc : 0xd0) +
					  (w == 1   ? 0
					   : w == 2 ? 1
					   : w == 4 ? 2
						    : 3));
			for (size_t k = 0; k < w; k++)
				in[1 + k] = (uint8_t)((uint64_t)v >>
						      (8 * (w - 1 - k)));
			CHECK_ERR(veld_canon_check(in, 1 + w), VELD_ENONCANON);
		}
		veld_buf_release(&b);
	}
	/* A positive value in a signed form is never the shortest. */
	CHECK_ERR(CANON(0xd3, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff),
		  VELD_ENONCANON);
	/* Lengths: str 8 from 32 bytes, array 16 / map 16 from 16 items. */
	{
		uint8_t s[2 + 32];
		memset(s, 'x', sizeof(s));
		s[0] = 0xd9;
		s[1] = 32;
		CHECK_ERR(veld_canon_check(s, 2 + 32), 0);
		s[1] = 31;
		CHECK_ERR(veld_canon_check(s, 2 + 31), VELD_ENONCANON);
	}
	{
		uint8_t a[3 + 16];
		memset(a, 0x01, sizeof(a));
		a[0] = 0xdc;
		a[1] = 0;
		a[2] = 16;
		CHECK_ERR(veld_canon_check(a, 3 + 16), 0);
		a[2] = 15;
		CHECK_ERR(veld_canon_check(a, 3 + 15), VELD_ENONCANON);
	}
	/* Order of the reports: bad UTF-8, a wrong key order, a NaN come
	 * before a form that is merely too long. */
	CHECK_ERR(CANON(0x92, 0xcc, 0x01, 0xa1, 0xff), VELD_EUTF8);
	CHECK_ERR(CANON(0x82, 0xa1, 'b', 0xcc, 0x01, 0xa1, 'a', 0x02),
		  VELD_EKEYORDER);
	CHECK_ERR(CANON(0x92, 0xd9, 0x01, 'a', 0xcb, 0x7f, 0xf8, 0, 0, 0, 0, 0,
			0),
		  VELD_EFLOAT);
	CHECK_ERR(CANON(0x92, 0xcc, 0x01, 0xc1), VELD_EMSGPACK);
}

static int refs(const uint8_t *p, size_t n)
{
	static const struct veld_canon_limits lim = {
		VELD_DEPTH_MAX, VELD_ITEMS_MAX, VELD_STR_MAX};
	msgpack_unpacked u;
	int rc;

	msgpack_unpacked_init(&u);
	rc = veld_canon_decode_refs(p, n, &lim, &u);
	if (rc == 0) { /* the reference as msgpack-c gives it */
		const msgpack_object *e = &u.data.via.array.ptr[1];
		CHECK_EQ(e->type, MSGPACK_OBJECT_EXT);
		CHECK_EQ(e->via.ext.type, VELD_EXT_OPREF);
		CHECK_EQ(e->via.ext.size, 2);
	}
	msgpack_unpacked_destroy(&u);
	return rc;
}
#define REFS(...) refs(B(__VA_ARGS__), sizeof(B(__VA_ARGS__)))

/* Op references (runs blocks only): exactly fixext 2 of type 1. */
static void op_references(void)
{
	CHECK_ERR(REFS(0x92, 0x01, 0xd5, 0x01, 0x00, 0x07), 0);
	CHECK_ERR(REFS(0x92, 0x01, 0xd5, 0x01, 0x03, 0xff), 0);
	/* everywhere else an ext is still refused */
	CHECK_ERR(CANON(0x92, 0x01, 0xd5, 0x01, 0x00, 0x07), VELD_EEXT);
	/* another type, another size, ext 8 of the same bytes */
	CHECK_ERR(REFS(0x92, 0x01, 0xd5, 0x02, 0x00, 0x07), VELD_EOPREF);
	CHECK_ERR(REFS(0x92, 0x01, 0xd4, 0x01, 0x07), VELD_EOPREF);
	CHECK_ERR(REFS(0x92, 0x01, 0xd6, 0x01, 0, 0, 0, 7), VELD_EOPREF);
	CHECK_ERR(REFS(0x92, 0x01, 0xc7, 0x02, 0x01, 0x00, 0x07), VELD_EOPREF);
	/* cut short; the other rules still hold around it */
	CHECK_ERR(REFS(0x92, 0x01, 0xd5, 0x01, 0x00), VELD_ETRUNCATED);
	CHECK_ERR(REFS(0x92, 0x01, 0xd5), VELD_ETRUNCATED);
	CHECK_ERR(REFS(0x92, 0xcc, 0x01, 0xd5, 0x01, 0x00, 0x07),
		  VELD_ENONCANON);
	CHECK_ERR(REFS(0x81, 0xd5, 0x01, 0x00, 0x07, 0x01), VELD_EKEYTYPE);
}

int main(void)
{
	accepts_canonical_values();
	refuses_each_broken_rule();
	shortest_form_boundaries();
	op_references();
	property_packer_output_is_canonical();
	property_random_bytes();
	return test_summary("test_canon");
}
