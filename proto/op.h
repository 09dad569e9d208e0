/*
 * op.h - the operation: the only thing veldwerk ever syncs.
 *
 * An op is created once, on one replica, and never changed.  On the wire
 * and on disk it is one msgpack array of three elements:
 *
 *	[ header: bin, signature: bin(64), body: bin | nil ]
 *
 * The header bytes are themselves a canonical msgpack array with fixed
 * positions (VELD_H_* below).  The signature is Ed25519 over
 * VELD_DS_SIG || header bytes; the op id is BLAKE2b-256 over
 * VELD_DS_ID || header bytes; the header's body hash is BLAKE2b-256 over
 * VELD_DS_BODY || body bytes.  The body is a canonical msgpack array
 * [salt: bin(16), content], the salt random, so that the body hash reveals
 * nothing about an erased body.  An erased op travels with body = nil: its
 * header and signature still verify, so every chain stays intact.
 *
 * An op that travelled inside a run (runs.h) without its own signature is
 * held and stored with an empty signature, bin(0): it is authentic because
 * a later signed op of its author names it through prev links
 * (docs/protocol.md §13.1).  veld_op_decode gives such an op sig = NULL,
 * and veld_op_verify refuses it (VELD_ESIG) unless something vouches.
 *
 * docs/protocol.md is the normative byte-level description, with a worked
 * example; tests/vectors/ holds the same example as a golden vector.
 *
 * Signatures and ids are always computed over the bytes received, never
 * over a re-encoding; canonical decoding (canon.h) makes those bytes unique.
 */
#ifndef VELD_OP_H
#define VELD_OP_H

#include <stddef.h>
#include <stdint.h>

#include <msgpack.h>

#include "buf.h"
#include "key.h"

#define VELD_OP_VERSION 1

#define VELD_HASH_LEN 32   /* op ids, prev hashes, body hashes */
#define VELD_RECORD_LEN 16 /* record ids */
#define VELD_SALT_LEN 16   /* body salt */

/* Domain-separation prefixes; the terminating NUL is part of each prefix. */
#define VELD_DS_SIG "veld-op-sig-1"
#define VELD_DS_ID "veld-op-id-1"
#define VELD_DS_BODY "veld-body-1"
#define VELD_DS_RECORD "veld-record-id-1"
#define VELD_DS_LEN(ds) sizeof(ds) /* includes the NUL */

/* Limits (docs/protocol.md §4).  Sequence numbers stay below 2^53 so that
 * JSON consumers (dashboard, exports) represent them exactly. */
#define VELD_SEQ_MAX ((UINT64_C(1) << 53) - 1)
#define VELD_HEADER_MAX 160
#define VELD_BODY_MAX 32768
/* array(3) + bin8 header + bin8 signature + bin16 body */
#define VELD_OP_MAX                                                            \
	(1 + 2 + VELD_HEADER_MAX + 2 + VELD_SIG_LEN + 3 + VELD_BODY_MAX)

/* Header positions. */
enum veld_header_pos {
	VELD_H_VERSION = 0,   /* uint, = VELD_OP_VERSION */
	VELD_H_AUTHOR = 1,    /* bin(32), Ed25519 public key */
	VELD_H_SEQ = 2,	      /* uint, 1..VELD_SEQ_MAX */
	VELD_H_PREV = 3,      /* nil if seq = 1, else bin(32) id of seq-1 */
	VELD_H_HLC = 4,	      /* uint, hybrid logical clock (hlc.h) */
	VELD_H_RECORD = 5,    /* bin(16) */
	VELD_H_KIND = 6,      /* uint, enum veld_op_kind */
	VELD_H_BODY_LEN = 7,  /* uint, 0..VELD_BODY_MAX */
	VELD_H_BODY_HASH = 8, /* bin(32) */
	VELD_H_COUNT = 9
};

/* Op kinds known to format version 1; anything else is VELD_EKIND. */
enum veld_op_kind {
	VELD_KIND_PUT = 1,    /* set fields of a record */
	VELD_KIND_DELETE = 2, /* delete a record (observed-remove) */
	VELD_KIND_NOTE = 3,   /* append a note to a record */
	VELD_KIND_ERASE = 4,  /* erase a record's personal data */
	VELD_KIND_FORM = 5,   /* define or change a form */
	VELD_KIND_DEVICE = 6, /* enrol, change or revoke a device */
	VELD_KIND_MAX = 6
};

/* Name of a kind ("put", "delete", ...), or "unknown". */
const char *veld_kind_name(uint64_t kind);

/* The fields of a header, decoded. */
struct veld_op_header {
	uint64_t version;
	uint8_t author[VELD_PK_LEN];
	uint64_t seq;
	int has_prev; /* 0 iff seq == 1 */
	uint8_t prev[VELD_HASH_LEN];
	uint64_t hlc;
	uint8_t record[VELD_RECORD_LEN];
	uint64_t kind;
	uint64_t body_len;
	uint8_t body_hash[VELD_HASH_LEN];
};

/*
 * A decoded op.  The pointers borrow the buffer given to veld_op_decode();
 * they are valid as long as that buffer is.
 */
struct veld_op {
	struct veld_op_header h;
	const uint8_t *header; /* the exact signed header bytes */
	size_t header_len;
	const uint8_t *sig;  /* VELD_SIG_LEN bytes; NULL: none of its own */
	const uint8_t *body; /* NULL if the body was erased */
	size_t body_len;
	uint8_t id[VELD_HASH_LEN];
	/* Set by whoever ran veld_content_check on the body and saw it pass
	 * (veld_runs_decode, veld_body_content_check), so the replica need
	 * not run it again; 0 from veld_op_decode. */
	int content_ok;
};

/*
 * veld_op_decode - parse and check an op, except its signature.
 *
 * Checks, in this order: size (EOPSIZE), canonical envelope (canon.h codes),
 * envelope shape (EOPSHAPE, EHDRSIZE, ESIGLEN, EBODYSIZE), canonical header
 * and every header field (EVERSION, EHDRSHAPE, EAUTHOR, ESEQ, EPREV, EHLC,
 * ERECORD, EKIND, EBODYLEN, EBODYHASHLEN), then, if a body is present, its
 * length (EBODYMISMATCH), hash (EBODYHASH) and canonical form and shape
 * (canon.h codes, EBODYSHAPE).  Computes the op id.
 *
 * The signature is checked separately by veld_op_verify(), so that a
 * caller can verify on another thread or authenticate a chain run at once.
 * *op borrows buf.  Returns 0 or a VELD_E* code.
 */
int veld_op_decode(const uint8_t *buf, size_t len, struct veld_op *op)
	__attribute__((warn_unused_result));

/* veld_op_verify - check the Ed25519 signature: 0 or VELD_ESIG. */
int veld_op_verify(const struct veld_op *op)
	__attribute__((warn_unused_result));

/*
 * veld_op_header_decode - parse and check header bytes alone (as stored
 * apart from the body).  Same header codes as veld_op_decode.
 */
int veld_op_header_decode(const uint8_t *buf, size_t len,
			  struct veld_op_header *h)
	__attribute__((warn_unused_result));

/*
 * veld_op_header_encode - append the canonical header bytes for *h to out.
 * Checks the fields as the decoder would (so we never sign what we would
 * refuse).  Returns 0 or a VELD_E* code; out is unchanged on failure.
 */
int veld_op_header_encode(const struct veld_op_header *h, struct veld_buf *out)
	__attribute__((warn_unused_result));

/* Op id: BLAKE2b-256(VELD_DS_ID || header). */
void veld_op_id(const uint8_t *header, size_t len, uint8_t id[VELD_HASH_LEN]);

/* Body hash: BLAKE2b-256(VELD_DS_BODY || body). */
void veld_body_hash(const uint8_t *body, size_t len,
		    uint8_t out[VELD_HASH_LEN]);

/*
 * veld_record_derive - the id a replica gives a record it creates: the
 * first 16 bytes of BLAKE2b-256(VELD_DS_RECORD || author || seq as 8-byte
 * big-endian), seq being that of the op that creates it.  The id is still
 * opaque everywhere (random ids of older records stay valid); a runs block
 * names a derived record in one byte (docs/protocol.md §P2.1).
 */
void veld_record_derive(const uint8_t author[VELD_PK_LEN], uint64_t seq,
			uint8_t record[VELD_RECORD_LEN]);

/*
 * veld_body_begin - start a body on pk: packs the array header and the salt.
 * The caller then packs exactly one content value (canonically: map keys
 * sorted, see canon.h).  Returns 0 or -1 as msgpack-c's packers do.
 */
int veld_body_begin(msgpack_packer *pk, const uint8_t salt[VELD_SALT_LEN]);

/* Fill salt with random bytes (libsodium). */
void veld_salt_random(uint8_t salt[VELD_SALT_LEN]);

/*
 * veld_body_check - 0 if body is a canonical [salt, content] of at most
 * VELD_BODY_MAX bytes, else EBODYSIZE, a canon.h code or EBODYSHAPE.
 */
int veld_body_check(const uint8_t *body, size_t len)
	__attribute__((warn_unused_result));

/*
 * veld_body_open - veld_body_check that keeps the decoded body: on 0, u
 * holds [salt, content], borrowing body.  u must have been set up with
 * msgpack_unpacked_init(); the caller destroys it in every case.
 */
int veld_body_open(const uint8_t *body, size_t len, msgpack_unpacked *u)
	__attribute__((warn_unused_result));

/*
 * veld_op_create - sign a new op and append its bytes to out.
 *
 * The caller fills h->seq, has_prev/prev, hlc, record and kind; this sets
 * h->version, author (from key), body_len and body_hash, checks the body
 * (veld_body_check) and the header, signs, and appends
 * [header, signature, body] to out.  id (may be NULL) receives the op id.
 * Returns 0 or a VELD_E* code; out is unchanged on failure.
 */
int veld_op_create(const struct veld_key *key, struct veld_op_header *h,
		   const uint8_t *body, size_t body_len, struct veld_buf *out,
		   uint8_t id[VELD_HASH_LEN])
	__attribute__((warn_unused_result));

/*
 * veld_op_frame - append the envelope [header, sig, body|nil] to out, from
 * parts already checked (for instance a stored op whose body was erased:
 * body = NULL; sig = NULL frames bin(0), an op without its own signature).
 * Returns 0, VELD_ETOOBIG or VELD_ENOMEM.
 */
int veld_op_frame(const uint8_t *header, size_t header_len,
		  const uint8_t sig[VELD_SIG_LEN], const uint8_t *body,
		  size_t body_len, struct veld_buf *out)
	__attribute__((warn_unused_result));

/* Where veld_op_frame_at put an envelope's parts: offsets into out. */
struct veld_op_at {
	size_t header, sig, body; /* body: only when framed with one */
};

/* veld_op_frame, also telling where the parts landed (*at). */
int veld_op_frame_at(const uint8_t *header, size_t header_len,
		     const uint8_t sig[VELD_SIG_LEN], const uint8_t *body,
		     size_t body_len, struct veld_buf *out,
		     struct veld_op_at *at) __attribute__((warn_unused_result));

#endif /* VELD_OP_H */
