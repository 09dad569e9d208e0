/*
 * salts.h - body salts from a puncturable tree of seeds (docs/protocol.md
 * §5.1).
 *
 * Every body starts with a 16-byte salt (op.h) so that its hash reveals
 * nothing once the body is erased.  A replica does not draw each salt on
 * its own: the salt of its op with seq s is leaf s of a binary tree of
 * 16-byte seeds, depth 32 over seq 0 .. 2^32 - 1, whose root it drew at
 * random.  A node's two children are the two halves of BLAKE2b-256 of its
 * seed (personalised "veld-salt-tree1"), so the seed of a node yields the
 * salts of exactly the seqs below it and of no other: a message hands over
 * the salts of a run of ops as the few seeds that cover the run (about two
 * per doubling of its length) instead of 16 bytes per op.
 *
 * Erasing a record erases its ops' salts: every kept node above such an op
 * is "punctured", replaced by the children along the way down that do not
 * lie above it, so that what is kept no longer derives the erased salt.
 * A seq above 2^32 - 1 has no node (its salt travels as it is).
 *
 * Sets of nodes are kept sorted by their first seq, and disjoint.  All
 * functions are pure but for veld_salt_fresh (randombytes).  Errors:
 * VELD_ENOMEM only.
 */
#ifndef VELD_SALTS_H
#define VELD_SALTS_H

#include <stddef.h>
#include <stdint.h>

#include "op.h" /* VELD_SALT_LEN */

#define VELD_SALT_DEPTH 32
#define VELD_SALT_SEQ_MAX 0xffffffffull /* the last seq with a node */

/* One node: the seqs lo .. veld_salt_hi(n), 2^(32 - depth) of them. */
struct veld_salt_node {
	uint64_t lo;
	uint8_t depth; /* 0: the root, every seq; 32: one seq (its salt) */
	uint8_t seed[VELD_SALT_LEN];
};

/* Nodes sorted by lo, disjoint; owned by the set. */
struct veld_salt_set {
	struct veld_salt_node *v;
	size_t n, cap;
};

/* The last seq under n. */
uint64_t veld_salt_hi(const struct veld_salt_node *n);

/*
 * 1 if (depth, index) names a node (depth <= 32, index < 2^depth), with
 * its first seq in *lo; else 0.
 */
int veld_salt_node_at(uint64_t depth, uint64_t index, uint64_t *lo);

/* The index of n at its depth (lo >> (32 - depth)). */
uint64_t veld_salt_index(const struct veld_salt_node *n);

/* The seeds of a node's two children (left: the lower seqs). */
void veld_salt_children(const uint8_t seed[VELD_SALT_LEN],
			uint8_t left[VELD_SALT_LEN],
			uint8_t right[VELD_SALT_LEN]);

/* The salt of seq, which n must cover (one hash per level below n). */
void veld_salt_derive(const struct veld_salt_node *n, uint64_t seq,
		      uint8_t salt[VELD_SALT_LEN]);

/*
 * Salts of rising seqs under one node at about two hashes each: the walk
 * keeps the path to the last leaf and derives only where the next one's
 * path parts from it.  Zero it (or veld_salt_walk_reset) before use and
 * whenever the node it was given may have changed in place.
 */
struct veld_salt_walk {
	const struct veld_salt_node *node; /* the node of the kept path */
	uint64_t leaf;			   /* the seq of the kept path */
	uint8_t path[VELD_SALT_DEPTH + 1][VELD_SALT_LEN];
};

void veld_salt_walk_reset(struct veld_salt_walk *w);
void veld_salt_walk(struct veld_salt_walk *w, const struct veld_salt_node *n,
		    uint64_t seq, uint8_t salt[VELD_SALT_LEN]);

/* Append one node to s (the caller keeps s sorted and disjoint). */
int veld_salt_set_add(struct veld_salt_set *s, const struct veld_salt_node *n)
	__attribute__((warn_unused_result));
void veld_salt_set_release(struct veld_salt_set *s);

/*
 * Append to out, rising, the fewest nodes under n that cover exactly the
 * seqs of lo .. hi that n covers (none if they do not meet).
 */
int veld_salt_cover(const struct veld_salt_node *n, uint64_t lo, uint64_t hi,
		    struct veld_salt_set *out)
	__attribute__((warn_unused_result));

/* The index in s of the node that covers seq, or -1. */
long veld_salt_find(const struct veld_salt_set *s, uint64_t seq);

/*
 * Take seq out of s: the node covering it (if any) is replaced by the
 * nodes below it that cover all its other seqs.  Returns 1 if a node was
 * punctured, 0 if none covered seq, or VELD_ENOMEM (s unchanged).
 */
int veld_salt_puncture(struct veld_salt_set *s, uint64_t seq)
	__attribute__((warn_unused_result));

/* A new tree from a random root: out gets the nodes covering exactly
 * lo .. VELD_SALT_SEQ_MAX (lo <= VELD_SALT_SEQ_MAX). */
int veld_salt_fresh(uint64_t lo, struct veld_salt_set *out)
	__attribute__((warn_unused_result));

#endif /* VELD_SALTS_H */
