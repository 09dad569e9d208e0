/*
 * wijklab_gen.h - the "wijklab" field-survey workload generator, bit for bit
 * the reference of ../shared/bench/WORKLOAD.md (peers/lib/workload.mjs).
 *
 * Everything is deterministic from (seed, W, R): one mulberry32 stream per
 * device, r(n) = next() % n, records of 8 fields drawn in a fixed order, a
 * Fisher-Yates shuffle, then E = R/5 edits of 1 or 2 fields and D = R/50
 * deletes.  wijklab_device_ops() hands a device's operation log to a
 * callback one op at a time (nothing is kept), so memory does not grow
 * with R.  A wijklab_state holds the expected final state of all W
 * devices, compactly (about 220 bytes a record), and its digest is the
 * sha256 of WORKLOAD.md §6 (libsodium), over canonical lines rendered by
 * SQLite's JSON1 (the same bytes as JavaScript's JSON.stringify for these
 * ASCII values).
 *
 * Limits: 1 <= W <= WIJKLAB_W_MAX and 1 <= R <= WIJKLAB_R_MAX, so record
 * ids keep their fixed width (and byte order equals (d, i) order).
 */
#ifndef WIJKLAB_GEN_H
#define WIJKLAB_GEN_H

#include <stdint.h>
#include <stdio.h>

#define WIJKLAB_FIELDS 8
#define WIJKLAB_W_MAX 1000   /* ids "d%03d" */
#define WIJKLAB_R_MAX 100000 /* ids "r%05d" */
#define WIJKLAB_ID_LEN 11    /* "d007-r00123" */
#define WIJKLAB_TEXT_MAX 121 /* longest string value (notes: 120) + NUL */
#define WIJKLAB_BASE_TS 1717200000000LL /* 2024-06-01T00:00:00Z, ms */
#define WIJKLAB_TS_RANGE 2592000000U	/* 30 days in ms */

/* The field names, in generation order (field index f = 0..7). */
extern const char *const wijklab_field_names[WIJKLAB_FIELDS];

/* JSON type of field f: a string, an integer or a bool. */
enum wijklab_type { WIJKLAB_STR = 0, WIJKLAB_INT = 1, WIJKLAB_BOOL = 2 };
extern const int wijklab_field_types[WIJKLAB_FIELDS];

/* A field value: type WIJKLAB_STR uses s, INT and BOOL (0/1) use i. */
struct wijklab_value {
	int type;
	int64_t i;
	char s[WIJKLAB_TEXT_MAX];
};

enum wijklab_kind { WIJKLAB_CREATE = 0, WIJKLAB_EDIT = 1, WIJKLAB_DELETE = 2 };

/* One user action of one device.  field[k] is the field index of
 * value[k], in the order the values were drawn: 0..7 for a create, one or
 * two fields for an edit, none for a delete. */
struct wijklab_op {
	int kind;
	int device; /* d, 0-based */
	int record; /* i, 0-based */
	int n;	    /* values set */
	int field[WIJKLAB_FIELDS];
	struct wijklab_value value[WIJKLAB_FIELDS];
};

/* mulberry32: advance *state and return the raw 32-bit output. */
uint32_t wijklab_next(uint32_t *state);

/* The stream start of device d: seed + 0x9E3779B9 * (d + 1) mod 2^32. */
uint32_t wijklab_device_seed(uint32_t seed, int d);

/* Record id of record i on device d ("d007-r00123"); out holds
 * WIJKLAB_ID_LEN + 1 bytes. */
void wijklab_record_id(int d, int i, char out[WIJKLAB_ID_LEN + 1]);

/* Edits and deletes per device: floor(R * 20 / 100), floor(R * 2 / 100). */
int wijklab_edits(int R);
int wijklab_deletes(int R);

/*
 * wijklab_device_ops - generate device d's offline log (R creates, the
 * shuffle, E edits, D deletes) and call fn(ctx, op) for each op in order;
 * op is valid during the call only.  Stops at the first nonzero return of
 * fn and returns it; returns 0 when every op was handed over, -1 for bad
 * arguments (d, R out of range).
 */
typedef int (*wijklab_op_fn)(void *ctx, const struct wijklab_op *op);
int wijklab_device_ops(uint32_t seed, int d, int R, wijklab_op_fn fn,
		       void *ctx);

/* The expected final state of W devices x R records (opaque). */
struct wijklab_state;

/*
 * wijklab_state_new - run every device's log into a new state.  Returns
 * NULL for bad arguments or out of memory.  Free with wijklab_state_free
 * (NULL is fine).
 */
struct wijklab_state *wijklab_state_new(uint32_t seed, int W, int R);
void wijklab_state_free(struct wijklab_state *st);

/* Live records: W * (R - D). */
long wijklab_state_live(const struct wijklab_state *st);

/*
 * wijklab_state_digest - the canonical form of WORKLOAD.md §6: for every
 * live record, by id, the line JSON.stringify([id, 8 values]) + "\n"; out
 * gets the sha256 of all lines.  If lines is not NULL, every line is also
 * written to it.  Returns 0, or -1 if SQLite (which renders the JSON)
 * fails or writing to lines fails.
 */
int wijklab_state_digest(const struct wijklab_state *st, uint8_t out[32],
			 FILE *lines);

#endif /* WIJKLAB_GEN_H */
