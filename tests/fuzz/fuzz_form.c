/*
 * fuzz_form.c - libFuzzer target for form JSON import: `veldd form import
 * FILE` (server/admin.c: SQLite's json_tree walk, the form checks, packing
 * the definition, signing the form op), run through veld_admin_main() as
 * an operator would, on a data directory in a temporary directory.
 *
 * Each run starts from an empty store (the file is removed), so a saved
 * input replays the same way.  Besides sanitizer reports it aborts when:
 *
 *  - the command exits with anything but 0 (imported) or 1 (refused with a
 *    message): never 2 (usage) or a crash, whatever the file holds;
 *  - a refused form left an op in the store;
 *  - an imported form is not exactly one op that decodes and verifies
 *    (veld_op_decode, veld_op_verify) as a form (kind 5) by the server key,
 *    i.e. canonical msgpack whatever JSON came in.
 *
 * The command's own output and messages go to /dev/null while it runs,
 * unless FUZZ_FORM_TRACE is set in the environment (to read what a saved
 * input does).
 */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sodium.h>

#include "../dbfiles.h"
#include "admin.h"
#include "datadir.h"
#include "err.h"
#include "replica.h"
#include "store.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char dir[64], file[96], db[96];
static struct veld_key server;
static FILE *devnull;
static int trace;

static void fail(const char *what)
{
	fprintf(stderr, "fuzz_form: %s\n", what);
	abort();
}

static void cleanup(void)
{
	char p[128];

	test_remove_db(db);
	unlink(file);
	snprintf(p, sizeof(p), "%s/%s", dir, VELD_DATADIR_KEY_FILE);
	unlink(p);
	rmdir(dir);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	struct veld_datadir dd;
	char err[512];

	(void)argc;
	(void)argv;
	if (sodium_init() < 0)
		fail("sodium_init failed");
	snprintf(dir, sizeof(dir), "/tmp/fuzz_form.XXXXXX");
	if (!mkdtemp(dir))
		fail("mkdtemp failed");
	atexit(cleanup);
	/* What `veldd serve` does on its first start. */
	if (veld_datadir_open(&dd, dir, err, sizeof(err)) < 0)
		fail(err);
	server = dd.key;
	veld_datadir_close(&dd);
	snprintf(file, sizeof(file), "%s/form.json", dir);
	snprintf(db, sizeof(db), "%s/veld.db", dir);
	trace = getenv("FUZZ_FORM_TRACE") != NULL;
	devnull = fopen("/dev/null", "w");
	if (!devnull)
		fail("cannot open /dev/null");
	return 0;
}

struct seen {
	int n;
	int bad;
};

static int check_op(void *ctx, const struct veld_stored_op *so)
{
	struct seen *s = ctx;
	struct veld_buf framed;
	struct veld_op op;

	s->n++;
	veld_buf_init(&framed, VELD_OP_MAX);
	if (veld_op_frame(so->header, so->header_len, so->sig, so->body,
			  so->body_len, &framed) ||
	    veld_op_decode(framed.data, framed.len, &op) ||
	    veld_op_verify(&op) || op.h.kind != VELD_KIND_FORM ||
	    memcmp(op.h.author, server.pk, VELD_PK_LEN) || !op.body)
		s->bad = 1;
	veld_buf_release(&framed);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *argv[] = {"form", "import", file, "--data", dir, NULL};
	struct veld_replica *r;
	struct seen seen = {0, 0};
	FILE *out = stdout, *err = stderr;
	int fd, status;

	test_remove_db(db);
	fd = open(file, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	if (fd < 0 || (size && write(fd, data, size) != (ssize_t)size) ||
	    close(fd))
		fail("cannot write the form file");

	fflush(stdout);
	fflush(stderr);
	if (!trace) {
		stdout = devnull;
		stderr = devnull;
	}
	status = veld_admin_main(5, argv);
	fflush(devnull);
	stdout = out;
	stderr = err;
	if (status != 0 && status != 1)
		fail("form import exited with neither 0 nor 1");

	if (veld_replica_open(db, &server, server.pk, &r))
		fail("cannot open the store afterwards");
	if (veld_store_ops_since(veld_replica_store(r), 0, 16, check_op, &seen))
		fail("cannot read the store afterwards");
	veld_replica_close(r);
	if (status == 1 && seen.n != 0)
		fail("a refused form left an op in the store");
	if (status == 0 && (seen.n != 1 || seen.bad))
		fail("an imported form is not one valid form op");
	return 0;
}
