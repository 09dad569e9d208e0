/*
 * code.h - one-time enrolment codes: making them, and reading them back
 * from what a person typed.
 *
 * A code is 10 random symbols from Crockford's base32 alphabet (the digits
 * and the letters A-Z without I, L, O and U: nothing that looks like
 * something else), 50 bits, shown as two groups of five: "7K3QD-M9XWP".
 * A coordinator reads it aloud or off a screen and a field worker types
 * it, so reading is forgiving the way Crockford intends: case does not
 * matter, '-' and spaces are ignored, O reads as 0, and I and L as 1.
 *
 * The server never stores a code, only its hash (store.h, codes table):
 *
 *	hash = BLAKE2b-256("veld-code-1" || 0x00 || the 10 canonical symbols)
 *
 * where the canonical symbols are uppercase, without the dash.  A copy of
 * the database therefore does not reveal a code that is still good.
 *
 * Usage (an admin command, or serve's first start):
 *
 *	char code[VELD_CODE_BUF];
 *	struct veld_code_row row = {"field", "Anna", "Noord", expires_ms};
 *	if (veld_code_issue(store, &row, code) < 0) ...
 *	printf("%s\n", code);
 *
 * and at enrolment: veld_code_hash(typed, hash), then
 * veld_store_code_take(store, hash, ...).
 */
#ifndef VELD_CODE_H
#define VELD_CODE_H

#include <stddef.h>
#include <stdint.h>

#include "store.h"

#define VELD_CODE_SYMBOLS 10 /* symbols in a code (50 bits) */
#define VELD_CODE_GROUP 5    /* shown in groups of this many, '-' between */
/* Room for a formatted code: "XXXXX-XXXXX" and the NUL. */
#define VELD_CODE_BUF (VELD_CODE_SYMBOLS + 1 + 1)
#define VELD_CODE_HASH_LEN 32
/* Hash domain; the terminating NUL is part of the prefix (12 bytes). */
#define VELD_DS_CODE "veld-code-1"

/* The 32 symbols, in value order. */
#define VELD_CODE_ALPHABET "0123456789ABCDEFGHJKMNPQRSTVWXYZ"

/*
 * veld_code_generate - a fresh random code, formatted "XXXXX-XXXXX" (NUL
 * terminated) into out.  Needs sodium_init() to have run.
 */
void veld_code_generate(char out[VELD_CODE_BUF]);

/*
 * veld_code_normalise - the 10 canonical symbols of what a person typed
 * (NUL-terminated), into out (NUL-terminated): case-insensitive, '-' and
 * spaces ignored, O read as 0, I and L as 1.  Returns 0, or VELD_ECODE if
 * typed holds any other character or not exactly 10 symbols (out is then
 * the empty string).
 */
int veld_code_normalise(const char *typed, char out[VELD_CODE_SYMBOLS + 1])
	__attribute__((warn_unused_result));

/*
 * veld_code_hash - the stored hash of the code a person typed (see above).
 * Returns 0, or VELD_ECODE as veld_code_normalise (out is then zeroed).
 */
int veld_code_hash(const char *typed, uint8_t out[VELD_CODE_HASH_LEN])
	__attribute__((warn_unused_result));

/*
 * veld_code_issue - make a fresh code for row (role, name, area, expiry;
 * borrowed) and store its hash with veld_store_code_add.  The formatted
 * code goes to out; it exists nowhere else, so show it now.  Returns 0 or
 * the store's error (out is then the empty string).
 */
int veld_code_issue(struct veld_store *s, const struct veld_code_row *row,
		    char out[VELD_CODE_BUF])
	__attribute__((warn_unused_result));

#endif /* VELD_CODE_H */
