/*
 * bench_op.c - what one op costs to encode, sign, decode and verify.
 *
 * Every op a replica receives is decoded (canonical msgpack, header checks,
 * body hash, body check) and then verified (one Ed25519 signature).  The
 * signature is the floor: no amount of work on the format makes receiving
 * an op cheaper than checking its signature.  So this program measures the
 * op functions of libveld on a realistic survey-record body and reports
 * them against raw crypto_sign_verify_detached() over a message of the same
 * size, measured in the same run.  Absolute microseconds depend on the
 * machine; the ratios "receive path / raw verify" and "verify / raw verify"
 * are what can be compared between machines and asserted in CI
 * (--max-ratio).
 *
 * "runs receive" is the path a PUSH takes into veldd since protocol
 * version 2 (runs.h): per op, inflating the block, rebuilding and checking
 * the header and body, and 1/250 of one signature check (one per run).
 *
 * The decode and verify loops cycle over a ring of up to BENCH_RING
 * distinct ops (one author's chain, each with its own salt and record), so
 * that no loop keeps hashing the same bytes.  The sign loop gives every op
 * its own seq and hlc.  The n iterations of each loop are run in
 * BENCH_ROUNDS interleaved rounds and the best round is reported (see
 * bench_run).  Any op that fails to encode, sign, decode or verify stops
 * the program with exit code 1: a benchmark that measures failures
 * measures the wrong thing.
 *
 * Usage: bench_op [--n N] [--json FILE] [--max-ratio X]
 * Exit codes: 0 ok; 1 an op failed, the JSON file could not be written or
 * the ratio limit was exceeded; 2 bad usage or libsodium failed to start.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <msgpack.h>
#include <sodium.h>

#include "buf.h"
#include "err.h"
#include "hlc.h"
#include "key.h"
#include "msg.h"
#include "op.h"
#include "runs.h"

#define BENCH_N_DEFAULT 20000
#define BENCH_N_MAX 10000000 /* a bound, so that --n cannot run for days */
#define BENCH_RING 1000	     /* distinct ops the decode/verify loops cycle */
#define BENCH_ROUNDS 10	     /* interleaved rounds; the best one counts */
#define BENCH_RUN 250	     /* ops per runs block (a PUSH holds <= 256) */
#define BENCH_MSG_MAX (VELD_DS_LEN(VELD_DS_SIG) + VELD_HEADER_MAX)

#define BENCH_EXIT_FAIL 1
#define BENCH_EXIT_USAGE 2

/* A survey record as a field device would send it: ~250 bytes of body. */
static const struct bench_field {
	const char *key;
	const char *val;
} bench_fields[] = {
	/* Keys in ascending byte order, as canon.h requires. */
	{"address", "Plot 27, Kilimani Road, Moshi"},
	{"answer_q1", "piped water, shared yard tap"},
	{"answer_q2", "5"},
	{"answer_q3", "maize, beans, bananas"},
	{"enumerator", "A. Mushi"},
	{"household", "HH-0427-017"},
	{"notes", "Revisit after harvest; dog on premises."},
	{"village", "Kilimani"},
};
#define BENCH_NFIELDS (sizeof(bench_fields) / sizeof(bench_fields[0]))

struct bench_opts {
	size_t n;
	const char *json; /* NULL: no JSON output */
	double max_ratio; /* 0: no limit */
};

/* One pre-created op for the decode and verify loops. */
struct bench_slot {
	struct veld_buf buf;	    /* the op's bytes, as received */
	struct veld_op op;	    /* decoded; borrows buf */
	uint8_t msg[BENCH_MSG_MAX]; /* VELD_DS_SIG || header */
	size_t msg_len;
};

struct bench_ctx {
	size_t n;      /* iterations per measurement, over all rounds */
	size_t rounds; /* BENCH_ROUNDS, or n if smaller */
	struct veld_key key;
	struct veld_buf body; /* the body the encode and sign loops use */
	uint64_t hlc0;	      /* first hlc; op i gets hlc0 + i */
	struct bench_slot *ring;
	size_t ring_len;
	struct veld_op_header h;	/* template for encode and sign */
	uint8_t last_id[VELD_HASH_LEN]; /* sign: id of the op signed last */
	struct veld_buf out;		/* encode and sign output, reused */
	struct veld_buf *blocks;	/* compressed runs blocks of the ring */
	size_t nblocks, block_ops;
};

enum bench_id {
	B_ENCODE,
	B_SIGN,
	B_DECODE,
	B_VERIFY,
	B_RECEIVE,
	B_RAW,
	B_RUNS,
	B_COUNT
};

struct bench_result {
	const char *name;  /* for the table */
	const char *key;   /* for JSON */
	double best_ns;	   /* per op, in the fastest round */
	uint64_t total_ns; /* over all n iterations */
};

static void usage(FILE *f)
{
	fprintf(f,
		"usage: bench_op [--n N] [--json FILE] [--max-ratio X]\n"
		"  --n N          iterations per measurement (1..%d, "
		"default %d)\n"
		"  --json FILE    also write the figures to FILE as JSON\n"
		"  --max-ratio X  exit 1 if (decode+verify) / raw verify "
		"exceeds X\n",
		BENCH_N_MAX, BENCH_N_DEFAULT);
}

static int parse_n(const char *s, size_t *out)
{
	unsigned long long v;
	char *end;

	/* strtoull would accept "-1" and leading blanks; we do not. */
	if (s[0] < '0' || s[0] > '9')
		return -1;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || *end || v < 1 || v > BENCH_N_MAX)
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
	o->n = BENCH_N_DEFAULT;
	o->json = NULL;
	o->max_ratio = 0;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];

		if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
			usage(stdout);
			exit(0);
		}
		if (strcmp(a, "--n") != 0 && strcmp(a, "--json") != 0 &&
		    strcmp(a, "--max-ratio") != 0) {
			fprintf(stderr, "bench_op: unknown option '%s'\n", a);
			usage(stderr);
			return BENCH_EXIT_USAGE;
		}
		if (i + 1 >= argc) {
			fprintf(stderr, "bench_op: '%s' needs a value\n", a);
			return BENCH_EXIT_USAGE;
		}
		const char *v = argv[++i];
		if (strcmp(a, "--n") == 0 && parse_n(v, &o->n) < 0) {
			fprintf(stderr,
				"bench_op: --n '%s' is not an integer in "
				"1..%d\n",
				v, BENCH_N_MAX);
			return BENCH_EXIT_USAGE;
		}
		if (strcmp(a, "--json") == 0)
			o->json = v;
		if (strcmp(a, "--max-ratio") == 0 &&
		    parse_ratio(v, &o->max_ratio) < 0) {
			fprintf(stderr,
				"bench_op: --max-ratio '%s' is not a positive "
				"number\n",
				v);
			return BENCH_EXIT_USAGE;
		}
	}
	return 0;
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * UINT64_C(1000000000) +
	       (uint64_t)ts.tv_nsec;
}

/* Build [salt, {fields}] into out (reset first); 0 or a VELD_E* code. */
static int body_build(const uint8_t salt[VELD_SALT_LEN], struct veld_buf *out)
{
	msgpack_packer pk;

	veld_buf_reset(out);
	veld_buf_packer_init(&pk, out);
	if (veld_body_begin(&pk, salt) < 0 ||
	    msgpack_pack_map(&pk, BENCH_NFIELDS) < 0)
		goto fail;
	for (size_t i = 0; i < BENCH_NFIELDS; i++) {
		const struct bench_field *f = &bench_fields[i];

		if (msgpack_pack_str_with_body(&pk, f->key, strlen(f->key)) <
			    0 ||
		    msgpack_pack_str_with_body(&pk, f->val, strlen(f->val)) < 0)
			goto fail;
	}
	return veld_body_check(out->data, out->len);
fail:
	return out->err ? out->err : VELD_ENOMEM;
}

/*
 * A put on a fresh record, as the caller of veld_op_create fills it, plus
 * the fields veld_op_create would set, so that it also encodes as is.
 */
static void header_fill(const struct bench_ctx *c, struct veld_op_header *h)
{
	memset(h, 0, sizeof(*h));
	h->version = VELD_OP_VERSION;
	memcpy(h->author, c->key.pk, VELD_PK_LEN);
	h->seq = 1;
	h->has_prev = 0;
	h->hlc = c->hlc0;
	randombytes_buf(h->record, VELD_RECORD_LEN);
	h->kind = VELD_KIND_PUT;
	h->body_len = c->body.len;
	veld_body_hash(c->body.data, c->body.len, h->body_hash);
}

/* Op i of a chain: seq i + 1, prev = id of op i - 1. */
static void header_step(const struct bench_ctx *c, struct veld_op_header *h,
			size_t i, const uint8_t prev[VELD_HASH_LEN])
{
	h->seq = (uint64_t)i + 1;
	h->has_prev = i > 0;
	if (h->has_prev)
		memcpy(h->prev, prev, VELD_HASH_LEN);
	h->hlc = c->hlc0 + i;
}

static void op_fail(const char *what, size_t i, int rc)
{
	fprintf(stderr, "bench_op: %s: op %zu failed: %s (%s)\n", what, i,
		veld_strerror(rc), veld_err_name(rc));
}

/*
 * Create the ring: one author's chain of ring_len ops, each with its own
 * salt and record.  Every op is decoded and verified once here, so a
 * broken op stops the program before anything is timed (and the loops
 * below start warm).  Returns 0 or a VELD_E* code.
 */
static int ring_make(struct bench_ctx *c)
{
	struct veld_op_header h;
	struct veld_buf body;
	uint8_t salt[VELD_SALT_LEN];
	uint8_t id[VELD_HASH_LEN] = {0};
	int rc = 0;

	c->ring = calloc(c->ring_len, sizeof(*c->ring));
	if (!c->ring)
		return VELD_ENOMEM;
	for (size_t i = 0; i < c->ring_len; i++)
		veld_buf_init(&c->ring[i].buf, VELD_OP_MAX);
	veld_buf_init(&body, VELD_BODY_MAX);
	header_fill(c, &h);
	for (size_t i = 0; i < c->ring_len; i++) {
		struct bench_slot *s = &c->ring[i];

		veld_salt_random(salt);
		rc = body_build(salt, &body);
		if (rc < 0) {
			op_fail("ring body", i, rc);
			break;
		}
		header_step(c, &h, i, id);
		randombytes_buf(h.record, VELD_RECORD_LEN);
		rc = veld_op_create(&c->key, &h, body.data, body.len, &s->buf,
				    id);
		if (rc < 0) {
			op_fail("ring create", i, rc);
			break;
		}
		rc = veld_op_decode(s->buf.data, s->buf.len, &s->op);
		if (rc < 0) {
			op_fail("ring decode", i, rc);
			break;
		}
		rc = veld_op_verify(&s->op);
		if (rc < 0) {
			op_fail("ring verify", i, rc);
			break;
		}
		/* The exact message veld_op_verify checks, for the raw peer. */
		s->msg_len = VELD_DS_LEN(VELD_DS_SIG) + s->op.header_len;
		memcpy(s->msg, VELD_DS_SIG, VELD_DS_LEN(VELD_DS_SIG));
		memcpy(s->msg + VELD_DS_LEN(VELD_DS_SIG), s->op.header,
		       s->op.header_len);
		if (crypto_sign_verify_detached(s->op.sig, s->msg, s->msg_len,
						s->op.h.author) != 0) {
			op_fail("ring raw verify", i, VELD_ESIG);
			rc = VELD_ESIG;
			break;
		}
	}
	veld_buf_release(&body);
	return rc;
}

/*
 * The ring cut into runs blocks of BENCH_RUN ops (consecutive ops of the
 * chain: one run each), as a PUSH carries them.  0 or a VELD_E* code.
 */
static int blocks_make(struct bench_ctx *c)
{
	struct veld_bytes *ops = malloc(c->ring_len * sizeof(*ops));
	int rc = 0;

	c->block_ops = c->ring_len < BENCH_RUN ? c->ring_len : BENCH_RUN;
	c->nblocks = c->ring_len / c->block_ops;
	c->blocks = calloc(c->nblocks, sizeof(*c->blocks));
	if (!ops || !c->blocks) {
		free(ops);
		return VELD_ENOMEM;
	}
	for (size_t i = 0; i < c->ring_len; i++)
		ops[i] = (struct veld_bytes){c->ring[i].buf.data,
					     c->ring[i].buf.len};
	for (size_t k = 0; k < c->nblocks && rc == 0; k++) {
		veld_buf_init(&c->blocks[k], VELD_MSG_MAX);
		rc = veld_runs_encode(ops + k * c->block_ops, c->block_ops,
				      VELD_RUNS_LEVEL, &c->blocks[k]);
	}
	free(ops);
	if (rc < 0)
		op_fail("runs encode", 0, rc);
	return rc;
}

static void ring_free(struct bench_ctx *c)
{
	for (size_t k = 0; c->blocks && k < c->nblocks; k++)
		veld_buf_release(&c->blocks[k]);
	free(c->blocks);
	c->blocks = NULL;
	if (!c->ring)
		return;
	for (size_t i = 0; i < c->ring_len; i++)
		veld_buf_release(&c->ring[i].buf);
	free(c->ring);
	c->ring = NULL;
}

/*
 * The measurements.  Each runs iterations start..start+count-1 of its loop
 * and returns the time taken in *ns, or stops at the first failure and
 * returns its VELD_E* code.  Iteration i touches ring slot i % ring_len and
 * gives a new op seq i + 1 and hlc hlc0 + i.
 */
static int bench_encode(struct bench_ctx *c, size_t start, size_t count,
			uint64_t *ns)
{
	struct veld_op_header h = c->h;
	uint64_t t0;
	size_t i;
	int rc = 0;

	t0 = now_ns();
	for (i = start; i < start + count; i++) {
		/* Any 32 bytes do for prev: the encoder only copies them. */
		header_step(c, &h, i, c->h.prev);
		veld_buf_reset(&c->out);
		rc = veld_op_header_encode(&h, &c->out);
		if (rc < 0)
			break;
	}
	*ns = now_ns() - t0;
	if (rc < 0)
		op_fail("encode", i, rc);
	return rc;
}

static int bench_sign(struct bench_ctx *c, size_t start, size_t count,
		      uint64_t *ns)
{
	struct veld_op_header h = c->h;
	uint64_t t0;
	size_t i;
	int rc = 0;

	t0 = now_ns();
	for (i = start; i < start + count; i++) {
		header_step(c, &h, i, c->last_id);
		veld_buf_reset(&c->out);
		rc = veld_op_create(&c->key, &h, c->body.data, c->body.len,
				    &c->out, c->last_id);
		if (rc < 0)
			break;
	}
	*ns = now_ns() - t0;
	if (rc < 0)
		op_fail("sign", i, rc);
	return rc;
}

static int bench_decode(struct bench_ctx *c, size_t start, size_t count,
			uint64_t *ns)
{
	struct veld_op op;
	uint64_t t0;
	size_t i;
	int rc = 0;

	t0 = now_ns();
	for (i = start; i < start + count; i++) {
		const struct bench_slot *s = &c->ring[i % c->ring_len];

		rc = veld_op_decode(s->buf.data, s->buf.len, &op);
		if (rc < 0)
			break;
	}
	*ns = now_ns() - t0;
	if (rc < 0)
		op_fail("decode", i, rc);
	return rc;
}

static int bench_verify(struct bench_ctx *c, size_t start, size_t count,
			uint64_t *ns)
{
	uint64_t t0;
	size_t i;
	int rc = 0;

	t0 = now_ns();
	for (i = start; i < start + count; i++) {
		rc = veld_op_verify(&c->ring[i % c->ring_len].op);
		if (rc < 0)
			break;
	}
	*ns = now_ns() - t0;
	if (rc < 0)
		op_fail("verify", i, rc);
	return rc;
}

static int bench_receive(struct bench_ctx *c, size_t start, size_t count,
			 uint64_t *ns)
{
	struct veld_op op;
	uint64_t t0;
	size_t i;
	int rc = 0;

	t0 = now_ns();
	for (i = start; i < start + count; i++) {
		const struct bench_slot *s = &c->ring[i % c->ring_len];

		rc = veld_op_decode(s->buf.data, s->buf.len, &op);
		if (rc == 0)
			rc = veld_op_verify(&op);
		if (rc < 0)
			break;
	}
	*ns = now_ns() - t0;
	if (rc < 0)
		op_fail("decode+verify", i, rc);
	return rc;
}

static int bench_raw(struct bench_ctx *c, size_t start, size_t count,
		     uint64_t *ns)
{
	uint64_t t0;
	size_t i;
	int rc = 0;

	t0 = now_ns();
	for (i = start; i < start + count; i++) {
		const struct bench_slot *s = &c->ring[i % c->ring_len];

		if (crypto_sign_verify_detached(s->op.sig, s->msg, s->msg_len,
						s->op.h.author) != 0) {
			rc = VELD_ESIG;
			break;
		}
	}
	*ns = now_ns() - t0;
	if (rc < 0)
		op_fail("raw verify", i, rc);
	return rc;
}

/*
 * What veldd's ingest does per PUSH, per op: inflate a runs block, rebuild
 * and check every header and body, verify the one signature ending the
 * run.  Whole blocks are decoded; the time is scaled to count ops.
 */
static int bench_runs(struct bench_ctx *c, size_t start, size_t count,
		      uint64_t *ns)
{
	size_t done = 0, bad;
	uint64_t t0;
	int rc = 0;

	t0 = now_ns();
	while (done < count && rc == 0) {
		const struct veld_buf *b =
			&c->blocks[(start + done) / c->block_ops % c->nblocks];
		struct veld_runs r;

		rc = veld_runs_decode(b->data, b->len, VELD_BATCH_MAX, &r);
		if (rc == 0)
			rc = r.n == c->block_ops ? veld_runs_verify(&r, &bad)
						 : VELD_EINVAL;
		veld_runs_release(&r);
		done += c->block_ops;
	}
	*ns = (now_ns() - t0) * count / done;
	if (rc < 0)
		op_fail("runs decode+verify", start + done, rc);
	return rc;
}

/* Per-op figures are from the best round: interference only adds time. */
static double us_per_op(const struct bench_result *r)
{
	return r->best_ns / 1e3;
}

static double ops_per_s(const struct bench_result *r)
{
	/* A zero interval is below the clock's resolution, not infinite. */
	return 1e9 / (r->best_ns > 0 ? r->best_ns : 1);
}

static double mean_us_per_op(const struct bench_result *r, size_t n)
{
	return (double)r->total_ns / 1e3 / (double)n;
}

static double ratio(const struct bench_result *a, const struct bench_result *b)
{
	return a->best_ns / (b->best_ns > 0 ? b->best_ns : 1);
}

static double msg_len_mean(const struct bench_ctx *c)
{
	size_t sum = 0;

	for (size_t i = 0; i < c->ring_len; i++)
		sum += c->ring[i].msg_len;
	return (double)sum / (double)c->ring_len;
}

static void print_table(const struct bench_ctx *c, const struct bench_result *r)
{
	printf("bench_op: n=%zu in %zu rounds (best round shown), ring of %zu "
	       "ops,\nbody %zu B, signed message %.1f B (mean)\n\n",
	       c->n, c->rounds, c->ring_len, c->body.len, msg_len_mean(c));
	/* "µ" is two bytes but one column, hence 11 for a 10-column field. */
	printf("%-16s %11s %13s\n", "op", "\xc2\xb5s/op", "ops/s");
	for (int i = 0; i < B_COUNT; i++)
		printf("%-16s %10.3f %13.0f\n", r[i].name, us_per_op(&r[i]),
		       ops_per_s(&r[i]));
	printf("\n%-42s %6.3f\n", "receive path (decode+verify) / raw verify",
	       ratio(&r[B_RECEIVE], &r[B_RAW]));
	printf("%-42s %6.3f\n", "verify / raw verify",
	       ratio(&r[B_VERIFY], &r[B_RAW]));
	printf("%-42s %6.3f\n", "runs receive (per op) / raw verify",
	       ratio(&r[B_RUNS], &r[B_RAW]));
}

/* Returns 0 or BENCH_EXIT_FAIL (errno says why). */
static int write_json(const char *path, const struct bench_ctx *c,
		      const struct bench_result *r)
{
	FILE *f = fopen(path, "w");
	int err;

	if (!f)
		return BENCH_EXIT_FAIL;
	fprintf(f, "{\n  \"n\": %zu,\n  \"rounds\": %zu,\n", c->n, c->rounds);
	fprintf(f, "  \"ring\": %zu,\n", c->ring_len);
	fprintf(f, "  \"body_bytes\": %zu,\n", c->body.len);
	fprintf(f, "  \"signed_msg_bytes_mean\": %.1f,\n", msg_len_mean(c));
	fprintf(f, "  \"results\": {\n");
	for (int i = 0; i < B_COUNT; i++)
		fprintf(f,
			"    \"%s\": {\"us_per_op\": %.4f, "
			"\"ops_per_s\": %.0f, \"us_per_op_mean\": %.4f}%s\n",
			r[i].key, us_per_op(&r[i]), ops_per_s(&r[i]),
			mean_us_per_op(&r[i], c->n),
			i + 1 < B_COUNT ? "," : "");
	fprintf(f, "  },\n  \"ratios\": {\n");
	fprintf(f, "    \"receive_over_raw_verify\": %.4f,\n",
		ratio(&r[B_RECEIVE], &r[B_RAW]));
	fprintf(f, "    \"verify_over_raw_verify\": %.4f,\n",
		ratio(&r[B_VERIFY], &r[B_RAW]));
	fprintf(f, "    \"runs_receive_over_raw_verify\": %.4f\n",
		ratio(&r[B_RUNS], &r[B_RAW]));
	fprintf(f, "  }\n}\n");
	err = ferror(f);
	if (fclose(f) != 0 || err)
		return BENCH_EXIT_FAIL;
	return 0;
}

/*
 * Run every measurement into r; 0 or the first VELD_E* code.  The n
 * iterations are split into rounds, and each round runs every measurement
 * in turn, so that a slower stretch of the machine (another process, a
 * frequency change) falls on all of them alike and the ratios stay fair.
 */
static int bench_run(struct bench_ctx *c, struct bench_result *r)
{
	static const struct {
		const char *name;
		const char *key;
		int (*fn)(struct bench_ctx *c, size_t start, size_t count,
			  uint64_t *ns);
	} benches[B_COUNT] = {
		[B_ENCODE] = {"encode", "encode", bench_encode},
		[B_SIGN] = {"sign", "sign", bench_sign},
		[B_DECODE] = {"decode", "decode", bench_decode},
		[B_VERIFY] = {"verify", "verify", bench_verify},
		[B_RECEIVE] = {"decode+verify", "decode_verify", bench_receive},
		[B_RAW] = {"raw verify", "raw_verify", bench_raw},
		[B_RUNS] = {"runs receive", "runs_receive", bench_runs},
	};
	size_t start = 0;

	for (int b = 0; b < B_COUNT; b++) {
		r[b].name = benches[b].name;
		r[b].key = benches[b].key;
		r[b].best_ns = -1;
		r[b].total_ns = 0;
	}
	for (size_t round = 0; round < c->rounds; round++) {
		size_t count = c->n / c->rounds + (round < c->n % c->rounds);

		for (int b = 0; b < B_COUNT; b++) {
			uint64_t ns;
			double per_op;
			int rc = benches[b].fn(c, start, count, &ns);

			if (rc < 0)
				return rc;
			per_op = (double)ns / (double)count;
			if (r[b].best_ns < 0 || per_op < r[b].best_ns)
				r[b].best_ns = per_op;
			r[b].total_ns += ns;
		}
		start += count;
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct bench_opts o;
	struct bench_ctx c;
	struct bench_result r[B_COUNT];
	struct veld_op_header h;
	uint8_t salt[VELD_SALT_LEN];
	int ret, rc;

	ret = parse_args(argc, argv, &o);
	if (ret)
		return ret;
	if (sodium_init() < 0) {
		fprintf(stderr, "bench_op: sodium_init failed\n");
		return BENCH_EXIT_USAGE;
	}

	memset(&c, 0, sizeof(c));
	c.n = o.n;
	c.rounds = o.n < BENCH_ROUNDS ? o.n : BENCH_ROUNDS;
	c.ring_len = o.n < BENCH_RING ? o.n : BENCH_RING;
	c.hlc0 = VELD_HLC_MAKE(veld_hlc_wall_ms(), 0);
	veld_key_generate(&c.key);
	veld_buf_init(&c.body, VELD_BODY_MAX);
	veld_buf_init(&c.out, VELD_OP_MAX);

	veld_salt_random(salt);
	rc = body_build(salt, &c.body);
	if (rc < 0) {
		fprintf(stderr, "bench_op: survey body refused: %s (%s)\n",
			veld_strerror(rc), veld_err_name(rc));
		ret = BENCH_EXIT_FAIL;
		goto out;
	}
	header_fill(&c, &h);
	c.h = h;
	if (ring_make(&c) < 0 || blocks_make(&c) < 0 || bench_run(&c, r) < 0) {
		ret = BENCH_EXIT_FAIL;
		goto out;
	}

	print_table(&c, r);
	if (o.json && write_json(o.json, &c, r) != 0) {
		fprintf(stderr, "bench_op: cannot write '%s': %s\n", o.json,
			strerror(errno));
		ret = BENCH_EXIT_FAIL;
		goto out;
	}
	if (o.max_ratio > 0 && ratio(&r[B_RECEIVE], &r[B_RAW]) > o.max_ratio) {
		fprintf(stderr,
			"bench_op: receive / raw verify ratio %.3f exceeds "
			"--max-ratio %.3f\n",
			ratio(&r[B_RECEIVE], &r[B_RAW]), o.max_ratio);
		ret = BENCH_EXIT_FAIL;
	}
out:
	ring_free(&c);
	veld_buf_release(&c.out);
	veld_buf_release(&c.body);
	veld_key_release(&c.key);
	return ret;
}
