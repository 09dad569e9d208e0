/*
 * test_code.c - enrolment codes (server/code.c): the format of a fresh
 * code, how what a person typed is read back (Crockford's rules), the hash
 * that is stored, and issuing a code into a store.
 *
 * server/code.c is compiled into this test (tests/CMakeLists.txt), as it
 * belongs to veldd, not to libveld.
 */
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "code.h"
#include "err.h"
#include "store.h"
#include "test.h"

/* The definition, written out: BLAKE2b-256("veld-code-1" 0x00 || sym). */
static void expected_hash(const char *sym, uint8_t out[32])
{
	static const char ds[] = "veld-code-1";
	uint8_t msg[sizeof(ds) + VELD_CODE_SYMBOLS];

	memcpy(msg, ds, sizeof(ds)); /* with its NUL */
	memcpy(msg + sizeof(ds), sym, VELD_CODE_SYMBOLS);
	crypto_generichash(out, 32, msg, sizeof(msg), NULL, 0);
}

static int in_alphabet(char c)
{
	return c && strchr(VELD_CODE_ALPHABET, c) != NULL;
}

static void test_alphabet(void)
{
	CHECK_EQ(strlen(VELD_CODE_ALPHABET), 32);
	CHECK(strpbrk(VELD_CODE_ALPHABET, "ILOU") == NULL);
	CHECK_EQ(sizeof(VELD_DS_CODE), 12); /* "veld-code-1" and its NUL */
}

static void test_generate(void)
{
	int counts[32] = {0};

	for (int n = 0; n < 2000; n++) {
		char code[VELD_CODE_BUF], sym[VELD_CODE_SYMBOLS + 1];
		int ok = 1;

		veld_code_generate(code);
		ok &= strlen(code) == 11 && code[5] == '-';
		for (int i = 0; i < 11; i++)
			ok &= i == 5 || in_alphabet(code[i]);
		if (!ok) {
			CHECK(ok);
			fprintf(stderr, "bad code '%s'\n", code);
			return;
		}
		/* A fresh code reads back as itself. */
		CHECK_ERR(veld_code_normalise(code, sym), 0);
		CHECK(memcmp(sym, code, 5) == 0 &&
		      memcmp(sym + 5, code + 6, 5) == 0);
		for (int i = 0; i < 10; i++)
			counts[strchr(VELD_CODE_ALPHABET, sym[i]) -
			       VELD_CODE_ALPHABET]++;
	}
	/* 20,000 symbols: each of the 32 about 625 times. */
	for (int i = 0; i < 32; i++)
		CHECK(counts[i] > 400 && counts[i] < 850);
}

/* typed normalises to want (NULL: refused with VELD_ECODE). */
static void norm(const char *typed, const char *want)
{
	char sym[VELD_CODE_SYMBOLS + 1];
	int rc = veld_code_normalise(typed, sym);

	if (want) {
		CHECK_ERR(rc, 0);
		if (strcmp(sym, want)) {
			CHECK(strcmp(sym, want) == 0);
			fprintf(stderr, "'%s' -> '%s', want '%s'\n", typed, sym,
				want);
		}
	} else {
		CHECK_ERR(rc, VELD_ECODE);
		CHECK_EQ(sym[0], 0);
	}
}

static void test_normalise(void)
{
	norm("7K3QD-M9XWP", "7K3QDM9XWP");
	norm("7k3qd-m9xwp", "7K3QDM9XWP");     /* any case */
	norm("7K3QDM9XWP", "7K3QDM9XWP");      /* no dash */
	norm(" 7K3 QD-M9 XWP ", "7K3QDM9XWP"); /* spaces */
	norm("7K3QD--M9XWP", "7K3QDM9XWP");    /* any number of dashes */
	norm("OoIiLl0000", "0011110000");      /* O -> 0, I and L -> 1 */
	norm("ABCDEFGHJK", "ABCDEFGHJK");
	norm("MNPQRSTVWX", "MNPQRSTVWX");
	norm("YZ12345678", "YZ12345678");

	norm("7K3QD-M9XWU", NULL); /* U is no symbol */
	norm("7K3QD-M9XWu", NULL);
	norm("7K3QD-M9XW", NULL);   /* 9 symbols */
	norm("7K3QD-M9XWPP", NULL); /* 11 symbols */
	norm("", NULL);
	norm("-----", NULL);
	norm("7K3QD_M9XWP", NULL); /* other punctuation */
	norm("7K3QD.M9XWP", NULL);
	norm("7K3QD\tM9XWP", NULL);	  /* only spaces are ignored */
	norm("7K3QD-M9XW\xc3\x9c", NULL); /* non-ASCII */
	norm(NULL, NULL);
}

static void test_hash(void)
{
	uint8_t a[32], b[32], want[32];

	expected_hash("7K3QDM9XWP", want);
	CHECK_ERR(veld_code_hash("7K3QD-M9XWP", a), 0);
	CHECK_MEM(a, want, 32);
	/* Every spelling of one code has one hash. */
	CHECK_ERR(veld_code_hash("7k3qd m9xwp", b), 0);
	CHECK_MEM(a, b, 32);

	expected_hash("0111000000", want);
	CHECK_ERR(veld_code_hash("oil1o-00000", a), 0);
	CHECK_MEM(a, want, 32);

	/* Different codes, different hashes. */
	CHECK_ERR(veld_code_hash("7K3QD-M9XWQ", b), 0);
	CHECK(memcmp(a, b, 32) != 0);

	memset(a, 0xaa, sizeof(a));
	memset(want, 0, sizeof(want));
	CHECK_ERR(veld_code_hash("nope", a), VELD_ECODE);
	CHECK_MEM(a, want, 32); /* zeroed on failure */
}

static void test_issue(void)
{
	struct veld_store *s = NULL;
	struct veld_code_row row = {"field", "Anna", "Noord",
				    UINT64_C(4102444800000)};
	struct veld_code_row got;
	char code[VELD_CODE_BUF], lower[VELD_CODE_BUF], strings[256];
	uint8_t h[32];

	CHECK_ERR(veld_store_open(":memory:", &s), 0);
	if (!s)
		return;
	CHECK_ERR(veld_code_issue(s, &row, code), 0);
	CHECK_EQ(strlen(code), 11);

	/* Typed back in lower case, it is found, once. */
	for (int i = 0; i < VELD_CODE_BUF; i++)
		lower[i] = (char)(code[i] >= 'A' && code[i] <= 'Z'
					  ? code[i] - 'A' + 'a'
					  : code[i]);
	CHECK_ERR(veld_code_hash(lower, h), 0);
	CHECK_ERR(veld_store_code_take(s, h, 1000, &got, strings,
				       sizeof(strings)),
		  0);
	CHECK(got.role && strcmp(got.role, "field") == 0);
	CHECK(got.name && strcmp(got.name, "Anna") == 0);
	CHECK(got.area && strcmp(got.area, "Noord") == 0);
	CHECK_ERR(veld_store_code_take(s, h, 1000, &got, strings,
				       sizeof(strings)),
		  VELD_ECODEUSED);

	/* A code never issued is unknown. */
	CHECK_ERR(veld_code_hash("00000-00000", h), 0);
	CHECK_ERR(veld_store_code_take(s, h, 1000, &got, strings,
				       sizeof(strings)),
		  VELD_ECODE);
	veld_store_close(s);
}

int main(void)
{
	if (sodium_init() < 0)
		return 1;
	test_alphabet();
	test_generate();
	test_normalise();
	test_hash();
	test_issue();
	return test_summary("test_code");
}
