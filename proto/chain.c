/*
 * chain.c - authenticate a run of one author's ops with one signature;
 * see chain.h.
 */
#include "chain.h"

#include <stdlib.h>
#include <string.h>

#include "err.h"

/* Sort order: author, then seq from high to low (successors first);
 * qsort over pointers to the ops, so the comparison needs no context. */
static int cmp_op(const void *a, const void *b)
{
	const struct veld_op *x = *(const struct veld_op *const *)a;
	const struct veld_op *y = *(const struct veld_op *const *)b;
	int c = memcmp(x->h.author, y->h.author, VELD_PK_LEN);

	if (c)
		return c;
	return (x->h.seq < y->h.seq) - (x->h.seq > y->h.seq);
}

/* Is ops[j] the authentic successor of ops[i] (same author: sorted)? */
static int vouches(const struct veld_op *ops, const uint8_t *ok, size_t i,
		   size_t j)
{
	return ok[j] && ops[j].h.seq == ops[i].h.seq + 1 && ops[j].h.has_prev &&
	       memcmp(ops[j].h.prev, ops[i].id, VELD_HASH_LEN) == 0;
}

int veld_chain_cover(const struct veld_op *ops, size_t n, uint8_t *ok)
{
	const struct veld_op **by;
	size_t *idx;

	memset(ok, 0, n);
	if (n == 0)
		return 0;
	idx = malloc(n * sizeof(*idx));
	by = malloc(n * sizeof(*by));
	if (!idx || !by) {
		free(idx);
		free(by);
		return VELD_ENOMEM;
	}
	/* An insertion sort here was quadratic in a run's length: a pulled
	 * batch of 1,024 ops holds runs of hundreds, in rising seq. */
	for (size_t i = 0; i < n; i++)
		by[i] = &ops[i];
	qsort(by, n, sizeof(*by), cmp_op);
	for (size_t i = 0; i < n; i++)
		idx[i] = (size_t)(by[i] - ops);
	free(by);

	/* Successors come before their predecessors: when op i is judged,
	 * every op that could vouch for it has been.  The candidates are
	 * the ops of the same author with seq + 1, just before i's own
	 * block of equal seqs (more than one only if the author forked). */
	for (size_t a = 0; a < n; a++) {
		size_t i = idx[a], b = a;
		int vouched = 0;

		while (b > 0 &&
		       memcmp(ops[idx[b - 1]].h.author, ops[i].h.author,
			      VELD_PK_LEN) == 0 &&
		       ops[idx[b - 1]].h.seq == ops[i].h.seq)
			b--;
		while (b > 0 && !vouched &&
		       memcmp(ops[idx[b - 1]].h.author, ops[i].h.author,
			      VELD_PK_LEN) == 0 &&
		       ops[idx[b - 1]].h.seq == ops[i].h.seq + 1) {
			vouched = vouches(ops, ok, i, idx[b - 1]);
			b--;
		}
		ok[i] = vouched || veld_op_verify(&ops[i]) == 0;
	}
	free(idx);
	return 0;
}
