/*
 * code.c - one-time enrolment codes; see code.h.
 *
 * Reading a code follows Crockford's base32 decoding rules rather than a
 * strict match because the code travels through people: read aloud, copied
 * off a phone, typed with cold fingers.  Every symbol maps to exactly one
 * value, so two spellings of the same code have the same hash, and a code
 * with a character outside the alphabet (U, punctuation, a stray digit) is
 * refused before any lookup.
 */
#include "code.h"

#include <string.h>

#include <sodium.h>

#include "err.h"

void veld_code_generate(char out[VELD_CODE_BUF])
{
	size_t o = 0;

	for (int i = 0; i < VELD_CODE_SYMBOLS; i++) {
		if (i == VELD_CODE_GROUP)
			out[o++] = '-';
		/* uniform: no modulo bias */
		out[o++] = VELD_CODE_ALPHABET[randombytes_uniform(32)];
	}
	out[o] = '\0';
}

/* The canonical symbol for typed character c, 0 if c is not one. */
static char canonical(char c)
{
	if (c >= 'a' && c <= 'z')
		c = (char)(c - 'a' + 'A');
	switch (c) {
	case 'O':
		return '0';
	case 'I':
	case 'L':
		return '1';
	case 'U':
		return 0;
	}
	if ((c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z'))
		return c;
	return 0;
}

int veld_code_normalise(const char *typed, char out[VELD_CODE_SYMBOLS + 1])
{
	size_t n = 0;

	out[0] = '\0';
	if (!typed)
		return VELD_ECODE;
	for (const char *p = typed; *p; p++) {
		char c;

		if (*p == '-' || *p == ' ')
			continue;
		c = canonical(*p);
		if (!c || n == VELD_CODE_SYMBOLS) {
			out[0] = '\0';
			return VELD_ECODE;
		}
		out[n++] = c;
	}
	if (n != VELD_CODE_SYMBOLS) {
		out[0] = '\0';
		return VELD_ECODE;
	}
	out[n] = '\0';
	return 0;
}

int veld_code_hash(const char *typed, uint8_t out[VELD_CODE_HASH_LEN])
{
	crypto_generichash_state st;
	char sym[VELD_CODE_SYMBOLS + 1];

	if (veld_code_normalise(typed, sym) < 0) {
		memset(out, 0, VELD_CODE_HASH_LEN);
		return VELD_ECODE;
	}
	crypto_generichash_init(&st, NULL, 0, VELD_CODE_HASH_LEN);
	crypto_generichash_update(&st, (const uint8_t *)VELD_DS_CODE,
				  sizeof(VELD_DS_CODE));
	crypto_generichash_update(&st, (const uint8_t *)sym, VELD_CODE_SYMBOLS);
	crypto_generichash_final(&st, out, VELD_CODE_HASH_LEN);
	sodium_memzero(sym, sizeof(sym));
	return 0;
}

int veld_code_issue(struct veld_store *s, const struct veld_code_row *row,
		    char out[VELD_CODE_BUF])
{
	uint8_t hash[VELD_CODE_HASH_LEN];
	int rc;

	veld_code_generate(out);
	rc = veld_code_hash(out, hash);
	if (rc == 0)
		rc = veld_store_code_add(s, hash, row);
	if (rc < 0)
		sodium_memzero(out, VELD_CODE_BUF);
	return rc;
}
