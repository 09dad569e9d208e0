/*
 * merge.c - the merge rules; see merge.h and docs/protocol.md Part 3.
 *
 * Each fold decodes the bodies it needs (they were checked canonical on
 * arrival), walks the ops in their fixed (hlc, author, id) order and
 * builds rows in an arena that the caller frees in one go.  Nothing here
 * depends on the order in which ops arrived.
 */
#include "merge.h"

#include <stdlib.h>
#include <string.h>

#include "canon.h"
#include "err.h"

/* --- a tiny arena: rows and strings of one fold --- */

struct block {
	struct block *next;
	size_t used, cap;
	_Alignas(max_align_t) uint8_t data[];
};

struct veld_arena {
	struct block *head;
	struct veld_buf scratch; /* value_bytes packs here, reused */
};

static void *arena_alloc(struct veld_arena *a, size_t n)
{
	struct block *b = a->head;

	n = (n + 15) & ~(size_t)15;
	if (!b || b->cap - b->used < n) {
		size_t cap = n > 16384 ? n : 16384;
		b = malloc(sizeof(*b) + cap);
		if (!b)
			return NULL;
		b->next = a->head;
		b->used = 0;
		b->cap = cap;
		a->head = b;
	}
	b->used += n;
	return b->data + b->used - n;
}

/* NUL-terminated copy of n bytes. */
static char *arena_str(struct veld_arena *a, const char *p, size_t n)
{
	char *s = arena_alloc(a, n + 1);

	if (s) {
		if (n) /* an empty msgpack str has a NULL pointer */
			memcpy(s, p, n);
		s[n] = 0;
	}
	return s;
}

void veld_merge_out_release(struct veld_merge_out *out)
{
	if (out->arena) {
		struct block *b = out->arena->head;
		while (b) {
			struct block *next = b->next;
			free(b);
			b = next;
		}
		veld_buf_release(&out->arena->scratch);
		free(out->arena);
	}
	memset(out, 0, sizeof(*out));
}

static int out_init(struct veld_merge_out *out)
{
	memset(out, 0, sizeof(*out));
	out->arena = calloc(1, sizeof(*out->arena));
	if (!out->arena)
		return VELD_ENOMEM;
	veld_buf_init(&out->arena->scratch, VELD_BODY_MAX);
	return 0;
}

/* --- reading content --- */

static int str_is(const msgpack_object *o, const char *s)
{
	size_t n = strlen(s);
	return o->type == MSGPACK_OBJECT_STR && o->via.str.size == n &&
	       memcmp(o->via.str.ptr, s, n) == 0;
}

static const msgpack_object *map_get(const msgpack_object *map, const char *key)
{
	if (map->type != MSGPACK_OBJECT_MAP)
		return NULL;
	for (uint32_t i = 0; i < map->via.map.size; i++)
		if (str_is(&map->via.map.ptr[i].key, key))
			return &map->via.map.ptr[i].val;
	return NULL;
}

/* Every key of map is in allowed (NULL-terminated list). */
static int only_keys(const msgpack_object *map, const char *const *allowed)
{
	for (uint32_t i = 0; i < map->via.map.size; i++) {
		const msgpack_object *k = &map->via.map.ptr[i].key;
		int ok = 0;
		for (const char *const *a = allowed; *a && !ok; a++)
			ok = str_is(k, *a);
		if (!ok)
			return 0;
	}
	return 1;
}

/*
 * A str of 1..VELD_NAME_MAX bytes without a NUL: names are used as C
 * strings (SQLite text, the state hash), where a NUL would cut them short
 * and an empty one comes back as NULL.
 */
static int is_name(const msgpack_object *o)
{
	return o && o->type == MSGPACK_OBJECT_STR && o->via.str.size > 0 &&
	       o->via.str.size <= VELD_NAME_MAX &&
	       !memchr(o->via.str.ptr, 0, o->via.str.size);
}

static int opt_name(const msgpack_object *o)
{
	return !o || is_name(o);
}

static int is_id_list(const msgpack_object *o)
{
	if (!o || o->type != MSGPACK_OBJECT_ARRAY)
		return 0;
	for (uint32_t i = 0; i < o->via.array.size; i++) {
		const msgpack_object *e = &o->via.array.ptr[i];
		if (e->type != MSGPACK_OBJECT_BIN ||
		    e->via.bin.size != VELD_HASH_LEN)
			return 0;
	}
	return 1;
}

static int check_put(const msgpack_object *c)
{
	static const char *const keys[] = {"area", "by",  "form",
					   "pred", "set", NULL};
	const msgpack_object *set = map_get(c, "set");
	const msgpack_object *pred = map_get(c, "pred");

	if (!only_keys(c, keys) || !opt_name(map_get(c, "area")) ||
	    !opt_name(map_get(c, "by")) || !opt_name(map_get(c, "form")))
		return 0;
	if (!set || set->type != MSGPACK_OBJECT_MAP || set->via.map.size == 0)
		return 0;
	for (uint32_t i = 0; i < set->via.map.size; i++)
		if (!is_name(&set->via.map.ptr[i].key))
			return 0;
	if (!pred)
		return 1;
	if (pred->type != MSGPACK_OBJECT_MAP)
		return 0;
	for (uint32_t i = 0; i < pred->via.map.size; i++) {
		const msgpack_object_kv *kv = &pred->via.map.ptr[i];
		char name[VELD_NAME_MAX + 1];
		/* pred names only fields that this put sets */
		if (!is_name(&kv->key) || !is_id_list(&kv->val))
			return 0;
		memcpy(name, kv->key.via.str.ptr, kv->key.via.str.size);
		name[kv->key.via.str.size] = 0;
		if (!map_get(set, name))
			return 0;
	}
	return 1;
}

static int check_content(uint64_t kind, const msgpack_object *c)
{
	static const char *const del_keys[] = {"by", "seen", NULL};
	static const char *const note_keys[] = {"by", "text", NULL};
	static const char *const erase_keys[] = {"area", "by", "form", NULL};
	static const char *const form_keys[] = {"by", "def", "name", NULL};
	static const char *const dev_keys[] = {"area", "by",	 "key", "name",
					       "role", "status", NULL};
	const msgpack_object *o;

	if (c->type != MSGPACK_OBJECT_MAP)
		return 0;
	/* Attribution (docs/protocol.md section 11): optional on every
	 * kind, a name when present. */
	if (!opt_name(map_get(c, "by")))
		return 0;
	switch (kind) {
	case VELD_KIND_PUT:
		return check_put(c);
	case VELD_KIND_DELETE:
		return only_keys(c, del_keys) && is_id_list(map_get(c, "seen"));
	case VELD_KIND_NOTE:
		o = map_get(c, "text");
		return only_keys(c, note_keys) && o &&
		       o->type == MSGPACK_OBJECT_STR && o->via.str.size > 0 &&
		       !memchr(o->via.str.ptr, 0, o->via.str.size);
	case VELD_KIND_ERASE:
		return only_keys(c, erase_keys) &&
		       opt_name(map_get(c, "area")) &&
		       opt_name(map_get(c, "form"));
	case VELD_KIND_FORM:
		o = map_get(c, "def");
		return only_keys(c, form_keys) && is_name(map_get(c, "name")) &&
		       o && o->type == MSGPACK_OBJECT_MAP;
	case VELD_KIND_DEVICE:
		o = map_get(c, "key");
		if (!only_keys(c, dev_keys) || !o ||
		    o->type != MSGPACK_OBJECT_BIN ||
		    o->via.bin.size != VELD_PK_LEN ||
		    !is_name(map_get(c, "name")) ||
		    !opt_name(map_get(c, "area")))
			return 0;
		o = map_get(c, "role");
		if (!o || !(str_is(o, "field") || str_is(o, "coordinator")))
			return 0;
		o = map_get(c, "status");
		return o && (str_is(o, "active") || str_is(o, "revoked"));
	}
	return 0;
}

/*
 * Decode a body into u; *content points at its content value.  checked:
 * the body passed veld_body_check before (a stored op's, for a fold).
 */
static int open_body(const uint8_t *body, size_t len, int checked,
		     msgpack_unpacked *u, const msgpack_object **content)
{
	int rc = checked ? veld_canon_decode_checked(body, len, u)
			 : veld_canon_decode(body, len, u);

	if (rc < 0)
		return rc;
	if (u->data.type != MSGPACK_OBJECT_ARRAY || u->data.via.array.size != 2)
		return VELD_EBODYSHAPE;
	*content = &u->data.via.array.ptr[1];
	return 0;
}

static int cmp_merge_op(const void *a, const void *b)
{
	const struct veld_merge_op *x = a, *y = b;
	int c;

	if (x->hlc != y->hlc)
		return x->hlc < y->hlc ? -1 : 1;
	if ((c = memcmp(x->author, y->author, VELD_PK_LEN)) != 0)
		return c;
	return memcmp(x->id, y->id, VELD_HASH_LEN);
}

void veld_merge_sort(struct veld_merge_op *ops, size_t n)
{
	if (n > 1)
		qsort(ops, n, sizeof(*ops), cmp_merge_op);
}

int veld_content_check(uint64_t kind, const uint8_t *body, size_t len)
{
	msgpack_unpacked u;
	const msgpack_object *c;
	int rc;

	msgpack_unpacked_init(&u);
	rc = open_body(body, len, 0, &u, &c);
	if (rc == 0 && !check_content(kind, c))
		rc = VELD_ECONTENT;
	msgpack_unpacked_destroy(&u);
	return rc < 0 ? VELD_ECONTENT : 0;
}

int veld_body_content_check(uint64_t kind, const uint8_t *body, size_t len,
			    int *content_ok)
{
	msgpack_unpacked u;
	int rc;

	*content_ok = 0;
	msgpack_unpacked_init(&u);
	rc = veld_body_open(body, len, &u);
	if (rc == 0)
		*content_ok = check_content(kind, &u.data.via.array.ptr[1]);
	msgpack_unpacked_destroy(&u);
	return rc;
}

/* Canonical bytes of one value, copied into the arena. */
static int value_bytes(struct veld_arena *a, const msgpack_object *v,
		       const uint8_t **out, size_t *len)
{
	struct veld_buf *b = &a->scratch;
	msgpack_packer pk;
	uint8_t *p;

	veld_buf_reset(b);
	veld_buf_packer_init(&pk, b);
	if (msgpack_pack_object(&pk, *v) < 0 ||
	    !(p = arena_alloc(a, b->len ? b->len : 1)))
		return VELD_ENOMEM;
	memcpy(p, b->data, b->len);
	*out = p;
	*len = b->len;
	return 0;
}

/* --- record fold --- */

struct cand {
	const msgpack_object_str *field;
	const struct veld_merge_op *op;
	const msgpack_object *value;
	int live;
};

struct idref {
	const msgpack_object_str *field; /* NULL: any field (a delete) */
	const uint8_t *id;
};

static int same_field(const msgpack_object_str *a, const msgpack_object_str *b)
{
	return a->size == b->size &&
	       (a->size == 0 || memcmp(a->ptr, b->ptr, a->size) == 0);
}

/* (hlc, author) order for the display winner. */
static int later(const struct veld_merge_op *a, const struct veld_merge_op *b)
{
	if (a->hlc != b->hlc)
		return a->hlc > b->hlc;
	return memcmp(a->author, b->author, VELD_PK_LEN) > 0;
}

struct fold {
	msgpack_unpacked *bodies; /* one per op, decoded lazily */
	struct cand *cands;
	size_t ncands, cands_cap;
	struct idref *refs;
	size_t nrefs, refs_cap;
};

static int grow(void **p, size_t *cap, size_t need, size_t size)
{
	if (need <= *cap)
		return 0;
	size_t cap2 = *cap ? *cap * 2 : 16;
	while (cap2 < need)
		cap2 *= 2;
	void *q = realloc(*p, cap2 * size);
	if (!q)
		return VELD_ENOMEM;
	*p = q;
	*cap = cap2;
	return 0;
}

static int add_cand(struct fold *f, const msgpack_object_str *field,
		    const struct veld_merge_op *op, const msgpack_object *v)
{
	if (grow((void **)&f->cands, &f->cands_cap, f->ncands + 1,
		 sizeof(*f->cands)))
		return VELD_ENOMEM;
	f->cands[f->ncands++] = (struct cand){field, op, v, 1};
	return 0;
}

static int add_ref(struct fold *f, const msgpack_object_str *field,
		   const uint8_t *id)
{
	if (grow((void **)&f->refs, &f->refs_cap, f->nrefs + 1,
		 sizeof(*f->refs)))
		return VELD_ENOMEM;
	f->refs[f->nrefs++] = (struct idref){field, id};
	return 0;
}

static int add_refs(struct fold *f, const msgpack_object_str *field,
		    const msgpack_object *list)
{
	for (uint32_t i = 0; i < list->via.array.size; i++) {
		const msgpack_object *e = &list->via.array.ptr[i];
		if (add_ref(f, field, (const uint8_t *)e->via.bin.ptr))
			return VELD_ENOMEM;
	}
	return 0;
}

static const char *take_name(struct veld_arena *a, const msgpack_object *o)
{
	if (!o || o->type != MSGPACK_OBJECT_STR)
		return NULL;
	return arena_str(a, o->via.str.ptr, o->via.str.size);
}

static int is_record_kind(uint64_t kind)
{
	return kind >= VELD_KIND_PUT && kind <= VELD_KIND_ERASE;
}

/* First pass: collect candidates, references, notes and metadata. */
static int collect(const struct veld_merge_op *ops, size_t n, struct fold *f,
		   struct veld_merge_out *out, uint64_t *delete_hlc,
		   int *has_delete, size_t *live_ops)
{
	struct veld_record_row *r = &out->rec;
	const char *put_form = NULL, *put_area = NULL;
	const char *erase_form = NULL, *erase_area = NULL;
	int rc;

	for (size_t i = 0; i < n; i++) {
		const struct veld_merge_op *op = &ops[i];
		const msgpack_object *c = NULL, *o;

		if (!is_record_kind(op->kind) ||
		    op->status != VELD_STATUS_APPLIED)
			continue;
		if (!*live_ops || op->hlc < r->created)
			r->created = op->hlc;
		if (op->hlc > r->updated)
			r->updated = op->hlc;
		(*live_ops)++;
		if (op->body) {
			rc = open_body(op->body, op->body_len, 1, &f->bodies[i],
				       &c);
			if (rc < 0)
				return rc;
		}
		switch (op->kind) {
		case VELD_KIND_ERASE:
			r->erased = 1;
			if (c && !erase_form)
				erase_form = take_name(out->arena,
						       map_get(c, "form"));
			if (c && !erase_area)
				erase_area = take_name(out->arena,
						       map_get(c, "area"));
			break;
		case VELD_KIND_DELETE:
			*has_delete = 1;
			if (op->hlc > *delete_hlc)
				*delete_hlc = op->hlc;
			if (c && (rc = add_refs(f, NULL, map_get(c, "seen"))))
				return rc;
			break;
		case VELD_KIND_NOTE: /* build_notes() reads these */
			break;
		case VELD_KIND_PUT:
			if (!c)
				break;
			if (!put_form)
				put_form = take_name(out->arena,
						     map_get(c, "form"));
			if (!put_area)
				put_area = take_name(out->arena,
						     map_get(c, "area"));
			o = map_get(c, "set");
			for (uint32_t k = 0; o && k < o->via.map.size; k++) {
				const msgpack_object_kv *kv =
					&o->via.map.ptr[k];
				rc = add_cand(f, &kv->key.via.str, op,
					      &kv->val);
				if (rc < 0)
					return rc;
			}
			o = map_get(c, "pred");
			for (uint32_t k = 0; o && k < o->via.map.size; k++) {
				const msgpack_object_kv *kv =
					&o->via.map.ptr[k];
				rc = add_refs(f, &kv->key.via.str, &kv->val);
				if (rc < 0)
					return rc;
			}
			break;
		}
	}
	/* An erased record keeps only what the erase op itself says. */
	r->form = r->erased ? erase_form : put_form;
	r->area = r->erased ? erase_area : put_area;
	return 0;
}

static int build_notes(const struct veld_merge_op *ops, size_t n,
		       struct fold *f, struct veld_merge_out *out)
{
	size_t count = 0;

	for (size_t i = 0; i < n; i++)
		if (ops[i].kind == VELD_KIND_NOTE &&
		    ops[i].status == VELD_STATUS_APPLIED)
			count++;
	if (!count)
		return 0;
	out->notes = arena_alloc(out->arena, count * sizeof(*out->notes));
	if (!out->notes)
		return VELD_ENOMEM;
	for (size_t i = 0; i < n; i++) {
		const struct veld_merge_op *op = &ops[i];
		struct veld_note_row *nr;
		const msgpack_object *t;

		if (op->kind != VELD_KIND_NOTE ||
		    op->status != VELD_STATUS_APPLIED)
			continue;
		nr = &out->notes[out->nnotes++];
		memcpy(nr->op, op->id, VELD_HASH_LEN);
		memcpy(nr->author, op->author, VELD_PK_LEN);
		nr->hlc = op->hlc;
		nr->pos = op->pos;
		nr->text = NULL;
		if (op->body && !out->rec.erased &&
		    f->bodies[i].data.type == MSGPACK_OBJECT_ARRAY) {
			t = map_get(&f->bodies[i].data.via.array.ptr[1],
				    "text");
			nr->text = take_name(out->arena, t);
			if (t && !nr->text)
				return VELD_ENOMEM;
		}
	}
	return 0;
}

static int build_values(struct fold *f, struct veld_merge_out *out,
			uint64_t delete_hlc, int has_delete)
{
	struct veld_record_row *r = &out->rec;
	size_t live = 0;

	if (r->erased)
		return 0; /* values read back as erased */
	/* A value is current unless a pred names it for its field, or a
	 * delete has seen it. */
	for (size_t i = 0; i < f->ncands; i++) {
		struct cand *c = &f->cands[i];
		for (size_t k = 0; k < f->nrefs && c->live; k++) {
			const struct idref *ref = &f->refs[k];
			if (memcmp(ref->id, c->op->id, VELD_HASH_LEN) == 0 &&
			    (!ref->field || same_field(ref->field, c->field)))
				c->live = 0;
		}
		live += (size_t)c->live;
	}
	out->values =
		live ? arena_alloc(out->arena, live * sizeof(*out->values))
		     : NULL;
	if (live && !out->values)
		return VELD_ENOMEM;

	for (size_t i = 0; i < f->ncands; i++) {
		struct cand *c = &f->cands[i];
		struct veld_value_row *v;
		const struct cand *best = c;
		int others = 0;

		if (!c->live)
			continue;
		for (size_t k = 0; k < f->ncands; k++) {
			const struct cand *d = &f->cands[k];
			if (k == i || !d->live ||
			    !same_field(d->field, c->field))
				continue;
			others++;
			if (later(d->op, best->op))
				best = d;
		}
		v = &out->values[out->nvalues++];
		v->field = arena_str(out->arena, c->field->ptr, c->field->size);
		if (!v->field ||
		    value_bytes(out->arena, c->value, &v->value, &v->value_len))
			return VELD_ENOMEM;
		memcpy(v->op, c->op->id, VELD_HASH_LEN);
		memcpy(v->author, c->op->author, VELD_PK_LEN);
		v->hlc = c->op->hlc;
		v->pos = c->op->pos;
		v->winner = best == c;
		/* Count each conflicting field once: at its winner. */
		if (others && v->winner)
			r->conflicts++;
		/* Street and follow-up status are what lists filter on. */
		if (v->winner && c->value->type == MSGPACK_OBJECT_STR &&
		    (strcmp(v->field, "street") == 0 ||
		     strcmp(v->field, "followup") == 0)) {
			const char **dst =
				v->field[0] == 's' ? &r->street : &r->followup;
			*dst = arena_str(out->arena, c->value->via.str.ptr,
					 c->value->via.str.size);
		}
		/* An edit the delete did not see, made before it: flag. */
		if (has_delete && c->op->hlc < delete_hlc)
			r->delete_conflict = 1;
	}
	if (has_delete && out->nvalues == 0)
		r->deleted = 1;
	return 0;
}

int veld_merge_record(const uint8_t record[VELD_RECORD_LEN],
		      const struct veld_merge_op *ops, size_t n,
		      struct veld_merge_out *out)
{
	struct fold f = {0};
	uint64_t delete_hlc = 0;
	int has_delete = 0, rc;
	size_t live_ops = 0;

	if ((rc = out_init(out)) < 0)
		return rc;
	memcpy(out->rec.id, record, VELD_RECORD_LEN);
	f.bodies = calloc(n ? n : 1, sizeof(*f.bodies));
	if (!f.bodies) {
		rc = VELD_ENOMEM;
		goto out;
	}
	rc = collect(ops, n, &f, out, &delete_hlc, &has_delete, &live_ops);
	if (rc == 0)
		rc = build_notes(ops, n, &f, out);
	if (rc == 0)
		rc = build_values(&f, out, delete_hlc, has_delete);
	out->empty = live_ops == 0;
out:
	for (size_t i = 0; f.bodies && i < n; i++)
		msgpack_unpacked_destroy(&f.bodies[i]);
	free(f.bodies);
	free(f.cands);
	free(f.refs);
	return rc;
}

/* --- registry fold --- */

struct dev {
	struct veld_device_row row;
	int coordinator;
};

static struct dev *find_dev(struct dev *devs, size_t n, const uint8_t *key)
{
	for (size_t i = 0; i < n; i++)
		if (memcmp(devs[i].row.key, key, VELD_PK_LEN) == 0)
			return &devs[i];
	return NULL;
}

int veld_merge_registry(const uint8_t root[VELD_PK_LEN],
			const struct veld_merge_op *ops, size_t n,
			struct veld_merge_out *out)
{
	struct dev *devs = NULL;
	size_t ndevs = 0, cap = 0;
	int rc;

	if ((rc = out_init(out)) < 0)
		return rc;
	for (size_t i = 0; i < n; i++) {
		const struct veld_merge_op *op = &ops[i];
		const msgpack_object *c, *key;
		msgpack_unpacked u;
		struct dev *author, *d;

		if (op->kind != VELD_KIND_DEVICE || !op->body)
			continue;
		/* Trusted at this clock: the root, or a coordinator enrolled
		 * and not yet revoked (ops are in clock order). */
		author = find_dev(devs, ndevs, op->author);
		if (memcmp(op->author, root, VELD_PK_LEN) != 0 &&
		    !(author && author->coordinator && !author->row.revoked))
			continue;
		msgpack_unpacked_init(&u);
		if (open_body(op->body, op->body_len, 1, &u, &c) < 0 ||
		    !check_content(VELD_KIND_DEVICE, c)) {
			msgpack_unpacked_destroy(&u);
			continue;
		}
		key = map_get(c, "key");
		d = find_dev(devs, ndevs, (const uint8_t *)key->via.bin.ptr);
		if (!d) {
			if (grow((void **)&devs, &cap, ndevs + 1,
				 sizeof(*devs))) {
				msgpack_unpacked_destroy(&u);
				rc = VELD_ENOMEM;
				break;
			}
			d = &devs[ndevs++];
			memset(d, 0, sizeof(*d));
			memcpy(d->row.key, key->via.bin.ptr, VELD_PK_LEN);
			d->row.enrolled = op->hlc;
		}
		if (!d->row.revoked) { /* revocation is final */
			d->coordinator =
				str_is(map_get(c, "role"), "coordinator");
			d->row.role = take_name(out->arena, map_get(c, "role"));
			d->row.name = take_name(out->arena, map_get(c, "name"));
			d->row.area = take_name(out->arena, map_get(c, "area"));
			d->row.hlc = op->hlc;
			if (str_is(map_get(c, "status"), "revoked"))
				d->row.revoked = op->hlc;
		}
		msgpack_unpacked_destroy(&u);
	}
	if (rc == 0 && ndevs) {
		out->devices =
			arena_alloc(out->arena, ndevs * sizeof(*out->devices));
		if (!out->devices)
			rc = VELD_ENOMEM;
		for (size_t i = 0; rc == 0 && i < ndevs; i++)
			out->devices[i] = devs[i].row;
		out->ndevices = rc == 0 ? ndevs : 0;
	}
	free(devs);
	return rc;
}

/* --- form fold --- */

int veld_merge_form(const uint8_t id[VELD_RECORD_LEN],
		    const struct veld_merge_op *ops, size_t n,
		    struct veld_merge_out *out)
{
	int rc;

	if ((rc = out_init(out)) < 0)
		return rc;
	out->empty = 1;
	for (size_t i = n; i-- > 0;) {
		const struct veld_merge_op *op = &ops[i];
		const msgpack_object *c;
		msgpack_unpacked u;

		if (op->kind != VELD_KIND_FORM ||
		    op->status != VELD_STATUS_APPLIED || !op->body)
			continue;
		msgpack_unpacked_init(&u);
		rc = open_body(op->body, op->body_len, 1, &u, &c);
		if (rc == 0 && check_content(VELD_KIND_FORM, c)) {
			memcpy(out->form.id, id, VELD_RECORD_LEN);
			memcpy(out->form.op, op->id, VELD_HASH_LEN);
			out->form.hlc = op->hlc;
			out->form.name =
				take_name(out->arena, map_get(c, "name"));
			rc = value_bytes(out->arena, map_get(c, "def"),
					 &out->form.def, &out->form.def_len);
			out->empty = 0;
		}
		msgpack_unpacked_destroy(&u);
		if (!out->empty || rc < 0)
			break;
	}
	return rc < 0 ? rc : 0;
}
