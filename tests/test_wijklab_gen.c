/*
 * test_wijklab_gen.c - the C wijklab generator (bench/wijklab_gen.c)
 * reproduces the reference of ../shared/bench/WORKLOAD.md bit for bit: the
 * PRNG test vectors of §1, the first canonical line and the three
 * reference digests of §6, and the shape of every device's log (§3).
 */
#include <stdlib.h>

#include <sodium.h>

#include "test.h"
#include "wijklab_gen.h"

static void check_vectors(void)
{
	static const uint32_t first5[5] = {
		2581720956u, 1925393290u, 3661312704u, 2876485805u, 750819978u};
	uint32_t st = 42;

	for (int k = 0; k < 5; k++)
		CHECK_U64(wijklab_next(&st), first5[k]);
	CHECK_U64(wijklab_device_seed(42, 0), 2654435811u);
	CHECK_U64(wijklab_device_seed(42, 1), 1013904284u);
	CHECK_U64(wijklab_device_seed(42, 2), 3668340053u);
	/* the seed wraps mod 2^32 */
	CHECK_U64(wijklab_device_seed(0xffffffffu, 0), 0x9E3779B8u);
}

/* The shape of one device's log (WORKLOAD.md §3). */
struct shape {
	int R, creates, edits, two_field, deletes, order_ok, values_ok;
	int next_create;
	char *edited; /* R flags */
	char *deleted;
};

static int value_ok(int f, const struct wijklab_value *v)
{
	if (v->type != wijklab_field_types[f])
		return 0;
	switch (f) {
	case 1:
		return v->i >= 1 && v->i <= 200;
	case 3:
		return v->i == 0 || v->i == 1;
	case 4:
		return strlen(v->s) <= 80;
	case 6:
		return strlen(v->s) <= 120;
	case 7:
		return v->i >= WIJKLAB_BASE_TS &&
		       v->i < WIJKLAB_BASE_TS + WIJKLAB_TS_RANGE;
	default:
		return v->s[0] != 0;
	}
}

static int shape_one(void *ctx, const struct wijklab_op *op)
{
	struct shape *s = ctx;

	for (int k = 0; k < op->n; k++)
		if (!value_ok(op->field[k], &op->value[k]))
			s->values_ok = 0;
	switch (op->kind) {
	case WIJKLAB_CREATE:
		/* creates come first, in record order, all 8 fields */
		if (s->edits || s->deletes || op->record != s->next_create++ ||
		    op->n != WIJKLAB_FIELDS)
			s->order_ok = 0;
		s->creates++;
		break;
	case WIJKLAB_EDIT:
		if (s->creates != s->R || s->deletes || op->n < 1 ||
		    op->n > 2 || s->edited[op->record] ||
		    (op->n == 2 && op->field[0] == op->field[1]))
			s->order_ok = 0;
		s->edited[op->record] = 1;
		s->edits++;
		s->two_field += op->n == 2;
		break;
	default:
		/* never an edited record, never twice */
		if (s->edits != wijklab_edits(s->R) || s->edited[op->record] ||
		    s->deleted[op->record])
			s->order_ok = 0;
		s->deleted[op->record] = 1;
		s->deletes++;
		break;
	}
	return 0;
}

static void check_shape(uint32_t seed, int d, int R)
{
	struct shape s = {R, 0, 0, 0, 0, 1, 1, 0, calloc(R, 1), calloc(R, 1)};

	CHECK(s.edited && s.deleted);
	if (!s.edited || !s.deleted)
		goto out;
	CHECK_EQ(wijklab_device_ops(seed, d, R, shape_one, &s), 0);
	CHECK_EQ(s.creates, R);
	CHECK_EQ(s.edits, wijklab_edits(R));
	CHECK_EQ(s.deletes, wijklab_deletes(R));
	CHECK(s.order_ok);
	CHECK(s.values_ok);
	/* "about half of them 2-field" */
	CHECK(s.two_field > s.edits / 4 && s.two_field < s.edits * 3 / 4);
out:
	free(s.edited);
	free(s.deleted);
}

static int stop_at_three(void *ctx, const struct wijklab_op *op)
{
	int *n = ctx;

	(void)op;
	return ++*n == 3 ? 7 : 0;
}

static void check_digest(uint32_t seed, int W, int R, long live,
			 const char *want_hex, const char *first_line)
{
	struct wijklab_state *st = wijklab_state_new(seed, W, R);
	uint8_t dg[32];
	char hex[65];
	char *buf = NULL;
	size_t len = 0;
	FILE *lines = first_line ? open_memstream(&buf, &len) : NULL;

	CHECK(st != NULL);
	if (!st)
		return;
	CHECK_EQ(wijklab_state_live(st), live);
	CHECK_EQ(wijklab_state_digest(st, dg, lines), 0);
	sodium_bin2hex(hex, sizeof(hex), dg, sizeof(dg));
	if (strcmp(hex, want_hex) != 0) {
		fprintf(stderr, "digest W=%d R=%d: %s, want %s\n", W, R, hex,
			want_hex);
		CHECK(0);
	}
	if (lines) {
		char *nl;

		CHECK_EQ(fclose(lines), 0);
		nl = buf ? strchr(buf, '\n') : NULL;
		CHECK(nl != NULL);
		if (nl) {
			*nl = 0;
			if (strcmp(buf, first_line) != 0) {
				fprintf(stderr,
					"first line: %s\nwant:       %s\n", buf,
					first_line);
				CHECK(0);
			}
		}
		free(buf);
	}
	wijklab_state_free(st);
}

int main(void)
{
	char id[WIJKLAB_ID_LEN + 1];
	int n = 0;

	if (sodium_init() < 0)
		return 1;
	check_vectors();
	wijklab_record_id(7, 123, id);
	CHECK(strcmp(id, "d007-r00123") == 0);
	CHECK_EQ(wijklab_edits(500), 100);
	CHECK_EQ(wijklab_deletes(500), 10);
	CHECK_EQ(wijklab_deletes(49), 0);
	check_shape(42, 0, 500);
	check_shape(42, 19, 500);
	check_shape(7, 3, 1000);
	/* the callback's nonzero return stops the log and is returned */
	CHECK_EQ(wijklab_device_ops(42, 0, 50, stop_at_three, &n), 7);
	CHECK_EQ(n, 3);
	CHECK_EQ(wijklab_device_ops(42, -1, 50, stop_at_three, &n), -1);
	CHECK_EQ(wijklab_device_ops(42, 0, 0, stop_at_three, &n), -1);
	CHECK(wijklab_state_new(42, 0, 10) == NULL);
	CHECK(wijklab_state_new(42, 2, WIJKLAB_R_MAX + 1) == NULL);

	check_digest(42, 2, 50, 98,
		     "21314b99a8f807eccde2ba3408c97f325d949f5b4d6218b4aa8acfb"
		     "087aaf43f",
		     "[\"d000-r00000\",\"Burgemeester Visserstraat\",112,"
		     "\"no\",false,\"afval\",\"none\",\"\",1719212197048]");
	check_digest(42, 20, 500, 9800,
		     "43747a5418431888378530459d3cb2eaefa80669e9cff5fb19d55f4"
		     "cfbfb63fa",
		     NULL);
	check_digest(42, 50, 1000, 49000,
		     "90b6222cfdd6b3e60c7f1d18173daf85f808195c1e50c16d3a8ea76"
		     "c36bcd01c",
		     NULL);
	return test_summary("test_wijklab_gen");
}
