/*
 * recvals.h - a record's materialised field values as one msgpack blob
 * (store schema 7).
 *
 * The fold (merge.c) gives a record's current values as rows: per field
 * every value still in force (one when there is no conflict), each with
 * the log position of the op that set it and whether it is the field's
 * display winner.  Up to schema 6 every such row was a row of table vals,
 * so a new 8-field record cost 8 b-tree inserts besides its records row
 * (a quarter of veldd's CPU while devices push).  Now they are one column
 * of the records row, records.field_vals:
 *
 *	array of N entries, sorted by field (bytes) then pos, each
 *	  [field: str, pos: int >= 1, value: bin (the canonical msgpack
 *	   value) | nil (erased), winner: bool]
 *
 * NULL when the record has no values.  SQL reads it as rows through the
 * table-valued function veld_vals(blob) (columns field, pos, value,
 * winner), which the view field_values uses; schema 7's migration packs
 * the old rows with the aggregate veld_vals_pack(field, pos, value,
 * winner).  Both are registered on every connection that opens a store
 * (veld_recvals_register); a plain sqlite3 shell has neither, so it reads
 * records but not field_values.
 *
 * Errors: VELD_ENOMEM, VELD_ETOOBIG (the blob would pass its buffer's
 * maximum); a blob that does not have this shape is refused by veld_vals
 * with an SQL error ("veld_vals: malformed"), never read past its end.
 */
#ifndef VELD_RECVALS_H
#define VELD_RECVALS_H

#include <stddef.h>

#include <sqlite3.h>

#include "buf.h"
#include "store.h" /* struct veld_value_row */

/* The largest blob: SQLite's own ceiling (SQLITE_MAX_LENGTH's default).
 * The maximum to give a veld_buf that veld_recvals_pack fills. */
#define VELD_RECVALS_MAX 1000000000u

/*
 * Pack values[0..n) (field, pos, value, value_len, winner are read; op,
 * author and hlc are not) into out, which is reset first.  n == 0 gives an
 * empty out (store NULL).  The order of values does not matter: entries
 * are written sorted, so the same values always give the same bytes.
 */
int veld_recvals_pack(const struct veld_value_row *values, size_t n,
		      struct veld_buf *out) __attribute__((warn_unused_result));

/* Register veld_vals and veld_vals_pack on db.  SQLITE_OK or an SQLite
 * error code. */
int veld_recvals_register(sqlite3 *db);

#endif /* VELD_RECVALS_H */
