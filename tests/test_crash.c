/*
 * test_crash.c - crash safety of the replica store.
 *
 * A writer process applies batches of BATCH ops to a file-backed replica
 * in a loop; the test kills it with SIGKILL at a random moment, reopens
 * the file and checks that
 *   - PRAGMA integrity_check says ok;
 *   - the log holds a whole number of batches (each batch wholly there or
 *     wholly absent), the chain head matches, nothing is pending;
 *   - the materialised state is exactly what those ops fold into (a fresh
 *     replica fed the same ops has the same state hash);
 *   - every batch the writer had reported committed is there.
 * The writer reports each committed batch on a pipe; the kill comes at a
 * random moment after its first report of that run, so that every run
 * gets some work done however slow the build (ASan) or the machine.
 * Then the writer resumes on the same file, and again.
 *
 * Usage: test_crash [ITERATIONS]   (default 15; a long campaign: 500)
 */
#include <poll.h>
#include <signal.h>
#include <sodium.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "hlc.h"
#include "replica_util.h"

#define BATCH 200

static struct veld_key root;

static void make_put(uint64_t seq, const uint8_t *prev, struct veld_buf *out,
		     uint8_t id[32])
{
	struct veld_op_header h;
	struct veld_buf body;
	msgpack_packer pk;
	uint8_t salt[16];
	char value[32];

	memset(&h, 0, sizeof(h));
	h.seq = seq;
	h.has_prev = seq > 1;
	if (prev)
		memcpy(h.prev, prev, 32);
	h.hlc = VELD_HLC_MAKE(veld_hlc_wall_ms(), 0) + seq;
	memcpy(h.record, &seq, sizeof(seq)); /* a record per 1 op... */
	h.record[0] = (uint8_t)(seq % 50);   /* ...but 50 records in all */
	memset(h.record + 1, 0x5a, 15);
	h.kind = VELD_KIND_PUT;
	veld_buf_init(&body, VELD_BODY_MAX);
	veld_buf_packer_init(&pk, &body);
	veld_salt_random(salt);
	veld_body_begin(&pk, salt);
	msgpack_pack_map(&pk, 2);
	msgpack_pack_str_with_body(&pk, "form", 4);
	msgpack_pack_str_with_body(&pk, "crash", 5);
	msgpack_pack_str_with_body(&pk, "set", 3);
	msgpack_pack_map(&pk, 1);
	msgpack_pack_str_with_body(&pk, "n", 1);
	snprintf(value, sizeof(value), "value %llu", (unsigned long long)seq);
	msgpack_pack_str_with_body(&pk, value, strlen(value));
	veld_buf_init(out, VELD_OP_MAX);
	if (veld_op_create(&root, &h, body.data, body.len, out, id) != 0)
		abort();
	veld_buf_release(&body);
}

/* The child: write batches until killed (bounded all the same); after
 * each commit, write the log's op count to fd. */
static void writer(const char *path, int fd)
{
	struct veld_replica *r;
	struct veld_head head;
	struct veld_buf ops[BATCH];
	struct veld_bytes b[BATCH];

	if (veld_replica_open(path, &root, root.pk, &r) != 0)
		_exit(3);
	for (int batch = 0; batch < 1000; batch++) {
		uint8_t prev[32];
		if (veld_store_head(veld_replica_store(r), root.pk, &head))
			_exit(4);
		memcpy(prev, head.id, 32);
		for (int i = 0; i < BATCH; i++) {
			make_put(head.seq + 1 + (uint64_t)i,
				 head.seq + (uint64_t)i ? prev : NULL, &ops[i],
				 prev);
			b[i] = (struct veld_bytes){ops[i].data, ops[i].len};
		}
		if (veld_replica_apply(r, b, BATCH, 1, NULL) != 0)
			_exit(5);
		{
			int64_t done = (int64_t)head.seq + BATCH;
			if (write(fd, &done, sizeof(done)) != sizeof(done))
				_exit(6);
		}
		for (int i = 0; i < BATCH; i++)
			veld_buf_release(&ops[i]);
	}
	veld_replica_close(r);
	_exit(0);
}

static int verify(const char *path, int64_t *ops_out)
{
	struct veld_replica *r, *fresh;
	struct veld_head head;
	int64_t count, pending;
	uint64_t max_hlc;
	uint8_t h1[32], h2[32];
	char msg[256];
	int ok = 1;

	if (veld_replica_open(path, &root, root.pk, &r) != 0) {
		fprintf(stderr, "reopen failed\n");
		return 0;
	}
	if (veld_store_integrity(veld_replica_store(r), msg, sizeof(msg))) {
		fprintf(stderr, "integrity_check: %s\n", msg);
		ok = 0;
	}
	if (veld_store_op_count(veld_replica_store(r), &count, &max_hlc) ||
	    veld_store_head(veld_replica_store(r), root.pk, &head) ||
	    veld_store_pending_count(veld_replica_store(r), &pending))
		abort();
	if (count % BATCH != 0 || (uint64_t)count != head.seq || pending) {
		fprintf(stderr, "ops %lld, head %llu, pending %lld\n",
			(long long)count, (unsigned long long)head.seq,
			(long long)pending);
		ok = 0;
	}
	/* The state is exactly the fold of the log. */
	if (veld_replica_open(":memory:", &root, root.pk, &fresh) != 0)
		abort();
	ship(r, fresh);
	state_hash(r, h1);
	state_hash(fresh, h2);
	if (memcmp(h1, h2, 32) != 0) {
		fprintf(stderr, "state differs from the fold of its log\n");
		ok = 0;
	}
	veld_replica_close(fresh);
	veld_replica_close(r);
	*ops_out = count;
	return ok;
}

int main(int argc, char **argv)
{
	int iterations = argc > 1 ? (int)strtol(argv[1], NULL, 10) : 15;
	char dir[] = "/tmp/veld-crash-XXXXXX", path[80];
	uint8_t seed[32];
	uint64_t rs = (uint64_t)time(NULL);
	int64_t ops = 0, last = 0;
	int grew = 0;

	if (sodium_init() < 0 || !mkdtemp(dir))
		return 2;
	memset(seed, 0x11, sizeof(seed));
	veld_key_from_seed(&root, seed);
	snprintf(path, sizeof(path), "%s/crash.db", dir);
	for (int it = 0; it < iterations; it++) {
		int fds[2], status;
		int64_t acked = 0, got;
		struct pollfd pfd;
		pid_t pid;

		if (pipe(fds) != 0)
			return 2;
		pid = fork();
		if (pid == 0) {
			close(fds[0]);
			writer(path, fds[1]);
		}
		CHECK(pid > 0);
		close(fds[1]);
		/* Its first commit of this run (60 s at most), then a random
		 * moment within the next batches. */
		pfd = (struct pollfd){.fd = fds[0], .events = POLLIN};
		if (poll(&pfd, 1, 60000) == 1 &&
		    read(fds[0], &got, sizeof(got)) == sizeof(got))
			acked = got;
		struct timespec ts = {0, (long)(test_rand(&rs) % 150000000)};
		nanosleep(&ts, NULL);
		kill(pid, SIGKILL);
		waitpid(pid, &status, 0);
		CHECK(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
		/* Reports written before the kill: committed, so kept. */
		while (read(fds[0], &got, sizeof(got)) == sizeof(got))
			acked = got;
		close(fds[0]);
		CHECK(verify(path, &ops));
		CHECK(ops >= acked);
		grew += ops > last;
		last = ops;
	}
	printf("test_crash: %d kills, %lld ops survived, log grew in %d\n",
	       iterations, (long long)ops, grew);
	CHECK(grew > 0); /* the writer did get work done between kills */
	veld_key_release(&root);
	snprintf(path, sizeof(path), "rm -rf '%s'", dir);
	if (system(path) != 0)
		fprintf(stderr, "could not remove %s\n", dir);
	return test_summary("test_crash");
}
