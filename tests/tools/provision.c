/*
 * provision.c - a test-only stand-in for the sync server: enrols devices
 * and moves ops between replicas offline, so the veld commands can be
 * tested with real device directories before (and apart from) sync.
 *
 *   provision SERVER_DB SERVER_SEED_HEX DEVICE_DIR NAME ROLE AREA
 *	Open (or create) the server replica SERVER_DB, signed by the key
 *	from the 32-byte seed; create DEVICE_DIR and its key if needed; enrol
 *	the key (a device op, ROLE "field" or "coordinator", AREA "" for
 *	none); write DEVICE_DIR/server.pub; ship every server op into the
 *	device's replica and set its meta "name", "role", "area".
 *
 *   provision --ship FROM_DIR TO_DIR
 *	Copy every op of one device's replica into another's, as a sync
 *	through the server would.  Fails if any op is refused.
 *
 *   provision --form SERVER_DB SERVER_SEED_HEX NAME
 *	Publish an (empty) form NAME from the server.
 *
 *   provision --collide DEVICE_DIR FORM
 *	Create records until two ids share their first four hex digits;
 *	print those digits (to test ambiguous id prefixes).
 *
 * Exit status 0 on success, 1 on failure, 2 on bad usage.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "err.h"
#include "home.h"
#include "replica.h"
#include "store.h"

static int die(const char *what, int rc)
{
	fprintf(stderr, "provision: %s: %s (%s)\n", what, veld_strerror(rc),
		veld_err_name(rc));
	return 1;
}

/* The server's key from a hex seed. */
static int server_key(const char *hex, struct veld_key *k)
{
	uint8_t seed[VELD_SEED_LEN];
	size_t n = 0;

	if (sodium_hex2bin(seed, sizeof(seed), hex, strlen(hex), NULL, &n,
			   NULL) != 0 ||
	    n != sizeof(seed)) {
		fprintf(stderr, "provision: the seed is not 64 hex digits\n");
		return -1;
	}
	veld_key_from_seed(k, seed);
	sodium_memzero(seed, sizeof(seed));
	return 0;
}

/* Every op of a replica's log, framed as on the wire. */
struct oplist {
	struct veld_buf *ops;
	size_t n, cap;
};

static int oplist_add(void *ctx, const struct veld_stored_op *op)
{
	struct oplist *l = ctx;
	int rc;

	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 64;
		struct veld_buf *ops = realloc(l->ops, cap * sizeof(*ops));
		if (!ops)
			return VELD_ENOMEM;
		l->ops = ops;
		l->cap = cap;
	}
	veld_buf_init(&l->ops[l->n], VELD_OP_MAX);
	rc = veld_op_frame(op->header, op->header_len, op->sig, op->body,
			   op->body_len, &l->ops[l->n]);
	if (rc == 0)
		l->n++;
	return rc;
}

static void oplist_release(struct oplist *l)
{
	for (size_t i = 0; i < l->n; i++)
		veld_buf_release(&l->ops[i]);
	free(l->ops);
	memset(l, 0, sizeof(*l));
}

/* Ship every op of from to to in one batch; counts the fates. */
static int ship(struct veld_replica *from, struct veld_replica *to)
{
	struct oplist l = {NULL, 0, 0};
	struct veld_bytes *b = NULL;
	struct veld_apply_result *res = NULL;
	size_t fates[5] = {0}, n;
	int rc;

	rc = veld_store_ops_since(veld_replica_store(from), 0, 1 << 30,
				  oplist_add, &l);
	if (rc < 0) {
		oplist_release(&l);
		return die("cannot read the log", rc);
	}
	n = l.n;
	b = calloc(l.n ? l.n : 1, sizeof(*b));
	res = calloc(l.n ? l.n : 1, sizeof(*res));
	if (!b || !res) {
		rc = VELD_ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < l.n; i++) {
		b[i].p = l.ops[i].data;
		b[i].len = l.ops[i].len;
	}
	rc = veld_replica_apply(to, b, l.n, 0, res);
	for (size_t i = 0; rc == 0 && i < l.n; i++) {
		fates[res[i].status]++;
		if (res[i].status == VELD_APPLY_REFUSED)
			fprintf(stderr, "provision: op %zu refused: %s\n", i,
				veld_err_name(res[i].err));
	}
out:
	free(b);
	free(res);
	oplist_release(&l);
	if (rc < 0)
		return die("cannot apply the ops", rc);
	printf("shipped %zu ops: %zu applied, %zu duplicate, %zu held, "
	       "%zu void, %zu refused\n",
	       n, fates[VELD_APPLY_APPLIED], fates[VELD_APPLY_DUPLICATE],
	       fates[VELD_APPLY_HELD], fates[VELD_APPLY_VOID],
	       fates[VELD_APPLY_REFUSED]);
	return fates[VELD_APPLY_REFUSED] ? 1 : 0;
}

static int meta_set(struct veld_replica *r, const char *key, const char *v)
{
	return veld_store_meta_set(veld_replica_store(r), key, v, strlen(v));
}

static int cmd_enrol(char **argv)
{
	const char *db = argv[0], *dir = argv[2], *name = argv[3];
	const char *role = argv[4], *area = *argv[5] ? argv[5] : NULL;
	struct veld_replica *server = NULL;
	struct veld_device dev;
	struct veld_home home;
	struct veld_key skey, dkey;
	int rc, ex = 1;

	if (server_key(argv[1], &skey) < 0)
		return 2;
	if (veld_home_resolve(&home, dir) < 0) {
		fprintf(stderr, "provision: bad device directory '%s'\n", dir);
		return 2;
	}
	rc = veld_key_load(&dkey, home.key_path);
	if (rc == VELD_EIO && errno == ENOENT)
		rc = veld_home_init(&home, &dkey);
	if (rc < 0)
		return die("cannot load or create the device key", rc);
	rc = veld_replica_open(db, &skey, skey.pk, &server);
	if (rc < 0) {
		ex = die("cannot open the server replica", rc);
		goto out;
	}
	rc = veld_replica_device(server, dkey.pk, role, name, area, 0, NULL);
	if (rc < 0) {
		ex = die("cannot enrol the device", rc);
		goto out;
	}
	rc = veld_home_set_server(&home, skey.pk);
	if (rc < 0) {
		ex = die("cannot write server.pub", rc);
		goto out;
	}
	rc = veld_device_open(&dev, &home);
	if (rc < 0) {
		ex = die("cannot open the device", rc);
		goto out;
	}
	ex = ship(server, dev.replica);
	if (ex == 0 &&
	    ((rc = meta_set(dev.replica, "name", name)) < 0 ||
	     (rc = meta_set(dev.replica, "role", role)) < 0 ||
	     (area && (rc = meta_set(dev.replica, "area", area)) < 0)))
		ex = die("cannot set the device settings", rc);
	veld_device_close(&dev);
out:
	veld_replica_close(server);
	veld_key_release(&skey);
	veld_key_release(&dkey);
	return ex;
}

static int cmd_ship(char **argv)
{
	struct veld_home hf, ht;
	struct veld_device from, to;
	int rc, ex;

	if (veld_home_resolve(&hf, argv[0]) < 0 ||
	    veld_home_resolve(&ht, argv[1]) < 0) {
		fprintf(stderr, "provision: bad device directory\n");
		return 2;
	}
	if ((rc = veld_device_open(&from, &hf)) < 0)
		return die(argv[0], rc);
	if ((rc = veld_device_open(&to, &ht)) < 0) {
		veld_device_close(&from);
		return die(argv[1], rc);
	}
	ex = ship(from.replica, to.replica);
	veld_device_close(&to);
	veld_device_close(&from);
	return ex;
}

static int cmd_form(char **argv)
{
	static const uint8_t empty_map[] = {0x80};
	struct veld_replica *server;
	struct veld_key skey;
	uint8_t form_id[VELD_RECORD_LEN];
	int rc;

	if (server_key(argv[1], &skey) < 0)
		return 2;
	rc = veld_replica_open(argv[0], &skey, skey.pk, &server);
	if (rc == 0) {
		rc = veld_replica_form(server, form_id, 1, argv[2], empty_map,
				       sizeof(empty_map), NULL);
		veld_replica_close(server);
	}
	veld_key_release(&skey);
	return rc < 0 ? die("cannot publish the form", rc) : 0;
}

static int cmd_collide(char **argv)
{
	struct veld_field f = {"n", "1", NULL, 0};
	struct veld_home home;
	struct veld_device dev;
	uint8_t id[VELD_RECORD_LEN], other[VELD_RECORD_LEN];
	char hex[2 * VELD_RECORD_LEN + 1];
	int rc;

	if (veld_home_resolve(&home, argv[0]) < 0)
		return 2;
	if ((rc = veld_device_open(&dev, &home)) < 0)
		return die(argv[0], rc);
	/* About 300 records on average (the birthday bound of 16 bits). */
	for (int i = 0; i < 20000; i++) {
		rc = veld_replica_put(dev.replica, id, 1, argv[1], NULL, &f, 1,
				      NULL);
		if (rc < 0)
			break;
		sodium_bin2hex(hex, sizeof(hex), id, sizeof(id));
		hex[4] = 0;
		rc = veld_store_record_prefix(veld_replica_store(dev.replica),
					      hex, other);
		if (rc == VELD_EAMBIGUOUS) {
			printf("%s\n", hex);
			veld_device_close(&dev);
			return 0;
		}
		if (rc < 0)
			break;
	}
	veld_device_close(&dev);
	return die("no collision", rc < 0 ? rc : VELD_ENOTFOUND);
}

int main(int argc, char **argv)
{
	if (sodium_init() < 0)
		return 1;
	if (argc == 4 && strcmp(argv[1], "--ship") == 0)
		return cmd_ship(argv + 2);
	if (argc == 5 && strcmp(argv[1], "--form") == 0)
		return cmd_form(argv + 2);
	if (argc == 4 && strcmp(argv[1], "--collide") == 0)
		return cmd_collide(argv + 2);
	if (argc == 7 && argv[1][0] != '-')
		return cmd_enrol(argv + 1);
	fprintf(stderr,
		"usage: provision SERVER_DB SERVER_SEED_HEX DEVICE_DIR NAME "
		"ROLE AREA\n"
		"       provision --ship FROM_DIR TO_DIR\n"
		"       provision --form SERVER_DB SERVER_SEED_HEX NAME\n"
		"       provision --collide DEVICE_DIR FORM\n");
	return 2;
}
