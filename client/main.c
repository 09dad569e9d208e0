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
#include "i18n.h"
#include "op.h"
#include "records.h"
#include "sync.h"

#define VELD_VERSION "0.1.0"

/* Every command: its name, synopsis and what it does, for 'veld help'. */
static const struct help {
	const char *name, *synopsis, *text;
} helps[] = {
	{"init",
	 N_("init [--server URL --code CODE [--name NAME] [--ca FILE]]"),
	 N_("Create this device's key; with --server and --code, enrol it\n"
	    "with the server and fetch the forms and records.")},
	{"forms", N_("forms [--json]"),
	 N_("The forms this device knows: fields, types, choices, defaults\n"
	    "(* = required).")},
	{"new",
	 N_("new FORM [--json] [--no-input] [--not-home] "
	    "[field=value ...]"),
	 N_("Create a record.  Fields missing on a terminal are asked one\n"
	    "by one (Enter = default or skip, < = back, - = leave empty,\n"
	    "* = nobody home, ! or Ctrl-C = stop and keep a draft).  Without\n"
	    "a terminal, or with --no-input, every required field must be\n"
	    "given.  --not-home: nobody was home (at_home=no).  Prints the\n"
	    "new record's id last.")},
	{"edit", N_("edit ID [--json] field=value ..."),
	 N_("Change fields of a record ('field=' clears one).")},
	{"note", N_("note ID [--json] TEXT ..."),
	 N_("Add a note to a record.")},
	{"delete", N_("delete ID [--json]"), N_("Delete a record.")},
	{"list",
	 N_("list [--json] [--form F] [--street S] [--today] "
	    "[--conflicts] [--all]"),
	 N_("Records, newest first.  --today: changed today (local time);\n"
	    "--all: deleted ones too.")},
	{"show", N_("show ID [--json]"),
	 N_("A record's current values, conflicts, notes and history.")},
	{"resolve", N_("resolve ID FIELD VALUE [--json]"),
	 N_("End a conflict: VALUE replaces every value FIELD shows now, on\n"
	    "every device once synced.")},
	{"sync", N_("sync [--watch | --push-only] [--server URL]"),
	 N_("Send this device's entries and fetch the others'.  --watch\n"
	    "waits for the server, keeps retrying with backoff and stays\n"
	    "connected for live updates.  --push-only stops once the\n"
	    "server has confirmed this device's entries (a quick upload).")},
	{"status", N_("status [--json]"),
	 N_("Server, device name, role, area, unsynced entries, last\n"
	    "successful sync, last receipt.")},
	{"state-hash", N_("state-hash [--json]"),
	 N_("Hash of this replica's state (equal replicas, equal hashes).")},
	{"whoami", N_("whoami"), N_("This device's public key.")},
	{"inspect", N_("inspect [--hex] [FILE]"),
	 N_("Decode and verify one op (binary, or hex with --hex); reads\n"
	    "stdin without FILE.")},
	{"version", N_("version"), N_("Print the version.")},
	{"help", N_("help [COMMAND]"), N_("This text, or one command's.")},
};

static void usage(FILE *f)
{
	fprintf(f, "%s\n\n%s\n", _("usage: veld [--dir DIR] COMMAND [ARGS]"),
		_("commands:"));
	for (size_t i = 0; i < sizeof(helps) / sizeof(*helps); i++)
		fprintf(f, "  %s\n", _(helps[i].synopsis));
	fprintf(f, "\n%s\n",
		_("Record ids may be shortened to an unambiguous prefix of 4 "
		  "or more\nhex digits.  'veld help COMMAND' tells more.  The "
		  "device directory is\n--dir, $VELD_DIR, $XDG_DATA_HOME/veld "
		  "or ~/.local/share/veld.\nMessages follow LANG (English, "
		  "Dutch)."));
}

static int help(int argc, char **argv)
{
	if (argc == 0) {
		usage(stdout);
		return 0;
	}
	for (size_t i = 0; i < sizeof(helps) / sizeof(*helps); i++) {
		if (strcmp(argv[0], helps[i].name) == 0) {
			printf("%s veld %s\n\n%s\n", _("usage:"),
			       _(helps[i].synopsis), _(helps[i].text));
			return 0;
		}
	}
	fprintf(stderr, _("veld: unknown command '%s' (see 'veld help')\n"),
		argv[0]);
	return 2;
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
		fprintf(stderr, _("veld: cannot read key '%s': %s\n"),
			h->key_path,
			rc == VELD_EIO ? strerror(errno) : veld_strerror(rc));
		fprintf(stderr, _("veld: run 'veld init' first\n"));
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
		fprintf(stderr, _("veld: cannot open '%s': %s\n"), path,
			strerror(errno));
		return 1;
	}
	/* Hex text takes two characters a byte, plus whitespace. */
	in = read_all(f, hex ? 4 * VELD_OP_MAX : VELD_OP_MAX, &len);
	if (path)
		fclose(f);
	if (!in) {
		fprintf(stderr, _("veld: cannot read op: %s\n"),
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
			fprintf(stderr, _("veld: input is not hex\n"));
			free(bin);
			free(in);
			return 1;
		}
	}
	rc = veld_op_decode(bin, bin_len, &op);
	if (rc == 0)
		rc = veld_op_verify(&op);
	if (rc < 0) {
		fprintf(stderr, _("veld: op refused: %s (%s)\n"),
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
	{"forms", veld_records_forms},
	{"new", veld_records_new},
	{"resolve", veld_records_resolve},
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

	veld_i18n_init();
	if (sodium_init() < 0) {
		fprintf(stderr, _("veld: libsodium failed to initialise\n"));
		return 1;
	}
	veld_sync_global_init(1);
	if (i + 1 < argc && strcmp(argv[i], "--dir") == 0) {
		home_flag = argv[i + 1];
		i += 2;
	}
	if (i >= argc) {
		usage(stderr);
		return 2;
	}
	cmd = argv[i++];
	if (strcmp(cmd, "help") == 0 || strcmp(cmd, "--help") == 0)
		return help(argc - i, argv + i);
	/* "veld new --help" is "veld help new". */
	for (int a = i; a < argc; a++)
		if (strcmp(argv[a], "--help") == 0)
			return help(1, &argv[i - 1]);
	if (strcmp(cmd, "version") == 0 || strcmp(cmd, "--version") == 0) {
		printf("veld %s (op format %d)\n", VELD_VERSION,
		       VELD_OP_VERSION);
		return 0;
	}
	if (strcmp(cmd, "inspect") == 0)
		return cmd_inspect(argc - i, argv + i);
	if (veld_home_resolve(&home, home_flag) < 0) {
		fprintf(stderr,
			_("veld: cannot determine the device directory; "
			  "use --dir DIR\n"));
		return 2;
	}
	for (size_t c = 0; c < sizeof(commands) / sizeof(commands[0]); c++)
		if (strcmp(cmd, commands[c].name) == 0)
			return commands[c].run(&home, argc - i, argv + i);
	if (strcmp(cmd, "whoami") == 0)
		return cmd_whoami(&home);
	fprintf(stderr, _("veld: unknown command '%s' (see 'veld help')\n"),
		cmd);
	return 2;
}
