/*
 * recvals.c - a record's field values as one msgpack blob (recvals.h).
 */
#include "recvals.h"

#include <stdlib.h>
#include <string.h>

#include "err.h"

/* Entries sort by field (bytes, as SQLite's BINARY collation), then pos. */
static int entry_cmp(const void *a, const void *b)
{
	const struct veld_value_row *x =
		*(const struct veld_value_row *const *)a;
	const struct veld_value_row *y =
		*(const struct veld_value_row *const *)b;
	size_t xl = strlen(x->field), yl = strlen(y->field);
	int c = memcmp(x->field, y->field, xl < yl ? xl : yl);

	if (c)
		return c;
	if (xl != yl)
		return xl < yl ? -1 : 1;
	return (x->pos > y->pos) - (x->pos < y->pos);
}

int veld_recvals_pack(const struct veld_value_row *values, size_t n,
		      struct veld_buf *out)
{
	const struct veld_value_row *stack[16], **order = stack;
	msgpack_packer pk;
	int bad = 0;

	veld_buf_reset(out);
	if (n == 0)
		return 0;
	if (n > sizeof(stack) / sizeof(stack[0]) &&
	    !(order = malloc(n * sizeof(*order))))
		return VELD_ENOMEM;
	for (size_t i = 0; i < n; i++)
		order[i] = &values[i];
	qsort(order, n, sizeof(*order), entry_cmp);

	veld_buf_packer_init(&pk, out);
	bad |= msgpack_pack_array(&pk, n);
	for (size_t i = 0; i < n && !bad; i++) {
		const struct veld_value_row *v = order[i];
		size_t flen = strlen(v->field);

		bad |= msgpack_pack_array(&pk, 4);
		bad |= msgpack_pack_str_with_body(&pk, v->field, flen);
		bad |= msgpack_pack_int64(&pk, v->pos);
		if (v->value)
			bad |= msgpack_pack_bin_with_body(&pk, v->value,
							  v->value_len);
		else
			bad |= msgpack_pack_nil(&pk);
		bad |= v->winner ? msgpack_pack_true(&pk)
				 : msgpack_pack_false(&pk);
	}
	if (order != stack)
		free((void *)order);
	if (bad) {
		int rc = out->err ? out->err : VELD_ENOMEM;
		veld_buf_reset(out);
		return rc;
	}
	return 0;
}

/* ---- veld_vals(blob): the entries as rows ---- */

enum { COL_FIELD, COL_POS, COL_VALUE, COL_WINNER, COL_BLOB };

struct vals_cursor {
	sqlite3_vtab_cursor base;
	uint8_t *blob; /* our copy of the argument: the objects point in */
	msgpack_unpacked u;
	const msgpack_object *ent; /* the entries (arrays of 4) */
	uint32_t n, i;
};

static int vals_connect(sqlite3 *db, void *aux, int argc,
			const char *const *argv, sqlite3_vtab **out, char **err)
{
	sqlite3_vtab *t;
	int rc;

	(void)aux;
	(void)argc;
	(void)argv;
	(void)err;
	rc = sqlite3_declare_vtab(db, "CREATE TABLE x(field TEXT, pos INTEGER,"
				      " value BLOB, winner INTEGER,"
				      " blob HIDDEN)");
	if (rc != SQLITE_OK)
		return rc;
	if (!(t = sqlite3_malloc(sizeof(*t))))
		return SQLITE_NOMEM;
	memset(t, 0, sizeof(*t));
	sqlite3_vtab_config(db, SQLITE_VTAB_INNOCUOUS);
	*out = t;
	return SQLITE_OK;
}

static int vals_disconnect(sqlite3_vtab *t)
{
	sqlite3_free(t);
	return SQLITE_OK;
}

/* Only a usable blob = ? makes a plan; without any, no rows. */
static int vals_best_index(sqlite3_vtab *t, sqlite3_index_info *info)
{
	(void)t;
	info->idxNum = 0;
	info->estimatedCost = 1e9;
	for (int i = 0; i < info->nConstraint; i++) {
		const struct sqlite3_index_constraint *c =
			&info->aConstraint[i];
		if (c->iColumn != COL_BLOB ||
		    c->op != SQLITE_INDEX_CONSTRAINT_EQ)
			continue;
		if (!c->usable)
			return SQLITE_CONSTRAINT;
		info->aConstraintUsage[i].argvIndex = 1;
		info->aConstraintUsage[i].omit = 1;
		info->idxNum = 1;
		info->estimatedCost = 10;
		info->estimatedRows = 8;
		break;
	}
	return SQLITE_OK;
}

static int vals_open(sqlite3_vtab *t, sqlite3_vtab_cursor **out)
{
	struct vals_cursor *c = sqlite3_malloc(sizeof(*c));

	(void)t;
	if (!c)
		return SQLITE_NOMEM;
	memset(c, 0, sizeof(*c));
	msgpack_unpacked_init(&c->u);
	*out = &c->base;
	return SQLITE_OK;
}

static void vals_clear(struct vals_cursor *c)
{
	msgpack_unpacked_destroy(&c->u);
	msgpack_unpacked_init(&c->u);
	free(c->blob);
	c->blob = NULL;
	c->ent = NULL;
	c->n = c->i = 0;
}

static int vals_close(sqlite3_vtab_cursor *cur)
{
	struct vals_cursor *c = (struct vals_cursor *)cur;

	vals_clear(c);
	sqlite3_free(c);
	return SQLITE_OK;
}

/* 1 if e is [non-empty str without NUL, int >= 1, bin | nil, bool]. */
static int entry_ok(const msgpack_object *e)
{
	const msgpack_object *f;

	if (e->type != MSGPACK_OBJECT_ARRAY || e->via.array.size != 4)
		return 0;
	f = e->via.array.ptr;
	return f[0].type == MSGPACK_OBJECT_STR && f[0].via.str.size > 0 &&
	       !memchr(f[0].via.str.ptr, 0, f[0].via.str.size) &&
	       f[1].type == MSGPACK_OBJECT_POSITIVE_INTEGER &&
	       f[1].via.u64 >= 1 && f[1].via.u64 <= INT64_MAX &&
	       (f[2].type == MSGPACK_OBJECT_BIN ||
		f[2].type == MSGPACK_OBJECT_NIL) &&
	       f[3].type == MSGPACK_OBJECT_BOOLEAN;
}

static int vals_malformed(struct vals_cursor *c)
{
	sqlite3_vtab *t = c->base.pVtab;

	vals_clear(c);
	sqlite3_free(t->zErrMsg);
	t->zErrMsg = sqlite3_mprintf("veld_vals: malformed");
	return SQLITE_CORRUPT;
}

static int vals_filter(sqlite3_vtab_cursor *cur, int idx, const char *idx_str,
		       int argc, sqlite3_value **argv)
{
	struct vals_cursor *c = (struct vals_cursor *)cur;
	const void *p;
	size_t len, off = 0;

	(void)idx_str;
	vals_clear(c);
	if (idx != 1 || argc < 1 || sqlite3_value_type(argv[0]) == SQLITE_NULL)
		return SQLITE_OK; /* no values */
	if (sqlite3_value_type(argv[0]) != SQLITE_BLOB)
		return vals_malformed(c);
	p = sqlite3_value_blob(argv[0]);
	len = (size_t)sqlite3_value_bytes(argv[0]);
	if (!p || !len)
		return vals_malformed(c);
	if (!(c->blob = malloc(len)))
		return SQLITE_NOMEM;
	memcpy(c->blob, p, len);
	if (msgpack_unpack_next(&c->u, (const char *)c->blob, len, &off) !=
		    MSGPACK_UNPACK_SUCCESS ||
	    off != len || c->u.data.type != MSGPACK_OBJECT_ARRAY)
		return vals_malformed(c);
	c->ent = c->u.data.via.array.ptr;
	c->n = c->u.data.via.array.size;
	for (uint32_t i = 0; i < c->n; i++)
		if (!entry_ok(&c->ent[i]))
			return vals_malformed(c);
	return SQLITE_OK;
}

static int vals_next(sqlite3_vtab_cursor *cur)
{
	((struct vals_cursor *)cur)->i++;
	return SQLITE_OK;
}

static int vals_eof(sqlite3_vtab_cursor *cur)
{
	const struct vals_cursor *c = (const struct vals_cursor *)cur;

	return c->i >= c->n;
}

static int vals_column(sqlite3_vtab_cursor *cur, sqlite3_context *ctx, int col)
{
	const struct vals_cursor *c = (const struct vals_cursor *)cur;
	const msgpack_object *f = c->ent[c->i].via.array.ptr;

	switch (col) {
	case COL_FIELD:
		sqlite3_result_text(ctx, f[0].via.str.ptr,
				    (int)f[0].via.str.size, SQLITE_TRANSIENT);
		break;
	case COL_POS:
		sqlite3_result_int64(ctx, (sqlite3_int64)f[1].via.u64);
		break;
	case COL_VALUE:
		if (f[2].type == MSGPACK_OBJECT_BIN)
			sqlite3_result_blob(ctx, f[2].via.bin.ptr,
					    (int)f[2].via.bin.size,
					    SQLITE_TRANSIENT);
		else
			sqlite3_result_null(ctx);
		break;
	case COL_WINNER:
		sqlite3_result_int(ctx, f[3].via.boolean);
		break;
	default:
		sqlite3_result_null(ctx);
		break;
	}
	return SQLITE_OK;
}

static int vals_rowid(sqlite3_vtab_cursor *cur, sqlite3_int64 *rowid)
{
	*rowid = ((const struct vals_cursor *)cur)->i + 1;
	return SQLITE_OK;
}

static const sqlite3_module vals_module = {
	.iVersion = 0,
	.xCreate = NULL, /* eponymous only: veld_vals(blob) */
	.xConnect = vals_connect,
	.xBestIndex = vals_best_index,
	.xDisconnect = vals_disconnect,
	.xOpen = vals_open,
	.xClose = vals_close,
	.xFilter = vals_filter,
	.xNext = vals_next,
	.xEof = vals_eof,
	.xColumn = vals_column,
	.xRowid = vals_rowid,
};

/* ---- veld_vals_pack(field, pos, value, winner): rows into a blob ---- */

struct pack_acc {
	struct veld_value_row *rows; /* field and value malloc'd */
	size_t n, cap;
	int failed;
};

static void pack_acc_release(struct pack_acc *a)
{
	for (size_t i = 0; i < a->n; i++) {
		free((void *)a->rows[i].field);
		free((void *)a->rows[i].value);
	}
	free(a->rows);
	memset(a, 0, sizeof(*a));
}

static void pack_step(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
	struct pack_acc *a = sqlite3_aggregate_context(ctx, sizeof(*a));
	struct veld_value_row *r;
	const unsigned char *f;
	size_t flen, vlen;

	(void)argc;
	if (!a) {
		sqlite3_result_error_nomem(ctx);
		return;
	}
	if (a->failed)
		return;
	f = sqlite3_value_text(argv[0]);
	flen = (size_t)sqlite3_value_bytes(argv[0]);
	if (!f || sqlite3_value_int64(argv[1]) < 1) {
		a->failed = 1;
		sqlite3_result_error(ctx, "veld_vals_pack: no field or pos",
				     -1);
		return;
	}
	if (a->n == a->cap) {
		size_t cap = a->cap ? a->cap * 2 : 8;
		void *p = realloc(a->rows, cap * sizeof(*a->rows));
		if (!p)
			goto nomem;
		a->rows = p;
		a->cap = cap;
	}
	r = &a->rows[a->n];
	memset(r, 0, sizeof(*r));
	if (!(r->field = strndup((const char *)f, flen)))
		goto nomem;
	if (sqlite3_value_type(argv[2]) != SQLITE_NULL) {
		const void *v = sqlite3_value_blob(argv[2]);
		uint8_t *copy;
		vlen = (size_t)sqlite3_value_bytes(argv[2]);
		if (!(copy = malloc(vlen ? vlen : 1))) {
			free((void *)r->field);
			goto nomem;
		}
		if (vlen)
			memcpy(copy, v, vlen);
		r->value = copy;
		r->value_len = vlen;
	}
	r->pos = sqlite3_value_int64(argv[1]);
	r->winner = sqlite3_value_int(argv[3]) != 0;
	a->n++;
	return;
nomem:
	a->failed = 1;
	sqlite3_result_error_nomem(ctx);
}

static void pack_final(sqlite3_context *ctx)
{
	struct pack_acc *a = sqlite3_aggregate_context(ctx, 0);
	struct veld_buf b;
	int rc;

	if (!a || !a->n || a->failed) {
		if (!a || !a->failed)
			sqlite3_result_null(ctx);
		if (a)
			pack_acc_release(a);
		return;
	}
	veld_buf_init(&b, VELD_RECVALS_MAX);
	rc = veld_recvals_pack(a->rows, a->n, &b);
	if (rc == 0)
		sqlite3_result_blob(ctx, b.data, (int)b.len, SQLITE_TRANSIENT);
	else if (rc == VELD_ENOMEM)
		sqlite3_result_error_nomem(ctx);
	else
		sqlite3_result_error_toobig(ctx);
	veld_buf_release(&b);
	pack_acc_release(a);
}

int veld_recvals_register(sqlite3 *db)
{
	int rc = sqlite3_create_module(db, "veld_vals", &vals_module, NULL);

	if (rc != SQLITE_OK)
		return rc;
	return sqlite3_create_function_v2(
		db, "veld_vals_pack", 4,
		SQLITE_UTF8 | SQLITE_DETERMINISTIC | SQLITE_INNOCUOUS, NULL,
		NULL, pack_step, pack_final, NULL);
}
