/*
 * verify.h - re-verify a replica's store from its signed ops, trusting
 * nothing else in it.
 *
 * A store holds signed facts (the op log: headers, signatures, bodies) and
 * what was derived from them (chain heads, fork evidence, erasures, the
 * registry, the materialised records and forms).  veld_verify_store()
 * checks that the facts are intact and that everything derived is what the
 * facts imply:
 *
 *   each op, in log order: its header decodes canonically; its stored id
 *   is the header's hash; its indexed columns (author, seq, hlc, record,
 *   kind) are the header's; its signature verifies; a kept body matches
 *   body_len and body_hash, is a canonical [salt, content], and the content
 *   fits the kind (docs/protocol.md §7, §11);
 *   each author: the chain runs 1, 2, 3, ... without gaps and every prev
 *   names the op before (fork evidence is listed, not a problem);
 *   the registry: an op by anyone but the root was written by an enrolled
 *   device, and is void if that device was revoked at its clock or is
 *   frozen by a fork (§12, §13; whether the role allowed the kind is
 *   judged by the registry at arrival, which only the re-fold replays);
 *   the re-fold: every op that passed the checks above is applied, in log
 *   order, to a fresh in-memory replica that trusts only the root key; each
 *   op must end with the status the store gives it and with its body kept
 *   or dropped alike; chain heads, frozen authors and erasures must be the
 *   same; and the store's state hash (§16) must equal the re-fold's.
 *
 * What is not checked: receipts.  The server keeps none (a receipt is
 * signed when given, and kept by the device it was given to).  Held ops
 * (the pending table) are not part of the log; they are only counted.
 *
 * The walk reads one snapshot (its own read transaction), so it may run
 * beside a live server; open the store with veld_store_open_readonly so
 * that nothing can write it.  Memory: the re-fold is an in-memory copy of
 * the log, about the size of the store file.
 */
#ifndef VELD_VERIFY_H
#define VELD_VERIFY_H

#include <stddef.h>
#include <stdint.h>

#include "key.h"
#include "op.h"
#include "store.h"

/* X(ID, name, what it checks): the checks, in the order they run. */
#define VELD_VERIFY_CHECKS(X)                                                  \
	X(HEADER, "header", "header decodes canonically")                      \
	X(ID, "id", "stored id is the hash of the header")                     \
	X(COLUMNS, "columns", "indexed columns match the header")              \
	X(SIGNATURE, "signature", "signature verifies")                        \
	X(BODY, "body", "kept body matches body_len and body_hash")            \
	X(CONTENT, "content", "body content fits the op's kind")               \
	X(CHAIN, "chain", "chains gapless from seq 1, prev links match")       \
	X(REGISTRY, "registry", "authors enrolled, void if revoked or frozen") \
	X(REFOLD, "refold", "status and body as a fresh re-fold has them")     \
	X(HEADS, "heads", "chain heads and frozen authors as re-folded")       \
	X(ERASURES, "erasures", "erased records as re-folded")                 \
	X(BODIES, "bodies", "every kept body belongs to an op")                \
	X(STATE, "state", "state hash equals the re-fold's")

enum veld_verify_check {
#define VELD_VERIFY_ENUM(id, name, what) VELD_VC_##id,
	VELD_VERIFY_CHECKS(VELD_VERIFY_ENUM)
#undef VELD_VERIFY_ENUM
		VELD_VC_COUNT
};

/* Short name ("signature") and one-line description of a check. */
const char *veld_verify_check_name(enum veld_verify_check c);
const char *veld_verify_check_what(enum veld_verify_check c);

/* Problems kept in detail; the rest are only counted. */
#define VELD_VERIFY_PROBLEMS_MAX 1000
#define VELD_VERIFY_WHAT_MAX 160

/* One problem found.  Never holds a field value: ids, seqs, kinds only. */
struct veld_verify_problem {
	enum veld_verify_check check;
	int has_op;		   /* op and pos name the op concerned */
	uint8_t op[VELD_HASH_LEN]; /* its id as stored (zero-padded if the
				      stored id is not 32 bytes) */
	int64_t pos;		   /* its log position */
	int has_author;		   /* author and seq are known */
	uint8_t author[VELD_PK_LEN];
	uint64_t seq;
	int err; /* a VELD_E* code that names it, or 0 */
	char what[VELD_VERIFY_WHAT_MAX]; /* for people */
};

/* An author frozen by a fork, or with fork evidence in the log. */
struct veld_verify_frozen {
	uint8_t author[VELD_PK_LEN];
	int frozen;	   /* the store's chain head says frozen */
	uint64_t fork_seq; /* first seq not trusted */
	uint64_t evidence; /* ops kept as fork evidence (status 2) */
};

struct veld_verify_report {
	uint64_t checked[VELD_VC_COUNT]; /* things each check looked at */
	uint64_t failed[VELD_VC_COUNT];	 /* of which failed it */
	struct veld_store_counts counts; /* the store, in the snapshot */
	uint64_t authors;		 /* distinct authors in the log */
	uint64_t root_ops;		 /* ops signed by the root key */
	struct veld_verify_frozen *frozen;
	size_t nfrozen;
	/* state_store: the view as stored, computed when state_done or
	 * state_unsettled; state_done: the re-fold's too, and compared. */
	int state_done;
	/* 1 if veldd had not yet settled the records view of the ops after
	 * log position state_settled_pos (replica.h, deferred records): the
	 * view is then not compared with the re-fold (state_done stays 0). */
	int state_unsettled;
	uint64_t state_settled_pos;
	uint8_t state_store[VELD_HASH_LEN];
	uint8_t state_refold[VELD_HASH_LEN];
	struct veld_verify_problem *problems; /* the first ..._PROBLEMS_MAX */
	size_t nproblems;
	/* Problems found: one per thing that failed a check, except that the
	 * ops held back in the re-fold behind one broken op of their author
	 * make one problem together (each still counts in failed[]). */
	uint64_t problems_total;
};

/*
 * veld_verify_store - run every check on the store s, with root the
 * server's public key (the root of trust the store was kept under).  s
 * must not be inside a transaction.  rep is filled (release it with
 * veld_verify_report_release, also after a failure).
 *
 * Returns 0 when the checks ran to the end, whatever they found (clean iff
 * rep->problems_total == 0); VELD_ESTORE, VELD_ENOMEM if they could not.
 */
int veld_verify_store(struct veld_store *s, const uint8_t root[VELD_PK_LEN],
		      struct veld_verify_report *rep)
	__attribute__((warn_unused_result));

/* Free what a report holds; the report is zeroed.  NULL is fine. */
void veld_verify_report_release(struct veld_verify_report *rep);

#endif /* VELD_VERIFY_H */
