/*
 * cmd_sync.c - veld init / sync / status; see cmd_sync.h.
 */
/* realpath() is XSI. */
#define _XOPEN_SOURCE 700

#include "cmd_sync.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "err.h"
#include "store.h"
#include "sync.h"

static int usage(const char *text)
{
	fprintf(stderr, "veld: %s\n", text);
	return 2;
}

static void print_key(const char *label, const uint8_t *k)
{
	printf("%-12s", label);
	for (int i = 0; i < 32; i++)
		printf("%02x", k[i]);
	printf("\n");
}

static int report_failure(const struct veld_sync_report *rep)
{
	fprintf(stderr, "veld: sync failed: %s (%s)\n", rep->text,
		veld_err_name(rep->err));
	if (rep->wiped)
		fprintf(stderr, "veld: this device has been revoked; its "
				"local copy of residents' data was removed\n");
	else if (rep->err == VELD_ECONNECT)
		fprintf(stderr, "veld: nothing is lost: entries stay on this "
				"device until the server confirms them\n");
	return 1;
}

static void summary(const struct veld_sync_report *rep)
{
	printf("synced: pushed %llu ops, pulled %llu ops; %llu bytes up, "
	       "%llu down",
	       (unsigned long long)rep->pushed, (unsigned long long)rep->pulled,
	       (unsigned long long)rep->bytes_up,
	       (unsigned long long)rep->bytes_down);
	if (rep->receipt_seq)
		printf("; receipt for our ops up to #%llu",
		       (unsigned long long)rep->receipt_seq);
	printf("\n");
}

int veld_cmd_init(const struct veld_home *h, int argc, char **argv)
{
	char ca_abs[PATH_MAX];
	struct veld_sync_opts o = {0};
	struct veld_sync_report rep;
	struct veld_key key;
	int rc;

	for (int i = 0; i < argc; i++) {
		const char *a = argv[i];
		if (i + 1 < argc && strcmp(a, "--server") == 0)
			o.url = argv[++i];
		else if (i + 1 < argc && strcmp(a, "--code") == 0)
			o.code = argv[++i];
		else if (i + 1 < argc && strcmp(a, "--name") == 0)
			o.name = argv[++i];
		else if (strcmp(a, "--insecure") == 0)
			o.insecure = 1;
		else if (i + 1 < argc && strcmp(a, "--ca") == 0)
			o.ca_file = argv[++i];
		else
			return usage("usage: veld init [--server URL --code "
				     "CODE [--name NAME]]");
	}
	if (!o.url != !o.code)
		return usage("--server and --code go together");
	/* Kept for later syncs, which may run from another directory. */
	if (o.ca_file) {
		if (!realpath(o.ca_file, ca_abs)) {
			fprintf(stderr, "veld: cannot read '%s': %s\n",
				o.ca_file, strerror(errno));
			return 1;
		}
		o.ca_file = ca_abs;
	}

	if (access(h->key_path, F_OK) != 0) {
		rc = veld_home_init(h, &key);
		if (rc < 0) {
			fprintf(stderr, "veld: cannot create '%s': %s\n",
				h->key_path, strerror(errno));
			return 1;
		}
		printf("created device key in '%s'\n", h->dir);
		print_key("device", key.pk);
		veld_key_release(&key);
	} else if (!o.url) {
		fprintf(stderr,
			"veld: '%s' already exists; this device has a key\n",
			h->key_path);
		return 1;
	}
	if (!o.url)
		return 0;
	if (access(h->server_path, F_OK) == 0) {
		fprintf(stderr,
			"veld: this device is already enrolled "
			"(remove '%s' to enrol again)\n",
			h->server_path);
		return 1;
	}
	o.attempts = 3;
	if (veld_sync_run(h, &o, &rep) < 0) {
		/* A failed enrolment leaves no half-enrolled device. */
		if (unlink(h->server_path) < 0 && errno != ENOENT)
			fprintf(stderr, "veld: cannot remove '%s'\n",
				h->server_path);
		return report_failure(&rep);
	}
	printf("enrolled with %s\n", o.url);
	summary(&rep);
	return 0;
}

int veld_cmd_sync(const struct veld_home *h, int argc, char **argv)
{
	struct veld_sync_opts o = {0};
	struct veld_sync_report rep;

	for (int i = 0; i < argc; i++) {
		if (i + 1 < argc && strcmp(argv[i], "--server") == 0)
			o.url = argv[++i];
		else if (strcmp(argv[i], "--watch") == 0)
			o.watch = 1;
		else if (strcmp(argv[i], "--push-only") == 0)
			o.push_only = 1;
		else if (strcmp(argv[i], "--insecure") == 0)
			o.insecure = 1;
		else if (i + 1 < argc && strcmp(argv[i], "--ca") == 0)
			o.ca_file = argv[++i];
		else
			return usage("usage: veld sync [--server URL] "
				     "[--watch | --push-only]");
	}
	if (o.watch && o.push_only)
		return usage("--watch and --push-only do not go together");
	/* Progress on a terminal; scripts get the one-line summary. */
	o.progress = isatty(STDOUT_FILENO) ? stdout : NULL;
	if (veld_sync_run(h, &o, &rep) < 0) {
		if (rep.err == VELD_EREVOKED && !rep.wiped) {
			fprintf(stderr, "veld: this device has been revoked; "
					"its copy of residents' data was "
					"removed (ask a coordinator for a new "
					"enrolment)\n");
			return 1;
		}
		if (rep.err == VELD_ENOTENROLLED || rep.err == VELD_EIO ||
		    rep.err == VELD_EKEYFILE)
			fprintf(stderr, "veld: this device is not enrolled; "
					"run 'veld init --server URL --code "
					"CODE'\n");
		return report_failure(&rep);
	}
	summary(&rep);
	return 0;
}

static void print_meta(struct veld_store *st, const char *label,
		       const char *key)
{
	struct veld_buf b;

	veld_buf_init(&b, 1024);
	if (veld_store_meta_get(st, key, &b) == 1)
		printf("%-12s%.*s\n", label, (int)b.len, (const char *)b.data);
	else
		printf("%-12s-\n", label);
	veld_buf_release(&b);
}

int veld_cmd_status(const struct veld_home *h, int argc, char **argv)
{
	struct veld_device dev;
	struct veld_head head;
	uint64_t acked = 0, last = 0;
	struct veld_store *st;
	int rc;

	(void)argv;
	if (argc)
		return usage("usage: veld status");
	rc = veld_device_open(&dev, h);
	if (rc == VELD_EREVOKED) {
		fprintf(stderr, "veld: this device has been revoked; its copy "
				"of residents' data was removed\n");
		return 1;
	}
	if (rc < 0) {
		fprintf(stderr,
			"veld: %s; run 'veld init --server URL --code "
			"CODE'\n",
			veld_strerror(rc));
		return 1;
	}
	st = veld_replica_store(dev.replica);
	print_meta(st, "server", VELD_META_URL);
	print_key("device", dev.key.pk);
	print_meta(st, "name", VELD_META_NAME);
	print_meta(st, "role", VELD_META_ROLE);
	print_meta(st, "area", VELD_META_AREA);
	if (veld_store_head(st, dev.key.pk, &head) < 0 ||
	    veld_meta_get_u64(dev.replica, VELD_META_ACKED, &acked) < 0 ||
	    veld_meta_get_u64(dev.replica, VELD_META_LAST_SYNC, &last) < 0) {
		veld_device_close(&dev);
		fprintf(stderr, "veld: cannot read the local store\n");
		return 1;
	}
	printf("%-12s%llu\n", "unsynced",
	       (unsigned long long)(head.seq > acked ? head.seq - acked : 0));
	if (last) {
		time_t t = (time_t)(last / 1000);
		char when[32];
		strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", gmtime(&t));
		printf("%-12s%s\n", "last sync", when);
	} else {
		printf("%-12snever\n", "last sync");
	}
	printf("%-12s%llu\n", "receipt", (unsigned long long)acked);
	veld_device_close(&dev);
	return 0;
}
