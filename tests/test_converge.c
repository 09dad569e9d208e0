/*
 * test_converge.c - convergence property test for the merge.
 *
 * For each seed: a server and five devices (one coordinator) make random
 * ops of every kind; ops travel between random pairs of replicas in random
 * order, partially, duplicated, in several batches; replicas restart
 * (close and reopen their file).  At the end everyone exchanges everything,
 * and then every replica must have the same state hash, the same set of
 * ops, no op held back, and every op anyone wrote.
 *
 * Usage: test_converge [SEEDS [FIRST_SEED]]   (defaults 300 and 1)
 * $VELD_CONVERGE_SEEDS, if set, overrides SEEDS (the sanitizer run uses
 * fewer seeds; a long campaign more).
 * A failing seed is printed; run `test_converge 1 SEED` to replay it.  The
 * wall clock is simulated from the seed, so a replay takes the same path.
 */
#include <sodium.h>
#include <stdlib.h>
#include <unistd.h>

#include "hlc.h"
#include "replica_util.h"

#define NREP 6 /* 0 = server, 1 = coordinator, 2..5 = field devices */
#define STEPS 60
#define MAX_RECORDS 64

struct world {
	uint64_t rs; /* random state */
	uint64_t wall;
	char dir[64];
	struct veld_key keys[NREP];
	struct veld_replica *r[NREP];
	uint8_t records[MAX_RECORDS][16]; /* records someone created */
	int nrecords;
	uint8_t form_id[16];
	int has_form;
	int written; /* ops written locally (and accepted) */
};

static uint64_t world_wall(void *ctx)
{
	return ((struct world *)ctx)->wall;
}

static uint64_t rnd(struct world *w, uint64_t n)
{
	return test_rand(&w->rs) % n;
}

static void open_rep(struct world *w, int i)
{
	char path[128];

	snprintf(path, sizeof(path), "%s/r%d.db", w->dir, i);
	if (veld_replica_open(path, &w->keys[i], w->keys[0].pk, &w->r[i]))
		abort();
	veld_replica_set_wall(w->r[i], world_wall, w);
}

static void world_init(struct world *w, uint64_t seed)
{
	static const char *const tmp_dirs[] = {"/dev/shm", "/tmp"};

	memset(w, 0, sizeof(*w));
	w->rs = seed;
	w->wall = UINT64_C(1795000000000) + rnd(w, 1000000);
	for (int d = 0; d < 2 && !w->dir[0]; d++) {
		snprintf(w->dir, sizeof(w->dir), "%s/veld-conv-XXXXXX",
			 tmp_dirs[d]);
		if (!mkdtemp(w->dir))
			w->dir[0] = 0;
	}
	if (!w->dir[0])
		abort();
	for (int i = 0; i < NREP; i++) {
		uint8_t s[32];
		for (int k = 0; k < 32; k++)
			s[k] = (uint8_t)test_rand(&w->rs);
		veld_key_from_seed(&w->keys[i], s);
	}
	for (int i = 0; i < NREP; i++)
		open_rep(w, i);
	/* The server enrols everyone; those ops travel like any other. */
	for (int i = 1; i < NREP; i++)
		if (veld_replica_device(w->r[0], w->keys[i].pk,
					i == 1 ? "coordinator" : "field",
					i == 1 ? "coordinator" : "field",
					i % 2 ? "noord" : "zuid", 0, NULL))
			abort();
}

static void world_free(struct world *w)
{
	char path[160];

	for (int i = 0; i < NREP; i++) {
		veld_replica_close(w->r[i]);
		veld_key_release(&w->keys[i]);
		for (int k = 0; k < 3; k++) {
			static const char *const sfx[] = {"", "-wal", "-shm"};
			snprintf(path, sizeof(path), "%s/r%d.db%s", w->dir, i,
				 sfx[k]);
			unlink(path);
		}
	}
	rmdir(w->dir);
}

/* A record this replica knows (materialised), or -1. */
static int known_record(struct world *w, int i)
{
	for (int tries = 0; tries < 8 && w->nrecords; tries++) {
		int k = (int)rnd(w, (uint64_t)w->nrecords);
		if (snapshot(w->r[i], w->records[k]).found)
			return k;
	}
	return -1;
}

static const char *const fields[] = {"street", "house", "wish", "needs"};
static const char *const words[] = {"Kerkstraat", "12",	     "bankjes",
				    "handgreep",  "bloemen", "niet thuis"};

/* One local write of a random kind the replica's role allows. */
static void local_write(struct world *w, int i)
{
	struct veld_replica *r = w->r[i];
	int k = known_record(w, i), rc = 0;
	uint64_t what = rnd(w, 10);

	if (what < 3 || k < 0) { /* create a record */
		struct veld_field f[2] = {
			{fields[rnd(w, 4)], words[rnd(w, 6)], NULL, 0},
			{"street", words[rnd(w, 6)], NULL, 0}};
		size_t n = strcmp(f[0].name, "street") ? 2 : 1;
		if (w->nrecords == MAX_RECORDS)
			return;
		rc = veld_replica_put(r, w->records[w->nrecords], 1,
				      "huisbezoek", i % 2 ? "noord" : "zuid", f,
				      n, NULL);
		if (rc == 0)
			w->nrecords++;
	} else if (what < 6) { /* edit */
		struct veld_field f = {fields[rnd(w, 4)], words[rnd(w, 6)],
				       NULL, 0};
		rc = veld_replica_put(r, w->records[k], 0, NULL, NULL, &f, 1,
				      NULL);
	} else if (what < 7) {
		rc = veld_replica_delete(r, w->records[k], NULL);
	} else if (what < 9) {
		rc = veld_replica_note(r, w->records[k], words[rnd(w, 6)],
				       NULL);
	} else if (i <= 1) { /* server or coordinator only */
		uint64_t admin = rnd(w, 3);
		if (admin == 0) {
			rc = veld_replica_erase(r, w->records[k], NULL);
		} else if (admin == 1) {
			uint8_t def[] = {0x81, 0xa6, 'f', 'i', 'e',
					 'l',  'd',  's', 0x90};
			rc = veld_replica_form(r, w->form_id, !w->has_form,
					       "huisbezoek", def, sizeof(def),
					       NULL);
			w->has_form = w->has_form || rc == 0;
		} else {
			/* Rename a field device, now and then revoke one. */
			int d = 2 + (int)rnd(w, NREP - 2);
			int revoke = rnd(w, 6) == 0;
			rc = veld_replica_device(r, w->keys[d].pk, "field",
						 "renamed", "centrum", revoke,
						 NULL);
		}
	} else {
		return;
	}
	/* A replica that has not yet learnt it is enrolled cannot know
	 * its own writes are authorised: those are held, as any op. */
	if (rc == 0)
		w->written++;
	else if (getenv("VELD_CONVERGE_VERBOSE") ||
		 (rc != VELD_EAUTHOR && rc != VELD_ESEQ && rc != VELD_EREVOKED))
		fprintf(stderr, "replica %d: local write: %s\n", i,
			veld_err_name(rc));
}

/* Ship a random part of from's log to to, shuffled, with duplicates. */
static void deliver(struct world *w, int from, int to)
{
	struct oplist l;
	struct veld_bytes *b;
	size_t n = 0;

	oplist_load(&l, w->r[from]);
	b = calloc(2 * l.n + 1, sizeof(*b));
	for (size_t i = 0; i < l.n; i++) {
		if (rnd(w, 4) == 0)
			continue; /* partial */
		b[n++] = (struct veld_bytes){l.ops[i].data, l.ops[i].len};
		if (rnd(w, 8) == 0) /* duplicate */
			b[n++] = (struct veld_bytes){l.ops[i].data,
						     l.ops[i].len};
	}
	for (size_t i = n; i > 1; i--) { /* shuffle */
		size_t j = rnd(w, i);
		struct veld_bytes t = b[i - 1];
		b[i - 1] = b[j];
		b[j] = t;
	}
	for (size_t off = 0; off < n;) { /* in 1..3 batches */
		size_t len = n - off;
		if (len > 1 && rnd(w, 2))
			len = 1 + rnd(w, len);
		if (veld_replica_apply(w->r[to], b + off, len, 0, NULL) != 0)
			abort();
		off += len;
	}
	free(b);
	oplist_release(&l);
}

/* Sorted op ids of a replica's log, hashed. */
static int cmp32(const void *a, const void *b)
{
	return memcmp(a, b, 32);
}

static int64_t log_digest(struct world *w, int i, uint8_t out[32])
{
	struct oplist l;
	uint8_t(*ids)[32];

	oplist_load(&l, w->r[i]);
	ids = calloc(l.n + 1, 32);
	for (size_t k = 0; k < l.n; k++) {
		struct veld_op op;
		if (veld_op_decode(l.ops[k].data, l.ops[k].len, &op))
			abort();
		memcpy(ids[k], op.id, 32);
	}
	qsort(ids, l.n, 32, cmp32);
	crypto_generichash(out, 32, (const uint8_t *)ids, l.n * 32, NULL, 0);
	free(ids);
	int64_t n = (int64_t)l.n;
	oplist_release(&l);
	return n;
}

static int run_seed(uint64_t seed)
{
	struct world w;
	uint8_t h0[32], h[32], l0[32], l[32];
	int64_t n0, n, pending;
	int ok = 1;

	world_init(&w, seed);
	/* Mostly, devices learn their enrolment first; sometimes they write
	 * before they know, and their ops wait for it everywhere. */
	if (rnd(&w, 4))
		for (int i = 1; i < NREP; i++)
			ship(w.r[0], w.r[i]);
	for (int step = 0; step < STEPS; step++) {
		uint64_t a = rnd(&w, 10);
		int i = (int)rnd(&w, NREP), j = (int)rnd(&w, NREP);

		w.wall += rnd(&w, 3000);
		if (a < 5)
			local_write(&w, i);
		else if (a < 9 && i != j)
			deliver(&w, i, j);
		else if (a == 9) { /* restart */
			veld_replica_close(w.r[i]);
			open_rep(&w, i);
		}
	}
	/* Everyone exchanges everything with everyone, until quiet. */
	for (int round = 0; round < 3; round++)
		for (int i = 0; i < NREP; i++)
			for (int j = 0; j < NREP; j++)
				if (i != j)
					ship(w.r[i], w.r[j]);

	state_hash(w.r[0], h0);
	n0 = log_digest(&w, 0, l0);
	for (int i = 0; i < NREP; i++) {
		state_hash(w.r[i], h);
		n = log_digest(&w, i, l);
		if (veld_store_pending_count(veld_replica_store(w.r[i]),
					     &pending))
			abort();
		if (memcmp(h, h0, 32) || memcmp(l, l0, 32) || pending) {
			fprintf(stderr,
				"seed %llu: replica %d differs (ops %lld vs "
				"%lld, pending %lld)\n",
				(unsigned long long)seed, i, (long long)n,
				(long long)n0, (long long)pending);
			ok = 0;
		}
	}
	/* Every accepted local write is in the log (plus 5 enrolments). */
	if (getenv("VELD_CONVERGE_VERBOSE"))
		fprintf(stderr, "seed %llu: %lld ops, %d written\n",
			(unsigned long long)seed, (long long)n0, w.written);
	if (n0 < w.written + NREP - 1) {
		fprintf(stderr, "seed %llu: %lld ops in the log, %d written\n",
			(unsigned long long)seed, (long long)n0,
			w.written + NREP - 1);
		ok = 0;
	}
	world_free(&w);
	return ok;
}

int main(int argc, char **argv)
{
	uint64_t seeds = argc > 1 ? strtoull(argv[1], NULL, 10) : 300;
	uint64_t first = argc > 2 ? strtoull(argv[2], NULL, 10) : 1;
	const char *env = getenv("VELD_CONVERGE_SEEDS");

	if (env && *env)
		seeds = strtoull(env, NULL, 10);
	int failed_seeds = 0;

	if (sodium_init() < 0)
		return 2;
	for (uint64_t s = first; s < first + seeds; s++) {
		if (!run_seed(s)) {
			failed_seeds++;
			fprintf(stderr, "replay: test_converge 1 %llu\n",
				(unsigned long long)s);
		}
		CHECK(1);
	}
	CHECK_EQ(failed_seeds, 0);
	return test_summary("test_converge");
}
