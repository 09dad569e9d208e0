/*
 * main.c - veld, the field client: command-line entry point.
 *
 * Resolves the device directory and dispatches to the commands: records.c
 * (new, edit, note, delete, list, show, state-hash — offline, they never
 * touch the network), cmd_sync.c (init, sync, status), and the key and op
 * inspection commands here.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "cmd_sync.h"
#include "err.h"
#include "hlc.h"
#include "home.h"
#include "op.h"
#include "records.h"

#define VELD_VERSION "0.1.0"

static void usage(FILE *f)
{
	fprintf(f,
		"usage: veld [--dir DIR] COMMAND [ARGS]\n"
		"\n"
		"commands:\n"
		"  init [--server URL --code CODE [--name NAME]]\n"
		"                  create this device's key; enrol it with a "
		"server\n"
		"  sync [--watch]  send this device's entries, fetch the "
		"others'\n"
		"  status          server, name, role, unsynced entries, last "
		"sync\n"
		"  new FORM field=value ...\n"
		"                  create a record; prints its id last\n"
		"  edit ID field=value ...\n"
		"                  change fields ('field=' clears one)\n"
		"  note ID TEXT    add a note to a record\n"
		"  delete ID       delete a record\n"
		"  list [--json] [--form F] [--street S] [--conflicts] "
		"[--all]\n"
		"                  records, newest first (--all: also "
		"deleted)\n"
		"  show ID [--json]\n"
		"                  values, conflicts, notes and history\n"
		"  state-hash      hash of this replica's state (equal "
		"replicas,\n"
		"                  equal hashes)\n"
		"  whoami          print this device's public key\n"
		"  inspect [FILE]  decode and verify one op (binary, or hex "
		"text with --hex);\n"
		"                  reads stdin without FILE\n"
		"  version         print the version\n"
		"  help            this text\n"
		"\n"
		"The device directory is --dir, $VELD_DIR, $XDG_DATA_HOME/veld "
		"or "
		"~/.local/share/veld.\n");
}

static void print_hex(const char *label, const uint8_t *p, size_t n)
{
	printf("%-10s ", label);
	for (size_t i = 0; i < n; i++)
		printf("%02x", p[i]);
	printf("\n");
}

static int cmd_whoami(const struct veld_home *h)
{
	struct veld_key key;
	int rc = veld_key_load(&key, h->key_path);

	if (rc < 0) {
		fprintf(stderr, "veld: cannot read key '%s': %s\n", h->key_path,
			rc == VELD_EIO ? strerror(errno) : veld_strerror(rc));
		fprintf(stderr, "veld: run 'veld init' first\n");
		return 1;
	}
	print_hex("device", key.pk, VELD_PK_LEN);
	veld_key_release(&key);
	return 0;
}

/* Read all of f, at most max bytes; *len = bytes read.  NULL if larger. */
static uint8_t *read_all(FILE *f, size_t max, size_t *len)
{
	uint8_t *buf = malloc(max + 1);
	size_t n = 0, r;

	if (!buf)
		return NULL;
	while ((r = fread(buf + n, 1, max + 1 - n, f)) > 0) {
		n += r;
		if (n > max) {
			free(buf);
			errno = EFBIG;
			return NULL;
		}
	}
	*len = n;
	return buf;
}

static int cmd_inspect(int argc, char **argv)
{
	const char *path = NULL;
	int hex = 0, rc;
	size_t len, bin_len;
	uint8_t *in, *bin;
	struct veld_op op;
	FILE *f = stdin;

	for (int i = 0; i < argc; i++) {
		if (strcmp(argv[i], "--hex") == 0)
			hex = 1;
		else
			path = argv[i];
	}
	if (path && !(f = fopen(path, "rb"))) {
		fprintf(stderr, "veld: cannot open '%s': %s\n", path,
			strerror(errno));
		return 1;
	}
	/* Hex text takes two characters a byte, plus whitespace. */
	in = read_all(f, hex ? 4 * VELD_OP_MAX : VELD_OP_MAX, &len);
	if (path)
		fclose(f);
	if (!in) {
		fprintf(stderr, "veld: cannot read op: %s\n",
			errno == EFBIG ? "larger than an op can be"
				       : strerror(errno));
		return 1;
	}
	bin = in;
	bin_len = len;
	if (hex) {
		bin = malloc(len / 2 + 1);
		if (!bin || sodium_hex2bin(bin, len / 2 + 1, (char *)in, len,
					   " \t\r\n", &bin_len, NULL) != 0) {
			fprintf(stderr, "veld: input is not hex\n");
			free(bin);
			free(in);
			return 1;
		}
	}
	rc = veld_op_decode(bin, bin_len, &op);
	if (rc == 0)
		rc = veld_op_verify(&op);
	if (rc < 0) {
		fprintf(stderr, "veld: op refused: %s (%s)\n",
			veld_strerror(rc), veld_err_name(rc));
	} else {
		print_hex("id", op.id, VELD_HASH_LEN);
		print_hex("author", op.h.author, VELD_PK_LEN);
		printf("%-10s %llu\n", "seq", (unsigned long long)op.h.seq);
		if (op.h.has_prev)
			print_hex("prev", op.h.prev, VELD_HASH_LEN);
		else
			printf("%-10s -\n", "prev");
		printf("%-10s %llu.%05llu (ms.counter)\n", "hlc",
		       (unsigned long long)VELD_HLC_MS(op.h.hlc),
		       (unsigned long long)VELD_HLC_COUNTER(op.h.hlc));
		print_hex("record", op.h.record, VELD_RECORD_LEN);
		printf("%-10s %s\n", "kind", veld_kind_name(op.h.kind));
		printf("%-10s %llu bytes%s\n", "body",
		       (unsigned long long)op.h.body_len,
		       op.body ? "" : " (erased)");
		printf("%-10s ok\n", "signature");
	}
	if (bin != in)
		free(bin);
	free(in);
	return rc < 0 ? 1 : 0;
}

/* Commands on the device: the arguments after the name, an exit status. */
static const struct command {
	const char *name;
	int (*run)(const struct veld_home *h, int argc, char **argv);
} commands[] = {
	{"init", veld_cmd_init},
	{"sync", veld_cmd_sync},
	{"status", veld_cmd_status},
	{"new", veld_records_new},
	{"edit", veld_records_edit},
	{"note", veld_records_note},
	{"delete", veld_records_delete},
	{"list", veld_records_list},
	{"show", veld_records_show},
	{"state-hash", veld_records_state_hash},
};

int main(int argc, char **argv)
{
	struct veld_home home;
	const char *home_flag = NULL;
	const char *cmd;
	int i = 1;

	if (sodium_init() < 0) {
		fprintf(stderr, "veld: libsodium failed to initialise\n");
		return 1;
	}
	if (i + 1 < argc && strcmp(argv[i], "--dir") == 0) {
		home_flag = argv[i + 1];
		i += 2;
	}
	if (i >= argc) {
		usage(stderr);
		return 2;
	}
	cmd = argv[i++];
	if (strcmp(cmd, "help") == 0 || strcmp(cmd, "--help") == 0) {
		usage(stdout);
		return 0;
	}
	if (strcmp(cmd, "version") == 0 || strcmp(cmd, "--version") == 0) {
		printf("veld %s (op format %d)\n", VELD_VERSION,
		       VELD_OP_VERSION);
		return 0;
	}
	if (strcmp(cmd, "inspect") == 0)
		return cmd_inspect(argc - i, argv + i);
	if (veld_home_resolve(&home, home_flag) < 0) {
		fprintf(stderr, "veld: cannot determine the device directory; "
				"use --dir DIR\n");
		return 2;
	}
	for (size_t c = 0; c < sizeof(commands) / sizeof(commands[0]); c++)
		if (strcmp(cmd, commands[c].name) == 0)
			return commands[c].run(&home, argc - i, argv + i);
	if (strcmp(cmd, "whoami") == 0)
		return cmd_whoami(&home);
	fprintf(stderr, "veld: unknown command '%s' (see 'veld help')\n", cmd);
	return 2;
}
