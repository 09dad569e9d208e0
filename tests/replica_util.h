/*
 * replica_util.h - helpers shared by the replica tests: keys from a fill
 * byte, shipping ops between replicas as a sync would, and reading state.
 */
#ifndef VELD_TEST_REPLICA_UTIL_H
#define VELD_TEST_REPLICA_UTIL_H

#include <stdlib.h>

#include "replica.h"
#include "store.h"
#include "test.h"

static inline void util_key(struct veld_key *k, uint8_t fill)
{
	uint8_t seed[VELD_SEED_LEN];

	memset(seed, fill, sizeof(seed));
	veld_key_from_seed(k, seed);
}

/* All ops of a replica's log, framed as on the wire. */
struct oplist {
	struct veld_buf *ops;
	size_t n, cap;
};

static inline int oplist_add(void *ctx, const struct veld_stored_op *op)
{
	struct oplist *l = ctx;

	if (l->n == l->cap) {
		l->cap = l->cap ? l->cap * 2 : 64;
		l->ops = realloc(l->ops, l->cap * sizeof(*l->ops));
		if (!l->ops)
			abort();
	}
	veld_buf_init(&l->ops[l->n], VELD_OP_MAX);
	if (veld_op_frame(op->header, op->header_len, op->sig, op->body,
			  op->body_len, &l->ops[l->n]) != 0)
		abort();
	l->n++;
	return 0;
}

static inline void oplist_load(struct oplist *l, struct veld_replica *r)
{
	memset(l, 0, sizeof(*l));
	if (veld_store_ops_since(veld_replica_store(r), 0, 1 << 30, oplist_add,
				 l) != 0)
		abort();
}

static inline void oplist_release(struct oplist *l)
{
	for (size_t i = 0; i < l->n; i++)
		veld_buf_release(&l->ops[i]);
	free(l->ops);
	memset(l, 0, sizeof(*l));
}

/* Ship every op of from to to, in log order, as one batch. */
static inline void ship(struct veld_replica *from, struct veld_replica *to)
{
	struct oplist l;
	struct veld_bytes *b;

	oplist_load(&l, from);
	b = calloc(l.n ? l.n : 1, sizeof(*b));
	for (size_t i = 0; i < l.n; i++) {
		b[i].p = l.ops[i].data;
		b[i].len = l.ops[i].len;
	}
	if (veld_replica_apply(to, b, l.n, 0, NULL) != 0)
		abort();
	free(b);
	oplist_release(&l);
}

/* Apply one op (bytes) and return its fate. */
static inline struct veld_apply_result apply1(struct veld_replica *r,
					      const struct veld_buf *op)
{
	struct veld_apply_result res = {-1, 0};
	struct veld_bytes b = {op->data, op->len};

	if (veld_replica_apply(r, &b, 1, 0, &res) != 0)
		abort();
	return res;
}

/* A snapshot of one record, for assertions. */
struct snap {
	int found;
	struct veld_record_row rec;
	char form[80], area[80];
	int nvalues, nnotes, notes_erased;
	char values[16][80]; /* "field=value*" (* marks the winner) */
};

static inline int snap_rec(void *ctx, const struct veld_record_row *row)
{
	struct snap *s = ctx;

	s->found = 1;
	s->rec = *row;
	snprintf(s->form, sizeof(s->form), "%s", row->form ? row->form : "-");
	snprintf(s->area, sizeof(s->area), "%s", row->area ? row->area : "-");
	s->rec.form = s->rec.area = s->rec.street = NULL;
	return 0;
}

static inline int snap_val(void *ctx, const struct veld_value_row *v)
{
	struct snap *s = ctx;
	msgpack_unpacked u;
	char text[40] = "?";

	msgpack_unpacked_init(&u);
	if (v->value && msgpack_unpack_next(&u, (const char *)v->value,
					    v->value_len, NULL) > 0) {
		if (u.data.type == MSGPACK_OBJECT_STR)
			snprintf(text, sizeof(text), "%.*s",
				 (int)u.data.via.str.size, u.data.via.str.ptr);
		else if (u.data.type == MSGPACK_OBJECT_NIL)
			snprintf(text, sizeof(text), "nil");
	}
	msgpack_unpacked_destroy(&u);
	if (s->nvalues < 16)
		snprintf(s->values[s->nvalues], sizeof(s->values[0]), "%s=%s%s",
			 v->field, text, v->winner ? "*" : "");
	s->nvalues++;
	return 0;
}

static inline int snap_note(void *ctx, const struct veld_note_row *n)
{
	struct snap *s = ctx;

	s->nnotes++;
	s->notes_erased += n->text == NULL;
	return 0;
}

static inline struct snap snapshot(struct veld_replica *r,
				   const uint8_t id[VELD_RECORD_LEN])
{
	struct snap s;
	struct veld_store *st = veld_replica_store(r);

	memset(&s, 0, sizeof(s));
	if (veld_store_record(st, id, snap_rec, &s) < 0 ||
	    veld_store_values(st, id, snap_val, &s) < 0 ||
	    veld_store_notes(st, id, snap_note, &s) < 0)
		abort();
	return s;
}

/* Has this snapshot the value string "field=value" (winner or not)? */
static inline int has_value(const struct snap *s, const char *fv)
{
	size_t n = strlen(fv);

	for (int i = 0; i < s->nvalues && i < 16; i++)
		if (strncmp(s->values[i], fv, n) == 0 &&
		    (s->values[i][n] == 0 || s->values[i][n] == '*'))
			return 1;
	return 0;
}

static inline void state_hash(struct veld_replica *r, uint8_t out[32])
{
	if (veld_replica_state_hash(r, out) != 0)
		abort();
}

#endif /* VELD_TEST_REPLICA_UTIL_H */
