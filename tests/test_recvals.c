/*
 * test_recvals.c - a record's values as one blob (proto/recvals.h): the
 * bytes veld_recvals_pack writes, veld_vals reading them back as rows,
 * veld_vals_pack packing rows the same way, and blobs veld_vals refuses.
 */
#include <sqlite3.h>
#include <string.h>

#include "err.h"
#include "recvals.h"
#include "test.h"

static sqlite3 *db;

/* Three values of two fields, out of order: what the packer sorts. */
static const uint8_t v_a[] = {0xa2, 'j', 'a'}, v_b[] = {0x07};
static const struct veld_value_row rows[3] = {
	{.field = "wish", .pos = 9, .value = v_a, .value_len = 3, .winner = 1},
	{.field = "age", .pos = 4, .value = v_b, .value_len = 1},
	{.field = "wish", .pos = 2, .value = NULL, .winner = 0},
};

static sqlite3_stmt *prep(const char *sql)
{
	sqlite3_stmt *st = NULL;

	CHECK_EQ(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
	return st;
}

/* The rows of veld_vals(blob) as "field/pos/value-hex-or-nil/winner;". */
static int rows_of(const void *blob, size_t len, char *out, size_t cap)
{
	sqlite3_stmt *st = prep("SELECT field, pos, value, winner"
				" FROM veld_vals(?1)");
	size_t at = 0;
	int rc;

	out[0] = 0;
	if (blob)
		sqlite3_bind_blob(st, 1, blob, (int)len, SQLITE_STATIC);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		const uint8_t *v = sqlite3_column_blob(st, 2);
		int vn = sqlite3_column_bytes(st, 2);

		at += (size_t)snprintf(out + at, cap - at, "%s/%lld/",
				       sqlite3_column_text(st, 0),
				       sqlite3_column_int64(st, 1));
		if (sqlite3_column_type(st, 2) == SQLITE_NULL)
			at += (size_t)snprintf(out + at, cap - at, "nil");
		for (int i = 0; i < vn; i++)
			at += (size_t)snprintf(out + at, cap - at, "%02x",
					       v[i]);
		at += (size_t)snprintf(out + at, cap - at, "/%d;",
				       sqlite3_column_int(st, 3));
	}
	sqlite3_finalize(st);
	return rc;
}

/* The exact bytes, in order, whatever order the rows come in. */
static void pack_bytes(void)
{
	static const uint8_t want[] = {
		0x93,							 /* 3 */
		0x94, 0xa3, 'a', 'g', 'e', 0x04, 0xc4, 1,    0x07, 0xc2, /**/
		0x94, 0xa4, 'w', 'i', 's', 'h',	 0x02, 0xc0, 0xc2,	 /**/
		0x94, 0xa4, 'w', 'i', 's', 'h',	 0x09, 0xc4, 3,	   0xa2,
		'j',  'a',  0xc3};
	struct veld_buf b;
	char got[512];

	veld_buf_init(&b, 1024);
	CHECK_ERR(veld_recvals_pack(rows, 3, &b), 0);
	CHECK_EQ(b.len, sizeof(want));
	CHECK_MEM(b.data, want, sizeof(want));
	CHECK_EQ(rows_of(b.data, b.len, got, sizeof(got)), SQLITE_DONE);
	CHECK(strcmp(got, "age/4/07/0;wish/2/nil/0;wish/9/a26a61/1;") == 0);

	/* no values: empty, which the store keeps as NULL: no rows */
	CHECK_ERR(veld_recvals_pack(rows, 0, &b), 0);
	CHECK_EQ(b.len, 0);
	CHECK_EQ(rows_of(NULL, 0, got, sizeof(got)), SQLITE_DONE);
	CHECK(strcmp(got, "") == 0);

	/* over the buffer's maximum: an error, the buffer empty */
	veld_buf_release(&b);
	veld_buf_init(&b, 8);
	CHECK_ERR(veld_recvals_pack(rows, 3, &b), VELD_ETOOBIG);
	CHECK_EQ(b.len, 0);
	veld_buf_release(&b);
}

/* More entries than fit the packer's stack array: still sorted. */
static void pack_many(void)
{
	struct veld_value_row many[40];
	static const char *names[] = {"c", "a", "b"};
	static const uint8_t one = 0x01;
	struct veld_buf b;
	sqlite3_stmt *st;
	const char *prev = "";
	long long prev_pos = 0;
	int n = 0;

	for (int i = 0; i < 40; i++)
		many[i] = (struct veld_value_row){.field = names[i % 3],
						  .pos = 100 - i,
						  .value = &one,
						  .value_len = 1};
	veld_buf_init(&b, 1 << 16);
	CHECK_ERR(veld_recvals_pack(many, 40, &b), 0);
	st = prep("SELECT field, pos FROM veld_vals(?1)");
	sqlite3_bind_blob(st, 1, b.data, (int)b.len, SQLITE_STATIC);
	while (sqlite3_step(st) == SQLITE_ROW) {
		const char *f = (const char *)sqlite3_column_text(st, 0);
		long long pos = sqlite3_column_int64(st, 1);
		int c = strcmp(prev, f);
		CHECK(c < 0 || (c == 0 && prev_pos < pos));
		static char keep[8];
		snprintf(keep, sizeof(keep), "%s", f);
		prev = keep;
		prev_pos = pos;
		n++;
	}
	sqlite3_finalize(st);
	CHECK_EQ(n, 40);
	veld_buf_release(&b);
}

/* veld_vals_pack over rows gives what veld_recvals_pack gives. */
static void aggregate_same(void)
{
	struct veld_buf b;
	sqlite3_stmt *st;

	veld_buf_init(&b, 1024);
	CHECK_ERR(veld_recvals_pack(rows, 3, &b), 0);
	st = prep("WITH t(f, p, v, w) AS (VALUES ('wish', 2, NULL, 0),"
		  " ('wish', 9, x'a26a61', 1), ('age', 4, x'07', 0))"
		  " SELECT veld_vals_pack(f, p, v, w) FROM t");
	CHECK_EQ(sqlite3_step(st), SQLITE_ROW);
	CHECK_EQ((size_t)sqlite3_column_bytes(st, 0), b.len);
	CHECK_MEM(sqlite3_column_blob(st, 0), b.data, b.len);
	sqlite3_finalize(st);

	/* no rows: NULL */
	st = prep("SELECT veld_vals_pack(f, p, v, w) FROM (SELECT 'a' AS f,"
		  " 1 AS p, NULL AS v, 0 AS w) WHERE 0");
	CHECK_EQ(sqlite3_step(st), SQLITE_ROW);
	CHECK_EQ(sqlite3_column_type(st, 0), SQLITE_NULL);
	sqlite3_finalize(st);

	/* a row without a field is an error, not a blob */
	st = prep("SELECT veld_vals_pack(NULL, 1, NULL, 0)");
	CHECK_EQ(sqlite3_step(st), SQLITE_ERROR);
	sqlite3_finalize(st);
	veld_buf_release(&b);
}

/* Blobs that are not of recvals.h's shape: an error, nothing read. */
static void malformed(void)
{
	static const struct {
		const char *why;
		uint8_t b[16];
		size_t n;
	} bad[] = {
		{"not an array", {0x01}, 1},
		{"entry of 3", {0x91, 0x93, 0xa1, 'a', 0x01, 0xc0}, 6},
		{"pos 0", {0x91, 0x94, 0xa1, 'a', 0x00, 0xc0, 0xc2}, 7},
		{"pos negative", {0x91, 0x94, 0xa1, 'a', 0xff, 0xc0, 0xc2}, 7},
		{"field not str", {0x91, 0x94, 0x01, 0x01, 0xc0, 0xc2}, 6},
		{"value a str", {0x91, 0x94, 0xa1, 'a', 0x01, 0xa0, 0xc2}, 7},
		{"winner an int", {0x91, 0x94, 0xa1, 'a', 0x01, 0xc0, 0x01}, 7},
		{"cut short", {0x92, 0x94, 0xa1, 'a', 0x01, 0xc0, 0xc2}, 7},
		{"bytes after", {0x90, 0x00}, 2},
		{"bin past the end", {0x91, 0x94, 0xa1, 'a', 0x01, 0xc4, 9}, 7},
		{"empty", {0}, 0},
	};
	char got[256];

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		sqlite3_stmt *st = prep("SELECT * FROM veld_vals(?1)");
		static const uint8_t nothing[1];
		sqlite3_bind_blob(st, 1, bad[i].n ? bad[i].b : nothing,
				  (int)bad[i].n, SQLITE_STATIC);
		int rc = sqlite3_step(st);
		if (rc == SQLITE_ROW || rc == SQLITE_DONE)
			fprintf(stderr, "accepted: %s\n", bad[i].why);
		CHECK(rc != SQLITE_ROW && rc != SQLITE_DONE);
		CHECK(strstr(sqlite3_errmsg(db), "veld_vals: malformed"));
		sqlite3_finalize(st);
	}
	/* text is not a blob either */
	{
		sqlite3_stmt *st = prep("SELECT * FROM veld_vals('x')");
		CHECK(sqlite3_step(st) != SQLITE_ROW);
		sqlite3_finalize(st);
	}
	/* and the connection goes on serving */
	CHECK_EQ(rows_of(NULL, 0, got, sizeof(got)), SQLITE_DONE);
}

int main(void)
{
	CHECK_EQ(sqlite3_open(":memory:", &db), SQLITE_OK);
	CHECK_EQ(veld_recvals_register(db), SQLITE_OK);
	pack_bytes();
	pack_many();
	aggregate_same();
	malformed();
	sqlite3_close(db);
	return test_summary("test_recvals");
}
