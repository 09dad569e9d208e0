/*
 * test.h - the tiny check library every test program uses.
 *
 * A failed CHECK prints file:line and both operands, counts the failure and
 * carries on, so one run shows every broken rule.  A test program ends with
 * `return test_summary("name");`, which prints "N passed, N failed" and
 * returns the exit code for ctest.
 */
#ifndef VELD_TEST_H
#define VELD_TEST_H

#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "dbfiles.h"
#include "err.h"

static int test_passed;
static int test_failed;

#define CHECK(cond)                                                            \
	do {                                                                   \
		if (cond) {                                                    \
			test_passed++;                                         \
		} else {                                                       \
			test_failed++;                                         \
			fprintf(stderr, "%s:%d: CHECK(%s) failed\n", __FILE__, \
				__LINE__, #cond);                              \
		}                                                              \
	} while (0)

#define CHECK_EQ(a, b)                                                         \
	do {                                                                   \
		long long va_ = (long long)(a), vb_ = (long long)(b);          \
		if (va_ == vb_) {                                              \
			test_passed++;                                         \
		} else {                                                       \
			test_failed++;                                         \
			fprintf(stderr, "%s:%d: %s == %s: %lld != %lld\n",     \
				__FILE__, __LINE__, #a, #b, va_, vb_);         \
		}                                                              \
	} while (0)

#define CHECK_U64(a, b)                                                        \
	do {                                                                   \
		uint64_t va_ = (a), vb_ = (b);                                 \
		if (va_ == vb_) {                                              \
			test_passed++;                                         \
		} else {                                                       \
			test_failed++;                                         \
			fprintf(stderr,                                        \
				"%s:%d: %s == %s: %#" PRIx64 " != %#" PRIx64   \
				"\n",                                          \
				__FILE__, __LINE__, #a, #b, va_, vb_);         \
		}                                                              \
	} while (0)

/* Compare VELD_E* codes and print them by name. */
#define CHECK_ERR(expr, want)                                                  \
	do {                                                                   \
		int got_ = (expr), want_ = (want);                             \
		if (got_ == want_) {                                           \
			test_passed++;                                         \
		} else {                                                       \
			test_failed++;                                         \
			fprintf(stderr, "%s:%d: %s: got %s, want %s\n",        \
				__FILE__, __LINE__, #expr,                     \
				veld_err_name(got_), veld_err_name(want_));    \
		}                                                              \
	} while (0)

#define CHECK_MEM(a, b, n)                                                     \
	do {                                                                   \
		if (memcmp((a), (b), (n)) == 0) {                              \
			test_passed++;                                         \
		} else {                                                       \
			test_failed++;                                         \
			fprintf(stderr, "%s:%d: %s and %s differ\n", __FILE__, \
				__LINE__, #a, #b);                             \
		}                                                              \
	} while (0)

static inline int test_summary(const char *name)
{
	printf("%s: %d passed, %d failed\n", name, test_passed, test_failed);
	return test_failed ? 1 : 0;
}

/* Deterministic pseudo-random numbers for property tests (splitmix64). */
static inline uint64_t test_rand(uint64_t *state)
{
	uint64_t z = (*state += UINT64_C(0x9e3779b97f4a7c15));
	z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
	z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
	return z ^ (z >> 31);
}

#endif /* VELD_TEST_H */
