/*
 * canon.c - bounded, canonical msgpack decoding; see canon.h for the rules.
 *
 * Three passes over one input, cheapest first:
 *   scan()      walks the raw bytes once: bounds, limits, refused types,
 *               and notes any length or integer not in its shortest form;
 *   msgpack-c   builds the object tree (now known to be small);
 *   check_obj() key order, UTF-8, finite floats.
 * The scan is deliberately not a decoder: it never produces values, it only
 * proves that handing the bytes to msgpack-c is safe and that they end where
 * the input ends.  "Shortest form" is what msgpack-c's packer writes, so an
 * accepted input is exactly what msgpack_pack_object() makes of its tree
 * (fuzz_canon checks that, both ways); the scan checks it byte by byte
 * instead of packing the tree again, which cost as much as all the rest.
 * A form that is not the shortest is reported (ENONCANON) only after every
 * other check has passed, as packing again did.
 */
#include "canon.h"

#include <math.h>
#include <string.h>

#include "err.h"

/* Big-endian read of n (1, 2, 4 or 8) bytes; caller checked the bounds. */
static uint64_t read_be(const uint8_t *p, size_t n)
{
	uint64_t v = 0;
	for (size_t i = 0; i < n; i++)
		v = (v << 8) | p[i];
	return v;
}

struct scan {
	const uint8_t *p;
	size_t len;
	size_t pos;
	const struct veld_canon_limits *lim;
	int longer; /* a length or integer was not in its shortest form */
	int refs;   /* op references (fixext 2 of VELD_EXT_OPREF) allowed */
};

/* Note a form that msgpack-c would have written shorter. */
static void shortest(struct scan *s, int ok)
{
	if (!ok)
		s->longer = 1;
}

static const struct veld_canon_limits default_limits = {
	VELD_DEPTH_MAX, VELD_ITEMS_MAX, VELD_STR_MAX};

/* Consume a fixed-width part of n bytes; *v gets it as a big-endian int. */
static int take(struct scan *s, size_t n, uint64_t *v)
{
	if (n > s->len - s->pos)
		return VELD_ETRUNCATED;
	if (v)
		*v = read_be(s->p + s->pos, n);
	s->pos += n;
	return 0;
}

static int scan_value(struct scan *s, int depth);

static int scan_container(struct scan *s, int depth, uint64_t n, int is_map)
{
	uint64_t elems = is_map ? n * 2 : n;

	if (depth + 1 > s->lim->depth_max)
		return VELD_EDEPTH;
	/* Every element takes at least one byte: check before anything. */
	if (elems > s->len - s->pos)
		return VELD_EDECLARED;
	if (n > s->lim->items_max)
		return VELD_ECOUNT;
	for (uint64_t i = 0; i < elems; i++) {
		int rc = scan_value(s, depth + 1);
		if (rc < 0)
			return rc;
	}
	return 0;
}

static int scan_bytes(struct scan *s, uint64_t n)
{
	if (n > s->len - s->pos)
		return VELD_EDECLARED;
	if (n > s->lim->str_max)
		return VELD_ESTRLEN;
	s->pos += n;
	return 0;
}

static int scan_value(struct scan *s, int depth)
{
	uint64_t n = 0;
	uint8_t b;
	int rc;

	if (s->pos >= s->len)
		return VELD_ETRUNCATED;
	b = s->p[s->pos++];

	if (b <= 0x7f || b >= 0xe0) /* positive / negative fixint */
		return 0;
	if (b <= 0x8f)
		return scan_container(s, depth, b & 0x0f, 1);
	if (b <= 0x9f)
		return scan_container(s, depth, b & 0x0f, 0);
	if (b <= 0xbf)
		return scan_bytes(s, b & 0x1f);

	switch (b) {
	case 0xc0: /* nil */
	case 0xc2: /* false */
	case 0xc3: /* true */
		return 0;
	case 0xc1:
		return VELD_EMSGPACK;
	case 0xc4: /* bin 8/16/32 (no shorter form than bin 8) */
	case 0xc5:
	case 0xc6:
		rc = take(s, (size_t)1 << (b - 0xc4), &n);
		shortest(s, b == 0xc4 || n >= (b == 0xc5 ? 0x100 : 0x10000));
		return rc < 0 ? rc : scan_bytes(s, n);
	case 0xc7: /* ext 8/16/32 */
	case 0xc8:
	case 0xc9:
		return s->refs ? VELD_EOPREF : VELD_EEXT;
	case 0xca:
		return VELD_EFLOAT32;
	case 0xcb:
		return take(s, 8, NULL);
	case 0xcc: /* uint 8/16/32/64: above what the form before holds */
	case 0xcd:
	case 0xce:
	case 0xcf: {
		static const uint64_t floor[4] = {0x80, 0x100, 0x10000,
						  0x100000000};
		rc = take(s, (size_t)1 << (b - 0xcc), &n);
		shortest(s, n >= floor[b - 0xcc]);
		return rc;
	}
	case 0xd0: /* int 8/16/32/64: negative, below the form before */
	case 0xd1:
	case 0xd2:
	case 0xd3: {
		static const int64_t ceil[4] = {-32, -128, -32768,
						-2147483648LL};
		size_t w = (size_t)1 << (b - 0xd0);
		int64_t v;
		rc = take(s, w, &n);
		/* sign-extend the w-byte two's complement value */
		v = w == 8 ? (int64_t)n
			   : (int64_t)(n ^ (1ULL << (8 * w - 1))) -
				     (int64_t)(1ULL << (8 * w - 1));
		shortest(s, v < ceil[b - 0xd0]);
		return rc;
	}
	case 0xd5: /* fixext 2: an op reference, where allowed */
		if (s->refs) {
			rc = take(s, 1, &n);
			if (rc == 0 && n != VELD_EXT_OPREF)
				return VELD_EOPREF;
			return rc < 0 ? rc : take(s, 2, NULL);
		}
		return VELD_EEXT;
	case 0xd4: /* fixext 1/4/8/16 */
	case 0xd6:
	case 0xd7:
	case 0xd8:
		return s->refs ? VELD_EOPREF : VELD_EEXT;
	case 0xd9: /* str 8/16/32 (fixstr below 32 bytes) */
	case 0xda:
	case 0xdb: {
		static const uint64_t floor[3] = {32, 0x100, 0x10000};
		rc = take(s, (size_t)1 << (b - 0xd9), &n);
		shortest(s, n >= floor[b - 0xd9]);
		return rc < 0 ? rc : scan_bytes(s, n);
	}
	case 0xdc: /* array 16/32 (fixarray below 16) */
	case 0xdd:
		rc = take(s, (size_t)2 << (b - 0xdc), &n);
		shortest(s, n >= (b == 0xdc ? 16 : 0x10000));
		return rc < 0 ? rc : scan_container(s, depth, n, 0);
	case 0xde: /* map 16/32 (fixmap below 16) */
	case 0xdf:
		rc = take(s, (size_t)2 << (b - 0xde), &n);
		shortest(s, n >= (b == 0xde ? 16 : 0x10000));
		return rc < 0 ? rc : scan_container(s, depth, n, 1);
	}
	return VELD_EMSGPACK; /* unreachable: every byte value is covered */
}

int veld_utf8_valid(const uint8_t *s, size_t len)
{
	size_t i = 0;

	while (i < len) {
		uint8_t c = s[i];
		size_t n;
		uint32_t cp, min;

		if (c < 0x80) {
			i++;
			continue;
		} else if ((c & 0xe0) == 0xc0) {
			n = 1, cp = c & 0x1f, min = 0x80;
		} else if ((c & 0xf0) == 0xe0) {
			n = 2, cp = c & 0x0f, min = 0x800;
		} else if ((c & 0xf8) == 0xf0) {
			n = 3, cp = c & 0x07, min = 0x10000;
		} else {
			return 0;
		}
		if (n > len - i - 1)
			return 0;
		for (size_t k = 1; k <= n; k++) {
			if ((s[i + k] & 0xc0) != 0x80)
				return 0;
			cp = (cp << 6) | (s[i + k] & 0x3f);
		}
		if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
			return 0;
		i += n + 1;
	}
	return 1;
}

/* memcmp order; a proper prefix sorts first. */
static int key_cmp(const msgpack_object_str *a, const msgpack_object_str *b)
{
	size_t n = a->size < b->size ? a->size : b->size;
	/* msgpack-c gives an empty str a NULL pointer: no memcmp then. */
	int c = n ? memcmp(a->ptr, b->ptr, n) : 0;

	if (c)
		return c;
	return (a->size > b->size) - (a->size < b->size);
}

static int check_obj(const msgpack_object *o, int refs)
{
	int rc;

	switch (o->type) {
	case MSGPACK_OBJECT_STR:
		if (!veld_utf8_valid((const uint8_t *)o->via.str.ptr,
				     o->via.str.size))
			return VELD_EUTF8;
		return 0;
	case MSGPACK_OBJECT_FLOAT64:
		if (!isfinite(o->via.f64))
			return VELD_EFLOAT;
		return 0;
	case MSGPACK_OBJECT_FLOAT32: /* the scan refuses these already */
		return VELD_EFLOAT32;
	case MSGPACK_OBJECT_EXT: /* the scan let only op references by */
		return refs ? 0 : VELD_EEXT;
	case MSGPACK_OBJECT_ARRAY:
		for (uint32_t i = 0; i < o->via.array.size; i++) {
			rc = check_obj(&o->via.array.ptr[i], refs);
			if (rc < 0)
				return rc;
		}
		return 0;
	case MSGPACK_OBJECT_MAP:
		for (uint32_t i = 0; i < o->via.map.size; i++) {
			const msgpack_object_kv *kv = &o->via.map.ptr[i];
			if (kv->key.type != MSGPACK_OBJECT_STR)
				return VELD_EKEYTYPE;
			rc = check_obj(&kv->key, refs);
			if (rc < 0)
				return rc;
			if (i > 0) {
				int c = key_cmp(&kv[-1].key.via.str,
						&kv->key.via.str);
				if (c == 0)
					return VELD_EKEYDUP;
				if (c > 0)
					return VELD_EKEYORDER;
			}
			rc = check_obj(&kv->val, refs);
			if (rc < 0)
				return rc;
		}
		return 0;
	default:
		return 0;
	}
}

int veld_canon_decode(const uint8_t *buf, size_t len, msgpack_unpacked *out)
{
	return veld_canon_decode_limits(buf, len, &default_limits, out);
}

/* refs: op references allowed; checked: buf passed before, so only the
 * bounds are checked again, not the canonical rules. */
static int decode(const uint8_t *buf, size_t len,
		  const struct veld_canon_limits *lim, int refs, int checked,
		  msgpack_unpacked *out)
{
	struct scan s = {buf, len, 0, lim, 0, refs};
	size_t off = 0;
	int rc;

	if (!buf && len)
		return VELD_EINVAL;
	rc = scan_value(&s, 0);
	if (rc < 0)
		return rc;
	if (s.pos != len)
		return VELD_ETRAILING;

	switch (msgpack_unpack_next(out, (const char *)buf, len, &off)) {
	case MSGPACK_UNPACK_SUCCESS:
		break;
	case MSGPACK_UNPACK_NOMEM_ERROR:
		return VELD_ENOMEM;
	default:
		/* The scan accepted it, so msgpack-c should have too. */
		return VELD_EMSGPACK;
	}
	if (off != len)
		return VELD_ETRAILING;
	if (checked)
		return 0;
	rc = check_obj(&out->data, refs);
	if (rc < 0)
		return rc;
	return s.longer ? VELD_ENONCANON : 0;
}

int veld_canon_decode_limits(const uint8_t *buf, size_t len,
			     const struct veld_canon_limits *lim,
			     msgpack_unpacked *out)
{
	return decode(buf, len, lim, 0, 0, out);
}

int veld_canon_decode_checked(const uint8_t *buf, size_t len,
			      msgpack_unpacked *out)
{
	return decode(buf, len, &default_limits, 0, 1, out);
}

int veld_canon_decode_refs(const uint8_t *buf, size_t len,
			   const struct veld_canon_limits *lim,
			   msgpack_unpacked *out)
{
	return decode(buf, len, lim, 1, 0, out);
}

int veld_canon_check(const uint8_t *buf, size_t len)
{
	msgpack_unpacked u;
	int rc;

	msgpack_unpacked_init(&u);
	rc = veld_canon_decode(buf, len, &u);
	msgpack_unpacked_destroy(&u);
	return rc;
}
