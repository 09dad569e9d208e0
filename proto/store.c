/*
 * store.c - the replica's SQLite store; see store.h.
 *
 * This is the only file in veldwerk that contains SQL.  Statements are
 * listed once, in the table `sql` below, prepared on first use (stmt()),
 * kept until close and reset after each use.  Every function maps SQLite
 * errors to VELD_ESTORE at its edge, a statement that cannot be prepared
 * too; the message stays available through veld_store_errmsg().
 *
 * hlc values are stored as SQLite's signed 64-bit INTEGER.  The replica
 * refuses clocks more than the drift bound ahead of now, so stored values
 * stay far below 2^63 and sort correctly as signed numbers.
 */
#include "store.h"

#include <errno.h>
#include <fcntl.h>
#include <float.h>
#include <inttypes.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sodium.h>
#include <sqlite3.h>

#include "canon.h"
#include "err.h"
#include "recvals.h"

#define SCHEMA_VERSION 8

static const char schema_v1[] =
	"CREATE TABLE ops("
	" pos INTEGER PRIMARY KEY AUTOINCREMENT,"
	" id BLOB NOT NULL UNIQUE,"
	" author BLOB NOT NULL, seq INTEGER NOT NULL, hlc INTEGER NOT NULL,"
	" record BLOB NOT NULL, kind INTEGER NOT NULL,"
	" header BLOB NOT NULL, sig BLOB NOT NULL, status INTEGER NOT NULL);"
	"CREATE INDEX ops_author ON ops(author, seq);"
	"CREATE INDEX ops_record ON ops(record, hlc);"
	"CREATE INDEX ops_kind ON ops(kind, hlc);"
	"CREATE TABLE bodies(id BLOB PRIMARY KEY, body BLOB NOT NULL)"
	" WITHOUT ROWID;"
	"CREATE TABLE heads(author BLOB PRIMARY KEY, seq INTEGER NOT NULL,"
	" id BLOB NOT NULL, frozen INTEGER NOT NULL, fork_seq INTEGER NOT NULL)"
	" WITHOUT ROWID;"
	"CREATE TABLE pending(author BLOB NOT NULL, seq INTEGER NOT NULL,"
	" id BLOB NOT NULL, reason INTEGER NOT NULL, op BLOB NOT NULL,"
	" PRIMARY KEY(author, seq)) WITHOUT ROWID;"
	"CREATE TABLE erasures(record BLOB PRIMARY KEY) WITHOUT ROWID;"
	"CREATE TABLE records(id BLOB PRIMARY KEY, form TEXT, area TEXT,"
	" street TEXT, followup TEXT,"
	" created INTEGER NOT NULL, updated INTEGER NOT NULL,"
	" deleted INTEGER NOT NULL, delete_conflict INTEGER NOT NULL,"
	" erased INTEGER NOT NULL, conflicts INTEGER NOT NULL) WITHOUT ROWID;"
	"CREATE INDEX records_form ON records(form, updated);"
	"CREATE TABLE field_values(record BLOB NOT NULL, field TEXT NOT NULL,"
	" op BLOB NOT NULL, author BLOB NOT NULL, hlc INTEGER NOT NULL,"
	" value BLOB, winner INTEGER NOT NULL,"
	" PRIMARY KEY(record, field, op)) WITHOUT ROWID;"
	"CREATE TABLE notes(record BLOB NOT NULL, hlc INTEGER NOT NULL,"
	" author BLOB NOT NULL, op BLOB NOT NULL, text TEXT,"
	" PRIMARY KEY(record, hlc, author, op)) WITHOUT ROWID;"
	"CREATE TABLE forms(id BLOB PRIMARY KEY, name TEXT NOT NULL,"
	" def BLOB NOT NULL, hlc INTEGER NOT NULL, op BLOB NOT NULL)"
	" WITHOUT ROWID;"
	"CREATE TABLE devices(key BLOB PRIMARY KEY, role TEXT NOT NULL,"
	" name TEXT NOT NULL, area TEXT, enrolled INTEGER NOT NULL,"
	" revoked INTEGER NOT NULL, hlc INTEGER NOT NULL) WITHOUT ROWID;";

/* Version 2: replica settings (meta) and the server's enrolment codes,
 * kept as hashes so a copy of the file does not reveal a live code. */
static const char schema_v2[] =
	"CREATE TABLE meta(key TEXT PRIMARY KEY, value BLOB NOT NULL)"
	" WITHOUT ROWID;"
	"CREATE TABLE codes(hash BLOB PRIMARY KEY, role TEXT NOT NULL,"
	" name TEXT NOT NULL, area TEXT, expires INTEGER NOT NULL,"
	" used INTEGER NOT NULL) WITHOUT ROWID;";

/*
 * Version 3: bodies inside the op row.  A body used to live in its own
 * table under the op's random 32-byte id, so every op applied wrote one
 * more b-tree at a random place; in the op row (appended in log order) it
 * costs nothing extra, and erasing a body is setting the column to NULL.
 * The view `bodies` keeps the old shape for readers of the file (sqlite3
 * one-liners, older scripts).  A body whose op was missing (damage that
 * veldd verify reported as an orphan) has nowhere to go and is dropped.
 */
#define VIEW_BODIES                                                            \
	"CREATE VIEW bodies(id, body) AS"                                      \
	" SELECT id, body FROM ops WHERE body IS NOT NULL;"
static const char schema_v3[] =
	"ALTER TABLE ops ADD COLUMN body BLOB;"
	"UPDATE ops SET body = (SELECT body FROM bodies b WHERE b.id = ops.id);"
	"DROP TABLE bodies;" VIEW_BODIES;

/*
 * Version 4: a record's materialised rows under a local record number.
 * records becomes a rowid table (rid, handed out in the order records
 * first appear, the 16-byte id a unique key beside it); values and notes
 * are stored as (rid, field, log position) and (rid, log position): a new
 * record's rows are appended at the end of their tables instead of at a
 * random place, and they no longer repeat the op id, author and hlc, which
 * the op row has.  The views field_values and notes keep the old shape
 * for every query that reads them.
 */
#define VIEW_NOTES                                                             \
	"CREATE VIEW notes(record, hlc, author, op, text) AS"                  \
	" SELECT r.id, o.hlc, o.author, o.id, n.text FROM note_rows n"         \
	" LEFT JOIN records r ON r.rid = n.rid"                                \
	" LEFT JOIN ops o ON o.pos = n.pos;"
static const char schema_v4[] =
	"CREATE TABLE records_v4(rid INTEGER PRIMARY KEY,"
	" id BLOB NOT NULL UNIQUE, form TEXT, area TEXT,"
	" street TEXT, followup TEXT,"
	" created INTEGER NOT NULL, updated INTEGER NOT NULL,"
	" deleted INTEGER NOT NULL, delete_conflict INTEGER NOT NULL,"
	" erased INTEGER NOT NULL, conflicts INTEGER NOT NULL);"
	"INSERT INTO records_v4(id, form, area, street, followup, created,"
	" updated, deleted, delete_conflict, erased, conflicts)"
	" SELECT id, form, area, street, followup, created, updated, deleted,"
	" delete_conflict, erased, conflicts FROM records ORDER BY created, id;"
	"CREATE TABLE vals(rid INTEGER NOT NULL, field TEXT NOT NULL,"
	" pos INTEGER NOT NULL, value BLOB, winner INTEGER NOT NULL,"
	" PRIMARY KEY(rid, field, pos)) WITHOUT ROWID;"
	"INSERT INTO vals SELECT r.rid, f.field, o.pos, f.value, f.winner"
	" FROM field_values f JOIN records_v4 r ON r.id = f.record"
	" JOIN ops o ON o.id = f.op;"
	"CREATE TABLE note_rows(rid INTEGER NOT NULL, pos INTEGER NOT NULL,"
	" text TEXT, PRIMARY KEY(rid, pos)) WITHOUT ROWID;"
	"INSERT INTO note_rows SELECT r.rid, o.pos, n.text"
	" FROM notes n JOIN records_v4 r ON r.id = n.record"
	" JOIN ops o ON o.id = n.op;"
	"DROP TABLE field_values;"
	"DROP TABLE notes;"
	"DROP TABLE records;"
	"ALTER TABLE records_v4 RENAME TO records;"
	"CREATE INDEX records_form ON records(form, updated);"
	"CREATE VIEW field_values(record, field, op, author, hlc, value,"
	" winner) AS SELECT r.id, v.field, o.id, o.author, o.hlc, v.value,"
	" v.winner FROM vals v LEFT JOIN records r ON r.rid = v.rid"
	" LEFT JOIN ops o ON o.pos = v.pos;" VIEW_NOTES;

/*
 * Version 5: the registry's fold is the only reader of ops by kind (device
 * ops, in clock order), so only device ops are indexed for it.  An index
 * of every op by (kind, hlc) cost each op applied one more b-tree insert.
 */
static const char schema_v5[] =
	"DROP INDEX ops_kind;"
	"CREATE INDEX ops_device ON ops(hlc) WHERE kind = 6;";
_Static_assert(VELD_KIND_DEVICE == 6, "ops_device and S_DEVICE_OPS say 6");

/*
 * Version 6: salt nodes (salts.h).  Per author the kept nodes of its salt
 * tree, disjoint, by their first seq: the nodes of our own tree, and on
 * veldd those devices handed over, to hand them over again.
 */
static const char schema_v6[] =
	"CREATE TABLE salt_nodes(author BLOB NOT NULL, lo INTEGER NOT NULL,"
	" depth INTEGER NOT NULL, seed BLOB NOT NULL,"
	" PRIMARY KEY(author, lo)) WITHOUT ROWID;";

/*
 * Version 7: a record's values are one column of its records row
 * (field_vals, a msgpack blob: recvals.h) instead of one vals row per
 * field and op: a new 8-field record was 9 b-tree inserts, now it is one.
 * The view field_values reads the blob as rows through veld_vals(); the
 * migration packs each record's rows with veld_vals_pack() (both
 * registered on the connection before migrate()).
 */
#define VIEW_FIELD_VALUES                                                      \
	"CREATE VIEW field_values(record, field, op, author, hlc, value,"      \
	" winner) AS SELECT r.id, v.field, o.id, o.author, o.hlc, v.value,"    \
	" v.winner FROM records r JOIN veld_vals(r.field_vals) v"              \
	" LEFT JOIN ops o ON o.pos = v.pos;"
static const char schema_v7[] =
	"ALTER TABLE records ADD COLUMN field_vals BLOB;"
	"UPDATE records SET field_vals = (SELECT veld_vals_pack(v.field,"
	" v.pos, v.value, v.winner) FROM vals v WHERE v.rid = records.rid);"
	"DROP VIEW field_values;"
	"DROP TABLE vals;" VIEW_FIELD_VALUES;

/*
 * Version 8: the op log without AUTOINCREMENT.  It cost every op appended
 * a read and a write of sqlite_sequence (~4,000 instructions of ~31,000
 * for the op row and its indexes); positions are no longer freed (no op
 * row is ever deleted), so max(pos) + 1 is the same number.  What
 * sqlite_sequence kept beyond the last row (a restore's rebase,
 * veld_store_log_rebase) moves to meta 'log_floor', an integer: the next
 * op gets at least that position.  The table is rebuilt (SQLite cannot
 * drop AUTOINCREMENT in place), its indexes built after the copy, and the
 * views that read it dropped and made again around the rebuild.
 */
static const char schema_v8[] =
	"DROP VIEW bodies; DROP VIEW notes; DROP VIEW field_values;"
	"CREATE TABLE ops_v8(pos INTEGER PRIMARY KEY, id BLOB NOT NULL,"
	" author BLOB NOT NULL, seq INTEGER NOT NULL, hlc INTEGER NOT NULL,"
	" record BLOB NOT NULL, kind INTEGER NOT NULL, header BLOB NOT NULL,"
	" sig BLOB NOT NULL, status INTEGER NOT NULL, body BLOB);"
	"INSERT INTO ops_v8 SELECT pos, id, author, seq, hlc, record, kind,"
	" header, sig, status, body FROM ops ORDER BY pos;"
	"INSERT OR REPLACE INTO meta(key, value) SELECT 'log_floor', seq + 1"
	" FROM sqlite_sequence WHERE name = 'ops'"
	" AND seq > (SELECT coalesce(max(pos), 0) FROM ops);"
	"DROP TABLE ops;"
	"ALTER TABLE ops_v8 RENAME TO ops;"
	"CREATE UNIQUE INDEX ops_id ON ops(id);"
	"CREATE INDEX ops_author ON ops(author, seq);"
	"CREATE INDEX ops_record ON ops(record, hlc);"
	"CREATE INDEX ops_device ON ops(hlc) WHERE kind = 6;" VIEW_BODIES
		VIEW_NOTES VIEW_FIELD_VALUES;

/* Forward migrations: migrations[v] takes the schema from v to v + 1. */
static const char *const migrations[SCHEMA_VERSION] = {
	schema_v1, schema_v2, schema_v3, schema_v4,
	schema_v5, schema_v6, schema_v7, schema_v8};

#define OP_COLS "id, header, sig, status, pos, body"

enum stmt {
	S_BEGIN,
	S_COMMIT,
	S_ROLLBACK,
	S_SAVEPOINT,
	S_RELEASE,
	S_ROLLBACK_TO,
	S_OP_STATUS,
	S_OP_AT,
	S_OP_INSERT,
	S_OP_INSERT_FLOOR,
	S_LOG_FLOOR,
	S_RECORD_OPS,
	S_RECORD_FOLD_OPS,
	S_DEVICE_OPS,
	S_OPS_SINCE,
	S_AUTHOR_OPS,
	S_AUTHOR_OPS_AFTER,
	S_OP_SET_STATUS,
	S_DROP_BODIES,
	S_OP_COUNT,
	S_HEAD,
	S_HEAD_SET,
	S_HEADS,
	S_PENDING_ADD,
	S_PENDING_GET,
	S_PENDING_DEL,
	S_PENDING_AUTHORS,
	S_PENDING_MIN,
	S_PENDING_COUNT,
	S_ERASED,
	S_ERASED_ANY,
	S_ERASE_MARK,
	S_REC_DEL,
	S_REC_INSERT,
	S_REC_NEW,
	S_REC_RID,
	S_NOTE_DEL,
	S_NOTE_INSERT,
	S_NOTE_KEYS,
	S_NOTE_DEL_ONE,
	S_DEV_DEL,
	S_DEV_INSERT,
	S_DEVICES,
	S_FORM_REPLACE,
	S_FORM_DEL,
	S_FORMS,
	S_RECORDS,
	S_RECORD,
	S_VALUES,
	S_NOTES,
	S_RECORD_IDS,
	S_DATA_VERSION,
	S_META_GET,
	S_META_SET,
	S_CODE_ADD,
	S_CODE_GET,
	S_CODE_USE,
	S_CODE_PRUNE,
	S_SALT_NODES,
	S_SALT_AT,
	S_SALT_PUT,
	S_SALT_DEL,
	S_SALT_DEL_IN,
	S_SALT_BODIES,
	S_COUNT
};

#define REC_COLS                                                               \
	"id, form, area, street, followup, created, updated, deleted, "        \
	"delete_conflict, erased, conflicts"

static const char *const sql[S_COUNT] = {
	[S_BEGIN] = "BEGIN IMMEDIATE",
	[S_COMMIT] = "COMMIT",
	[S_ROLLBACK] = "ROLLBACK",
	[S_SAVEPOINT] = "SAVEPOINT part",
	[S_RELEASE] = "RELEASE part",
	[S_ROLLBACK_TO] = "ROLLBACK TO part",
	[S_OP_STATUS] = "SELECT status FROM ops WHERE id = ?1",
	[S_OP_AT] = "SELECT id FROM ops WHERE author = ?1 AND seq = ?2"
		    " AND status != 2",
	[S_OP_INSERT] = "INSERT INTO ops(id, author, seq, hlc, record, kind,"
			" header, sig, status, body)"
			" VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
	/* The same at or past the floor ?11 (a rebased log, store.h). */
	[S_OP_INSERT_FLOOR] = "INSERT INTO ops(id, author, seq, hlc, record,"
			      " kind, header, sig, status, body, pos)"
			      " VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10,"
			      " max(?11, (SELECT coalesce(max(pos), 0) + 1"
			      " FROM ops)))",
	[S_LOG_FLOOR] = "SELECT coalesce((SELECT value FROM meta"
			" WHERE key = 'log_floor'), 0),"
			" coalesce((SELECT max(pos) FROM ops), 0)",
	/* In the index's order: "ORDER BY hlc, author, id" made SQLite
	 * sort every record's few ops in a temporary b-tree. */
	[S_RECORD_OPS] = "SELECT " OP_COLS " FROM ops o WHERE record = ?1"
			 " ORDER BY hlc, pos",
	/* kind 6 (VELD_KIND_DEVICE) literally: the partial index ops_device */
	/* S_RECORD_OPS for the fold: the header's fields from their columns
	 * (written from the checked header) instead of decoding it again */
	[S_RECORD_FOLD_OPS] = "SELECT id, author, seq, hlc, kind, status, pos,"
			      " body FROM ops o WHERE record = ?1"
			      " ORDER BY hlc, pos",
	[S_DEVICE_OPS] = "SELECT " OP_COLS " FROM ops o WHERE kind = 6"
			 " ORDER BY hlc, author, id",
	[S_OPS_SINCE] = "SELECT " OP_COLS " FROM ops o WHERE pos > ?1"
			" ORDER BY pos LIMIT ?2",
	[S_AUTHOR_OPS] = "SELECT " OP_COLS " FROM ops o WHERE author = ?1"
			 " ORDER BY seq, pos",
	[S_AUTHOR_OPS_AFTER] = "SELECT " OP_COLS " FROM ops o WHERE author = ?1"
			       " AND seq > ?2 ORDER BY seq, pos LIMIT ?3",
	[S_OP_SET_STATUS] = "UPDATE ops SET status = ?2 WHERE id = ?1",
	[S_DROP_BODIES] = "UPDATE ops SET body = NULL WHERE record = ?1"
			  " AND kind != ?2 AND body IS NOT NULL"
			  " RETURNING author, seq",
	[S_OP_COUNT] = "SELECT count(*), max(hlc) FROM ops",
	[S_HEAD] = "SELECT seq, id, frozen, fork_seq FROM heads"
		   " WHERE author = ?1",
	[S_HEAD_SET] =
		"INSERT INTO heads(author, seq, id, frozen, fork_seq)"
		" VALUES(?1, ?2, ?3, ?4, ?5) ON CONFLICT(author) DO"
		" UPDATE SET seq = excluded.seq, id = excluded.id,"
		" frozen = excluded.frozen, fork_seq = excluded.fork_seq",
	[S_HEADS] = "SELECT author, seq, id, frozen, fork_seq FROM heads"
		    " ORDER BY author",
	[S_PENDING_ADD] = "INSERT OR IGNORE INTO pending(author, seq, id,"
			  " reason, op) VALUES(?1, ?2, ?3, ?4, ?5)",
	[S_PENDING_GET] = "SELECT op FROM pending WHERE author = ?1"
			  " AND seq = ?2",
	[S_PENDING_DEL] = "DELETE FROM pending WHERE author = ?1 AND seq = ?2",
	[S_PENDING_AUTHORS] = "SELECT DISTINCT author FROM pending"
			      " WHERE reason = ?1",
	[S_PENDING_MIN] = "SELECT min(seq) FROM pending WHERE author = ?1",
	[S_PENDING_COUNT] = "SELECT count(*) FROM pending",
	[S_ERASED] = "SELECT 1 FROM erasures WHERE record = ?1",
	[S_ERASED_ANY] = "SELECT 1 FROM erasures LIMIT 1",
	[S_ERASE_MARK] = "INSERT OR IGNORE INTO erasures(record) VALUES(?1)",
	[S_REC_DEL] = "DELETE FROM records WHERE id = ?1",
	[S_REC_RID] = "SELECT rid FROM records WHERE id = ?1",
	/* The materialised rows are upserts that write nothing when the row
	 * is unchanged: a refold rewrites only what the new ops changed. */
	[S_REC_INSERT] =
		"INSERT INTO records(" REC_COLS ", field_vals)"
		" VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)"
		" ON CONFLICT(id) DO UPDATE SET form = excluded.form,"
		" area = excluded.area, street = excluded.street,"
		" followup = excluded.followup, created = excluded.created,"
		" updated = excluded.updated, deleted = excluded.deleted,"
		" delete_conflict = excluded.delete_conflict,"
		" erased = excluded.erased, conflicts = excluded.conflicts,"
		" field_vals = excluded.field_vals"
		" WHERE (form, area, street, followup, created, updated,"
		" deleted, delete_conflict, erased, conflicts, field_vals) IS "
		"NOT"
		" (excluded.form, excluded.area, excluded.street,"
		" excluded.followup, excluded.created, excluded.updated,"
		" excluded.deleted, excluded.delete_conflict, excluded.erased,"
		" excluded.conflicts, excluded.field_vals)",
	/* A record new to the store: nothing to compare with or replace;
	 * a record stored already is left for S_REC_INSERT (no change). */
	[S_REC_NEW] = "INSERT INTO records(" REC_COLS ", field_vals)"
		      " VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11,"
		      " ?12) ON CONFLICT(id) DO NOTHING",
	[S_NOTE_DEL] = "DELETE FROM note_rows WHERE rid ="
		       " (SELECT rid FROM records WHERE id = ?1)",
	[S_NOTE_INSERT] = "INSERT INTO note_rows(rid, pos, text)"
			  " VALUES(?1, ?2, ?3)"
			  " ON CONFLICT(rid, pos) DO UPDATE"
			  " SET text = excluded.text"
			  " WHERE text IS NOT excluded.text",
	[S_NOTE_KEYS] = "SELECT pos FROM note_rows WHERE rid = ?1",
	[S_NOTE_DEL_ONE] = "DELETE FROM note_rows WHERE rid = ?1 AND pos = ?2",
	[S_DEV_DEL] = "DELETE FROM devices",
	[S_DEV_INSERT] = "INSERT INTO devices(key, role, name, area, enrolled,"
			 " revoked, hlc) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7)",
	[S_DEVICES] = "SELECT key, role, name, area, enrolled, revoked, hlc"
		      " FROM devices ORDER BY key",
	[S_FORM_REPLACE] =
		"INSERT OR REPLACE INTO forms(id, name, def, hlc, op)"
		" VALUES(?1, ?2, ?3, ?4, ?5)",
	[S_FORM_DEL] = "DELETE FROM forms WHERE id = ?1",
	[S_FORMS] =
		"SELECT id, name, def, hlc, op FROM forms ORDER BY name, id",
	[S_RECORDS] = "SELECT " REC_COLS " FROM records"
		      " WHERE (?1 IS NULL OR form = ?1)"
		      " AND (?2 IS NULL OR area = ?2)"
		      " AND (?3 IS NULL OR street = ?3)"
		      " AND (?4 = 0 OR conflicts > 0 OR delete_conflict)"
		      " AND (?5 OR NOT deleted)"
		      " AND updated >= ?6"
		      " AND (?7 IS NULL OR followup = ?7)"
		      " ORDER BY updated DESC, id",
	[S_RECORD] = "SELECT " REC_COLS " FROM records WHERE id = ?1",
	[S_VALUES] = "SELECT field, op, author, hlc, value, winner"
		     " FROM field_values WHERE record = ?1"
		     " ORDER BY field, winner DESC, hlc DESC, author",
	[S_NOTES] = "SELECT op, author, hlc, text FROM notes WHERE record = ?1"
		    " ORDER BY hlc, author, op",
	[S_RECORD_IDS] = "SELECT id FROM records ORDER BY id",
	[S_DATA_VERSION] = "PRAGMA data_version",
	[S_META_GET] = "SELECT value FROM meta WHERE key = ?1",
	[S_META_SET] = "INSERT OR REPLACE INTO meta(key, value) VALUES(?1, ?2)",
	[S_CODE_ADD] =
		"INSERT INTO codes(hash, role, name, area, expires, used)"
		" VALUES(?1, ?2, ?3, ?4, ?5, 0)",
	[S_CODE_GET] = "SELECT role, name, area, expires, used FROM codes"
		       " WHERE hash = ?1",
	[S_CODE_USE] = "UPDATE codes SET used = 1 WHERE hash = ?1 AND used = 0",
	[S_CODE_PRUNE] = "DELETE FROM codes WHERE expires < ?1",
	/* from the node at or before lo (the one that may hold it) on */
	[S_SALT_NODES] =
		"SELECT lo, depth, seed FROM salt_nodes"
		" WHERE author = ?1 AND lo >= (SELECT coalesce(max(lo),"
		" 0) FROM salt_nodes WHERE author = ?1 AND lo <= ?2)"
		" AND lo <= ?3 ORDER BY lo",
	[S_SALT_AT] =
		"SELECT lo, depth, seed FROM salt_nodes"
		" WHERE author = ?1 AND lo <= ?2 ORDER BY lo DESC LIMIT 1",
	[S_SALT_PUT] = "INSERT OR REPLACE INTO salt_nodes(author, lo, depth,"
		       " seed) VALUES(?1, ?2, ?3, ?4)",
	[S_SALT_DEL] = "DELETE FROM salt_nodes WHERE author = ?1 AND lo = ?2",
	[S_SALT_DEL_IN] = "DELETE FROM salt_nodes WHERE author = ?1"
			  " AND lo BETWEEN ?2 AND ?3",
	[S_SALT_BODIES] = "SELECT seq FROM ops WHERE author = ?1"
			  " AND seq BETWEEN ?2 AND ?3 AND body IS NOT NULL"
			  " ORDER BY seq",
};

struct veld_store {
	sqlite3 *db;
	sqlite3_stmt *st[S_COUNT]; /* NULL until first used: stmt() */
	int in_tx;
	int scrub; /* an erasure was written: veld_store_scrub() after commit */
	/* meta 'log_floor' while the log has not reached it, else 0: the
	 * next op appended gets at least this position (load_floor()) */
	int64_t pos_floor;
	int floor_used; /* an op went in at the floor, not committed yet */
	struct veld_buf vals; /* a record's field_vals, packed (reused) */
};

/*
 * The statement `which` of the table, prepared on its first use and kept
 * until veld_store_close().  Lazily: preparing all of them at open cost a
 * device more than its whole log read for a push, which uses a handful.
 * NULL if it cannot be prepared (a table missing from a damaged store, no
 * memory): the caller fails with VELD_ESTORE, and veld_store_errmsg() says
 * why; the next call tries again.
 */
static sqlite3_stmt *stmt(struct veld_store *s, enum stmt which)
{
	if (!s->st[which] &&
	    sqlite3_prepare_v3(s->db, sql[which], -1, SQLITE_PREPARE_PERSISTENT,
			       &s->st[which], NULL) != SQLITE_OK)
		s->st[which] = NULL;
	return s->st[which];
}

int veld_store_cache_set(struct veld_store *s, int kib)
{
	char q[64];

	if (kib <= 0)
		return VELD_ESTORE;
	snprintf(q, sizeof(q), "PRAGMA cache_size = %d", -kib);
	return sqlite3_exec(s->db, q, NULL, NULL, NULL) == SQLITE_OK
		       ? 0
		       : VELD_ESTORE;
}

const char *veld_store_errmsg(const struct veld_store *s)
{
	return s && s->db ? sqlite3_errmsg(s->db) : "no store";
}

int veld_store_refine(const struct veld_store *s, int rc)
{
	if (rc != VELD_ESTORE || !s || !s->db)
		return rc;
	/* SQLITE_FULL from writing pages; ENOSPC behind an I/O error from
	 * growing the WAL index (-shm) or syncing. */
	if ((sqlite3_extended_errcode(s->db) & 0xff) == SQLITE_FULL ||
	    sqlite3_system_errno(s->db) == ENOSPC ||
	    sqlite3_system_errno(s->db) == EDQUOT)
		return VELD_EFULL;
	return rc;
}

/* Run and reset a statement that returns no rows; NULL (stmt() could not
 * prepare it) is VELD_ESTORE. */
static int exec_stmt(sqlite3_stmt *st)
{
	int rc;

	if (!st)
		return VELD_ESTORE;
	rc = sqlite3_step(st);

	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	return rc == SQLITE_DONE ? 0 : VELD_ESTORE;
}

static void done(sqlite3_stmt *st)
{
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
}

static int bind_blob(sqlite3_stmt *st, int i, const void *p, size_t n)
{
	return sqlite3_bind_blob(st, i, p, (int)n, SQLITE_STATIC);
}

static int bind_text(sqlite3_stmt *st, int i, const char *t)
{
	if (!t)
		return sqlite3_bind_null(st, i);
	return sqlite3_bind_text(st, i, t, -1, SQLITE_STATIC);
}

static int bind_u64(sqlite3_stmt *st, int i, uint64_t v)
{
	return sqlite3_bind_int64(st, i, (sqlite3_int64)v);
}

static uint64_t col_u64(sqlite3_stmt *st, int i)
{
	return (uint64_t)sqlite3_column_int64(st, i);
}

/* Copy a blob column of exactly n bytes; 0 if it has another size. */
static int col_fixed(sqlite3_stmt *st, int i, uint8_t *out, size_t n)
{
	const void *p = sqlite3_column_blob(st, i);

	if ((size_t)sqlite3_column_bytes(st, i) != n || !p)
		return 0;
	memcpy(out, p, n);
	return 1;
}

static int migrate(struct veld_store *s)
{
	sqlite3_stmt *st;
	char bump[64];
	int version, rc;

	if (sqlite3_prepare_v2(s->db, "PRAGMA user_version", -1, &st, NULL))
		return VELD_ESTORE;
	rc = sqlite3_step(st);
	version = rc == SQLITE_ROW ? sqlite3_column_int(st, 0) : -1;
	sqlite3_finalize(st);
	if (version < 0)
		return VELD_ESTORE;
	if (version > SCHEMA_VERSION)
		return VELD_ESCHEMA;
	if (version == SCHEMA_VERSION)
		return 0;
	/* Every step in one transaction: a new store is created with one
	 * commit (one wait for the disk, not one per step), and a store
	 * is never left between two versions. */
	if (sqlite3_exec(s->db, "BEGIN IMMEDIATE", NULL, NULL, NULL))
		return VELD_ESTORE;
	for (; version < SCHEMA_VERSION; version++)
		if (sqlite3_exec(s->db, migrations[version], NULL, NULL,
				 NULL)) {
			sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
			return VELD_ESTORE;
		}
	snprintf(bump, sizeof(bump), "PRAGMA user_version = %d",
		 SCHEMA_VERSION);
	if (sqlite3_exec(s->db, bump, NULL, NULL, NULL) ||
	    sqlite3_exec(s->db, "COMMIT", NULL, NULL, NULL)) {
		sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
		return VELD_ESTORE;
	}
	return 0;
}

/* The n integers of the one row statement `which` gives: 0 and v[0..n),
 * or VELD_ESTORE (v all 0). */
static int query_ints(struct veld_store *s, enum stmt which, int64_t *v, int n)
{
	sqlite3_stmt *st = stmt(s, which);
	int rc;

	for (int i = 0; i < n; i++)
		v[i] = 0;
	if (!st)
		return VELD_ESTORE;
	rc = sqlite3_step(st);
	for (int i = 0; rc == SQLITE_ROW && i < n; i++)
		v[i] = sqlite3_column_int64(st, i);
	done(st);
	return rc == SQLITE_ROW ? 0 : VELD_ESTORE;
}

/*
 * Set s->pos_floor from meta 'log_floor' and the log's end (schema 8): the
 * floor while the log has not reached it, else 0.  From the file, so a
 * rollback or another connection's append cannot leave it stale for long:
 * at open, after a rebase, and after a transaction that used it ended.
 */
static int load_floor(struct veld_store *s)
{
	int64_t v[2]; /* the floor (0: none), the last op's position */
	int rc = query_ints(s, S_LOG_FLOOR, v, 2);

	s->floor_used = 0;
	if (rc < 0)
		return rc;
	s->pos_floor = v[0] > v[1] + 1 ? v[0] : 0;
	return 0;
}

/*
 * Before SQLite's first use: no memory statistics.  veldwerk never reads
 * them (sqlite3_memory_used, heap limits), and keeping them takes a global
 * mutex on every allocation SQLite makes: ~4 % of a device's CPU while it
 * applies a pull.  Too late (SQLite already in use) is harmless.
 */
static pthread_once_t sqlite_once = PTHREAD_ONCE_INIT;

static void sqlite_config(void)
{
	if (sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0) != SQLITE_OK) {
		/* already initialised: statistics stay on, nothing else */
	}
}

/* Let SQLite checkpoint the WAL once it holds about bytes. */
static int wal_checkpoint_every(sqlite3 *db, int bytes)
{
	sqlite3_stmt *st;
	int page = 0;
	char q[64];

	if (sqlite3_prepare_v2(db, "PRAGMA page_size", -1, &st, NULL) !=
	    SQLITE_OK)
		return VELD_ESTORE;
	if (sqlite3_step(st) == SQLITE_ROW)
		page = sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	if (page <= 0)
		return VELD_ESTORE;
	snprintf(q, sizeof(q), "PRAGMA wal_autocheckpoint = %d", bytes / page);
	return sqlite3_exec(db, q, NULL, NULL, NULL) == SQLITE_OK ? 0
								  : VELD_ESTORE;
}

/* Open (creating if needed) with page_size bytes per page for a new file
 * (0: SQLite's default); an existing file keeps its own. */
static int open_store(const char *path, int page_size, struct veld_store **out)
{
	struct veld_store *s = calloc(1, sizeof(*s));
	int rc;

	if (!s)
		return VELD_ENOMEM;
	pthread_once(&sqlite_once, sqlite_config);
	if (sqlite3_open_v2(path, &s->db,
			    SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE |
				    SQLITE_OPEN_NOMUTEX,
			    NULL) != SQLITE_OK) {
		rc = VELD_ESTORE;
		goto fail;
	}
	sqlite3_extended_result_codes(s->db, 1);
	veld_buf_init(&s->vals, VELD_RECVALS_MAX);
	if (veld_recvals_register(s->db) != SQLITE_OK) {
		rc = VELD_ESTORE;
		goto fail;
	}
	/* Writers queue briefly instead of failing (admin commands while
	 * the server runs). */
	sqlite3_busy_timeout(s->db, 5000);
	/* Only takes effect while the file is still empty (new). */
	if (page_size > 0) {
		char q[64];

		snprintf(q, sizeof(q), "PRAGMA page_size = %d", page_size);
		if (sqlite3_exec(s->db, q, NULL, NULL, NULL) != SQLITE_OK) {
			rc = VELD_ESTORE;
			goto fail;
		}
	}
	/*
	 * WAL + FULL: a commit is on stable storage when COMMIT returns.
	 * A 2 MiB page cache (VELD_STORE_CACHE_KIB; veldd gives it more) and
	 * a checkpoint every 32 MiB of WAL (8192 pages of 4 KiB, instead of
	 * SQLite's 1000 pages) keep a batch from paying a checkpoint on every
	 * commit; the WAL file is truncated back to 64 MiB after a
	 * checkpoint.  None of this changes durability.  secure_delete:
	 * what SQLite frees (an erased body, a replaced record row) is
	 * overwritten with zeros, so an erasure leaves nothing readable in
	 * the file (Debian builds SQLite with it on; others may not).
	 */
	if (sqlite3_exec(s->db,
			 "PRAGMA secure_delete = ON;"
			 "PRAGMA journal_mode = WAL;"
			 "PRAGMA synchronous = FULL;"
			 "PRAGMA journal_size_limit = 67108864;"
			 "PRAGMA foreign_keys = ON;",
			 NULL, NULL, NULL) != SQLITE_OK ||
	    wal_checkpoint_every(s->db, 32 * 1024 * 1024) < 0 ||
	    veld_store_cache_set(s, VELD_STORE_CACHE_KIB) < 0) {
		rc = VELD_ESTORE;
		goto fail;
	}
	/* The schema version is the check at open; the statements are
	 * prepared on first use (stmt()). */
	rc = migrate(s);
	if (rc == 0)
		rc = load_floor(s);
	if (rc < 0)
		goto fail;
	*out = s;
	return 0;
fail:
	rc = veld_store_refine(s, rc);
	veld_store_close(s);
	return rc;
}

int veld_store_open(const char *path, struct veld_store **out)
{
	return open_store(path, 0, out);
}

int veld_store_prepare(const char *path, int page_size)
{
	struct veld_store *s = NULL;
	int rc;

	if (page_size < 512 || page_size > 65536 ||
	    (page_size & (page_size - 1)))
		return VELD_EINVAL;
	rc = open_store(path, page_size, &s);
	if (rc == 0)
		veld_store_close(s);
	return rc;
}

void veld_store_close(struct veld_store *s)
{
	if (!s)
		return;
	if (s->in_tx)
		veld_store_rollback(s);
	for (int i = 0; i < S_COUNT; i++)
		sqlite3_finalize(s->st[i]);
	sqlite3_close(s->db);
	veld_buf_release(&s->vals);
	free(s);
}

int veld_store_integrity(struct veld_store *s, char *msg, size_t msg_len)
{
	sqlite3_stmt *st;
	int rc, ok = 0;

	if (sqlite3_prepare_v2(s->db, "PRAGMA integrity_check", -1, &st, NULL))
		return VELD_ESTORE;
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		const char *t = (const char *)sqlite3_column_text(st, 0);
		ok = t && strcmp(t, "ok") == 0;
		if (msg && msg_len)
			snprintf(msg, msg_len, "%s", t ? t : "");
	}
	sqlite3_finalize(st);
	return ok ? 0 : VELD_ESTORE;
}

/* The one integer statement `which` gives: 0 and *v, or VELD_ESTORE. */
static int query_int64(struct veld_store *s, enum stmt which, int64_t *v)
{
	return query_ints(s, which, v, 1);
}

int veld_store_data_version(struct veld_store *s, int64_t *v)
{
	return query_int64(s, S_DATA_VERSION, v);
}

int veld_store_begin(struct veld_store *s)
{
	int rc = exec_stmt(stmt(s, S_BEGIN));

	if (rc == 0)
		s->in_tx = 1;
	return rc;
}

int veld_store_commit(struct veld_store *s)
{
	int rc = exec_stmt(stmt(s, S_COMMIT));

	if (rc == 0)
		s->in_tx = 0;
	if (rc == 0 && s->floor_used && load_floor(s) < 0) {
		/* pos_floor stays: the floor insert takes max(pos) + 1 */
	}
	/* Best effort: if other connections are busy, the next commit
	 * tries again (or the last connection's close, which checkpoints
	 * and removes the WAL). */
	if (rc == 0 && s->scrub &&
	    veld_store_scrub(s, VELD_STORE_SCRUB_WAIT_MS) < 0) {
		/* s->scrub stays set */
	}
	return rc;
}

int veld_store_scrub(struct veld_store *s, int wait_ms)
{
	int rc;

	if (s->in_tx)
		return VELD_ESTORE;
	sqlite3_busy_timeout(s->db, wait_ms);
	rc = sqlite3_wal_checkpoint_v2(s->db, NULL, SQLITE_CHECKPOINT_TRUNCATE,
				       NULL, NULL);
	sqlite3_busy_timeout(s->db, 5000);
	if (rc != SQLITE_OK)
		return VELD_ESTORE;
	s->scrub = 0;
	return 0;
}

void veld_store_rollback(struct veld_store *s)
{
	if (exec_stmt(stmt(s, S_ROLLBACK)) < 0) {
		/* ROLLBACK fails only when there is no transaction left (or
		 * it cannot be prepared: then closing the connection rolls
		 * back). */
	}
	s->in_tx = 0;
	/* Always: a part that kept a floor insert cleared floor_used. */
	if (load_floor(s) < 0) {
		/* as in veld_store_commit */
	}
}

int veld_store_set_durable(struct veld_store *s, int full)
{
	return sqlite3_exec(s->db,
			    full ? "PRAGMA synchronous = FULL"
				 : "PRAGMA synchronous = NORMAL",
			    NULL, NULL, NULL) == SQLITE_OK
		       ? 0
		       : VELD_ESTORE;
}

int veld_store_part_begin(struct veld_store *s)
{
	if (!s->in_tx || sqlite3_get_autocommit(s->db))
		return VELD_ESTORE;
	return exec_stmt(stmt(s, S_SAVEPOINT));
}

int veld_store_part_end(struct veld_store *s, int keep)
{
	/* SQLite rolls a whole transaction back by itself after some errors
	 * (a full disk, an I/O error): then there is no part left to end. */
	if (sqlite3_get_autocommit(s->db)) {
		s->in_tx = 0;
		return VELD_ESTORE;
	}
	if (!keep && exec_stmt(stmt(s, S_ROLLBACK_TO)) < 0)
		return VELD_ESTORE;
	if (!keep && s->floor_used && load_floor(s) < 0) {
		/* as in veld_store_commit */
	}
	return exec_stmt(stmt(s, S_RELEASE));
}

int veld_store_op_status(struct veld_store *s, const uint8_t id[VELD_HASH_LEN],
			 int *status)
{
	sqlite3_stmt *st = stmt(s, S_OP_STATUS);
	int rc;

	if (!st)
		return VELD_ESTORE;
	bind_blob(st, 1, id, VELD_HASH_LEN);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		*status = sqlite3_column_int(st, 0);
	done(st);
	return rc == SQLITE_ROW ? 1 : rc == SQLITE_DONE ? 0 : VELD_ESTORE;
}

int veld_store_op_at(struct veld_store *s, const uint8_t author[VELD_PK_LEN],
		     uint64_t seq, uint8_t id[VELD_HASH_LEN])
{
	sqlite3_stmt *st = stmt(s, S_OP_AT);
	int rc;

	if (!st)
		return VELD_ESTORE;
	bind_blob(st, 1, author, VELD_PK_LEN);
	bind_u64(st, 2, seq);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW && !col_fixed(st, 0, id, VELD_HASH_LEN))
		rc = SQLITE_CORRUPT;
	done(st);
	return rc == SQLITE_ROW ? 1 : rc == SQLITE_DONE ? 0 : VELD_ESTORE;
}

int veld_store_op_insert(struct veld_store *s, const struct veld_op *op,
			 int with_body, int status)
{
	sqlite3_stmt *st =
		stmt(s, s->pos_floor ? S_OP_INSERT_FLOOR : S_OP_INSERT);
	int rc;

	if (!st)
		return VELD_ESTORE;
	if (s->pos_floor)
		sqlite3_bind_int64(st, 11, s->pos_floor);
	bind_blob(st, 1, op->id, VELD_HASH_LEN);
	bind_blob(st, 2, op->h.author, VELD_PK_LEN);
	bind_u64(st, 3, op->h.seq);
	bind_u64(st, 4, op->h.hlc);
	bind_blob(st, 5, op->h.record, VELD_RECORD_LEN);
	bind_u64(st, 6, op->h.kind);
	bind_blob(st, 7, op->header, op->header_len);
	/* An op vouched for by its run's signed op has none of its own
	 * (§13.1): stored as an empty blob (NULL would break NOT NULL). */
	if (op->sig)
		bind_blob(st, 8, op->sig, VELD_SIG_LEN);
	else
		sqlite3_bind_zeroblob(st, 8, 0);
	sqlite3_bind_int(st, 9, status);
	/* A zero-length blob would bind as NULL; bodies are never empty. */
	if (with_body && op->body)
		bind_blob(st, 10, op->body, op->body_len);
	rc = exec_stmt(st);
	/* The floor is passed once this commits (load_floor() then). */
	if (rc == 0 && s->pos_floor)
		s->floor_used = 1;
	return rc;
}

/* Fill a stored op from the current row of an OP_COLS statement. */
static int row_op(sqlite3_stmt *st, struct veld_stored_op *op)
{
	memset(op, 0, sizeof(*op));
	if (!col_fixed(st, 0, op->id, VELD_HASH_LEN) ||
	    (sqlite3_column_bytes(st, 2) != VELD_SIG_LEN &&
	     sqlite3_column_bytes(st, 2) != 0))
		return VELD_ESTORE;
	op->header = sqlite3_column_blob(st, 1);
	op->header_len = (size_t)sqlite3_column_bytes(st, 1);
	/* Empty: no signature of its own, a later op of its run vouches. */
	op->sig =
		sqlite3_column_bytes(st, 2) ? sqlite3_column_blob(st, 2) : NULL;
	op->status = sqlite3_column_int(st, 3);
	op->pos = sqlite3_column_int64(st, 4);
	if (sqlite3_column_type(st, 5) == SQLITE_BLOB) {
		op->body = sqlite3_column_blob(st, 5);
		op->body_len = (size_t)sqlite3_column_bytes(st, 5);
	}
	/* Stored headers were checked on the way in; decode for the fields
	 * (and notice on-disk damage). */
	return veld_op_header_decode(op->header, op->header_len, &op->h);
}

static int each_op(sqlite3_stmt *st, veld_store_op_fn fn, void *ctx)
{
	struct veld_stored_op op;
	int rc;

	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		int r = row_op(st, &op);
		if (r == 0)
			r = fn(ctx, &op);
		if (r != 0) {
			done(st);
			return r;
		}
	}
	done(st);
	return rc == SQLITE_DONE ? 0 : VELD_ESTORE;
}

int veld_store_record_ops(struct veld_store *s,
			  const uint8_t record[VELD_RECORD_LEN],
			  veld_store_op_fn fn, void *ctx)
{
	sqlite3_stmt *st = stmt(s, S_RECORD_OPS);

	if (!st)
		return VELD_ESTORE;
	bind_blob(st, 1, record, VELD_RECORD_LEN);
	return each_op(st, fn, ctx);
}

int veld_store_record_fold_ops(struct veld_store *s,
			       const uint8_t record[VELD_RECORD_LEN],
			       veld_store_op_fn fn, void *ctx)
{
	sqlite3_stmt *st = stmt(s, S_RECORD_FOLD_OPS);
	struct veld_stored_op op;
	int rc;

	if (!st)
		return VELD_ESTORE;
	bind_blob(st, 1, record, VELD_RECORD_LEN);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		int r = 0;
		memset(&op, 0, sizeof(op));
		if (!col_fixed(st, 0, op.id, VELD_HASH_LEN) ||
		    !col_fixed(st, 1, op.h.author, VELD_PK_LEN))
			r = VELD_ESTORE;
		op.h.seq = col_u64(st, 2);
		op.h.hlc = col_u64(st, 3);
		op.h.kind = col_u64(st, 4);
		memcpy(op.h.record, record, VELD_RECORD_LEN);
		op.status = sqlite3_column_int(st, 5);
		op.pos = sqlite3_column_int64(st, 6);
		if (sqlite3_column_type(st, 7) == SQLITE_BLOB) {
			op.body = sqlite3_column_blob(st, 7);
			op.body_len = (size_t)sqlite3_column_bytes(st, 7);
		}
		if (r == 0)
			r = fn(ctx, &op);
		if (r != 0) {
			done(st);
			return r;
		}
	}
	done(st);
	return rc == SQLITE_DONE ? 0 : VELD_ESTORE;
}

int veld_store_device_ops(struct veld_store *s, veld_store_op_fn fn, void *ctx)
{
	sqlite3_stmt *st = stmt(s, S_DEVICE_OPS);

	return st ? each_op(st, fn, ctx) : VELD_ESTORE;
}

int veld_store_ops_since(struct veld_store *s, int64_t after, int limit,
			 veld_store_op_fn fn, void *ctx)
{
	sqlite3_stmt *st = stmt(s, S_OPS_SINCE);

	if (!st)
		return VELD_ESTORE;
	sqlite3_bind_int64(st, 1, after);
	sqlite3_bind_int(st, 2, limit);
	return each_op(st, fn, ctx);
}

int veld_store_author_ops(struct veld_store *s,
			  const uint8_t author[VELD_PK_LEN],
			  veld_store_op_fn fn, void *ctx)
{
	sqlite3_stmt *st = stmt(s, S_AUTHOR_OPS);

	if (!st)
		return VELD_ESTORE;
	bind_blob(st, 1, author, VELD_PK_LEN);
	return each_op(st, fn, ctx);
}

int veld_store_author_ops_after(struct veld_store *s,
				const uint8_t author[VELD_PK_LEN],
				uint64_t after, int limit, veld_store_op_fn fn,
				void *ctx)
{
	sqlite3_stmt *st = stmt(s, S_AUTHOR_OPS_AFTER);

	if (!st)
		return VELD_ESTORE;
	bind_blob(st, 1, author, VELD_PK_LEN);
	bind_u64(st, 2, after);
	sqlite3_bind_int(st, 3, limit);
	return each_op(st, fn, ctx);
}

int veld_store_op_set_status(struct veld_store *s,
			     const uint8_t id[VELD_HASH_LEN], int status)
{
	sqlite3_stmt *st = stmt(s, S_OP_SET_STATUS);

	if (!st)
		return VELD_ESTORE;
	bind_blob(st, 1, id, VELD_HASH_LEN);
	sqlite3_bind_int(st, 2, status);
	return exec_stmt(st);
}

/* An op named by author and seq (whose salt node to puncture). */
struct op_key {
	uint8_t author[VELD_PK_LEN];
	uint64_t seq;
};

int veld_store_drop_bodies(struct veld_store *s,
			   const uint8_t record[VELD_RECORD_LEN],
			   uint64_t keep_kind)
{
	sqlite3_stmt *st = stmt(s, S_DROP_BODIES);
	struct op_key *dropped = NULL;
	size_t n = 0, cap = 0;
	int rc;

	if (!st)
		return VELD_ESTORE;
	bind_blob(st, 1, record, VELD_RECORD_LEN);
	bind_u64(st, 2, keep_kind);
	/* The ops whose bodies went: their salts go too (salts.h). */
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (n == cap) {
			size_t ncap = cap ? 2 * cap : 16;
			void *p = realloc(dropped, ncap * sizeof(*dropped));
			if (!p)
				break;
			dropped = p;
			cap = ncap;
		}
		if (col_fixed(st, 0, dropped[n].author, VELD_PK_LEN)) {
			dropped[n].seq = col_u64(st, 1);
			n++;
		}
	}
	done(st);
	s->scrub |= n > 0;
	rc = rc == SQLITE_DONE	? 0
	     : rc == SQLITE_ROW ? VELD_ENOMEM
				: VELD_ESTORE;
	for (size_t i = 0; rc == 0 && i < n; i++)
		rc = veld_store_salt_puncture(s, dropped[i].author,
					      dropped[i].seq);
	free(dropped);
	return rc;
}

/* --- salt nodes --- */

/* A node row (lo, depth, seed); 0 if the row is not a node (damage). */
static int row_node(sqlite3_stmt *st, struct veld_salt_node *n)
{
	uint64_t depth = col_u64(st, 1), lo;

	n->lo = col_u64(st, 0);
	if (depth > VELD_SALT_DEPTH ||
	    !veld_salt_node_at(depth, n->lo >> (VELD_SALT_DEPTH - depth),
			       &lo) ||
	    lo != n->lo || !col_fixed(st, 2, n->seed, VELD_SALT_LEN))
		return 0;
	n->depth = (uint8_t)depth;
	return 1;
}

int veld_store_salt_nodes(struct veld_store *s,
			  const uint8_t author[VELD_PK_LEN], uint64_t lo,
			  uint64_t hi, struct veld_salt_set *out)
{
	sqlite3_stmt *st = stmt(s, S_SALT_NODES);
	struct veld_salt_node n;
	int rc;

	if (!st)
		return VELD_ESTORE;
	bind_blob(st, 1, author, VELD_PK_LEN);
	bind_u64(st, 2, lo);
	bind_u64(st, 3, hi);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (!row_node(st, &n) || veld_salt_hi(&n) < lo)
			continue;
		if (veld_salt_set_add(out, &n) < 0)
			break;
	}
	done(st);
	return rc == SQLITE_DONE  ? 0
	       : rc == SQLITE_ROW ? VELD_ENOMEM
				  : VELD_ESTORE;
}

int veld_store_salt_source(void *store, const uint8_t author[VELD_PK_LEN],
			   uint64_t lo, uint64_t hi, struct veld_salt_set *out)
{
	return veld_store_salt_nodes(store, author, lo, hi, out);
}

/* The kept node of author with the greatest lo <= seq: 1, 0 if none. */
static int salt_at(struct veld_store *s, const uint8_t author[VELD_PK_LEN],
		   uint64_t seq, struct veld_salt_node *n)
{
	sqlite3_stmt *st = stmt(s, S_SALT_AT);
	int rc, found = 0;

	if (!st)
		return VELD_ESTORE;
	bind_blob(st, 1, author, VELD_PK_LEN);
	bind_u64(st, 2, seq);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		found = row_node(st, n);
	done(st);
	return rc == SQLITE_ROW ? found : rc == SQLITE_DONE ? 0 : VELD_ESTORE;
}

static int salt_put(struct veld_store *s, const uint8_t author[VELD_PK_LEN],
		    const struct veld_salt_node *n)
{
	sqlite3_stmt *st = stmt(s, S_SALT_PUT);

	if (!st)
		return VELD_ESTORE;
	bind_blob(st, 1, author, VELD_PK_LEN);
	bind_u64(st, 2, n->lo);
	sqlite3_bind_int(st, 3, n->depth);
	bind_blob(st, 4, n->seed, VELD_SALT_LEN);
	return exec_stmt(st);
}

static int salt_del(struct veld_store *s, enum stmt which,
		    const uint8_t author[VELD_PK_LEN], uint64_t lo, uint64_t hi)
{
	sqlite3_stmt *st = stmt(s, which);

	if (!st)
		return VELD_ESTORE;
	bind_blob(st, 1, author, VELD_PK_LEN);
	bind_u64(st, 2, lo);
	if (which == S_SALT_DEL_IN)
		bind_u64(st, 3, hi);
	return exec_stmt(st);
}

int veld_store_salt_puncture(struct veld_store *s,
			     const uint8_t author[VELD_PK_LEN], uint64_t seq)
{
	struct veld_salt_set set = {0};
	struct veld_salt_node n;
	int rc = salt_at(s, author, seq, &n);

	if (rc <= 0 || veld_salt_hi(&n) < seq)
		return rc < 0 ? rc : 0;
	rc = veld_salt_set_add(&set, &n);
	if (rc == 0)
		rc = veld_salt_puncture(&set, seq) < 0 ? VELD_ENOMEM : 0;
	if (rc == 0)
		rc = salt_del(s, S_SALT_DEL, author, n.lo, 0);
	for (size_t i = 0; rc == 0 && i < set.n; i++)
		rc = salt_put(s, author, &set.v[i]);
	sodium_memzero(&n, sizeof(n));
	veld_salt_set_release(&set);
	return rc;
}

/* Puncture every seq of lo .. hi of author that has no kept body. */
static int salt_prune(struct veld_store *s, const uint8_t author[VELD_PK_LEN],
		      uint64_t lo, uint64_t hi)
{
	sqlite3_stmt *st = stmt(s, S_SALT_BODIES);
	uint64_t *missing = NULL, next = lo;
	size_t n = 0;
	int rc;

	if (!st)
		return VELD_ESTORE;
	missing = malloc((size_t)(hi - lo + 1) * sizeof(*missing));
	if (!missing)
		return VELD_ENOMEM;
	bind_blob(st, 1, author, VELD_PK_LEN);
	bind_u64(st, 2, lo);
	bind_u64(st, 3, hi);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		uint64_t q = col_u64(st, 0);
		while (next < q)
			missing[n++] = next++;
		if (q == next)
			next++;
	}
	done(st);
	while (next <= hi)
		missing[n++] = next++;
	rc = rc == SQLITE_DONE ? 0 : VELD_ESTORE;
	for (size_t i = 0; rc == 0 && i < n; i++)
		rc = veld_store_salt_puncture(s, author, missing[i]);
	free(missing);
	return rc;
}

/* Seqs under one node handed over: a run's, at most a message's ops. */
#define SALT_KEEP_SPAN 65536

int veld_store_salt_keep(struct veld_store *s,
			 const uint8_t author[VELD_PK_LEN],
			 const struct veld_salt_node *nodes, size_t n)
{
	/* Bodies are only ever dropped for erased records: with none, every
	 * op kept has its body and there is nothing to prune. */
	int erasures = veld_store_erased_any(s), rc = 0;

	if (erasures < 0)
		return erasures;

	for (size_t i = 0; rc == 0 && i < n; i++) {
		const struct veld_salt_node *nd = &nodes[i];
		uint64_t hi = veld_salt_hi(nd);
		struct veld_salt_node q;

		if (hi - nd->lo >= SALT_KEEP_SPAN)
			continue;
		rc = salt_at(s, author, nd->lo, &q);
		if (rc < 0)
			break;
		/* nodes nest or are apart: q holds nd if it reaches it and
		 * is no deeper */
		if (rc == 1 && veld_salt_hi(&q) >= nd->lo &&
		    q.depth <= nd->depth) {
			rc = 0;
			continue;
		}
		rc = salt_del(s, S_SALT_DEL_IN, author, nd->lo, hi);
		if (rc == 0)
			rc = salt_put(s, author, nd);
		if (rc == 0 && erasures)
			rc = salt_prune(s, author, nd->lo, hi);
	}
	return rc;
}

int veld_store_salt_keep_own(struct veld_store *s,
			     const uint8_t author[VELD_PK_LEN],
			     const struct veld_salt_node *node)
{
	int rc = salt_del(s, S_SALT_DEL_IN, author, node->lo,
			  veld_salt_hi(node));

	return rc < 0 ? rc : salt_put(s, author, node);
}

int veld_store_op_count(struct veld_store *s, int64_t *count, uint64_t *max_hlc)
{
	int64_t v[2];
	int rc = query_ints(s, S_OP_COUNT, v, 2);

	if (rc == 0) {
		*count = v[0];
		*max_hlc = (uint64_t)v[1];
	}
	return rc;
}

static void row_head(sqlite3_stmt *st, int first, struct veld_head *h)
{
	h->seq = col_u64(st, first);
	if (!col_fixed(st, first + 1, h->id, VELD_HASH_LEN))
		memset(h->id, 0, VELD_HASH_LEN);
	h->frozen = sqlite3_column_int(st, first + 2);
	h->fork_seq = col_u64(st, first + 3);
}

int veld_store_head(struct veld_store *s, const uint8_t author[VELD_PK_LEN],
		    struct veld_head *head)
{
	sqlite3_stmt *st = stmt(s, S_HEAD);
	int rc;

	memset(head, 0, sizeof(*head));
	if (!st)
		return VELD_ESTORE;
	bind_blob(st, 1, author, VELD_PK_LEN);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		row_head(st, 0, head);
	done(st);
	return rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : VELD_ESTORE;
}

int veld_store_head_set(struct veld_store *s, const uint8_t author[VELD_PK_LEN],
			const struct veld_head *head)
{
	sqlite3_stmt *st = stmt(s, S_HEAD_SET);

	if (!st)
		return VELD_ESTORE;
	bind_blob(st, 1, author, VELD_PK_LEN);
	bind_u64(st, 2, head->seq);
	bind_blob(st, 3, head->id, VELD_HASH_LEN);
	sqlite3_bind_int(st, 4, head->frozen);
	bind_u64(st, 5, head->fork_seq);
	return exec_stmt(st);
}

int veld_store_heads(struct veld_store *s, veld_store_head_fn fn, void *ctx)
{
	sqlite3_stmt *st = stmt(s, S_HEADS);
	struct veld_head h;
	uint8_t author[VELD_PK_LEN];
	int rc;

	if (!st)
		return VELD_ESTORE;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		int r;
		if (!col_fixed(st, 0, author, VELD_PK_LEN)) {
			done(st);
			return VELD_ESTORE;
		}
		row_head(st, 1, &h);
		r = fn(ctx, author, &h);
		if (r) {
			done(st);
			return r;
		}
	}
	done(st);
	return rc == SQLITE_DONE ? 0 : VELD_ESTORE;
}

int veld_store_pending_add(struct veld_store *s, const struct veld_op *op,
			   const uint8_t *raw, size_t raw_len, int reason)
{
	sqlite3_stmt *st = stmt(s, S_PENDING_ADD);

	if (!st)
		return VELD_ESTORE;
	bind_blob(st, 1, op->h.author, VELD_PK_LEN);
	bind_u64(st, 2, op->h.seq);
	bind_blob(st, 3, op->id, VELD_HASH_LEN);
	sqlite3_bind_int(st, 4, reason);
	bind_blob(st, 5, raw, raw_len);
	return exec_stmt(st);
}

int veld_store_pending_take(struct veld_store *s,
			    const uint8_t author[VELD_PK_LEN], uint64_t seq,
			    struct veld_buf *out)
{
	sqlite3_stmt *st = stmt(s, S_PENDING_GET);
	int rc, found = 0;

	if (!st)
		return VELD_ESTORE;
	bind_blob(st, 1, author, VELD_PK_LEN);
	bind_u64(st, 2, seq);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		veld_buf_reset(out);
		rc = veld_buf_append(out, sqlite3_column_blob(st, 0),
				     (size_t)sqlite3_column_bytes(st, 0));
		found = 1;
	} else {
		rc = rc == SQLITE_DONE ? 0 : VELD_ESTORE;
	}
	done(st);
	if (rc < 0 || !found)
		return rc;
	st = stmt(s, S_PENDING_DEL);
	if (!st)
		return VELD_ESTORE;
	bind_blob(st, 1, author, VELD_PK_LEN);
	bind_u64(st, 2, seq);
	rc = exec_stmt(st);
	return rc < 0 ? rc : 1;
}

int veld_store_pending_authors(struct veld_store *s, int reason,
			       veld_store_key_fn fn, void *ctx)
{
	sqlite3_stmt *st = stmt(s, S_PENDING_AUTHORS);
	uint8_t key[VELD_PK_LEN];
	int rc;

	if (!st)
		return VELD_ESTORE;
	/* Collect first: fn may modify the pending table. */
	struct veld_buf keys;
	veld_buf_init(&keys, (size_t)1 << 30);
	sqlite3_bind_int(st, 1, reason);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (!col_fixed(st, 0, key, VELD_PK_LEN) ||
		    veld_buf_append(&keys, key, VELD_PK_LEN) < 0) {
			rc = SQLITE_NOMEM;
			break;
		}
	}
	done(st);
	if (rc != SQLITE_DONE) {
		veld_buf_release(&keys);
		return VELD_ESTORE;
	}
	rc = 0;
	for (size_t off = 0; off < keys.len && rc == 0; off += VELD_PK_LEN)
		rc = fn(ctx, keys.data + off);
	veld_buf_release(&keys);
	return rc;
}

int veld_store_pending_min_seq(struct veld_store *s,
			       const uint8_t author[VELD_PK_LEN], uint64_t *seq)
{
	sqlite3_stmt *st = stmt(s, S_PENDING_MIN);
	int rc;

	*seq = 0;
	if (!st)
		return VELD_ESTORE;
	bind_blob(st, 1, author, VELD_PK_LEN);
	rc = sqlite3_step(st);
	*seq = rc == SQLITE_ROW ? col_u64(st, 0) : 0;
	done(st);
	return rc == SQLITE_ROW ? 0 : VELD_ESTORE;
}

int veld_store_pending_count(struct veld_store *s, int64_t *count)
{
	return query_int64(s, S_PENDING_COUNT, count);
}

int veld_store_erased(struct veld_store *s,
		      const uint8_t record[VELD_RECORD_LEN])
{
	sqlite3_stmt *st = stmt(s, S_ERASED);
	int rc;

	if (!st)
		return VELD_ESTORE;
	bind_blob(st, 1, record, VELD_RECORD_LEN);
	rc = sqlite3_step(st);
	done(st);
	return rc == SQLITE_ROW ? 1 : rc == SQLITE_DONE ? 0 : VELD_ESTORE;
}

int veld_store_erased_any(struct veld_store *s)
{
	sqlite3_stmt *st = stmt(s, S_ERASED_ANY);
	int rc;

	if (!st)
		return VELD_ESTORE;
	rc = sqlite3_step(st);
	done(st);
	return rc == SQLITE_ROW ? 1 : rc == SQLITE_DONE ? 0 : VELD_ESTORE;
}

int veld_store_erase_mark(struct veld_store *s,
			  const uint8_t record[VELD_RECORD_LEN])
{
	sqlite3_stmt *st = stmt(s, S_ERASE_MARK);

	if (!st)
		return VELD_ESTORE;
	bind_blob(st, 1, record, VELD_RECORD_LEN);
	return exec_stmt(st);
}

static int delete_for(struct veld_store *s, enum stmt which,
		      const uint8_t id[VELD_RECORD_LEN])
{
	sqlite3_stmt *st = stmt(s, which);

	if (!st)
		return VELD_ESTORE;
	bind_blob(st, 1, id, VELD_RECORD_LEN);
	return exec_stmt(st);
}

/* The log positions of a record's stored notes that the refold no longer
 * has, deleted after the scan. */
struct stale_list {
	int64_t *pos;
	size_t n, cap;
};

static void stale_release(struct stale_list *l)
{
	free(l->pos);
}

static int stale_add(struct stale_list *l, int64_t pos)
{
	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 8;
		void *p = realloc(l->pos, cap * sizeof(*l->pos));
		if (!p)
			return VELD_ENOMEM;
		l->pos = p;
		l->cap = cap;
	}
	l->pos[l->n++] = pos;
	return 0;
}

/* The stored note rows of record rid that notes no longer has, into l. */
static int notes_stale(struct veld_store *s, int64_t rid,
		       const struct veld_note_row *notes, size_t nnotes,
		       struct stale_list *l)
{
	sqlite3_stmt *st = stmt(s, S_NOTE_KEYS);
	int rc;

	if (!st)
		return VELD_ESTORE;
	sqlite3_bind_int64(st, 1, rid);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		int64_t pos = sqlite3_column_int64(st, 0);
		size_t i;

		for (i = 0; i < nnotes; i++)
			if (notes[i].pos == pos)
				break;
		if (i < nnotes)
			continue;
		if (stale_add(l, pos) < 0) {
			done(st);
			return VELD_ENOMEM;
		}
	}
	done(st);
	return rc == SQLITE_DONE ? 0 : VELD_ESTORE;
}

/* The record's local number: 1 and *rid set, 0 if it has no row. */
static int record_rid(struct veld_store *s, const uint8_t *id, int64_t *rid)
{
	sqlite3_stmt *st = stmt(s, S_REC_RID);
	int rc;

	if (!st)
		return VELD_ESTORE;
	bind_blob(st, 1, id, VELD_RECORD_LEN);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		*rid = sqlite3_column_int64(st, 0);
	done(st);
	return rc == SQLITE_ROW ? 1 : rc == SQLITE_DONE ? 0 : VELD_ESTORE;
}

/* Bind a records row to S_REC_INSERT or S_REC_NEW. */
static void bind_record(sqlite3_stmt *st, const struct veld_record_row *rec)
{
	bind_blob(st, 1, rec->id, VELD_RECORD_LEN);
	bind_text(st, 2, rec->form);
	bind_text(st, 3, rec->area);
	bind_text(st, 4, rec->street);
	bind_text(st, 5, rec->followup);
	bind_u64(st, 6, rec->created);
	bind_u64(st, 7, rec->updated);
	sqlite3_bind_int(st, 8, rec->deleted);
	sqlite3_bind_int(st, 9, rec->delete_conflict);
	sqlite3_bind_int(st, 10, rec->erased);
	sqlite3_bind_int(st, 11, rec->conflicts);
}

static int notes_insert(struct veld_store *s, int64_t rid,
			const struct veld_note_row *notes, size_t nnotes)
{
	sqlite3_stmt *st = stmt(s, S_NOTE_INSERT);
	int rc = 0;

	if (!st)
		return VELD_ESTORE;
	for (size_t i = 0; i < nnotes && rc == 0; i++) {
		sqlite3_bind_int64(st, 1, rid);
		sqlite3_bind_int64(st, 2, notes[i].pos);
		bind_text(st, 3, notes[i].text);
		rc = exec_stmt(st);
	}
	return rc;
}

/*
 * A record new to the store (every record of a first pull) is inserted
 * at once, without looking it up first, and its rows appended.  For a
 * stored record, rows are compared with what is stored rather than
 * deleted and written again: a refold after one edit changes one or two
 * rows of a record.
 */
int veld_store_record_replace(struct veld_store *s,
			      const struct veld_record_row *rec,
			      const struct veld_value_row *values,
			      size_t nvalues, const struct veld_note_row *notes,
			      size_t nnotes)
{
	struct stale_list ns = {0};
	sqlite3_stmt *st = stmt(s, S_REC_NEW);
	int64_t rid = 0;
	int rc;

	if (!st)
		return VELD_ESTORE;
	/* The row it replaces may hold the values an erasure removes. */
	s->scrub |= rec->erased;
	/* The values go into the records row, packed once for either
	 * statement (recvals.h). */
	if ((rc = veld_recvals_pack(values, nvalues, &s->vals)) < 0)
		return rc;
	bind_record(st, rec);
	if (s->vals.len)
		bind_blob(st, 12, s->vals.data, s->vals.len);
	if ((rc = exec_stmt(st)) < 0)
		return rc;
	if (sqlite3_changes(s->db) == 1) {
		rid = sqlite3_last_insert_rowid(s->db);
		return notes_insert(s, rid, notes, nnotes);
	}

	if ((rc = record_rid(s, rec->id, &rid)) <= 0)
		return VELD_ESTORE; /* neither new nor stored */
	if ((rc = notes_stale(s, rid, notes, nnotes, &ns)) < 0)
		goto out;
	st = stmt(s, S_NOTE_DEL_ONE);
	rc = st ? 0 : VELD_ESTORE;
	for (size_t i = 0; i < ns.n && rc == 0; i++) {
		sqlite3_bind_int64(st, 1, rid);
		sqlite3_bind_int64(st, 2, ns.pos[i]);
		rc = exec_stmt(st);
	}
	if (rc < 0)
		goto out;

	st = stmt(s, S_REC_INSERT);
	if (!st) {
		rc = VELD_ESTORE;
		goto out;
	}
	bind_record(st, rec);
	if (s->vals.len)
		bind_blob(st, 12, s->vals.data, s->vals.len);
	if ((rc = exec_stmt(st)) == 0)
		rc = notes_insert(s, rid, notes, nnotes);
out:
	stale_release(&ns);
	return rc;
}

int veld_store_record_delete(struct veld_store *s,
			     const uint8_t id[VELD_RECORD_LEN])
{
	int rc;

	/* The notes first: they are found through the record's number (its
	 * values go with its row). */
	if ((rc = delete_for(s, S_NOTE_DEL, id)) < 0)
		return rc;
	return delete_for(s, S_REC_DEL, id);
}

int veld_store_form_delete(struct veld_store *s,
			   const uint8_t id[VELD_RECORD_LEN])
{
	return delete_for(s, S_FORM_DEL, id);
}

int veld_store_devices_replace(struct veld_store *s,
			       const struct veld_device_row *rows, size_t n)
{
	sqlite3_stmt *st = stmt(s, S_DEV_INSERT);
	int rc = st ? exec_stmt(stmt(s, S_DEV_DEL)) : VELD_ESTORE;

	for (size_t i = 0; i < n && rc == 0; i++) {
		bind_blob(st, 1, rows[i].key, VELD_PK_LEN);
		bind_text(st, 2, rows[i].role);
		bind_text(st, 3, rows[i].name);
		bind_text(st, 4, rows[i].area);
		bind_u64(st, 5, rows[i].enrolled);
		bind_u64(st, 6, rows[i].revoked);
		bind_u64(st, 7, rows[i].hlc);
		rc = exec_stmt(st);
	}
	return rc;
}

int veld_store_form_replace(struct veld_store *s,
			    const struct veld_form_row *form)
{
	sqlite3_stmt *st = stmt(s, S_FORM_REPLACE);

	if (!st)
		return VELD_ESTORE;
	bind_blob(st, 1, form->id, VELD_RECORD_LEN);
	bind_text(st, 2, form->name);
	bind_blob(st, 3, form->def, form->def_len);
	bind_u64(st, 4, form->hlc);
	bind_blob(st, 5, form->op, VELD_HASH_LEN);
	return exec_stmt(st);
}

int veld_store_devices(struct veld_store *s, veld_store_device_fn fn, void *ctx)
{
	sqlite3_stmt *st = stmt(s, S_DEVICES);
	struct veld_device_row d;
	int rc;

	if (!st)
		return VELD_ESTORE;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		int r;
		memset(&d, 0, sizeof(d));
		if (!col_fixed(st, 0, d.key, VELD_PK_LEN)) {
			done(st);
			return VELD_ESTORE;
		}
		d.role = (const char *)sqlite3_column_text(st, 1);
		d.name = (const char *)sqlite3_column_text(st, 2);
		d.area = (const char *)sqlite3_column_text(st, 3);
		d.enrolled = col_u64(st, 4);
		d.revoked = col_u64(st, 5);
		d.hlc = col_u64(st, 6);
		if ((r = fn(ctx, &d)) != 0) {
			done(st);
			return r;
		}
	}
	done(st);
	return rc == SQLITE_DONE ? 0 : VELD_ESTORE;
}

int veld_store_forms(struct veld_store *s, veld_store_form_fn fn, void *ctx)
{
	sqlite3_stmt *st = stmt(s, S_FORMS);
	struct veld_form_row f;
	int rc;

	if (!st)
		return VELD_ESTORE;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		int r;
		memset(&f, 0, sizeof(f));
		if (!col_fixed(st, 0, f.id, VELD_RECORD_LEN) ||
		    !col_fixed(st, 4, f.op, VELD_HASH_LEN)) {
			done(st);
			return VELD_ESTORE;
		}
		f.name = (const char *)sqlite3_column_text(st, 1);
		f.def = sqlite3_column_blob(st, 2);
		f.def_len = (size_t)sqlite3_column_bytes(st, 2);
		f.hlc = col_u64(st, 3);
		if ((r = fn(ctx, &f)) != 0) {
			done(st);
			return r;
		}
	}
	done(st);
	return rc == SQLITE_DONE ? 0 : VELD_ESTORE;
}

static int each_record(sqlite3_stmt *st, veld_store_record_fn fn, void *ctx,
		       int *count)
{
	struct veld_record_row r;
	int rc;

	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		int x;
		memset(&r, 0, sizeof(r));
		if (!col_fixed(st, 0, r.id, VELD_RECORD_LEN)) {
			done(st);
			return VELD_ESTORE;
		}
		r.form = (const char *)sqlite3_column_text(st, 1);
		r.area = (const char *)sqlite3_column_text(st, 2);
		r.street = (const char *)sqlite3_column_text(st, 3);
		r.followup = (const char *)sqlite3_column_text(st, 4);
		r.created = col_u64(st, 5);
		r.updated = col_u64(st, 6);
		r.deleted = sqlite3_column_int(st, 7);
		r.delete_conflict = sqlite3_column_int(st, 8);
		r.erased = sqlite3_column_int(st, 9);
		r.conflicts = sqlite3_column_int(st, 10);
		(*count)++;
		if ((x = fn(ctx, &r)) != 0) {
			done(st);
			return x;
		}
	}
	done(st);
	return rc == SQLITE_DONE ? 0 : VELD_ESTORE;
}

int veld_store_records(struct veld_store *s, const struct veld_record_filter *f,
		       veld_store_record_fn fn, void *ctx)
{
	sqlite3_stmt *st = stmt(s, S_RECORDS);
	int count = 0;

	if (!st)
		return VELD_ESTORE;
	bind_text(st, 1, f ? f->form : NULL);
	bind_text(st, 2, f ? f->area : NULL);
	bind_text(st, 3, f ? f->street : NULL);
	sqlite3_bind_int(st, 4, f ? f->only_conflicts : 0);
	sqlite3_bind_int(st, 5, f ? f->include_deleted : 0);
	bind_u64(st, 6, f ? f->updated_since : 0);
	bind_text(st, 7, f ? f->followup : NULL);
	return each_record(st, fn, ctx, &count);
}

int veld_store_record(struct veld_store *s, const uint8_t id[VELD_RECORD_LEN],
		      veld_store_record_fn fn, void *ctx)
{
	sqlite3_stmt *st = stmt(s, S_RECORD);
	int count = 0, rc;

	if (!st)
		return VELD_ESTORE;
	bind_blob(st, 1, id, VELD_RECORD_LEN);
	rc = each_record(st, fn, ctx, &count);
	return rc < 0 ? rc : rc > 0 ? rc : count;
}

int veld_store_values(struct veld_store *s, const uint8_t id[VELD_RECORD_LEN],
		      veld_store_value_fn fn, void *ctx)
{
	sqlite3_stmt *st = stmt(s, S_VALUES);
	struct veld_value_row v;
	int rc;

	if (!st)
		return VELD_ESTORE;
	bind_blob(st, 1, id, VELD_RECORD_LEN);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		int x;
		memset(&v, 0, sizeof(v));
		v.field = (const char *)sqlite3_column_text(st, 0);
		if (!col_fixed(st, 1, v.op, VELD_HASH_LEN) ||
		    !col_fixed(st, 2, v.author, VELD_PK_LEN)) {
			done(st);
			return VELD_ESTORE;
		}
		v.hlc = col_u64(st, 3);
		if (sqlite3_column_type(st, 4) == SQLITE_BLOB) {
			v.value = sqlite3_column_blob(st, 4);
			v.value_len = (size_t)sqlite3_column_bytes(st, 4);
		}
		v.winner = sqlite3_column_int(st, 5);
		if ((x = fn(ctx, &v)) != 0) {
			done(st);
			return x;
		}
	}
	done(st);
	return rc == SQLITE_DONE ? 0 : VELD_ESTORE;
}

int veld_store_notes(struct veld_store *s, const uint8_t id[VELD_RECORD_LEN],
		     veld_store_note_fn fn, void *ctx)
{
	sqlite3_stmt *st = stmt(s, S_NOTES);
	struct veld_note_row n;
	int rc;

	if (!st)
		return VELD_ESTORE;
	bind_blob(st, 1, id, VELD_RECORD_LEN);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		int x;
		memset(&n, 0, sizeof(n));
		if (!col_fixed(st, 0, n.op, VELD_HASH_LEN) ||
		    !col_fixed(st, 1, n.author, VELD_PK_LEN)) {
			done(st);
			return VELD_ESTORE;
		}
		n.hlc = col_u64(st, 2);
		n.text = (const char *)sqlite3_column_text(st, 3);
		if ((x = fn(ctx, &n)) != 0) {
			done(st);
			return x;
		}
	}
	done(st);
	return rc == SQLITE_DONE ? 0 : VELD_ESTORE;
}

int veld_store_record_ids(struct veld_store *s, veld_store_key_fn fn, void *ctx)
{
	sqlite3_stmt *st = stmt(s, S_RECORD_IDS);
	uint8_t id[VELD_RECORD_LEN];
	int rc;

	if (!st)
		return VELD_ESTORE;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		int x;
		if (!col_fixed(st, 0, id, VELD_RECORD_LEN)) {
			done(st);
			return VELD_ESTORE;
		}
		if ((x = fn(ctx, id)) != 0) {
			done(st);
			return x;
		}
	}
	done(st);
	return rc == SQLITE_DONE ? 0 : VELD_ESTORE;
}

int veld_store_meta_get(struct veld_store *s, const char *key,
			struct veld_buf *out)
{
	sqlite3_stmt *st = stmt(s, S_META_GET);
	int rc;

	if (!st)
		return VELD_ESTORE;
	bind_text(st, 1, key);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		veld_buf_reset(out);
		rc = veld_buf_append(out, sqlite3_column_blob(st, 0),
				     (size_t)sqlite3_column_bytes(st, 0));
		done(st);
		return rc < 0 ? rc : 1;
	}
	done(st);
	return rc == SQLITE_DONE ? 0 : VELD_ESTORE;
}

int veld_store_meta_set(struct veld_store *s, const char *key,
			const void *value, size_t len)
{
	sqlite3_stmt *st = stmt(s, S_META_SET);

	if (!st)
		return VELD_ESTORE;
	bind_text(st, 1, key);
	/* A zero-length blob must still be a blob, not NULL. */
	sqlite3_bind_blob(st, 2, len ? value : "", (int)len, SQLITE_STATIC);
	return exec_stmt(st);
}

int veld_store_meta_get_u64(struct veld_store *s, const char *key, uint64_t *v)
{
	uint8_t be[8];
	sqlite3_stmt *st = stmt(s, S_META_GET);
	int rc, found = 0;

	*v = 0;
	if (!st)
		return VELD_ESTORE;
	bind_text(st, 1, key);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW && sqlite3_column_bytes(st, 0) == 8) {
		memcpy(be, sqlite3_column_blob(st, 0), 8);
		for (int i = 0; i < 8; i++)
			*v = (*v << 8) | be[i];
		found = 1;
	}
	done(st);
	return rc == SQLITE_ROW || rc == SQLITE_DONE ? found : VELD_ESTORE;
}

int veld_store_meta_set_u64(struct veld_store *s, const char *key, uint64_t v)
{
	uint8_t be[8];

	for (int i = 0; i < 8; i++)
		be[i] = (uint8_t)(v >> (56 - 8 * i));
	return veld_store_meta_set(s, key, be, 8);
}

int veld_store_code_add(struct veld_store *s, const uint8_t hash[32],
			const struct veld_code_row *c)
{
	sqlite3_stmt *st = stmt(s, S_CODE_ADD);

	if (!st)
		return VELD_ESTORE;
	bind_blob(st, 1, hash, 32);
	bind_text(st, 2, c->role);
	bind_text(st, 3, c->name);
	bind_text(st, 4, c->area);
	bind_u64(st, 5, c->expires);
	return exec_stmt(st);
}

int veld_store_codes_prune(struct veld_store *s, uint64_t now_ms,
			   uint64_t retention_ms)
{
	sqlite3_stmt *st;
	int rc;

	if (retention_ms >= now_ms)
		return 0;
	st = stmt(s, S_CODE_PRUNE);
	if (!st)
		return VELD_ESTORE;
	bind_u64(st, 1, now_ms - retention_ms);
	rc = exec_stmt(st);
	return rc < 0 ? rc : sqlite3_changes(s->db);
}

int veld_store_code_take(struct veld_store *s, const uint8_t hash[32],
			 uint64_t now_ms, struct veld_code_row *c,
			 char *strings, size_t strings_len)
{
	sqlite3_stmt *st = stmt(s, S_CODE_GET);
	int rc, used;
	size_t off = 0;

	if (!st)
		return VELD_ESTORE;
	bind_blob(st, 1, hash, 32);
	rc = sqlite3_step(st);
	if (rc != SQLITE_ROW) {
		done(st);
		return rc == SQLITE_DONE ? VELD_ECODE : VELD_ESTORE;
	}
	memset(c, 0, sizeof(*c));
	/* Copy the strings out: the row goes away at reset. */
	for (int i = 0; i < 3; i++) {
		const char *t = (const char *)sqlite3_column_text(st, i);
		size_t n = t ? strlen(t) + 1 : 0;
		const char **dst = i == 0   ? &c->role
				   : i == 1 ? &c->name
					    : &c->area;
		if (!t)
			continue;
		if (n > strings_len - off) {
			done(st);
			return VELD_ETOOBIG;
		}
		memcpy(strings + off, t, n);
		*dst = strings + off;
		off += n;
	}
	c->expires = col_u64(st, 3);
	used = sqlite3_column_int(st, 4);
	done(st);
	if (used)
		return VELD_ECODEUSED;
	if (now_ms >= c->expires)
		return VELD_ECODEEXPIRED;
	st = stmt(s, S_CODE_USE);
	if (!st)
		return VELD_ESTORE;
	bind_blob(st, 1, hash, 32);
	rc = exec_stmt(st);
	if (rc == 0 && sqlite3_changes(s->db) != 1)
		rc = VELD_ECODEUSED; /* taken by someone else just now */
	return rc;
}

/* --- admin helpers ---
 *
 * Rare calls (veldd's admin commands), so the statements are prepared per
 * call rather than listed in `sql` above.
 */

/* sqlite3_bind_text takes the length as an int. */
#define JSON_LEN_MAX 0x7fffffff

#define ISO_TIME(col)                                                          \
	"strftime('%Y-%m-%dT%H:%M:%SZ', (" col " >> 16) / 1000, 'unixepoch')"

int veld_store_devices_json(struct veld_store *s, struct veld_buf *out)
{
	/* The subquery's ORDER BY fixes the order json_group_array sees. */
	static const char q[] =
		"SELECT json_group_array(json_object("
		" 'key', lower(hex(d.key)),"
		" 'role', d.role, 'name', d.name, 'area', d.area,"
		" 'status', CASE WHEN d.revoked THEN 'revoked'"
		" ELSE 'active' END,"
		" 'enrolled', " ISO_TIME(
			"d.enrolled") ","
				      " 'revoked', CASE WHEN d.revoked "
				      "THEN " ISO_TIME(
					      "d.revoked") " END,"
							   " 'seq', "
							   "coalesce(h.seq, 0),"
							   " 'frozen', "
							   "json(CASE WHEN "
							   "h.frozen THEN "
							   "'true'"
							   " ELSE 'false' "
							   "END)))"
							   " FROM (SELECT * "
							   "FROM devices ORDER "
							   "BY key) d"
							   " LEFT JOIN heads h "
							   "ON h.author = "
							   "d.key";
	sqlite3_stmt *st;
	int rc;

	veld_buf_reset(out);
	if (sqlite3_prepare_v2(s->db, q, -1, &st, NULL) != SQLITE_OK)
		return VELD_ESTORE;
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		const unsigned char *t = sqlite3_column_text(st, 0);
		rc = t ? veld_buf_append(out, t,
					 (size_t)sqlite3_column_bytes(st, 0))
		       : VELD_ESTORE;
	} else {
		rc = VELD_ESTORE;
	}
	sqlite3_finalize(st);
	return rc;
}

static enum veld_json_type json_type(const char *t, int atom_type)
{
	static const struct {
		const char *name;
		enum veld_json_type type;
	} types[] = {
		{"null", VELD_JSON_NULL},   {"true", VELD_JSON_TRUE},
		{"false", VELD_JSON_FALSE}, {"integer", VELD_JSON_INTEGER},
		{"real", VELD_JSON_REAL},   {"text", VELD_JSON_TEXT},
		{"array", VELD_JSON_ARRAY}, {"object", VELD_JSON_OBJECT},
	};

	for (size_t i = 0; t && i < sizeof(types) / sizeof(types[0]); i++) {
		if (strcmp(t, types[i].name))
			continue;
		/* json_tree calls an integer too big for int64 "integer"
		 * but hands it over as a real. */
		if (types[i].type == VELD_JSON_INTEGER &&
		    atom_type != SQLITE_INTEGER)
			return VELD_JSON_REAL;
		return types[i].type;
	}
	return VELD_JSON_NULL;
}

/*
 * Does valid JSON text hold a \u0000 escape?  In valid JSON every
 * backslash starts an escape, so skipping each escaped character is
 * enough to tell an escape from an escaped backslash followed by "u0000".
 */
static int json_has_nul(const char *json, size_t len)
{
	for (size_t i = 0; i + 1 < len; i++) {
		if (json[i] != '\\')
			continue;
		if (json[i + 1] == 'u' && len - i >= 6 &&
		    !memcmp(json + i + 2, "0000", 4))
			return 1;
		i++;
	}
	return 0;
}

int veld_store_json_walk(struct veld_store *s, const char *json, size_t len,
			 veld_store_json_fn fn, void *ctx)
{
	/* json_tree numbers its nodes in document order: ORDER BY id is
	 * a pre-order walk, so each node's parent is on the stack. */
	static const char q[] = "SELECT type, key, atom, id, parent"
				" FROM json_tree(?1) ORDER BY id";
	int64_t stack[VELD_STORE_JSON_DEPTH_MAX + 1];
	int top = 0; /* nodes on the stack */
	sqlite3_stmt *st;
	int rc;

	if (len > JSON_LEN_MAX)
		return VELD_ETOOBIG;
	if (sqlite3_prepare_v2(s->db, "SELECT json_valid(?1)", -1, &st, NULL) !=
	    SQLITE_OK)
		return VELD_ESTORE;
	sqlite3_bind_text(st, 1, json, (int)len, SQLITE_STATIC);
	rc = sqlite3_step(st);
	rc = rc != SQLITE_ROW		      ? VELD_ESTORE
	     : sqlite3_column_int(st, 0) == 1 ? 0
					      : VELD_EINVAL;
	sqlite3_finalize(st);
	if (rc == 0 && json_has_nul(json, len))
		rc = VELD_EINVAL;
	if (rc < 0)
		return rc;

	if (sqlite3_prepare_v2(s->db, q, -1, &st, NULL) != SQLITE_OK)
		return VELD_ESTORE;
	sqlite3_bind_text(st, 1, json, (int)len, SQLITE_STATIC);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct veld_json_node n;
		int64_t id = sqlite3_column_int64(st, 3);
		int r;

		memset(&n, 0, sizeof(n));
		n.index = -1;
		if (sqlite3_column_type(st, 4) != SQLITE_NULL) {
			int64_t parent = sqlite3_column_int64(st, 4);
			while (top > 0 && stack[top - 1] != parent)
				top--;
			if (top == 0) {
				rc = SQLITE_CORRUPT; /* not pre-order */
				break;
			}
		} else {
			top = 0;
		}
		if (top > VELD_STORE_JSON_DEPTH_MAX) {
			sqlite3_finalize(st);
			return VELD_EDEPTH;
		}
		n.depth = top;
		stack[top++] = id;

		n.type = json_type((const char *)sqlite3_column_text(st, 0),
				   sqlite3_column_type(st, 2));
		if (sqlite3_column_type(st, 1) == SQLITE_INTEGER) {
			n.index = sqlite3_column_int64(st, 1);
		} else if (sqlite3_column_type(st, 1) == SQLITE_TEXT) {
			n.key = (const char *)sqlite3_column_text(st, 1);
			n.key_len = (size_t)sqlite3_column_bytes(st, 1);
		}
		if (n.type == VELD_JSON_TEXT) {
			n.text = (const char *)sqlite3_column_text(st, 2);
			n.text_len = (size_t)sqlite3_column_bytes(st, 2);
			if (!n.text) {
				n.text = "";
				n.text_len = 0;
			}
		} else if (n.type == VELD_JSON_INTEGER) {
			n.i = sqlite3_column_int64(st, 2);
		} else if (n.type == VELD_JSON_REAL) {
			n.d = sqlite3_column_double(st, 2);
		}
		if ((r = fn(ctx, &n)) != 0) {
			sqlite3_finalize(st);
			return r;
		}
	}
	sqlite3_finalize(st);
	return rc == SQLITE_DONE ? 0 : VELD_ESTORE;
}

/* --- client read helpers --- */

/*
 * These serve the veld commands: finding a record by a short id, and the
 * records as JSON.  Each runs once per command, so their statements are
 * prepared per call rather than kept in the table above.
 *
 * JSON is built by SQLite's JSON1 functions, never by hand: field values
 * are canonical msgpack blobs, so an SQL function veld_json(blob), alive
 * only during a helper call, turns one into JSON text by binding its
 * strings (and byte strings, as hex) to json_quote() and its arrays and
 * maps to json_array() / json_object(); numbers, true, false and null are
 * written as they are, since they need no escaping.
 */

/* Hex digit value, or -1. */
static int cli_hex_nibble(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int veld_store_record_prefix(struct veld_store *s, const char *hex,
			     uint8_t out[VELD_RECORD_LEN])
{
	uint8_t lo[VELD_RECORD_LEN], hi[VELD_RECORD_LEN];
	size_t n = strlen(hex);
	sqlite3_stmt *st;
	int rc, found = 0;

	if (n == 0 || n > 2 * VELD_RECORD_LEN)
		return VELD_EINVAL;
	/* The ids starting with the prefix are the range [lo, hi]: the
	 * prefix padded with zero bits, and with one bits. */
	memset(lo, 0x00, sizeof(lo));
	memset(hi, 0xff, sizeof(hi));
	for (size_t i = 0; i < n; i++) {
		int v = cli_hex_nibble(hex[i]);
		if (v < 0)
			return VELD_EINVAL;
		if (i % 2 == 0) {
			lo[i / 2] = (uint8_t)(v << 4);
			hi[i / 2] = (uint8_t)(v << 4 | 0x0f);
		} else {
			lo[i / 2] |= (uint8_t)v;
			hi[i / 2] = (uint8_t)((hi[i / 2] & 0xf0) | v);
		}
	}
	if (sqlite3_prepare_v2(s->db,
			       "SELECT id FROM records WHERE id BETWEEN ?1 AND"
			       " ?2 ORDER BY id LIMIT 2",
			       -1, &st, NULL) != SQLITE_OK)
		return VELD_ESTORE;
	bind_blob(st, 1, lo, sizeof(lo));
	bind_blob(st, 2, hi, sizeof(hi));
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (found++ == 0 && !col_fixed(st, 0, out, VELD_RECORD_LEN)) {
			rc = SQLITE_CORRUPT;
			break;
		}
	}
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE)
		return VELD_ESTORE;
	return found == 0 ? VELD_ENOTFOUND : found > 1 ? VELD_EAMBIGUOUS : 0;
}

/* What veld_json() needs while it is registered. */
struct cli_json_fn {
	sqlite3 *db;
	sqlite3_stmt *quote; /* SELECT json_quote(scalar) */
	int err;	     /* first VELD_E* seen */
};

/* Append the text of column 0 of st's current row. */
static int cli_json_take(sqlite3_stmt *st, struct veld_buf *out)
{
	const unsigned char *t = sqlite3_column_text(st, 0);

	if (!t)
		return VELD_ESTORE;
	return veld_buf_append(out, t, (size_t)sqlite3_column_bytes(st, 0));
}

static int cli_json_value(struct cli_json_fn *j, const msgpack_object *o,
			  struct veld_buf *out);

/* Append a C string. */
static int cli_puts(struct veld_buf *b, const char *t)
{
	return veld_buf_append(b, t, strlen(t));
}

/*
 * An array or map.  Every element (and every key) is already JSON text made
 * by SQLite's json_quote() or an exact number, so the container is only
 * those texts joined with ',' and ':' inside [] or {} -- which needs no
 * escaping and, unlike json_array()/json_object(), no limit of 127 SQL
 * function arguments (canonical msgpack allows 256 elements).
 */
static int cli_json_container(struct cli_json_fn *j, const msgpack_object *o,
			      struct veld_buf *out)
{
	int is_map = o->type == MSGPACK_OBJECT_MAP;
	uint32_t n = is_map ? o->via.map.size : o->via.array.size;
	int rc = cli_puts(out, is_map ? "{" : "[");

	for (uint32_t i = 0; i < n && rc == 0; i++) {
		if (i)
			rc = cli_puts(out, ",");
		if (rc == 0 && is_map) {
			const msgpack_object *k = &o->via.map.ptr[i].key;
			/* Canonical maps have str keys only. */
			if (k->type != MSGPACK_OBJECT_STR)
				return VELD_EKEYTYPE;
			rc = cli_json_value(j, k, out);
			if (rc == 0)
				rc = cli_puts(out, ":");
		}
		if (rc == 0)
			rc = cli_json_value(j,
					    is_map ? &o->via.map.ptr[i].val
						   : &o->via.array.ptr[i],
					    out);
	}
	return rc == 0 ? cli_puts(out, is_map ? "}" : "]") : rc;
}

/*
 * A number, written exactly: SQLite would turn integers above INT64_MAX
 * into reals and print reals with 15 digits.  A number needs no escaping;
 * a double gets the fewest digits that read back as the same value (the
 * canonical form has no NaN or infinity).
 */
static int cli_json_number(const msgpack_object *o, struct veld_buf *out)
{
	char t[40];

	if (o->type == MSGPACK_OBJECT_POSITIVE_INTEGER) {
		snprintf(t, sizeof(t), "%" PRIu64, o->via.u64);
	} else if (o->type == MSGPACK_OBJECT_NEGATIVE_INTEGER) {
		snprintf(t, sizeof(t), "%" PRId64, o->via.i64);
	} else {
		/* 15 digits suffice for normal doubles; subnormals may need
		 * fewer. */
		int from = fabs(o->via.f64) < DBL_MIN ? 1 : 15;
		for (int digits = from; digits <= 17; digits++) {
			snprintf(t, sizeof(t), "%.*g", digits, o->via.f64);
			if (strtod(t, NULL) == o->via.f64)
				break;
		}
	}
	return veld_buf_append(out, t, strlen(t));
}

/* One msgpack value as JSON text, appended to out. */
static int cli_json_value(struct cli_json_fn *j, const msgpack_object *o,
			  struct veld_buf *out)
{
	sqlite3_stmt *st = j->quote;
	int rc;

	switch (o->type) {
	case MSGPACK_OBJECT_NIL:
		return veld_buf_append(out, "null", 4);
	case MSGPACK_OBJECT_BOOLEAN:
		return o->via.boolean ? veld_buf_append(out, "true", 4)
				      : veld_buf_append(out, "false", 5);
	case MSGPACK_OBJECT_ARRAY:
	case MSGPACK_OBJECT_MAP:
		return cli_json_container(j, o, out);
	case MSGPACK_OBJECT_POSITIVE_INTEGER:
	case MSGPACK_OBJECT_NEGATIVE_INTEGER:
	case MSGPACK_OBJECT_FLOAT32:
	case MSGPACK_OBJECT_FLOAT64:
		return cli_json_number(o, out);
	case MSGPACK_OBJECT_STR:
		/* An empty str has a NULL pointer, which would bind as SQL
		 * NULL: bind "" instead. */
		sqlite3_bind_text(st, 1, o->via.str.size ? o->via.str.ptr : "",
				  (int)o->via.str.size, SQLITE_STATIC);
		break;
	case MSGPACK_OBJECT_BIN:
		/* A zero-length blob would bind as NULL: bind "" instead. */
		sqlite3_bind_blob(st, 1, o->via.bin.size ? o->via.bin.ptr : "",
				  (int)o->via.bin.size, SQLITE_STATIC);
		break;
	default:
		return VELD_EEXT;
	}
	rc = sqlite3_step(st) == SQLITE_ROW ? cli_json_take(st, out)
					    : VELD_ESTORE;
	done(st);
	return rc;
}

/* SQL function veld_json(blob): canonical msgpack -> JSON text; NULL in,
 * NULL out (an erased value). */
static void cli_sql_veld_json(sqlite3_context *ctx, int argc,
			      sqlite3_value **argv)
{
	struct cli_json_fn *j = sqlite3_user_data(ctx);
	const uint8_t *p = sqlite3_value_blob(argv[0]);
	size_t n = (size_t)sqlite3_value_bytes(argv[0]);
	msgpack_unpacked u;
	struct veld_buf out;
	int rc;

	(void)argc;
	if (sqlite3_value_type(argv[0]) == SQLITE_NULL) {
		sqlite3_result_null(ctx);
		return;
	}
	veld_buf_init(&out, VELD_BODY_MAX * 8);
	msgpack_unpacked_init(&u);
	rc = veld_canon_decode(p, n, &u);
	if (rc == 0)
		rc = cli_json_value(j, &u.data, &out);
	if (rc == 0)
		sqlite3_result_text(ctx, (const char *)out.data, (int)out.len,
				    SQLITE_TRANSIENT);
	else
		sqlite3_result_error(ctx, veld_strerror(rc), -1);
	if (rc && !j->err)
		j->err = rc;
	msgpack_unpacked_destroy(&u);
	veld_buf_release(&out);
}

/* SQL function veld_kind(kind): the kind's name. */
static void cli_sql_veld_kind(sqlite3_context *ctx, int argc,
			      sqlite3_value **argv)
{
	(void)argc;
	sqlite3_result_text(
		ctx, veld_kind_name((uint64_t)sqlite3_value_int64(argv[0])), -1,
		SQLITE_STATIC);
}

/* Register veld_json / veld_kind for the duration of one helper call. */
static int cli_json_fns_add(struct veld_store *s, struct cli_json_fn *j)
{
	const int flags =
		SQLITE_UTF8 | SQLITE_DETERMINISTIC | SQLITE_DIRECTONLY;

	memset(j, 0, sizeof(*j));
	j->db = s->db;
	if (sqlite3_prepare_v2(s->db,
			       "SELECT json_quote(CASE WHEN typeof(?1) = 'blob'"
			       " THEN lower(hex(?1)) ELSE ?1 END)",
			       -1, &j->quote, NULL) != SQLITE_OK ||
	    sqlite3_create_function_v2(s->db, "veld_json", 1, flags, j,
				       cli_sql_veld_json, NULL, NULL,
				       NULL) != SQLITE_OK ||
	    sqlite3_create_function_v2(s->db, "veld_kind", 1, flags, NULL,
				       cli_sql_veld_kind, NULL, NULL,
				       NULL) != SQLITE_OK)
		return VELD_ESTORE;
	return 0;
}

static void cli_json_fns_remove(struct veld_store *s, struct cli_json_fn *j)
{
	/* j lives on the caller's stack: the function must go with it. */
	sqlite3_create_function_v2(s->db, "veld_json", 1, SQLITE_UTF8, NULL,
				   NULL, NULL, NULL, NULL);
	sqlite3_create_function_v2(s->db, "veld_kind", 1, SQLITE_UTF8, NULL,
				   NULL, NULL, NULL, NULL);
	sqlite3_finalize(j->quote);
	j->quote = NULL;
}

/*
 * One record (alias r) as a JSON object.  Times are ISO-8601 UTC with
 * milliseconds, from the hlc's upper 48 bits; flags are JSON booleans;
 * "values" holds the display winners.  The detail adds every current
 * value, the notes and the history.  Each ordered array aggregates an
 * ordered subquery without GROUP BY: SQLite does not flatten a subquery
 * with ORDER BY into an aggregate, so rows reach it in that order.
 */
#define CLI_ISO(x)                                                             \
	"strftime('%Y-%m-%dT%H:%M:%fZ', (" x " >> 16) / 1000.0, 'unixepoch')"
#define CLI_BOOL(x) "json(iif(" x ", 'true', 'false'))"
#define CLI_WHO(key)                                                           \
	"'author', lower(hex(" key ")), 'device', (SELECT name FROM devices d" \
	" WHERE d.key = " key ")"

/* clang-format off */
static const char cli_rec_json[] =
	"SELECT json_object("
	" 'id', lower(hex(r.id)), 'form', r.form, 'area', r.area,"
	" 'street', r.street, 'followup', r.followup,"
	" 'created', " CLI_ISO("r.created") ","
	" 'updated', " CLI_ISO("r.updated") ","
	" 'deleted', " CLI_BOOL("r.deleted") ","
	" 'delete_conflict', " CLI_BOOL("r.delete_conflict") ","
	" 'conflicts', r.conflicts,"
	" 'erased', " CLI_BOOL("r.erased") ","
	" 'values', (SELECT json_group_object(v.field,"
	"  json(veld_json(v.value)))"
	"  FROM field_values v WHERE v.record = r.id AND v.winner))"
	" FROM records r WHERE r.id = ?1";

static const char cli_rec_json_detail[] =
	"SELECT json_object("
	" 'id', lower(hex(r.id)), 'form', r.form, 'area', r.area,"
	" 'street', r.street, 'followup', r.followup,"
	" 'created', " CLI_ISO("r.created") ","
	" 'updated', " CLI_ISO("r.updated") ","
	" 'deleted', " CLI_BOOL("r.deleted") ","
	" 'delete_conflict', " CLI_BOOL("r.delete_conflict") ","
	" 'conflicts', r.conflicts,"
	" 'erased', " CLI_BOOL("r.erased") ","
	" 'values', (SELECT json_group_object(v.field,"
	"  json(veld_json(v.value)))"
	"  FROM field_values v WHERE v.record = r.id AND v.winner),"
	" 'current', (SELECT json_group_object(f.field, json("
	"  (SELECT json_group_array(json_object("
	"    'value', json(veld_json(v.value)),"
	"    'winner', " CLI_BOOL("v.winner") ","
	"    'op', lower(hex(v.op)), " CLI_WHO("v.author") ","
	"    'time', " CLI_ISO("v.hlc") "))"
	"   FROM (SELECT * FROM field_values WHERE record = r.id"
	"    AND field = f.field ORDER BY winner DESC, hlc DESC, author) v)))"
	"  FROM (SELECT DISTINCT field FROM field_values"
	"   WHERE record = r.id) f),"
	" 'notes', (SELECT json_group_array(json_object("
	"   'op', lower(hex(n.op)), " CLI_WHO("n.author") ","
	"   'time', " CLI_ISO("n.hlc") ", 'text', n.text,"
	"   'erased', " CLI_BOOL("n.text IS NULL") "))"
	"  FROM (SELECT * FROM notes WHERE record = r.id"
	"   ORDER BY hlc, author, op) n),"
	" 'history', (SELECT json_group_array(json_object("
	"   'op', lower(hex(o.id)), " CLI_WHO("o.author") ","
	"   'time', " CLI_ISO("o.hlc") ", 'seq', o.seq,"
	"   'kind', veld_kind(o.kind),"
	"   'status', CASE o.status WHEN 0 THEN 'applied'"
	"    WHEN 1 THEN 'void' ELSE 'fork' END))"
	"  FROM (SELECT * FROM ops WHERE record = r.id"
	"   ORDER BY hlc, author, id) o))"
	" FROM records r WHERE r.id = ?1";
/* clang-format on */

struct cli_json_rows {
	struct veld_store *s;
	struct cli_json_fn fn;
	sqlite3_stmt *st; /* one record's object, by id */
	veld_store_text_fn cb;
	void *ctx;
	int found;
};

/* Run the object statement for one id and hand the text to the caller. */
static int cli_json_one(struct cli_json_rows *jr,
			const uint8_t id[VELD_RECORD_LEN])
{
	sqlite3_stmt *st = jr->st;
	int rc, x = 0;

	bind_blob(st, 1, id, VELD_RECORD_LEN);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		const char *t = (const char *)sqlite3_column_text(st, 0);
		jr->found++;
		x = t ? jr->cb(jr->ctx, t, (size_t)sqlite3_column_bytes(st, 0))
		      : VELD_ESTORE;
	}
	done(st);
	if (jr->fn.err)
		return jr->fn.err;
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return VELD_ESTORE;
	return x;
}

static int cli_json_row(void *ctx, const struct veld_record_row *row)
{
	return cli_json_one(ctx, row->id);
}

/* Set up: register the functions and prepare the object statement. */
static int cli_json_rows_init(struct cli_json_rows *jr, struct veld_store *s,
			      int detail, veld_store_text_fn cb, void *ctx)
{
	const char *sql_obj = detail ? cli_rec_json_detail : cli_rec_json;
	int rc;

	memset(jr, 0, sizeof(*jr));
	jr->s = s;
	jr->cb = cb;
	jr->ctx = ctx;
	rc = cli_json_fns_add(s, &jr->fn);
	if (rc == 0 && sqlite3_prepare_v2(s->db, sql_obj, -1, &jr->st, NULL))
		rc = VELD_ESTORE;
	return rc;
}

static void cli_json_rows_release(struct cli_json_rows *jr)
{
	sqlite3_finalize(jr->st);
	jr->st = NULL;
	cli_json_fns_remove(jr->s, &jr->fn);
}

int veld_store_records_json(struct veld_store *s,
			    const struct veld_record_filter *f,
			    veld_store_text_fn fn, void *ctx)
{
	struct cli_json_rows jr;
	int rc = cli_json_rows_init(&jr, s, 0, fn, ctx);

	/* The filter and order are veld_store_records' own. */
	if (rc == 0)
		rc = veld_store_records(s, f, cli_json_row, &jr);
	cli_json_rows_release(&jr);
	return rc;
}

int veld_store_record_json(struct veld_store *s,
			   const uint8_t id[VELD_RECORD_LEN],
			   veld_store_text_fn fn, void *ctx)
{
	struct cli_json_rows jr;
	int rc = cli_json_rows_init(&jr, s, 1, fn, ctx);

	if (rc == 0)
		rc = cli_json_one(&jr, id);
	cli_json_rows_release(&jr);
	return rc < 0 ? rc : rc > 0 ? rc : jr.found;
}

/* --- dashboard read helpers --- */

/*
 * These serve veldd's dashboard, HTTP API and exports (server/web.c,
 * server/export.c; docs/api.md).  Every answer is one JSON (or CSV) text
 * built by SQLite: JSON1 for the JSON, replace() for the CSV quoting, and
 * the veld_json() function of the client helpers above for field values.
 * They run once per request, so their statements are prepared per call.
 */

/* A record's display value of one field, as JSON text (alias r). */
#define DASH_VALUE(field)                                                      \
	"(SELECT json_extract(veld_json(v.value), '$') FROM field_values v"    \
	" WHERE v.record = r.id AND v.field = '" field "' AND v.winner)"

/* Whether the record asks for a follow-up: docs/api.md. */
#define DASH_NEEDS_FOLLOWUP                                                    \
	"(r.followup IS NOT NULL AND lower(trim(r.followup)) NOT IN"           \
	" ('', 'geen', 'nee', 'no', 'none'))"

/* clang-format off */
#define DASH_REC_FIELDS                                                        \
	" 'id', lower(hex(r.id)), 'form', r.form, 'area', r.area,"            \
	" 'street', r.street, 'followup', r.followup,"                        \
	" 'needs_followup', " CLI_BOOL(DASH_NEEDS_FOLLOWUP) ","               \
	" 'followup_status', coalesce(" DASH_VALUE("followup_status")         \
	", iif(" DASH_NEEDS_FOLLOWUP ", 'open', NULL)),"                      \
	" 'followup_owner', " DASH_VALUE("followup_owner") ","                \
	" 'created', " CLI_ISO("r.created") ","                               \
	" 'updated', " CLI_ISO("r.updated") ","                               \
	" 'deleted', " CLI_BOOL("r.deleted") ","                              \
	" 'delete_conflict', " CLI_BOOL("r.delete_conflict") ","              \
	" 'conflicts', r.conflicts,"                                          \
	" 'erased', " CLI_BOOL("r.erased") ","                                \
	" 'values', (SELECT json_group_object(v.field,"                       \
	"  json(veld_json(v.value)))"                                         \
	"  FROM field_values v WHERE v.record = r.id AND v.winner)"

/*
 * The list: first the ids and sort keys of the selected rows, at most
 * LIMIT of them (materialised, so SQLite builds JSON for those only), then
 * their objects in that order.  Put together as
 * dash_sel_head SORT dash_sel_where DIR ", r.id LIMIT n) " dash_list DIR
 * ", sel.sid)".
 */
static const char dash_sel_head[] =
	"WITH sel AS MATERIALIZED (SELECT r.id AS sid, ";
static const char dash_sel_where[] =
	" AS k FROM records r WHERE"
	" (?1 IS NULL OR r.form = ?1) AND (?2 IS NULL OR r.area = ?2)"
	" AND (?3 IS NULL OR r.street = ?3)"
	" AND (?4 IS NULL OR (" DASH_NEEDS_FOLLOWUP " AND (?4 = 'any' OR"
	" coalesce(" DASH_VALUE("followup_status") ", 'open') = ?4)))"
	" AND (?5 IS NULL OR instr(lower(coalesce(r.street, '')), lower(?5))"
	"  OR EXISTS (SELECT 1 FROM field_values v WHERE v.record = r.id"
	"   AND v.winner AND instr(lower(veld_json(v.value)), lower(?5)))"
	"  OR EXISTS (SELECT 1 FROM notes n WHERE n.record = r.id"
	"   AND instr(lower(n.text), lower(?5))))"
	" AND (?6 IS NULL OR date((r.created >> 16) / 1000, 'unixepoch') >= ?6)"
	" AND (?7 IS NULL OR date((r.created >> 16) / 1000, 'unixepoch') <= ?7)"
	" AND (NOT ?8 OR r.conflicts > 0 OR r.delete_conflict)"
	" AND (?9 OR NOT r.deleted OR r.delete_conflict)"
	" ORDER BY k ";
static const char dash_list[] =
	"SELECT json_group_array(json(o)) FROM (SELECT json_object("
	DASH_REC_FIELDS ") AS o FROM sel JOIN records r ON r.id = sel.sid"
	" ORDER BY sel.k ";
/* clang-format on */

/* The sort keys the API takes, and their SQL (whitelisted, never user
 * text). */
static const struct {
	const char *name, *sql;
} dash_sorts[] = {
	{"updated", "r.updated"},     {"created", "r.created"},
	{"street", "r.street"},	      {"area", "r.area"},
	{"form", "r.form"},	      {"followup", "r.followup"},
	{"conflicts", "r.conflicts"}, {"id", "r.id"},
};

int veld_store_dash_sort_ok(const char *sort)
{
	for (size_t i = 0; i < sizeof(dash_sorts) / sizeof(dash_sorts[0]); i++)
		if (!strcmp(sort, dash_sorts[i].name))
			return 1;
	return 0;
}

/* Step st once and put column 0's text (the whole answer) into out. */
static int dash_take(struct cli_json_fn *fn, sqlite3_stmt *st,
		     struct veld_buf *out)
{
	int rc = sqlite3_step(st);

	veld_buf_reset(out);
	if (rc == SQLITE_ROW)
		rc = sqlite3_column_type(st, 0) == SQLITE_NULL
			     ? 0
			     : cli_json_take(st, out);
	else if (rc == SQLITE_DONE)
		rc = 0;
	else
		rc = VELD_ESTORE;
	if (fn->err)
		rc = fn->err;
	return rc;
}

/* Prepare sql with veld_json() registered; on failure *st is NULL. */
static int dash_prepare(struct veld_store *s, struct cli_json_fn *fn,
			const char *text, sqlite3_stmt **st)
{
	int rc = cli_json_fns_add(s, fn);

	*st = NULL;
	if (rc == 0 &&
	    sqlite3_prepare_v2(s->db, text, -1, st, NULL) != SQLITE_OK)
		rc = VELD_ESTORE;
	return rc;
}

static void dash_finish(struct veld_store *s, struct cli_json_fn *fn,
			sqlite3_stmt *st)
{
	sqlite3_finalize(st);
	cli_json_fns_remove(s, fn);
}

int veld_store_dash_records(struct veld_store *s,
			    const struct veld_dash_filter *f,
			    struct veld_buf *out)
{
	const char *order = "r.updated";
	char q[sizeof(dash_sel_head) + sizeof(dash_sel_where) +
	       sizeof(dash_list) + 128];
	struct cli_json_fn fn;
	sqlite3_stmt *st;
	unsigned limit = f->limit ? f->limit : VELD_DASH_LIMIT_DEFAULT;
	int rc;

	for (size_t i = 0;
	     f->sort && i < sizeof(dash_sorts) / sizeof(*dash_sorts); i++)
		if (!strcmp(f->sort, dash_sorts[i].name))
			order = dash_sorts[i].sql;
	if (limit > VELD_DASH_LIMIT_MAX)
		limit = VELD_DASH_LIMIT_MAX;
	snprintf(q, sizeof(q), "%s%s%s%s, r.id LIMIT %u) %s%s, sel.sid)",
		 dash_sel_head, order, dash_sel_where, f->desc ? "DESC" : "ASC",
		 limit, dash_list, f->desc ? "DESC" : "ASC");
	rc = dash_prepare(s, &fn, q, &st);
	if (rc == 0) {
		bind_text(st, 1, f->form);
		bind_text(st, 2, f->area);
		bind_text(st, 3, f->street);
		bind_text(st, 4, f->followup);
		bind_text(st, 5, f->text);
		bind_text(st, 6, f->from);
		bind_text(st, 7, f->to);
		sqlite3_bind_int(st, 8, f->only_conflicts);
		sqlite3_bind_int(st, 9, f->include_deleted);
		rc = dash_take(&fn, st, out);
	}
	dash_finish(s, &fn, st);
	return rc;
}

/* clang-format off */
static const char dash_record_sql[] =
	"SELECT json_object(" DASH_REC_FIELDS ","
	" 'current', (SELECT json_group_object(f.field, json("
	"  (SELECT json_group_array(json_object("
	"    'value', json(veld_json(v.value)),"
	"    'winner', " CLI_BOOL("v.winner") ","
	"    'op', lower(hex(v.op)), " CLI_WHO("v.author") ","
	"    'by', (SELECT json_extract(veld_json(b.body), '$[1].by')"
	"     FROM ops b WHERE b.id = v.op AND v.author = ?2),"
	"    'time', " CLI_ISO("v.hlc") "))"
	"   FROM (SELECT * FROM field_values WHERE record = r.id"
	"    AND field = f.field ORDER BY winner DESC, hlc DESC, author) v)))"
	"  FROM (SELECT DISTINCT field FROM field_values"
	"   WHERE record = r.id) f),"
	" 'notes', (SELECT json_group_array(json_object("
	"   'op', lower(hex(n.op)), " CLI_WHO("n.author") ","
	"   'by', (SELECT json_extract(veld_json(b.body), '$[1].by')"
	"    FROM ops b WHERE b.id = n.op AND n.author = ?2),"
	"   'time', " CLI_ISO("n.hlc") ", 'text', n.text,"
	"   'erased', " CLI_BOOL("n.text IS NULL") "))"
	"  FROM (SELECT * FROM notes WHERE record = r.id"
	"   ORDER BY hlc, author, op) n),"
	" 'history', (SELECT json_group_array(json_object("
	"   'op', lower(hex(o.id)), " CLI_WHO("o.author") ","
	"   'role', CASE WHEN o.author = ?2 THEN 'server' ELSE"
	"    (SELECT role FROM devices d WHERE d.key = o.author) END,"
	"   'by', iif(o.author = ?2, json_extract(o.content, '$.by'), NULL),"
	"   'time', " CLI_ISO("o.hlc") ", 'seq', o.seq,"
	"   'kind', veld_kind(o.kind),"
	"   'status', CASE o.status WHEN 0 THEN 'applied'"
	"    WHEN 1 THEN 'void' ELSE 'fork' END,"
	"   'content', json(o.content)))"
	"  FROM (SELECT ops.*, json_extract(veld_json(ops.body), '$[1]')"
	"    AS content"
	"   FROM ops WHERE record = r.id ORDER BY hlc, author, id) o))"
	" FROM records r WHERE r.id = ?1";
/* clang-format on */

int veld_store_dash_record(struct veld_store *s,
			   const uint8_t id[VELD_RECORD_LEN],
			   const uint8_t root[VELD_PK_LEN],
			   struct veld_buf *out)
{
	struct cli_json_fn fn;
	sqlite3_stmt *st;
	int rc = dash_prepare(s, &fn, dash_record_sql, &st);

	if (rc == 0) {
		bind_blob(st, 1, id, VELD_RECORD_LEN);
		bind_blob(st, 2, root, VELD_PK_LEN);
		rc = dash_take(&fn, st, out);
		if (rc == 0)
			rc = out->len > 0;
	}
	dash_finish(s, &fn, st);
	return rc;
}

/* clang-format off */
static const char dash_devices_sql[] =
	"SELECT json_group_array(json(o)) FROM (SELECT json_object("
	" 'key', lower(hex(d.key)), 'role', d.role, 'name', d.name,"
	" 'area', d.area,"
	" 'status', iif(d.revoked, 'revoked', 'active'),"
	" 'enrolled', " CLI_ISO("d.enrolled") ","
	" 'revoked', iif(d.revoked, " CLI_ISO("d.revoked") ", NULL),"
	" 'seq', coalesce(h.seq, 0),"
	" 'frozen', " CLI_BOOL("coalesce(h.frozen, 0)") ","
	" 'fork_seq', iif(coalesce(h.frozen, 0), h.fork_seq, NULL),"
	" 'forks', (SELECT count(*) FROM ops f WHERE f.author = d.key"
	"  AND f.status = 2),"
	" 'last_op', (SELECT " CLI_ISO("max(x.hlc)") " FROM ops x"
	"  WHERE x.author = d.key),"
	" 'last_sync', (SELECT CAST(m.value AS TEXT) FROM meta m"
	"  WHERE m.key = 'last_sync:' || lower(hex(d.key)))) AS o"
	" FROM devices d LEFT JOIN heads h ON h.author = d.key"
	" ORDER BY d.revoked != 0, d.name, d.key)";
/* clang-format on */

int veld_store_dash_devices(struct veld_store *s, struct veld_buf *out)
{
	struct cli_json_fn fn;
	sqlite3_stmt *st;
	int rc = dash_prepare(s, &fn, dash_devices_sql, &st);

	if (rc == 0)
		rc = dash_take(&fn, st, out);
	dash_finish(s, &fn, st);
	return rc;
}

int veld_store_dash_forms(struct veld_store *s, struct veld_buf *out)
{
	static const char forms_sql[] =
		"SELECT json_group_array(json(o)) FROM (SELECT json_object("
		" 'name', f.name, 'id', lower(hex(f.id)),"
		" 'title', json_extract(f.d, '$.title'),"
		" 'fields', json_extract(f.d, '$.fields'),"
		" 'records', (SELECT count(*) FROM records r"
		"  WHERE r.form = f.name)) AS o"
		" FROM (SELECT name, id, veld_json(def) AS d FROM forms) f"
		" ORDER BY f.name)";
	struct cli_json_fn fn;
	sqlite3_stmt *st;
	int rc = dash_prepare(s, &fn, forms_sql, &st);

	if (rc == 0)
		rc = dash_take(&fn, st, out);
	dash_finish(s, &fn, st);
	return rc;
}

/* The fields of form ?1 (table fd: idx, name, label, type, personal). */
#define DASH_FORM_FIELDS                                                       \
	"fd AS (SELECT CAST(f.key AS INTEGER) AS idx,"                         \
	" json_extract(f.value, '$.name') AS name,"                            \
	" json_extract(f.value, '$.label') AS label,"                          \
	" json_extract(f.value, '$.type') AS type,"                            \
	" coalesce(json_extract(f.value, '$.personal'), 0) AS personal"        \
	" FROM json_each((SELECT veld_json(def) FROM forms WHERE name = ?1"    \
	"  ORDER BY id LIMIT 1), '$.fields') f)"

/* Records that count: of form ?1, not erased, not deleted away. */
#define DASH_LIVE_RECORDS                                                      \
	"recs AS (SELECT id, street FROM records WHERE form = ?1"              \
	" AND NOT erased AND (NOT deleted OR delete_conflict))"

/* clang-format off */
static const char dash_counts_sql[] =
	"WITH " DASH_FORM_FIELDS ", " DASH_LIVE_RECORDS ","
	" vals AS MATERIALIZED (SELECT v.field, veld_json(v.value) AS j"
	"  FROM field_values v JOIN recs ON v.record = recs.id WHERE v.winner"
	"  AND v.value IS NOT NULL AND v.field IN (SELECT name FROM fd"
	"   WHERE type IN ('choice', 'multi', 'bool')))"
	" SELECT json_object('form', ?1, 'total', (SELECT count(*) FROM recs),"
	" 'streets', (SELECT json_group_array(json_object('street', street,"
	"   'n', n)) FROM (SELECT street, count(*) AS n FROM recs"
	"   GROUP BY street ORDER BY n DESC, street)),"
	" 'fields', (SELECT json_group_array(json_object('name', fd.name,"
	"   'label', fd.label, 'type', fd.type, 'counts', json("
	"   (SELECT json_group_array(json_object('value', json(c.val),"
	"     'n', c.n)) FROM (SELECT val, count(*) AS n FROM ("
	"      SELECT vals.j AS val FROM vals WHERE vals.field = fd.name"
	"       AND fd.type != 'multi'"
	"      UNION ALL SELECT json_quote(e.value) FROM vals, json_each(vals.j) e"
	"       WHERE vals.field = fd.name AND fd.type = 'multi'"
	"       AND json_type(vals.j) = 'array')"
	"     GROUP BY val ORDER BY n DESC, val) c))))"
	"  FROM (SELECT * FROM fd WHERE type IN ('choice', 'multi', 'bool')"
	"   ORDER BY idx) fd))"
	" WHERE EXISTS (SELECT 1 FROM forms WHERE name = ?1)";
/* clang-format on */

int veld_store_dash_counts(struct veld_store *s, const char *form,
			   struct veld_buf *out)
{
	struct cli_json_fn fn;
	sqlite3_stmt *st;
	int rc = dash_prepare(s, &fn, dash_counts_sql, &st);

	if (rc == 0) {
		bind_text(st, 1, form);
		rc = dash_take(&fn, st, out);
		if (rc == 0 && out->len == 0)
			rc = VELD_ENOTFOUND;
	}
	dash_finish(s, &fn, st);
	return rc;
}

/*
 * Exports.  A cell is the display value as text: a string as it is, a
 * multi as its choices joined by "; ", true/false, a number as written
 * (with a decimal comma in the Excel variant), nothing for no value, and
 * "[erased]" for every field of an erased record.  Every CSV cell is
 * quoted (RFC 4180 allows it), quotes doubled; the Excel variant also
 * puts a ' before a text that starts with = + - @ or a tab/CR, so a
 * spreadsheet does not run it as a formula.
 *
 * ?1 form, ?2 personal (include personal fields), ?3 excel.
 */
/* clang-format off */
#define DASH_CELL_TEXT(j)                                                      \
	"CASE json_type(" j ") WHEN 'text' THEN iif(?3 AND"                    \
	" substr(json_extract(" j ", '$'), 1, 1) IN ('=', '+', '-', '@',"      \
	" char(9), char(13)), '''', '') || json_extract(" j ", '$')"           \
	" WHEN 'array' THEN (SELECT group_concat(e.value, '; ')"               \
	"  FROM json_each(" j ") e)"                                           \
	" WHEN 'null' THEN '' WHEN 'real' THEN iif(?3, replace(" j ", '.',"    \
	" ','), " j ") ELSE " j " END"
#define DASH_QUOTE(x) "'\"' || replace(coalesce(" x ", ''), '\"', '\"\"')" \
	" || '\"'"

static const char dash_csv_sql[] =
	"WITH " DASH_FORM_FIELDS ","
	" cols AS (SELECT * FROM fd WHERE ?2 OR NOT personal ORDER BY idx)"
	" SELECT (SELECT group_concat(" DASH_QUOTE("c") ", iif(?3, ';', ','))"
	"  FROM (SELECT 'id' AS c UNION ALL SELECT 'created' UNION ALL"
	"   SELECT 'updated' UNION ALL SELECT 'area' UNION ALL"
	"   SELECT 'erased' UNION ALL SELECT 'deleted' UNION ALL"
	"   SELECT 'conflicts' UNION ALL SELECT 'followup_status' UNION ALL"
	"   SELECT 'followup_owner' UNION ALL"
	"   SELECT * FROM (SELECT name FROM cols ORDER BY idx)))"
	" WHERE EXISTS (SELECT 1 FROM forms WHERE name = ?1)"
	" UNION ALL SELECT line FROM (SELECT (SELECT group_concat("
	   DASH_QUOTE("c") ", iif(?3, ';', ',')) FROM ("
	"   SELECT lower(hex(r.id)) AS c UNION ALL SELECT " CLI_ISO("r.created")
	"   UNION ALL SELECT " CLI_ISO("r.updated") " UNION ALL SELECT r.area"
	"   UNION ALL SELECT iif(r.erased, 'true', 'false')"
	"   UNION ALL SELECT iif(r.deleted, 'true', 'false')"
	"   UNION ALL SELECT r.conflicts"
	"   UNION ALL SELECT " DASH_VALUE("followup_status")
	"   UNION ALL SELECT " DASH_VALUE("followup_owner")
	"   UNION ALL SELECT * FROM (SELECT iif(r.erased, '[erased]',"
	"    (SELECT " DASH_CELL_TEXT("x.j") " FROM (SELECT veld_json(v.value)"
	"     AS j FROM field_values v WHERE v.record = r.id"
	"     AND v.field = cols.name AND v.winner) x))"
	"    FROM cols ORDER BY idx))) AS line"
	"  FROM records r WHERE r.form = ?1 ORDER BY r.created, r.id)";

static const char dash_json_sql[] =
	"WITH " DASH_FORM_FIELDS ","
	" cols AS (SELECT * FROM fd WHERE ?2 OR NOT personal ORDER BY idx)"
	" SELECT json_object('form', ?1, 'personal', " CLI_BOOL("?2") ","
	" 'fields', (SELECT json_group_array(name) FROM cols),"
	" 'records', (SELECT json_group_array(json(o)) FROM (SELECT"
	"  json_object('id', lower(hex(r.id)),"
	"  'created', " CLI_ISO("r.created") ","
	"  'updated', " CLI_ISO("r.updated") ", 'area', r.area,"
	"  'erased', " CLI_BOOL("r.erased") ","
	"  'deleted', " CLI_BOOL("r.deleted") ", 'conflicts', r.conflicts,"
	"  'followup_status', " DASH_VALUE("followup_status") ","
	"  'followup_owner', " DASH_VALUE("followup_owner") ","
	"  'values', iif(r.erased, NULL, (SELECT json_group_object(cols.name,"
	"   json((SELECT veld_json(v.value) FROM field_values v"
	"    WHERE v.record = r.id AND v.field = cols.name AND v.winner)))"
	"   FROM cols))) AS o"
	"  FROM records r WHERE r.form = ?1 ORDER BY r.created, r.id)))"
	" WHERE EXISTS (SELECT 1 FROM forms WHERE name = ?1)";
/* clang-format on */

int veld_store_dash_export(struct veld_store *s, const char *form,
			   enum veld_export_format format, int personal,
			   struct veld_buf *out)
{
	static const uint8_t bom[] = {0xef, 0xbb, 0xbf};
	int excel = format == VELD_EXPORT_CSV_EXCEL;
	struct cli_json_fn fn;
	sqlite3_stmt *st;
	int rc, lines = 0;

	rc = dash_prepare(
		s, &fn,
		format == VELD_EXPORT_JSON ? dash_json_sql : dash_csv_sql, &st);
	if (rc)
		goto out;
	bind_text(st, 1, form);
	sqlite3_bind_int(st, 2, personal != 0);
	sqlite3_bind_int(st, 3, excel);
	if (format == VELD_EXPORT_JSON) {
		rc = dash_take(&fn, st, out);
		if (rc == 0 && out->len == 0)
			rc = VELD_ENOTFOUND;
		goto out;
	}
	veld_buf_reset(out);
	if (excel)
		rc = veld_buf_append(out, bom, sizeof(bom));
	while (rc == 0 && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		rc = cli_json_take(st, out);
		if (rc == 0)
			rc = veld_buf_append(out, "\r\n", 2);
		lines++;
	}
	if (rc == SQLITE_DONE)
		rc = lines ? 0 : VELD_ENOTFOUND;
	else if (rc > 0)
		rc = VELD_ESTORE;
	if (fn.err)
		rc = fn.err;
out:
	dash_finish(s, &fn, st);
	return rc;
}

int64_t veld_store_ops_last(struct veld_store *s)
{
	sqlite3_stmt *st;
	int64_t pos = VELD_ESTORE;

	if (sqlite3_prepare_v2(s->db, "SELECT coalesce(max(pos), 0) FROM ops",
			       -1, &st, NULL) != SQLITE_OK)
		return VELD_ESTORE;
	if (sqlite3_step(st) == SQLITE_ROW)
		pos = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return pos;
}

/* clang-format off */
static const char cli_forms_json[] =
	"SELECT json_patch(json_object("
	" 'name', name, 'id', lower(hex(id)), 'updated', " CLI_ISO("hlc") "),"
	" veld_json(def)) FROM forms ORDER BY name, id";
/* clang-format on */

int veld_store_forms_json(struct veld_store *s, veld_store_text_fn fn,
			  void *ctx)
{
	struct cli_json_fn j;
	sqlite3_stmt *st = NULL;
	int rc = cli_json_fns_add(s, &j), x = 0;

	if (rc == 0 && sqlite3_prepare_v2(s->db, cli_forms_json, -1, &st,
					  NULL) != SQLITE_OK)
		rc = VELD_ESTORE;
	while (rc == 0 && x == 0 && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		const char *t = (const char *)sqlite3_column_text(st, 0);
		rc = 0;
		x = t ? fn(ctx, t, (size_t)sqlite3_column_bytes(st, 0))
		      : VELD_ESTORE;
	}
	if (rc == SQLITE_DONE)
		rc = 0;
	else if (rc > 0)
		rc = VELD_ESTORE;
	sqlite3_finalize(st);
	cli_json_fns_remove(s, &j);
	if (rc == 0 && j.err)
		rc = j.err;
	return rc < 0 ? rc : x;
}

int veld_store_msgpack_json(struct veld_store *s, const uint8_t *mp, size_t len,
			    struct veld_buf *out)
{
	struct cli_json_fn j;
	msgpack_unpacked u;
	size_t off = 0;
	int rc;

	veld_buf_reset(out);
	rc = cli_json_fns_add(s, &j);
	msgpack_unpacked_init(&u);
	if (rc == 0 && msgpack_unpack_next(&u, (const char *)mp, len, &off) !=
			       MSGPACK_UNPACK_SUCCESS)
		rc = VELD_EINVAL;
	if (rc == 0)
		rc = cli_json_value(&j, &u.data, out);
	msgpack_unpacked_destroy(&u);
	cli_json_fns_remove(s, &j);
	return rc;
}

int veld_store_count_created(struct veld_store *s,
			     const uint8_t author[VELD_PK_LEN], uint64_t since,
			     int64_t *count)
{
	sqlite3_stmt *st;
	int rc;

	/* A record's created clock is its first op's: the author of that
	 * op (found through the ops_record index) made the record. */
	if (sqlite3_prepare_v2(s->db,
			       "SELECT count(*) FROM records r WHERE"
			       " r.created >= ?2 AND EXISTS(SELECT 1 FROM ops o"
			       " WHERE o.record = r.id AND o.hlc = r.created"
			       " AND o.author = ?1)",
			       -1, &st, NULL) != SQLITE_OK)
		return VELD_ESTORE;
	bind_blob(st, 1, author, VELD_PK_LEN);
	bind_u64(st, 2, since);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		*count = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return rc == SQLITE_ROW ? 0 : VELD_ESTORE;
}

/* --- backup and verify ---
 *
 * Read-only access for veldd backup and veldd verify (see store.h).  These
 * run once per command, so their statements are prepared per call; the
 * table above is prepared on first use as in a writable store (SQLite
 * prepares a write on a read-only connection; only running it fails).
 */

int veld_store_open_readonly(const char *path, struct veld_store **out)
{
	struct veld_store *s = calloc(1, sizeof(*s));
	sqlite3_stmt *st;
	int rc = VELD_ESTORE, version = -1;

	if (!s)
		return VELD_ENOMEM;
	pthread_once(&sqlite_once, sqlite_config);
	if (sqlite3_open_v2(path, &s->db,
			    SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX,
			    NULL) != SQLITE_OK)
		goto fail;
	sqlite3_extended_result_codes(s->db, 1);
	if (veld_recvals_register(s->db) != SQLITE_OK)
		goto fail;
	sqlite3_busy_timeout(s->db, 5000);
	/* A second lock on the door: no statement may write, whatever the
	 * file's permissions allow. */
	if (sqlite3_exec(s->db, "PRAGMA query_only = 1", NULL, NULL, NULL) !=
	    SQLITE_OK)
		goto fail;
	if (sqlite3_prepare_v2(s->db, "PRAGMA user_version", -1, &st, NULL) !=
	    SQLITE_OK)
		goto fail;
	if (sqlite3_step(st) == SQLITE_ROW)
		version = sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	if (version < 0)
		goto fail;
	if (version != SCHEMA_VERSION) {
		rc = VELD_ESCHEMA;
		goto fail;
	}
	*out = s;
	return 0;
fail:
	veld_store_close(s);
	return rc;
}

int veld_store_read_begin(struct veld_store *s)
{
	/* BEGIN is deferred: the snapshot is taken by the first read. */
	if (sqlite3_exec(s->db, "BEGIN; SELECT count(*) FROM sqlite_schema",
			 NULL, NULL, NULL) != SQLITE_OK) {
		if (!sqlite3_get_autocommit(s->db))
			sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
		return VELD_ESTORE;
	}
	return 0;
}

void veld_store_read_end(struct veld_store *s)
{
	if (!sqlite3_get_autocommit(s->db) &&
	    sqlite3_exec(s->db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK)
		sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
}

static void copy_msg(char *dst, size_t n, const char *msg)
{
	if (dst && n)
		snprintf(dst, n, "%s", msg ? msg : "");
}

/* Consecutive busy steps before a backup gives up (with the snapshot held
 * neither side should ever be busy; this only bounds the loop). */
#define BACKUP_BUSY_MAX 1000

/*
 * Copy the main database of src into the new file path (see
 * veld_store_backup), as of src's open read transaction if it has one.
 */
static int copy_db(sqlite3 *src, const char *path, int pages_per_step,
		   int pause_ms, struct veld_backup_stats *stats, char *errmsg,
		   size_t errmsg_len)
{
	sqlite3 *dst = NULL;
	sqlite3_backup *b;
	sqlite3_stmt *st;
	int fd, rc, busy = 0, result = VELD_ESTORE, saved;

	memset(stats, 0, sizeof(*stats));
	copy_msg(errmsg, errmsg_len, "");
	/* O_EXCL: never write over a file, not even one appearing now. */
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0)
		return VELD_EIO;
	/* SQLite takes the empty file for an empty database. */
	pthread_once(&sqlite_once, sqlite_config);
	if (sqlite3_open_v2(path, &dst, SQLITE_OPEN_READWRITE, NULL) !=
	    SQLITE_OK) {
		copy_msg(errmsg, errmsg_len, sqlite3_errmsg(dst));
		goto out;
	}
	b = sqlite3_backup_init(dst, "main", src, "main");
	if (!b) {
		copy_msg(errmsg, errmsg_len, sqlite3_errmsg(dst));
		goto out;
	}
	do {
		rc = sqlite3_backup_step(b, pages_per_step);
		stats->steps++;
		if (rc == SQLITE_BUSY || rc == SQLITE_LOCKED)
			busy++;
		else
			busy = 0;
		if ((rc == SQLITE_OK || busy) && pause_ms > 0)
			sqlite3_sleep(pause_ms);
	} while (rc == SQLITE_OK || (busy && busy < BACKUP_BUSY_MAX));
	stats->pages = sqlite3_backup_pagecount(b);
	/* finish reports the step's error, if any, on dst. */
	if (sqlite3_backup_finish(b) != SQLITE_OK || rc != SQLITE_DONE) {
		copy_msg(errmsg, errmsg_len,
			 rc != SQLITE_DONE ? sqlite3_errstr(rc)
					   : sqlite3_errmsg(dst));
		goto out;
	}
	if (sqlite3_prepare_v2(dst, "PRAGMA journal_mode = DELETE", -1, &st,
			       NULL) != SQLITE_OK) {
		copy_msg(errmsg, errmsg_len, sqlite3_errmsg(dst));
		goto out;
	}
	rc = sqlite3_step(st);
	rc = rc == SQLITE_ROW && sqlite3_column_text(st, 0) &&
	     !strcmp((const char *)sqlite3_column_text(st, 0), "delete");
	sqlite3_finalize(st);
	if (!rc) {
		copy_msg(errmsg, errmsg_len,
			 "cannot switch the copy to a rollback journal");
		goto out;
	}
	if (sqlite3_prepare_v2(dst, "PRAGMA page_size", -1, &st, NULL) ==
	    SQLITE_OK) {
		if (sqlite3_step(st) == SQLITE_ROW)
			stats->page_size = sqlite3_column_int64(st, 0);
		sqlite3_finalize(st);
	}
	rc = sqlite3_close(dst);
	dst = NULL;
	if (rc != SQLITE_OK) {
		copy_msg(errmsg, errmsg_len, sqlite3_errstr(rc));
		goto out;
	}
	if (fsync(fd) < 0) {
		result = VELD_EIO;
		goto out;
	}
	result = 0;
out:
	saved = errno;
	sqlite3_close(dst);
	close(fd);
	errno = saved;
	return result;
}

int veld_store_backup(struct veld_store *s, const char *path,
		      int pages_per_step, int pause_ms,
		      struct veld_backup_stats *stats, char *errmsg,
		      size_t errmsg_len)
{
	int rc, own_tx = 0;

	if (sqlite3_get_autocommit(s->db)) {
		if (veld_store_read_begin(s) < 0) {
			memset(stats, 0, sizeof(*stats));
			copy_msg(errmsg, errmsg_len, sqlite3_errmsg(s->db));
			return VELD_ESTORE;
		}
		own_tx = 1;
	}
	rc = copy_db(s->db, path, pages_per_step, pause_ms, stats, errmsg,
		     errmsg_len);
	if (own_tx)
		veld_store_read_end(s);
	return rc;
}

int veld_store_copy(const char *from, const char *path, char *errmsg,
		    size_t errmsg_len)
{
	struct veld_backup_stats stats;
	sqlite3 *src = NULL;
	int rc;

	pthread_once(&sqlite_once, sqlite_config);
	if (sqlite3_open_v2(from, &src, SQLITE_OPEN_READONLY, NULL) !=
		    SQLITE_OK ||
	    sqlite3_exec(src, "PRAGMA query_only = 1", NULL, NULL, NULL) !=
		    SQLITE_OK) {
		copy_msg(errmsg, errmsg_len,
			 src ? sqlite3_errmsg(src) : "out of memory");
		sqlite3_close(src);
		return VELD_ESTORE;
	}
	sqlite3_busy_timeout(src, 5000);
	/* Not in use by anyone: one step, no pause. */
	rc = copy_db(src, path, -1, 0, &stats, errmsg, errmsg_len);
	sqlite3_close(src);
	return rc;
}

int veld_store_in_use(const char *path)
{
	sqlite3 *db = NULL;
	int rc;

	if (access(path, F_OK) < 0)
		return errno == ENOENT ? 0 : VELD_EIO;
	pthread_once(&sqlite_once, sqlite_config);
	if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL) !=
	    SQLITE_OK) {
		sqlite3_close(db);
		return VELD_ESTORE;
	}
	/* Every open connection holds a shared lock (in WAL mode, on the
	 * -shm), so an exclusive one is refused at once (no busy wait). */
	rc = sqlite3_exec(db,
			  "PRAGMA locking_mode = EXCLUSIVE; BEGIN EXCLUSIVE;"
			  " COMMIT",
			  NULL, NULL, NULL);
	sqlite3_close(db);
	if ((rc & 0xff) == SQLITE_BUSY || (rc & 0xff) == SQLITE_LOCKED)
		return 1;
	return rc == SQLITE_OK ? 0 : VELD_ESTORE;
}

int veld_store_log_next(struct veld_store *s, int64_t *next)
{
	int64_t v[2]; /* the floor (0: none), the last op's position */
	int rc = query_ints(s, S_LOG_FLOOR, v, 2);

	/* Past the last op, and at least the floor a rebase left (meta
	 * 'log_floor', schema 8). */
	*next = 0;
	if (rc < 0)
		return rc;
	*next = v[0] > v[1] + 1 ? v[0] : v[1] + 1;
	return 0;
}

int veld_store_log_rebase(struct veld_store *s, int64_t next)
{
	sqlite3_stmt *st;
	int64_t now;
	int rc;

	if (next < 1)
		return VELD_EINVAL;
	if ((rc = veld_store_log_next(s, &now)) < 0)
		return rc;
	if (now >= next)
		return 0;
	if ((rc = veld_store_begin(s)) < 0)
		return rc;
	st = stmt(s, S_META_SET);
	if (!st) {
		veld_store_rollback(s);
		return VELD_ESTORE;
	}
	/* An integer, unlike the 8-byte values of veld_store_meta_set_u64:
	 * S_LOG_FLOOR and schema 8's migration compare it in SQL. */
	bind_text(st, 1, "log_floor");
	sqlite3_bind_int64(st, 2, next);
	if ((rc = exec_stmt(st)) < 0) {
		veld_store_rollback(s);
		return rc;
	}
	if ((rc = veld_store_commit(s)) < 0)
		return rc;
	return load_floor(s);
}

#define RAW_COLS                                                               \
	"pos, id, author, seq, hlc, record, kind, header, sig, status, body"

int veld_store_raw_ops(struct veld_store *s, enum veld_raw_order order,
		       veld_store_raw_fn fn, void *ctx)
{
	/* (author, seq) is indexed, and the index ends in the rowid (pos). */
	static const char by_pos[] = "SELECT " RAW_COLS " FROM ops o"
				     " ORDER BY pos";
	static const char by_author[] = "SELECT " RAW_COLS " FROM ops o"
					" ORDER BY author, seq, pos";
	sqlite3_stmt *st;
	int rc;

	if (sqlite3_prepare_v2(s->db,
			       order == VELD_RAW_BY_AUTHOR ? by_author : by_pos,
			       -1, &st, NULL) != SQLITE_OK)
		return VELD_ESTORE;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct veld_raw_op op;
		int x;

		memset(&op, 0, sizeof(op));
		op.pos = sqlite3_column_int64(st, 0);
		op.id = sqlite3_column_blob(st, 1);
		op.id_len = (size_t)sqlite3_column_bytes(st, 1);
		op.author = sqlite3_column_blob(st, 2);
		op.author_len = (size_t)sqlite3_column_bytes(st, 2);
		op.seq = col_u64(st, 3);
		op.hlc = col_u64(st, 4);
		op.record = sqlite3_column_blob(st, 5);
		op.record_len = (size_t)sqlite3_column_bytes(st, 5);
		op.kind = col_u64(st, 6);
		op.header = sqlite3_column_blob(st, 7);
		op.header_len = (size_t)sqlite3_column_bytes(st, 7);
		op.sig = sqlite3_column_blob(st, 8);
		op.sig_len = (size_t)sqlite3_column_bytes(st, 8);
		op.status = sqlite3_column_int(st, 9);
		if (sqlite3_column_type(st, 10) != SQLITE_NULL) {
			op.body = sqlite3_column_blob(st, 10);
			op.body_len = (size_t)sqlite3_column_bytes(st, 10);
		}
		if ((x = fn(ctx, &op)) != 0) {
			sqlite3_finalize(st);
			return x;
		}
	}
	sqlite3_finalize(st);
	return rc == SQLITE_DONE ? 0 : VELD_ESTORE;
}

int veld_store_counts(struct veld_store *s, struct veld_store_counts *c)
{
	static const char q[] =
		"SELECT (SELECT count(*) FROM ops),"
		" (SELECT count(*) FROM ops WHERE status = 0),"
		" (SELECT count(*) FROM ops WHERE status = 1),"
		" (SELECT count(*) FROM ops WHERE status = 2),"
		" (SELECT count(*) FROM ops WHERE body IS NOT NULL),"
		" (SELECT count(*) FROM heads),"
		" (SELECT count(*) FROM pending),"
		" (SELECT count(*) FROM records),"
		" (SELECT count(*) FROM forms), (SELECT count(*) FROM devices),"
		" (SELECT count(*) FROM erasures),"
		" (SELECT page_count FROM pragma_page_count),"
		" (SELECT page_size FROM pragma_page_size)";
	int64_t *f[] = {&c->ops,      &c->ops_applied, &c->ops_void,
			&c->ops_fork, &c->bodies,      &c->authors,
			&c->pending,  &c->records,     &c->forms,
			&c->devices,  &c->erasures,    &c->page_count,
			&c->page_size};
	sqlite3_stmt *st;
	int rc;

	memset(c, 0, sizeof(*c));
	if (sqlite3_prepare_v2(s->db, q, -1, &st, NULL) != SQLITE_OK)
		return VELD_ESTORE;
	rc = sqlite3_step(st);
	for (int i = 0; rc == SQLITE_ROW && i < (int)(sizeof(f) / sizeof(f[0]));
	     i++)
		*f[i] = sqlite3_column_int64(st, i);
	sqlite3_finalize(st);
	return rc == SQLITE_ROW ? 0 : VELD_ESTORE;
}

/* Run q (no parameters) and hand column 0 of every row to fn. */
static int each_blob(struct veld_store *s, const char *q, veld_store_blob_fn fn,
		     void *ctx)
{
	sqlite3_stmt *st;
	int rc;

	if (sqlite3_prepare_v2(s->db, q, -1, &st, NULL) != SQLITE_OK)
		return VELD_ESTORE;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		int x = fn(ctx, sqlite3_column_blob(st, 0),
			   (size_t)sqlite3_column_bytes(st, 0));
		if (x) {
			sqlite3_finalize(st);
			return x;
		}
	}
	sqlite3_finalize(st);
	return rc == SQLITE_DONE ? 0 : VELD_ESTORE;
}

int veld_store_orphan_bodies(struct veld_store *s, veld_store_blob_fn fn,
			     void *ctx)
{
	/* Since schema version 3 a body lives in its op's row: a body
	 * without an op cannot be stored any more. */
	(void)s;
	(void)fn;
	(void)ctx;
	return 0;
}

int veld_store_erasures(struct veld_store *s, veld_store_blob_fn fn, void *ctx)
{
	return each_blob(s, "SELECT record FROM erasures ORDER BY record", fn,
			 ctx);
}

int veld_store_json_quote(struct veld_store *s, const char *text, size_t len,
			  struct veld_buf *out)
{
	sqlite3_stmt *st;
	int rc;

	if (len > JSON_LEN_MAX)
		return VELD_ETOOBIG;
	if (sqlite3_prepare_v2(s->db, "SELECT json_quote(?1)", -1, &st, NULL) !=
	    SQLITE_OK)
		return VELD_ESTORE;
	/* "" rather than NULL for an empty text: NULL would quote as null. */
	sqlite3_bind_text(st, 1, len ? text : "", (int)len, SQLITE_STATIC);
	rc = sqlite3_step(st) == SQLITE_ROW && sqlite3_column_text(st, 0)
		     ? veld_buf_append(out, sqlite3_column_text(st, 0),
				       (size_t)sqlite3_column_bytes(st, 0))
		     : VELD_ESTORE;
	sqlite3_finalize(st);
	return rc;
}
