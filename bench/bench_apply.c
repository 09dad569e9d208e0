/*
 * bench_apply.c - what a replica pays to apply a stream of survey ops.
 *
 * veld_replica_apply() is where every op a replica receives ends up: it
 * decodes and verifies the op, checks the author's chain and enrolment,
 * stores it and refolds the records the batch touched, in one durable
 * SQLite transaction per batch.  bench_op measures the op functions alone;
 * this program measures the whole apply path on a realistic stream into a
 * real file (WAL, synchronous=FULL: the store's own settings), and reports
 * it against raw crypto_sign_verify_detached() per op measured in the same
 * run, the floor no receive path can go below.
 *
 * The traffic: a root key enrols BENCH_DEVICES field devices (through a
 * "server" replica, exactly as veldd would), then the devices make ops in
 * an interleaved stream: new survey records (a put of ~8 fields with area
 * and form, ~250-byte body), edits of one of the device's recent records
 * (a put naming the value it replaces in "pred"), notes and deletes
 * ({"seen": [...]}).  Each device keeps its own chain (seq, prev) and a
 * window of BENCH_RECENT records it may still touch, so the generator's
 * memory does not grow with --n; neither does the benchmark's: ops are
 * made one batch at a time and dropped once applied.  The stream comes
 * from a fixed-seed PRNG, so every run applies the same kind of traffic.
 *
 * Each batch is applied to two fresh replicas, one with verified=0 (apply
 * checks every signature) and one with verified=1 (signatures already
 * checked: the store and merge cost alone), and its signatures are also
 * checked with raw crypto_sign_verify_detached().  Only these three calls
 * are timed; making the ops is not.  The three run in turn for every batch,
 * in an order that rotates from batch to batch, so that a slow stretch of
 * the machine falls on all of them alike (the interleaving of bench_op).
 * The whole run is split into BENCH_ROUNDS rounds of consecutive batches;
 * the headline figures are over the whole run, because apply gets slower
 * as the store grows and the best round would simply be the first.
 *
 * Every op must come back VELD_APPLY_APPLIED, and both replicas must end
 * with the same state hash (same ops, same state: the verified flag must
 * not change the outcome); anything else stops the program with exit 1.
 *
 * Usage: bench_apply [--n N] [--batch B] [--dir DIR] [--json FILE]
 *                    [--max-ratio X]
 * Exit codes: 0 ok; 1 an op was not applied, the store failed, the state
 * hashes differ, the run was interrupted, the JSON file could not be
 * written or the ratio limit was exceeded; 2 bad usage or libsodium failed
 * to start.
 */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include <msgpack.h>
#include <sodium.h>

#include "buf.h"
#include "err.h"
#include "hlc.h"
#include "key.h"
#include "op.h"
#include "replica.h"
#include "store.h"

#define BENCH_N_DEFAULT 100000
#define BENCH_N_MAX 10000000 /* a bound, so that --n cannot run for days */
#define BENCH_BATCH_DEFAULT 500
#define BENCH_BATCH_MAX 10000
#define BENCH_ROUNDS 10	 /* consecutive stretches of batches */
#define BENCH_DEVICES 20 /* field devices writing */
#define BENCH_RECENT 64	 /* records a device may still edit or delete */
#define BENCH_FIELDS 8	 /* fields of a survey record */
#define BENCH_SEED UINT64_C(0x7665656c64776b31) /* the stream's PRNG seed */
/* The stream starts a week ago and spreads over six days of clock. */
#define BENCH_PAST_MS (UINT64_C(7) * 24 * 3600 * 1000)
#define BENCH_SPAN_MS (UINT64_C(6) * 24 * 3600 * 1000)
#define BENCH_MSG_MAX (VELD_DS_LEN(VELD_DS_SIG) + VELD_HEADER_MAX)

#define BENCH_EXIT_FAIL 1
#define BENCH_EXIT_USAGE 2

/* Set by SIGINT/SIGTERM: stop after the current batch and clean up. */
static volatile sig_atomic_t bench_stop;

/* --- what survey traffic looks like --- */

/* Field names of a record, in ascending byte order (canon.h). */
static const char *const bench_field_names[BENCH_FIELDS] = {
	"enumerator", "house_no", "need",   "q_crops",
	"q_members",  "q_water",  "street", "village",
};
enum {
	F_ENUMERATOR,
	F_HOUSE_NO,
	F_NEED,
	F_CROPS,
	F_MEMBERS,
	F_WATER,
	F_STREET,
	F_VILLAGE
};
/* Fields an edit may change (not who asked, nor where). */
static const int bench_editable[] = {F_HOUSE_NO, F_NEED,  F_CROPS,
				     F_MEMBERS,	 F_WATER, F_STREET};
#define BENCH_NEDITABLE (sizeof(bench_editable) / sizeof(bench_editable[0]))

static const char *const bench_areas[] = {"kilimani", "majengo", "rau",
					  "soweto"};
static const char *const bench_streets[] = {
	"Kilimani Road", "Mawenzi Street", "Boma Road",	 "Rindi Lane",
	"Kibo Road",	 "Mji Mpya",	   "Sokoine Rd", "Market Street",
};
static const char *const bench_crops[] = {
	"maize, beans", "bananas, coffee", "maize",	     "none",
	"rice",		"sunflower",	   "beans, cassava",
};
static const char *const bench_water[] = {
	"piped, own tap", "piped, shared tap", "well", "borehole", "river",
};
/* Free text of ~80 characters, as enumerators type it. */
static const char *const bench_needs[] = {
	"Roof leaks over the sleeping room; family asks for iron sheets "
	"before the rains.",
	"Grandmother cares for four school-age children, needs help with "
	"fees and uniforms.",
	"Latrine shared by three households has collapsed; urgent referral "
	"to ward office.",
	"Father injured at work, no income for two months; food support "
	"until he recovers.",
	"Water tap broken since March, household walks 2 km to borehole "
	"twice every day.",
	"Child with disability not attending school; refer to district "
	"social welfare.",
};
static const char *const bench_notes[] = {
	"Nobody home, left a card; revisit Thursday morning.",
	"Household head asked to be called before the next visit.",
	"Dog on premises, enter from the side gate.",
	"Neighbour says family moved to the next plot temporarily.",
	"Follow-up done, referral letter handed over.",
};
#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

/* --- options --- */

struct bench_opts {
	size_t n;
	size_t batch;
	const char *dir;  /* where the temporary directory goes */
	const char *json; /* NULL: no JSON output */
	double max_ratio; /* 0: no limit */
};

/* --- the generator: deterministic survey traffic, one batch at a time --- */

struct gen_record {
	uint8_t id[VELD_RECORD_LEN];
	/* Id of the op whose value each field currently shows. */
	uint8_t val[BENCH_FIELDS][VELD_HASH_LEN];
};

struct gen_device {
	struct veld_key key;
	char name[16];
	const char *area;
	uint64_t seq;		     /* last seq signed */
	uint8_t head[VELD_HASH_LEN]; /* id of that op */
	struct gen_record recent[BENCH_RECENT];
	size_t nrecent; /* live entries of recent */
	size_t evict;	/* next entry a new record replaces when full */
};

enum gen_kind { K_NEW, K_EDIT, K_NOTE, K_DELETE, K_COUNT };

struct gen {
	uint64_t rng;	  /* splitmix64 state */
	uint64_t t0_ms;	  /* the clock of the enrolments */
	uint64_t step_ms; /* clock advance per op */
	size_t made;	  /* ops made so far */
	size_t kinds[K_COUNT];
	uint64_t body_bytes[K_COUNT]; /* sums, by kind */
	struct gen_device dev[BENCH_DEVICES];
	struct veld_buf body; /* scratch */
};

/* One batch, as the replicas receive it, plus the raw verify's inputs. */
struct bench_msg {
	uint8_t msg[BENCH_MSG_MAX]; /* VELD_DS_SIG || header */
	size_t len;
	uint8_t sig[VELD_SIG_LEN];
	uint8_t pk[VELD_PK_LEN];
};

struct batch {
	size_t n;
	struct veld_buf ops;  /* the ops' bytes, back to back */
	size_t *off;	      /* where op i starts in ops */
	struct veld_bytes *b; /* op i, as apply takes it */
	struct veld_apply_result *res;
	struct bench_msg *msg;
};

static uint64_t rng_next(uint64_t *s)
{
	uint64_t z = (*s += UINT64_C(0x9e3779b97f4a7c15));

	z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
	z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
	return z ^ (z >> 31);
}

static size_t rng_below(uint64_t *s, size_t n)
{
	return (size_t)(rng_next(s) % n);
}

static void rng_bytes(uint64_t *s, uint8_t *p, size_t n)
{
	while (n) {
		uint64_t v = rng_next(s);
		size_t k = n < sizeof(v) ? n : sizeof(v);

		memcpy(p, &v, k);
		p += k;
		n -= k;
	}
}

static int pack_str(msgpack_packer *pk, const char *s)
{
	return msgpack_pack_str_with_body(pk, s, strlen(s));
}

static const char *pick(uint64_t *rng, const char *const *pool, size_t n)
{
	return pool[rng_below(rng, n)];
}

/* Pack a plausible value for field f of a record of device d. */
static int pack_value(struct gen *g, const struct gen_device *d, int f,
		      msgpack_packer *pk)
{
	char house[16];

	switch (f) {
	case F_CROPS:
		return pack_str(pk,
				pick(&g->rng, bench_crops, COUNT(bench_crops)));
	case F_MEMBERS:
		return msgpack_pack_uint8(
			pk, (uint8_t)(1 + rng_below(&g->rng, 12)));
	case F_WATER:
		return pack_str(pk,
				pick(&g->rng, bench_water, COUNT(bench_water)));
	case F_ENUMERATOR:
		return pack_str(pk, d->name);
	case F_HOUSE_NO:
		snprintf(house, sizeof(house), "%zu%s",
			 1 + rng_below(&g->rng, 240),
			 rng_below(&g->rng, 4) ? "" : "A");
		return pack_str(pk, house);
	case F_NEED:
		return pack_str(pk,
				pick(&g->rng, bench_needs, COUNT(bench_needs)));
	case F_STREET:
		return pack_str(
			pk, pick(&g->rng, bench_streets, COUNT(bench_streets)));
	default:
		return pack_str(pk, d->area);
	}
}

/* Begin a body in g->body: salt, then a map of n entries. */
static void body_begin(struct gen *g, msgpack_packer *pk, size_t n)
{
	uint8_t salt[VELD_SALT_LEN];

	veld_buf_reset(&g->body);
	veld_buf_packer_init(pk, &g->body);
	rng_bytes(&g->rng, salt, sizeof(salt));
	if (veld_body_begin(pk, salt) < 0 || msgpack_pack_map(pk, n) < 0) {
		/* g->body.err says why; checked once the body is done */
	}
}

/* {"area", "form", "set": {every field}} */
static void body_new(struct gen *g, const struct gen_device *d)
{
	msgpack_packer pk;

	body_begin(g, &pk, 3);
	pack_str(&pk, "area");
	pack_str(&pk, d->area);
	pack_str(&pk, "form");
	pack_str(&pk, "household");
	pack_str(&pk, "set");
	msgpack_pack_map(&pk, BENCH_FIELDS);
	for (int f = 0; f < BENCH_FIELDS; f++) {
		pack_str(&pk, bench_field_names[f]);
		pack_value(g, d, f, &pk);
	}
}

/* {"pred": {field: [id]}, "set": {field: value}} for fields f[0] < f[1] */
static void body_edit(struct gen *g, const struct gen_device *d,
		      const struct gen_record *rec, const int *f, size_t nf)
{
	msgpack_packer pk;

	body_begin(g, &pk, 2);
	pack_str(&pk, "pred");
	msgpack_pack_map(&pk, nf);
	for (size_t i = 0; i < nf; i++) {
		pack_str(&pk, bench_field_names[f[i]]);
		msgpack_pack_array(&pk, 1);
		msgpack_pack_bin_with_body(&pk, rec->val[f[i]], VELD_HASH_LEN);
	}
	pack_str(&pk, "set");
	msgpack_pack_map(&pk, nf);
	for (size_t i = 0; i < nf; i++) {
		pack_str(&pk, bench_field_names[f[i]]);
		pack_value(g, d, f[i], &pk);
	}
}

static void body_note(struct gen *g)
{
	msgpack_packer pk;

	body_begin(g, &pk, 1);
	pack_str(&pk, "text");
	pack_str(&pk, pick(&g->rng, bench_notes, COUNT(bench_notes)));
}

/* {"seen": [every distinct op whose value the record shows]} */
static void body_delete(struct gen *g, const struct gen_record *rec)
{
	const uint8_t *seen[BENCH_FIELDS];
	msgpack_packer pk;
	size_t n = 0;

	for (int f = 0; f < BENCH_FIELDS; f++) {
		size_t k = 0;

		while (k < n && memcmp(seen[k], rec->val[f], VELD_HASH_LEN))
			k++;
		if (k == n)
			seen[n++] = rec->val[f];
	}
	body_begin(g, &pk, 1);
	pack_str(&pk, "seen");
	msgpack_pack_array(&pk, n);
	for (size_t i = 0; i < n; i++)
		msgpack_pack_bin_with_body(&pk, seen[i], VELD_HASH_LEN);
}

static void gen_init(struct gen *g, uint64_t t0_ms, size_t n)
{
	uint8_t seed[VELD_SEED_LEN];

	memset(g, 0, sizeof(*g));
	g->rng = BENCH_SEED;
	g->t0_ms = t0_ms;
	g->step_ms = BENCH_SPAN_MS / n ? BENCH_SPAN_MS / n : 1;
	veld_buf_init(&g->body, VELD_BODY_MAX);
	for (size_t i = 0; i < BENCH_DEVICES; i++) {
		struct gen_device *d = &g->dev[i];

		rng_bytes(&g->rng, seed, sizeof(seed));
		veld_key_from_seed(&d->key, seed);
		snprintf(d->name, sizeof(d->name), "field-%02zu", i + 1);
		d->area = bench_areas[i % COUNT(bench_areas)];
	}
	sodium_memzero(seed, sizeof(seed));
}

static void gen_release(struct gen *g)
{
	for (size_t i = 0; i < BENCH_DEVICES; i++)
		veld_key_release(&g->dev[i].key);
	veld_buf_release(&g->body);
}

/* Choose what device d does next; *slot is the recent record it touches. */
static enum gen_kind gen_choose(struct gen *g, struct gen_device *d,
				size_t *slot)
{
	size_t r = rng_below(&g->rng, 100);

	if (d->nrecent == 0 || r >= 42)
		return K_NEW;
	*slot = rng_below(&g->rng, d->nrecent);
	if (r < 30)
		return K_EDIT;
	if (r < 40)
		return K_NOTE;
	return K_DELETE;
}

/*
 * Make the next op of the stream and append its bytes to out; 0 or the
 * VELD_E* code of veld_op_create (a generator bug: the program stops).
 */
static int gen_op(struct gen *g, struct veld_buf *out)
{
	struct gen_device *d = &g->dev[rng_below(&g->rng, BENCH_DEVICES)];
	struct gen_record *rec = NULL, fresh;
	struct veld_op_header h;
	uint8_t id[VELD_HASH_LEN];
	size_t slot = 0, nf = 0;
	int f[2], rc;
	enum gen_kind kind = gen_choose(g, d, &slot);

	memset(&h, 0, sizeof(h));
	switch (kind) {
	case K_NEW:
		rec = &fresh;
		rng_bytes(&g->rng, rec->id, VELD_RECORD_LEN);
		body_new(g, d);
		h.kind = VELD_KIND_PUT;
		break;
	case K_EDIT:
		rec = &d->recent[slot];
		/* One field, sometimes two (distinct, in name order). */
		f[nf++] = bench_editable[rng_below(&g->rng, BENCH_NEDITABLE)];
		if (rng_below(&g->rng, 3) == 0) {
			int o = bench_editable[rng_below(&g->rng,
							 BENCH_NEDITABLE)];
			if (o != f[0])
				f[nf++] = o;
			if (nf == 2 && f[1] < f[0]) {
				f[1] = f[0];
				f[0] = o;
			}
		}
		body_edit(g, d, rec, f, nf);
		h.kind = VELD_KIND_PUT;
		break;
	case K_NOTE:
		rec = &d->recent[slot];
		body_note(g);
		h.kind = VELD_KIND_NOTE;
		break;
	default:
		rec = &d->recent[slot];
		body_delete(g, rec);
		h.kind = VELD_KIND_DELETE;
		break;
	}
	if (g->body.err)
		return g->body.err;

	h.seq = d->seq + 1;
	h.has_prev = d->seq > 0;
	memcpy(h.prev, d->head, VELD_HASH_LEN);
	/* Every op a later clock than the one before: edits and deletes come
	 * after what they name, as they would in the field. */
	h.hlc = VELD_HLC_MAKE(g->t0_ms + 1 + (uint64_t)g->made * g->step_ms, 0);
	memcpy(h.record, rec->id, VELD_RECORD_LEN);
	rc = veld_op_create(&d->key, &h, g->body.data, g->body.len, out, id);
	if (rc < 0)
		return rc;

	d->seq = h.seq;
	memcpy(d->head, id, VELD_HASH_LEN);
	g->made++;
	g->kinds[kind]++;
	g->body_bytes[kind] += g->body.len;
	switch (kind) {
	case K_NEW:
		for (int i = 0; i < BENCH_FIELDS; i++)
			memcpy(rec->val[i], id, VELD_HASH_LEN);
		if (d->nrecent < BENCH_RECENT) {
			d->recent[d->nrecent++] = *rec;
		} else {
			d->recent[d->evict] = *rec;
			d->evict = (d->evict + 1) % BENCH_RECENT;
		}
		break;
	case K_EDIT:
		for (size_t i = 0; i < nf; i++)
			memcpy(rec->val[f[i]], id, VELD_HASH_LEN);
		break;
	case K_DELETE:
		/* Deleted: no more edits; the last entry takes its place. */
		d->recent[slot] = d->recent[--d->nrecent];
		if (d->evict >= d->nrecent)
			d->evict = 0;
		break;
	default:
		break;
	}
	return 0;
}

/* --- batches --- */

static int batch_init(struct batch *b, size_t cap)
{
	memset(b, 0, sizeof(*b));
	veld_buf_init(&b->ops, cap * VELD_OP_MAX);
	b->off = calloc(cap, sizeof(*b->off));
	b->b = calloc(cap, sizeof(*b->b));
	b->res = calloc(cap, sizeof(*b->res));
	b->msg = calloc(cap, sizeof(*b->msg));
	return b->off && b->b && b->res && b->msg ? 0 : VELD_ENOMEM;
}

static void batch_release(struct batch *b)
{
	veld_buf_release(&b->ops);
	free(b->off);
	free(b->b);
	free(b->res);
	free(b->msg);
	memset(b, 0, sizeof(*b));
}

/*
 * Make the next n ops of the stream into b, with the signed message of
 * each for the raw verify.  Not timed.  0 or a VELD_E* code.
 */
static int batch_make(struct gen *g, struct batch *b, size_t n)
{
	int rc;

	veld_buf_reset(&b->ops);
	b->n = 0;
	for (size_t i = 0; i < n; i++) {
		b->off[i] = b->ops.len;
		rc = gen_op(g, &b->ops);
		if (rc < 0) {
			fprintf(stderr,
				"bench_apply: making op %zu failed: %s (%s)\n",
				g->made, veld_strerror(rc), veld_err_name(rc));
			return rc;
		}
	}
	/* Pointers only now: appending may have moved the bytes. */
	for (size_t i = 0; i < n; i++) {
		struct bench_msg *m = &b->msg[i];
		struct veld_op op;

		b->b[i].p = b->ops.data + b->off[i];
		b->b[i].len =
			(i + 1 < n ? b->off[i + 1] : b->ops.len) - b->off[i];
		rc = veld_op_decode(b->b[i].p, b->b[i].len, &op);
		if (rc < 0) {
			fprintf(stderr,
				"bench_apply: decoding a made op failed: %s "
				"(%s)\n",
				veld_strerror(rc), veld_err_name(rc));
			return rc;
		}
		m->len = VELD_DS_LEN(VELD_DS_SIG) + op.header_len;
		memcpy(m->msg, VELD_DS_SIG, VELD_DS_LEN(VELD_DS_SIG));
		memcpy(m->msg + VELD_DS_LEN(VELD_DS_SIG), op.header,
		       op.header_len);
		memcpy(m->sig, op.sig, VELD_SIG_LEN);
		memcpy(m->pk, op.h.author, VELD_PK_LEN);
	}
	b->n = n;
	return 0;
}

/* --- measurements --- */

enum bench_id { B_APPLY, B_TRUSTED, B_RAW, B_COUNT };

struct bench_result {
	const char *name; /* for the table */
	const char *key;  /* for JSON */
	uint64_t total_ns;
	uint64_t round_ns[BENCH_ROUNDS];
	uint64_t max_batch_ns;
};

struct bench_ctx {
	size_t n, batch, nbatches, rounds;
	size_t round_ops[BENCH_ROUNDS];
	struct veld_replica *rep[2]; /* [B_APPLY] verify, [B_TRUSTED] not */
	struct batch cur;
	struct bench_result r[B_COUNT];
	long rss_round1; /* KiB, peak after the first round */
};

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * UINT64_C(1000000000) +
	       (uint64_t)ts.tv_nsec;
}

static const char *status_name(int status)
{
	static const char *const names[] = {"applied", "duplicate", "held",
					    "void", "refused"};

	return status >= 0 && status < (int)COUNT(names) ? names[status]
							 : "unknown";
}

/* 0 if every op of the batch was applied, else say which was not. */
static int check_results(const struct bench_ctx *c, int which, size_t first)
{
	const struct batch *b = &c->cur;

	for (size_t i = 0; i < b->n; i++) {
		const struct veld_apply_result *res = &b->res[i];
		struct veld_op op;

		if (res->status == VELD_APPLY_APPLIED)
			continue;
		if (veld_op_decode(b->b[i].p, b->b[i].len, &op) < 0)
			memset(&op, 0, sizeof(op));
		fprintf(stderr,
			"bench_apply: %s: op %zu (%s, seq %" PRIu64
			") was not applied: %s, %s (%s)\n",
			c->r[which].name, first + i, veld_kind_name(op.h.kind),
			op.h.seq, status_name(res->status),
			veld_err_name(res->err), veld_strerror(res->err));
		return BENCH_EXIT_FAIL;
	}
	return 0;
}

/* Time one measurement over the current batch; 0 or BENCH_EXIT_FAIL. */
static int measure(struct bench_ctx *c, int which, size_t first, uint64_t *ns)
{
	struct batch *b = &c->cur;
	uint64_t t0;
	int rc = 0;

	if (which == B_RAW) {
		size_t i;

		t0 = now_ns();
		for (i = 0; i < b->n; i++) {
			const struct bench_msg *m = &b->msg[i];

			if (crypto_sign_verify_detached(m->sig, m->msg, m->len,
							m->pk) != 0)
				break;
		}
		*ns = now_ns() - t0;
		if (i < b->n) {
			fprintf(stderr,
				"bench_apply: raw verify: op %zu does not "
				"verify\n",
				first + i);
			return BENCH_EXIT_FAIL;
		}
		return 0;
	}
	memset(b->res, 0xff, b->n * sizeof(*b->res));
	t0 = now_ns();
	rc = veld_replica_apply(c->rep[which], b->b, b->n, which == B_TRUSTED,
				b->res);
	*ns = now_ns() - t0;
	if (rc < 0) {
		fprintf(stderr,
			"bench_apply: %s: batch at op %zu failed: %s "
			"(%s): %s\n",
			c->r[which].name, first, veld_strerror(rc),
			veld_err_name(rc),
			veld_store_errmsg(veld_replica_store(c->rep[which])));
		return BENCH_EXIT_FAIL;
	}
	return check_results(c, which, first);
}

static long peak_rss_kib(void)
{
	struct rusage ru;

	if (getrusage(RUSAGE_SELF, &ru) != 0)
		return -1;
	return ru.ru_maxrss; /* KiB on Linux */
}

/*
 * Make and apply the whole stream, batch by batch; 0 or BENCH_EXIT_FAIL.
 * The three measurements of a batch run in an order that rotates from one
 * batch to the next, so that none of them always runs first (cold caches)
 * or last.
 */
static int bench_run(struct bench_ctx *c, struct gen *g)
{
	size_t first = 0, k = 0;

	while (first < c->n) {
		size_t count =
			c->n - first < c->batch ? c->n - first : c->batch;
		size_t round = k * c->rounds / c->nbatches;

		if (bench_stop) {
			fprintf(stderr, "bench_apply: interrupted\n");
			return BENCH_EXIT_FAIL;
		}
		if (batch_make(g, &c->cur, count) < 0)
			return BENCH_EXIT_FAIL;
		for (int j = 0; j < B_COUNT; j++) {
			int which = (int)((k + (size_t)j) % B_COUNT);
			struct bench_result *r = &c->r[which];
			uint64_t ns;

			if (measure(c, which, first, &ns) != 0)
				return BENCH_EXIT_FAIL;
			r->total_ns += ns;
			r->round_ns[round] += ns;
			if (ns > r->max_batch_ns)
				r->max_batch_ns = ns;
		}
		c->round_ops[round] += count;
		first += count;
		k++;
		if (round == 0 && k * c->rounds / c->nbatches > 0)
			c->rss_round1 = peak_rss_kib();
	}
	return 0;
}

/* --- enrolment: the root enrols every device, through a server replica --- */

struct framed {
	struct veld_buf ops;
	size_t off[BENCH_DEVICES + 1];
	size_t n;
};

static int frame_one(void *ctx, const struct veld_stored_op *op)
{
	struct framed *f = ctx;

	if (f->n == COUNT(f->off))
		return VELD_ETOOBIG;
	f->off[f->n++] = f->ops.len;
	return veld_op_frame(op->header, op->header_len, op->sig, op->body,
			     op->body_len, &f->ops);
}

static uint64_t fixed_wall(void *ctx)
{
	return *(const uint64_t *)ctx;
}

/*
 * The server (root key, in memory, its clock held at g->t0_ms) enrols
 * every device; its log is then shipped to both replicas as one batch, as
 * a sync would.  Not timed.  0 or BENCH_EXIT_FAIL.
 */
static int enrol(struct bench_ctx *c, struct gen *g,
		 const struct veld_key *root)
{
	struct veld_replica *server = NULL;
	struct framed f;
	struct veld_bytes b[COUNT(f.off)];
	struct veld_apply_result res[COUNT(f.off)];
	int rc, ret = BENCH_EXIT_FAIL;

	memset(&f, 0, sizeof(f));
	veld_buf_init(&f.ops, COUNT(f.off) * VELD_OP_MAX);
	rc = veld_replica_open(":memory:", root, root->pk, &server);
	if (rc < 0) {
		fprintf(stderr,
			"bench_apply: cannot open the server replica: "
			"%s\n",
			veld_strerror(rc));
		goto out;
	}
	veld_replica_set_wall(server, fixed_wall, &g->t0_ms);
	for (size_t i = 0; i < BENCH_DEVICES && rc == 0; i++)
		rc = veld_replica_device(server, g->dev[i].key.pk, "field",
					 g->dev[i].name, g->dev[i].area, 0,
					 NULL);
	if (rc == 0)
		rc = veld_store_ops_since(veld_replica_store(server), 0,
					  INT_MAX, frame_one, &f);
	if (rc < 0) {
		fprintf(stderr, "bench_apply: enrolment failed: %s (%s)\n",
			veld_strerror(rc), veld_err_name(rc));
		goto out;
	}
	for (size_t i = 0; i < f.n; i++) {
		b[i].p = f.ops.data + f.off[i];
		b[i].len = (i + 1 < f.n ? f.off[i + 1] : f.ops.len) - f.off[i];
	}
	for (int which = 0; which < 2; which++) {
		rc = veld_replica_apply(c->rep[which], b, f.n, 0, res);
		if (rc < 0) {
			fprintf(stderr,
				"bench_apply: shipping the enrolments failed: "
				"%s (%s)\n",
				veld_strerror(rc), veld_err_name(rc));
			goto out;
		}
		for (size_t i = 0; i < f.n; i++) {
			if (res[i].status == VELD_APPLY_APPLIED)
				continue;
			fprintf(stderr,
				"bench_apply: enrolment op %zu was not "
				"applied: %s, %s (%s)\n",
				i, status_name(res[i].status),
				veld_err_name(res[i].err),
				veld_strerror(res[i].err));
			goto out;
		}
	}
	ret = 0;
out:
	veld_replica_close(server);
	veld_buf_release(&f.ops);
	return ret;
}

/* --- files --- */

struct bench_files {
	char dir[PATH_MAX];
	char db[2][PATH_MAX + 32];
	const char *fs; /* file system type, for the report */
	int made;	/* dir exists */
};

static const char *fs_name(const char *path)
{
	static const struct {
		unsigned long magic;
		const char *name;
	} known[] = {
		{0xef53, "ext4"},	   {0x01021994, "tmpfs"},
		{0x58465342, "xfs"},	   {0x9123683e, "btrfs"},
		{0x794c7630, "overlayfs"}, {0x6969, "nfs"},
		{0x2fc12fc1, "zfs"},	   {0x65735546, "fuse"},
		{0x858458f6, "ramfs"},	   {0x4d44, "vfat"},
		{0xf2f52010, "f2fs"},	   {0x5346544e, "ntfs"},
	};
	struct statfs st;

	if (statfs(path, &st) != 0)
		return "unknown";
	for (size_t i = 0; i < COUNT(known); i++)
		if ((unsigned long)st.f_type == known[i].magic)
			return known[i].name;
	return "other";
}

/* Make base/bench_apply.XXXXXX; 0 or BENCH_EXIT_FAIL. */
static int files_make(struct bench_files *fl, const char *base)
{
	static const char *const names[2] = {"apply-verify.db",
					     "apply-trusted.db"};
	char tmp[PATH_MAX], cwd[PATH_MAX];
	int len;

	memset(fl, 0, sizeof(*fl));
	len = snprintf(tmp, sizeof(tmp), "%s/bench_apply.XXXXXX", base);
	if (len < 0 || (size_t)len >= sizeof(tmp) - 32) {
		fprintf(stderr, "bench_apply: directory name too long: '%s'\n",
			base);
		return BENCH_EXIT_FAIL;
	}
	if (!mkdtemp(tmp)) {
		fprintf(stderr,
			"bench_apply: cannot create a directory in "
			"'%s': %s\n",
			base, strerror(errno));
		return BENCH_EXIT_FAIL;
	}
	fl->made = 1;
	/* An absolute path, for the report (so that "." means something). */
	if (tmp[0] == '/' || !getcwd(cwd, sizeof(cwd)) ||
	    snprintf(fl->dir, sizeof(fl->dir), "%s/%s", cwd,
		     strncmp(tmp, "./", 2) == 0 ? tmp + 2 : tmp) >=
		    (int)sizeof(fl->dir))
		memcpy(fl->dir, tmp, (size_t)len + 1);
	for (int i = 0; i < 2; i++)
		snprintf(fl->db[i], sizeof(fl->db[i]), "%s/%s", fl->dir,
			 names[i]);
	fl->fs = fs_name(fl->dir);
	return 0;
}

static long long file_size(const char *path, const char *suffix)
{
	char p[PATH_MAX + 48];
	struct stat st;

	snprintf(p, sizeof(p), "%s%s", path, suffix);
	return stat(p, &st) == 0 ? (long long)st.st_size : 0;
}

/* Remove the stores and the directory; the replicas must be closed. */
static void files_remove(struct bench_files *fl)
{
	static const char *const suffixes[] = {"", "-wal", "-shm", "-journal"};
	char p[PATH_MAX + 48];

	if (!fl->made)
		return;
	for (int i = 0; i < 2; i++)
		for (size_t s = 0; s < COUNT(suffixes); s++) {
			snprintf(p, sizeof(p), "%s%s", fl->db[i], suffixes[s]);
			if (unlink(p) != 0 && errno != ENOENT)
				fprintf(stderr,
					"bench_apply: cannot remove '%s': "
					"%s\n",
					p, strerror(errno));
		}
	if (rmdir(fl->dir) != 0)
		fprintf(stderr, "bench_apply: cannot remove '%s': %s\n",
			fl->dir, strerror(errno));
	fl->made = 0;
}

/* --- report --- */

struct bench_report {
	long long db_bytes[2], wal_bytes[2];
	int64_t log_ops[2];
	uint8_t hash[2][VELD_HASH_LEN];
	char hash_hex[2][2 * VELD_HASH_LEN + 1];
	long rss_end;
};

static double us_per_op(uint64_t ns, size_t ops)
{
	return ops ? (double)ns / 1e3 / (double)ops : 0;
}

static double ops_per_s(uint64_t ns, size_t ops)
{
	/* A zero interval is below the clock's resolution, not infinite. */
	return (double)ops * 1e9 / (double)(ns ? ns : 1);
}

static double mean_us(const struct bench_ctx *c, int which)
{
	return us_per_op(c->r[which].total_ns, c->n);
}

static double round_us(const struct bench_ctx *c, int which, size_t round)
{
	return us_per_op(c->r[which].round_ns[round], c->round_ops[round]);
}

static double best_round_us(const struct bench_ctx *c, int which)
{
	double best = -1;

	for (size_t i = 0; i < c->rounds; i++)
		if (c->round_ops[i] &&
		    (best < 0 || round_us(c, which, i) < best))
			best = round_us(c, which, i);
	return best;
}

static double ratio_to_raw(const struct bench_ctx *c, int which)
{
	double raw = mean_us(c, B_RAW);

	return mean_us(c, which) / (raw > 0 ? raw : 1e-9);
}

/* The signature check inside apply, in raw verifies. */
static double verify_share(const struct bench_ctx *c)
{
	double raw = mean_us(c, B_RAW);

	return (mean_us(c, B_APPLY) - mean_us(c, B_TRUSTED)) /
	       (raw > 0 ? raw : 1e-9);
}

static double mb(long long bytes)
{
	return (double)bytes / 1e6;
}

static double body_mean(const struct gen *g, int kind)
{
	uint64_t sum = 0;
	size_t n = 0;

	for (int k = 0; k < K_COUNT; k++) {
		if (kind >= 0 && k != kind)
			continue;
		sum += g->body_bytes[k];
		n += g->kinds[k];
	}
	return n ? (double)sum / (double)n : 0;
}

static void print_report(const struct bench_ctx *c, const struct gen *g,
			 const struct bench_files *fl,
			 const struct bench_report *rep)
{
	printf("bench_apply: n=%zu ops in %zu batches of up to %zu "
	       "(one transaction each), %zu rounds\n",
	       c->n, c->nbatches, c->batch, c->rounds);
	printf("traffic: %d field devices, enrolled by the root first (%d "
	       "ops, not timed);\n",
	       BENCH_DEVICES, BENCH_DEVICES);
	printf("  %zu new records, %zu edits, %zu notes, %zu deletes\n",
	       g->kinds[K_NEW], g->kinds[K_EDIT], g->kinds[K_NOTE],
	       g->kinds[K_DELETE]);
	printf("  body bytes (mean): new %.0f, edit %.0f, note %.0f, delete "
	       "%.0f, all %.0f\n",
	       body_mean(g, K_NEW), body_mean(g, K_EDIT), body_mean(g, K_NOTE),
	       body_mean(g, K_DELETE), body_mean(g, -1));
	printf("stores: %s (%s), WAL + synchronous=FULL, removed "
	       "afterwards\n\n",
	       fl->dir, fl->fs);
	/* "µ" is two bytes but one column, hence 11 for a 10-column field. */
	printf("%-20s %11s %10s %15s %15s %13s\n", "measure", "\xc2\xb5s/op",
	       "ops/s", "best rnd \xc2\xb5s", "last rnd \xc2\xb5s",
	       "max batch ms");
	for (int i = 0; i < B_COUNT; i++)
		printf("%-20s %10.2f %10.0f %14.2f %14.2f %13.2f\n",
		       c->r[i].name, mean_us(c, i),
		       ops_per_s(c->r[i].total_ns, c->n), best_round_us(c, i),
		       round_us(c, i, c->rounds - 1),
		       (double)c->r[i].max_batch_ns / 1e6);
	printf("\n%-48s %6.2f\n", "apply (verify) / raw verify",
	       ratio_to_raw(c, B_APPLY));
	printf("%-48s %6.2f\n", "apply (verified=1) / raw verify",
	       ratio_to_raw(c, B_TRUSTED));
	printf("%-48s %6.2f\n",
	       "(apply verify - apply verified=1) / raw verify",
	       verify_share(c));
	printf("\n");
	for (int i = 0; i < 2; i++)
		printf("%-20s store %6.1f MB (db %.1f + wal %.1f), %" PRId64
		       " ops in the log\n",
		       c->r[i].name, mb(rep->db_bytes[i] + rep->wal_bytes[i]),
		       mb(rep->db_bytes[i]), mb(rep->wal_bytes[i]),
		       rep->log_ops[i]);
	printf("peak RSS: %ld KiB after round 1, %ld KiB at the end\n",
	       c->rss_round1, rep->rss_end);
	for (int i = 0; i < 2; i++)
		printf("%-20s state hash %s\n", c->r[i].name, rep->hash_hex[i]);
	printf("state hashes %s\n",
	       strcmp(rep->hash_hex[0], rep->hash_hex[1]) == 0 ? "equal"
							       : "DIFFER");
}

/* s as a JSON string (quotes, backslashes and controls escaped). */
static void json_str(FILE *f, const char *s)
{
	fputc('"', f);
	for (; *s; s++) {
		unsigned char ch = (unsigned char)*s;

		if (ch == '"' || ch == '\\')
			fprintf(f, "\\%c", ch);
		else if (ch < 0x20)
			fprintf(f, "\\u%04x", ch);
		else
			fputc(ch, f);
	}
	fputc('"', f);
}

/* Returns 0 or BENCH_EXIT_FAIL (errno says why). */
static int write_json(const char *path, const struct bench_ctx *c,
		      const struct gen *g, const struct bench_files *fl,
		      const struct bench_report *rep)
{
	static const char *const pass[2] = {"apply_verify", "apply_trusted"};
	FILE *f = fopen(path, "w");
	int err;

	if (!f)
		return BENCH_EXIT_FAIL;
	fprintf(f, "{\n  \"n\": %zu,\n  \"batch\": %zu,\n", c->n, c->batch);
	fprintf(f, "  \"batches\": %zu,\n  \"rounds\": %zu,\n", c->nbatches,
		c->rounds);
	fprintf(f, "  \"devices\": %d,\n", BENCH_DEVICES);
	fprintf(f,
		"  \"traffic\": {\"new\": %zu, \"edit\": %zu, \"note\": %zu, "
		"\"delete\": %zu},\n",
		g->kinds[K_NEW], g->kinds[K_EDIT], g->kinds[K_NOTE],
		g->kinds[K_DELETE]);
	fprintf(f,
		"  \"body_bytes_mean\": {\"new\": %.1f, \"edit\": %.1f, "
		"\"note\": %.1f, \"delete\": %.1f, \"all\": %.1f},\n",
		body_mean(g, K_NEW), body_mean(g, K_EDIT), body_mean(g, K_NOTE),
		body_mean(g, K_DELETE), body_mean(g, -1));
	fprintf(f, "  \"dir\": ");
	json_str(f, fl->dir);
	fprintf(f, ",\n  \"fs\": ");
	json_str(f, fl->fs);
	fprintf(f, ",\n  \"results\": {\n");
	for (int i = 0; i < B_COUNT; i++)
		fprintf(f,
			"    \"%s\": {\"us_per_op\": %.4f, \"ops_per_s\": "
			"%.0f, \"us_per_op_best_round\": %.4f, "
			"\"us_per_op_last_round\": %.4f, \"max_batch_ms\": "
			"%.3f}%s\n",
			c->r[i].key, mean_us(c, i),
			ops_per_s(c->r[i].total_ns, c->n), best_round_us(c, i),
			round_us(c, i, c->rounds - 1),
			(double)c->r[i].max_batch_ns / 1e6,
			i + 1 < B_COUNT ? "," : "");
	fprintf(f, "  },\n  \"ratios\": {\n");
	fprintf(f, "    \"apply_verify_over_raw_verify\": %.4f,\n",
		ratio_to_raw(c, B_APPLY));
	fprintf(f, "    \"apply_trusted_over_raw_verify\": %.4f,\n",
		ratio_to_raw(c, B_TRUSTED));
	fprintf(f, "    \"verify_in_apply_over_raw_verify\": %.4f\n",
		verify_share(c));
	fprintf(f, "  },\n  \"store\": {\n");
	for (int i = 0; i < 2; i++)
		fprintf(f,
			"    \"%s\": {\"db_bytes\": %lld, \"wal_bytes\": %lld, "
			"\"log_ops\": %" PRId64 ", \"state_hash\": \"%s\"}%s\n",
			pass[i], rep->db_bytes[i], rep->wal_bytes[i],
			rep->log_ops[i], rep->hash_hex[i], i ? "" : ",");
	fprintf(f, "  },\n  \"state_hashes_equal\": %s,\n",
		strcmp(rep->hash_hex[0], rep->hash_hex[1]) == 0 ? "true"
								: "false");
	fprintf(f, "  \"peak_rss_kib_round1\": %ld,\n", c->rss_round1);
	fprintf(f, "  \"peak_rss_kib\": %ld\n}\n", rep->rss_end);
	err = ferror(f);
	if (fclose(f) != 0 || err)
		return BENCH_EXIT_FAIL;
	return 0;
}

/* Sizes, op counts and state hashes of both replicas, while still open. */
static int collect(struct bench_ctx *c, const struct bench_files *fl,
		   struct bench_report *rep)
{
	for (int i = 0; i < 2; i++) {
		uint64_t max_hlc;
		int rc;

		rep->db_bytes[i] = file_size(fl->db[i], "");
		rep->wal_bytes[i] = file_size(fl->db[i], "-wal");
		rc = veld_store_op_count(veld_replica_store(c->rep[i]),
					 &rep->log_ops[i], &max_hlc);
		if (rc == 0)
			rc = veld_replica_state_hash(c->rep[i], rep->hash[i]);
		if (rc < 0) {
			fprintf(stderr,
				"bench_apply: reading back %s failed: %s "
				"(%s)\n",
				fl->db[i], veld_strerror(rc),
				veld_err_name(rc));
			return BENCH_EXIT_FAIL;
		}
		sodium_bin2hex(rep->hash_hex[i], sizeof(rep->hash_hex[i]),
			       rep->hash[i], VELD_HASH_LEN);
	}
	rep->rss_end = peak_rss_kib();
	return 0;
}

/* --- options --- */

static void usage(FILE *f)
{
	fprintf(f,
		"usage: bench_apply [--n N] [--batch B] [--dir DIR] "
		"[--json FILE] [--max-ratio X]\n"
		"  --n N          ops to apply (1..%d, default %d)\n"
		"  --batch B      ops per apply call / transaction (1..%d, "
		"default %d)\n"
		"  --dir DIR      where the temporary stores go (default "
		"$TMPDIR, else .)\n"
		"  --json FILE    also write the figures to FILE as JSON\n"
		"  --max-ratio X  exit 1 if apply (verify) / raw verify "
		"exceeds X\n",
		BENCH_N_MAX, BENCH_N_DEFAULT, BENCH_BATCH_MAX,
		BENCH_BATCH_DEFAULT);
}

static int parse_size(const char *s, size_t max, size_t *out)
{
	unsigned long long v;
	char *end;

	/* strtoull would accept "-1" and leading blanks; we do not. */
	if (s[0] < '0' || s[0] > '9')
		return -1;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || *end || v < 1 || v > max)
		return -1;
	*out = (size_t)v;
	return 0;
}

static int parse_ratio(const char *s, double *out)
{
	double v;
	char *end;

	errno = 0;
	v = strtod(s, &end);
	if (errno || end == s || *end || !isfinite(v) || v <= 0)
		return -1;
	*out = v;
	return 0;
}

/* Returns 0, or prints why and returns BENCH_EXIT_USAGE. */
static int parse_args(int argc, char **argv, struct bench_opts *o)
{
	static const char *const known[] = {"--n", "--batch", "--dir", "--json",
					    "--max-ratio"};
	const char *tmpdir = getenv("TMPDIR");

	o->n = BENCH_N_DEFAULT;
	o->batch = BENCH_BATCH_DEFAULT;
	o->dir = tmpdir && *tmpdir ? tmpdir : ".";
	o->json = NULL;
	o->max_ratio = 0;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *v;
		size_t k = 0;

		if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
			usage(stdout);
			exit(0);
		}
		while (k < COUNT(known) && strcmp(a, known[k]) != 0)
			k++;
		if (k == COUNT(known)) {
			fprintf(stderr, "bench_apply: unknown option '%s'\n",
				a);
			usage(stderr);
			return BENCH_EXIT_USAGE;
		}
		if (i + 1 >= argc) {
			fprintf(stderr, "bench_apply: '%s' needs a value\n", a);
			return BENCH_EXIT_USAGE;
		}
		v = argv[++i];
		if (strcmp(a, "--n") == 0 &&
		    parse_size(v, BENCH_N_MAX, &o->n) < 0) {
			fprintf(stderr,
				"bench_apply: --n '%s' is not an integer in "
				"1..%d\n",
				v, BENCH_N_MAX);
			return BENCH_EXIT_USAGE;
		}
		if (strcmp(a, "--batch") == 0 &&
		    parse_size(v, BENCH_BATCH_MAX, &o->batch) < 0) {
			fprintf(stderr,
				"bench_apply: --batch '%s' is not an integer "
				"in 1..%d\n",
				v, BENCH_BATCH_MAX);
			return BENCH_EXIT_USAGE;
		}
		if (strcmp(a, "--dir") == 0)
			o->dir = v;
		if (strcmp(a, "--json") == 0)
			o->json = v;
		if (strcmp(a, "--max-ratio") == 0 &&
		    parse_ratio(v, &o->max_ratio) < 0) {
			fprintf(stderr,
				"bench_apply: --max-ratio '%s' is not a "
				"positive number\n",
				v);
			return BENCH_EXIT_USAGE;
		}
	}
	return 0;
}

static void on_signal(int sig)
{
	(void)sig;
	bench_stop = 1;
}

static void signals_catch(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	/* A second signal is not waited for: it ends the program at once. */
	sa.sa_flags = SA_RESETHAND;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
}

int main(int argc, char **argv)
{
	static const char *const names[B_COUNT][2] = {
		[B_APPLY] = {"apply (verify)", "apply_verify"},
		[B_TRUSTED] = {"apply (verified=1)", "apply_trusted"},
		[B_RAW] = {"raw verify", "raw_verify"},
	};
	struct bench_opts o;
	struct bench_ctx c;
	struct bench_files fl;
	struct bench_report rep;
	struct veld_key root;
	struct gen g;
	uint8_t seed[VELD_SEED_LEN];
	int ret, rc;

	ret = parse_args(argc, argv, &o);
	if (ret)
		return ret;
	if (sodium_init() < 0) {
		fprintf(stderr, "bench_apply: sodium_init failed\n");
		return BENCH_EXIT_USAGE;
	}
	signals_catch();

	memset(&c, 0, sizeof(c));
	memset(&rep, 0, sizeof(rep));
	c.n = o.n;
	c.batch = o.batch;
	c.nbatches = (o.n + o.batch - 1) / o.batch;
	c.rounds = c.nbatches < BENCH_ROUNDS ? c.nbatches : BENCH_ROUNDS;
	for (int i = 0; i < B_COUNT; i++) {
		c.r[i].name = names[i][0];
		c.r[i].key = names[i][1];
	}
	memset(seed, 'R', sizeof(seed));
	veld_key_from_seed(&root, seed);
	gen_init(&g, veld_hlc_wall_ms() - BENCH_PAST_MS, o.n);

	ret = files_make(&fl, o.dir);
	if (ret)
		goto out;
	ret = BENCH_EXIT_FAIL;
	for (int i = 0; i < 2; i++) {
		/* The benchmark replicas' own key is never used to sign. */
		rc = veld_replica_open(fl.db[i], &root, root.pk, &c.rep[i]);
		if (rc < 0) {
			fprintf(stderr, "bench_apply: cannot open '%s': %s\n",
				fl.db[i], veld_strerror(rc));
			goto out;
		}
	}
	if (batch_init(&c.cur, c.batch) < 0) {
		fprintf(stderr, "bench_apply: out of memory\n");
		goto out;
	}
	if (enrol(&c, &g, &root) != 0 || bench_run(&c, &g) != 0 ||
	    collect(&c, &fl, &rep) != 0)
		goto out;

	print_report(&c, &g, &fl, &rep);
	ret = 0;
	if (memcmp(rep.hash[0], rep.hash[1], VELD_HASH_LEN) != 0) {
		fprintf(stderr, "bench_apply: the two replicas' state hashes "
				"differ\n");
		ret = BENCH_EXIT_FAIL;
	}
	if (o.json && write_json(o.json, &c, &g, &fl, &rep) != 0) {
		fprintf(stderr, "bench_apply: cannot write '%s': %s\n", o.json,
			strerror(errno));
		ret = BENCH_EXIT_FAIL;
	}
	if (o.max_ratio > 0 && ratio_to_raw(&c, B_APPLY) > o.max_ratio) {
		fprintf(stderr,
			"bench_apply: apply / raw verify ratio %.3f exceeds "
			"--max-ratio %.3f\n",
			ratio_to_raw(&c, B_APPLY), o.max_ratio);
		ret = BENCH_EXIT_FAIL;
	}
out:
	for (int i = 0; i < 2; i++)
		veld_replica_close(c.rep[i]);
	files_remove(&fl);
	batch_release(&c.cur);
	gen_release(&g);
	veld_key_release(&root);
	return ret;
}
