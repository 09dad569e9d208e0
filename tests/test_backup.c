/*
 * test_backup.c - the store's read-only and backup functions, and
 * veld_verify_store, on real files.
 *
 * Cast: the server S (root of trust), a coordinator C, field devices A and
 * B.  A forks its chain (so it is frozen and its ops are void), B is
 * revoked and writes on (so its later ops are void), C erases a record:
 * every status the verifier must accept as it is.  Then the derived tables
 * of copies are damaged one at a time through the store's own functions,
 * and each damage must be reported by the check that owns it.  The online
 * backup runs while another process commits to the same file.
 */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "hlc.h"
#include "replica_util.h"
#include "verify.h"

static struct veld_key kS, kA, kB, kC;
static char dir[] = "/tmp/veld-test-backup.XXXXXX";
static char live[256];

static void sleep_us(long us)
{
	struct timespec ts = {us / 1000000, (us % 1000000) * 1000};

	nanosleep(&ts, NULL);
}

static void path_in(char *out, size_t n, const char *name)
{
	snprintf(out, n, "%s/%s", dir, name);
}

static struct veld_replica *open_as(const struct veld_key *k, const char *path)
{
	struct veld_replica *r;

	if (veld_replica_open(path, k, kS.pk, &r) != 0)
		abort();
	return r;
}

/* A signed put of author k with a chosen seq and prev (for the fork). */
static void make_put(const struct veld_key *k, uint64_t seq,
		     const uint8_t *prev, const uint8_t record[16],
		     const char *value, struct veld_buf *out)
{
	struct veld_op_header h;
	struct veld_buf body;
	msgpack_packer pk;
	uint8_t salt[16];

	memset(&h, 0, sizeof(h));
	h.seq = seq;
	h.has_prev = prev != NULL;
	if (prev)
		memcpy(h.prev, prev, 32);
	h.hlc = VELD_HLC_MAKE(veld_hlc_wall_ms(), 0);
	memcpy(h.record, record, 16);
	h.kind = VELD_KIND_PUT;
	veld_buf_init(&body, VELD_BODY_MAX);
	veld_buf_packer_init(&pk, &body);
	veld_salt_random(salt);
	veld_body_begin(&pk, salt);
	msgpack_pack_map(&pk, 2);
	msgpack_pack_str_with_body(&pk, "form", 4);
	msgpack_pack_str_with_body(&pk, "f", 1);
	msgpack_pack_str_with_body(&pk, "set", 3);
	msgpack_pack_map(&pk, 1);
	msgpack_pack_str_with_body(&pk, "street", 6);
	msgpack_pack_str_with_body(&pk, value, strlen(value));
	veld_buf_init(out, VELD_OP_MAX);
	if (veld_op_create(k, &h, body.data, body.len, out, NULL) != 0)
		abort();
	veld_buf_release(&body);
}

static void put(struct veld_replica *r, uint8_t rec[16], int create,
		const char *street)
{
	struct veld_field f = {"street", street, NULL, 0};

	CHECK_ERR(veld_replica_put(r, rec, create, "huisbezoek", "noord", &f, 1,
				   NULL),
		  0);
}

static uint8_t erased_rec[16], kept_rec[16];

/* The live store: every status there is. */
static void build_live(void)
{
	struct veld_replica *S, *A, *B, *C;
	struct veld_buf fork;
	uint8_t rec[16], a_rec[16];

	path_in(live, sizeof(live), "live.db");
	S = open_as(&kS, live);
	A = open_as(&kA, ":memory:");
	B = open_as(&kB, ":memory:");
	C = open_as(&kC, ":memory:");
	CHECK_ERR(veld_replica_device(S, kC.pk, "coordinator", "Carla", NULL, 0,
				      NULL),
		  0);
	CHECK_ERR(veld_replica_device(S, kA.pk, "field", "Ahmed", "noord", 0,
				      NULL),
		  0);
	CHECK_ERR(
		veld_replica_device(S, kB.pk, "field", "Bea", "noord", 0, NULL),
		0);
	for (int i = 0; i < 20; i++)
		put(S, rec, 1, "Kerkstraat");
	memcpy(kept_rec, rec, 16);
	ship(S, A);
	ship(S, B);
	ship(S, C);
	put(A, a_rec, 1, "Brink");
	put(B, rec, 1, "Dorpsweg");
	put(C, erased_rec, 1, "Markt");
	CHECK_ERR(veld_replica_note(C, erased_rec, "belt terug", NULL), 0);
	CHECK_ERR(veld_replica_erase(C, erased_rec, NULL), 0);
	ship(A, S);
	ship(B, S);
	ship(C, S);
	/* A forks: a second op at seq 1. */
	make_put(&kA, 1, NULL, a_rec, "Anders", &fork);
	CHECK_EQ(apply1(S, &fork).status, VELD_APPLY_REFUSED);
	veld_buf_release(&fork);
	/* B is revoked, and writes on without knowing. */
	CHECK_ERR(
		veld_replica_device(S, kB.pk, "field", "Bea", "noord", 1, NULL),
		0);
	sleep_us(2000); /* a later clock than the revocation */
	put(B, rec, 1, "Na intrekking");
	ship(B, S);
	veld_replica_close(A);
	veld_replica_close(B);
	veld_replica_close(C);
	veld_replica_close(S);
}

static int has_problem(const struct veld_verify_report *rep,
		       enum veld_verify_check c)
{
	for (size_t i = 0; i < rep->nproblems; i++)
		if (rep->problems[i].check == c)
			return 1;
	return 0;
}

static void verify_live_clean(void)
{
	struct veld_store *s;
	struct veld_verify_report rep;

	CHECK_ERR(veld_store_open_readonly(live, &s), 0);
	CHECK_ERR(veld_verify_store(s, kS.pk, &rep), 0);
	CHECK_EQ(rep.problems_total, 0);
	for (size_t i = 0; i < rep.nproblems; i++)
		fprintf(stderr, "  unexpected: %s: %s\n",
			veld_verify_check_name(rep.problems[i].check),
			rep.problems[i].what);
	CHECK(rep.counts.ops > 25);
	CHECK(rep.counts.ops_void >= 2); /* A's put, B's late put */
	CHECK_EQ(rep.counts.ops_fork, 1);
	CHECK_EQ(rep.counts.erasures, 1);
	CHECK_EQ(rep.authors, 4);
	CHECK(rep.root_ops >= 24);
	CHECK_EQ(rep.checked[VELD_VC_SIGNATURE], (uint64_t)rep.counts.ops);
	CHECK_EQ(rep.nfrozen, 1);
	if (rep.nfrozen) {
		CHECK_MEM(rep.frozen[0].author, kA.pk, 32);
		CHECK(rep.frozen[0].frozen);
		CHECK_EQ(rep.frozen[0].fork_seq, 1);
		CHECK_EQ(rep.frozen[0].evidence, 1);
	}
	CHECK(rep.state_done);
	CHECK_MEM(rep.state_store, rep.state_refold, 32);
	veld_verify_report_release(&rep);

	/* Under another root nothing is enrolled. */
	CHECK_ERR(veld_verify_store(s, kC.pk, &rep), 0);
	CHECK(rep.problems_total > 0);
	CHECK(rep.failed[VELD_VC_REGISTRY] > 0);
	veld_verify_report_release(&rep);

	/* Read-only means read-only. */
	CHECK_ERR(veld_store_meta_set(s, "x", "y", 1), VELD_ESTORE);
	veld_store_close(s);
}

/* A writable copy of the live store, to damage. */
static struct veld_store *damaged_copy(const char *name)
{
	char p[300];
	struct veld_store *s;

	path_in(p, sizeof(p), name);
	CHECK_ERR(veld_store_copy(live, p, NULL, 0), 0);
	if (veld_store_open(p, &s) != 0)
		abort();
	return s;
}

struct first_applied {
	uint8_t id[32];
	int found;
};

static int find_applied(void *ctx, const struct veld_stored_op *op)
{
	struct first_applied *f = ctx;

	if (op->status != VELD_STATUS_APPLIED || op->h.kind != VELD_KIND_PUT ||
	    f->found)
		return 0;
	memcpy(f->id, op->id, 32);
	f->found = 1;
	return 0;
}

static void verify_finds_damage(void)
{
	struct veld_store *s;
	struct veld_verify_report rep;
	struct first_applied f = {{0}, 0};
	struct veld_head head;

	/* An applied op marked void. */
	s = damaged_copy("status.db");
	CHECK_EQ(veld_store_ops_since(s, 0, 1000, find_applied, &f), 0);
	CHECK(f.found);
	CHECK_EQ(veld_store_op_set_status(s, f.id, VELD_STATUS_VOID), 0);
	CHECK_ERR(veld_verify_store(s, kS.pk, &rep), 0);
	CHECK(has_problem(&rep, VELD_VC_REFOLD));
	CHECK(has_problem(&rep, VELD_VC_REGISTRY));
	CHECK(rep.nproblems > 0 && rep.problems[0].has_op &&
	      !memcmp(rep.problems[0].op, f.id, 32));
	veld_verify_report_release(&rep);
	veld_store_close(s);

	/* A chain head moved on. */
	s = damaged_copy("head.db");
	CHECK_EQ(veld_store_head(s, kS.pk, &head), 0);
	head.seq++;
	CHECK_EQ(veld_store_head_set(s, kS.pk, &head), 0);
	CHECK_ERR(veld_verify_store(s, kS.pk, &rep), 0);
	CHECK_EQ(rep.problems_total, 1);
	CHECK(has_problem(&rep, VELD_VC_HEADS));
	veld_verify_report_release(&rep);
	veld_store_close(s);

	/* A record marked erased that no erase op names. */
	s = damaged_copy("erasure.db");
	CHECK_EQ(veld_store_erase_mark(s, kept_rec), 0);
	CHECK_ERR(veld_verify_store(s, kS.pk, &rep), 0);
	CHECK_EQ(rep.problems_total, 1);
	CHECK(has_problem(&rep, VELD_VC_ERASURES));
	veld_verify_report_release(&rep);
	veld_store_close(s);

	/* Bodies lost: the materialised state no longer follows. */
	s = damaged_copy("bodies.db");
	CHECK_EQ(veld_store_drop_bodies(s, kept_rec, VELD_KIND_ERASE), 0);
	CHECK_ERR(veld_verify_store(s, kS.pk, &rep), 0);
	CHECK_EQ(rep.problems_total, 1);
	CHECK(has_problem(&rep, VELD_VC_STATE));
	veld_verify_report_release(&rep);
	veld_store_close(s);
}

/* Another process: commit small batches until told to stop. */
static void writer(int ready_fd)
{
	struct veld_replica *S = open_as(&kS, live);
	uint8_t rec[16];
	char one = 1;

	for (int i = 0; i < 100000; i++) {
		struct veld_field f = {"street", "Lange Laan", NULL, 0};
		if (veld_replica_put(S, rec, 1, "huisbezoek", NULL, &f, 1,
				     NULL) != 0)
			_exit(1);
		if (i == 5 && write(ready_fd, &one, 1) != 1)
			_exit(1);
		sleep_us(500);
	}
	_exit(0);
}

struct count {
	int64_t n;
};

static int count_ops(void *ctx, const struct veld_raw_op *op)
{
	(void)op;
	((struct count *)ctx)->n++;
	return 0;
}

static void backup_while_writing(void)
{
	char copy[300];
	struct veld_store *s, *c;
	struct veld_store_counts at, later, got;
	struct veld_backup_stats stats;
	struct veld_verify_report rep;
	uint8_t h[32], hc[32];
	struct count n = {0};
	int fds[2], status = 0;
	char one;
	pid_t pid;

	path_in(copy, sizeof(copy), "copy.db");
	if (pipe(fds) != 0)
		abort();
	pid = fork();
	if (pid == 0) {
		close(fds[0]);
		writer(fds[1]);
	}
	close(fds[1]);
	CHECK_EQ(read(fds[0], &one, 1), 1); /* the writer is writing */

	CHECK_ERR(veld_store_open_readonly(live, &s), 0);
	CHECK_ERR(veld_store_read_begin(s), 0);
	CHECK_EQ(veld_replica_state_hash_store(s, h), 0);
	CHECK_EQ(veld_store_counts(s, &at), 0);
	/* One page a step, 2 ms apart: the writer commits all along. */
	CHECK_ERR(veld_store_backup(s, copy, 1, 2, &stats, NULL, 0), 0);
	veld_store_read_end(s);
	CHECK(stats.steps > 10);
	CHECK_EQ(stats.pages, at.page_count);
	CHECK_EQ(veld_store_counts(s, &later), 0);
	CHECK(later.ops > at.ops); /* commits happened meanwhile */
	/* verify reads one snapshot too, whatever commits meanwhile. */
	CHECK_ERR(veld_verify_store(s, kS.pk, &rep), 0);
	CHECK_EQ(rep.problems_total, 0);
	CHECK(rep.counts.ops >= later.ops);
	veld_verify_report_release(&rep);
	veld_store_close(s);
	kill(pid, SIGTERM);
	waitpid(pid, &status, 0);
	close(fds[0]);

	/* The copy is the snapshot: not one op more or less. */
	CHECK_ERR(veld_store_open_readonly(copy, &c), 0);
	CHECK_EQ(veld_store_integrity(c, NULL, 0), 0);
	CHECK_EQ(veld_store_counts(c, &got), 0);
	CHECK_EQ(got.ops, at.ops);
	CHECK_EQ(veld_store_raw_ops(c, VELD_RAW_BY_POS, count_ops, &n), 0);
	CHECK_EQ(n.n, at.ops);
	CHECK_EQ(veld_replica_state_hash_store(c, hc), 0);
	CHECK_MEM(h, hc, 32);
	veld_store_close(c);

	/* Never over an existing file. */
	CHECK_ERR(veld_store_open_readonly(live, &s), 0);
	errno = 0;
	CHECK_ERR(veld_store_backup(s, copy, 64, 0, &stats, NULL, 0), VELD_EIO);
	CHECK_EQ(errno, EEXIST);
	veld_store_close(s);
}

static int first_pos(void *ctx, const struct veld_stored_op *op)
{
	*(int64_t *)ctx = op->pos;
	return 1;
}

/*
 * On a store rebased to 1000000: an op that went in at the floor and was
 * rolled back, whole or as a part, or kept in a part of a transaction
 * that was then rolled back (also after a later part was undone, which
 * saw the floor reached), leaves the floor where it was (store.c reloads
 * it), so the next op still gets position 1000000 (the caller's put).
 */
static void floor_rolled_back(struct veld_store *st, const uint8_t rec[16])
{
	struct veld_buf o;
	struct veld_op op;
	int64_t next;

	make_put(&kA, 1, NULL, rec, "Terug", &o);
	CHECK_EQ(veld_op_decode(o.data, o.len, &op), 0);
	for (int way = 0; way < 4; way++) {
		CHECK_EQ(veld_store_begin(st), 0);
		if (way > 0)
			CHECK_EQ(veld_store_part_begin(st), 0);
		CHECK_EQ(veld_store_op_insert(st, &op, 1, 0), 0);
		CHECK_EQ(veld_store_log_next(st, &next), 0);
		CHECK_EQ(next, 1000001);
		if (way == 1) { /* the part undone, the rest committed */
			CHECK_EQ(veld_store_part_end(st, 0), 0);
			CHECK_EQ(veld_store_commit(st), 0);
		} else {
			if (way >= 2) /* the part kept, the whole undone */
				CHECK_EQ(veld_store_part_end(st, 1), 0);
			if (way == 3) { /* after an empty part undone */
				CHECK_EQ(veld_store_part_begin(st), 0);
				CHECK_EQ(veld_store_part_end(st, 0), 0);
			}
			veld_store_rollback(st);
		}
		CHECK_EQ(veld_store_log_next(st, &next), 0);
		CHECK_EQ(next, 1000000);
	}
	veld_buf_release(&o);
}

static void rebase_and_in_use(void)
{
	char p[300];
	struct veld_store *s;
	struct veld_replica *r;
	int64_t next, before, pos = 0;
	uint8_t rec[16];

	path_in(p, sizeof(p), "rebase.db");
	CHECK_ERR(veld_store_copy(live, p, NULL, 0), 0);
	CHECK_EQ(veld_store_in_use(p), 0);
	CHECK_ERR(veld_store_open(p, &s), 0);
	CHECK_EQ(veld_store_in_use(p), 1);
	CHECK_EQ(veld_store_log_next(s, &before), 0);
	CHECK(before > 1);
	CHECK_EQ(veld_store_log_rebase(s, 1000000), 0);
	CHECK_EQ(veld_store_log_next(s, &next), 0);
	CHECK_EQ(next, 1000000);
	CHECK_EQ(veld_store_log_rebase(s, 10), 0); /* never back */
	CHECK_EQ(veld_store_log_next(s, &next), 0);
	CHECK_EQ(next, 1000000);
	veld_store_close(s);
	CHECK_EQ(veld_store_in_use(p), 0);

	r = open_as(&kS, p);
	floor_rolled_back(veld_replica_store(r), rec);
	put(r, rec, 1, "Nieuw");
	CHECK_EQ(veld_store_ops_since(veld_replica_store(r), before, 10,
				      first_pos, &pos),
		 1);
	CHECK_EQ(pos, 1000000);
	veld_replica_close(r);

	path_in(p, sizeof(p), "missing.db");
	CHECK_EQ(veld_store_in_use(p), 0);
	CHECK_ERR(veld_store_open_readonly(p, &s), VELD_ESTORE);
}

/* Remove the test directory and what is in it. */
static void cleanup(void)
{
	const char *names[] = {"live.db",	"live.db-wal",	"live.db-shm",
			       "copy.db",	"status.db",	"head.db",
			       "erasure.db",	"bodies.db",	"rebase.db",
			       "rebase.db-wal", "rebase.db-shm"};
	char p[300];

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		path_in(p, sizeof(p), names[i]);
		unlink(p);
	}
	rmdir(dir);
}

int main(void)
{
	if (sodium_init() < 0 || !mkdtemp(dir))
		return 1;
	util_key(&kS, 0x51);
	util_key(&kA, 0xa1);
	util_key(&kB, 0xb1);
	util_key(&kC, 0xc1);
	build_live();
	verify_live_clean();
	verify_finds_damage();
	backup_while_writing();
	rebase_and_in_use();
	cleanup();
	return test_summary("test_backup");
}
