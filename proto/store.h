/*
 * store.h - the replica's SQLite store: the only module that speaks SQL.
 *
 * One database file per replica holds
 *   - the op log: signed headers, signatures and bodies (table ops, one
 *     row per op, rowid = log position, appended in arrival order); an
 *     erased body is a NULL column, so the header chain still verifies
 *     (schema 3; before, bodies had a table of their own under the op's
 *     random id, which the view `bodies` still imitates for readers);
 *   - per-author chain heads, fork evidence and frozen authors (heads);
 *   - ops held back because their predecessor or their author's enrolment
 *     has not arrived yet (pending);
 *   - the materialised state the merge (replica.c, merge.c) folds the log
 *     into: records, current field values, notes, forms, devices, erasures.
 *     Since schema 4 a record has a local number (records.rid, handed out
 *     in the order records first appear) and its notes are stored under
 *     that number with the op's log position (table note_rows); since
 *     schema 7 its current values are one msgpack column of its own row
 *     (records.field_vals, recvals.h), each with the op's log position:
 *     a new 8-field record is one row written, not nine.  The views
 *     field_values and notes give the old shape (record id, op id,
 *     author, hlc) to every reader.
 *   The log is indexed by op id, by (author, seq) and by (record, hlc);
 *   device ops alone also by hlc, for the registry's fold (schema 5).
 *
 * Durability: WAL journal with synchronous=FULL, so a transaction that has
 * committed is on stable storage before veld_store_commit() returns; a
 * receipt or "saved" message is only ever given after that.  Schema
 * versions live in PRAGMA user_version and are migrated forward on open.
 *
 * The merge rules never see SQL; they see the structs below.  Every
 * statement is prepared on its first use, kept by the store (finalized by
 * veld_store_close) and reused: opening a store prepares none, so a device
 * that only pushes pays for the few it runs.  A statement that cannot be
 * prepared fails the call that needs it, with VELD_ESTORE like any other
 * SQLite error (its message, e.g. "no such table: pending", through
 * veld_store_errmsg()); a later call tries again.  Errors: VELD_ESTORE
 * (SQLite failed; veld_store_errmsg() tells why), VELD_ESCHEMA (the file
 * is from a newer veldwerk), VELD_ENOMEM.
 */
#ifndef VELD_STORE_H
#define VELD_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "op.h"
#include "salts.h"

struct veld_store;

/* Op status in the log. */
enum veld_op_status {
	VELD_STATUS_APPLIED = 0, /* part of the state */
	VELD_STATUS_VOID = 1,	 /* kept for the chain, not in the state
				    (author revoked at its clock, or forked) */
	VELD_STATUS_FORK = 2,	 /* a second op for an (author, seq):
				    evidence of equivocation */
};

/* Why an op is pending. */
enum veld_pending_reason {
	VELD_PENDING_GAP = 1,	     /* predecessor in the chain missing */
	VELD_PENDING_UNENROLLED = 2, /* author not (yet) in the registry */
};

/* A chain head. */
struct veld_head {
	uint64_t seq; /* 0 = no op from this author yet */
	uint8_t id[VELD_HASH_LEN];
	int frozen;	   /* a fork was seen: author frozen */
	uint64_t fork_seq; /* first seq not trusted, when frozen */
};

/* One op as stored: borrowed views valid until the next store call. */
struct veld_stored_op {
	uint8_t id[VELD_HASH_LEN];
	struct veld_op_header h;
	const uint8_t *header;
	size_t header_len;
	const uint8_t *sig;  /* NULL: none of its own (vouched for, §13.1) */
	const uint8_t *body; /* NULL if erased */
	size_t body_len;
	int status;
	int64_t pos; /* local log position (arrival order) */
};

/* Callback over stored ops; return nonzero to stop (that value is
 * returned by the iterating function). */
typedef int (*veld_store_op_fn)(void *ctx, const struct veld_stored_op *op);

/* Materialised rows, as the merge writes them. */
struct veld_record_row {
	uint8_t id[VELD_RECORD_LEN];
	const char *form;     /* may be NULL (unknown, e.g. erased) */
	const char *area;     /* may be NULL */
	const char *street;   /* display value of field "street", or NULL */
	const char *followup; /* display value of field "followup", or NULL */
	uint64_t created, updated; /* hlc */
	int deleted;		   /* deleted, nothing survived */
	int delete_conflict;	   /* deleted, but a concurrent edit lives */
	int erased;
	int conflicts; /* number of fields with more than one value */
};

struct veld_value_row {
	const char *field;
	uint8_t op[VELD_HASH_LEN];
	uint8_t author[VELD_PK_LEN];
	uint64_t hlc;
	const uint8_t *value; /* canonical msgpack; NULL if erased */
	size_t value_len;
	int winner;  /* the deterministic display winner of the field */
	int64_t pos; /* the op's log position: what the row stores (op,
			author and hlc are the op's); reads leave it 0 */
};

struct veld_note_row {
	uint8_t op[VELD_HASH_LEN];
	uint8_t author[VELD_PK_LEN];
	uint64_t hlc;
	const char *text; /* NULL if erased */
	int64_t pos;	  /* the op's log position, as in veld_value_row */
};

struct veld_device_row {
	uint8_t key[VELD_PK_LEN];
	const char *role; /* "field", "coordinator" */
	const char *name;
	const char *area;  /* may be NULL */
	uint64_t enrolled; /* hlc of the first accepted registry op */
	uint64_t revoked;  /* hlc of the revocation, 0 if active */
	uint64_t hlc;	   /* hlc of the registry op in force */
};

struct veld_form_row {
	uint8_t id[VELD_RECORD_LEN];
	const char *name;
	const uint8_t *def; /* canonical msgpack map */
	size_t def_len;
	uint64_t hlc;
	uint8_t op[VELD_HASH_LEN];
};

/*
 * veld_store_open - open (creating if needed) the store at path; ":memory:"
 * for a throwaway one.  Migrates the schema forward.  *out is set on
 * success only; release with veld_store_close().
 *
 * What open checks: that the file is an SQLite database it can put in WAL
 * mode (VELD_ESTORE if not) and its schema version (PRAGMA user_version:
 * older is migrated, newer is VELD_ESCHEMA).  It does not prepare the
 * statements, so it no longer notices a store damaged beyond that (a
 * table dropped by hand): the first call that needs what is missing
 * fails with VELD_ESTORE instead.
 */
int veld_store_open(const char *path, struct veld_store **out)
	__attribute__((warn_unused_result));

/*
 * veld_store_prepare - make sure a store exists at path (as veld_store_open
 * would create it) and close it again.  A new file gets pages of page_size
 * bytes (a power of two, 512..65536; VELD_EINVAL otherwise); an existing
 * one keeps its own, since SQLite fixes the page size when the file is
 * created.  Returns 0 or what veld_store_open returns.
 *
 * Larger pages suit a store that mostly takes in a bulk of others' ops (a
 * coordinator's pull: a quarter of the page writes and reads per op);
 * smaller ones a store of one's own entries, where every saved entry
 * writes its pages (docs/bench.md, "Page size").
 */
#define VELD_STORE_PAGE_BULK 16384
int veld_store_prepare(const char *path, int page_size)
	__attribute__((warn_unused_result));

/* Close; NULL is fine.  Rolls back an unfinished transaction. */
void veld_store_close(struct veld_store *s);

/*
 * veld_store_cache_set - let the page cache hold up to kib KiB (the
 * default, VELD_STORE_CACHE_KIB, suits a device: 2 MiB, so that a
 * coordinator pulling a million ops stays within 12 MiB).  A server that
 * applies the pushes of many devices in one transaction (group commit) gives it
 * more, so that the transaction's pages stay in memory until the commit
 * instead of being written to the WAL early and again at the commit.
 * Returns 0 or VELD_ESTORE.
 */
#define VELD_STORE_CACHE_KIB 2048
int veld_store_cache_set(struct veld_store *s, int kib)
	__attribute__((warn_unused_result));

/* Last SQLite error message, for logs. */
const char *veld_store_errmsg(const struct veld_store *s);

/*
 * veld_store_refine - rc, or VELD_EFULL if rc is VELD_ESTORE and the last
 * SQLite error was a full disk (SQLITE_FULL, or ENOSPC/EDQUOT from the
 * system behind an I/O error), so that people are told to
 * make room rather than that "the store reported an error".  Call it right
 * after the failed call, before anything else touches the store (a
 * rollback clears SQLite's error).
 */
int veld_store_refine(const struct veld_store *s, int rc);

/* PRAGMA integrity_check: 0 if "ok", VELD_ESTORE otherwise (the first
 * problem is then in veld_store_errmsg's place: msg, msg_len). */
int veld_store_integrity(struct veld_store *s, char *msg, size_t msg_len)
	__attribute__((warn_unused_result));

/* PRAGMA data_version: changes when another connection (another process)
 * has committed to the file since this value was last read. */
int veld_store_data_version(struct veld_store *s, int64_t *v)
	__attribute__((warn_unused_result));

/* Transactions: one per applied batch.  commit is durable on return. */
int veld_store_begin(struct veld_store *s) __attribute__((warn_unused_result));
int veld_store_commit(struct veld_store *s) __attribute__((warn_unused_result));

/*
 * veld_store_scrub - copy the WAL into the file and truncate it to
 * nothing (a TRUNCATE checkpoint), waiting at most wait_ms for other
 * connections.  With secure_delete on (every store), an erasure zeroes
 * what it frees, but until this the file still has the pages from before
 * it, and the WAL their old images.  A commit that wrote an erasure
 * (bodies dropped, an erased record's row) scrubs by itself, waiting
 * VELD_STORE_SCRUB_WAIT_MS, and leaves it for its next commit if other
 * connections are in the way.  Returns 0, or VELD_ESTORE inside a
 * transaction or when it could not finish.
 */
#define VELD_STORE_SCRUB_WAIT_MS 250
int veld_store_scrub(struct veld_store *s, int wait_ms)
	__attribute__((warn_unused_result));
void veld_store_rollback(struct veld_store *s);

/*
 * veld_store_set_durable - whether a commit waits for stable storage
 * (full = 1, the default: WAL with synchronous=FULL) or only for the
 * operating system (full = 0: synchronous=NORMAL; a commit stays atomic,
 * but a power loss may roll back the last ones).  Only for data that can
 * be fetched again, such as ops pulled from the server; the next durable
 * commit also makes every earlier one durable (one WAL file, synced as a
 * whole).  Returns 0 or VELD_ESTORE.
 */
int veld_store_set_durable(struct veld_store *s, int full)
	__attribute__((warn_unused_result));

/*
 * Parts of a transaction (SQL savepoints), for several batches in one
 * commit: veld_store_part_begin inside veld_store_begin; then
 * veld_store_part_end(s, 1) keeps what the part wrote, (s, 0) undoes it and
 * leaves the rest of the transaction as it was.  Not nested.  VELD_ESTORE
 * from either means the transaction itself is lost (SQLite may have rolled
 * it back after an I/O error): the caller rolls back.
 */
int veld_store_part_begin(struct veld_store *s)
	__attribute__((warn_unused_result));
int veld_store_part_end(struct veld_store *s, int keep)
	__attribute__((warn_unused_result));

/* --- the log --- */

/* Status of op id: 1 and *status set if present, 0 if absent, <0 error. */
int veld_store_op_status(struct veld_store *s, const uint8_t id[VELD_HASH_LEN],
			 int *status) __attribute__((warn_unused_result));

/* The id of the chain op (author, seq) (status applied or void): 1 found,
 * 0 absent, <0 error. */
int veld_store_op_at(struct veld_store *s, const uint8_t author[VELD_PK_LEN],
		     uint64_t seq, uint8_t id[VELD_HASH_LEN])
	__attribute__((warn_unused_result));

/* Append an op (body may be NULL = erased).  Copies everything. */
int veld_store_op_insert(struct veld_store *s, const struct veld_op *op,
			 int with_body, int status)
	__attribute__((warn_unused_result));

/* Iterate the ops of one record, all statuses, in (hlc, pos) order: by
 * clock, ops of equal clock in arrival order (the merge wants (hlc,
 * author, id): veld_merge_sort). */
int veld_store_record_ops(struct veld_store *s,
			  const uint8_t record[VELD_RECORD_LEN],
			  veld_store_op_fn fn, void *ctx)
	__attribute__((warn_unused_result));

/*
 * veld_store_record_fold_ops - veld_store_record_ops with what the merge
 * reads: id, status, pos, body and, of the header, author, seq, hlc, record
 * and kind, taken from the op row's columns instead of decoding the header;
 * header and sig are NULL.
 */
int veld_store_record_fold_ops(struct veld_store *s,
			       const uint8_t record[VELD_RECORD_LEN],
			       veld_store_op_fn fn, void *ctx)
	__attribute__((warn_unused_result));

/* Iterate every device op (kind 6, all statuses), (hlc, author, id). */
int veld_store_device_ops(struct veld_store *s, veld_store_op_fn fn, void *ctx)
	__attribute__((warn_unused_result));

/* Iterate ops with log position > after, in position order, at most limit
 * (the pull cursor).  All statuses. */
int veld_store_ops_since(struct veld_store *s, int64_t after, int limit,
			 veld_store_op_fn fn, void *ctx)
	__attribute__((warn_unused_result));

/* Iterate every op whose author is given (all statuses), seq order. */
int veld_store_author_ops(struct veld_store *s,
			  const uint8_t author[VELD_PK_LEN],
			  veld_store_op_fn fn, void *ctx)
	__attribute__((warn_unused_result));

/* The author's ops with seq > after, in seq order, at most limit (a
 * device picking what to push next). */
int veld_store_author_ops_after(struct veld_store *s,
				const uint8_t author[VELD_PK_LEN],
				uint64_t after, int limit, veld_store_op_fn fn,
				void *ctx) __attribute__((warn_unused_result));

/* Set the status of one op. */
int veld_store_op_set_status(struct veld_store *s,
			     const uint8_t id[VELD_HASH_LEN], int status)
	__attribute__((warn_unused_result));

/* Drop the bodies of every op on record except those of kind keep_kind,
 * and puncture the salt nodes above them (veld_store_salt_puncture). */
int veld_store_drop_bodies(struct veld_store *s,
			   const uint8_t record[VELD_RECORD_LEN],
			   uint64_t keep_kind)
	__attribute__((warn_unused_result));

/* Number of ops in the log (all statuses), and the largest hlc seen. */
int veld_store_op_count(struct veld_store *s, int64_t *count, uint64_t *max_hlc)
	__attribute__((warn_unused_result));

/* --- chains --- */

/* Head of author's chain (seq 0 if none). */
int veld_store_head(struct veld_store *s, const uint8_t author[VELD_PK_LEN],
		    struct veld_head *head) __attribute__((warn_unused_result));

int veld_store_head_set(struct veld_store *s, const uint8_t author[VELD_PK_LEN],
			const struct veld_head *head)
	__attribute__((warn_unused_result));

/* Iterate all heads: fn(ctx, author, head). */
typedef int (*veld_store_head_fn)(void *ctx, const uint8_t *author,
				  const struct veld_head *head);
int veld_store_heads(struct veld_store *s, veld_store_head_fn fn, void *ctx)
	__attribute__((warn_unused_result));

/* --- pending ops --- */

int veld_store_pending_add(struct veld_store *s, const struct veld_op *op,
			   const uint8_t *raw, size_t raw_len, int reason)
	__attribute__((warn_unused_result));

/* Take (fetch and delete) the pending op (author, seq) into out (the raw
 * envelope): 1 taken, 0 none. */
int veld_store_pending_take(struct veld_store *s,
			    const uint8_t author[VELD_PK_LEN], uint64_t seq,
			    struct veld_buf *out)
	__attribute__((warn_unused_result));

/* Authors with pending ops of the given reason: fn(ctx, author). */
typedef int (*veld_store_key_fn)(void *ctx, const uint8_t *key);
int veld_store_pending_authors(struct veld_store *s, int reason,
			       veld_store_key_fn fn, void *ctx)
	__attribute__((warn_unused_result));

/* Lowest pending seq for author (0 if none). */
int veld_store_pending_min_seq(struct veld_store *s,
			       const uint8_t author[VELD_PK_LEN], uint64_t *seq)
	__attribute__((warn_unused_result));

int veld_store_pending_count(struct veld_store *s, int64_t *count)
	__attribute__((warn_unused_result));

/* --- salt nodes (salts.h, docs/protocol.md §5.1) ---
 *
 * A replica keeps the nodes of its own salt tree (its root's cover of
 * the seqs it has not used yet, drawn with its first op) and, on veldd,
 * the nodes devices handed over, to hand them over again.  Kept nodes of
 * one author are disjoint, and none lies above an op whose body is not
 * kept (erased, or not here).
 */

/* Put into out (empty) the kept nodes of author that meet lo .. hi,
 * rising.  Returns 0 or VELD_ESTORE / VELD_ENOMEM. */
int veld_store_salt_nodes(struct veld_store *s,
			  const uint8_t author[VELD_PK_LEN], uint64_t lo,
			  uint64_t hi, struct veld_salt_set *out)
	__attribute__((warn_unused_result));

/* veld_store_salt_nodes with ctx the store: a struct veld_salt_source's
 * fn (runs.h). */
int veld_store_salt_source(void *store, const uint8_t author[VELD_PK_LEN],
			   uint64_t lo, uint64_t hi, struct veld_salt_set *out)
	__attribute__((warn_unused_result));

/*
 * Keep nodes[0..n) of author (sorted, disjoint), received with ops that
 * were applied: a node inside a kept one is dropped, kept ones inside a
 * node give way to it; then every seq under them without a kept body is
 * punctured.  Returns 0 or a store error.
 */
int veld_store_salt_keep(struct veld_store *s,
			 const uint8_t author[VELD_PK_LEN],
			 const struct veld_salt_node *nodes, size_t n)
	__attribute__((warn_unused_result));

/* Keep a node of our own tree (veld_salt_fresh), above every seq we have
 * used; kept nodes inside it give way.  Returns 0 or a store error. */
int veld_store_salt_keep_own(struct veld_store *s,
			     const uint8_t author[VELD_PK_LEN],
			     const struct veld_salt_node *node)
	__attribute__((warn_unused_result));

/* Take seq of author out of the kept nodes (salts.h puncture). */
int veld_store_salt_puncture(struct veld_store *s,
			     const uint8_t author[VELD_PK_LEN], uint64_t seq)
	__attribute__((warn_unused_result));

/* --- erasures --- */

/* 1 if record is erased, 0 if not. */
int veld_store_erased(struct veld_store *s,
		      const uint8_t record[VELD_RECORD_LEN])
	__attribute__((warn_unused_result));
/* 1 if any record was erased, 0 if none, or VELD_ESTORE. */
int veld_store_erased_any(struct veld_store *s)
	__attribute__((warn_unused_result));
int veld_store_erase_mark(struct veld_store *s,
			  const uint8_t record[VELD_RECORD_LEN])
	__attribute__((warn_unused_result));

/* --- materialised state --- */

/* Replace everything materialised for one record: write what differs
 * from the stored rows.  Each value and note row names its op by pos, the
 * op's log position; that op must be in the log (the views field_values
 * and notes read id, author and hlc from it). */
int veld_store_record_replace(struct veld_store *s,
			      const struct veld_record_row *rec,
			      const struct veld_value_row *values,
			      size_t nvalues, const struct veld_note_row *notes,
			      size_t nnotes)
	__attribute__((warn_unused_result));

/* Remove everything materialised for one record / one form. */
int veld_store_record_delete(struct veld_store *s,
			     const uint8_t id[VELD_RECORD_LEN])
	__attribute__((warn_unused_result));
int veld_store_form_delete(struct veld_store *s,
			   const uint8_t id[VELD_RECORD_LEN])
	__attribute__((warn_unused_result));

/* Replace the whole device registry / one form. */
int veld_store_devices_replace(struct veld_store *s,
			       const struct veld_device_row *rows, size_t n)
	__attribute__((warn_unused_result));
int veld_store_form_replace(struct veld_store *s,
			    const struct veld_form_row *form)
	__attribute__((warn_unused_result));

/* Read the registry: fn(ctx, row). */
typedef int (*veld_store_device_fn)(void *ctx,
				    const struct veld_device_row *row);
int veld_store_devices(struct veld_store *s, veld_store_device_fn fn, void *ctx)
	__attribute__((warn_unused_result));

/* Read forms: fn(ctx, row), by name. */
typedef int (*veld_store_form_fn)(void *ctx, const struct veld_form_row *row);
int veld_store_forms(struct veld_store *s, veld_store_form_fn fn, void *ctx)
	__attribute__((warn_unused_result));

/* Record filters for veld_store_records (NULL / 0 = no filter). */
struct veld_record_filter {
	const char *form;
	const char *area;
	const char *street;   /* display value of field "street" */
	const char *followup; /* display value of field "followup" */
	int only_conflicts;   /* conflicts > 0 or delete_conflict */
	int include_deleted;
	uint64_t updated_since; /* hlc */
};

typedef int (*veld_store_record_fn)(void *ctx,
				    const struct veld_record_row *row);
int veld_store_records(struct veld_store *s, const struct veld_record_filter *f,
		       veld_store_record_fn fn, void *ctx)
	__attribute__((warn_unused_result));

/* One record: 1 found (row filled, strings valid until next call), 0 not. */
int veld_store_record(struct veld_store *s, const uint8_t id[VELD_RECORD_LEN],
		      veld_store_record_fn fn, void *ctx)
	__attribute__((warn_unused_result));

typedef int (*veld_store_value_fn)(void *ctx, const struct veld_value_row *v);
int veld_store_values(struct veld_store *s, const uint8_t id[VELD_RECORD_LEN],
		      veld_store_value_fn fn, void *ctx)
	__attribute__((warn_unused_result));

typedef int (*veld_store_note_fn)(void *ctx, const struct veld_note_row *n);
int veld_store_notes(struct veld_store *s, const uint8_t id[VELD_RECORD_LEN],
		     veld_store_note_fn fn, void *ctx)
	__attribute__((warn_unused_result));

/* Record ids whose materialised rows exist, in id order (state hash). */
int veld_store_record_ids(struct veld_store *s, veld_store_key_fn fn, void *ctx)
	__attribute__((warn_unused_result));

/* --- replica settings (server URL, cursors, receipts ...) --- */

/* 1 and out filled if key is set, 0 if not. */
int veld_store_meta_get(struct veld_store *s, const char *key,
			struct veld_buf *out)
	__attribute__((warn_unused_result));
int veld_store_meta_set(struct veld_store *s, const char *key,
			const void *value, size_t len)
	__attribute__((warn_unused_result));
/* A number kept as 8 bytes, big-endian: 1 and *v if key holds 8 bytes, 0
 * (and *v = 0) if it is unset or holds something else. */
int veld_store_meta_get_u64(struct veld_store *s, const char *key, uint64_t *v)
	__attribute__((warn_unused_result));
int veld_store_meta_set_u64(struct veld_store *s, const char *key, uint64_t v)
	__attribute__((warn_unused_result));

/* --- enrolment codes (server only); stored by hash --- */

struct veld_code_row {
	const char *role, *name, *area; /* area may be NULL */
	uint64_t expires;		/* wall-clock ms */
};

int veld_store_code_add(struct veld_store *s, const uint8_t hash[32],
			const struct veld_code_row *c)
	__attribute__((warn_unused_result));

/*
 * veld_store_codes_prune - forget codes whose expiry lies more than
 * retention_ms before now_ms (used or not).  Returns the number removed
 * or VELD_ESTORE.
 */
int veld_store_codes_prune(struct veld_store *s, uint64_t now_ms,
			   uint64_t retention_ms)
	__attribute__((warn_unused_result));

/*
 * veld_store_code_take - look up a code by hash and mark it used, at once.
 * strings (caller's) receives the role/name/area text *c points to.
 * Returns 0, VELD_ECODE (unknown), VELD_ECODEUSED, VELD_ECODEEXPIRED,
 * VELD_ESTORE.  Call inside a transaction to make the take atomic.
 */
int veld_store_code_take(struct veld_store *s, const uint8_t hash[32],
			 uint64_t now_ms, struct veld_code_row *c,
			 char *strings, size_t strings_len)
	__attribute__((warn_unused_result));

/* --- admin helpers ---
 *
 * JSON in and out for veldd's admin commands, done by SQLite's JSON1
 * functions so that nobody hand-writes a JSON parser or string escaping.
 * These run rarely, so their statements are prepared per call.
 */

/*
 * veld_store_devices_json - the device registry as one JSON array, by key:
 *
 *	[{"key": "<64 hex>", "role": "field", "name": "...", "area": null,
 *	  "status": "active" | "revoked",
 *	  "enrolled": "2025-05-01T12:00:00Z", "revoked": null | "<ISO>",
 *	  "seq": <head of the device's chain, 0 if none>,
 *	  "frozen": false}, ...]
 *
 * Times are UTC, from the hlc milliseconds, to the second.  out is reset
 * and receives the text (not NUL-terminated).  Returns 0, VELD_ETOOBIG
 * (past out's maximum), VELD_ENOMEM, VELD_ESTORE.
 */
int veld_store_devices_json(struct veld_store *s, struct veld_buf *out)
	__attribute__((warn_unused_result));

/* Deepest nesting veld_store_json_walk accepts (top-level value: 0). */
#define VELD_STORE_JSON_DEPTH_MAX 32

enum veld_json_type {
	VELD_JSON_NULL,
	VELD_JSON_TRUE,
	VELD_JSON_FALSE,
	VELD_JSON_INTEGER, /* fits in int64 */
	VELD_JSON_REAL,	   /* has a fraction or exponent, or is too big */
	VELD_JSON_TEXT,
	VELD_JSON_ARRAY,
	VELD_JSON_OBJECT,
};

/* One value of a JSON document; views valid during the callback only. */
struct veld_json_node {
	enum veld_json_type type;
	int depth;	 /* 0 for the top-level value, its children 1, ... */
	const char *key; /* member name in an object (decoded, NUL-terminated,
			    key_len bytes), else NULL */
	size_t key_len;
	int64_t index;	  /* position in an array, else -1 */
	const char *text; /* VELD_JSON_TEXT: the decoded string
			     (NUL-terminated, text_len bytes), else NULL */
	size_t text_len;
	int64_t i; /* VELD_JSON_INTEGER */
	double d;  /* VELD_JSON_REAL */
};

typedef int (*veld_store_json_fn)(void *ctx, const struct veld_json_node *n);

/*
 * veld_store_json_walk - parse json (len bytes, borrowed) with SQLite's
 * json_tree and call fn for every value in document order: a container
 * comes before its members, members in the order written (duplicate keys
 * are passed on as they are).  fn returning nonzero stops the walk.
 *
 * Returns 0, VELD_EINVAL (not well-formed JSON, or a string with a \u0000
 * escape, which SQLite would silently cut short there), VELD_EDEPTH (nested
 * deeper than VELD_STORE_JSON_DEPTH_MAX), VELD_ETOOBIG (len >= 2^31),
 * VELD_ESTORE, or fn's nonzero value.
 */
int veld_store_json_walk(struct veld_store *s, const char *json, size_t len,
			 veld_store_json_fn fn, void *ctx)
	__attribute__((warn_unused_result));

/* --- client read helpers --- */

/*
 * veld_store_record_prefix - the one record whose id starts with hex (1..32
 * hex digits, either case).  Returns 0 with out filled; VELD_ENOTFOUND (no
 * record), VELD_EAMBIGUOUS (several), VELD_EINVAL (not hex, empty or too
 * long), VELD_ESTORE.  Deleted and erased records count: they still exist.
 */
int veld_store_record_prefix(struct veld_store *s, const char *hex,
			     uint8_t out[VELD_RECORD_LEN])
	__attribute__((warn_unused_result));

/* Callback over JSON texts (borrowed, valid during the call, not
 * NUL-terminated at len); nonzero stops and is returned. */
typedef int (*veld_store_text_fn)(void *ctx, const char *json, size_t len);

/*
 * veld_store_records_json - the records veld_store_records(f) selects, in
 * its order, each as one JSON object built by SQLite:
 *   {"id": hex, "form", "area", "street", "followup" (string or null),
 *    "created", "updated" (ISO-8601 UTC, ms), "deleted",
 *    "delete_conflict", "erased" (booleans), "conflicts" (fields in
 *    conflict), "values": {field: display winner as JSON}}.
 * msgpack values map to JSON naturally; bin becomes a hex string; an
 * erased value is null.  Returns 0, a store error, or fn's nonzero.
 */
int veld_store_records_json(struct veld_store *s,
			    const struct veld_record_filter *f,
			    veld_store_text_fn fn, void *ctx)
	__attribute__((warn_unused_result));

/*
 * veld_store_record_json - one record as the object above plus
 *   "current": {field: [{"value", "winner", "op", "author", "device"
 *               (registry name or null), "time"}, ...]} (winner first),
 *   "notes": [{"op", "author", "device", "time", "text" (null if erased),
 *              "erased"}, ...] in note order,
 *   "history": [{"op", "author", "device", "time", "seq", "kind",
 *                "status": "applied"|"void"|"fork"}, ...] in (hlc,
 *                author, id) order, every op of the record.
 * fn is called once if the record exists.  Returns 1 found, 0 not, <0
 * error, or fn's positive return.
 */
int veld_store_record_json(struct veld_store *s,
			   const uint8_t id[VELD_RECORD_LEN],
			   veld_store_text_fn fn, void *ctx)
	__attribute__((warn_unused_result));

/* --- dashboard read helpers ---
 *
 * For veldd's dashboard, HTTP API and `veldd export` (docs/api.md has the
 * exact shapes).  Each answer is one text built by SQLite (JSON1 for JSON)
 * into out, which is reset first; past out's maximum they fail with
 * VELD_ETOOBIG.  Other errors: VELD_ENOMEM, VELD_ESTORE.
 */

#define VELD_DASH_LIMIT_DEFAULT 500 /* records in one list answer */
#define VELD_DASH_LIMIT_MAX 5000

/* Filters of the record list; NULL / 0 = no filter.  Borrowed. */
struct veld_dash_filter {
	const char *form, *area, *street;
	const char *followup;  /* follow-up status: "open", "in progress",
				  "done" (records that ask for a follow-up) */
	const char *text;      /* case-insensitive substring of a value,
				  the street or a note */
	const char *from, *to; /* "YYYY-MM-DD", on the created date (UTC) */
	const char *sort;      /* a key veld_store_dash_sort_ok accepts;
				  default "updated" */
	int desc;
	int only_conflicts;
	int include_deleted;
	unsigned limit; /* 0: VELD_DASH_LIMIT_DEFAULT; capped at _MAX */
};

/* 1 if sort names a sort key of the record list, else 0. */
int veld_store_dash_sort_ok(const char *sort);

/* The records f selects: a JSON array of record objects (docs/api.md). */
int veld_store_dash_records(struct veld_store *s,
			    const struct veld_dash_filter *f,
			    struct veld_buf *out)
	__attribute__((warn_unused_result));

/*
 * One record with its current values, notes and full history (root: the
 * server key, to name its ops "server").  Returns 1 and the object in
 * out, 0 if there is no such record, or an error.
 */
int veld_store_dash_record(struct veld_store *s,
			   const uint8_t id[VELD_RECORD_LEN],
			   const uint8_t root[VELD_PK_LEN],
			   struct veld_buf *out)
	__attribute__((warn_unused_result));

/* The registry with chain heads, forks, last op and last sync. */
int veld_store_dash_devices(struct veld_store *s, struct veld_buf *out)
	__attribute__((warn_unused_result));

/* Every form with its fields (the definition as JSON) and record count. */
int veld_store_dash_forms(struct veld_store *s, struct veld_buf *out)
	__attribute__((warn_unused_result));

/* Counts per street and per answer of one form; VELD_ENOTFOUND if no
 * such form. */
int veld_store_dash_counts(struct veld_store *s, const char *form,
			   struct veld_buf *out)
	__attribute__((warn_unused_result));

enum veld_export_format {
	VELD_EXPORT_CSV,       /* RFC 4180: ',' CRLF, UTF-8 */
	VELD_EXPORT_CSV_EXCEL, /* ';', UTF-8 BOM, decimal comma */
	VELD_EXPORT_JSON,
};

/*
 * veld_store_dash_export - every record of form (deleted and erased ones
 * too, flagged) in format; personal nonzero includes the fields the form
 * marks personal.  VELD_ENOTFOUND if there is no such form.
 */
int veld_store_dash_export(struct veld_store *s, const char *form,
			   enum veld_export_format format, int personal,
			   struct veld_buf *out)
	__attribute__((warn_unused_result));

/* The position of the newest op in the log (0 if none), or VELD_ESTORE. */
int64_t veld_store_ops_last(struct veld_store *s);

/*
 * veld_store_forms_json - every form in force, by name, each one JSON
 * object: {"name", "id" (hex), "updated" (ISO-8601 UTC), "title" (if the
 * form has one), "fields": [...]}, the fields as docs/forms.md writes
 * them.  Returns 0, a store error, or fn's nonzero.
 */
int veld_store_forms_json(struct veld_store *s, veld_store_text_fn fn,
			  void *ctx) __attribute__((warn_unused_result));

/*
 * veld_store_msgpack_json - one msgpack value the caller built (len bytes,
 * borrowed; need not be canonical: map keys stay in the order packed) as
 * JSON text in out (reset first, not NUL-terminated), strings quoted by
 * SQLite.  Returns 0, VELD_EINVAL (not one msgpack value), VELD_ETOOBIG,
 * VELD_ENOMEM, VELD_ESTORE.
 */
int veld_store_msgpack_json(struct veld_store *s, const uint8_t *mp, size_t len,
			    struct veld_buf *out)
	__attribute__((warn_unused_result));

/*
 * veld_store_count_created - *count = records whose first op was written
 * by author at or after the clock since (a device's entries of today).
 * Returns 0 or VELD_ESTORE.
 */
int veld_store_count_created(struct veld_store *s,
			     const uint8_t author[VELD_PK_LEN], uint64_t since,
			     int64_t *count)
	__attribute__((warn_unused_result));

/* --- backup and verify ---
 *
 * For `veldd backup` and `veldd verify` (proto/verify.h), which must read a
 * live store without ever writing it and without trusting it:
 *   - a store opened read-only never writes the file (no migration, no
 *     journal mode change);
 *   - one read transaction (veld_store_read_begin) gives every query after
 *     it the same snapshot however much the server commits meanwhile: in
 *     WAL mode a reader neither blocks the writer nor sees its commits;
 *   - the raw op rows come as stored, nothing decoded, so that a damaged
 *     row is reported rather than ending the walk.
 *
 * Usage (backup):
 *	veld_store_open_readonly(path, &s);
 *	veld_store_read_begin(s);
 *	veld_replica_state_hash_store(s, h);		the snapshot's hash
 *	veld_store_backup(s, "F.tmp", 256, 5, &st, NULL, 0);	its copy
 *	veld_store_read_end(s);
 */

/*
 * veld_store_open_readonly - open an existing store to read only.  The
 * file must carry this veldwerk's schema version: an older one would need a
 * migration, which is a write, and a newer one is not understood (both
 * VELD_ESCHEMA).  VELD_ESTORE if it cannot be opened (missing, not a
 * database).  As with veld_store_open, the schema version is the check:
 * statements are prepared on first use.  Like any reader of a WAL file,
 * SQLite creates its -shm and -wal files beside it if they are missing.
 * Close with veld_store_close().
 */
int veld_store_open_readonly(const char *path, struct veld_store **out)
	__attribute__((warn_unused_result));

/* One read transaction: every query until veld_store_read_end sees the file
 * as it was at begin.  Not inside another transaction (VELD_ESTORE). */
int veld_store_read_begin(struct veld_store *s)
	__attribute__((warn_unused_result));
void veld_store_read_end(struct veld_store *s);

struct veld_backup_stats {
	int64_t pages;	   /* pages copied */
	int64_t page_size; /* bytes per page */
	int steps;	   /* backup steps taken */
};

/*
 * veld_store_backup - copy the whole database to a new file at path (mode
 * 0600: it holds residents' data), with SQLite's online backup API.
 *
 * The copy is one snapshot: the open read transaction's if there is one
 * (veld_store_read_begin), else one taken for the copy.  Holding the
 * snapshot keeps the copy from restarting when the server commits, and
 * in WAL mode the server's writers are never blocked by it; the copy is
 * still made pages_per_step pages at a time with a pause of pause_ms
 * between steps, so that it shares the disk with them.  The finished copy
 * is switched to a rollback journal (one self-contained file: no -wal or
 * -shm is needed to read it; opening it as a replica switches it back to
 * WAL) and fsync'ed; the directory entry is the caller's to sync (rename).
 *
 * Returns 0; VELD_EIO if path exists or cannot be created or synced (errno
 * tells which); VELD_ESTORE if SQLite failed (its message is copied to
 * errmsg, errmsg_len bytes; NULL, 0 for none).  On failure path may hold a
 * partial file: the caller removes it.
 */
int veld_store_backup(struct veld_store *s, const char *path,
		      int pages_per_step, int pause_ms,
		      struct veld_backup_stats *stats, char *errmsg,
		      size_t errmsg_len) __attribute__((warn_unused_result));

/*
 * veld_store_copy - veld_store_backup of the database file at from (not in
 * use by anyone: restores), made in one step.  Any schema version.
 */
int veld_store_copy(const char *from, const char *path, char *errmsg,
		    size_t errmsg_len) __attribute__((warn_unused_result));

/*
 * veld_store_in_use - 1 if some connection (a running veldd) has the
 * database at path open, 0 if none has (or there is no file), <0 if that
 * cannot be told (VELD_EIO, VELD_ESTORE: the file is damaged, say).  Takes
 * an exclusive lock for a moment and never waits for one.
 */
int veld_store_in_use(const char *path) __attribute__((warn_unused_result));

/* The log position the next op appended would get. */
int veld_store_log_next(struct veld_store *s, int64_t *next)
	__attribute__((warn_unused_result));

/*
 * veld_store_log_rebase - make the ops appended from now on get log
 * positions from next on (if the log is not already past it), leaving a
 * gap: after a restore, no position may be handed out twice, because
 * devices keep the position they pulled up to (their cursor).  In its own
 * transaction.
 */
int veld_store_log_rebase(struct veld_store *s, int64_t next)
	__attribute__((warn_unused_result));

/* One op row exactly as stored: nothing decoded, nothing trusted.  Views
 * valid during the callback only; a NULL pointer with length 0 is an empty
 * or NULL column. */
struct veld_raw_op {
	int64_t pos;
	const uint8_t *id;
	size_t id_len;
	const uint8_t *author; /* the indexed columns, as stored */
	size_t author_len;
	uint64_t seq, hlc, kind;
	const uint8_t *record;
	size_t record_len;
	const uint8_t *header;
	size_t header_len;
	const uint8_t *sig;
	size_t sig_len;
	const uint8_t *body; /* NULL: no body stored */
	size_t body_len;
	int status; /* enum veld_op_status, as stored */
};

enum veld_raw_order {
	VELD_RAW_BY_POS,    /* log order */
	VELD_RAW_BY_AUTHOR, /* author, seq, pos (stored columns) */
};

typedef int (*veld_store_raw_fn)(void *ctx, const struct veld_raw_op *op);

/* Every op row in the given order; fn's nonzero return stops the walk and
 * is returned. */
int veld_store_raw_ops(struct veld_store *s, enum veld_raw_order order,
		       veld_store_raw_fn fn, void *ctx)
	__attribute__((warn_unused_result));

/* Sizes of everything in a store, for summaries. */
struct veld_store_counts {
	int64_t ops, ops_applied, ops_void, ops_fork; /* the log */
	int64_t bodies;				      /* bodies kept */
	int64_t authors;			      /* chain heads */
	int64_t pending;			      /* ops held back */
	int64_t records;	/* materialised records (incl. deleted) */
	int64_t forms, devices; /* forms in force, registry entries */
	int64_t erasures;	/* records marked erased */
	int64_t page_count, page_size; /* file size = page_count * page_size */
};

int veld_store_counts(struct veld_store *s, struct veld_store_counts *c)
	__attribute__((warn_unused_result));

/* Callback over stored byte strings (ids); nonzero stops and is returned. */
typedef int (*veld_store_blob_fn)(void *ctx, const uint8_t *p, size_t n);

/* Ids of bodies whose op is not in the log (damage), in id order.  Since
 * schema 3 a body is stored in its op's row, so there are none; kept for
 * veldd verify's report. */
int veld_store_orphan_bodies(struct veld_store *s, veld_store_blob_fn fn,
			     void *ctx) __attribute__((warn_unused_result));

/* Records marked erased, in id order. */
int veld_store_erasures(struct veld_store *s, veld_store_blob_fn fn, void *ctx)
	__attribute__((warn_unused_result));

/* Append text (len bytes, any bytes) to out as one JSON string, quoted and
 * escaped by SQLite's json_quote.  0, VELD_ETOOBIG, VELD_ENOMEM or
 * VELD_ESTORE. */
int veld_store_json_quote(struct veld_store *s, const char *text, size_t len,
			  struct veld_buf *out)
	__attribute__((warn_unused_result));

#endif /* VELD_STORE_H */
