/*
 * salts.c - the tree of body salts; see salts.h and docs/protocol.md §5.1.
 */
#include "salts.h"

#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "err.h"

/* BLAKE2b's personalisation is exactly 16 bytes. */
static const uint8_t personal[crypto_generichash_blake2b_PERSONALBYTES] =
	"veld-salt-tree1";

static uint64_t size_at(unsigned depth)
{
	return 1ull << (VELD_SALT_DEPTH - depth);
}

uint64_t veld_salt_hi(const struct veld_salt_node *n)
{
	return n->lo + size_at(n->depth) - 1;
}

int veld_salt_node_at(uint64_t depth, uint64_t index, uint64_t *lo)
{
	if (depth > VELD_SALT_DEPTH || index >= (1ull << depth))
		return 0;
	*lo = index << (VELD_SALT_DEPTH - depth);
	return 1;
}

uint64_t veld_salt_index(const struct veld_salt_node *n)
{
	return n->lo >> (VELD_SALT_DEPTH - n->depth);
}

void veld_salt_children(const uint8_t seed[VELD_SALT_LEN],
			uint8_t left[VELD_SALT_LEN],
			uint8_t right[VELD_SALT_LEN])
{
	uint8_t out[2 * VELD_SALT_LEN];

	crypto_generichash_blake2b_salt_personal(
		out, sizeof(out), seed, VELD_SALT_LEN, NULL, 0, NULL, personal);
	memcpy(left, out, VELD_SALT_LEN);
	memcpy(right, out + VELD_SALT_LEN, VELD_SALT_LEN);
}

/* The child of seed on seq's side, at depth + 1. */
static void child_toward(const uint8_t seed[VELD_SALT_LEN], unsigned depth,
			 uint64_t seq, uint8_t out[VELD_SALT_LEN])
{
	uint8_t l[VELD_SALT_LEN], r[VELD_SALT_LEN];

	veld_salt_children(seed, l, r);
	memcpy(out, (seq >> (VELD_SALT_DEPTH - 1 - depth)) & 1 ? r : l,
	       VELD_SALT_LEN);
}

void veld_salt_derive(const struct veld_salt_node *n, uint64_t seq,
		      uint8_t salt[VELD_SALT_LEN])
{
	memcpy(salt, n->seed, VELD_SALT_LEN);
	for (unsigned d = n->depth; d < VELD_SALT_DEPTH; d++)
		child_toward(salt, d, seq, salt);
}

void veld_salt_walk_reset(struct veld_salt_walk *w)
{
	w->node = NULL;
}

void veld_salt_walk(struct veld_salt_walk *w, const struct veld_salt_node *n,
		    uint64_t seq, uint8_t salt[VELD_SALT_LEN])
{
	unsigned from = n->depth;

	if (w->node == n && w->leaf == seq) {
		memcpy(salt, w->path[VELD_SALT_DEPTH], VELD_SALT_LEN);
		return;
	}
	if (w->node == n) {
		/* the paths part below the highest bit in which they differ */
		uint64_t x = (w->leaf ^ seq) & VELD_SALT_SEQ_MAX;
		unsigned top = 63 - (unsigned)__builtin_clzll(x);
		from = VELD_SALT_DEPTH - 1 - top;
	} else {
		memcpy(w->path[n->depth], n->seed, VELD_SALT_LEN);
	}
	for (unsigned d = from; d < VELD_SALT_DEPTH; d++)
		child_toward(w->path[d], d, seq, w->path[d + 1]);
	w->node = n;
	w->leaf = seq;
	memcpy(salt, w->path[VELD_SALT_DEPTH], VELD_SALT_LEN);
}

int veld_salt_set_add(struct veld_salt_set *s, const struct veld_salt_node *n)
{
	if (s->n == s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 16;
		void *p = realloc(s->v, cap * sizeof(*s->v));
		if (!p)
			return VELD_ENOMEM;
		s->v = p;
		s->cap = cap;
	}
	s->v[s->n++] = *n;
	return 0;
}

void veld_salt_set_release(struct veld_salt_set *s)
{
	free(s->v);
	memset(s, 0, sizeof(*s));
}

int veld_salt_cover(const struct veld_salt_node *n, uint64_t lo, uint64_t hi,
		    struct veld_salt_set *out)
{
	uint64_t nhi = veld_salt_hi(n);
	struct veld_salt_node c[2];
	int rc;

	if (lo < n->lo)
		lo = n->lo;
	if (hi > nhi)
		hi = nhi;
	if (lo > hi)
		return 0;
	if (lo == n->lo && hi == nhi)
		return veld_salt_set_add(out, n);
	/* A part of it: not a leaf, so it has children (depth < 32). */
	c[0].depth = c[1].depth = (uint8_t)(n->depth + 1);
	c[0].lo = n->lo;
	c[1].lo = n->lo + size_at(c[0].depth);
	veld_salt_children(n->seed, c[0].seed, c[1].seed);
	if ((rc = veld_salt_cover(&c[0], lo, hi, out)) < 0)
		return rc;
	return veld_salt_cover(&c[1], lo, hi, out);
}

long veld_salt_find(const struct veld_salt_set *s, uint64_t seq)
{
	size_t a = 0, b = s->n;

	/* the last node with lo <= seq */
	while (a < b) {
		size_t m = a + (b - a) / 2;
		if (s->v[m].lo <= seq)
			a = m + 1;
		else
			b = m;
	}
	if (a == 0 || veld_salt_hi(&s->v[a - 1]) < seq)
		return -1;
	return (long)(a - 1);
}

int veld_salt_puncture(struct veld_salt_set *s, uint64_t seq)
{
	struct veld_salt_node left[VELD_SALT_DEPTH], right[VELD_SALT_DEPTH];
	struct veld_salt_node at;
	size_t nl = 0, nr = 0, add;
	long k = veld_salt_find(s, seq);

	if (k < 0)
		return 0;
	at = s->v[k];
	/* Down to seq: the child off the way is kept.  Those on the left
	 * come out rising, those on the right falling. */
	while (at.depth < VELD_SALT_DEPTH) {
		struct veld_salt_node c[2];
		int bit = (seq >> (VELD_SALT_DEPTH - 1 - at.depth)) & 1;
		c[0].depth = c[1].depth = (uint8_t)(at.depth + 1);
		c[0].lo = at.lo;
		c[1].lo = at.lo + size_at(c[0].depth);
		veld_salt_children(at.seed, c[0].seed, c[1].seed);
		if (bit)
			left[nl++] = c[0];
		else
			right[nr++] = c[1];
		at = c[bit];
	}
	add = nl + nr;
	if (s->n + add > s->cap) {
		size_t cap = s->cap;
		void *p;
		while (cap < s->n + add)
			cap = cap ? cap * 2 : 16;
		if (!(p = realloc(s->v, cap * sizeof(*s->v))))
			return VELD_ENOMEM;
		s->v = p;
		s->cap = cap;
	}
	/* node k becomes left[0..nl) then right[nr-1..0] */
	memmove(&s->v[k + (long)add], &s->v[k + 1],
		(s->n - (size_t)k - 1) * sizeof(*s->v));
	memcpy(&s->v[k], left, nl * sizeof(*left));
	for (size_t i = 0; i < nr; i++)
		s->v[(size_t)k + nl + i] = right[nr - 1 - i];
	s->n = s->n - 1 + add;
	return 1;
}

int veld_salt_fresh(uint64_t lo, struct veld_salt_set *out)
{
	struct veld_salt_node root = {0, 0, {0}};
	int rc;

	randombytes_buf(root.seed, sizeof(root.seed));
	rc = veld_salt_cover(&root, lo, VELD_SALT_SEQ_MAX, out);
	sodium_memzero(root.seed, sizeof(root.seed));
	return rc;
}
