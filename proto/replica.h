/*
 * replica.h - one replica: a store of signed ops plus the state they fold
 * into.  The server and every field device are each one of these.
 *
 * apply() is the merge entry point: it takes ops from anywhere (a sync
 * peer, a test, the replica's own writer), checks each one (format,
 * signature, the author's chain, the author's enrolment and role at the
 * op's clock, the content of its kind), stores it, and refolds the state of
 * everything it touched, all in one SQLite transaction per batch.  The
 * resulting state depends only on the set of ops, never on arrival order.
 *
 * Ops that cannot be placed yet are held, never lost: an op whose
 * predecessor in its author's chain is missing, or whose author's
 * enrolment has not arrived, waits in the store's pending table and is
 * applied as soon as what it waits for arrives.
 *
 * Trust: the root key (the server's public key) is given at open.  Device
 * ops signed by the root, or by a coordinator enrolled and not revoked at
 * their clock, make up the registry; every other author must be in it.
 *
 * A replica is single-threaded: one caller at a time.
 */
#ifndef VELD_REPLICA_H
#define VELD_REPLICA_H

#include <stddef.h>
#include <stdint.h>

#include "key.h"
#include "op.h"
#include "store.h"

/* Most ops held back at once (chain gaps, unknown authors). */
#define VELD_PENDING_MAX 100000

struct veld_replica;

/* What apply did with one op. */
enum veld_apply_status {
	VELD_APPLY_APPLIED = 0,	  /* stored and folded into the state */
	VELD_APPLY_DUPLICATE = 1, /* already had it: nothing changed */
	VELD_APPLY_HELD = 2,	  /* waiting for its predecessor / author */
	VELD_APPLY_VOID = 3,	  /* stored for the chain, not in the state */
	VELD_APPLY_REFUSED = 4,	  /* not stored (err says why); a fork is
				     kept as evidence all the same */
};

struct veld_apply_result {
	int status; /* enum veld_apply_status */
	int err;    /* VELD_E* reason for HELD, VOID and REFUSED, else 0 */
};

/* One op's bytes, borrowed. */
struct veld_bytes {
	const uint8_t *p;
	size_t len;
};

/*
 * veld_replica_open - open or create the replica at path (":memory:" for a
 * throwaway one).  key is this replica's own signing key (copied);
 * root is the server's public key.  Returns 0, VELD_ESTORE, VELD_ESCHEMA,
 * VELD_ENOMEM.
 */
int veld_replica_open(const char *path, const struct veld_key *key,
		      const uint8_t root[VELD_PK_LEN],
		      struct veld_replica **out)
	__attribute__((warn_unused_result));

/* Close; NULL is fine.  Wipes the key copy. */
void veld_replica_close(struct veld_replica *r);

/* The store, for reads (records, values, notes, heads, history). */
struct veld_store *veld_replica_store(struct veld_replica *r);

/* Use fn(ctx) instead of the real wall clock (tests); NULL restores it. */
void veld_replica_set_wall(struct veld_replica *r, uint64_t (*fn)(void *),
			   void *ctx);

/* Refuse remote clocks more than ms ahead (default 10 minutes). */
void veld_replica_set_max_drift(struct veld_replica *r, uint64_t ms);

/*
 * Authenticate a linked run of one author's ops in a batch by the last
 * op's signature (chain.h, docs/protocol.md §13.1) instead of checking
 * every op's own.  Off by default: the server checks every signature, so
 * that everything it stores and serves verifies on its own; a device,
 * which passes nothing on, turns it on for what it pulls.
 */
void veld_replica_set_run_auth(struct veld_replica *r, int on);

/*
 * veld_replica_apply - apply a batch of ops in one transaction.
 *
 * verified: nonzero if the caller has already checked every signature
 * (for instance on a worker thread).  res (n entries, may be NULL)
 * receives each op's fate.  Returns 0 once the batch is durably
 * committed, whatever the individual fates; a negative VELD_E* (store
 * failure) means nothing of the batch was kept.
 */
int veld_replica_apply(struct veld_replica *r, const struct veld_bytes *ops,
		       size_t n, int verified, struct veld_apply_result *res)
	__attribute__((warn_unused_result));

/*
 * veld_replica_apply_decoded - veld_replica_apply for ops that are already
 * decoded: dec[i] is what veld_op_decode gave for ops[i] (runs.h gives
 * both), so apply does not decode them again.  dec borrows the bytes of
 * ops, which must stay valid for the call.
 */
int veld_replica_apply_decoded(struct veld_replica *r,
			       const struct veld_bytes *ops,
			       const struct veld_op *dec, size_t n,
			       int verified, struct veld_apply_result *res)
	__attribute__((warn_unused_result));

/*
 * Pulls.  Pulled ops can be fetched again from the server, so a pull need
 * not commit, nor wait for the disk, after every message: fewer commits
 * also rewrite fewer pages of the random-key indexes into the WAL.
 *
 * veld_replica_pull_apply applies a batch as veld_replica_apply_decoded
 * does, but inside a pull transaction that it opens if none is open (not
 * waiting for the disk when it commits) and leaves open for the next
 * batch; what the caller writes to the store before the next commit (its
 * pull cursor) is in the same transaction, so the cursor never gets ahead
 * of the ops.  On failure everything since the transaction began is
 * rolled back, and it is closed.
 * veld_replica_pull_commit commits it (0 if none is open); on failure it
 * rolls back.  The store waits for the disk again afterwards.
 * veld_replica_pull_open: the transaction's age in ms, or -1 if none is open.
 * Between pull_apply and pull_commit nothing else may begin a transaction.
 */
int veld_replica_pull_apply(struct veld_replica *r,
			    const struct veld_bytes *ops,
			    const struct veld_op *dec, size_t n,
			    struct veld_apply_result *res)
	__attribute__((warn_unused_result));
int veld_replica_pull_commit(struct veld_replica *r)
	__attribute__((warn_unused_result));
int64_t veld_replica_pull_open(const struct veld_replica *r);

/*
 * veld_replica_apply_all - apply a batch that must be taken whole, such as
 * a device pushing its own chain: if any op would be refused, held or void,
 * nothing of the batch is kept.  Returns 0 once committed (duplicates are
 * fine), else that op's VELD_E* reason with *bad set to its index (*bad = n
 * for a store failure).
 */
int veld_replica_apply_all(struct veld_replica *r, const struct veld_bytes *ops,
			   size_t n, int verified, size_t *bad)
	__attribute__((warn_unused_result));

/*
 * Group commit: several all-or-nothing batches (the pushes of several
 * devices that are ready at once) in one transaction, so that they share
 * one commit and one fsync instead of one each.
 *
 *	veld_replica_group_begin(r);			(error: nothing open)
 *	for each batch:
 *		rc = veld_replica_group_apply_all(r, ops, dec, n, 1, &bad);
 *		rc < 0 && bad < n: this batch refused (that op's reason) and
 *				   undone alone; the others stand
 *		rc < 0 && bad == n: the store failed: group_rollback, and
 *				    none of the group's batches is kept
 *	veld_replica_group_commit(r);	durable on 0; on error nothing of
 *					the group is kept (rolled back)
 *
 * Each batch is judged exactly as veld_replica_apply_all would judge it
 * after the batches before it in the group.  dec: NULL, or the ops
 * already decoded (as veld_replica_apply_decoded).  Nothing is durable, and no
 * batch may be acknowledged, before group_commit returns 0.
 */
int veld_replica_group_begin(struct veld_replica *r)
	__attribute__((warn_unused_result));
int veld_replica_group_apply_all(struct veld_replica *r,
				 const struct veld_bytes *ops,
				 const struct veld_op *dec, size_t n,
				 int verified, size_t *bad)
	__attribute__((warn_unused_result));
int veld_replica_group_commit(struct veld_replica *r)
	__attribute__((warn_unused_result));
void veld_replica_group_rollback(struct veld_replica *r);

/*
 * Deferred records (veldd).  A device's push is receipted once its ops are
 * verified and durable in the log; the records view (records, their
 * current values and notes: what the dashboard, exports and the state
 * hash read) is derived from the log and can follow a moment later.
 *
 * With on, the records touched by group batches (veld_replica_group_*) are
 * not settled inside the group's transaction but afterwards, by
 * veld_replica_settle_deferred, in transactions of their own.  Everything
 * else a batch changes (ops, heads, registry, forms, held ops) and the
 * records of erasures (personal data leaves the view with its batch) are
 * settled in the batch as before; so are local writes and
 * veld_replica_apply*.  The order does not change any result: settling a
 * record folds all of its ops in the log, whenever it runs.
 *
 * The file keeps the log position up to which its view is settled (meta
 * VELD_META_SETTLED_POS, written when on is first set, moved when nothing
 * is left to settle).  veld_replica_open settles every record of the ops
 * past it, so a process that stopped between a commit and its settle
 * leaves nothing unsettled for the next one that opens the file (if that
 * cannot write, a full disk, the file still opens and the records wait:
 * veld_replica_unsettled).  A file that never deferred has no such
 * position and costs nothing.
 *
 * veld_replica_set_defer_records: 0 or VELD_ESTORE; off settles first.
 * veld_replica_settle_deferred: settle up to max of the waiting records in
 *   one transaction that does not wait for the disk (the view can be
 *   derived again).  0, or VELD_E* with all of them still waiting;
 *   VELD_EINVAL inside an open group.
 * veld_replica_unsettled: committed records waiting (an upper bound: one
 *   record may be counted more than once until it is settled).
 */
#define VELD_META_SETTLED_POS "settled_pos" /* 8 bytes, big-endian */
int veld_replica_set_defer_records(struct veld_replica *r, int on)
	__attribute__((warn_unused_result));
int veld_replica_settle_deferred(struct veld_replica *r, size_t max)
	__attribute__((warn_unused_result));
size_t veld_replica_unsettled(const struct veld_replica *r);

/* 1 if the records view of store s (opened read-only, too) has not yet
 * been settled for the ops after log position *settled, 0 if it is
 * settled up to the log's end, or VELD_ESTORE. */
int veld_replica_view_behind(struct veld_store *s, uint64_t *settled)
	__attribute__((warn_unused_result));

/* --- local writes: each makes one op, signs it and applies it --- */

/*
 * veld_replica_set_by - attribute the local writes that follow to name
 * (copied; 1..VELD_NAME_MAX bytes of UTF-8), or to nobody (NULL, the
 * default).  Each op then carries the optional content key "by"
 * (docs/protocol.md section 11): veldd signs the dashboard's writes with
 * the server key and names the coordinator who made them.  Returns 0 or
 * VELD_EINVAL (name unchanged).
 */
int veld_replica_set_by(struct veld_replica *r, const char *name)
	__attribute__((warn_unused_result));

/* A field to set: value is canonical msgpack (mp) or a string (text);
 * neither = nil (clear). */
struct veld_field {
	const char *name;
	const char *text;
	const uint8_t *mp;
	size_t mp_len;
};

/*
 * veld_replica_put - set fields of a record.  create: make a new record
 * (its id, veld_record_derive of our key and the new op's seq, is written
 * to record; form is then required), else record must exist
 * (VELD_ENOTFOUND).  Each field's pred is every value currently
 * shown for it, so a put also resolves that field's conflict.  Fields in
 * any order; duplicates give VELD_EKEYDUP.  id (may be NULL) gets the op
 * id.
 */
int veld_replica_put(struct veld_replica *r, uint8_t record[VELD_RECORD_LEN],
		     int create, const char *form, const char *area,
		     const struct veld_field *fields, size_t n,
		     uint8_t id[VELD_HASH_LEN])
	__attribute__((warn_unused_result));

/* Delete a record: removes every value currently shown (observed-remove). */
int veld_replica_delete(struct veld_replica *r,
			const uint8_t record[VELD_RECORD_LEN],
			uint8_t id[VELD_HASH_LEN])
	__attribute__((warn_unused_result));

/* Append a note. */
int veld_replica_note(struct veld_replica *r,
		      const uint8_t record[VELD_RECORD_LEN], const char *text,
		      uint8_t id[VELD_HASH_LEN])
	__attribute__((warn_unused_result));

/* Erase a record's personal data everywhere (coordinators). */
int veld_replica_erase(struct veld_replica *r,
		       const uint8_t record[VELD_RECORD_LEN],
		       uint8_t id[VELD_HASH_LEN])
	__attribute__((warn_unused_result));

/* Define or change a form: def is a canonical msgpack map.  form_id is
 * in/out like put's record (create: 16 random bytes, not derived). */
int veld_replica_form(struct veld_replica *r, uint8_t form_id[VELD_RECORD_LEN],
		      int create, const char *name, const uint8_t *def,
		      size_t def_len, uint8_t id[VELD_HASH_LEN])
	__attribute__((warn_unused_result));

/* Enrol, change or revoke a device (root or coordinators).  role is
 * "field" or "coordinator"; revoke nonzero marks it revoked. */
int veld_replica_device(struct veld_replica *r, const uint8_t key[VELD_PK_LEN],
			const char *role, const char *name, const char *area,
			int revoke, uint8_t id[VELD_HASH_LEN])
	__attribute__((warn_unused_result));

/*
 * veld_replica_state_hash - BLAKE2b-256 over the materialised state
 * (records, current values, notes, forms, registry) in a fixed order, so
 * two replicas with the same ops have the same hash whatever the order the
 * ops arrived in.  docs/protocol.md Part 3 defines the exact bytes.
 */
int veld_replica_state_hash(struct veld_replica *r, uint8_t out[VELD_HASH_LEN])
	__attribute__((warn_unused_result));

/* The same hash of a store not opened as a replica (a read-only copy:
 * veldd verify and backup). */
int veld_replica_state_hash_store(struct veld_store *s,
				  uint8_t out[VELD_HASH_LEN])
	__attribute__((warn_unused_result));

#endif /* VELD_REPLICA_H */
