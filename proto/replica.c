/*
 * replica.c - apply ops and fold them into state; local writes; the state
 * hash.  See replica.h for the contract and merge.h for the rules.
 *
 * Shape of one batch:
 *   BEGIN
 *   for each op: check it, then store it (applied / void / fork evidence),
 *                hold it (pending), or refuse it; an op that lands pulls
 *                in its held successor, if any
 *   settle:      refold the registry if a device op landed (this may void
 *                a revoked author's later ops, or release held ops of a
 *                newly enrolled author), until nothing changes; then refold
 *                every touched record and form
 *   COMMIT       (durable: WAL, synchronous=FULL)
 * Any store failure rolls the whole batch back.
 */
#include "replica.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "canon.h"
#include "chain.h"
#include "err.h"
#include "hlc.h"
#include "merge.h"

#define DS_STATE "veld-state-1"

struct reg_entry {
	uint8_t key[VELD_PK_LEN];
	int coordinator;
	uint64_t revoked;
};

/* Heads of the authors a batch touched, kept in memory while it runs and
 * written back when it ends: one read and one write per author and batch
 * instead of per op. */
#define HEAD_CACHE 64

struct head_slot {
	uint8_t author[VELD_PK_LEN];
	struct veld_head h;
	int dirty;
};

/* A set of 16-byte ids (records or forms touched by a batch). */
struct idset {
	uint8_t (*ids)[VELD_RECORD_LEN];
	size_t n, cap;
};

struct veld_replica {
	struct veld_store *store;
	struct veld_key key;
	uint8_t root[VELD_PK_LEN];
	struct veld_hlc clock;
	uint64_t (*wall)(void *);
	void *wall_ctx;
	struct reg_entry *reg; /* sorted by key */
	size_t nreg;
	/* batch state */
	struct idset dirty_records, dirty_forms;
	int registry_dirty;
	int settling; /* settle_registry is running */
	struct head_slot heads[HEAD_CACHE];
	size_t nheads;
	/* What the batch may meet; when 0, the lookups are skipped. */
	int pending_maybe;  /* held ops in the pending table */
	int erasures_maybe; /* erased records */
	struct veld_buf pending_buf;
	int64_t data_version; /* of the file when the caches were loaded */
	int run_auth; /* authenticate linked runs by one signature (§13.1) */
	/* Deferred records (veld_replica_set_defer_records): records touched
	 * by a group batch wait in unsettled; [0, unsettled_committed) are
	 * committed, the rest belong to the open transaction, and
	 * [unsettled_batch, n) to the batch being applied. */
	int defer, in_group;
	/* An open pull transaction (veld_replica_pull_apply): since when,
	 * on CLOCK_MONOTONIC in ms, or 0. */
	uint64_t pull_since;
	struct idset unsettled;
	size_t unsettled_committed, unsettled_batch;
	/* Attribution written into local ops ("by"), or "" for none. */
	char by[VELD_NAME_MAX + 1];
};

static int idset_add(struct idset *s, const uint8_t id[VELD_RECORD_LEN])
{
	if (s->n == s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 64;
		void *p = realloc(s->ids, cap * sizeof(*s->ids));
		if (!p)
			return VELD_ENOMEM;
		s->ids = p;
		s->cap = cap;
	}
	memcpy(s->ids[s->n++], id, VELD_RECORD_LEN);
	return 0;
}

static int cmp_id16(const void *a, const void *b)
{
	return memcmp(a, b, VELD_RECORD_LEN);
}

static uint64_t wall_now(struct veld_replica *r)
{
	return r->wall ? r->wall(r->wall_ctx) : veld_hlc_wall_ms();
}

/* --- registry cache --- */

static int cmp_reg(const void *a, const void *b)
{
	return memcmp(a, b, VELD_PK_LEN);
}

static const struct reg_entry *reg_find(const struct veld_replica *r,
					const uint8_t key[VELD_PK_LEN])
{
	return bsearch(key, r->reg, r->nreg, sizeof(*r->reg), cmp_reg);
}

static int reg_load_one(void *ctx, const struct veld_device_row *row)
{
	struct veld_replica *r = ctx;
	struct reg_entry *e = &r->reg[r->nreg++];

	memcpy(e->key, row->key, VELD_PK_LEN);
	e->coordinator = row->role && strcmp(row->role, "coordinator") == 0;
	e->revoked = row->revoked;
	return 0;
}

static int reg_count_one(void *ctx, const struct veld_device_row *row)
{
	(void)row;
	(*(size_t *)ctx)++;
	return 0;
}

static int reg_load(struct veld_replica *r)
{
	size_t n = 0;
	int rc = veld_store_devices(r->store, reg_count_one, &n);

	if (rc < 0)
		return rc;
	free(r->reg);
	r->reg = calloc(n ? n : 1, sizeof(*r->reg));
	r->nreg = 0;
	if (!r->reg)
		return VELD_ENOMEM;
	rc = veld_store_devices(r->store, reg_load_one, r);
	qsort(r->reg, r->nreg, sizeof(*r->reg), cmp_reg);
	return rc;
}

/* --- open / close --- */

static int recover_unsettled(struct veld_replica *r);

int veld_replica_open(const char *path, const struct veld_key *key,
		      const uint8_t root[VELD_PK_LEN],
		      struct veld_replica **out)
{
	struct veld_replica *r = calloc(1, sizeof(*r));
	int64_t count;
	uint64_t max_hlc;
	int rc;

	if (!r)
		return VELD_ENOMEM;
	r->key = *key;
	memcpy(r->root, root, VELD_PK_LEN);
	veld_hlc_init(&r->clock, VELD_HLC_DRIFT_DEFAULT_MS);
	veld_buf_init(&r->pending_buf, VELD_OP_MAX);
	rc = veld_store_open(path, &r->store);
	if (rc == 0)
		rc = reg_load(r);
	/* Never issue a clock below what is already in the log. */
	if (rc == 0)
		rc = veld_store_op_count(r->store, &count, &max_hlc);
	if (rc < 0) {
		rc = veld_store_refine(r->store, rc);
		veld_replica_close(r);
		return rc;
	}
	r->clock.last = max_hlc;
	if ((rc = recover_unsettled(r)) < 0) {
		veld_replica_close(r);
		return rc;
	}
	*out = r;
	return 0;
}

void veld_replica_close(struct veld_replica *r)
{
	if (!r)
		return;
	veld_store_close(r->store);
	veld_key_release(&r->key);
	free(r->reg);
	free(r->dirty_records.ids);
	free(r->dirty_forms.ids);
	free(r->unsettled.ids);
	veld_buf_release(&r->pending_buf);
	free(r);
}

struct veld_store *veld_replica_store(struct veld_replica *r)
{
	return r->store;
}

void veld_replica_set_wall(struct veld_replica *r, uint64_t (*fn)(void *),
			   void *ctx)
{
	r->wall = fn;
	r->wall_ctx = ctx;
}

void veld_replica_set_max_drift(struct veld_replica *r, uint64_t ms)
{
	r->clock.max_drift_ms = ms;
}

void veld_replica_set_run_auth(struct veld_replica *r, int on)
{
	r->run_auth = on != 0;
}

/* --- marking what a batch touched --- */

static int touch(struct veld_replica *r, uint64_t kind,
		 const uint8_t record[VELD_RECORD_LEN])
{
	switch (kind) {
	case VELD_KIND_FORM:
		return idset_add(&r->dirty_forms, record);
	case VELD_KIND_DEVICE:
		r->registry_dirty = 1;
		return 0;
	case VELD_KIND_ERASE:
		/* Personal data leaves the view with its batch. */
		return idset_add(&r->dirty_records, record);
	default:
		if (r->defer && r->in_group)
			return idset_add(&r->unsettled, record);
		return idset_add(&r->dirty_records, record);
	}
}

/* --- the batch's heads --- */

static int heads_flush(struct veld_replica *r)
{
	for (size_t i = 0; i < r->nheads; i++) {
		struct head_slot *hs = &r->heads[i];
		int rc;

		if (!hs->dirty)
			continue;
		if ((rc = veld_store_head_set(r->store, hs->author, &hs->h)) <
		    0)
			return rc;
		hs->dirty = 0;
	}
	return 0;
}

static struct head_slot *head_slot(struct veld_replica *r,
				   const uint8_t author[VELD_PK_LEN])
{
	for (size_t i = r->nheads; i > 0; i--)
		if (memcmp(r->heads[i - 1].author, author, VELD_PK_LEN) == 0)
			return &r->heads[i - 1];
	return NULL;
}

/* The author's head as the batch has it so far. */
static int head_get(struct veld_replica *r, const uint8_t author[VELD_PK_LEN],
		    struct veld_head *head)
{
	struct head_slot *hs = head_slot(r, author);
	int rc;

	if (!hs) {
		if (r->nheads == HEAD_CACHE) {
			if ((rc = heads_flush(r)) < 0)
				return rc;
			r->nheads = 0;
		}
		hs = &r->heads[r->nheads];
		if ((rc = veld_store_head(r->store, author, &hs->h)) < 0)
			return rc;
		memcpy(hs->author, author, VELD_PK_LEN);
		hs->dirty = 0;
		r->nheads++;
	}
	*head = hs->h;
	return 0;
}

/* Set the author's head: in the batch's cache, stored by heads_flush
 * (written through if it is not cached). */
static int head_put(struct veld_replica *r, const uint8_t author[VELD_PK_LEN],
		    const struct veld_head *head)
{
	struct head_slot *hs = head_slot(r, author);

	if (!hs)
		return veld_store_head_set(r->store, author, head);
	hs->h = *head;
	hs->dirty = 1;
	return 0;
}

/* Void the author's applied ops matching a rule (seq >= from_seq, or
 * hlc >= from_hlc), marking what they touched. */
struct void_ctx {
	struct veld_replica *r;
	uint64_t from_seq, from_hlc;
	uint8_t (*ids)[VELD_HASH_LEN];
	size_t n, cap;
	int rc;
};

static int void_collect(void *ctx, const struct veld_stored_op *op)
{
	struct void_ctx *v = ctx;

	if (op->status != VELD_STATUS_APPLIED)
		return 0;
	if (op->h.seq < v->from_seq || op->h.hlc < v->from_hlc)
		return 0;
	if (v->n == v->cap) {
		size_t cap = v->cap ? v->cap * 2 : 64;
		void *p = realloc(v->ids, cap * sizeof(*v->ids));
		if (!p)
			return VELD_ENOMEM;
		v->ids = p;
		v->cap = cap;
	}
	memcpy(v->ids[v->n++], op->id, VELD_HASH_LEN);
	/* Device ops stay in the registry fold, which judges them by clock
	 * itself; refolding it for them would change nothing. */
	if (op->h.kind != VELD_KIND_DEVICE)
		return touch(v->r, op->h.kind, op->h.record);
	return 0;
}

static int void_author(struct veld_replica *r,
		       const uint8_t author[VELD_PK_LEN], uint64_t from_seq,
		       uint64_t from_hlc)
{
	struct void_ctx v = {r, from_seq, from_hlc, NULL, 0, 0, 0};
	int rc = veld_store_author_ops(r->store, author, void_collect, &v);

	for (size_t i = 0; rc == 0 && i < v.n; i++)
		rc = veld_store_op_set_status(r->store, v.ids[i],
					      VELD_STATUS_VOID);
	free(v.ids);
	return rc;
}

/* --- applying one op --- */

static int may_write(const struct reg_entry *e, uint64_t kind)
{
	if (e->coordinator)
		return 1;
	return kind == VELD_KIND_PUT || kind == VELD_KIND_DELETE ||
	       kind == VELD_KIND_NOTE;
}

static void set_res(struct veld_apply_result *res, int status, int err)
{
	res->status = status;
	res->err = err;
}

/* Store evidence of equivocation and freeze the author from at_seq on. */
static int fork_found(struct veld_replica *r, const struct veld_op *op,
		      struct veld_head *head, uint64_t at_seq,
		      struct veld_apply_result *res)
{
	int rc = veld_store_op_insert(r->store, op, 1, VELD_STATUS_FORK);

	if (rc < 0)
		return rc;
	if (!head->frozen || at_seq < head->fork_seq)
		head->fork_seq = at_seq;
	head->frozen = 1;
	rc = head_put(r, op->h.author, head);
	if (rc == 0)
		rc = void_author(r, op->h.author, head->fork_seq, 0);
	/* The registry fold skips a frozen author's later device ops. */
	r->registry_dirty = 1;
	set_res(res, VELD_APPLY_REFUSED, VELD_EFORK);
	return rc;
}

static int settle_registry(struct veld_replica *r);

static int hold(struct veld_replica *r, const struct veld_op *op,
		const uint8_t *raw, size_t len, int reason,
		struct veld_apply_result *res)
{
	int64_t count;
	int rc = veld_store_pending_count(r->store, &count);

	if (rc < 0)
		return rc;
	if (count >= VELD_PENDING_MAX) {
		set_res(res, VELD_APPLY_REFUSED, VELD_EPENDINGFULL);
		return 0;
	}
	rc = veld_store_pending_add(r->store, op, raw, len, reason);
	r->pending_maybe = 1;
	set_res(res, VELD_APPLY_HELD,
		reason == VELD_PENDING_GAP ? VELD_ESEQ : VELD_EAUTHOR);
	return rc;
}

/*
 * Check and store one decoded, signature-checked op; absent: the caller
 * has just looked it up and it is not in the log.  Returns <0 only for
 * store failures; the op's fate goes to res.
 */
static int apply_checked(struct veld_replica *r, const struct veld_op *op,
			 const uint8_t *raw, size_t len, int absent,
			 struct veld_apply_result *res)
{
	struct veld_head head;
	const struct reg_entry *e = NULL;
	int status = VELD_STATUS_APPLIED, existing, rc, with_body = 1;
	uint64_t t, wall;

	rc = absent ? 0 : veld_store_op_status(r->store, op->id, &existing);
	if (rc != 0) {
		if (rc > 0)
			set_res(res, VELD_APPLY_DUPLICATE, 0);
		return rc < 0 ? rc : 0;
	}
	/*
	 * The drift bound guards against other replicas' clocks.  This
	 * replica's own ops were stamped by its own HLC, which runs ahead of
	 * a wall clock that was set back (or fixed after running fast): the
	 * field worker must still be able to record.  Reading the wall as at
	 * least the op's time skips only the bound, the HLC rule is the same.
	 */
	wall = wall_now(r);
	if (memcmp(op->h.author, r->key.pk, VELD_PK_LEN) == 0 &&
	    VELD_HLC_MS(op->h.hlc) > wall)
		wall = VELD_HLC_MS(op->h.hlc);
	if ((rc = veld_hlc_recv(&r->clock, wall, op->h.hlc, &t)) < 0) {
		set_res(res, VELD_APPLY_REFUSED, rc);
		return 0;
	}
	if ((rc = head_get(r, op->h.author, &head)) < 0)
		return rc;
	if (head.frozen) {
		set_res(res, VELD_APPLY_REFUSED, VELD_EFROZEN);
		return 0;
	}
	if (op->h.seq <= head.seq)
		return fork_found(r, op, &head, op->h.seq, res);
	if (op->h.seq > head.seq + 1)
		return hold(r, op, raw, len, VELD_PENDING_GAP, res);
	if (op->h.seq > 1 && memcmp(op->h.prev, head.id, VELD_HASH_LEN) != 0)
		return fork_found(r, op, &head, op->h.seq - 1, res);

	if (memcmp(op->h.author, r->root, VELD_PK_LEN) != 0) {
		e = reg_find(r, op->h.author);
		/*
		 * Enrolled earlier in this batch?  Fold the registry now
		 * rather than hold the op until the batch's end.  The fold
		 * may let in held ops (this one among them, sent before):
		 * then look at the op again from the start.
		 */
		if (!e && r->registry_dirty && !r->settling) {
			if ((rc = settle_registry(r)) < 0)
				return rc;
			return apply_checked(r, op, raw, len, 0, res);
		}
		if (!e)
			return hold(r, op, raw, len, VELD_PENDING_UNENROLLED,
				    res);
		if (!may_write(e, op->h.kind)) {
			set_res(res, VELD_APPLY_REFUSED, VELD_EROLE);
			return 0;
		}
		if (e->revoked && op->h.hlc >= e->revoked)
			status = VELD_STATUS_VOID;
	}
	if (op->body && !op->content_ok &&
	    (rc = veld_content_check(op->h.kind, op->body, op->body_len)) < 0) {
		set_res(res, VELD_APPLY_REFUSED, rc);
		return 0;
	}
	if (op->h.kind != VELD_KIND_ERASE && op->h.kind <= VELD_KIND_ERASE &&
	    r->erasures_maybe) {
		rc = veld_store_erased(r->store, op->h.record);
		if (rc < 0)
			return rc;
		with_body = !rc; /* late op for an erased record */
	}
	if ((rc = veld_store_op_insert(r->store, op, with_body, status)) < 0)
		return rc;
	/* a body dropped on arrival takes its salt along (salts.h) */
	if (!with_body && op->body &&
	    (rc = veld_store_salt_puncture(r->store, op->h.author, op->h.seq)) <
		    0)
		return rc;
	head.seq = op->h.seq;
	memcpy(head.id, op->id, VELD_HASH_LEN);
	if ((rc = head_put(r, op->h.author, &head)) < 0)
		return rc;
	if (op->h.kind == VELD_KIND_ERASE && status == VELD_STATUS_APPLIED) {
		r->erasures_maybe = 1;
		if ((rc = veld_store_erase_mark(r->store, op->h.record)) < 0 ||
		    (rc = veld_store_drop_bodies(r->store, op->h.record,
						 VELD_KIND_ERASE)) < 0)
			return rc;
	}
	if ((rc = touch(r, op->h.kind, op->h.record)) < 0)
		return rc;
	if (status == VELD_STATUS_VOID)
		set_res(res, VELD_APPLY_VOID, VELD_EREVOKED);
	else
		set_res(res, VELD_APPLY_APPLIED, 0);
	return 0;
}

/*
 * Decode (unless dec already is raw decoded), verify and apply raw op
 * bytes; then release held successors.
 */
static int apply_raw(struct veld_replica *r, const uint8_t *raw, size_t len,
		     const struct veld_op *dec, int verified,
		     struct veld_apply_result *res)
{
	struct veld_op op;
	struct veld_head head;
	uint8_t author[VELD_PK_LEN];
	uint64_t next;
	int rc, existing;

	if (dec) {
		op = *dec;
	} else if ((rc = veld_op_decode(raw, len, &op)) < 0) {
		set_res(res, VELD_APPLY_REFUSED, rc);
		return 0;
	}
	/*
	 * A duplicate needs no signature check: the id commits to the
	 * header, and we keep the copy we verified before.  Past the head of
	 * an author that is not frozen, no op is stored (the log holds an
	 * author's ops up to its head, and fork evidence freezes it), so only
	 * ops at or below the head are looked up.
	 */
	if ((rc = head_get(r, op.h.author, &head)) < 0)
		return rc;
	rc = head.frozen || op.h.seq <= head.seq
		     ? veld_store_op_status(r->store, op.id, &existing)
		     : 0;
	if (rc != 0) {
		if (rc > 0)
			set_res(res, VELD_APPLY_DUPLICATE, 0);
		return rc < 0 ? rc : 0;
	}
	if (!verified && (rc = veld_op_verify(&op)) < 0) {
		set_res(res, VELD_APPLY_REFUSED, rc);
		return 0;
	}
	rc = apply_checked(r, &op, raw, len, 1, res);
	if (rc < 0 || (res->status != VELD_APPLY_APPLIED &&
		       res->status != VELD_APPLY_VOID))
		return rc;

	/* Held successors were verified before they were held. */
	memcpy(author, op.h.author, VELD_PK_LEN);
	next = op.h.seq + 1;
	while (r->pending_maybe) {
		struct veld_apply_result sub;
		struct veld_op held;

		rc = veld_store_pending_take(r->store, author, next,
					     &r->pending_buf);
		if (rc <= 0)
			return rc;
		if (veld_op_decode(r->pending_buf.data, r->pending_buf.len,
				   &held) < 0)
			continue; /* cannot happen: checked when held */
		rc = apply_checked(r, &held, r->pending_buf.data,
				   r->pending_buf.len, 0, &sub);
		if (rc < 0)
			return rc;
		if (sub.status != VELD_APPLY_APPLIED &&
		    sub.status != VELD_APPLY_VOID)
			return 0;
		next++;
	}
	return 0;
}

/* --- settling: registry, then records and forms --- */

struct gather {
	struct veld_merge_op *ops;
	size_t n, cap;
	struct veld_replica *r; /* for the frozen filter; NULL = none */
	int rc;
};

static void gather_release(struct gather *g)
{
	for (size_t i = 0; i < g->n; i++)
		free((void *)g->ops[i].body);
	free(g->ops);
	memset(g, 0, sizeof(*g));
}

static int gather_one(void *ctx, const struct veld_stored_op *op)
{
	struct gather *g = ctx;
	struct veld_merge_op *m;

	if (op->status == VELD_STATUS_FORK)
		return 0;
	if (g->r) {
		struct veld_head head;
		int rc = head_get(g->r, op->h.author, &head);
		if (rc < 0)
			return rc;
		if (head.frozen && op->h.seq >= head.fork_seq)
			return 0;
	}
	if (g->n == g->cap) {
		size_t cap = g->cap ? g->cap * 2 : 16;
		void *p = realloc(g->ops, cap * sizeof(*g->ops));
		if (!p)
			return VELD_ENOMEM;
		g->ops = p;
		g->cap = cap;
	}
	m = &g->ops[g->n];
	memset(m, 0, sizeof(*m));
	memcpy(m->id, op->id, VELD_HASH_LEN);
	memcpy(m->author, op->h.author, VELD_PK_LEN);
	m->hlc = op->h.hlc;
	m->kind = op->h.kind;
	m->status = op->status;
	m->pos = op->pos;
	if (op->body) {
		uint8_t *b = malloc(op->body_len);
		if (!b)
			return VELD_ENOMEM;
		memcpy(b, op->body, op->body_len);
		m->body = b;
		m->body_len = op->body_len;
	}
	g->n++;
	return 0;
}

struct release_ctx {
	struct veld_replica *r;
	int progress;
};

/* Held ops of a now-enrolled author: try the lowest one again. */
static int release_author(void *ctx, const uint8_t *author)
{
	struct release_ctx *rc_ = ctx;
	struct veld_replica *r = rc_->r;
	struct veld_apply_result res;
	uint64_t seq;
	int rc;

	if (!reg_find(r, author) && memcmp(author, r->root, VELD_PK_LEN))
		return 0;
	if ((rc = veld_store_pending_min_seq(r->store, author, &seq)) < 0)
		return rc;
	rc = veld_store_pending_take(r->store, author, seq, &r->pending_buf);
	if (rc <= 0)
		return rc;
	/* Copy: apply_raw reuses pending_buf for successors. */
	struct veld_buf raw;
	veld_buf_init(&raw, VELD_OP_MAX);
	rc = veld_buf_append(&raw, r->pending_buf.data, r->pending_buf.len);
	if (rc == 0)
		rc = apply_raw(r, raw.data, raw.len, NULL, 1, &res);
	veld_buf_release(&raw);
	if (rc == 0 && res.status != VELD_APPLY_HELD)
		rc_->progress = 1;
	return rc;
}

/* One fold of the registry from the device ops in the log; then the held
 * ops of authors it enrolled go in. */
static int settle_registry_round(struct veld_replica *r)
{
	struct gather g = {.r = r};
	struct veld_merge_out out;
	struct release_ctx rel = {r, 0};
	int rc;

	r->registry_dirty = 0;
	rc = veld_store_device_ops(r->store, gather_one, &g);
	if (rc == 0)
		rc = veld_merge_registry(r->root, g.ops, g.n, &out);
	if (rc == 0) {
		rc = veld_store_devices_replace(r->store, out.devices,
						out.ndevices);
		if (rc == 0)
			rc = reg_load(r);
		/* Revocation: later ops of that author leave the state
		 * (kept in the log for the chain). */
		for (size_t i = 0; rc == 0 && i < out.ndevices; i++)
			if (out.devices[i].revoked)
				rc = void_author(r, out.devices[i].key, 0,
						 out.devices[i].revoked);
		veld_merge_out_release(&out);
	}
	gather_release(&g);
	if (rc == 0 && r->pending_maybe)
		rc = veld_store_pending_authors(r->store,
						VELD_PENDING_UNENROLLED,
						release_author, &rel);
	return rc;
}

/*
 * Fold until no device op is left unfolded.  Also called from inside a
 * batch, for an op whose author's enrolment came earlier in it (not while
 * a fold is running: the ops it releases are held again, as before).
 */
static int settle_registry(struct veld_replica *r)
{
	int rc = 0;

	r->settling = 1;
	while (rc == 0 && r->registry_dirty)
		rc = settle_registry_round(r);
	r->settling = 0;
	return rc;
}

static int settle_record(struct veld_replica *r, const uint8_t *id)
{
	struct gather g = {0};
	struct veld_merge_out out = {0};
	int rc = veld_store_record_fold_ops(r->store, id, gather_one, &g);

	if (rc == 0) {
		veld_merge_sort(g.ops, g.n);
		rc = veld_merge_record(id, g.ops, g.n, &out);
	}
	if (rc == 0) {
		if (out.empty)
			rc = veld_store_record_delete(r->store, id);
		else
			rc = veld_store_record_replace(r->store, &out.rec,
						       out.values, out.nvalues,
						       out.notes, out.nnotes);
	}
	veld_merge_out_release(&out);
	gather_release(&g);
	return rc;
}

static int settle_form(struct veld_replica *r, const uint8_t *id)
{
	struct gather g = {0};
	struct veld_merge_out out = {0};
	int rc = veld_store_record_fold_ops(r->store, id, gather_one, &g);

	if (rc == 0) {
		veld_merge_sort(g.ops, g.n);
		rc = veld_merge_form(id, g.ops, g.n, &out);
	}
	if (rc == 0)
		rc = out.empty ? veld_store_form_delete(r->store, id)
			       : veld_store_form_replace(r->store, &out.form);
	veld_merge_out_release(&out);
	gather_release(&g);
	return rc;
}

static int settle_set(struct veld_replica *r, struct idset *s,
		      int (*fn)(struct veld_replica *, const uint8_t *))
{
	int rc = 0;

	if (!s->n)
		return 0;
	qsort(s->ids, s->n, sizeof(*s->ids), cmp_id16);
	for (size_t i = 0; i < s->n && rc == 0; i++)
		if (i == 0 ||
		    memcmp(s->ids[i], s->ids[i - 1], VELD_RECORD_LEN) != 0)
			rc = fn(r, s->ids[i]);
	s->n = 0;
	return rc;
}

static int settle(struct veld_replica *r)
{
	int rc = settle_registry(r);

	if (rc == 0)
		rc = settle_set(r, &r->dirty_records, settle_record);
	if (rc == 0)
		rc = settle_set(r, &r->dirty_forms, settle_form);
	return rc;
}

static void batch_reset(struct veld_replica *r)
{
	r->dirty_records.n = 0;
	r->dirty_forms.n = 0;
	r->registry_dirty = 0;
	r->nheads = 0;
}

/* At the start of a batch: which lookups it can skip. */
static int batch_start(struct veld_replica *r)
{
	int64_t pending;
	int rc = veld_store_pending_count(r->store, &pending);

	batch_reset(r);
	if (rc < 0)
		return rc;
	r->pending_maybe = pending > 0;
	if ((rc = veld_store_erased_any(r->store)) < 0)
		return rc;
	r->erasures_maybe = rc;
	return 0;
}

/*
 * Another process may have written to the file (veldd's admin commands
 * beside the server): then the registry cache and the clock are reloaded
 * before this batch is judged by them.  Called with the write lock held.
 */
static int refresh(struct veld_replica *r)
{
	int64_t v, count;
	uint64_t max_hlc;
	int rc = veld_store_data_version(r->store, &v);

	if (rc < 0 || v == r->data_version)
		return rc;
	r->data_version = v;
	if ((rc = reg_load(r)) < 0 ||
	    (rc = veld_store_op_count(r->store, &count, &max_hlc)) < 0)
		return rc;
	if (max_hlc > r->clock.last)
		r->clock.last = max_hlc;
	return 0;
}

/*
 * Which ops of the batch are authentic, one signature per linked run of an
 * author (chain.h): *ok is malloc'd, n flags.  NULL when nothing could be
 * decided (no memory): then every op is checked on its own in apply_raw.
 */
static uint8_t *cover_batch(const struct veld_bytes *ops,
			    const struct veld_op *given, size_t n)
{
	struct veld_op *dec = NULL;
	size_t *at = NULL, m = 0;
	uint8_t *okm = NULL, *ok = calloc(n, 1);

	if (!ok)
		return NULL;
	if (given) { /* decoded already: every op of the batch */
		if (veld_chain_cover(given, n, ok) < 0)
			goto fail;
		return ok;
	}
	dec = malloc(n * sizeof(*dec));
	at = malloc(n * sizeof(*at));
	okm = malloc(n);
	if (!dec || !at || !okm)
		goto fail;
	/* Ops that do not decode are refused later, with their reason. */
	for (size_t i = 0; i < n; i++)
		if (veld_op_decode(ops[i].p, ops[i].len, &dec[m]) == 0)
			at[m++] = i;
	if (veld_chain_cover(dec, m, okm) < 0)
		goto fail;
	for (size_t j = 0; j < m; j++)
		ok[at[j]] = okm[j];
	free(dec);
	free(at);
	free(okm);
	return ok;
fail:
	free(dec);
	free(at);
	free(okm);
	free(ok);
	return NULL;
}

/* Apply and settle a batch inside an open transaction; 0 or the first
 * failure (a store error, or with bad: the refused op's reason). */
static int batch_run(struct veld_replica *r, const struct veld_bytes *ops,
		     const struct veld_op *dec, size_t n, int verified,
		     struct veld_apply_result *res, size_t *bad)
{
	struct veld_apply_result scratch;
	uint8_t *ok = verified || !r->run_auth || n == 0
			      ? NULL
			      : cover_batch(ops, dec, n);
	int rc = batch_start(r);

	for (size_t i = 0; i < n && rc == 0; i++) {
		struct veld_apply_result *ri = res ? &res[i] : &scratch;
		rc = apply_raw(r, ops[i].p, ops[i].len, dec ? &dec[i] : NULL,
			       verified || (ok && ok[i]), ri);
		/* All or nothing: anything but applied or duplicate ends it */
		if (rc == 0 && bad && ri->status != VELD_APPLY_APPLIED &&
		    ri->status != VELD_APPLY_DUPLICATE) {
			*bad = i;
			rc = ri->err ? ri->err : VELD_EINVAL;
		}
	}
	free(ok);
	/* The heads first: the registry's fold reads them. */
	if (rc == 0)
		rc = heads_flush(r);
	if (rc == 0)
		rc = settle(r);
	/* Held ops released by the registry's fold moved heads again. */
	if (rc == 0)
		rc = heads_flush(r);
	return rc;
}

/* After a rollback (whole or part): forget the batch and reload the
 * registry cache, which may hold the undone view. */
static void batch_undone(struct veld_replica *r)
{
	batch_reset(r);
	if (reg_load(r) < 0) {
		/* keep the first error */
	}
}

static int group_begin(struct veld_replica *r)
{
	int rc = veld_store_begin(r->store);

	if (rc == 0)
		rc = refresh(r);
	if (rc < 0) {
		rc = veld_store_refine(r->store, rc);
		veld_store_rollback(r->store);
	}
	return rc;
}

static int apply_batch(struct veld_replica *r, const struct veld_bytes *ops,
		       const struct veld_op *dec, size_t n, int verified,
		       struct veld_apply_result *res, size_t *bad)
{
	int rc = group_begin(r);

	if (rc < 0)
		return rc;
	rc = batch_run(r, ops, dec, n, verified, res, bad);
	if (rc == 0)
		rc = veld_store_commit(r->store);
	if (rc < 0) {
		rc = veld_store_refine(r->store, rc); /* a full disk says so */
		veld_store_rollback(r->store);
		batch_undone(r);
	}
	return rc;
}

int veld_replica_apply(struct veld_replica *r, const struct veld_bytes *ops,
		       size_t n, int verified, struct veld_apply_result *res)
{
	return apply_batch(r, ops, NULL, n, verified, res, NULL);
}

int veld_replica_apply_decoded(struct veld_replica *r,
			       const struct veld_bytes *ops,
			       const struct veld_op *dec, size_t n,
			       int verified, struct veld_apply_result *res)
{
	return apply_batch(r, ops, dec, n, verified, res, NULL);
}

static uint64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

int veld_replica_pull_apply(struct veld_replica *r,
			    const struct veld_bytes *ops,
			    const struct veld_op *dec, size_t n,
			    struct veld_apply_result *res)
{
	int rc = 0;

	if (!r->pull_since) {
		/* SQLite takes the level only outside a transaction. */
		if ((rc = veld_store_set_durable(r->store, 0)) < 0)
			return rc;
		if ((rc = group_begin(r)) < 0) {
			if (veld_store_set_durable(r->store, 1) < 0)
				rc = VELD_ESTORE;
			return rc;
		}
		r->pull_since = mono_ms() | 1;
	}
	rc = batch_run(r, ops, dec, n, 0, res, NULL);
	if (rc < 0) {
		rc = veld_store_refine(r->store, rc);
		veld_store_rollback(r->store);
		batch_undone(r);
		r->pull_since = 0;
		if (veld_store_set_durable(r->store, 1) < 0)
			rc = VELD_ESTORE;
	}
	return rc;
}

int veld_replica_pull_commit(struct veld_replica *r)
{
	int rc;

	if (!r->pull_since)
		return 0;
	r->pull_since = 0;
	rc = veld_store_commit(r->store);
	if (rc < 0) {
		rc = veld_store_refine(r->store, rc);
		veld_store_rollback(r->store);
		batch_undone(r);
	}
	if (veld_store_set_durable(r->store, 1) < 0 && rc == 0)
		rc = VELD_ESTORE;
	return rc;
}

int64_t veld_replica_pull_open(const struct veld_replica *r)
{
	return r->pull_since ? (int64_t)(mono_ms() - r->pull_since) : -1;
}

int veld_replica_apply_all(struct veld_replica *r, const struct veld_bytes *ops,
			   size_t n, int verified, size_t *bad)
{
	*bad = n;
	return apply_batch(r, ops, NULL, n, verified, NULL, bad);
}

int veld_replica_group_begin(struct veld_replica *r)
{
	return group_begin(r);
}

int veld_replica_group_apply_all(struct veld_replica *r,
				 const struct veld_bytes *ops,
				 const struct veld_op *dec, size_t n,
				 int verified, size_t *bad)
{
	int rc = veld_store_part_begin(r->store);

	*bad = n;
	if (rc < 0)
		return veld_store_refine(r->store, rc);
	r->unsettled_batch = r->unsettled.n;
	r->in_group = 1;
	rc = batch_run(r, ops, dec, n, verified, NULL, bad);
	r->in_group = 0;
	if (rc == 0) {
		rc = veld_store_part_end(r->store, 1);
		if (rc < 0)
			rc = veld_store_refine(r->store, rc);
		return rc;
	}
	if (*bad < n) {
		/* An op refused: undo this batch alone. */
		r->unsettled.n = r->unsettled_batch;
		if (veld_store_part_end(r->store, 0) < 0) {
			*bad = n;
			return veld_store_refine(r->store, VELD_ESTORE);
		}
		batch_undone(r);
		return rc;
	}
	return veld_store_refine(r->store, rc);
}

int veld_replica_group_commit(struct veld_replica *r)
{
	int rc = veld_store_commit(r->store);

	if (rc < 0) {
		rc = veld_store_refine(r->store, rc);
		veld_store_rollback(r->store);
		batch_undone(r);
		r->unsettled.n = r->unsettled_committed;
		return rc;
	}
	r->unsettled_committed = r->unsettled.n;
	return 0;
}

void veld_replica_group_rollback(struct veld_replica *r)
{
	veld_store_rollback(r->store);
	batch_undone(r);
	r->unsettled.n = r->unsettled_committed;
}

/* --- deferred records --- */

/* Sort and drop repeats: the number of distinct ids left. */
static size_t idset_unique(struct idset *s)
{
	size_t k = 0;

	qsort(s->ids, s->n, sizeof(*s->ids), cmp_id16);
	for (size_t i = 0; i < s->n; i++)
		if (k == 0 ||
		    memcmp(s->ids[i], s->ids[k - 1], VELD_RECORD_LEN) != 0)
			memmove(s->ids[k++], s->ids[i], VELD_RECORD_LEN);
	s->n = k;
	return k;
}

int veld_replica_settle_deferred(struct veld_replica *r, size_t max)
{
	size_t n, k;
	int64_t last;
	int rc;

	if (r->unsettled.n != r->unsettled_committed)
		return VELD_EINVAL; /* a group is open */
	if (r->unsettled.n == 0)
		return 0;
	n = idset_unique(&r->unsettled);
	k = n < max ? n : max;
	/*
	 * The view can be derived from the log again: this transaction does
	 * not wait for the disk.  Lost to a power cut, it is lost together
	 * with the settled position it moves (one WAL, in order), and the
	 * next open settles those records again.
	 */
	rc = veld_store_set_durable(r->store, 0);
	if (rc == 0 && (rc = veld_store_begin(r->store)) == 0)
		rc = refresh(r);
	for (size_t i = 0; rc == 0 && i < k; i++)
		rc = settle_record(r, r->unsettled.ids[i]);
	if (rc == 0 && k == n) {
		last = veld_store_ops_last(r->store);
		rc = last < 0 ? (int)last
			      : veld_store_meta_set_u64(r->store,
							VELD_META_SETTLED_POS,
							(uint64_t)last);
	}
	if (rc == 0)
		rc = veld_store_commit(r->store);
	if (rc < 0) {
		rc = veld_store_refine(r->store, rc);
		veld_store_rollback(r->store);
	}
	/* A store that cannot be made durable again serves nobody. */
	if (veld_store_set_durable(r->store, 1) < 0 && rc == 0)
		rc = VELD_ESTORE;
	if (rc < 0) {
		batch_undone(r);
		r->unsettled_committed = r->unsettled.n = n;
		return rc;
	}
	memmove(r->unsettled.ids, r->unsettled.ids + k,
		(n - k) * sizeof(*r->unsettled.ids));
	r->unsettled_committed = r->unsettled.n = n - k;
	return 0;
}

size_t veld_replica_unsettled(const struct veld_replica *r)
{
	return r->unsettled_committed;
}

int veld_replica_view_behind(struct veld_store *s, uint64_t *settled)
{
	int64_t last = veld_store_ops_last(s);
	int rc = veld_store_meta_get_u64(s, VELD_META_SETTLED_POS, settled);

	if (rc < 0 || last < 0)
		return rc < 0 ? rc : (int)last;
	return rc == 1 && (uint64_t)last > *settled;
}

/* Records of the ops after the settled position (recover_unsettled). */
struct after_ctx {
	struct veld_replica *r;
	int64_t pos;
	int n;
};

static int note_unsettled(void *ctx, const struct veld_stored_op *op)
{
	struct after_ctx *a = ctx;

	a->pos = op->pos;
	a->n++;
	if (op->h.kind == VELD_KIND_FORM || op->h.kind == VELD_KIND_DEVICE)
		return 0;
	return idset_add(&a->r->unsettled, op->h.record);
}

/*
 * Settle what a process that deferred records left behind (it stopped
 * between a commit and the settle): every record of an op after the
 * settled position.  A store that never deferred has no position.
 */
static int recover_unsettled(struct veld_replica *r)
{
	struct after_ctx a = {r, 0, 0};
	uint64_t settled;
	int rc = veld_replica_view_behind(r->store, &settled);

	if (rc <= 0)
		return rc;
	a.pos = (int64_t)settled;
	do {
		a.n = 0;
		rc = veld_store_ops_since(r->store, a.pos, 1024, note_unsettled,
					  &a);
	} while (rc == 0 && a.n == 1024);
	if (rc < 0)
		return rc;
	r->unsettled_committed = r->unsettled.n;
	if (veld_replica_settle_deferred(r, SIZE_MAX) < 0) {
		/* A store that cannot be written now (a full disk) still
		 * opens: the records keep waiting, for the next settle. */
	}
	return 0;
}

int veld_replica_set_defer_records(struct veld_replica *r, int on)
{
	uint64_t pos;
	int64_t last;
	int rc;

	if (!on) {
		if ((rc = veld_replica_settle_deferred(r, SIZE_MAX)) < 0)
			return rc;
		r->defer = 0;
		return 0;
	}
	/* From here on the file says up to where its view is settled. */
	rc = veld_store_meta_get_u64(r->store, VELD_META_SETTLED_POS, &pos);
	if (rc < 0)
		return rc;
	if (rc == 0) {
		if ((last = veld_store_ops_last(r->store)) < 0)
			return (int)last;
		rc = veld_store_meta_set_u64(r->store, VELD_META_SETTLED_POS,
					     (uint64_t)last);
		if (rc < 0)
			return rc;
	}
	r->defer = 1;
	return 0;
}

/* --- local writes --- */

/*
 * The salt of our op with seq (salts.h): derived from our kept salt nodes;
 * the first op with none draws a new tree for the seqs from seq on.  A
 * seq past the tree keeps the random salt body_start drew.
 */
static int own_salt(struct veld_replica *r, uint64_t seq,
		    uint8_t salt[VELD_SALT_LEN])
{
	struct veld_salt_set set = {0};
	int rc;

	if (seq > VELD_SALT_SEQ_MAX)
		return 0;
	rc = veld_store_salt_nodes(r->store, r->key.pk, seq, seq, &set);
	if (rc == 0 && set.n == 0) {
		/* none yet (or none left above seq: a new tree from here) */
		rc = veld_salt_fresh(seq, &set);
		for (size_t i = 0; rc == 0 && i < set.n; i++)
			rc = veld_store_salt_keep_own(r->store, r->key.pk,
						      &set.v[i]);
	}
	if (rc == 0 && set.n > 0)
		veld_salt_derive(&set.v[0], seq, salt);
	sodium_memzero(set.v, set.n * sizeof(*set.v));
	veld_salt_set_release(&set);
	return rc;
}

/*
 * Sign a new op of ours with body and apply it as a batch of one.  With
 * derived != NULL the op creates a record: its id, derived from our key
 * and the op's seq (veld_record_derive), goes to derived and record is
 * unused.
 */
static int write_op_rec(struct veld_replica *r, uint64_t kind,
			const uint8_t *record, uint8_t *derived,
			const struct veld_buf *body, uint8_t id[VELD_HASH_LEN])
{
	struct veld_op_header h;
	struct veld_head head;
	struct veld_buf op;
	struct veld_bytes b;
	size_t bad;
	int rc;

	/*
	 * Another process may write with the same key (veldd's admin
	 * commands beside the server): the head read here can be stale by
	 * the time apply takes the write lock.  So apply all-or-nothing: a
	 * lost race is then refused as a fork with nothing kept (no
	 * evidence, no freeze), and we sign again on the new head.
	 */
	for (int attempt = 0;; attempt++) {
		memset(&h, 0, sizeof(h));
		if ((rc = veld_store_head(r->store, r->key.pk, &head)) < 0)
			return rc;
		if (head.frozen)
			return VELD_EFROZEN;
		h.seq = head.seq + 1;
		h.has_prev = head.seq > 0;
		memcpy(h.prev, head.id, VELD_HASH_LEN);
		if ((rc = veld_hlc_now(&r->clock, wall_now(r), &h.hlc)) < 0)
			return rc;
		if (derived) {
			veld_record_derive(r->key.pk, h.seq, derived);
			record = derived;
		}
		/* the body's salt: leaf seq of our salt tree (§5.1) */
		if (body->len >= 3 + VELD_SALT_LEN &&
		    memcmp(body->data, "\x92\xc4\x10", 3) == 0 &&
		    (rc = own_salt(r, h.seq, body->data + 3)) < 0)
			return rc;
		memcpy(h.record, record, VELD_RECORD_LEN);
		h.kind = kind;

		veld_buf_init(&op, VELD_OP_MAX);
		rc = veld_op_create(&r->key, &h, body->data, body->len, &op,
				    id);
		if (rc == 0) {
			b.p = op.data;
			b.len = op.len;
			rc = veld_replica_apply_all(r, &b, 1, 1, &bad);
		}
		veld_buf_release(&op);
		if (rc != VELD_EFORK || attempt == 8)
			return rc;
	}
}

static int write_op(struct veld_replica *r, uint64_t kind,
		    const uint8_t record[VELD_RECORD_LEN],
		    const struct veld_buf *body, uint8_t id[VELD_HASH_LEN])
{
	return write_op_rec(r, kind, record, NULL, body, id);
}

static int pack_str(msgpack_packer *pk, const char *s)
{
	return msgpack_pack_str_with_body(pk, s, strlen(s));
}

int veld_replica_set_by(struct veld_replica *r, const char *name)
{
	size_t n = name ? strlen(name) : 0;

	if (name && (n == 0 || n > VELD_NAME_MAX ||
		     !veld_utf8_valid((const uint8_t *)name, n)))
		return VELD_EINVAL;
	memcpy(r->by, name ? name : "", n);
	r->by[n] = 0;
	return 0;
}

/* 1 if local ops carry "by" now, else 0 (a count of map entries). */
static size_t by_n(const struct veld_replica *r)
{
	return r->by[0] != 0;
}

/* The "by" entry, if set; the caller keeps the keys in byte order. */
static void pack_by(const struct veld_replica *r, msgpack_packer *pk)
{
	if (!r->by[0])
		return;
	pack_str(pk, "by");
	pack_str(pk, r->by);
}

/* Start a body: salt, then a map of n entries. */
static void body_start(struct veld_buf *b, msgpack_packer *pk, size_t n)
{
	uint8_t salt[VELD_SALT_LEN];

	veld_buf_init(b, VELD_BODY_MAX);
	veld_buf_packer_init(pk, b);
	veld_salt_random(salt);
	veld_body_begin(pk, salt);
	msgpack_pack_map(pk, n);
}

static int body_error(struct veld_buf *b)
{
	return b->err == VELD_ETOOBIG ? VELD_EBODYSIZE : b->err ? b->err : 0;
}

static int cmp_field(const void *a, const void *b)
{
	const struct veld_field *x = a, *y = b;
	size_t lx = strlen(x->name), ly = strlen(y->name);
	int c = memcmp(x->name, y->name, lx < ly ? lx : ly);

	return c ? c : (lx > ly) - (lx < ly);
}

/* Ids of the values currently shown for one field (or all: field NULL). */
struct preds {
	const char *field;
	uint8_t (*ids)[VELD_HASH_LEN];
	size_t n, cap;
};

static int pred_one(void *ctx, const struct veld_value_row *v)
{
	struct preds *p = ctx;

	if (p->field && strcmp(p->field, v->field) != 0)
		return 0;
	if (p->n == p->cap) {
		size_t cap = p->cap ? p->cap * 2 : 8;
		void *q = realloc(p->ids, cap * sizeof(*p->ids));
		if (!q)
			return VELD_ENOMEM;
		p->ids = q;
		p->cap = cap;
	}
	memcpy(p->ids[p->n++], v->op, VELD_HASH_LEN);
	return 0;
}

static int pack_ids(msgpack_packer *pk, const struct preds *p)
{
	msgpack_pack_array(pk, p->n);
	for (size_t i = 0; i < p->n; i++)
		msgpack_pack_bin_with_body(pk, p->ids[i], VELD_HASH_LEN);
	return 0;
}

static int found_record(void *ctx, const struct veld_record_row *row)
{
	(void)ctx;
	(void)row;
	return 0;
}

int veld_replica_put(struct veld_replica *r, uint8_t record[VELD_RECORD_LEN],
		     int create, const char *form, const char *area,
		     const struct veld_field *fields, size_t n,
		     uint8_t id[VELD_HASH_LEN])
{
	struct veld_field *sorted = NULL;
	struct preds *preds = NULL;
	struct veld_buf body;
	msgpack_packer pk;
	size_t npred = 0;
	int rc = 0;

	if (n == 0 || n > VELD_ITEMS_MAX || (create && !form))
		return VELD_EINVAL;
	if (!create) {
		rc = veld_store_record(r->store, record, found_record, NULL);
		if (rc <= 0)
			return rc < 0 ? rc : VELD_ENOTFOUND;
		rc = 0;
	}
	sorted = malloc(n * sizeof(*sorted));
	preds = calloc(n, sizeof(*preds));
	if (!sorted || !preds) {
		rc = VELD_ENOMEM;
		goto out;
	}
	memcpy(sorted, fields, n * sizeof(*sorted));
	qsort(sorted, n, sizeof(*sorted), cmp_field);
	for (size_t i = 0; i < n && rc == 0; i++) {
		if (i && cmp_field(&sorted[i - 1], &sorted[i]) == 0)
			rc = VELD_EKEYDUP;
		preds[i].field = sorted[i].name;
		if (rc == 0 && !create)
			rc = veld_store_values(r->store, record, pred_one,
					       &preds[i]);
		npred += preds[i].n > 0;
	}
	if (rc < 0)
		goto out;

	body_start(&body, &pk,
		   (area ? 1 : 0) + by_n(r) + (form ? 1 : 0) + (npred ? 1 : 0) +
			   1);
	if (area) {
		pack_str(&pk, "area");
		pack_str(&pk, area);
	}
	pack_by(r, &pk);
	if (form) {
		pack_str(&pk, "form");
		pack_str(&pk, form);
	}
	if (npred) {
		pack_str(&pk, "pred");
		msgpack_pack_map(&pk, npred);
		for (size_t i = 0; i < n; i++) {
			if (!preds[i].n)
				continue;
			pack_str(&pk, sorted[i].name);
			pack_ids(&pk, &preds[i]);
		}
	}
	pack_str(&pk, "set");
	msgpack_pack_map(&pk, n);
	for (size_t i = 0; i < n; i++) {
		pack_str(&pk, sorted[i].name);
		if (sorted[i].mp) {
			if (veld_buf_append(&body, sorted[i].mp,
					    sorted[i].mp_len) < 0 &&
			    !body.err)
				body.err = VELD_ETOOBIG;
		} else if (sorted[i].text) {
			pack_str(&pk, sorted[i].text);
		} else {
			msgpack_pack_nil(&pk);
		}
	}
	rc = body_error(&body);
	/* A new record's id is derived from the op that creates it. */
	if (rc == 0)
		rc = write_op_rec(r, VELD_KIND_PUT, record,
				  create ? record : NULL, &body, id);
	veld_buf_release(&body);
out:
	for (size_t i = 0; preds && i < n; i++)
		free(preds[i].ids);
	free(preds);
	free(sorted);
	return rc;
}

int veld_replica_delete(struct veld_replica *r,
			const uint8_t record[VELD_RECORD_LEN],
			uint8_t id[VELD_HASH_LEN])
{
	struct preds seen = {0};
	struct veld_buf body;
	msgpack_packer pk;
	int rc = veld_store_record(r->store, record, found_record, NULL);

	if (rc <= 0)
		return rc < 0 ? rc : VELD_ENOTFOUND;
	rc = veld_store_values(r->store, record, pred_one, &seen);
	if (rc == 0) {
		body_start(&body, &pk, 1 + by_n(r));
		pack_by(r, &pk);
		pack_str(&pk, "seen");
		pack_ids(&pk, &seen);
		rc = body_error(&body);
		if (rc == 0)
			rc = write_op(r, VELD_KIND_DELETE, record, &body, id);
		veld_buf_release(&body);
	}
	free(seen.ids);
	return rc;
}

int veld_replica_note(struct veld_replica *r,
		      const uint8_t record[VELD_RECORD_LEN], const char *text,
		      uint8_t id[VELD_HASH_LEN])
{
	struct veld_buf body;
	msgpack_packer pk;
	int rc = veld_store_record(r->store, record, found_record, NULL);

	if (rc <= 0)
		return rc < 0 ? rc : VELD_ENOTFOUND;
	if (!text || !*text)
		return VELD_EINVAL;
	body_start(&body, &pk, 1 + by_n(r));
	pack_by(r, &pk);
	pack_str(&pk, "text");
	pack_str(&pk, text);
	rc = body_error(&body);
	if (rc == 0)
		rc = write_op(r, VELD_KIND_NOTE, record, &body, id);
	veld_buf_release(&body);
	return rc;
}

struct rec_meta {
	char form[VELD_NAME_MAX + 1];
	char area[VELD_NAME_MAX + 1];
	int has_form, has_area;
};

static int meta_one(void *ctx, const struct veld_record_row *row)
{
	struct rec_meta *m = ctx;

	if (row->form && strlen(row->form) <= VELD_NAME_MAX) {
		strcpy(m->form, row->form);
		m->has_form = 1;
	}
	if (row->area && strlen(row->area) <= VELD_NAME_MAX) {
		strcpy(m->area, row->area);
		m->has_area = 1;
	}
	return 0;
}

int veld_replica_erase(struct veld_replica *r,
		       const uint8_t record[VELD_RECORD_LEN],
		       uint8_t id[VELD_HASH_LEN])
{
	struct rec_meta m = {0};
	struct veld_buf body;
	msgpack_packer pk;
	int rc = veld_store_record(r->store, record, meta_one, &m);

	if (rc <= 0)
		return rc < 0 ? rc : VELD_ENOTFOUND;
	body_start(&body, &pk, (size_t)(m.has_area + m.has_form) + by_n(r));
	if (m.has_area) {
		pack_str(&pk, "area");
		pack_str(&pk, m.area);
	}
	pack_by(r, &pk);
	if (m.has_form) {
		pack_str(&pk, "form");
		pack_str(&pk, m.form);
	}
	rc = body_error(&body);
	if (rc == 0)
		rc = write_op(r, VELD_KIND_ERASE, record, &body, id);
	veld_buf_release(&body);
	return rc;
}

int veld_replica_form(struct veld_replica *r, uint8_t form_id[VELD_RECORD_LEN],
		      int create, const char *name, const uint8_t *def,
		      size_t def_len, uint8_t id[VELD_HASH_LEN])
{
	struct veld_buf body;
	msgpack_packer pk;
	int rc;

	if (!name || !def)
		return VELD_EINVAL;
	if (create)
		randombytes_buf(form_id, VELD_RECORD_LEN);
	body_start(&body, &pk, 2 + by_n(r));
	pack_by(r, &pk);
	pack_str(&pk, "def");
	if (veld_buf_append(&body, def, def_len) < 0 && !body.err)
		body.err = VELD_ETOOBIG;
	pack_str(&pk, "name");
	pack_str(&pk, name);
	rc = body_error(&body);
	if (rc == 0)
		rc = write_op(r, VELD_KIND_FORM, form_id, &body, id);
	veld_buf_release(&body);
	return rc;
}

int veld_replica_device(struct veld_replica *r, const uint8_t key[VELD_PK_LEN],
			const char *role, const char *name, const char *area,
			int revoke, uint8_t id[VELD_HASH_LEN])
{
	struct veld_buf body;
	msgpack_packer pk;
	int rc;

	if (!role || !name)
		return VELD_EINVAL;
	body_start(&body, &pk, (area ? 5 : 4) + by_n(r));
	if (area) {
		pack_str(&pk, "area");
		pack_str(&pk, area);
	}
	pack_by(r, &pk);
	pack_str(&pk, "key");
	msgpack_pack_bin_with_body(&pk, key, VELD_PK_LEN);
	pack_str(&pk, "name");
	pack_str(&pk, name);
	pack_str(&pk, "role");
	pack_str(&pk, role);
	pack_str(&pk, "status");
	pack_str(&pk, revoke ? "revoked" : "active");
	rc = body_error(&body);
	/* A device entry's record id is the first 16 bytes of its key. */
	if (rc == 0)
		rc = write_op(r, VELD_KIND_DEVICE, key, &body, id);
	veld_buf_release(&body);
	return rc;
}

/* --- state hash --- */

struct hasher {
	struct veld_store *s;
	crypto_generichash_state st;
	struct veld_buf buf;
	msgpack_packer pk;
};

static void pack_opt_str(msgpack_packer *pk, const char *s)
{
	if (s)
		pack_str(pk, s);
	else
		msgpack_pack_nil(pk);
}

static void flush(struct hasher *h)
{
	crypto_generichash_update(&h->st, h->buf.data, h->buf.len);
	veld_buf_reset(&h->buf);
}

static int hash_value(void *ctx, const struct veld_value_row *v)
{
	struct hasher *h = ctx;

	msgpack_pack_array(&h->pk, 6);
	pack_str(&h->pk, v->field);
	msgpack_pack_bin_with_body(&h->pk, v->op, VELD_HASH_LEN);
	msgpack_pack_bin_with_body(&h->pk, v->author, VELD_PK_LEN);
	msgpack_pack_uint64(&h->pk, v->hlc);
	if (v->value)
		msgpack_pack_bin_with_body(&h->pk, v->value, v->value_len);
	else
		msgpack_pack_nil(&h->pk);
	msgpack_pack_uint8(&h->pk, (uint8_t)v->winner);
	flush(h);
	return h->buf.err;
}

static int hash_note(void *ctx, const struct veld_note_row *n)
{
	struct hasher *h = ctx;

	msgpack_pack_array(&h->pk, 4);
	msgpack_pack_bin_with_body(&h->pk, n->op, VELD_HASH_LEN);
	msgpack_pack_bin_with_body(&h->pk, n->author, VELD_PK_LEN);
	msgpack_pack_uint64(&h->pk, n->hlc);
	pack_opt_str(&h->pk, n->text);
	flush(h);
	return h->buf.err;
}

static int hash_record_row(void *ctx, const struct veld_record_row *rec)
{
	struct hasher *h = ctx;

	msgpack_pack_array(&h->pk, 10);
	msgpack_pack_str_with_body(&h->pk, "record", 6);
	msgpack_pack_bin_with_body(&h->pk, rec->id, VELD_RECORD_LEN);
	pack_opt_str(&h->pk, rec->form);
	pack_opt_str(&h->pk, rec->area);
	msgpack_pack_uint64(&h->pk, rec->created);
	msgpack_pack_uint64(&h->pk, rec->updated);
	msgpack_pack_uint8(&h->pk, (uint8_t)rec->deleted);
	msgpack_pack_uint8(&h->pk, (uint8_t)rec->delete_conflict);
	msgpack_pack_uint8(&h->pk, (uint8_t)rec->erased);
	msgpack_pack_uint32(&h->pk, (uint32_t)rec->conflicts);
	flush(h);
	return h->buf.err;
}

static int hash_record(void *ctx, const uint8_t *id)
{
	struct hasher *h = ctx;
	int rc = veld_store_record(h->s, id, hash_record_row, h);

	if (rc >= 0)
		rc = veld_store_values(h->s, id, hash_value, h);
	if (rc == 0)
		rc = veld_store_notes(h->s, id, hash_note, h);
	return rc;
}

static int hash_form(void *ctx, const struct veld_form_row *f)
{
	struct hasher *h = ctx;

	msgpack_pack_array(&h->pk, 6);
	msgpack_pack_str_with_body(&h->pk, "form", 4);
	msgpack_pack_bin_with_body(&h->pk, f->id, VELD_RECORD_LEN);
	pack_str(&h->pk, f->name);
	msgpack_pack_bin_with_body(&h->pk, f->def, f->def_len);
	msgpack_pack_uint64(&h->pk, f->hlc);
	msgpack_pack_bin_with_body(&h->pk, f->op, VELD_HASH_LEN);
	flush(h);
	return h->buf.err;
}

static int hash_device(void *ctx, const struct veld_device_row *d)
{
	struct hasher *h = ctx;

	msgpack_pack_array(&h->pk, 8);
	msgpack_pack_str_with_body(&h->pk, "device", 6);
	msgpack_pack_bin_with_body(&h->pk, d->key, VELD_PK_LEN);
	pack_opt_str(&h->pk, d->role);
	pack_opt_str(&h->pk, d->name);
	pack_opt_str(&h->pk, d->area);
	msgpack_pack_uint64(&h->pk, d->enrolled);
	msgpack_pack_uint64(&h->pk, d->revoked);
	msgpack_pack_uint64(&h->pk, d->hlc);
	flush(h);
	return h->buf.err;
}

int veld_replica_state_hash(struct veld_replica *r, uint8_t out[VELD_HASH_LEN])
{
	return veld_replica_state_hash_store(r->store, out);
}

int veld_replica_state_hash_store(struct veld_store *s,
				  uint8_t out[VELD_HASH_LEN])
{
	struct hasher h;
	int rc;

	h.s = s;
	veld_buf_init(&h.buf, VELD_OP_MAX);
	veld_buf_packer_init(&h.pk, &h.buf);
	crypto_generichash_init(&h.st, NULL, 0, VELD_HASH_LEN);
	crypto_generichash_update(&h.st, (const uint8_t *)DS_STATE,
				  sizeof(DS_STATE));
	rc = veld_store_record_ids(s, hash_record, &h);
	if (rc == 0)
		rc = veld_store_forms(s, hash_form, &h);
	if (rc == 0)
		rc = veld_store_devices(s, hash_device, &h);
	if (rc == 0)
		crypto_generichash_final(&h.st, out, VELD_HASH_LEN);
	veld_buf_release(&h.buf);
	return rc;
}
