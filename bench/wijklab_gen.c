/*
 * wijklab_gen.c - the wijklab workload generator; see wijklab_gen.h.
 *
 * The order of the draws is the whole specification: every r(n) below is
 * one draw of the device's stream, in exactly the order WORKLOAD.md §2-3
 * (and peers/lib/workload.mjs) make them.  Do not reorder anything.
 */
#include "wijklab_gen.h"

#include <stdlib.h>
#include <string.h>

#include <sodium.h>
#include <sqlite3.h>

const char *const wijklab_field_names[WIJKLAB_FIELDS] = {
	"street", "house_number", "knows_org", "contacted_before",
	"wish",	  "follow_up",	  "notes",     "visited_at",
};

const int wijklab_field_types[WIJKLAB_FIELDS] = {
	WIJKLAB_STR, WIJKLAB_INT, WIJKLAB_STR, WIJKLAB_BOOL,
	WIJKLAB_STR, WIJKLAB_STR, WIJKLAB_STR, WIJKLAB_INT,
};

#define NSTREETS 30
static const char *const streets[NSTREETS] = {
	"Kerkstraat",
	"Dorpsstraat",
	"Oude Molenweg",
	"Schoolstraat",
	"Stationsweg",
	"Julianastraat",
	"Wilhelminastraat",
	"Beatrixstraat",
	"Nieuwstraat",
	"Hoofdstraat",
	"Marktstraat",
	"Kastanjelaan",
	"Koningin Julianalaan",
	"Prinses Margrietstraat",
	"Parallelweg",
	"Oranjestraat",
	"Johan de Wittstraat",
	"Prins Hendrikstraat",
	"Burgemeester Visserstraat",
	"Van Goghstraat",
	"Rembrandtlaan",
	"Vondelstraat",
	"Spoorstraat",
	"Havenstraat",
	"Bloemenstraat",
	"Willem de Zwijgerlaan",
	"Zonnebloemstraat",
	"Korte Achterweg",
	"Lange Nieuwstraat",
	"Sint Janstraat",
};

#define NWORDS 40
static const char *const words[NWORDS] = {
	"meer",	     "groen",	  "in",	    "de",	   "wijk",
	"speeltuin", "bankjes",	  "veilig", "verlichting", "straat",
	"buren",     "contact",	  "hulp",   "ouderen",	   "jongeren",
	"fietspad",  "parkeren",  "afval",  "container",   "geluid",
	"overlast",  "bomen",	  "tuin",   "onderhoud",   "woning",
	"schimmel",  "lekkage",	  "huur",   "energie",	   "rekening",
	"isolatie",  "buurthuis", "koffie", "ochtend",	   "avond",
	"graag",     "niet",	  "wel",    "bellen",	   "langskomen",
};

static const char *const knows_org[3] = {"yes", "vaguely", "no"};
static const char *const follow_up[4] = {"none", "call", "visit", "repair"};

#define WISH_MAX 80
#define NOTES_MAX 120

uint32_t wijklab_next(uint32_t *state)
{
	uint32_t t;

	*state += 0x6D2B79F5u;
	t = *state;
	t = (t ^ (t >> 15)) * (t | 1u);
	t = (t + (t ^ (t >> 7)) * (t | 61u)) ^ t;
	return t ^ (t >> 14);
}

/* r(n): one draw, plain modulo. */
static uint32_t draw(uint32_t *state, uint32_t n)
{
	return wijklab_next(state) % n;
}

uint32_t wijklab_device_seed(uint32_t seed, int d)
{
	return seed + 0x9E3779B9u * (uint32_t)(d + 1);
}

void wijklab_record_id(int d, int i, char out[WIJKLAB_ID_LEN + 1])
{
	/* In range (d < WIJKLAB_W_MAX, i < WIJKLAB_R_MAX) the modulo changes
	 * nothing; it tells the compiler the id always fits. */
	snprintf(out, WIJKLAB_ID_LEN + 1, "d%03u-r%05u",
		 (unsigned)d % WIJKLAB_W_MAX, (unsigned)i % WIJKLAB_R_MAX);
}

int wijklab_edits(int R)
{
	return (int)((int64_t)R * 20 / 100);
}

int wijklab_deletes(int R)
{
	return (int)((int64_t)R * 2 / 100);
}

/* text(L): words while they fit in L chars; the draw that does not fit is
 * consumed.  out holds L + 1 bytes (L <= NOTES_MAX). */
static void text(uint32_t *st, uint32_t L, char *out)
{
	size_t len = 0;

	out[0] = 0;
	for (;;) { /* ends: every word adds >= 2 chars and L <= 120 */
		const char *w = words[draw(st, NWORDS)];
		size_t wl = strlen(w);
		size_t cl = len == 0 ? wl : len + 1 + wl;

		if (cl > L)
			return;
		if (len > 0)
			out[len++] = ' ';
		memcpy(out + len, w, wl + 1);
		len += wl;
	}
}

/* A new value of field f (WORKLOAD.md §2), drawn from st. */
static void gen_field(uint32_t *st, int f, struct wijklab_value *v)
{
	v->type = wijklab_field_types[f];
	v->i = 0;
	v->s[0] = 0;
	switch (f) {
	case 0:
		snprintf(v->s, sizeof(v->s), "%s", streets[draw(st, NSTREETS)]);
		break;
	case 1:
		v->i = 1 + draw(st, 200);
		break;
	case 2:
		snprintf(v->s, sizeof(v->s), "%s", knows_org[draw(st, 3)]);
		break;
	case 3:
		v->i = draw(st, 2) == 1;
		break;
	case 4:
		text(st, draw(st, WISH_MAX + 1), v->s);
		break;
	case 5:
		snprintf(v->s, sizeof(v->s), "%s", follow_up[draw(st, 4)]);
		break;
	case 6:
		text(st, draw(st, NOTES_MAX + 1), v->s);
		break;
	default: /* 7 */
		v->i = WIJKLAB_BASE_TS + draw(st, WIJKLAB_TS_RANGE);
		break;
	}
}

int wijklab_device_ops(uint32_t seed, int d, int R, wijklab_op_fn fn, void *ctx)
{
	uint32_t st = wijklab_device_seed(seed, d);
	int E = wijklab_edits(R), D = wijklab_deletes(R);
	struct wijklab_op op;
	int *perm, rc = 0;

	if (d < 0 || d >= WIJKLAB_W_MAX || R < 1 || R > WIJKLAB_R_MAX)
		return -1;
	perm = malloc((size_t)R * sizeof(*perm));
	if (!perm)
		return -1;
	memset(&op, 0, sizeof(op));
	op.device = d;
	/* 1. creates, every field in order */
	for (int i = 0; i < R && rc == 0; i++) {
		op.kind = WIJKLAB_CREATE;
		op.record = i;
		op.n = WIJKLAB_FIELDS;
		for (int f = 0; f < WIJKLAB_FIELDS; f++) {
			op.field[f] = f;
			gen_field(&st, f, &op.value[f]);
		}
		rc = fn(ctx, &op);
	}
	if (rc != 0)
		goto out;
	/* 2. Fisher-Yates, from the top */
	for (int i = 0; i < R; i++)
		perm[i] = i;
	for (int i = R - 1; i >= 1; i--) {
		int j = (int)draw(&st, (uint32_t)i + 1);
		int t = perm[i];

		perm[i] = perm[j];
		perm[j] = t;
	}
	/* 3. edits of 1 or 2 distinct fields: all draws of the field choice
	 * come before the value draws */
	for (int k = 0; k < E && rc == 0; k++) {
		int nf = 1 + (int)draw(&st, 2);
		int f1 = (int)draw(&st, 8);

		op.kind = WIJKLAB_EDIT;
		op.record = perm[k];
		op.n = nf;
		op.field[0] = f1;
		if (nf == 2)
			op.field[1] = (f1 + 1 + (int)draw(&st, 7)) % 8;
		for (int m = 0; m < nf; m++)
			gen_field(&st, op.field[m], &op.value[m]);
		rc = fn(ctx, &op);
	}
	/* 4. deletes: the records right after the edited ones in perm */
	for (int k = E; k < E + D && rc == 0; k++) {
		op.kind = WIJKLAB_DELETE;
		op.record = perm[k];
		op.n = 0;
		rc = fn(ctx, &op);
	}
out:
	free(perm);
	return rc;
}

/* --- the expected state --- */

/* One record, compactly: list strings point into the constant tables. */
struct record {
	const char *street, *knows, *follow;
	int64_t visited;
	int16_t house;
	uint8_t contacted, live;
	char wish[WISH_MAX + 1];
	char notes[NOTES_MAX + 1];
};

struct wijklab_state {
	int W, R;
	long live;
	struct record *rec; /* W * R, index d * R + i */
};

/* The table entry equal to s (values only ever come from the tables). */
static const char *intern(const char *const *list, int n, const char *s)
{
	for (int k = 0; k < n; k++)
		if (strcmp(list[k], s) == 0)
			return list[k];
	return NULL;
}

/* Copy a text value into a record slot of n bytes; -1 if it does not fit
 * (the generator never makes one that long). */
static int copy_text(char *dst, size_t n, const char *s)
{
	size_t len = strnlen(s, n);

	if (len == n)
		return -1;
	memcpy(dst, s, len + 1);
	return 0;
}

static int set_field(struct record *r, int f, const struct wijklab_value *v)
{
	switch (f) {
	case 0:
		r->street = intern(streets, NSTREETS, v->s);
		return r->street ? 0 : -1;
	case 1:
		r->house = (int16_t)v->i;
		return 0;
	case 2:
		r->knows = intern(knows_org, 3, v->s);
		return r->knows ? 0 : -1;
	case 3:
		r->contacted = (uint8_t)v->i;
		return 0;
	case 4:
		return copy_text(r->wish, sizeof(r->wish), v->s);
	case 5:
		r->follow = intern(follow_up, 4, v->s);
		return r->follow ? 0 : -1;
	case 6:
		return copy_text(r->notes, sizeof(r->notes), v->s);
	default:
		r->visited = v->i;
		return 0;
	}
}

static int apply_op(void *ctx, const struct wijklab_op *op)
{
	struct wijklab_state *st = ctx;
	struct record *r = &st->rec[(size_t)op->device * st->R + op->record];

	if (op->kind == WIJKLAB_DELETE) {
		st->live -= r->live;
		r->live = 0;
		return 0;
	}
	if (op->kind == WIJKLAB_CREATE) {
		st->live += !r->live;
		r->live = 1;
	}
	for (int k = 0; k < op->n; k++)
		if (set_field(r, op->field[k], &op->value[k]) < 0)
			return -1;
	return 0;
}

struct wijklab_state *wijklab_state_new(uint32_t seed, int W, int R)
{
	struct wijklab_state *st;

	if (W < 1 || W > WIJKLAB_W_MAX || R < 1 || R > WIJKLAB_R_MAX)
		return NULL;
	st = calloc(1, sizeof(*st));
	if (!st)
		return NULL;
	st->W = W;
	st->R = R;
	st->rec = calloc((size_t)W * R, sizeof(*st->rec));
	if (!st->rec) {
		free(st);
		return NULL;
	}
	for (int d = 0; d < W; d++) {
		if (wijklab_device_ops(seed, d, R, apply_op, st) != 0) {
			wijklab_state_free(st);
			return NULL;
		}
	}
	return st;
}

void wijklab_state_free(struct wijklab_state *st)
{
	if (!st)
		return;
	free(st->rec);
	free(st);
}

long wijklab_state_live(const struct wijklab_state *st)
{
	return st->live;
}

/* SQLite renders the JSON array exactly as JSON.stringify does for these
 * values: no spaces, integers in full, true/false via json(). */
static const char canon_sql[] =
	"SELECT json_array(?1, ?2, ?3, ?4, json(?5), ?6, ?7, ?8, ?9)";

int wijklab_state_digest(const struct wijklab_state *st, uint8_t out[32],
			 FILE *lines)
{
	crypto_hash_sha256_state h;
	sqlite3 *db = NULL;
	sqlite3_stmt *q = NULL;
	int rc = -1;

	if (sqlite3_open_v2(":memory:", &db, SQLITE_OPEN_READWRITE, NULL) !=
		    SQLITE_OK ||
	    sqlite3_prepare_v2(db, canon_sql, -1, &q, NULL) != SQLITE_OK)
		goto out;
	crypto_hash_sha256_init(&h);
	/* Ids are fixed-width, so (d, i) order is byte order. */
	for (int d = 0; d < st->W; d++) {
		for (int i = 0; i < st->R; i++) {
			const struct record *r =
				&st->rec[(size_t)d * st->R + i];
			char id[WIJKLAB_ID_LEN + 1];
			const unsigned char *line;
			int len;

			if (!r->live)
				continue;
			wijklab_record_id(d, i, id);
			sqlite3_reset(q);
			sqlite3_bind_text(q, 1, id, -1, SQLITE_STATIC);
			sqlite3_bind_text(q, 2, r->street, -1, SQLITE_STATIC);
			sqlite3_bind_int64(q, 3, r->house);
			sqlite3_bind_text(q, 4, r->knows, -1, SQLITE_STATIC);
			sqlite3_bind_text(q, 5, r->contacted ? "true" : "false",
					  -1, SQLITE_STATIC);
			sqlite3_bind_text(q, 6, r->wish, -1, SQLITE_STATIC);
			sqlite3_bind_text(q, 7, r->follow, -1, SQLITE_STATIC);
			sqlite3_bind_text(q, 8, r->notes, -1, SQLITE_STATIC);
			sqlite3_bind_int64(q, 9, r->visited);
			if (sqlite3_step(q) != SQLITE_ROW)
				goto out;
			line = sqlite3_column_text(q, 0);
			len = sqlite3_column_bytes(q, 0);
			if (!line)
				goto out;
			crypto_hash_sha256_update(&h, line, (size_t)len);
			crypto_hash_sha256_update(&h, (const uint8_t *)"\n", 1);
			if (lines && (fwrite(line, 1, (size_t)len, lines) !=
					      (size_t)len ||
				      fputc('\n', lines) == EOF))
				goto out;
		}
	}
	crypto_hash_sha256_final(&h, out);
	rc = 0;
out:
	sqlite3_finalize(q);
	sqlite3_close(db);
	return rc;
}
