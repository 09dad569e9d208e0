/*
 * backup.c - veldd backup, verify and restore; see backup.h.
 *
 * A backup is made in a way that never leaves a half file under its name:
 * the copy goes to FILE.tmp (created with O_EXCL, mode 0600), is fsync'ed,
 * opened again and checked as a whole - integrity_check, then every check
 * of `veldd verify`, then its state hash against the live store's at the
 * very snapshot it was copied from - and only then renamed to FILE, after
 * which the directory is fsync'ed.  A copy that fails a check stays FILE.tmp
 * for inspection and the command fails.
 *
 * Restore and device cursors.  A device remembers the log position it has
 * pulled up to, and asks for the ops after it.  A restored log ends where
 * the backup ended, so if it simply went on counting, the ops appended
 * after the restore would get positions that devices have already pulled
 * past, and those devices would never be sent them.  So a restore moves the
 * position counter to wall-clock milliseconds x 1024: a log counts one
 * position per op, so no earlier copy of this log can be that far along
 * unless it appended over a million ops a second on average since it
 * began (and the counter is also kept past the backup's and the replaced
 * store's own).  Positions stay below 2^53 (exact in JSON) until the year
 * 2248.
 */
#include "backup.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "buf.h"
#include "err.h"
#include "hlc.h"
#include "msg.h"
#include "replica.h"
#include "verify.h"

#define EXIT_FAIL 1

/* Pages per backup step, and the pause between steps (see store.h). */
#define BACKUP_STEP_PAGES 256
#define BACKUP_PAUSE_MS 5

/* Ops per batch when taking ops from another replica (as a PUSH). */
#define IMPORT_BATCH 256
/* A batch ends after a signed op: at most a PUSH's run more. */
#define IMPORT_MAX (IMPORT_BATCH + VELD_BATCH_MAX)

/* Problems printed after a backup or before a restore that fails. */
#define PROBLEMS_SHOWN 20

/* Positions per millisecond of wall clock after a restore (above). */
#define RESTORE_POS_PER_MS 1024

/* Largest `verify --json` output. */
#define REPORT_JSON_MAX (64 * 1024 * 1024)

#define DB_FILE "veld.db"

static int fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Say what went wrong on stderr; returns EXIT_FAIL. */
static int fail(const char *fmt, ...)
{
	va_list ap;

	fputs("veldd: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return EXIT_FAIL;
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Lowercase hex of n bytes; out has room for 2n + 1. */
static const char *hex(char *out, const uint8_t *p, size_t n)
{
	return sodium_bin2hex(out, 2 * n + 1, p, n);
}

/* The first 8 bytes as hex, for lists where the whole key is too long. */
static const char *hex8(char out[17], const uint8_t *p)
{
	return hex(out, p, 8);
}

static int path_join(char *out, size_t n, const char *a, const char *b)
{
	int w = snprintf(out, n, "%s%s", a, b);

	return w >= 0 && (size_t)w < n ? 0 : -1;
}

/* fsync the directory that holds path, so a rename in it is durable. */
static int fsync_dir_of(const char *path)
{
	char dir[PATH_MAX];
	const char *slash = strrchr(path, '/');
	int fd, rc;

	if (!slash)
		snprintf(dir, sizeof(dir), ".");
	else if (slash == path)
		snprintf(dir, sizeof(dir), "/");
	else if ((size_t)(slash - path) < sizeof(dir))
		snprintf(dir, sizeof(dir), "%.*s", (int)(slash - path), path);
	else
		return -1;
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	rc = fsync(fd);
	close(fd);
	return rc;
}

static int fsync_file(const char *path)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC), rc;

	if (fd < 0)
		return -1;
	rc = fsync(fd);
	close(fd);
	return rc;
}

static void print_snapshot(const struct veld_store_counts *c)
{
	printf("  snapshot    %" PRId64 " ops (%" PRId64 " applied, %" PRId64
	       " void, %" PRId64 " fork evidence), %" PRId64
	       " records, %" PRId64 " devices, %" PRId64 " forms\n",
	       c->ops, c->ops_applied, c->ops_void, c->ops_fork, c->records,
	       c->devices, c->forms);
}

/* --- the verify report --- */

static void print_problem(FILE *f, const struct veld_verify_problem *p)
{
	char id[2 * VELD_HASH_LEN + 1], who[17];

	fprintf(f, "  %-9s ", veld_verify_check_name(p->check));
	if (p->has_op)
		fprintf(f, "op %s (log position %" PRId64 "",
			hex(id, p->op, 32), p->pos);
	if (p->has_author) {
		fprintf(f, "%sauthor %s", p->has_op ? "; " : "(",
			hex8(who, p->author));
		if (p->seq)
			fprintf(f, ", seq %" PRIu64, p->seq);
	}
	fprintf(f, "%s%s", p->has_op || p->has_author ? "): " : "", p->what);
	if (p->err)
		fprintf(f, " [%s]", veld_err_name(p->err));
	fputc('\n', f);
}

static void print_problems(FILE *f, const struct veld_verify_report *rep,
			   size_t max)
{
	size_t n = rep->nproblems < max ? rep->nproblems : max;

	for (size_t i = 0; i < n; i++)
		print_problem(f, &rep->problems[i]);
	if (rep->problems_total > n)
		fprintf(f, "  ... and %" PRIu64 " more\n",
			rep->problems_total - (uint64_t)n);
}

static void report_text(const char *path, const uint8_t root[VELD_PK_LEN],
			const struct veld_verify_report *rep)
{
	const struct veld_store_counts *c = &rep->counts;
	char h[2 * VELD_HASH_LEN + 1], who[17];

	printf("veldd verify: %s (read-only, one snapshot)\n", path);
	printf("  server key  %s\n", hex(h, root, VELD_PK_LEN));
	printf("  log         %" PRId64 " ops: %" PRId64 " applied, %" PRId64
	       " void, %" PRId64 " fork evidence; %" PRId64 " bodies kept\n",
	       c->ops, c->ops_applied, c->ops_void, c->ops_fork, c->bodies);
	printf("  authors     %" PRIu64 " (%" PRIu64
	       " ops by the server key)\n",
	       rep->authors, rep->root_ops);
	if (!rep->nfrozen)
		printf("  forks       none\n");
	for (size_t i = 0; i < rep->nfrozen; i++) {
		const struct veld_verify_frozen *f = &rep->frozen[i];
		printf("  forks       author %s: %s from seq %" PRIu64
		       ", %" PRIu64 " op%s kept as evidence\n",
		       hex8(who, f->author),
		       f->frozen ? "frozen" : "NOT frozen", f->fork_seq,
		       f->evidence, f->evidence == 1 ? "" : "s");
	}
	printf("  state       %" PRId64 " records, %" PRId64 " forms, %" PRId64
	       " devices, %" PRId64 " erased records\n",
	       c->records, c->forms, c->devices, c->erasures);
	printf("  held back   %" PRId64 " ops (waiting, not in the log)\n",
	       c->pending);
	printf("  receipts    not checked: the server keeps none (each "
	       "device keeps its own)\n\n");
	printf("  %-9s %9s %9s  %s\n", "CHECK", "CHECKED", "PROBLEMS", "WHAT");
	for (int i = 0; i < VELD_VC_COUNT; i++)
		printf("  %-9s %9" PRIu64 " %9" PRIu64 "  %s\n",
		       veld_verify_check_name(i), rep->checked[i],
		       rep->failed[i], veld_verify_check_what(i));
	if (rep->state_done || rep->state_unsettled)
		printf("\n  state hash  %s\n",
		       hex(h, rep->state_store, VELD_HASH_LEN));
	if (rep->state_unsettled)
		printf("  re-folded   not compared: the records of the ops "
		       "after position %" PRIu64 " were not yet settled (veldd "
		       "settles them within a second, or at its next start)\n",
		       rep->state_settled_pos);
	if (rep->state_done) {
		if (memcmp(rep->state_store, rep->state_refold, VELD_HASH_LEN))
			printf("  re-folded   %s (differs)\n",
			       hex(h, rep->state_refold, VELD_HASH_LEN));
		else
			printf("  re-folded   the same\n");
	}
	if (rep->problems_total) {
		printf("\nproblems:\n");
		print_problems(stdout, rep, (size_t)-1);
		printf("\nverify: %" PRIu64 " problem%s\n", rep->problems_total,
		       rep->problems_total == 1 ? "" : "s");
	} else {
		printf("\nverify: ok, no problems\n");
	}
}

/* JSON, every string quoted by SQLite (veld_store_json_quote); keys and
 * hex are written as they are. */
struct json {
	struct veld_buf b;
	struct veld_store *s;
	int rc;
};

static void j_raw(struct json *j, const char *t)
{
	if (j->rc == 0)
		j->rc = veld_buf_append(&j->b, t, strlen(t));
}

static void j_str(struct json *j, const char *t)
{
	if (j->rc == 0)
		j->rc = veld_store_json_quote(j->s, t, strlen(t), &j->b);
}

static void j_hex(struct json *j, const uint8_t *p, size_t n)
{
	char h[2 * VELD_HASH_LEN + 1];

	j_raw(j, "\"");
	j_raw(j, hex(h, p, n));
	j_raw(j, "\"");
}

static void j_int(struct json *j, const char *key, int64_t v, int comma)
{
	char t[64];

	snprintf(t, sizeof(t), "\"%s\": %" PRId64 "%s", key, v,
		 comma ? ", " : "");
	j_raw(j, t);
}

static int report_json(struct veld_store *s, const char *path,
		       const uint8_t root[VELD_PK_LEN],
		       const struct veld_verify_report *rep)
{
	const struct veld_store_counts *c = &rep->counts;
	struct json j = {.s = s};

	veld_buf_init(&j.b, REPORT_JSON_MAX);
	j_raw(&j, "{\"store\": ");
	j_str(&j, path);
	j_raw(&j, ", \"server_key\": ");
	j_hex(&j, root, VELD_PK_LEN);
	j_raw(&j, rep->problems_total ? ", \"ok\": false" : ", \"ok\": true");
	j_raw(&j, ", \"snapshot\": {");
	j_int(&j, "ops", c->ops, 1);
	j_int(&j, "applied", c->ops_applied, 1);
	j_int(&j, "void", c->ops_void, 1);
	j_int(&j, "fork_evidence", c->ops_fork, 1);
	j_int(&j, "bodies", c->bodies, 1);
	j_int(&j, "authors", (int64_t)rep->authors, 1);
	j_int(&j, "root_ops", (int64_t)rep->root_ops, 1);
	j_int(&j, "records", c->records, 1);
	j_int(&j, "forms", c->forms, 1);
	j_int(&j, "devices", c->devices, 1);
	j_int(&j, "erased_records", c->erasures, 1);
	j_int(&j, "held_back", c->pending, 1);
	j_int(&j, "bytes", c->page_count * c->page_size, 0);
	j_raw(&j, "}, \"checks\": {");
	for (int i = 0; i < VELD_VC_COUNT; i++) {
		j_raw(&j, i ? ", \"" : "\"");
		j_raw(&j, veld_verify_check_name(i));
		j_raw(&j, "\": {");
		j_int(&j, "checked", (int64_t)rep->checked[i], 1);
		j_int(&j, "problems", (int64_t)rep->failed[i], 0);
		j_raw(&j, "}");
	}
	j_raw(&j, "}, \"receipts\": \"not checked: the server keeps none\"");
	j_raw(&j, ", \"forks\": [");
	for (size_t i = 0; i < rep->nfrozen; i++) {
		const struct veld_verify_frozen *f = &rep->frozen[i];
		j_raw(&j, i ? ", {\"author\": " : "{\"author\": ");
		j_hex(&j, f->author, VELD_PK_LEN);
		j_raw(&j, f->frozen ? ", \"frozen\": true, "
				    : ", \"frozen\": false, ");
		j_int(&j, "fork_seq", (int64_t)f->fork_seq, 1);
		j_int(&j, "evidence", (int64_t)f->evidence, 0);
		j_raw(&j, "}");
	}
	j_raw(&j, "], \"state_hash\": ");
	if (rep->state_done || rep->state_unsettled)
		j_hex(&j, rep->state_store, VELD_HASH_LEN);
	else
		j_raw(&j, "null");
	j_raw(&j, ", \"refold_state_hash\": ");
	if (rep->state_done)
		j_hex(&j, rep->state_refold, VELD_HASH_LEN);
	else
		j_raw(&j, "null");
	j_raw(&j, ", ");
	if (rep->state_unsettled)
		j_int(&j, "state_unsettled_after",
		      (int64_t)rep->state_settled_pos, 1);
	else
		j_raw(&j, "\"state_unsettled_after\": null, ");
	j_int(&j, "problems_total", (int64_t)rep->problems_total, 0);
	j_raw(&j, ", \"problems\": [");
	for (size_t i = 0; i < rep->nproblems; i++) {
		const struct veld_verify_problem *p = &rep->problems[i];
		j_raw(&j, i ? ", {\"check\": " : "{\"check\": ");
		j_str(&j, veld_verify_check_name(p->check));
		j_raw(&j, ", \"op\": ");
		if (p->has_op) {
			j_hex(&j, p->op, VELD_HASH_LEN);
			j_raw(&j, ", ");
			j_int(&j, "pos", p->pos, 0);
		} else {
			j_raw(&j, "null, \"pos\": null");
		}
		j_raw(&j, ", \"author\": ");
		if (p->has_author) {
			j_hex(&j, p->author, VELD_PK_LEN);
			j_raw(&j, ", ");
			j_int(&j, "seq", (int64_t)p->seq, 0);
		} else {
			j_raw(&j, "null, \"seq\": null");
		}
		j_raw(&j, ", \"error\": ");
		if (p->err)
			j_str(&j, veld_err_name(p->err));
		else
			j_raw(&j, "null");
		j_raw(&j, ", \"what\": ");
		j_str(&j, p->what);
		j_raw(&j, "}");
	}
	j_raw(&j, "]}\n");
	if (j.rc == 0)
		fwrite(j.b.data, 1, j.b.len, stdout);
	veld_buf_release(&j.b);
	return j.rc;
}

int veld_backup_verify(struct veld_store *s, const char *path,
		       const uint8_t root[VELD_PK_LEN], int json)
{
	struct veld_verify_report rep;
	int rc = veld_verify_store(s, root, &rep);

	if (rc < 0) {
		veld_verify_report_release(&rep);
		return fail("cannot verify '%s': %s%s%s", path,
			    veld_strerror(rc), rc == VELD_ESTORE ? ": " : "",
			    rc == VELD_ESTORE ? veld_store_errmsg(s) : "");
	}
	if (json)
		rc = report_json(s, path, root, &rep);
	else
		report_text(path, root, &rep);
	rc = rc < 0 ? fail("cannot write the report: %s", veld_strerror(rc))
	     : rep.problems_total ? EXIT_FAIL
				  : 0;
	veld_verify_report_release(&rep);
	return rc;
}

/* --- backup --- */

/* Is the file st the same as dir/name? */
static int same_file(const struct stat *st, const char *dir, const char *name)
{
	char p[PATH_MAX];
	struct stat other;

	if (snprintf(p, sizeof(p), "%s/%s", dir, name) >= (int)sizeof(p) ||
	    stat(p, &other) < 0)
		return 0;
	return st->st_dev == other.st_dev && st->st_ino == other.st_ino;
}

/* Open the copy and check it all: 0 if it is good. */
static int check_copy(const char *tmp, const uint8_t root[VELD_PK_LEN],
		      const uint8_t live_hash[VELD_HASH_LEN],
		      struct veld_verify_report *rep, double *took)
{
	struct veld_store *copy = NULL;
	char msg[256];
	double t0 = now_s();
	int rc;

	memset(rep, 0, sizeof(*rep));
	rc = veld_store_open_readonly(tmp, &copy);
	if (rc < 0)
		return fail("cannot open the copy '%s': %s", tmp,
			    veld_strerror(rc));
	if (veld_store_integrity(copy, msg, sizeof(msg)) < 0) {
		veld_store_close(copy);
		return fail("the copy '%s' fails integrity_check: %s", tmp,
			    msg);
	}
	rc = veld_verify_store(copy, root, rep);
	if (rc < 0) {
		fail("cannot verify the copy '%s': %s", tmp, veld_strerror(rc));
		veld_store_close(copy);
		return EXIT_FAIL;
	}
	veld_store_close(copy);
	*took = now_s() - t0;
	if (rep->problems_total) {
		fail("the copy '%s' does not verify (%" PRIu64 " problem%s); "
		     "it is left there for inspection:",
		     tmp, rep->problems_total,
		     rep->problems_total == 1 ? "" : "s");
		print_problems(stderr, rep, PROBLEMS_SHOWN);
		return EXIT_FAIL;
	}
	if (memcmp(rep->state_store, live_hash, VELD_HASH_LEN))
		return fail("the copy '%s' has another state hash than the "
			    "live store at the moment it was copied; it is "
			    "left there for inspection",
			    tmp);
	return 0;
}

int veld_backup_write(struct veld_store *live, const char *live_path,
		      const uint8_t root[VELD_PK_LEN], const char *file,
		      int force)
{
	char tmp[PATH_MAX], dir[PATH_MAX], h[2 * VELD_HASH_LEN + 1], msg[256];
	const char *slash = strrchr(live_path, '/');
	struct veld_backup_stats stats;
	struct veld_verify_report rep;
	uint8_t live_hash[VELD_HASH_LEN];
	struct stat st;
	double t0, copy_s, verify_s = 0;
	int rc;

	if (path_join(tmp, sizeof(tmp), file, ".tmp") < 0)
		return fail("backup file name '%s' is too long", file);
	snprintf(dir, sizeof(dir), "%.*s", slash ? (int)(slash - live_path) : 1,
		 slash ? live_path : ".");
	if (stat(file, &st) == 0) {
		if (same_file(&st, dir, DB_FILE) ||
		    same_file(&st, dir, DB_FILE "-wal") ||
		    same_file(&st, dir, DB_FILE "-shm") ||
		    same_file(&st, dir, "server.key"))
			return fail("'%s' is one of the data directory's own "
				    "files; back up to another file",
				    file);
		if (!force)
			return fail("'%s' exists; not replacing it (use "
				    "--force to replace it)",
				    file);
		if (!S_ISREG(st.st_mode))
			return fail("'%s' is not a regular file; not replacing "
				    "it",
				    file);
	}
	/* A FILE.tmp is ours: an earlier backup that was interrupted. */
	if (unlink(tmp) < 0 && errno != ENOENT)
		return fail("cannot remove the old '%s': %s", tmp,
			    strerror(errno));

	t0 = now_s();
	if ((rc = veld_store_read_begin(live)) < 0)
		return fail("cannot read '%s': %s", live_path,
			    veld_store_errmsg(live));
	/* The hash of exactly the snapshot that is copied. */
	rc = veld_replica_state_hash_store(live, live_hash);
	if (rc == 0) {
		rc = veld_store_backup(live, tmp, BACKUP_STEP_PAGES,
				       BACKUP_PAUSE_MS, &stats, msg,
				       sizeof(msg));
		if (rc == VELD_EIO)
			snprintf(msg, sizeof(msg), "%s", strerror(errno));
	} else {
		snprintf(msg, sizeof(msg), "%s", veld_store_errmsg(live));
	}
	veld_store_read_end(live);
	copy_s = now_s() - t0;
	if (rc < 0) {
		unlink(tmp);
		return fail("cannot copy '%s' to '%s': %s", live_path, tmp,
			    msg);
	}

	rc = check_copy(tmp, root, live_hash, &rep, &verify_s);
	if (rc) {
		veld_verify_report_release(&rep);
		return rc;
	}
	if (rename(tmp, file) < 0) {
		veld_verify_report_release(&rep);
		return fail("cannot rename '%s' to '%s': %s", tmp, file,
			    strerror(errno));
	}
	if (fsync_dir_of(file) < 0)
		fprintf(stderr,
			"veldd: warning: cannot sync the directory of '%s': "
			"%s\n",
			file, strerror(errno));

	printf("backup of %s written to %s\n", live_path, file);
	printf("  size        %.1f MiB (%" PRId64 " pages of %" PRId64
	       " bytes), copied in %.2f s (%d steps)\n",
	       (double)(stats.pages * stats.page_size) / (1024.0 * 1024.0),
	       stats.pages, stats.page_size, copy_s, stats.steps);
	print_snapshot(&rep.counts);
	printf("  state hash  %s\n", hex(h, live_hash, VELD_HASH_LEN));
	printf("              the copy's, equal to the live store's at the "
	       "moment of the copy\n");
	printf("  verified    integrity_check ok; every op, signature, chain "
	       "and registry rule\n"
	       "              re-checked, state re-folded: no problems "
	       "(%.2f s)\n",
	       verify_s);
	printf("  NOT in it   the server key (%s/server.key): keep one copy "
	       "of it, made once,\n"
	       "              offline; a restore needs it, every device "
	       "trusts it\n",
	       dir);
	veld_verify_report_release(&rep);
	return 0;
}

/* --- restore --- */

struct import {
	struct veld_replica *r;
	struct veld_buf frames;
	size_t offs[IMPORT_MAX + 1];
	size_t n;
	uint64_t fate[VELD_APPLY_REFUSED + 1];
	int rc;
};

static int import_flush(struct import *im)
{
	struct veld_bytes *ops;
	struct veld_apply_result *res;
	int rc;

	if (!im->n)
		return 0;
	ops = malloc(im->n * sizeof(*ops));
	res = malloc(im->n * sizeof(*res));
	if (!ops || !res) {
		free(ops);
		free(res);
		return VELD_ENOMEM;
	}
	for (size_t i = 0; i < im->n; i++) {
		ops[i].p = im->frames.data + im->offs[i];
		ops[i].len = im->offs[i + 1] - im->offs[i];
	}
	/* Trust nothing: every signature is checked here, or the signed op
	 * that ends its run (run authentication, §13.1). */
	rc = veld_replica_apply(im->r, ops, im->n, 0, res);
	for (size_t i = 0; rc == 0 && i < im->n; i++)
		if (res[i].status >= 0 && res[i].status <= VELD_APPLY_REFUSED)
			im->fate[res[i].status]++;
	im->n = 0;
	veld_buf_reset(&im->frames);
	free(ops);
	free(res);
	return rc;
}

static int import_op(void *ctx, const struct veld_raw_op *raw)
{
	struct import *im = ctx;
	int rc;

	if (raw->sig_len != VELD_SIG_LEN && raw->sig_len != 0) {
		im->fate[VELD_APPLY_REFUSED]++;
		return 0;
	}
	rc = veld_op_frame(raw->header, raw->header_len,
			   raw->sig_len ? raw->sig : NULL, raw->body,
			   raw->body_len, &im->frames);
	if (rc < 0) {
		/* Not an op anyone could send (too large): refused. */
		im->fate[VELD_APPLY_REFUSED]++;
		return 0;
	}
	im->offs[++im->n] = im->frames.len;
	/* A batch ends after a signed op, so that ops without a signature of
	 * their own arrive with the op of their run that vouches for them
	 * (a run is at most a PUSH); the hard limit is a backstop. */
	if ((im->n >= IMPORT_BATCH && raw->sig_len) || im->n == IMPORT_MAX)
		return import_flush(im);
	return 0;
}

/* Apply every op of the store at from to r; the fates are counted. */
static int import_ops(struct veld_replica *r, const char *from,
		      struct import *im)
{
	struct veld_store *src = NULL;
	int rc;

	memset(im, 0, sizeof(*im));
	im->r = r;
	veld_replica_set_run_auth(r, 1);
	veld_buf_init(&im->frames, (size_t)IMPORT_MAX * VELD_OP_MAX);
	rc = veld_store_open_readonly(from, &src);
	if (rc == 0)
		rc = veld_store_read_begin(src);
	if (rc == 0) {
		rc = veld_store_raw_ops(src, VELD_RAW_BY_POS, import_op, im);
		if (rc == 0)
			rc = import_flush(im);
		veld_store_read_end(src);
	}
	veld_store_close(src);
	veld_buf_release(&im->frames);
	veld_replica_set_run_auth(r, 0);
	return rc;
}

/* UTC time stamp for file names: 20250501T120000Z. */
static void stamp(char out[32])
{
	time_t t = time(NULL);
	struct tm tm;

	if (!gmtime_r(&t, &tm) || !strftime(out, 32, "%Y%m%dT%H%M%SZ", &tm))
		snprintf(out, 32, "%lld", (long long)t);
}

/* Move path (and its -wal) to aside; drop its -shm.  0 if there was none. */
static int move_aside(const char *path, const char *aside)
{
	char a[PATH_MAX], b[PATH_MAX];

	if (rename(path, aside) < 0)
		return errno == ENOENT ? 0 : -1;
	if (path_join(a, sizeof(a), path, "-wal") == 0 &&
	    path_join(b, sizeof(b), aside, "-wal") == 0 && rename(a, b) < 0 &&
	    errno != ENOENT)
		return -1;
	if (path_join(a, sizeof(a), path, "-shm") == 0 && unlink(a) < 0 &&
	    errno != ENOENT)
		return -1;
	return 1;
}

int veld_backup_restore(const char *data_dir, const struct veld_key *key,
			const char *file, const char *ops_from, int force)
{
	char db[PATH_MAX], tmp[PATH_MAX], aside[PATH_MAX], when[32], msg[256];
	char h[2 * VELD_HASH_LEN + 1];
	struct veld_verify_report rep;
	struct veld_store *st = NULL, *old = NULL;
	struct veld_replica *r = NULL;
	struct import im;
	int64_t next, other, base;
	int rc, status = EXIT_FAIL, moved;

	memset(&rep, 0, sizeof(rep));
	memset(&im, 0, sizeof(im));
	stamp(when);
	if (snprintf(db, sizeof(db), "%s/%s", data_dir, DB_FILE) >=
		    (int)sizeof(db) ||
	    path_join(tmp, sizeof(tmp), db, ".restoring") < 0 ||
	    snprintf(aside, sizeof(aside), "%s.replaced-%s", db, when) >=
		    (int)sizeof(aside))
		return fail("data dir path '%s' is too long", data_dir);

	rc = veld_store_in_use(db);
	if (rc == 1)
		return fail("'%s' is in use: stop veldd first (a restore "
			    "replaces the file under it)",
			    db);
	if (rc < 0)
		fprintf(stderr,
			"veldd: warning: cannot tell whether '%s' is in use "
			"(%s); make sure veldd is stopped\n",
			db, veld_strerror(rc));

	/* Copy first: a backup of an older veldwerk is migrated in the copy,
	 * never in the file given. */
	if (unlink(tmp) < 0 && errno != ENOENT)
		return fail("cannot remove the old '%s': %s", tmp,
			    strerror(errno));
	rc = veld_store_copy(file, tmp, msg, sizeof(msg));
	if (rc < 0) {
		fail("cannot copy '%s' to '%s': %s", file, tmp,
		     rc == VELD_EIO ? strerror(errno) : msg);
		goto out;
	}
	rc = veld_store_open(tmp, &st);
	if (rc < 0) {
		fail("'%s' is not a veldwerk store that this veldd can use: %s",
		     file, veld_strerror(rc));
		goto out;
	}
	rc = veld_verify_store(st, key->pk, &rep);
	if (rc < 0) {
		fail("cannot verify '%s': %s", file, veld_strerror(rc));
		goto out;
	}
	if (rep.counts.ops > 0 && rep.root_ops == 0) {
		/* Everything else follows from that: say only that. */
		fail("no op in '%s' is signed by this data directory's server "
		     "key (%s): the backup is of another deployment, or "
		     "'%s/server.key' is not the key it was made with; not "
		     "restoring it",
		     file, hex(h, key->pk, VELD_PK_LEN), data_dir);
		goto out;
	}
	if (rep.problems_total && !force) {
		fail("the backup '%s' does not verify (%" PRIu64
		     " problem%s); not restoring it (--force restores it "
		     "all the same):",
		     file, rep.problems_total,
		     rep.problems_total == 1 ? "" : "s");
		print_problems(stderr, &rep, PROBLEMS_SHOWN);
		goto out;
	}

	/* Positions: see the top of this file. */
	base = (int64_t)veld_hlc_wall_ms() * RESTORE_POS_PER_MS;
	if ((rc = veld_store_log_next(st, &next)) < 0)
		goto store_failed;
	if (next > base)
		base = next;
	if (veld_store_open_readonly(db, &old) == 0 &&
	    veld_store_log_next(old, &other) == 0 && other > base)
		base = other;
	veld_store_close(old);
	if ((rc = veld_store_log_rebase(st, base)) < 0)
		goto store_failed;
	veld_store_close(st);
	st = NULL;

	if (ops_from) {
		rc = veld_replica_open(tmp, key, key->pk, &r);
		if (rc == 0)
			rc = import_ops(r, ops_from, &im);
		veld_replica_close(r);
		r = NULL;
		if (rc < 0) {
			fail("cannot take the ops of '%s': %s", ops_from,
			     veld_strerror(rc));
			goto out;
		}
	}

	if (fsync_file(tmp) < 0) {
		fail("cannot sync '%s': %s", tmp, strerror(errno));
		goto out;
	}
	moved = move_aside(db, aside);
	if (moved < 0) {
		fail("cannot move '%s' aside to '%s': %s", db, aside,
		     strerror(errno));
		goto out;
	}
	if (rename(tmp, db) < 0) {
		fail("cannot rename '%s' to '%s': %s", tmp, db,
		     strerror(errno));
		goto out;
	}
	if (fsync_dir_of(db) < 0)
		fprintf(stderr,
			"veldd: warning: cannot sync the directory of '%s': "
			"%s\n",
			db, strerror(errno));

	printf("restored %s from %s\n", db, file);
	print_snapshot(&rep.counts);
	if (rep.state_done || rep.state_unsettled)
		printf("  state hash  %s\n",
		       hex(h, rep.state_store, VELD_HASH_LEN));
	printf("  verified    %s\n",
	       rep.problems_total ? "NO: restored with problems (--force)"
				  : "every op, chain and registry rule: no "
				    "problems");
	if (moved)
		printf("  replaced    the store before is kept as %s\n", aside);
	printf("  log         continues at position %" PRId64
	       " (above every device's pull cursor)\n",
	       base);
	if (ops_from)
		printf("  taken from  %s: %" PRIu64 " ops new, %" PRIu64
		       " already here, %" PRIu64 " held back, %" PRIu64
		       " void, %" PRIu64 " refused\n",
		       ops_from, im.fate[VELD_APPLY_APPLIED],
		       im.fate[VELD_APPLY_DUPLICATE], im.fate[VELD_APPLY_HELD],
		       im.fate[VELD_APPLY_VOID], im.fate[VELD_APPLY_REFUSED]);
	printf("next: start veldd.  Each device sends the server its own ops "
	       "that the backup\n"
	       "lacks when it next syncs.  Ops this server signed after the "
	       "backup (enrolments,\n"
	       "revocations, forms) come back only with --ops-from a device "
	       "that has them.\n");
	status = 0;
	goto out;
store_failed:
	fail("cannot prepare '%s': %s: %s", tmp, veld_strerror(rc),
	     veld_store_errmsg(st));
out:
	veld_store_close(st);
	veld_verify_report_release(&rep);
	if (status)
		unlink(tmp);
	return status;
}
