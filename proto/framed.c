/*
 * framed.c - stored ops copied out to be sent; see framed.h.
 */
#include "framed.h"

#include <stdlib.h>
#include <string.h>

#include "err.h"

int veld_framed_init(struct veld_framed *f, size_t max_ops, size_t max_bytes,
		     size_t reserve)
{
	memset(f, 0, sizeof(*f));
	veld_buf_init(&f->env, max_bytes);
	f->max = max_ops;
	f->offs = malloc((max_ops + 1) * sizeof(*f->offs));
	f->ops = malloc((max_ops + 1) * sizeof(*f->ops));
	f->at = malloc((max_ops + 1) * sizeof(*f->at));
	if (!f->offs || !f->ops || !f->at ||
	    veld_buf_reserve(&f->env, reserve) < 0)
		return VELD_ENOMEM;
	f->offs[0] = 0;
	return 0;
}

int veld_framed_add(struct veld_framed *f, const struct veld_stored_op *op)
{
	size_t before = f->env.len;
	int rc;

	if (f->n == f->max)
		return VELD_ETOOBIG;
	rc = veld_op_frame_at(op->header, op->header_len, op->sig, op->body,
			      op->body_len, &f->env, &f->at[f->n]);
	if (rc < 0) {
		f->env.len = before;
		return rc;
	}
	/* The pointers are set by veld_framed_views, once env stops moving */
	f->ops[f->n] =
		(struct veld_op){.h = op->h,
				 .header_len = op->header_len,
				 .sig = op->sig,
				 .body = op->body,
				 .body_len = op->body ? op->body_len : 0};
	memcpy(f->ops[f->n].id, op->id, VELD_HASH_LEN);
	f->offs[++f->n] = f->env.len;
	return 0;
}

void veld_framed_cut(struct veld_framed *f, size_t n)
{
	if (n < f->n) {
		f->n = n;
		f->env.len = f->offs[n];
	}
}

const struct veld_op *veld_framed_views(struct veld_framed *f)
{
	for (size_t i = 0; i < f->n; i++) {
		struct veld_op *d = &f->ops[i];
		d->header = f->env.data + f->at[i].header;
		d->sig = d->sig ? f->env.data + f->at[i].sig : NULL;
		d->body = d->body ? f->env.data + f->at[i].body : NULL;
	}
	return f->ops;
}

struct veld_bytes veld_framed_envelope(const struct veld_framed *f, size_t i)
{
	return (struct veld_bytes){f->env.data + f->offs[i],
				   f->offs[i + 1] - f->offs[i]};
}

void veld_framed_release(struct veld_framed *f)
{
	veld_buf_release(&f->env);
	free(f->offs);
	free(f->ops);
	free(f->at);
	memset(f, 0, sizeof(*f));
}
