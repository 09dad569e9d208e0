/*
 * runs.h - op batches on the wire as compressed runs (veld.4).
 *
 * A PUSH or OPS message carries its ops as one "runs block": the ops cut
 * into runs (consecutive ops of one author, seq rising by one, each prev
 * the id of the op before), and per op only what a receiver cannot
 * recompute: clock, record, kind and body (salt and content apart), each
 * in its column; a record id derived from the op (veld_record_derive) and
 * the ids of earlier ops of the block named in a content travel in short
 * forms; the salts of a run's bodies as the few seeds of the salt tree
 * (salts.h) that derive them, where the sender has them.  Per run travel
 * the author, the first seq, the first prev, and ONE signature: the last
 * op's.  The
 * receiver rebuilds every canonical header (veld_op_header_encode), so the
 * op ids, the stored op bytes and the signatures over them are exactly
 * those of the ops that were sent; the last op's signature authenticates
 * the whole run (docs/protocol.md §13.1).  The block is canonical msgpack,
 * compressed with raw deflate (RFC 1951, zlib).  docs/protocol.md §P2.1
 * is the normative description.
 *
 * Decoded ops come back as ordinary op envelopes (op.h) in a buffer the
 * struct veld_runs owns: the run's last op with its signature, the others
 * with an empty one (sig = NULL once decoded), which a replica accepts only
 * when the signed op of the run vouches for them.
 */
#ifndef VELD_RUNS_H
#define VELD_RUNS_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "op.h"
#include "replica.h" /* struct veld_bytes */
#include "salts.h"

/* Bytes of an inflated runs block: a message stays within VELD_MSG_MAX
 * (1 MiB) even when deflate cannot shrink the block at all. */
#define VELD_RUNS_MAX (1024 * 1024 - 4096)
/* At most this many salt nodes per run are sent (a run broken into more
 * pieces by erasures sends its salts as they are). */
#define VELD_RUN_NODES_MAX 256
/*
 * Compression level of the blocks we send.  Levels 2..9 are zlib's; level
 * 1 is zlib's fast (greedy) matcher searched further than zlib's own
 * level 1 (deflateTune: VELD_RUNS_TUNE_*), which on the wijklab blocks
 * gives within 3 % of level 6's bytes for 37 % fewer instructions
 * (docs/bench.md, "session of 2026-11-29, fourth").  Any level is read the
 * same way: the receiver only inflates.
 */
#define VELD_RUNS_LEVEL 1
#define VELD_RUNS_TUNE_INSERT 32 /* a match up to this long is indexed */
#define VELD_RUNS_TUNE_NICE 64	 /* a match this long ends the search */
#define VELD_RUNS_TUNE_CHAIN 64	 /* candidates tried per position */

/* Where each run sits in a decoded block. */
struct veld_run {
	size_t first; /* index of its first op */
	size_t n;     /* ops in the run, >= 1; op first + n - 1 is signed */
	uint64_t seq; /* its first op's seq */
	uint8_t author[VELD_PK_LEN];
	/* its salt nodes (salts.h): nodes[node_first .. + node_n) */
	size_t node_first, node_n;
};

/*
 * Where a sender finds the salt nodes it may hand over (salts.h): fn puts
 * into out (empty, owned by the caller) the kept nodes of author that
 * meet seqs lo .. hi, rising; returns 0 or a negative code.  The encoder
 * sends a node only over ops whose salts it derives, so a node that does
 * not match costs bytes, never an op; if fn fails, the run's salts travel
 * as they are.
 */
struct veld_salt_source {
	int (*fn)(void *ctx, const uint8_t author[VELD_PK_LEN], uint64_t lo,
		  uint64_t hi, struct veld_salt_set *out);
	void *ctx;
};

/* A decoded runs block. */
struct veld_runs {
	struct veld_buf env;	/* owned: the rebuilt op envelopes */
	struct veld_bytes *ops; /* owned array: n envelopes into env */
	struct veld_op *dec;	/* owned array: ops[i] decoded (op.h), its
				   pointers into env, as veld_op_decode would
				   give it (sig NULL: none of its own),
				   with content_ok set where the body's
				   content passed veld_content_check */
	size_t n;
	struct veld_run *runs; /* owned array */
	size_t nruns;
	/* owned array: the salt nodes the block handed over, run by run
	   (struct veld_run says which), each under ops of its run only */
	struct veld_salt_node *nodes;
	size_t nnodes;
	size_t bad; /* after a failed decode: the op it failed at, or n */
};

/*
 * veld_runs_encode - cut ops[0..n) (complete, decodable op envelopes, in
 * the order they are to be applied) into runs, pack the block and append
 * it, raw-deflated at level (1..9, level 1 as VELD_RUNS_LEVEL says; 0
 * stores it uncompressed, which is still valid DEFLATE: the fuzz seeds use
 * it), to out.  A new run starts wherever the author changes or an op is
 * not the linked successor of the one before.
 * The last op of every run must carry its own signature: else
 * VELD_ERUNSIG.  Returns 0, a veld_op_decode code (an op that does not
 * decode), VELD_ERUNSIG, VELD_ETOOBIG (block over VELD_RUNS_MAX or out's
 * maximum), VELD_EINVAL or VELD_ENOMEM; out is unchanged on failure.
 */
int veld_runs_encode(const struct veld_bytes *ops, size_t n, int level,
		     struct veld_buf *out) __attribute__((warn_unused_result));

/*
 * veld_runs_encode_ops - veld_runs_encode for ops already decoded: by
 * veld_op_decode, or read from a store, which checked them on the way in
 * (their bodies must be canonical [salt, content]; nothing is checked
 * again here).  With src, a run's salts travel as the nodes src gives
 * that derive them (docs/protocol.md §5.1), the others as they are; src
 * NULL: every salt as it is.  Same results.
 */
int veld_runs_encode_ops(const struct veld_op *ops, size_t n, int level,
			 const struct veld_salt_source *src,
			 struct veld_buf *out)
	__attribute__((warn_unused_result));

/*
 * veld_runs_decode - inflate and decode a runs block of at most max_ops
 * ops into *r (which it initialises; release it even on failure).
 *
 * Refuses: data that does not inflate, or with bytes after the end of the
 * deflate stream (VELD_EZIP); more than VELD_RUNS_MAX inflated bytes
 * (VELD_EZIPSIZE, a "deflate bomb": inflating stops there); a block that
 * is not canonical msgpack (canon.h codes) or not shaped as runs
 * (VELD_EMSGSHAPE); more than max_ops ops (VELD_ECOUNT, a column longer
 * than that, or VELD_EMSGSHAPE, run counts adding up to more); a record
 * reference to no earlier record of the block (VELD_ERECORDREF); a salt
 * node outside its run, out of order, or over an op without a body
 * (VELD_ESALTNODE); an op
 * reference in a content that names no earlier op of the block, sits
 * anywhere but a put's pred arrays or a delete's seen array, or is an ext
 * of another type or size (VELD_EOPREF); fields
 * a header may not hold (the header codes of op.h); a body that does not
 * check (veld_body_check codes).  r->bad then says which op.
 *
 * Linkage holds by construction: each op's prev is the id of the op before
 * it.  Salts a node derives are put in the bodies (and so are covered by
 * the run's signature like the rest).  Signatures are NOT checked: see
 * veld_runs_verify.
 */
int veld_runs_decode(const uint8_t *z, size_t zlen, size_t max_ops,
		     struct veld_runs *r) __attribute__((warn_unused_result));

/*
 * veld_runs_verify - check the signature that ends each run, which
 * authenticates the whole run (§13.1).  Returns 0, or VELD_ESIG with *bad
 * set to the index of the op whose signature failed.
 */
int veld_runs_verify(const struct veld_runs *r, size_t *bad)
	__attribute__((warn_unused_result));

/* Free what *r owns; a released or zeroed struct is fine. */
void veld_runs_release(struct veld_runs *r);

#endif /* VELD_RUNS_H */
