/*
 * test_salts.c - the salt tree (proto/salts.h, docs/protocol.md §5.1):
 * the vectors of the protocol document, covers, punctures and the walk.
 */
#include <sodium.h>
#include <stdlib.h>

#include "salts.h"
#include "test.h"

static void hex(const char *h, uint8_t *out, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		unsigned v;
		CHECK(sscanf(h + 2 * i, "%2x", &v) == 1);
		out[i] = (uint8_t)v;
	}
}

static struct veld_salt_node root_0_15(void)
{
	struct veld_salt_node root = {0, 0, {0}};

	for (int i = 0; i < 16; i++)
		root.seed[i] = (uint8_t)i;
	return root;
}

/* The vectors of docs/protocol.md §5.1 (computed there independently,
 * with Python's hashlib.blake2b(person=b"veld-salt-tree1")). */
static void vectors(void)
{
	static const struct {
		uint64_t seq;
		const char *salt;
	} v[] = {
		{0, "db221248f12d62c1ae8ea5eda1199f6e"},
		{1, "c09ddae025ce1476e848e694b9ecd1b1"},
		{5, "0098285fdd8c5df76506d0437cd8ea51"},
		{1000, "ec1f2f6667537edc39a2430d22e45dac"},
		{0xffffffff, "b7f83998a346a254ead0c79830128321"},
	};
	struct veld_salt_node root = root_0_15();
	uint8_t l[16], r[16], want[16], got[16];

	veld_salt_children(root.seed, l, r);
	hex("70921f04d29192bb79e2e28c8901a5c1", want, 16);
	CHECK(memcmp(l, want, 16) == 0);
	hex("04dc4405deb2d9bec6ff33b03832e975", want, 16);
	CHECK(memcmp(r, want, 16) == 0);
	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		hex(v[i].salt, want, 16);
		veld_salt_derive(&root, v[i].seq, got);
		CHECK(memcmp(got, want, 16) == 0);
	}
}

static void node_names(void)
{
	struct veld_salt_node n = {0, 0, {0}};
	uint64_t lo;

	CHECK(veld_salt_node_at(0, 0, &lo) && lo == 0);
	CHECK(!veld_salt_node_at(0, 1, &lo));
	CHECK(veld_salt_node_at(32, 0xffffffff, &lo) && lo == 0xffffffff);
	CHECK(!veld_salt_node_at(32, 0x100000000ull, &lo));
	CHECK(!veld_salt_node_at(33, 0, &lo));
	CHECK(veld_salt_node_at(23, 1, &lo) && lo == 512);
	n.lo = 512;
	n.depth = 23;
	CHECK_U64(veld_salt_hi(&n), 1023);
	CHECK_U64(veld_salt_index(&n), 1);
	n.lo = 0;
	n.depth = 0;
	CHECK_U64(veld_salt_hi(&n), VELD_SALT_SEQ_MAX);
}

/* Every node of s lies in lo..hi, they are rising and disjoint, they
 * cover lo..hi exactly, and each derives what the root derives. */
static void check_cover(const struct veld_salt_node *root,
			const struct veld_salt_set *s, uint64_t lo, uint64_t hi)
{
	uint64_t next = lo;
	uint8_t a[16], b[16];

	for (size_t i = 0; i < s->n; i++) {
		uint64_t nlo = s->v[i].lo, nhi = veld_salt_hi(&s->v[i]);
		CHECK_U64(nlo, next);
		CHECK(nhi <= hi);
		next = nhi + 1;
		/* first and last seq under it, the same from the root */
		veld_salt_derive(&s->v[i], nlo, a);
		veld_salt_derive(root, nlo, b);
		CHECK(memcmp(a, b, 16) == 0);
		veld_salt_derive(&s->v[i], nhi, a);
		veld_salt_derive(root, nhi, b);
		CHECK(memcmp(a, b, 16) == 0);
	}
	CHECK_U64(next, hi + 1);
}

static void covers(void)
{
	static const uint64_t r[][2] = {
		{1, 611},	  {0, 0},
		{7, 7},		  {1, 1024},
		{512, 1023},	  {1000, 70000},
		{123456, 123457}, {1, VELD_SALT_SEQ_MAX}};
	struct veld_salt_node root = root_0_15();

	for (size_t i = 0; i < sizeof(r) / sizeof(r[0]); i++) {
		struct veld_salt_set s = {0};
		CHECK_EQ(veld_salt_cover(&root, r[i][0], r[i][1], &s), 0);
		check_cover(&root, &s, r[i][0], r[i][1]);
		/* the fewest: at most two per level */
		CHECK(s.n <= 2 * VELD_SALT_DEPTH);
		veld_salt_set_release(&s);
	}
	{ /* an aligned block is one node; 1..611 takes 9 + 3 */
		struct veld_salt_set s = {0};
		CHECK_EQ(veld_salt_cover(&root, 512, 1023, &s), 0);
		CHECK_EQ(s.n, 1);
		CHECK_EQ(s.v[0].depth, 23);
		veld_salt_set_release(&s);
		CHECK_EQ(veld_salt_cover(&root, 1, 611, &s), 0);
		CHECK_EQ(s.n, 12);
		veld_salt_set_release(&s);
	}
	{ /* a cover under a node: only where they meet */
		struct veld_salt_set s = {0}, t = {0};
		CHECK_EQ(veld_salt_cover(&root, 512, 1023, &s), 0);
		CHECK_EQ(veld_salt_cover(&s.v[0], 1000, 5000, &t), 0);
		check_cover(&root, &t, 1000, 1023);
		veld_salt_set_release(&t);
		CHECK_EQ(veld_salt_cover(&s.v[0], 0, 511, &t), 0);
		CHECK_EQ(t.n, 0);
		veld_salt_set_release(&t);
		veld_salt_set_release(&s);
	}
}

static void punctures(void)
{
	struct veld_salt_node root = root_0_15();
	struct veld_salt_set s = {0};
	uint8_t a[16], b[16];
	uint64_t gone[] = {700, 1, 611, 300, 301};

	CHECK_EQ(veld_salt_cover(&root, 1, 611, &s), 0);
	for (size_t k = 0; k < sizeof(gone) / sizeof(gone[0]); k++) {
		CHECK_EQ(veld_salt_puncture(&s, gone[k]), gone[k] != 700);
		CHECK_EQ(veld_salt_find(&s, gone[k]), -1);
	}
	CHECK_EQ(veld_salt_puncture(&s, 1), 0); /* already out */
	/* every other seq of 1..611 still derives its salt, and no node
	 * lies above a punctured one */
	for (uint64_t q = 1; q <= 611; q++) {
		long at = veld_salt_find(&s, q);
		int out = q == 1 || q == 611 || q == 300 || q == 301;
		CHECK_EQ(at < 0, out);
		if (at < 0)
			continue;
		veld_salt_derive(&s.v[at], q, a);
		veld_salt_derive(&root, q, b);
		CHECK(memcmp(a, b, 16) == 0);
	}
	for (size_t i = 1; i < s.n; i++)
		CHECK(s.v[i].lo > veld_salt_hi(&s.v[i - 1]));
	/* puncturing a leaf takes it away */
	{
		struct veld_salt_set t = {0};
		CHECK_EQ(veld_salt_cover(&root, 9, 9, &t), 0);
		CHECK_EQ(t.n, 1);
		CHECK_EQ(veld_salt_puncture(&t, 9), 1);
		CHECK_EQ(t.n, 0);
		veld_salt_set_release(&t);
	}
	veld_salt_set_release(&s);
}

/* The walk gives what derive gives, for rising and random seqs. */
static void walks(void)
{
	struct veld_salt_node root = root_0_15();
	struct veld_salt_set s = {0};
	struct veld_salt_walk w;
	uint8_t a[16], b[16];
	int same = 1;

	CHECK_EQ(veld_salt_cover(&root, 100, 5000, &s), 0);
	veld_salt_walk_reset(&w);
	for (uint64_t q = 100; q <= 5000; q++) {
		long at = veld_salt_find(&s, q);
		veld_salt_walk(&w, &s.v[at], q, a);
		veld_salt_derive(&root, q, b);
		same &= memcmp(a, b, 16) == 0;
	}
	CHECK(same);
	for (int i = 0; i < 2000; i++) {
		uint64_t q = 100 + randombytes_uniform(4901);
		long at = veld_salt_find(&s, q);
		veld_salt_walk(&w, &s.v[at], q, a);
		veld_salt_derive(&root, q, b);
		same &= memcmp(a, b, 16) == 0;
	}
	CHECK(same);
	veld_salt_set_release(&s);
}

static void fresh(void)
{
	struct veld_salt_set a = {0}, b = {0};

	CHECK_EQ(veld_salt_fresh(42, &a), 0);
	CHECK_EQ(veld_salt_fresh(42, &b), 0);
	CHECK(a.n > 0 && a.n <= VELD_SALT_DEPTH);
	CHECK_U64(a.v[0].lo, 42);
	CHECK_U64(veld_salt_hi(&a.v[a.n - 1]), VELD_SALT_SEQ_MAX);
	for (size_t i = 1; i < a.n; i++)
		CHECK_U64(a.v[i].lo, veld_salt_hi(&a.v[i - 1]) + 1);
	/* two trees, two sets of seeds */
	CHECK(memcmp(a.v[0].seed, b.v[0].seed, 16) != 0);
	veld_salt_set_release(&a);
	veld_salt_set_release(&b);
}

int main(void)
{
	if (sodium_init() < 0)
		return 1;
	vectors();
	node_names();
	covers();
	punctures();
	walks();
	fresh();
	return test_summary("test_salts");
}
