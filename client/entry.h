/*
 * entry.h - interactive entry of a record at the door: veld new asks for
 * the form's fields one by one on a terminal, and keeps what was typed as
 * a draft until the record is saved.
 *
 * A draft lives in the device's replica file, in its local settings table
 * (meta key "draft:FORM"): never an op, never synced, gone with the
 * replica when a revoked device is wiped.  It is written after every
 * answer, so Ctrl-C, end of input or a flat battery lose at most the
 * answer being typed, and never leave half a record: the record itself is
 * written in one transaction after the summary is confirmed.
 *
 * Keys (docs/client.md): Enter takes the default (or skips an optional
 * field), "<" goes back, "-" leaves a field empty, "*" records "nobody
 * home" (forms with an "at_home" field), "!" or Ctrl-C or Ctrl-D stops and
 * keeps the draft.
 */
#ifndef VELD_CLIENT_ENTRY_H
#define VELD_CLIENT_ENTRY_H

#include <stdint.h>
#include <stdio.h>

#include "buf.h"
#include "form.h"
#include "store.h"

struct veld_entry {
	const struct veld_form *form;
	struct veld_store *store; /* drafts, last street, today's count */
	const uint8_t *self;	  /* this device's key */
	/* form->n values, canonical msgpack; len 0 = not given.  Values
	 * given on the command line (fixed[i] nonzero) are not asked. */
	struct veld_buf *vals;
	const unsigned char *fixed;
	FILE *in, *out;
};

enum veld_entry_result {
	VELD_ENTRY_SAVE = 0,   /* confirmed: vals hold the record */
	VELD_ENTRY_CANCEL = 1, /* stopped; the draft is kept */
};

/*
 * veld_entry_run - ask for the fields, show a summary and ask to save.
 * Offers to resume or discard a draft of the same form first.  Returns
 * VELD_ENTRY_SAVE, VELD_ENTRY_CANCEL or a negative VELD_E* (store).
 */
int veld_entry_run(struct veld_entry *e) __attribute__((warn_unused_result));

/* Forget the draft of form (after the record was saved). */
int veld_entry_draft_clear(struct veld_store *s, const char *form)
	__attribute__((warn_unused_result));

/* Records this device created today (local time): *n. */
int veld_entry_today(struct veld_store *s, const uint8_t *self, int64_t *n)
	__attribute__((warn_unused_result));

/* Remember the street of a saved record ("repeat the last street"). */
int veld_entry_remember_street(struct veld_store *s, const char *street,
			       size_t len) __attribute__((warn_unused_result));

#endif /* VELD_CLIENT_ENTRY_H */
