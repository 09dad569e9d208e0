/*
 * canon.h - bounded, canonical msgpack decoding.
 *
 * Every msgpack value libveld accepts from outside (op headers, op bodies,
 * sync messages) is decoded here, and only here, because two promises hang
 * on it:
 *
 *  1. Bounded: msgpack-c allocates array and map storage from the count in
 *     the header, before it has seen the elements.  A 5-byte input declaring
 *     4 billion elements would ask for ~100 GB.  So a first pass walks the
 *     raw bytes and checks every declared count and length against the bytes
 *     that remain (each element takes at least one byte) and against the
 *     limits below, before msgpack-c is asked to build anything.  Memory use
 *     is therefore at most a small constant times the input length.
 *
 *  2. Canonical: one value has exactly one byte form.  After msgpack-c has
 *     built the object, it is re-encoded with msgpack-c's packer (which
 *     always picks the shortest form) and compared byte for byte with the
 *     input; in addition, map keys must be strings in strictly ascending
 *     byte order, strings valid UTF-8, floats float64 and finite, and ext
 *     types are refused.  Because ops are hashed and signed over their bytes,
 *     this is what makes "one op, one id" true.
 *
 * The canonical form, precisely (docs/protocol.md §2 is normative):
 *  - integers in the shortest msgpack encoding for their value, with
 *    non-negative values always in the unsigned families (fixint, uint*);
 *  - str and bin lengths in the shortest header (fixstr, str8, ...);
 *  - array and map counts in the shortest header;
 *  - map keys are str, sorted by bytes (memcmp order, a proper prefix sorts
 *    first), no duplicates;
 *  - str is valid UTF-8 (no overlong forms, no surrogates, <= U+10FFFF);
 *  - float64 only, not NaN or infinite; no ext, no reserved byte 0xc1.
 */
#ifndef VELD_CANON_H
#define VELD_CANON_H

#include <stddef.h>
#include <stdint.h>

#include <msgpack.h>

/* Maximum nesting of arrays and maps (a scalar at top level is depth 0). */
#define VELD_DEPTH_MAX 8
/* Maximum number of elements in one array, or key/value pairs in one map. */
#define VELD_ITEMS_MAX 256
/* Maximum length of one str or bin, in bytes. */
#define VELD_STR_MAX 8192

/*
 * Limits for one decode.  veld_canon_decode() uses the VELD_*_MAX values
 * above; the op envelope (whose body bin may be larger than VELD_STR_MAX)
 * passes its own.
 */
struct veld_canon_limits {
	int depth_max;	    /* deepest nesting of arrays and maps */
	uint32_t items_max; /* most elements (or pairs) in one container */
	size_t str_max;	    /* longest str or bin */
};

/*
 * veld_canon_decode - decode exactly one canonical msgpack value.
 *
 * buf/len is the whole input: bytes after the value are an error
 * (VELD_ETRAILING).  On success *out holds the object; str and bin payloads
 * point into buf (borrowed), so buf must outlive the use of *out.  *out
 * must have been set up with msgpack_unpacked_init(); the caller releases
 * it with msgpack_unpacked_destroy() in every case, also on failure, and
 * must not use its contents after a failure.
 *
 * Returns 0 or a VELD_E* code naming the first rule broken: ETRUNCATED,
 * EDECLARED, ETRAILING, EMSGPACK, EEXT, EFLOAT32, EFLOAT, EDEPTH, ECOUNT,
 * ESTRLEN, ENONCANON, EKEYTYPE, EKEYORDER, EKEYDUP, EUTF8, ENOMEM.
 */
int veld_canon_decode(const uint8_t *buf, size_t len, msgpack_unpacked *out)
	__attribute__((warn_unused_result));

/*
 * veld_canon_decode_checked - veld_canon_decode of bytes it accepted
 * before (an op body in the store, checked on the way in): the same bounds
 * are checked and the same object built, but the canonical rules (shortest
 * forms, key order, UTF-8) are not checked again.  Same contract otherwise.
 */
int veld_canon_decode_checked(const uint8_t *buf, size_t len,
			      msgpack_unpacked *out)
	__attribute__((warn_unused_result));

/* veld_canon_decode with explicit limits (borrowed). */
int veld_canon_decode_limits(const uint8_t *buf, size_t len,
			     const struct veld_canon_limits *lim,
			     msgpack_unpacked *out)
	__attribute__((warn_unused_result));

/* The one ext type veldwerk knows: an op reference in a runs block's
 * contents (docs/protocol.md §P2.1), always fixext 2 (0xd5), the type
 * byte, then the index of an op of the block as 2 bytes big-endian. */
#define VELD_EXT_OPREF 1
#define VELD_OPREF_LEN 4 /* d5 01 hi lo */

/*
 * veld_canon_decode_refs - veld_canon_decode_limits for content that may
 * hold op references: the fixext 2 of VELD_EXT_OPREF is accepted anywhere
 * (it becomes a MSGPACK_OBJECT_EXT of 2 bytes); any other ext is
 * VELD_EOPREF.  Where a reference may sit, and what it names, is the
 * caller's check (runs.c).
 */
int veld_canon_decode_refs(const uint8_t *buf, size_t len,
			   const struct veld_canon_limits *lim,
			   msgpack_unpacked *out)
	__attribute__((warn_unused_result));

/*
 * veld_canon_check - as veld_canon_decode, for when only the verdict is
 * needed.
 */
int veld_canon_check(const uint8_t *buf, size_t len)
	__attribute__((warn_unused_result));

/* Nonzero if s[0..len) is valid UTF-8 (RFC 3629). */
int veld_utf8_valid(const uint8_t *s, size_t len);

#endif /* VELD_CANON_H */
