/*
 * verify.c - re-verify a store from its signed ops; see verify.h.
 *
 * Two walks over the log, both inside one read transaction:
 *
 *   1. in log order: the per-op checks (header, id, columns, signature,
 *      body, content); every op that passes the first four is handed, in
 *      batches, to a fresh in-memory replica (the re-fold), with its body
 *      unless the body failed;
 *   2. by author and seq: the chains, the registry rules, and each op's
 *      fate in the re-fold against its stored status.
 *
 * Then the tables derived from the log are compared with the re-fold's:
 * chain heads, erasures, and the state hash; and bodies without an op are
 * looked for.
 *
 * The re-fold takes the ops in batches, as they arrived, but ends a batch
 * after each device op, so that every op is judged by the registry of its
 * arrival.
 *
 * Each signature is checked once, in walk 1; the re-fold is told so
 * (verified = 1) and only ever sees ops whose signature verified.  Its
 * clock accepts any drift: an op's clock was judged when it arrived, and
 * the wall clock of today says nothing about it.
 *
 * One broken op can hold back every later op of its author in the re-fold;
 * those are counted, and listed once per author, so that the report leads
 * to the cause rather than burying it.
 */
#include "verify.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "merge.h"
#include "replica.h"

/* Ops per re-fold batch: fewer, larger batches refold each record less. */
#define REFOLD_BATCH 512

static const char *const check_names[] = {
#define VELD_VERIFY_NAME(id, name, what) name,
	VELD_VERIFY_CHECKS(VELD_VERIFY_NAME)
#undef VELD_VERIFY_NAME
};

static const char *const check_whats[] = {
#define VELD_VERIFY_WHAT(id, name, what) what,
	VELD_VERIFY_CHECKS(VELD_VERIFY_WHAT)
#undef VELD_VERIFY_WHAT
};

const char *veld_verify_check_name(enum veld_verify_check c)
{
	return c < VELD_VC_COUNT ? check_names[c] : "unknown";
}

const char *veld_verify_check_what(enum veld_verify_check c)
{
	return c < VELD_VC_COUNT ? check_whats[c] : "unknown";
}

/* --- small sorted sets, keyed by their first 32 bytes --- */

struct id_entry {
	uint8_t id[VELD_HASH_LEN];
	int a, b; /* meaning depends on the set */
};

struct idvec {
	struct id_entry *v;
	size_t n, cap;
};

static int idvec_add(struct idvec *s, const uint8_t *id, size_t id_len, int a,
		     int b)
{
	struct id_entry *e;

	if (s->n == s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 64;
		void *p = realloc(s->v, cap * sizeof(*s->v));
		if (!p)
			return VELD_ENOMEM;
		s->v = p;
		s->cap = cap;
	}
	e = &s->v[s->n++];
	memset(e, 0, sizeof(*e));
	if (id && id_len)
		memcpy(e->id, id,
		       id_len < VELD_HASH_LEN ? id_len : VELD_HASH_LEN);
	e->a = a;
	e->b = b;
	return 0;
}

static int cmp_entry(const void *x, const void *y)
{
	return memcmp(x, y, VELD_HASH_LEN);
}

static void idvec_sort(struct idvec *s)
{
	if (s->n)
		qsort(s->v, s->n, sizeof(*s->v), cmp_entry);
}

static const struct id_entry *idvec_find(const struct idvec *s,
					 const uint8_t id[VELD_HASH_LEN])
{
	if (!s->n)
		return NULL;
	return bsearch(id, s->v, s->n, sizeof(*s->v), cmp_entry);
}

static void idvec_release(struct idvec *s)
{
	free(s->v);
	memset(s, 0, sizeof(*s));
}

/* A registry entry or a chain head, by key. */
struct key_entry {
	uint8_t key[VELD_PK_LEN];
	struct veld_head head; /* heads */
	uint64_t revoked;      /* registry */
};

struct keyvec {
	struct key_entry *v;
	size_t n, cap;
};

static struct key_entry *keyvec_add(struct keyvec *s)
{
	if (s->n == s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 16;
		void *p = realloc(s->v, cap * sizeof(*s->v));
		if (!p)
			return NULL;
		s->v = p;
		s->cap = cap;
	}
	memset(&s->v[s->n], 0, sizeof(s->v[0]));
	return &s->v[s->n++];
}

static const struct key_entry *keyvec_find(const struct keyvec *s,
					   const uint8_t key[VELD_PK_LEN])
{
	if (!s->n)
		return NULL;
	return bsearch(key, s->v, s->n, sizeof(*s->v), cmp_entry);
}

/* --- the verifier --- */

struct verifier {
	struct veld_store *s; /* the store checked (read-only) */
	const uint8_t *root;
	struct veld_verify_report *rep;
	struct veld_replica *fold; /* the re-fold */
	int rc;			   /* first hard failure */

	/* walk 1: the batch on its way to the re-fold */
	struct veld_buf frames;
	size_t offs[REFOLD_BATCH + 1];
	uint8_t ids[REFOLD_BATCH][VELD_HASH_LEN];
	size_t n;

	struct idvec skipped;  /* ops not given to the re-fold (a, b: -) */
	struct idvec no_body;  /* ops given without their body */
	struct idvec fates;    /* re-fold held (a = 1) or refused (a = 0)
				  them, with reason b */
	struct idvec fold_ops; /* the re-fold's log: a = status, b = body */
	struct keyvec heads, fold_heads, registry;

	/* walk 2: the author being walked */
	int have_author;
	uint8_t author[VELD_PK_LEN];
	uint64_t expect; /* next chain seq */
	/* The chain op before: the hash of its header, and the id it is
	 * stored under (they differ if it is damaged, and one report of
	 * that is enough). */
	uint8_t prev[VELD_HASH_LEN];
	uint8_t prev_stored[VELD_HASH_LEN];
	uint64_t evidence;  /* fork evidence ops of the author */
	uint64_t held_more; /* held ops not listed one by one */
	int held_listed;    /* one held op of the author listed */
};

static void problem(struct verifier *v, enum veld_verify_check check,
		    const struct veld_raw_op *raw, const uint8_t *author,
		    uint64_t seq, int err, const char *fmt, ...)
	__attribute__((format(printf, 7, 8)));

/* Count a problem and keep it if there is room.  raw (may be NULL) names
 * the op; author (may be NULL) and seq its place in a chain. */
static void problem(struct verifier *v, enum veld_verify_check check,
		    const struct veld_raw_op *raw, const uint8_t *author,
		    uint64_t seq, int err, const char *fmt, ...)
{
	struct veld_verify_report *rep = v->rep;
	struct veld_verify_problem *p;
	va_list ap;

	rep->failed[check]++;
	rep->problems_total++;
	if (rep->nproblems == VELD_VERIFY_PROBLEMS_MAX)
		return;
	if (!rep->problems) {
		rep->problems = calloc(VELD_VERIFY_PROBLEMS_MAX,
				       sizeof(*rep->problems));
		if (!rep->problems) {
			v->rc = VELD_ENOMEM;
			return;
		}
	}
	p = &rep->problems[rep->nproblems++];
	memset(p, 0, sizeof(*p));
	p->check = check;
	p->err = err;
	if (raw) {
		p->has_op = 1;
		if (raw->id)
			memcpy(p->op, raw->id,
			       raw->id_len < VELD_HASH_LEN ? raw->id_len
							   : VELD_HASH_LEN);
		p->pos = raw->pos;
	}
	if (author) {
		p->has_author = 1;
		memcpy(p->author, author, VELD_PK_LEN);
		p->seq = seq;
	}
	va_start(ap, fmt);
	vsnprintf(p->what, sizeof(p->what), fmt, ap);
	va_end(ap);
}

/* The stored id as a lookup key: 32 bytes, or NULL if it is not. */
static const uint8_t *stored_id(const struct veld_raw_op *raw)
{
	return raw->id && raw->id_len == VELD_HASH_LEN ? raw->id : NULL;
}

static const char *status_name(int status)
{
	switch (status) {
	case VELD_STATUS_APPLIED:
		return "applied";
	case VELD_STATUS_VOID:
		return "void";
	case VELD_STATUS_FORK:
		return "fork evidence";
	default:
		return "an unknown status";
	}
}

/* --- walk 1: each op, in log order --- */

static int refold_flush(struct verifier *v)
{
	struct veld_bytes ops[REFOLD_BATCH];
	struct veld_apply_result res[REFOLD_BATCH];
	int rc;

	if (!v->n)
		return 0;
	for (size_t i = 0; i < v->n; i++) {
		ops[i].p = v->frames.data + v->offs[i];
		ops[i].len = v->offs[i + 1] - v->offs[i];
	}
	/* Every op here passed veld_op_verify in walk 1. */
	rc = veld_replica_apply(v->fold, ops, v->n, 1, res);
	for (size_t i = 0; rc == 0 && i < v->n; i++) {
		int held = res[i].status == VELD_APPLY_HELD;
		/* Fork evidence is stored: its fate shows in the log. */
		if (!held && (res[i].status != VELD_APPLY_REFUSED ||
			      res[i].err == VELD_EFORK))
			continue;
		rc = idvec_add(&v->fates, v->ids[i], VELD_HASH_LEN, held,
			       res[i].err);
	}
	v->n = 0;
	veld_buf_reset(&v->frames);
	return rc;
}

/* Which stored columns differ from the header; "" if none. */
static void column_diff(const struct veld_raw_op *raw,
			const struct veld_op_header *h, char *out, size_t n)
{
	static const char *const names[] = {"author", "seq", "hlc", "record",
					    "kind"};
	const int differs[] = {
		raw->author_len != VELD_PK_LEN ||
			memcmp(raw->author, h->author, VELD_PK_LEN),
		raw->seq != h->seq,
		raw->hlc != h->hlc,
		raw->record_len != VELD_RECORD_LEN ||
			memcmp(raw->record, h->record, VELD_RECORD_LEN),
		raw->kind != h->kind,
	};
	size_t len = 0;

	out[0] = '\0';
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		int w;
		if (!differs[i])
			continue;
		w = snprintf(out + len, n - len, "%s%s", len ? ", " : "",
			     names[i]);
		if (w < 0 || (size_t)w >= n - len)
			break;
		len += (size_t)w;
	}
}

/* §7 step 6 on a stored body: 0 or the reason. */
static int body_check(const struct veld_op_header *h, const uint8_t *body,
		      size_t len)
{
	uint8_t hash[VELD_HASH_LEN];

	if (len != h->body_len)
		return VELD_EBODYMISMATCH;
	veld_body_hash(body, len, hash);
	if (memcmp(hash, h->body_hash, VELD_HASH_LEN))
		return VELD_EBODYHASH;
	return veld_body_check(body, len);
}

/*
 * An op whose own signature fails (or that has none: it travelled inside a
 * run) is still authentic if a later op of its
 * author names it through a chain of prev links and has a valid signature
 * (docs/protocol.md §13.1: replicas authenticate a linked run by its last
 * signature, so they store the others unchecked).
 */
struct vouch {
	uint8_t id[VELD_HASH_LEN]; /* the chain so far ends here */
	uint64_t seq;
	int found;
};

static int vouch_step(void *ctx, const struct veld_stored_op *op)
{
	struct vouch *w = ctx;
	struct veld_op o = {.h = op->h,
			    .header = op->header,
			    .header_len = op->header_len,
			    .sig = op->sig};

	if (op->h.seq > w->seq + 1)
		return 1; /* the chain broke off */
	if (op->h.seq != w->seq + 1 || !op->h.has_prev ||
	    memcmp(op->h.prev, w->id, VELD_HASH_LEN) != 0)
		return 0; /* another branch of a fork */
	if (veld_op_verify(&o) == 0) {
		w->found = 1;
		return 1;
	}
	memcpy(w->id, op->id, VELD_HASH_LEN);
	w->seq = op->h.seq;
	return 0;
}

/* 1 if vouched for, 0 if not, or a negative store error. */
static int vouched_later(struct verifier *v, const struct veld_op_header *h,
			 const uint8_t id[VELD_HASH_LEN])
{
	struct vouch w = {.seq = h->seq};
	int rc;

	memcpy(w.id, id, VELD_HASH_LEN);
	rc = veld_store_author_ops_after(v->s, h->author, h->seq, INT32_MAX,
					 vouch_step, &w);
	if (rc < 0)
		return rc;
	return w.found;
}

static int walk1_op(void *ctx, const struct veld_raw_op *raw)
{
	struct verifier *v = ctx;
	struct veld_verify_report *rep = v->rep;
	struct veld_op op;
	uint8_t id[VELD_HASH_LEN];
	char diff[64];
	int rc, feed = 1, with_body = raw->body != NULL;

	memset(&op, 0, sizeof(op));
	rep->checked[VELD_VC_HEADER]++;
	rc = veld_op_header_decode(raw->header, raw->header_len, &op.h);
	if (rc < 0) {
		problem(v, VELD_VC_HEADER, raw, NULL, 0, rc,
			"header does not decode: %s", veld_strerror(rc));
		rc = idvec_add(&v->skipped, raw->id, raw->id_len, 0, 0);
		return rc < 0 ? rc : v->rc;
	}

	rep->checked[VELD_VC_ID]++;
	veld_op_id(raw->header, raw->header_len, id);
	if (!stored_id(raw) || memcmp(id, raw->id, VELD_HASH_LEN)) {
		problem(v, VELD_VC_ID, raw, op.h.author, op.h.seq, 0,
			"the stored id is not the hash of the header (the "
			"header or the id was changed)");
		feed = 0;
	}

	rep->checked[VELD_VC_COLUMNS]++;
	column_diff(raw, &op.h, diff, sizeof(diff));
	if (diff[0])
		problem(v, VELD_VC_COLUMNS, raw, op.h.author, op.h.seq, 0,
			"stored columns differ from the header: %s", diff);

	rep->checked[VELD_VC_SIGNATURE]++;
	op.header = raw->header;
	op.header_len = raw->header_len;
	/* Empty: an op that travelled inside a run and has no signature of
	 * its own; the run's signed op must vouch for it (§13.1). */
	op.sig = raw->sig_len ? raw->sig : NULL;
	if (raw->sig_len != VELD_SIG_LEN && raw->sig_len != 0) {
		problem(v, VELD_VC_SIGNATURE, raw, op.h.author, op.h.seq,
			VELD_ESIGLEN, "the signature is %zu bytes, not %d",
			raw->sig_len, VELD_SIG_LEN);
		feed = 0;
	} else if (veld_op_verify(&op) < 0 &&
		   (rc = vouched_later(v, &op.h, id)) != 1) {
		if (rc < 0)
			return rc;
		problem(v, VELD_VC_SIGNATURE, raw, op.h.author, op.h.seq,
			VELD_ESIG,
			"the signature does not verify, and no later op of "
			"its author vouches for it");
		feed = 0;
	}

	if (raw->body) {
		rep->checked[VELD_VC_BODY]++;
		rc = body_check(&op.h, raw->body, raw->body_len);
		if (rc < 0) {
			problem(v, VELD_VC_BODY, raw, op.h.author, op.h.seq, rc,
				"body: %s", veld_strerror(rc));
			with_body = 0;
		} else if (raw->status != VELD_STATUS_FORK) {
			/* Fork evidence was kept before its content was
			 * looked at (§13 step 6 before step 8). */
			rep->checked[VELD_VC_CONTENT]++;
			rc = veld_content_check(op.h.kind, raw->body,
						raw->body_len);
			if (rc < 0) {
				problem(v, VELD_VC_CONTENT, raw, op.h.author,
					op.h.seq, rc,
					"body content is not that of a %s op",
					veld_kind_name(op.h.kind));
				with_body = 0;
			}
		}
	}
	if (v->rc < 0)
		return v->rc;
	if (!feed)
		return idvec_add(&v->skipped, raw->id, raw->id_len, 0, 0);
	if (raw->body && !with_body &&
	    (rc = idvec_add(&v->no_body, raw->id, raw->id_len, 0, 0)) < 0)
		return rc;

	/* The op as it would travel, body dropped if it failed. */
	rc = veld_op_frame(raw->header, raw->header_len, op.sig,
			   with_body ? raw->body : NULL, raw->body_len,
			   &v->frames);
	if (rc < 0)
		return rc;
	memcpy(v->ids[v->n], id, VELD_HASH_LEN);
	v->offs[++v->n] = v->frames.len;
	/* A replica folds the registry once per batch: a device op ends its
	 * batch, so that the ops after it are judged by the registry it made,
	 * as on arrival.  (On the server an enrolment never shares a batch
	 * with its device's ops; on a device that pulled both at once, the
	 * ops were held until the batch's end, which ends alike.) */
	if (v->n == REFOLD_BATCH || op.h.kind == VELD_KIND_DEVICE)
		return refold_flush(v);
	return 0;
}

/* --- what the re-fold made of it --- */

static int collect_fold_op(void *ctx, const struct veld_raw_op *raw)
{
	struct verifier *v = ctx;

	return idvec_add(&v->fold_ops, raw->id, raw->id_len, raw->status,
			 raw->body != NULL);
}

static int collect_head(void *ctx, const uint8_t *author,
			const struct veld_head *head)
{
	struct key_entry *e = keyvec_add(ctx);

	if (!e)
		return VELD_ENOMEM;
	memcpy(e->key, author, VELD_PK_LEN);
	e->head = *head;
	return 0;
}

static int collect_device(void *ctx, const struct veld_device_row *d)
{
	struct key_entry *e = keyvec_add(ctx);

	if (!e)
		return VELD_ENOMEM;
	memcpy(e->key, d->key, VELD_PK_LEN);
	e->revoked = d->revoked;
	return 0;
}

/* --- walk 2: by author and seq --- */

static int frozen_add(struct verifier *v, const uint8_t author[VELD_PK_LEN],
		      const struct key_entry *head, uint64_t evidence)
{
	struct veld_verify_report *rep = v->rep;
	struct veld_verify_frozen *f;
	void *p = realloc(rep->frozen, (rep->nfrozen + 1) * sizeof(*f));

	if (!p)
		return VELD_ENOMEM;
	rep->frozen = p;
	f = &rep->frozen[rep->nfrozen++];
	memset(f, 0, sizeof(*f));
	memcpy(f->author, author, VELD_PK_LEN);
	f->frozen = head && head->head.frozen;
	f->fork_seq = head ? head->head.fork_seq : 0;
	f->evidence = evidence;
	return 0;
}

/* The author walked so far is done. */
static int author_end(struct verifier *v)
{
	const struct key_entry *head;

	if (!v->have_author)
		return 0;
	if (v->held_more) {
		/* Counted per op as they came; one problem, listed here. */
		v->rep->failed[VELD_VC_REFOLD]--;
		problem(v, VELD_VC_REFOLD, NULL, v->author, 0, VELD_ESEQ,
			"%" PRIu64 " later ops of this author are held back "
			"in the re-fold as well",
			v->held_more);
	}
	head = keyvec_find(&v->heads, v->author);
	if ((head && head->head.frozen) || v->evidence)
		return frozen_add(v, v->author, head, v->evidence);
	return 0;
}

static void author_start(struct verifier *v, const uint8_t *author)
{
	v->have_author = 1;
	memcpy(v->author, author, VELD_PK_LEN);
	v->expect = 1;
	v->evidence = 0;
	v->held_more = 0;
	v->held_listed = 0;
	v->rep->authors++;
}

/*
 * §12, §13 step 7: was the author enrolled, and should the op be void?
 * The role is not judged here: it is judged at arrival, by the registry
 * of that moment (a device may change role later), which only the
 * re-fold replays.
 */
static void registry_check(struct verifier *v, const struct veld_raw_op *raw,
			   const struct veld_op_header *h)
{
	const struct key_entry *e, *fh;
	int frozen, revoked, want_void;

	v->rep->checked[VELD_VC_REGISTRY]++;
	fh = keyvec_find(&v->fold_heads, h->author);
	frozen = fh && fh->head.frozen && h->seq >= fh->head.fork_seq;
	if (!memcmp(h->author, v->root, VELD_PK_LEN)) {
		v->rep->root_ops++;
		revoked = 0;
	} else {
		e = keyvec_find(&v->registry, h->author);
		if (!e) {
			problem(v, VELD_VC_REGISTRY, raw, h->author, h->seq,
				VELD_EAUTHOR,
				"its author is not in the registry");
			return;
		}
		revoked = e->revoked && h->hlc >= e->revoked;
	}
	want_void = revoked || frozen;
	if (want_void && raw->status == VELD_STATUS_APPLIED)
		problem(v, VELD_VC_REGISTRY, raw, h->author, h->seq,
			revoked ? VELD_EREVOKED : VELD_EFROZEN,
			"stored as applied, but its author was %s",
			revoked ? "revoked before its clock"
				: "frozen by a fork before it");
	else if (!want_void && raw->status == VELD_STATUS_VOID)
		problem(v, VELD_VC_REGISTRY, raw, h->author, h->seq, 0,
			"stored as void, but its author was neither revoked "
			"at its clock nor frozen");
}

/* The op's fate in the re-fold against the store's. */
static void refold_check(struct verifier *v, const struct veld_raw_op *raw,
			 const uint8_t *author, uint64_t seq)
{
	const uint8_t *id = stored_id(raw);
	const struct id_entry *f, *fate;
	int has_body;

	if (!id || idvec_find(&v->skipped, id))
		return; /* reported in walk 1, and not re-folded */
	v->rep->checked[VELD_VC_REFOLD]++;
	f = idvec_find(&v->fold_ops, id);
	if (f) {
		has_body = raw->body && !idvec_find(&v->no_body, id);
		if (f->a != raw->status)
			problem(v, VELD_VC_REFOLD, raw, author, seq, 0,
				"stored as %s, the re-fold makes it %s",
				status_name(raw->status), status_name(f->a));
		else if (has_body && !f->b)
			problem(v, VELD_VC_REFOLD, raw, author, seq, 0,
				"its body is kept, but the re-fold drops it "
				"(its record is erased)");
		else if (!has_body && f->b)
			problem(v, VELD_VC_REFOLD, raw, author, seq, 0,
				"its body is missing, the re-fold keeps it");
		return;
	}
	fate = idvec_find(&v->fates, id);
	if (fate && fate->a) {
		/* Held: behind a broken op, usually; list the first. */
		if (v->held_listed) {
			v->held_more++;
			v->rep->failed[VELD_VC_REFOLD]++;
			return;
		}
		v->held_listed = 1;
		problem(v, VELD_VC_REFOLD, raw, author, seq, fate->b,
			"the re-fold holds it back: %s",
			fate->b == VELD_EAUTHOR ? "its author is not enrolled"
						: "an earlier op of its "
						  "author is missing");
		return;
	}
	problem(v, VELD_VC_REFOLD, raw, author, seq, fate ? fate->b : 0,
		"the re-fold refuses it: %s",
		fate ? veld_strerror(fate->b) : "unknown reason");
}

static int walk2_op(void *ctx, const struct veld_raw_op *raw)
{
	struct verifier *v = ctx;
	struct veld_op_header h;
	const uint8_t *author;
	int decoded, rc;
	uint64_t seq;

	decoded = veld_op_header_decode(raw->header, raw->header_len, &h) == 0;
	/* An unreadable header still has its place by the stored columns. */
	author = decoded			  ? h.author
		 : raw->author_len == VELD_PK_LEN ? raw->author
						  : NULL;
	if (!author)
		return 0; /* reported in walk 1 */
	seq = decoded ? h.seq : raw->seq;
	if (!v->have_author || memcmp(author, v->author, VELD_PK_LEN)) {
		if ((rc = author_end(v)) < 0)
			return rc;
		author_start(v, author);
	}
	refold_check(v, raw, author, seq);
	if (raw->status == VELD_STATUS_FORK) {
		v->evidence++;
		return v->rc;
	}

	v->rep->checked[VELD_VC_CHAIN]++;
	if (seq > v->expect)
		problem(v, VELD_VC_CHAIN, raw, author, seq, VELD_ESEQ,
			"chain gap: seq %" PRIu64 " is missing", v->expect);
	else if (seq < v->expect)
		problem(v, VELD_VC_CHAIN, raw, author, seq, VELD_EFORK,
			"seq %" PRIu64 " is in the chain twice", seq);
	else if (decoded && seq > 1 &&
		 memcmp(h.prev, v->prev, VELD_HASH_LEN) != 0 &&
		 memcmp(h.prev, v->prev_stored, VELD_HASH_LEN) != 0)
		problem(v, VELD_VC_CHAIN, raw, author, seq, VELD_EPREV,
			"prev does not name the author's op at seq %" PRIu64,
			seq - 1);
	v->expect = seq + 1;
	/* The next op's prev must name this one. */
	memset(v->prev_stored, 0, VELD_HASH_LEN);
	if (stored_id(raw))
		memcpy(v->prev_stored, raw->id, VELD_HASH_LEN);
	if (decoded)
		veld_op_id(raw->header, raw->header_len, v->prev);
	else
		memcpy(v->prev, v->prev_stored, VELD_HASH_LEN);

	if (decoded)
		registry_check(v, raw, &h);
	return v->rc;
}

/* --- tables derived from the log --- */

static void hex8(char out[17], const uint8_t *p)
{
	static const char digits[] = "0123456789abcdef";

	for (int i = 0; i < 8; i++) {
		out[2 * i] = digits[p[i] >> 4];
		out[2 * i + 1] = digits[p[i] & 15];
	}
	out[16] = '\0';
}

static void heads_check(struct verifier *v)
{
	size_t i = 0, j = 0;

	while (i < v->heads.n || j < v->fold_heads.n) {
		const struct key_entry *a =
			i < v->heads.n ? &v->heads.v[i] : NULL;
		const struct key_entry *b =
			j < v->fold_heads.n ? &v->fold_heads.v[j] : NULL;
		int c = !a ? 1 : !b ? -1 : memcmp(a->key, b->key, VELD_PK_LEN);

		v->rep->checked[VELD_VC_HEADS]++;
		if (c < 0) {
			problem(v, VELD_VC_HEADS, NULL, a->key, a->head.seq, 0,
				"the store has a chain head (seq %" PRIu64
				") for an author the re-fold has no op of",
				a->head.seq);
			i++;
			continue;
		}
		if (c > 0) {
			problem(v, VELD_VC_HEADS, NULL, b->key, b->head.seq, 0,
				"the store has no chain head for this author; "
				"the re-fold has seq %" PRIu64,
				b->head.seq);
			j++;
			continue;
		}
		if (a->head.seq != b->head.seq ||
		    memcmp(a->head.id, b->head.id, VELD_HASH_LEN))
			problem(v, VELD_VC_HEADS, NULL, a->key, a->head.seq, 0,
				"chain head: the store has seq %" PRIu64
				", the re-fold seq %" PRIu64 " (or another op)",
				a->head.seq, b->head.seq);
		else if (!a->head.frozen != !b->head.frozen ||
			 (a->head.frozen &&
			  a->head.fork_seq != b->head.fork_seq))
			problem(v, VELD_VC_HEADS, NULL, a->key, a->head.seq, 0,
				"frozen: the store says %s (fork seq %" PRIu64
				"), the re-fold %s (fork seq %" PRIu64 ")",
				a->head.frozen ? "yes" : "no", a->head.fork_seq,
				b->head.frozen ? "yes" : "no",
				b->head.fork_seq);
		i++;
		j++;
	}
}

static int collect_blob(void *ctx, const uint8_t *p, size_t n)
{
	return idvec_add(ctx, p, n, (int)n, 0);
}

static int erasures_check(struct verifier *v)
{
	struct idvec a = {0}, b = {0};
	size_t i = 0, j = 0;
	char hex[17];
	int rc = veld_store_erasures(v->s, collect_blob, &a);

	if (rc == 0)
		rc = veld_store_erasures(veld_replica_store(v->fold),
					 collect_blob, &b);
	while (rc == 0 && (i < a.n || j < b.n)) {
		int c = i == a.n ? 1
			: j == b.n
				? -1
				: memcmp(a.v[i].id, b.v[j].id, VELD_HASH_LEN);

		v->rep->checked[VELD_VC_ERASURES]++;
		hex8(hex, c <= 0 ? a.v[i].id : b.v[j].id);
		if (c < 0)
			problem(v, VELD_VC_ERASURES, NULL, NULL, 0, 0,
				"record %s... is marked erased, but no erase "
				"op in force names it",
				hex);
		else if (c > 0)
			problem(v, VELD_VC_ERASURES, NULL, NULL, 0, 0,
				"record %s... has an erase op in force, but is "
				"not marked erased",
				hex);
		i += c <= 0;
		j += c >= 0;
	}
	idvec_release(&a);
	idvec_release(&b);
	return rc;
}

static int orphan_body(void *ctx, const uint8_t *p, size_t n)
{
	struct verifier *v = ctx;
	struct veld_raw_op raw;

	memset(&raw, 0, sizeof(raw));
	raw.id = p;
	raw.id_len = n;
	problem(v, VELD_VC_BODIES, &raw, NULL, 0, 0,
		"a body is kept for an op that is not in the log");
	return v->rc;
}

/* --- the whole run --- */

int veld_verify_store(struct veld_store *s, const uint8_t root[VELD_PK_LEN],
		      struct veld_verify_report *rep)
{
	struct verifier v;
	struct veld_key scratch;
	uint8_t zero_seed[VELD_SEED_LEN] = {0};
	uint64_t settled;
	int rc, in_read = 0;

	memset(rep, 0, sizeof(*rep));
	memset(&v, 0, sizeof(v));
	v.s = s;
	v.root = root;
	v.rep = rep;
	veld_buf_init(&v.frames, (size_t)REFOLD_BATCH * VELD_OP_MAX);

	/* The re-fold never signs: any key will do as its own. */
	veld_key_from_seed(&scratch, zero_seed);
	rc = veld_replica_open(":memory:", &scratch, root, &v.fold);
	veld_key_release(&scratch);
	if (rc < 0)
		goto out;
	veld_replica_set_max_drift(v.fold, UINT64_MAX);

	if ((rc = veld_store_read_begin(s)) < 0)
		goto out;
	in_read = 1;
	if ((rc = veld_store_counts(s, &rep->counts)) < 0)
		goto out;

	/* Walk 1 and the re-fold. */
	rc = veld_store_raw_ops(s, VELD_RAW_BY_POS, walk1_op, &v);
	if (rc == 0)
		rc = refold_flush(&v);
	if (rc < 0)
		goto out;
	idvec_sort(&v.skipped);
	idvec_sort(&v.no_body);
	idvec_sort(&v.fates);
	rc = veld_store_raw_ops(veld_replica_store(v.fold), VELD_RAW_BY_POS,
				collect_fold_op, &v);
	if (rc == 0)
		rc = veld_store_heads(s, collect_head, &v.heads);
	if (rc == 0)
		rc = veld_store_heads(veld_replica_store(v.fold), collect_head,
				      &v.fold_heads);
	if (rc == 0)
		rc = veld_store_devices(veld_replica_store(v.fold),
					collect_device, &v.registry);
	if (rc < 0)
		goto out;
	idvec_sort(&v.fold_ops);
	/* heads and devices come ordered by key already. */

	/* Walk 2. */
	rc = veld_store_raw_ops(s, VELD_RAW_BY_AUTHOR, walk2_op, &v);
	if (rc == 0)
		rc = author_end(&v);
	if (rc < 0)
		goto out;
	if (rep->counts.ops > 0 && rep->root_ops == 0)
		problem(&v, VELD_VC_REGISTRY, NULL, NULL, 0, 0,
			"no op in the log is signed by the server key: is "
			"this the store of another deployment?");

	heads_check(&v);
	if ((rc = erasures_check(&v)) < 0)
		goto out;
	rep->checked[VELD_VC_BODIES] = (uint64_t)rep->counts.bodies;
	if ((rc = veld_store_orphan_bodies(s, orphan_body, &v)) < 0)
		goto out;

	/* The view as stored: a backup compares it with the live store's. */
	if ((rc = veld_replica_state_hash_store(s, rep->state_store)) < 0)
		goto out;
	/* A view veldd has yet to settle differs from the re-fold by
	 * design (replica.h, deferred records): not compared. */
	if ((rc = veld_replica_view_behind(s, &settled)) < 0)
		goto out;
	if (rc == 1) {
		rep->state_unsettled = 1;
		rep->state_settled_pos = settled;
		rc = v.rc;
		goto out;
	}
	rep->checked[VELD_VC_STATE]++;
	rc = veld_replica_state_hash(v.fold, rep->state_refold);
	if (rc < 0)
		goto out;
	rep->state_done = 1;
	if (memcmp(rep->state_store, rep->state_refold, VELD_HASH_LEN)) {
		char a[17], b[17];
		hex8(a, rep->state_store);
		hex8(b, rep->state_refold);
		problem(&v, VELD_VC_STATE, NULL, NULL, 0, 0,
			"the materialised state (hash %s...) is not what the "
			"log folds into (hash %s...)",
			a, b);
	}
	rc = v.rc;
out:
	if (rc == 0 && v.rc < 0)
		rc = v.rc;
	if (in_read)
		veld_store_read_end(s);
	veld_replica_close(v.fold);
	veld_buf_release(&v.frames);
	idvec_release(&v.skipped);
	idvec_release(&v.no_body);
	idvec_release(&v.fates);
	idvec_release(&v.fold_ops);
	free(v.heads.v);
	free(v.fold_heads.v);
	free(v.registry.v);
	return rc;
}

void veld_verify_report_release(struct veld_verify_report *rep)
{
	if (!rep)
		return;
	free(rep->problems);
	free(rep->frozen);
	memset(rep, 0, sizeof(*rep));
}
