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

#include <sodium.h>

#include "err.h"
#include "i18n.h"
#include "store.h"
#include "sync.h"

static int usage(const char *text)
{
	fprintf(stderr, _("veld: %s\n"), text);
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
	fprintf(stderr, _("veld: sync failed: %s (%s)\n"), rep->text,
		veld_err_name(rep->err));
	if (rep->wiped)
		fprintf(stderr,
			_("veld: this device has been revoked; its "
			  "local copy of residents' data was removed\n"));
	else if (rep->err == VELD_ECONNECT)
		fprintf(stderr, _("veld: nothing is lost: entries stay on this "
				  "device until the server confirms them\n"));
	return 1;
}

static void summary(const struct veld_sync_report *rep)
{
	printf(_("synced: pushed %llu ops, pulled %llu ops; %llu bytes up, "
		 "%llu down"),
	       (unsigned long long)rep->pushed, (unsigned long long)rep->pulled,
	       (unsigned long long)rep->bytes_up,
	       (unsigned long long)rep->bytes_down);
	if (rep->receipt_seq)
		printf(_("; receipt for our ops up to #%llu"),
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
			fprintf(stderr, _("veld: cannot read '%s': %s\n"),
				o.ca_file, strerror(errno));
			return 1;
		}
		o.ca_file = ca_abs;
	}

	if (access(h->key_path, F_OK) != 0) {
		rc = veld_home_init(h, &key);
		if (rc < 0) {
			fprintf(stderr, _("veld: cannot create '%s': %s\n"),
				h->key_path, strerror(errno));
			return 1;
		}
		printf("created device key in '%s'\n", h->dir);
		print_key("device", key.pk);
		veld_key_release(&key);
	} else if (!o.url) {
		fprintf(stderr,
			_("veld: '%s' already exists; this device has a key\n"),
			h->key_path);
		return 1;
	}
	if (!o.url)
		return 0;
	if (access(h->server_path, F_OK) == 0) {
		fprintf(stderr,
			_("veld: this device is already enrolled "
			  "(remove '%s' to enrol again)\n"),
			h->server_path);
		return 1;
	}
	o.attempts = 3;
	if (veld_sync_run(h, &o, &rep) < 0) {
		/* A failed enrolment leaves no half-enrolled device. */
		if (unlink(h->server_path) < 0 && errno != ENOENT)
			fprintf(stderr, _("veld: cannot remove '%s'\n"),
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
	/* Watching: wait for the server however long it takes. */
	if (o.watch)
		o.attempts = INT_MAX;
	if (veld_sync_run(h, &o, &rep) < 0) {
		if (rep.err == VELD_EREVOKED && !rep.wiped) {
			fprintf(stderr,
				_("veld: this device has been revoked; "
				  "its copy of residents' data was "
				  "removed (ask a coordinator for a new "
				  "enrolment)\n"));
			return 1;
		}
		if (rep.err == VELD_ENOTENROLLED || rep.err == VELD_EIO ||
		    rep.err == VELD_EKEYFILE)
			fprintf(stderr, _("veld: this device is not enrolled; "
					  "run 'veld init --server URL --code "
					  "CODE'\n"));
		return report_failure(&rep);
	}
	summary(&rep);
	return 0;
}

/* A meta text value into out (NUL-terminated; "" if unset). */
static void meta_text(struct veld_store *st, const char *key, char *out,
		      size_t n)
{
	struct veld_buf b;

	veld_buf_init(&b, 1024);
	out[0] = 0;
	if (veld_store_meta_get(st, key, &b) == 1)
		snprintf(out, n, "%.*s", (int)b.len, (const char *)b.data);
	veld_buf_release(&b);
}

static void pack_kv(msgpack_packer *pk, const char *k, const char *v)
{
	msgpack_pack_str_with_body(pk, k, strlen(k));
	if (v && *v)
		msgpack_pack_str_with_body(pk, v, strlen(v));
	else
		msgpack_pack_nil(pk);
}

int veld_cmd_status(const struct veld_home *h, int argc, char **argv)
{
	struct veld_device dev;
	struct veld_head head;
	uint64_t acked = 0, has = 0, last = 0, unsynced;
	struct veld_store *st;
	char server[600], name[128], role[32], area[128], key[65], when[32];
	int rc, json = 0;

	for (int i = 0; i < argc; i++) {
		if (strcmp(argv[i], "--json") == 0)
			json = 1;
		else
			return usage(_("usage: veld status [--json]"));
	}
	rc = veld_device_open(&dev, h);
	if (rc == VELD_EREVOKED) {
		fprintf(stderr, _("veld: this device has been revoked; its "
				  "copy of residents' data was removed\n"));
		return 1;
	}
	if (rc == VELD_EIO && errno == ENOENT) {
		fprintf(stderr,
			_("veld: this device is not set up ('%s' has no "
			  "device key)\n"),
			h->dir);
		fprintf(stderr, _("veld: run 'veld init --server URL --code "
				  "CODE' first\n"));
		return 1;
	}
	if (rc < 0) {
		fprintf(stderr,
			_("veld: %s; run 'veld init --server URL --code "
			  "CODE'\n"),
			veld_strerror(rc));
		return 1;
	}
	st = veld_replica_store(dev.replica);
	meta_text(st, VELD_META_URL, server, sizeof(server));
	meta_text(st, VELD_META_NAME, name, sizeof(name));
	meta_text(st, VELD_META_ROLE, role, sizeof(role));
	meta_text(st, VELD_META_AREA, area, sizeof(area));
	sodium_bin2hex(key, sizeof(key), dev.key.pk, 32);
	if (veld_store_head(st, dev.key.pk, &head) < 0 ||
	    veld_meta_get_u64(dev.replica, VELD_META_ACKED, &acked) < 0 ||
	    veld_meta_get_u64(dev.replica, VELD_META_SERVER_HAS, &has) < 0 ||
	    veld_meta_get_u64(dev.replica, VELD_META_LAST_SYNC, &last) < 0) {
		veld_device_close(&dev);
		fprintf(stderr, _("veld: cannot read the local store\n"));
		return 1;
	}
	/* Unsynced: our ops above what the server holds, by its last word
	 * (a receipt, or WELCOME when the receipt was lost with the
	 * connection: the device does not push below WELCOME's your_seq
	 * either, so it trusts it no more than the sync already does). */
	if (acked > has)
		has = acked;
	unsynced = head.seq > has ? head.seq - has : 0;
	when[0] = 0;
	if (last) {
		time_t t = (time_t)(last / 1000);
		struct tm tm;
		if (!gmtime_r(&t, &tm) ||
		    !strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm))
			when[0] = 0;
	}
	if (json) {
		struct veld_buf b, out;
		msgpack_packer pk;
		veld_buf_init(&b, 8192);
		veld_buf_init(&out, 65536);
		veld_buf_packer_init(&pk, &b);
		msgpack_pack_map(&pk, 9);
		pack_kv(&pk, "server", server);
		pack_kv(&pk, "device", key);
		pack_kv(&pk, "name", name);
		pack_kv(&pk, "role", role);
		pack_kv(&pk, "area", area);
		msgpack_pack_str_with_body(&pk, "unsynced", 8);
		msgpack_pack_uint64(&pk, unsynced);
		msgpack_pack_str_with_body(&pk, "ops", 3);
		msgpack_pack_uint64(&pk, head.seq);
		pack_kv(&pk, "last_sync", when);
		msgpack_pack_str_with_body(&pk, "receipt", 7);
		msgpack_pack_uint64(&pk, acked);
		rc = b.err ? b.err
			   : veld_store_msgpack_json(st, b.data, b.len, &out);
		if (rc == 0)
			printf("%.*s\n", (int)out.len, (const char *)out.data);
		else
			fprintf(stderr, _("veld: cannot write JSON\n"));
		veld_buf_release(&b);
		veld_buf_release(&out);
		veld_device_close(&dev);
		return rc ? 1 : 0;
	}
	printf("%-12s%s\n", _("server"), server[0] ? server : "-");
	printf("%-12s%s\n", _("device"), key);
	printf("%-12s%s\n", _("name"), name[0] ? name : "-");
	printf("%-12s%s\n", _("role"), role[0] ? role : "-");
	printf("%-12s%s\n", _("area"), area[0] ? area : "-");
	printf("%-12s%llu\n", _("unsynced"), (unsigned long long)unsynced);
	printf("%-12s%s\n", _("last sync"), when[0] ? when : _("never"));
	printf("%-12s%llu\n", _("receipt"), (unsigned long long)acked);
	veld_device_close(&dev);
	return 0;
}
