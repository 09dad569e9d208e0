/*
 * merge.h - the merge rules: how a set of ops folds into state.
 *
 * Pure functions, no I/O and no SQL: given the ops of one record (or all
 * registry ops, or the ops of one form), in (hlc, author, id) order, they
 * compute the materialised rows.  The result depends only on the *set* of
 * ops and their statuses, never on arrival order, which is what makes every
 * replica converge.  docs/protocol.md Part 3 states the rules normatively;
 * replica.c decides which ops are in the set.
 *
 * Body content per kind (canonical maps; keys shown in canonical order):
 *   put     {"area"?: str, "form"?: str, "pred"?: {field: [id, ...]},
 *            "set": {field: value}}
 *   delete  {"seen": [id, ...]}          ids of the values it removes
 *   note    {"text": str}
 *   erase   {"area"?: str, "form"?: str} kept so an erased record still
 *                                        shows where it belonged
 *   form    {"def": map, "name": str}
 *   device  {"area"?: str, "key": bin(32), "name": str,
 *            "role": "field"|"coordinator", "status": "active"|"revoked"}
 */
#ifndef VELD_MERGE_H
#define VELD_MERGE_H

#include <stddef.h>
#include <stdint.h>

#include "op.h"
#include "store.h"

/* Longest field, form, area and device name, in bytes. */
#define VELD_NAME_MAX 64

/* One op as the merge sees it. */
struct veld_merge_op {
	uint8_t id[VELD_HASH_LEN];
	uint8_t author[VELD_PK_LEN];
	uint64_t hlc;
	uint64_t kind;
	int status; /* enum veld_op_status */
	/* NULL if erased; else a body that passed veld_body_check (as every
	 * stored one did): the folds do not check the canonical rules again */
	const uint8_t *body;
	size_t body_len;
	int64_t pos; /* log position, passed on to the rows (store.h) */
};

struct veld_arena;

/* Rows produced by a fold; everything points into the arena. */
struct veld_merge_out {
	struct veld_record_row rec;
	struct veld_value_row *values;
	size_t nvalues;
	struct veld_note_row *notes;
	size_t nnotes;
	int empty; /* no op of the set is in force: remove the rows */
	struct veld_device_row *devices;
	size_t ndevices;
	struct veld_form_row form;
	struct veld_arena *arena;
};

/* Free what a fold produced; safe on a zeroed or released out. */
void veld_merge_out_release(struct veld_merge_out *out);

/*
 * veld_content_check - 0 if body's content has the shape its kind needs
 * (see above), else VELD_ECONTENT.  body must already be a valid body
 * (veld_body_check).
 */
int veld_content_check(uint64_t kind, const uint8_t *body, size_t len)
	__attribute__((warn_unused_result));

/*
 * veld_body_content_check - veld_body_check and veld_content_check in one
 * decode: returns what veld_body_check would; *content_ok is 1 when, in
 * addition, veld_content_check would return 0 (else 0).  A content that
 * fails is not an error here: the replica refuses that op when it applies
 * it, as it would have.
 */
int veld_body_content_check(uint64_t kind, const uint8_t *body, size_t len,
			    int *content_ok)
	__attribute__((warn_unused_result));

/* Put ops[0..n) in the merge's (hlc, author, id) order. */
void veld_merge_sort(struct veld_merge_op *ops, size_t n);

/*
 * veld_merge_record - fold the put/delete/note/erase ops of one record.
 * Ops of other kinds in the array are ignored.  Returns 0 or VELD_ENOMEM.
 */
int veld_merge_record(const uint8_t record[VELD_RECORD_LEN],
		      const struct veld_merge_op *ops, size_t n,
		      struct veld_merge_out *out)
	__attribute__((warn_unused_result));

/*
 * veld_merge_registry - fold all device ops into the registry, trusting
 * root (the server key) and, from their enrolment until their revocation,
 * coordinators.  Fills out->devices.  Returns 0 or VELD_ENOMEM.
 */
int veld_merge_registry(const uint8_t root[VELD_PK_LEN],
			const struct veld_merge_op *ops, size_t n,
			struct veld_merge_out *out)
	__attribute__((warn_unused_result));

/*
 * veld_merge_form - the form definition in force: the last op in order.
 * Fills out->form (out->empty if none is in force).
 */
int veld_merge_form(const uint8_t id[VELD_RECORD_LEN],
		    const struct veld_merge_op *ops, size_t n,
		    struct veld_merge_out *out)
	__attribute__((warn_unused_result));

#endif /* VELD_MERGE_H */
