/*
 * framed.h - ops copied out of the store to be sent: their envelopes back
 * to back in one buffer, and each op's decoded view (op.h) into it.
 *
 * A store hands out an op only for the length of a callback (SQLite's row
 * memory); whoever sends ops (veldd serving a pull, veld pushing its own)
 * copies them here and encodes the message from the views
 * (veld_msg_ops_decoded, veld_msg_push_decoded), so that no op is decoded
 * again on its way out: the store decoded its header, and checked it all
 * on the way in.
 *
 *	struct veld_framed f;
 *	if (veld_framed_init(&f, VELD_OPS_MAX, VELD_RUNS_MAX - 64, 0) < 0) ...
 *	in the store's callback: rc = veld_framed_add(&f, op);  (ETOOBIG: full)
 *	maybe veld_framed_cut(&f, n);
 *	ops = veld_framed_views(&f);  ...send f.n of them...
 *	veld_framed_release(&f);
 *
 * Ownership: f owns everything; views stay valid until the next add or
 * release.  Not thread-safe (one owner).
 */
#ifndef VELD_FRAMED_H
#define VELD_FRAMED_H

#include <stddef.h>

#include "buf.h"
#include "op.h"
#include "replica.h" /* struct veld_bytes */
#include "store.h"

struct veld_framed {
	struct veld_buf env;   /* the envelopes, back to back */
	size_t *offs;	       /* op i's envelope: env[offs[i], offs[i + 1]) */
	struct veld_op *ops;   /* the views, complete after veld_framed_views */
	struct veld_op_at *at; /* where op i's parts sit in env */
	size_t n, max;
};

/*
 * Room for max_ops ops and max_bytes of envelopes, reserve of them
 * allocated at once (0: as they come).  Returns 0 or VELD_ENOMEM (release
 * it all the same).
 */
int veld_framed_init(struct veld_framed *f, size_t max_ops, size_t max_bytes,
		     size_t reserve) __attribute__((warn_unused_result));

/* Copy a stored op in.  Returns 0; VELD_ETOOBIG when it would pass either
 * maximum, or VELD_ENOMEM (f unchanged on failure). */
int veld_framed_add(struct veld_framed *f, const struct veld_stored_op *op)
	__attribute__((warn_unused_result));

/* Keep the first n ops only (n <= f->n). */
void veld_framed_cut(struct veld_framed *f, size_t n);

/* The n views, pointing into env. */
const struct veld_op *veld_framed_views(struct veld_framed *f);

/* Op i's envelope. */
struct veld_bytes veld_framed_envelope(const struct veld_framed *f, size_t i);

/* Free what f owns; a zeroed or released struct is fine. */
void veld_framed_release(struct veld_framed *f);

#endif /* VELD_FRAMED_H */
