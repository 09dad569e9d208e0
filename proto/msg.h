/*
 * msg.h - the sync messages of the WebSocket subprotocol "veld.4".
 *
 * Each WebSocket binary message is one canonical msgpack array whose first
 * element is the message type; docs/protocol.md Part 2 is the normative
 * description of every message, the order they may come in, and the
 * limits.  This module only encodes and decodes (bounded, canonical, see
 * canon.h) and signs/verifies the three signed messages; the state machines
 * live in server/session.c and client/sync.c.
 *
 * Decoded messages borrow the input buffer: keys, signatures, strings and
 * the compressed runs block point into it.  PUSH and OPS carry their ops
 * as one compressed runs block (runs.h); veld_msg_decode only finds it,
 * veld_msg_open_runs inflates and rebuilds the ops (the costly part, which
 * veldd does on its ingest threads instead, with runs.h directly).
 */
#ifndef VELD_MSG_H
#define VELD_MSG_H

#include <stddef.h>
#include <stdint.h>

#include <msgpack.h>

#include "buf.h"
#include "key.h"
#include "op.h"
#include "replica.h"
#include "runs.h"

/* Version 4: ops travel as compressed runs (docs/protocol.md §P2.1) that
 * name derived records and earlier ops of the block in short forms and
 * hand over salts as nodes of the salt tree (§5.1); version 3 sent the
 * same runs with every salt, version 2 without the short forms. */
#define VELD_PROTO_VERSION 4
#define VELD_SUBPROTOCOL "veld.4"
/* Earlier subprotocols: veldd answers them with a clear ERROR only. */
#define VELD_SUBPROTOCOL_V3 "veld.3"
#define VELD_SUBPROTOCOL_V2 "veld.2"
#define VELD_SUBPROTOCOL_V1 "veld.1"

/* Limits (docs/protocol.md §P6). */
#define VELD_MSG_MAX (1024 * 1024) /* bytes in one message */
#define VELD_BATCH_MAX 1024	   /* ops in one PUSH message */
#define VELD_OPS_MAX 1024	   /* ops in one OPS message */
#define VELD_CODE_MAX 32	   /* bytes of a typed enrolment code */
#define VELD_TEXT_MAX 256	   /* bytes of an error message text */
#define VELD_NONCE_LEN 32

/* Domain prefixes of the signed messages (NUL included, as in op.h). */
#define VELD_DS_AUTH "veld-auth-1"
#define VELD_DS_ENROL "veld-enrol-1"
#define VELD_DS_RECEIPT "veld-receipt-1"

enum veld_msg_type {
	VELD_MSG_HELLO = 1,   /* server: [1, version, server_key, nonce] */
	VELD_MSG_AUTH = 2,    /* client: [2, device_key, sig] */
	VELD_MSG_ENROL = 3,   /* client: [3, device_key, code, name, sig] */
	VELD_MSG_WELCOME = 4, /* server: [4, role, name, area|nil, your_seq] */
	VELD_MSG_PUSH = 5,    /* client: [5, batch, runs] */
	VELD_MSG_RECEIPT = 6, /* server: [6, batch, seq, head, sig] */
	VELD_MSG_PULL = 7,    /* client: [7, cursor] */
	VELD_MSG_OPS = 8,     /* server: [8, runs, cursor, more] */
	VELD_MSG_ACK = 9,     /* client: [9, cursor] */
	VELD_MSG_ERROR = 10,  /* either: [10, code, text, fatal] */
};

/* A decoded message; which fields are set depends on type. */
struct veld_msg {
	int type;
	uint64_t version;
	const uint8_t *key;   /* HELLO: server key; AUTH/ENROL: device key */
	const uint8_t *nonce; /* HELLO */
	const uint8_t *sig;   /* AUTH, ENROL, RECEIPT */
	const char *code;     /* ENROL (not NUL-terminated) */
	size_t code_len;
	const char *name; /* ENROL, WELCOME */
	size_t name_len;
	const char *role; /* WELCOME */
	size_t role_len;
	const char *area; /* WELCOME; NULL if none */
	size_t area_len;
	uint64_t batch;	     /* PUSH, RECEIPT */
	uint64_t seq;	     /* WELCOME (your_seq), RECEIPT */
	const uint8_t *head; /* RECEIPT */
	uint64_t cursor;     /* PULL, OPS, ACK */
	int more;	     /* OPS */
	const uint8_t *runs; /* PUSH, OPS: the compressed runs block */
	size_t runs_len;
	const struct veld_bytes *ops; /* after veld_msg_open_runs: the ops */
	size_t nops;
	struct veld_runs rs; /* owned by veld_msg_open_runs */
	int64_t err;	     /* ERROR: a VELD_E* code */
	const char *text;    /* ERROR */
	size_t text_len;
	int fatal; /* ERROR */
	msgpack_unpacked u;
};

/*
 * veld_msg_decode - decode one message.  Returns 0, EMSGSIZE, a canon.h
 * code (not canonical msgpack), EMSGTYPE (unknown type) or EMSGSHAPE
 * (wrong fields for its type).  Always release m with veld_msg_release().
 */
int veld_msg_decode(const uint8_t *buf, size_t len, struct veld_msg *m)
	__attribute__((warn_unused_result));
void veld_msg_release(struct veld_msg *m);

/*
 * veld_msg_open_runs - inflate and rebuild the ops of a decoded PUSH or OPS
 * (veld_runs_decode, at most VELD_BATCH_MAX or VELD_OPS_MAX ops): sets
 * m->ops and m->nops.  Signatures are not checked.  Returns 0 or a
 * veld_runs_decode code (m->rs.bad: the op it failed at).
 */
int veld_msg_open_runs(struct veld_msg *m) __attribute__((warn_unused_result));

/* Name of a message type ("HELLO", ...), or "unknown". */
const char *veld_msg_name(int type);

/*
 * Encoders: each appends one message to out (reset it first if needed).
 * Return 0, VELD_ETOOBIG (exceeds out's maximum) or VELD_ENOMEM.
 */
int veld_msg_hello(struct veld_buf *out, const uint8_t server_key[32],
		   const uint8_t nonce[VELD_NONCE_LEN])
	__attribute__((warn_unused_result));
int veld_msg_auth(struct veld_buf *out, const struct veld_key *device,
		  const uint8_t server_key[32],
		  const uint8_t nonce[VELD_NONCE_LEN])
	__attribute__((warn_unused_result));
int veld_msg_enrol(struct veld_buf *out, const struct veld_key *device,
		   const uint8_t server_key[32],
		   const uint8_t nonce[VELD_NONCE_LEN], const char *code,
		   const char *name) __attribute__((warn_unused_result));
int veld_msg_welcome(struct veld_buf *out, const char *role, const char *name,
		     const char *area, uint64_t your_seq)
	__attribute__((warn_unused_result));
/* ops: n complete op envelopes (1..VELD_BATCH_MAX), sent as compressed
 * runs (veld_runs_encode: every run must end with a signed op, else
 * VELD_ERUNSIG). */
int veld_msg_push(struct veld_buf *out, uint64_t batch,
		  const struct veld_bytes *ops, size_t n)
	__attribute__((warn_unused_result));
/* The same from ops already decoded (framed.h: veld sends its own stored
 * ops without decoding them again), their salts as the salt nodes src
 * gives where it can (veld_runs_encode_ops; src may be NULL). */
int veld_msg_push_decoded(struct veld_buf *out, uint64_t batch,
			  const struct veld_op *ops, size_t n,
			  const struct veld_salt_source *src)
	__attribute__((warn_unused_result));
int veld_msg_receipt(struct veld_buf *out, const struct veld_key *server,
		     const uint8_t device_key[32], uint64_t batch, uint64_t seq,
		     const uint8_t head[VELD_HASH_LEN])
	__attribute__((warn_unused_result));
int veld_msg_pull(struct veld_buf *out, uint64_t cursor)
	__attribute__((warn_unused_result));
/* ops: n (0..VELD_OPS_MAX) envelopes, as for veld_msg_push. */
int veld_msg_ops(struct veld_buf *out, const struct veld_bytes *ops, size_t n,
		 uint64_t cursor, int more) __attribute__((warn_unused_result));
/* The same from ops already decoded (veld_runs_encode_ops, framed.h):
 * veldd sends its stored ops without decoding them again, their salts as
 * the salt nodes src gives where it can (src may be NULL). */
int veld_msg_ops_decoded(struct veld_buf *out, const struct veld_op *ops,
			 size_t n, uint64_t cursor, int more,
			 const struct veld_salt_source *src)
	__attribute__((warn_unused_result));
int veld_msg_ack(struct veld_buf *out, uint64_t cursor)
	__attribute__((warn_unused_result));
int veld_msg_error(struct veld_buf *out, int err, const char *text, int fatal)
	__attribute__((warn_unused_result));

/* Check the proof of key possession in an AUTH or ENROL message against
 * the server key and the nonce of this connection: 0 or VELD_EAUTH. */
int veld_msg_verify_proof(const struct veld_msg *m,
			  const uint8_t server_key[32],
			  const uint8_t nonce[VELD_NONCE_LEN])
	__attribute__((warn_unused_result));

/* Check a RECEIPT's signature for this device: 0 or VELD_ESIG. */
int veld_msg_verify_receipt(const struct veld_msg *m,
			    const uint8_t server_key[32],
			    const uint8_t device_key[32])
	__attribute__((warn_unused_result));

#endif /* VELD_MSG_H */
