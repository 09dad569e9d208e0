/*
 * form.h - a form as veld uses it: the definition decoded from the form op
 * (docs/forms.md), and the typed values people type for its fields.
 *
 * The server checked the definition when it was imported; a device still
 * decodes it defensively (a form op from an old or odd server must not
 * crash the client) and refuses what it cannot read with VELD_ECONTENT.
 *
 * Values: people type text ("12", "ja", "1,3", "2024-06-01"); the form's
 * type turns it into the canonical msgpack value stored in the record
 * (docs/forms.md "Types").  The messages say which field and which values
 * would be accepted, in the user's language.
 */
#ifndef VELD_CLIENT_FORM_H
#define VELD_CLIENT_FORM_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "store.h"

enum veld_ftype {
	VELD_FT_TEXT,
	VELD_FT_NUMBER,
	VELD_FT_INTEGER,
	VELD_FT_CHOICE,
	VELD_FT_MULTI,
	VELD_FT_BOOL,
	VELD_FT_DATE,
	VELD_FT_DATETIME,
};

struct veld_form_field {
	char *name;
	char *label; /* NULL if the form gives none */
	char *hint;  /* NULL if none */
	enum veld_ftype type;
	int required, personal;
	char **choices; /* choice and multi */
	size_t nchoices;
	uint8_t *def; /* the default as canonical msgpack, or NULL */
	size_t def_len;
};

struct veld_form {
	char *name;
	char *title; /* NULL if none */
	struct veld_form_field *fields;
	size_t n; /* 0: a free form (no "fields"): nothing is checked */
	/* Fields with a meaning (docs/forms.md), or -1. */
	int consent; /* bool "consent": personal fields need it true */
	int at_home; /* bool "at_home": false = nobody home */
};

/*
 * veld_form_load - the form named name from the store.  Returns 1 with
 * *out set (free with veld_form_free), 0 if the store knows no such form,
 * VELD_ECONTENT if its definition cannot be read, or a store error.
 */
int veld_form_load(struct veld_store *s, const char *name,
		   struct veld_form **out) __attribute__((warn_unused_result));

/* Decode the definition def (len bytes, borrowed) of form name into *out
 * (free with veld_form_free).  0, VELD_ECONTENT or VELD_ENOMEM. */
int veld_form_decode(const char *name, const uint8_t *def, size_t len,
		     struct veld_form **out)
	__attribute__((warn_unused_result));

/* Free a form; NULL is fine. */
void veld_form_free(struct veld_form *f);

/* Index of the field called name, or -1. */
int veld_form_find(const struct veld_form *f, const char *name);

/* The type's name as docs/forms.md spells it ("integer"). */
const char *veld_ftype_name(enum veld_ftype t);

/*
 * veld_form_parse - turn text typed for field f into its canonical msgpack
 * value, appended to out (reset first).  For choice fields, numbered
 * nonzero also accepts the choice's number (1 = the first), as the
 * interactive entry shows them.  Returns 0, or VELD_EINVAL with a message
 * for people in why (naming the field and what it accepts).
 */
int veld_form_parse(const struct veld_form_field *f, const char *text,
		    int numbered, struct veld_buf *out, char *why,
		    size_t why_len) __attribute__((warn_unused_result));

/*
 * veld_form_show - a stored value (canonical msgpack, len bytes) as text
 * for people, the way it would be typed (choices by name, yes/no, lists
 * with ", "), written to out (NUL-terminated, cut at n bytes).
 */
void veld_form_show(const uint8_t *mp, size_t len, char *out, size_t n);

/* Is the canonical msgpack value true (a bool true)? */
int veld_value_is_true(const uint8_t *mp, size_t len);

/* "a, b, c" of the field names of f, or of the choices of one field. */
void veld_form_field_list(const struct veld_form *f, char *out, size_t n);
void veld_form_choice_list(const struct veld_form_field *f, char *out,
			   size_t n);

#endif /* VELD_CLIENT_FORM_H */
