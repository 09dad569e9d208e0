/*
 * admin.c - veldd's admin sub-commands; see admin.h.
 *
 * Each command is one row of `commands` (at the end of the file): its
 * name, the options it takes, its positional argument, its help text and
 * its function.  Parsing is shared (parse), and every command reaches the
 * server's replica the same way (admin_open / admin_close), so the rules
 * "never create a data dir" and "exit 2 on a usage error" hold for all.
 *
 * Form import turns a JSON form definition (docs/forms.md) into the
 * canonical msgpack map of a form op.  SQLite's json_tree parses the JSON
 * (veld_store_json_walk, in the store: the one module that speaks SQL);
 * the walk fills a struct form, which is checked as a whole and packed
 * with msgpack-c.  Map keys are packed in ascending byte order from the
 * tables below, and the result goes through veld_canon_check before it is
 * signed, so a form op is canonical by construction and by test.
 */
#include "admin.h"

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <msgpack.h>
#include <sodium.h>

#include "args.h"
#include "backup.h"
#include "buf.h"
#include "canon.h"
#include "code.h"
#include "datadir.h"
#include "err.h"
#include "hlc.h"
#include "merge.h"
#include "replica.h"
#include "store.h"

#define EXIT_FAIL 1
#define EXIT_USAGE 2
#define ADMIN_HELP (-1) /* parse: --help was asked for and shown */

/* The server's replica inside the data directory. */
#define ADMIN_DB_FILE "veld.db"

#define MINUTE_MS (UINT64_C(60) * 1000)
#define HOUR_MS (60 * MINUTE_MS)
#define DAY_MS (24 * HOUR_MS)
#define CODE_EXPIRES_DEFAULT "24h"
#define CODE_EXPIRES_MAX_MS (30 * DAY_MS)

/* Largest form file read (a form op body is at most 32 KiB anyway). */
#define FORM_FILE_MAX (1024 * 1024)
/*
 * Largest packed form definition: the op body around it takes the salt,
 * the keys "def" and "name" and a name of at most 64 bytes (under 100
 * bytes in all).
 */
#define FORM_DEF_MAX (VELD_BODY_MAX - 128)
/* Largest export (`veldd export`). */
#define EXPORT_MAX (1024 * 1024 * 1024)
/* Largest `devices --json` output. */
#define DEVICES_JSON_MAX (64 * 1024 * 1024)

/* Options a command may take (struct command.opts). */
enum {
	OPT_ROLE = 1 << 0,
	OPT_NAME = 1 << 1,
	OPT_AREA = 1 << 2,
	OPT_EXPIRES = 1 << 3,
	OPT_JSON = 1 << 4,
	OPT_FORCE = 1 << 5,
	OPT_OPS_FROM = 1 << 6,
	OPT_FORM = 1 << 7,
	OPT_FORMAT = 1 << 8,
	OPT_PERSONAL = 1 << 9,
};

struct admin_opts {
	const char *data_dir;
	const char *role, *name, *area, *expires;
	const char *ops_from;
	const char *form, *format;
	int personal;
	int json;
	int force;
	const char *arg; /* the positional argument, if the command has one */
};

struct command;

/* One admin command's run: options, data dir, replica. */
struct admin {
	const struct command *cmd;
	struct admin_opts o;
	struct veld_datadir dd;
	int dd_open;
	struct veld_replica *r; /* NULL until admin_open */
	struct veld_store *st;	/* r's store (borrowed) */
	struct veld_store *ro;	/* or the store alone, read-only */
	char db_path[PATH_MAX]; /* DIR/veld.db */
	char why[512];		/* scratch for error_text() */
};

struct command {
	const char *name; /* argv[0] */
	const char *sub;  /* required argv[1] ("new", "import"), or NULL */
	unsigned opts;	  /* OPT_* it takes besides --data and --help */
	const char *arg;  /* its positional argument ("FILE"), or NULL */
	int (*run)(struct admin *a);
	const char *synopsis; /* after "veldd " */
	const char *help;     /* what it does, and its options */
};

#define DATA_HELP                                                              \
	"  --data DIR          data directory (default $" VELD_DATADIR_ENV     \
	", else " VELD_DATADIR_DEFAULT ")\n"

/* --- messages --- */

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

static int usage_error(const struct command *c, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* A usage error: why, and where to look; returns EXIT_USAGE. */
static int usage_error(const struct command *c, const char *fmt, ...)
{
	va_list ap;

	fputs("veldd: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\nTry 'veldd %s%s%s --help'.\n", c->name,
		c->sub ? " " : "", c->sub ? c->sub : "");
	return EXIT_USAGE;
}

/* The text for a VELD_E* code, with SQLite's message for a store error. */
static const char *error_text(struct admin *a, int rc)
{
	if (rc == VELD_ESTORE && a->st) {
		snprintf(a->why, sizeof(a->why), "%s: %s", veld_strerror(rc),
			 veld_store_errmsg(a->st));
		return a->why;
	}
	return veld_strerror(rc);
}

static void to_hex(char *out, size_t out_len, const uint8_t *p, size_t n)
{
	sodium_bin2hex(out, out_len, p, n);
}

/* ISO-8601 UTC, to the second, of a wall-clock time in ms. */
static void iso_ms(uint64_t ms, char out[32])
{
	time_t t = (time_t)(ms / 1000);
	struct tm tm;

	if (!gmtime_r(&t, &tm) || !strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm))
		snprintf(out, 32, "?");
}

static void iso_hlc(uint64_t hlc, char out[32])
{
	iso_ms(VELD_HLC_MS(hlc), out);
}

/*
 * Print s for a terminal: control characters (a name could carry escape
 * sequences) become '?'.  Pads with spaces to width characters (UTF-8
 * sequences count once).
 */
static void put_text(const char *s, int width)
{
	int shown = 0;

	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		putchar(*p < 0x20 || *p == 0x7f ? '?' : *p);
		if ((*p & 0xc0) != 0x80)
			shown++;
	}
	for (; shown < width; shown++)
		putchar(' ');
}

/* Characters (not bytes) in UTF-8 s. */
static int text_width(const char *s)
{
	int n = 0;

	for (; *s; s++)
		if ((*s & 0xc0) != 0x80)
			n++;
	return n;
}

/* --- options --- */

static void command_usage(const struct command *c, FILE *f)
{
	fprintf(f, "usage: veldd %s\n\n%s", c->synopsis, c->help);
}

/* 0; ADMIN_HELP after printing the help; EXIT_USAGE after saying why. */
static int parse(const struct command *c, int argc, char **argv,
		 struct admin_opts *o)
{
	/* The options that take a value, and where each goes. */
	const struct {
		unsigned opt;
		const char *flag;
		const char **dst;
	} valued[] = {
		{OPT_ROLE, "--role", &o->role},
		{OPT_NAME, "--name", &o->name},
		{OPT_AREA, "--area", &o->area},
		{OPT_EXPIRES, "--expires", &o->expires},
		{OPT_OPS_FROM, "--ops-from", &o->ops_from},
		{OPT_FORM, "--form", &o->form},
		{OPT_FORMAT, "--format", &o->format},
	};
	const char *env = getenv(VELD_DATADIR_ENV);
	int first = c->sub ? 2 : 1, options = 1;

	memset(o, 0, sizeof(*o));
	o->data_dir = env && *env ? env : VELD_DATADIR_DEFAULT;
	if (c->sub && (argc < 2 || strcmp(argv[1], c->sub))) {
		if (argc >= 2 &&
		    (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
			command_usage(c, stdout);
			return ADMIN_HELP;
		}
		if (argc < 2 || argv[1][0] == '-')
			return usage_error(c,
					   "'veldd %s' needs a sub-command: "
					   "%s",
					   c->name, c->sub);
		return usage_error(c, "unknown sub-command 'veldd %s %s'",
				   c->name, argv[1]);
	}

	for (int i = first; i < argc; i++) {
		const char *a = argv[i], *v = NULL;
		int matched = 0;

		if (options && !strcmp(a, "--")) {
			options = 0;
			continue;
		}
		if (!options || a[0] != '-' || !a[1]) {
			/* a positional argument ("-" is stdin) */
			if (!c->arg || o->arg)
				return usage_error(
					c, "unexpected argument '%s'", a);
			o->arg = a;
			continue;
		}
		if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
			command_usage(c, stdout);
			return ADMIN_HELP;
		}
		if ((c->opts & OPT_JSON) && !strcmp(a, "--json")) {
			o->json = 1;
			continue;
		}
		if ((c->opts & OPT_PERSONAL) && !strcmp(a, "--personal")) {
			o->personal = 1;
			continue;
		}
		if ((c->opts & OPT_FORCE) && !strcmp(a, "--force")) {
			o->force = 1;
			continue;
		}
		if (veld_args_flag(argc, argv, &i, "--data", &v)) {
			if (!v || !*v)
				return usage_error(c, "option '--data' needs a "
						      "directory");
			o->data_dir = v;
			continue;
		}
		for (size_t k = 0; k < sizeof(valued) / sizeof(valued[0]);
		     k++) {
			if (!(c->opts & valued[k].opt) ||
			    !veld_args_flag(argc, argv, &i, valued[k].flag, &v))
				continue;
			if (!v)
				return usage_error(c,
						   "option '%s' needs a value",
						   valued[k].flag);
			*valued[k].dst = v;
			matched = 1;
			break;
		}
		if (!matched)
			return usage_error(c, "unknown option '%s'", a);
	}
	if (c->arg && !o->arg)
		return usage_error(c, "missing %s", c->arg);
	return 0;
}

/* --- the data directory and the replica --- */

/* Open the data dir, which must exist (see admin.h), and its key. */
static int admin_open_dir(struct admin *a)
{
	const char *dir = a->o.data_dir;
	char path[PATH_MAX], err[PATH_MAX + 128];
	struct stat st;
	int n;

	if (stat(dir, &st) < 0) {
		if (errno == ENOENT)
			return fail("no veldd data directory at '%s'; start "
				    "'veldd serve' once first",
				    dir);
		return fail("cannot use data dir '%s': %s", dir,
			    strerror(errno));
	}
	if (!S_ISDIR(st.st_mode))
		return fail("data dir '%s' is not a directory", dir);
	n = snprintf(path, sizeof(path), "%s/%s", dir, VELD_DATADIR_KEY_FILE);
	if (n < 0 || (size_t)n >= sizeof(path))
		return fail("data dir path '%s' is too long", dir);
	if (stat(path, &st) < 0 && errno == ENOENT)
		return fail("no server key in '%s' ('%s' is missing); start "
			    "'veldd serve' once first",
			    dir, path);

	if (veld_datadir_open(&a->dd, dir, err, sizeof(err)) < 0)
		return fail("%s", err);
	a->dd_open = 1;
	if (a->dd.key_exposed)
		fprintf(stderr,
			"veldd: warning: key '%s' is accessible to other "
			"users; chmod 600 it\n",
			a->dd.key_path);

	n = snprintf(a->db_path, sizeof(a->db_path), "%s/%s", dir,
		     ADMIN_DB_FILE);
	if (n < 0 || (size_t)n >= sizeof(a->db_path))
		return fail("data dir path '%s' is too long", dir);
	return 0;
}

/* Open the data dir and the replica. */
static int admin_open(struct admin *a)
{
	int rc = admin_open_dir(a);

	if (rc)
		return rc;
	/* The server key is this replica's key and the root of trust. */
	rc = veld_replica_open(a->db_path, &a->dd.key, a->dd.key.pk, &a->r);
	if (rc < 0)
		return fail("cannot open the server's replica '%s': %s",
			    a->db_path, veld_strerror(rc));
	a->st = veld_replica_store(a->r);
	return 0;
}

/* Open the data dir and the server's store, to read only (a->ro). */
static int admin_open_ro(struct admin *a)
{
	struct stat st;
	int rc = admin_open_dir(a);

	if (rc)
		return rc;
	if (stat(a->db_path, &st) < 0)
		return fail("no store at '%s': %s", a->db_path,
			    strerror(errno));
	rc = veld_store_open_readonly(a->db_path, &a->ro);
	if (rc == VELD_ESCHEMA)
		return fail("'%s' has another schema version than this veldd "
			    "(start 'veldd serve' to migrate it, or use the "
			    "veldd that wrote it)",
			    a->db_path);
	if (rc < 0)
		return fail("cannot open the server's store '%s': %s",
			    a->db_path, veld_strerror(rc));
	return 0;
}

/* The records view read-only: say so if veldd has yet to settle the
 * last pushes into it (replica.h, deferred records). */
static void warn_unsettled(struct admin *a)
{
	uint64_t settled;

	if (veld_replica_view_behind(a->ro, &settled) == 1)
		fprintf(stderr,
			"veldd: note: the records of the ops pushed after "
			"log position %" PRIu64 " are not in this yet: veldd "
			"settles them within a second of their push, or when "
			"it next starts\n",
			settled);
}

static void admin_close(struct admin *a)
{
	veld_replica_close(a->r);
	a->r = NULL;
	a->st = NULL;
	veld_store_close(a->ro);
	a->ro = NULL;
	if (a->dd_open)
		veld_datadir_close(&a->dd);
	a->dd_open = 0;
}

/* --- code new --- */

/*
 * A name or area as the protocol takes it (docs/protocol.md §11): 1..64
 * bytes of UTF-8; control characters are refused too, as they would only
 * confuse the people reading lists of devices.
 */
static int check_name(const struct command *c, const char *flag, const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > VELD_NAME_MAX)
		return usage_error(c, "%s must be 1 to %d bytes (got %zu)",
				   flag, VELD_NAME_MAX, n);
	if (!veld_utf8_valid((const uint8_t *)s, n))
		return usage_error(c, "%s is not valid UTF-8", flag);
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
			return usage_error(c, "%s contains a control character",
					   flag);
	return 0;
}

/* "30m", "24h", "7d" -> ms; 0 ok, -1 malformed, -2 over the maximum. */
static int parse_duration(const char *s, uint64_t *ms)
{
	uint64_t v = 0, unit;
	size_t i = 0;

	for (; s[i] >= '0' && s[i] <= '9'; i++) {
		if (i == 6) /* a million days is not a code's lifetime */
			return -2;
		v = v * 10 + (uint64_t)(s[i] - '0');
	}
	if (i == 0 || v == 0 || !s[i] || s[i + 1])
		return -1;
	switch (s[i]) {
	case 'm':
		unit = MINUTE_MS;
		break;
	case 'h':
		unit = HOUR_MS;
		break;
	case 'd':
		unit = DAY_MS;
		break;
	default:
		return -1;
	}
	*ms = v * unit;
	return *ms > CODE_EXPIRES_MAX_MS ? -2 : 0;
}

static int cmd_code_new(struct admin *a)
{
	const struct admin_opts *o = &a->o;
	const char *expires = o->expires ? o->expires : CODE_EXPIRES_DEFAULT;
	struct veld_code_row row;
	char code[VELD_CODE_BUF], until[32];
	uint64_t ttl = 0;
	int rc;

	if (!o->role)
		return usage_error(a->cmd, "option '--role' is required "
					   "(field or coordinator)");
	if (strcmp(o->role, "field") && strcmp(o->role, "coordinator"))
		return usage_error(a->cmd,
				   "bad role '%s' (want field or coordinator)",
				   o->role);
	if (!o->name)
		return usage_error(a->cmd, "option '--name' is required");
	if ((rc = check_name(a->cmd, "--name", o->name)) != 0 ||
	    (o->area && (rc = check_name(a->cmd, "--area", o->area)) != 0))
		return rc;
	rc = parse_duration(expires, &ttl);
	if (rc == -2)
		return usage_error(a->cmd,
				   "duration '%s' is too long (at most 30d)",
				   expires);
	if (rc < 0)
		return usage_error(a->cmd,
				   "bad duration '%s' (want a whole number of "
				   "minutes, hours or days, e.g. 30m, 24h, 7d)",
				   expires);

	if ((rc = admin_open(a)) != 0)
		return rc;
	row.role = o->role;
	row.name = o->name;
	row.area = o->area;
	row.expires = veld_hlc_wall_ms() + ttl;
	rc = veld_code_issue(a->st, &row, code);
	if (rc < 0)
		return fail("cannot store the code: %s", error_text(a, rc));

	iso_ms(row.expires, until);
	printf("one-time enrolment code for a %s device named '%s'", o->role,
	       o->name);
	if (o->area)
		printf(" in area '%s'", o->area);
	printf("\ngood once, until %s (%s from now)\n", until, expires);
	printf("%s\n", code);
	fflush(stdout);
	sodium_memzero(code, sizeof(code));
	return 0;
}

/* --- devices --- */

struct devices_ctx {
	struct admin *a;
	int pass; /* 0: measure the columns, 1: print */
	int w_role, w_name, w_area;
	size_t n;
	int rc; /* first store error from veld_store_head */
};

static int device_line(void *ctx, const struct veld_device_row *d)
{
	struct devices_ctx *c = ctx;
	const char *area = d->area ? d->area : "-";
	char key[2 * VELD_PK_LEN + 1], enrolled[32], revoked[32];
	struct veld_head h;
	int rc;

	if (c->pass == 0) {
		int w = text_width(d->role);
		c->w_role = w > c->w_role ? w : c->w_role;
		w = text_width(d->name);
		c->w_name = w > c->w_name ? w : c->w_name;
		w = text_width(area);
		c->w_area = w > c->w_area ? w : c->w_area;
		c->n++;
		return 0;
	}
	rc = veld_store_head(c->a->st, d->key, &h);
	if (rc < 0) {
		c->rc = rc;
		return 1;
	}
	to_hex(key, sizeof(key), d->key, VELD_PK_LEN);
	iso_hlc(d->enrolled, enrolled);
	if (d->revoked)
		iso_hlc(d->revoked, revoked);
	else
		snprintf(revoked, sizeof(revoked), "-");
	printf("%s  ", key);
	put_text(d->role, c->w_role);
	printf("  ");
	put_text(d->name, c->w_name);
	printf("  ");
	put_text(area, c->w_area);
	printf("  %-20s  %-20s  %" PRIu64, enrolled, revoked, h.seq);
	if (h.frozen)
		printf(" (forked at %" PRIu64 ")", h.fork_seq);
	putchar('\n');
	return 0;
}

static int cmd_devices(struct admin *a)
{
	struct devices_ctx c = {.a = a};
	int rc;

	if ((rc = admin_open(a)) != 0)
		return rc;
	if (a->o.json) {
		struct veld_buf out;

		veld_buf_init(&out, DEVICES_JSON_MAX);
		rc = veld_store_devices_json(a->st, &out);
		if (rc == 0) {
			fwrite(out.data, 1, out.len, stdout);
			putchar('\n');
		}
		veld_buf_release(&out);
		if (rc < 0)
			return fail("cannot read the registry: %s",
				    error_text(a, rc));
		return 0;
	}

	c.w_role = text_width("ROLE");
	c.w_name = text_width("NAME");
	c.w_area = text_width("AREA");
	rc = veld_store_devices(a->st, device_line, &c);
	if (rc == 0 && c.n == 0) {
		printf("no devices enrolled yet; issue a code with 'veldd "
		       "code new'\n");
		return 0;
	}
	if (rc == 0) {
		printf("%-64s  ", "KEY");
		put_text("ROLE", c.w_role);
		printf("  ");
		put_text("NAME", c.w_name);
		printf("  ");
		put_text("AREA", c.w_area);
		printf("  %-20s  %-20s  %s\n", "ENROLLED", "REVOKED", "SEQ");
		c.pass = 1;
		rc = veld_store_devices(a->st, device_line, &c);
	}
	if (rc == 1)
		rc = c.rc;
	if (rc < 0)
		return fail("cannot read the registry: %s", error_text(a, rc));
	return 0;
}

/* --- revoke --- */

#define MATCHES_SHOWN 8
#define KEY_PREFIX_MIN 8

struct device_match {
	uint8_t key[VELD_PK_LEN];
	char role[16];
	char name[VELD_NAME_MAX + 1];
	char shown[VELD_NAME_MAX + 1]; /* name, control characters as '?' */
	char area[VELD_NAME_MAX + 1];
	int has_area;
	uint64_t revoked;
};

struct revoke_ctx {
	const char *want;
	char prefix[2 * VELD_PK_LEN + 1]; /* lowercase hex, "" = none */
	size_t prefix_len;
	struct device_match m[MATCHES_SHOWN];
	size_t n;     /* matches, also beyond MATCHES_SHOWN */
	int too_long; /* a registry string longer than the protocol allows */
};

static int copy_str(char *dst, size_t n, const char *src)
{
	int w = snprintf(dst, n, "%s", src ? src : "");

	return w >= 0 && (size_t)w < n ? 0 : -1;
}

static int revoke_find(void *ctx, const struct veld_device_row *d)
{
	struct revoke_ctx *c = ctx;
	char key[2 * VELD_PK_LEN + 1];
	struct device_match *m;

	to_hex(key, sizeof(key), d->key, VELD_PK_LEN);
	if (!(c->prefix_len && !strncmp(key, c->prefix, c->prefix_len)) &&
	    !(d->name && !strcmp(d->name, c->want)))
		return 0;
	if (c->n++ >= MATCHES_SHOWN)
		return 0;
	m = &c->m[c->n - 1];
	memcpy(m->key, d->key, VELD_PK_LEN);
	m->has_area = d->area != NULL;
	m->revoked = d->revoked;
	if (copy_str(m->role, sizeof(m->role), d->role) < 0 ||
	    copy_str(m->name, sizeof(m->name), d->name) < 0 ||
	    copy_str(m->area, sizeof(m->area), d->area) < 0) {
		c->too_long = 1;
		return 1;
	}
	/* A name is any UTF-8 to the protocol: keep escape sequences off
	 * the operator's terminal. */
	for (size_t i = 0; i < sizeof(m->shown); i++) {
		unsigned char ch = (unsigned char)m->name[i];
		m->shown[i] = ch && (ch < 0x20 || ch == 0x7f) ? '?' : (char)ch;
	}
	return 0;
}

/* Lowercase hex of at least KEY_PREFIX_MIN digits, or "" if s is not. */
static void key_prefix(const char *s, struct revoke_ctx *c)
{
	size_t n = strlen(s);

	c->prefix[0] = '\0';
	c->prefix_len = 0;
	if (n < KEY_PREFIX_MIN || n > 2 * VELD_PK_LEN)
		return;
	for (size_t i = 0; i < n; i++) {
		char ch = s[i];
		if (ch >= 'A' && ch <= 'F')
			ch = (char)(ch - 'A' + 'a');
		if (!((ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'f')))
			return;
		c->prefix[i] = ch;
	}
	c->prefix[n] = '\0';
	c->prefix_len = n;
}

static int cmd_revoke(struct admin *a)
{
	struct revoke_ctx c;
	struct device_match *m;
	char key[2 * VELD_PK_LEN + 1], when[32];
	uint8_t op[VELD_HASH_LEN];
	char op_hex[2 * VELD_HASH_LEN + 1];
	int rc;

	memset(&c, 0, sizeof(c));
	c.want = a->o.arg;
	if (!*c.want)
		return usage_error(a->cmd, "DEVICE is empty");
	key_prefix(c.want, &c);

	if ((rc = admin_open(a)) != 0)
		return rc;
	rc = veld_store_devices(a->st, revoke_find, &c);
	if (rc < 0)
		return fail("cannot read the registry: %s", error_text(a, rc));
	if (c.too_long)
		return fail("the registry holds a name or role longer than "
			    "the protocol allows; not revoking");

	if (c.n == 0) {
		if (c.prefix_len &&
		    !strncmp(a->dd.key_hex, c.prefix, c.prefix_len))
			return fail("'%s' is the server key, the root of "
				    "trust; it cannot be revoked",
				    c.want);
		return fail("no device matches '%s' (give its name, its key "
			    "or at least %d hex digits of it; see 'veldd "
			    "devices')",
			    c.want, KEY_PREFIX_MIN);
	}
	if (c.n > 1) {
		fail("'%s' matches %zu devices; give more of the key:", c.want,
		     c.n);
		for (size_t i = 0; i < c.n && i < MATCHES_SHOWN; i++) {
			to_hex(key, sizeof(key), c.m[i].key, VELD_PK_LEN);
			fprintf(stderr, "  %s  %s\n", key, c.m[i].shown);
		}
		return EXIT_FAIL;
	}

	m = &c.m[0];
	to_hex(key, sizeof(key), m->key, VELD_PK_LEN);
	if (m->revoked) {
		iso_hlc(m->revoked, when);
		printf("device '%s' (%s) is already revoked (since %s)\n",
		       m->shown, key, when);
		return 0;
	}
	/* Role, name and area stay as they are: only the status changes. */
	rc = veld_replica_device(a->r, m->key, m->role, m->name,
				 m->has_area ? m->area : NULL, 1, op);
	if (rc < 0)
		return fail("cannot revoke device '%s' (%s): %s", m->shown, key,
			    error_text(a, rc));
	to_hex(op_hex, sizeof(op_hex), op, VELD_HASH_LEN);
	printf("revoked %s device '%s' (%s)\n", m->role, m->shown, key);
	printf("op: %s\n", op_hex);
	return 0;
}

/* --- form import --- */

/*
 * Keys of a form and of a field, each table in ascending byte order: the
 * order in which the canonical map packs them.
 */
enum form_key { FK_FIELDS, FK_NAME, FK_TITLE, FK_COUNT };
static const char *const form_keys[FK_COUNT] = {"fields", "name", "title"};

enum field_key {
	K_CHOICES,
	K_DEFAULT,
	K_HINT,
	K_LABEL,
	K_NAME,
	K_PERSONAL,
	K_REQUIRED,
	K_TYPE,
	K_COUNT
};
static const char *const field_keys[K_COUNT] = {
	"choices", "default",  "hint",	   "label",
	"name",	   "personal", "required", "type",
};

enum field_type {
	T_TEXT,
	T_NUMBER,
	T_INTEGER,
	T_CHOICE,
	T_MULTI,
	T_BOOL,
	T_DATE,
	T_DATETIME,
	T_COUNT
};
static const char *const field_types[T_COUNT] = {
	"text",	 "number", "integer", "choice",
	"multi", "bool",   "date",    "datetime",
};
#define FIELD_TYPES_TEXT                                                       \
	"text, number, integer, choice, multi, bool, date or datetime"

/* A JSON scalar (or, for a multi field's default, a list of strings). */
struct form_value {
	enum veld_json_type type;
	char *text;
	int64_t i;
	double d;
	char **items; /* VELD_JSON_ARRAY: strings */
	size_t nitems;
};

struct form_field {
	int64_t index; /* position in "fields", for messages */
	unsigned seen; /* 1 << enum field_key for each key given */
	char *name, *label, *hint, *type_name;
	int type; /* enum field_type, once checked */
	int required, personal;
	char **choices;
	size_t nchoices;
	struct form_value def;
};

struct form {
	unsigned seen; /* 1 << enum form_key for each key given */
	char *name, *title;
	struct form_field *fields;
	size_t nfields;
	/* walk state */
	int in_fields;		/* the current top-level member is "fields" */
	struct form_field *cur; /* the field being read */
	int cur_key;		/* its member being read (enum field_key) */
	int rc;			/* VELD_ENOMEM while walking */
	char err[512];		/* why the form is refused */
};

static int form_error(struct form *f, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Keep the first reason; returns 1 to stop the walk. */
static int form_error(struct form *f, const char *fmt, ...)
{
	va_list ap;

	if (f->err[0])
		return 1;
	va_start(ap, fmt);
	vsnprintf(f->err, sizeof(f->err), fmt, ap);
	va_end(ap);
	return 1;
}

static void free_strings(char **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

static void form_release(struct form *f)
{
	for (size_t i = 0; i < f->nfields; i++) {
		struct form_field *x = &f->fields[i];
		free(x->name);
		free(x->label);
		free(x->hint);
		free(x->type_name);
		free_strings(x->choices, x->nchoices);
		free(x->def.text);
		free_strings(x->def.items, x->def.nitems);
	}
	free(f->fields);
	free(f->name);
	free(f->title);
	memset(f, 0, sizeof(*f));
}

/* Where a node is, for messages: "field 3 ('street')" or "the form". */
static const char *field_where(const struct form_field *x, char *buf, size_t n)
{
	if (x && x->name)
		snprintf(buf, n, "field %" PRId64 " ('%s')", x->index + 1,
			 x->name);
	else if (x)
		snprintf(buf, n, "field %" PRId64, x->index + 1);
	else
		snprintf(buf, n, "the form");
	return buf;
}

static int key_index(const char *const *keys, int n, const char *k)
{
	for (int i = 0; i < n; i++)
		if (!strcmp(keys[i], k))
			return i;
	return -1;
}

/* Copy a JSON string node, refusing what msgpack str or C cannot hold. */
static int take_text(struct form *f, const struct veld_json_node *n,
		     const char *what, char **out)
{
	char where[128];

	field_where(f->cur, where, sizeof(where));
	if (n->type != VELD_JSON_TEXT)
		return form_error(f, "%s: %s must be a string", where, what);
	if (memchr(n->text, '\0', n->text_len))
		return form_error(f, "%s: %s contains a NUL character", where,
				  what);
	if (!veld_utf8_valid((const uint8_t *)n->text, n->text_len))
		return form_error(f, "%s: %s is not valid UTF-8", where, what);
	if (n->text_len > VELD_STR_MAX)
		return form_error(f, "%s: %s is longer than %d bytes", where,
				  what, VELD_STR_MAX);
	*out = malloc(n->text_len + 1);
	if (!*out) {
		f->rc = VELD_ENOMEM;
		return 1;
	}
	memcpy(*out, n->text, n->text_len + 1);
	return 0;
}

/* Append a copy of string node n to v (at most VELD_ITEMS_MAX). */
static int push_text(struct form *f, const struct veld_json_node *n,
		     const char *what, char ***v, size_t *count)
{
	char **grown, *s = NULL;
	char where[128], each[64];

	if (*count == VELD_ITEMS_MAX)
		return form_error(f, "%s: \"%s\" has more than %d items",
				  field_where(f->cur, where, sizeof(where)),
				  what, VELD_ITEMS_MAX);
	snprintf(each, sizeof(each), "each item of \"%s\"", what);
	if (take_text(f, n, each, &s))
		return 1;
	grown = realloc(*v, (*count + 1) * sizeof(**v));
	if (!grown) {
		free(s);
		f->rc = VELD_ENOMEM;
		return 1;
	}
	*v = grown;
	(*v)[(*count)++] = s;
	return 0;
}

/* depth 1: a member of the form object. */
static int form_member(struct form *f, const struct veld_json_node *n)
{
	int k = key_index(form_keys, FK_COUNT, n->key);

	f->in_fields = 0;
	f->cur = NULL;
	if (k < 0 || n->key_len != strlen(n->key))
		return form_error(f,
				  "unknown key '%s' in the form (a form has "
				  "name, title and fields)",
				  n->key);
	if (f->seen & (1u << k))
		return form_error(f, "key '%s' appears twice in the form",
				  n->key);
	f->seen |= 1u << k;
	switch (k) {
	case FK_NAME:
		return take_text(f, n, "\"name\"", &f->name);
	case FK_TITLE:
		return take_text(f, n, "\"title\"", &f->title);
	}
	if (n->type != VELD_JSON_ARRAY)
		return form_error(f, "\"fields\" must be an array of fields");
	f->in_fields = 1;
	return 0;
}

/* depth 2: an element of "fields". */
static int form_field_start(struct form *f, const struct veld_json_node *n)
{
	struct form_field *grown;

	f->cur = NULL;
	if (!f->in_fields) /* cannot happen: other members are scalars */
		return form_error(f, "unexpected value in the form");
	if (n->type != VELD_JSON_OBJECT)
		return form_error(f,
				  "field %" PRId64 " is not an object "
				  "{\"name\": ..., \"type\": ...}",
				  n->index + 1);
	if (f->nfields == VELD_ITEMS_MAX)
		return form_error(f, "the form has more than %d fields",
				  VELD_ITEMS_MAX);
	grown = realloc(f->fields, (f->nfields + 1) * sizeof(*grown));
	if (!grown) {
		f->rc = VELD_ENOMEM;
		return 1;
	}
	f->fields = grown;
	f->cur = &f->fields[f->nfields++];
	memset(f->cur, 0, sizeof(*f->cur));
	f->cur->index = n->index;
	f->cur->type = -1;
	return 0;
}

/* depth 3: a member of a field. */
static int field_member(struct form *f, const struct veld_json_node *n)
{
	struct form_field *x = f->cur;
	int k = key_index(field_keys, K_COUNT, n->key);
	char where[128];

	field_where(x, where, sizeof(where));
	f->cur_key = k;
	if (k < 0 || n->key_len != strlen(n->key))
		return form_error(f,
				  "%s: unknown key '%s' (a field has name, "
				  "label, type, required, choices, hint, "
				  "personal and default)",
				  where, n->key);
	if (x->seen & (1u << k))
		return form_error(f, "%s: key '%s' appears twice", where,
				  n->key);
	x->seen |= 1u << k;
	switch (k) {
	case K_NAME:
		return take_text(f, n, "\"name\"", &x->name);
	case K_LABEL:
		return take_text(f, n, "\"label\"", &x->label);
	case K_HINT:
		return take_text(f, n, "\"hint\"", &x->hint);
	case K_TYPE:
		return take_text(f, n, "\"type\"", &x->type_name);
	case K_REQUIRED:
	case K_PERSONAL:
		if (n->type != VELD_JSON_TRUE && n->type != VELD_JSON_FALSE)
			return form_error(f, "%s: \"%s\" must be true or false",
					  where, field_keys[k]);
		*(k == K_REQUIRED ? &x->required : &x->personal) =
			n->type == VELD_JSON_TRUE;
		return 0;
	case K_CHOICES:
		if (n->type != VELD_JSON_ARRAY)
			return form_error(f,
					  "%s: \"choices\" must be an array of "
					  "strings",
					  where);
		return 0;
	}
	/* K_DEFAULT: a scalar, or an array of strings (multi) */
	x->def.type = n->type;
	switch (n->type) {
	case VELD_JSON_OBJECT:
	case VELD_JSON_NULL:
		return form_error(f,
				  "%s: \"default\" must be a value of the "
				  "field's type (leave it out for none)",
				  where);
	case VELD_JSON_TEXT:
		return take_text(f, n, "\"default\"", &x->def.text);
	case VELD_JSON_REAL:
		if (!isfinite(n->d))
			return form_error(f, "%s: \"default\" is not finite",
					  where);
		x->def.d = n->d;
		return 0;
	default:
		x->def.i = n->i;
		return 0;
	}
}

/* Called for every JSON value, in document order. */
static int form_node(void *ctx, const struct veld_json_node *n)
{
	struct form *f = ctx;
	char where[128];

	if (n->key && !veld_utf8_valid((const uint8_t *)n->key, n->key_len))
		return form_error(f, "a key is not valid UTF-8");
	switch (n->depth) {
	case 0:
		if (n->type != VELD_JSON_OBJECT)
			return form_error(f, "a form is a JSON object "
					     "{\"name\": ..., \"fields\": "
					     "[...]}");
		return 0;
	case 1:
		return form_member(f, n);
	case 2:
		return form_field_start(f, n);
	case 3:
		return field_member(f, n);
	case 4:
		/* elements of "choices" or of a multi field's "default" */
		if (f->cur_key == K_CHOICES)
			return push_text(f, n, "choices", &f->cur->choices,
					 &f->cur->nchoices);
		if (f->cur_key == K_DEFAULT)
			return push_text(f, n, "default", &f->cur->def.items,
					 &f->cur->def.nitems);
		break;
	}
	return form_error(f, "%s: nested too deeply",
			  field_where(f->cur, where, sizeof(where)));
}

/* A name as the protocol takes it: 1..64 bytes, no control characters. */
static int is_name(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > VELD_NAME_MAX)
		return 0;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
			return 0;
	return 1;
}

/* "YYYY-MM-DD" at s (10 characters), plausibly a date. */
static int is_date(const char *s)
{
	int m, d;

	for (int i = 0; i < 10; i++) {
		int dash = i == 4 || i == 7;
		if (!s[i] || (dash ? s[i] != '-' : (s[i] < '0' || s[i] > '9')))
			return 0;
	}
	m = (s[5] - '0') * 10 + (s[6] - '0');
	d = (s[8] - '0') * 10 + (s[9] - '0');
	return m >= 1 && m <= 12 && d >= 1 && d <= 31;
}

/* "YYYY-MM-DDTHH:MM", optionally ":SS", optionally "Z". */
static int is_datetime(const char *s)
{
	size_t n = strlen(s);

	if (n < 16 || !is_date(s) || s[10] != 'T')
		return 0;
	if (s[n - 1] == 'Z')
		n--;
	if (n != 16 && n != 19)
		return 0;
	for (size_t i = 11; i < n; i++) {
		int colon = i == 13 || i == 16;
		if (colon ? s[i] != ':' : (s[i] < '0' || s[i] > '9'))
			return 0;
	}
	return (s[11] - '0') * 10 + (s[12] - '0') < 24 &&
	       (s[14] - '0') * 10 + (s[15] - '0') < 60 &&
	       (n == 16 || (s[17] - '0') * 10 + (s[18] - '0') < 60);
}

static int in_list(char *const *v, size_t n, const char *s)
{
	for (size_t i = 0; i < n; i++)
		if (!strcmp(v[i], s))
			return 1;
	return 0;
}

/* Is a number an integer we can pack as one? */
static int integral(double d)
{
	return d == trunc(d) && d >= -9223372036854775808.0 &&
	       d < 9223372036854775808.0;
}

static int check_default(struct form *f, const struct form_field *x,
			 const char *where)
{
	const struct form_value *v = &x->def;
	int ok;

	switch (x->type) {
	case T_TEXT:
		ok = v->type == VELD_JSON_TEXT;
		break;
	case T_NUMBER:
		ok = v->type == VELD_JSON_INTEGER || v->type == VELD_JSON_REAL;
		break;
	case T_INTEGER:
		ok = v->type == VELD_JSON_INTEGER ||
		     (v->type == VELD_JSON_REAL && integral(v->d));
		break;
	case T_BOOL:
		ok = v->type == VELD_JSON_TRUE || v->type == VELD_JSON_FALSE;
		break;
	case T_DATE:
		ok = v->type == VELD_JSON_TEXT && strlen(v->text) == 10 &&
		     is_date(v->text);
		break;
	case T_DATETIME:
		ok = v->type == VELD_JSON_TEXT && is_datetime(v->text);
		break;
	case T_CHOICE:
		ok = v->type == VELD_JSON_TEXT &&
		     in_list(x->choices, x->nchoices, v->text);
		break;
	default: /* T_MULTI */
		ok = v->type == VELD_JSON_ARRAY;
		for (size_t i = 0; ok && i < v->nitems; i++)
			ok = in_list(x->choices, x->nchoices, v->items[i]) &&
			     !in_list(v->items, i, v->items[i]);
		break;
	}
	if (ok)
		return 0;
	if (x->type == T_CHOICE)
		return form_error(f,
				  "%s: \"default\" must be one of its "
				  "choices",
				  where);
	if (x->type == T_MULTI)
		return form_error(f,
				  "%s: \"default\" must be an array of "
				  "distinct choices",
				  where);
	if (x->type == T_DATE)
		return form_error(f,
				  "%s: \"default\" must be a date "
				  "\"YYYY-MM-DD\"",
				  where);
	if (x->type == T_DATETIME)
		return form_error(f,
				  "%s: \"default\" must be a time "
				  "\"YYYY-MM-DDTHH:MM[:SS][Z]\"",
				  where);
	return form_error(f, "%s: \"default\" does not fit its type '%s'",
			  where, field_types[x->type]);
}

static int check_field(struct form *f, struct form_field *x)
{
	char where[128];

	field_where(x, where, sizeof(where));
	if (!x->name)
		return form_error(f, "%s has no \"name\"", where);
	if (!is_name(x->name))
		return form_error(f,
				  "%s: \"name\" must be 1 to %d bytes without "
				  "control characters",
				  where, VELD_NAME_MAX);
	for (struct form_field *y = f->fields; y < x; y++)
		if (!strcmp(y->name, x->name))
			return form_error(f,
					  "%s: the name '%s' is already used "
					  "by field %" PRId64,
					  where, x->name, y->index + 1);
	if (!x->type_name)
		return form_error(f, "%s has no \"type\" (one of %s)", where,
				  FIELD_TYPES_TEXT);
	x->type = key_index(field_types, T_COUNT, x->type_name);
	if (x->type < 0)
		return form_error(f, "%s: unknown type '%s' (want %s)", where,
				  x->type_name, FIELD_TYPES_TEXT);
	if (x->label && !x->label[0])
		return form_error(f, "%s: \"label\" is empty", where);
	if (x->type == T_CHOICE || x->type == T_MULTI) {
		if (!x->nchoices)
			return form_error(f,
					  "%s: a %s field needs \"choices\", a "
					  "non-empty array of strings",
					  where, x->type_name);
		for (size_t i = 0; i < x->nchoices; i++) {
			if (!x->choices[i][0])
				return form_error(f, "%s: choice %zu is empty",
						  where, i + 1);
			if (in_list(x->choices, i, x->choices[i]))
				return form_error(f,
						  "%s: choice '%s' appears "
						  "twice",
						  where, x->choices[i]);
		}
	} else if (x->seen & (1u << K_CHOICES)) {
		return form_error(f,
				  "%s: \"choices\" only goes with type choice "
				  "or multi",
				  where);
	}
	if (x->seen & (1u << K_DEFAULT))
		return check_default(f, x, where);
	return 0;
}

/* The form as a whole, after the walk. */
static int check_form(struct form *f)
{
	if (!f->name)
		return form_error(f, "the form has no \"name\"");
	if (!is_name(f->name))
		return form_error(f,
				  "the form's \"name\" must be 1 to %d bytes "
				  "without control characters",
				  VELD_NAME_MAX);
	if (!(f->seen & (1u << FK_FIELDS)) || !f->nfields)
		return form_error(f, "the form has no fields (\"fields\" must "
				     "be a non-empty array)");
	for (size_t i = 0; i < f->nfields; i++)
		if (check_field(f, &f->fields[i]))
			return 1;
	return 0;
}

static void pack_text(msgpack_packer *pk, const char *s)
{
	msgpack_pack_str_with_body(pk, s, strlen(s));
}

static void pack_bool(msgpack_packer *pk, int b)
{
	if (b)
		msgpack_pack_true(pk);
	else
		msgpack_pack_false(pk);
}

static void pack_number(msgpack_packer *pk, const struct form_value *v)
{
	if (v->type == VELD_JSON_INTEGER)
		msgpack_pack_int64(pk, v->i);
	else if (integral(v->d))
		msgpack_pack_int64(pk, (int64_t)v->d);
	else
		msgpack_pack_double(pk, v->d);
}

static void pack_value(msgpack_packer *pk, const struct form_value *v)
{
	switch (v->type) {
	case VELD_JSON_TEXT:
		pack_text(pk, v->text);
		break;
	case VELD_JSON_TRUE:
		msgpack_pack_true(pk);
		break;
	case VELD_JSON_FALSE:
		msgpack_pack_false(pk);
		break;
	case VELD_JSON_ARRAY:
		msgpack_pack_array(pk, v->nitems);
		for (size_t i = 0; i < v->nitems; i++)
			pack_text(pk, v->items[i]);
		break;
	default:
		pack_number(pk, v);
		break;
	}
}

static void pack_field(msgpack_packer *pk, const struct form_field *x)
{
	size_t n = 0;

	for (int k = 0; k < K_COUNT; k++)
		n += (x->seen >> k) & 1;
	msgpack_pack_map(pk, n);
	/* field_keys order: ascending bytes, as canonical maps want */
	for (int k = 0; k < K_COUNT; k++) {
		if (!(x->seen & (1u << k)))
			continue;
		pack_text(pk, field_keys[k]);
		switch (k) {
		case K_CHOICES:
			msgpack_pack_array(pk, x->nchoices);
			for (size_t i = 0; i < x->nchoices; i++)
				pack_text(pk, x->choices[i]);
			break;
		case K_DEFAULT:
			pack_value(pk, &x->def);
			break;
		case K_HINT:
			pack_text(pk, x->hint);
			break;
		case K_LABEL:
			pack_text(pk, x->label);
			break;
		case K_NAME:
			pack_text(pk, x->name);
			break;
		case K_PERSONAL:
			pack_bool(pk, x->personal);
			break;
		case K_REQUIRED:
			pack_bool(pk, x->required);
			break;
		case K_TYPE:
			pack_text(pk, x->type_name);
			break;
		}
	}
}

/*
 * The form op's def: {"fields": [...], "title"?: ...} ("name" travels
 * beside def in the op).  Returns 0, VELD_EBODYSIZE (too large for one
 * op), VELD_ENOMEM, or the canonical check's error (a bug).
 */
static int pack_def(const struct form *f, struct veld_buf *def)
{
	msgpack_packer pk;

	veld_buf_init(def, FORM_DEF_MAX);
	veld_buf_packer_init(&pk, def);
	msgpack_pack_map(&pk, f->title ? 2 : 1);
	pack_text(&pk, form_keys[FK_FIELDS]);
	msgpack_pack_array(&pk, f->nfields);
	for (size_t i = 0; i < f->nfields; i++)
		pack_field(&pk, &f->fields[i]);
	if (f->title) {
		pack_text(&pk, form_keys[FK_TITLE]);
		pack_text(&pk, f->title);
	}
	if (def->err)
		return def->err == VELD_ETOOBIG ? VELD_EBODYSIZE : def->err;
	return veld_canon_check(def->data, def->len);
}

/* Read all of path ("-": stdin) into b, at most b->max bytes. */
static int read_file(const char *path, struct veld_buf *b)
{
	FILE *fp = strcmp(path, "-") ? fopen(path, "rb") : stdin;
	char chunk[8192];
	size_t n;
	int rc = 0;

	if (!fp)
		return VELD_EIO;
	while (rc == 0 && (n = fread(chunk, 1, sizeof(chunk), fp)) > 0)
		rc = veld_buf_append(b, chunk, n);
	if (rc == 0 && ferror(fp))
		rc = VELD_EIO;
	if (fp != stdin)
		fclose(fp);
	return rc;
}

struct form_lookup {
	const char *name;
	int found; /* forms with this name */
	uint8_t id[VELD_RECORD_LEN];
	int same;     /* its def equals the new one */
	uint64_t hlc; /* of the op in force */
	const struct veld_buf *def;
};

static int lookup_form(void *ctx, const struct veld_form_row *row)
{
	struct form_lookup *l = ctx;

	if (!row->name || strcmp(row->name, l->name))
		return 0;
	/* Forms come by (name, id): the first of a name is the one kept. */
	if (l->found++)
		return 0;
	memcpy(l->id, row->id, VELD_RECORD_LEN);
	l->hlc = row->hlc;
	l->same = row->def_len == l->def->len &&
		  !memcmp(row->def, l->def->data, row->def_len);
	return 0;
}

static int cmd_form_import(struct admin *a)
{
	const char *file = a->o.arg;
	const char *shown = strcmp(file, "-") ? file : "(stdin)";
	struct veld_buf text, def;
	struct form f;
	struct form_lookup l;
	uint8_t op[VELD_HASH_LEN];
	char id_hex[2 * VELD_RECORD_LEN + 1], op_hex[2 * VELD_HASH_LEN + 1];
	int rc, status = EXIT_FAIL;

	memset(&f, 0, sizeof(f));
	veld_buf_init(&text, FORM_FILE_MAX);
	veld_buf_init(&def, FORM_DEF_MAX);
	errno = 0;
	rc = read_file(file, &text);
	if (rc == VELD_ETOOBIG) {
		fail("form '%s' is larger than %d bytes", shown, FORM_FILE_MAX);
		goto out;
	}
	if (rc < 0) {
		fail("cannot read form '%s': %s", shown,
		     rc == VELD_EIO && errno ? strerror(errno)
					     : veld_strerror(rc));
		goto out;
	}

	if ((status = admin_open(a)) != 0)
		goto out;
	status = EXIT_FAIL;
	rc = veld_store_json_walk(a->st, (const char *)text.data, text.len,
				  form_node, &f);
	if (rc == VELD_EINVAL) {
		fail("form '%s' is not valid JSON", shown);
		goto out;
	}
	if (rc == VELD_EDEPTH) {
		fail("form '%s': JSON nested too deeply", shown);
		goto out;
	}
	if (rc < 0 || f.rc < 0) {
		fail("cannot read form '%s': %s", shown,
		     error_text(a, rc < 0 ? rc : f.rc));
		goto out;
	}
	if (f.err[0] || check_form(&f)) {
		fail("form '%s': %s", shown, f.err);
		goto out;
	}
	rc = pack_def(&f, &def);
	if (rc == VELD_EBODYSIZE) {
		fail("form '%s' is too large for one op (the packed definition "
		     "must stay under %d bytes)",
		     shown, FORM_DEF_MAX);
		goto out;
	}
	if (rc < 0) {
		fail("cannot pack form '%s': %s", shown, veld_strerror(rc));
		goto out;
	}

	memset(&l, 0, sizeof(l));
	l.name = f.name;
	l.def = &def;
	rc = veld_store_forms(a->st, lookup_form, &l);
	if (rc < 0) {
		fail("cannot read the forms: %s", error_text(a, rc));
		goto out;
	}
	to_hex(id_hex, sizeof(id_hex), l.id, VELD_RECORD_LEN);
	if (l.found > 1)
		fprintf(stderr,
			"veldd: warning: %d forms are named '%s'; updating "
			"the one with id %s\n",
			l.found, f.name, id_hex);
	if (l.found && l.same) {
		printf("form '%s' is unchanged\n", f.name);
		printf("form id: %s\n", id_hex);
		status = 0;
		goto out;
	}
	rc = veld_replica_form(a->r, l.id, !l.found, f.name, def.data, def.len,
			       op);
	if (rc == VELD_EBODYSIZE) { /* the op's body around def */
		fail("form '%s' is too large for one op (the packed definition "
		     "must stay under %d bytes)",
		     shown, FORM_DEF_MAX);
		goto out;
	}
	if (rc < 0) {
		fail("cannot write form '%s': %s", f.name, error_text(a, rc));
		goto out;
	}
	to_hex(id_hex, sizeof(id_hex), l.id, VELD_RECORD_LEN);
	to_hex(op_hex, sizeof(op_hex), op, VELD_HASH_LEN);
	printf("%s form '%s' (%zu field%s)\n", l.found ? "updated" : "created",
	       f.name, f.nfields, f.nfields == 1 ? "" : "s");
	printf("form id: %s\n", id_hex);
	printf("op: %s\n", op_hex);
	status = 0;
out:
	form_release(&f);
	veld_buf_release(&def);
	veld_buf_release(&text);
	return status;
}

/* --- state-hash --- */

static int cmd_state_hash(struct admin *a)
{
	uint8_t h[VELD_HASH_LEN];
	char hex[2 * VELD_HASH_LEN + 1];
	int rc;

	if ((rc = admin_open(a)) != 0)
		return rc;
	rc = veld_replica_state_hash(a->r, h);
	if (rc < 0)
		return fail("cannot compute the state hash: %s",
			    error_text(a, rc));
	to_hex(hex, sizeof(hex), h, VELD_HASH_LEN);
	printf("%s\n", hex);
	return 0;
}

/*
 * GDPR erasure of one record: the server signs an erase op (the root may
 * write every kind).  Every replica drops the bodies of the record's ops
 * when the op reaches it, and of any op of it that arrives later.
 */
static int cmd_erase(struct admin *a)
{
	uint8_t id[VELD_RECORD_LEN], op[VELD_HASH_LEN];
	char hex[2 * VELD_HASH_LEN + 1];
	int rc;

	if (strlen(a->o.arg) < 4)
		return fail("give at least 4 hex digits of the record id");
	if ((rc = admin_open(a)) != 0)
		return rc;
	rc = veld_store_record_prefix(a->st, a->o.arg, id);
	if (rc == VELD_ENOTFOUND)
		return fail("no record '%s'", a->o.arg);
	if (rc == VELD_EAMBIGUOUS)
		return fail("'%s' matches more than one record; give more of "
			    "its id",
			    a->o.arg);
	if (rc < 0)
		return fail("bad record id '%s': %s", a->o.arg,
			    error_text(a, rc));
	rc = veld_replica_erase(a->r, id, op);
	if (rc < 0)
		return fail("cannot erase: %s", error_text(a, rc));
	to_hex(hex, sizeof(hex), id, VELD_RECORD_LEN);
	printf("erased record %s\n", hex);
	/* The erase's own commit scrubbed only if veldd let it at once. */
	if (veld_store_scrub(veld_replica_store(a->r), 5000) < 0)
		fprintf(stderr,
			"veldd: the erasure is done, but older copies of the "
			"record's pages stay in '%s-wal' until veldd "
			"checkpoints it or stops\n",
			a->db_path);
	to_hex(hex, sizeof(hex), op, VELD_HASH_LEN);
	printf("op: %s\n", hex);
	return 0;
}

/* --- backup, verify, restore (backup.c) --- */

static int cmd_backup(struct admin *a)
{
	int rc = admin_open_ro(a);

	if (rc)
		return rc;
	return veld_backup_write(a->ro, a->db_path, a->dd.key.pk, a->o.arg,
				 a->o.force);
}

/*
 * The records of one form to stdout (the dashboard's export, web.c, is
 * the same text).  The operator who runs this can read the whole store
 * anyway, but an export is a file that travels: personal fields are left
 * out unless --personal asks for them (docs/api.md, Exports).
 */
static int cmd_export(struct admin *a)
{
	const char *how = a->o.format ? a->o.format : "csv";
	enum veld_export_format format;
	struct veld_buf out;
	int rc;

	if (!a->o.form)
		return usage_error(a->cmd, "option '--form' is required");
	if (!strcmp(how, "csv"))
		format = VELD_EXPORT_CSV;
	else if (!strcmp(how, "csv-excel"))
		format = VELD_EXPORT_CSV_EXCEL;
	else if (!strcmp(how, "json"))
		format = VELD_EXPORT_JSON;
	else
		return usage_error(a->cmd,
				   "bad format '%s' (want csv, csv-excel or "
				   "json)",
				   how);
	if ((rc = admin_open_ro(a)) != 0)
		return rc;
	warn_unsettled(a);
	veld_buf_init(&out, EXPORT_MAX);
	rc = veld_store_dash_export(a->ro, a->o.form, format, a->o.personal,
				    &out);
	if (rc == VELD_ENOTFOUND) {
		veld_buf_release(&out);
		return fail("no form '%s' (veldd form import defines one)",
			    a->o.form);
	}
	if (rc < 0) {
		veld_buf_release(&out);
		return fail("cannot export form '%s': %s", a->o.form,
			    error_text(a, rc));
	}
	if (out.len && (fwrite(out.data, 1, out.len, stdout) != out.len ||
			(format == VELD_EXPORT_JSON && putchar('\n') == EOF)))
		rc = -1;
	if (fflush(stdout) != 0)
		rc = -1;
	veld_buf_release(&out);
	if (rc < 0)
		return fail("cannot write the export: %s", strerror(errno));
	return 0;
}

static int cmd_verify(struct admin *a)
{
	int rc = admin_open_ro(a);

	if (rc)
		return rc;
	return veld_backup_verify(a->ro, a->db_path, a->dd.key.pk, a->o.json);
}

static int cmd_restore(struct admin *a)
{
	int rc = admin_open_dir(a);

	if (rc)
		return rc;
	return veld_backup_restore(a->o.data_dir, &a->dd.key, a->o.arg,
				   a->o.ops_from, a->o.force);
}

/* --- the commands --- */

static const struct command commands[] = {
	{
		"code",
		"new",
		OPT_ROLE | OPT_NAME | OPT_AREA | OPT_EXPIRES,
		NULL,
		cmd_code_new,
		"code new --role field|coordinator --name NAME [--area AREA]\n"
		"                      [--expires DURATION] [--data DIR]",
		"Issue a one-time enrolment code.  The device that enrols with "
		"it joins\n"
		"with this role, name and area.  The code is the last line of "
		"output;\n"
		"only its hash is stored.\n"
		"\n"
		"  --role ROLE         field (writes records in its area) or "
		"coordinator\n"
		"  --name NAME         the device's name, 1 to 64 bytes "
		"(e.g. Anna)\n"
		"  --area AREA         the area it works in, 1 to 64 bytes\n"
		"  --expires DURATION  how long the code is good: 30m, 24h, "
		"7d ...\n"
		"                      (default " CODE_EXPIRES_DEFAULT
		", at most 30d)\n" DATA_HELP,
	},
	{
		"devices",
		NULL,
		OPT_JSON,
		NULL,
		cmd_devices,
		"devices [--json] [--data DIR]",
		"List the device registry: key, role, name, area, when "
		"enrolled and\n"
		"revoked (UTC), and the head of each device's chain.\n"
		"\n"
		"  --json              a JSON array of objects instead of a "
		"table\n" DATA_HELP,
	},
	{
		"revoke",
		NULL,
		0,
		"DEVICE",
		cmd_revoke,
		"revoke DEVICE [--data DIR]",
		"Revoke a device: it may write nothing from now on, and is "
		"told so when\n"
		"it next syncs.  DEVICE is its key, at least 8 hex digits of "
		"it, or its\n"
		"name if no other device has that name.\n"
		"\n" DATA_HELP,
	},
	{
		"form",
		"import",
		0,
		"FILE",
		cmd_form_import,
		"form import FILE [--data DIR]",
		"Define a form, or change the form of the same name, from a "
		"JSON file\n"
		"(\"-\" reads stdin).  The format is in docs/forms.md; "
		"examples are in\n"
		"deploy/forms/.\n"
		"\n" DATA_HELP,
	},
	{
		"state-hash",
		NULL,
		0,
		NULL,
		cmd_state_hash,
		"state-hash [--data DIR]",
		"Print the hash of the server's state (records, forms, "
		"registry).  Two\n"
		"replicas holding the same ops print the same hash.\n"
		"\n" DATA_HELP,
	},
	{
		"erase",
		NULL,
		0,
		"RECORD",
		cmd_erase,
		"erase RECORD [--data DIR]",
		"Erase a record's personal data everywhere (a GDPR erasure "
		"request):\n"
		"signs an erase op; every replica drops the record's values "
		"and note\n"
		"texts when it arrives, also those of ops still travelling.  "
		"The signed\n"
		"history (who, when) stays.  RECORD is its id or at least 4 "
		"hex digits\n"
		"of it.  Old backups still hold the data: see "
		"docs/operations.md.\n"
		"\n" DATA_HELP,
	},
	{
		"backup",
		NULL,
		OPT_FORCE,
		"FILE",
		cmd_backup,
		"backup FILE [--force] [--data DIR]",
		"Copy the server's store to FILE while veldd serves: one "
		"consistent\n"
		"snapshot (SQLite's online backup), written to FILE.tmp, "
		"checked\n"
		"(integrity_check, then everything 'veldd verify' checks) and "
		"only then\n"
		"renamed to FILE.  The server key is not in it: keep a copy of "
		"DIR/server.key\n"
		"apart, made once, offline.\n"
		"\n"
		"  --force             replace FILE if it exists\n" DATA_HELP,
	},
	{
		"verify",
		NULL,
		OPT_JSON,
		NULL,
		cmd_verify,
		"verify [--json] [--data DIR]",
		"Re-check the whole store without trusting it: every op's "
		"header, id,\n"
		"signature and body, every author's chain, the registry "
		"rules, and that\n"
		"the state is what the ops fold into.  Reads one snapshot and "
		"never\n"
		"writes; works while veldd serves.  Exit status 1 if anything "
		"is wrong.\n"
		"\n"
		"  --json              one JSON object instead of the "
		"summary\n" DATA_HELP,
	},
	{
		"export",
		NULL,
		OPT_FORM | OPT_FORMAT | OPT_PERSONAL,
		NULL,
		cmd_export,
		"export --form FORM [--format csv|csv-excel|json] [--personal] "
		"[--data DIR]",
		"Write every record of FORM to stdout: CSV (RFC 4180, UTF-8, "
		"the default),\n"
		"csv-excel (';'-separated with a UTF-8 BOM and decimal commas, "
		"for Dutch\n"
		"Excel) or JSON.  Erased records export as erased.  Reads one "
		"snapshot;\n"
		"works while veldd serves.\n"
		"\n"
		"  --form FORM         the form's name\n"
		"  --format FORMAT     csv (default), csv-excel or json\n"
		"  --personal          include the fields the form marks "
		"personal (left\n"
		"                      out by default: an export is a file "
		"that travels)\n" DATA_HELP,
	},
	{
		"restore",
		NULL,
		OPT_FORCE | OPT_OPS_FROM,
		"FILE",
		cmd_restore,
		"restore FILE [--ops-from DB] [--force] [--data DIR]",
		"Make the backup FILE the server's store (veldd must be "
		"stopped).  FILE\n"
		"is verified under DIR/server.key first; the store it "
		"replaces is kept\n"
		"as DIR/veld.db.replaced-TIME.  Devices send back their own "
		"ops that the\n"
		"backup lacks when they next sync.\n"
		"\n"
		"  --ops-from DB       also take every op of another replica's "
		"store (a\n"
		"                      coordinator device's veld.db): the "
		"only way back\n"
		"                      for ops this server signed after the "
		"backup\n"
		"  --force             restore FILE even if it does not "
		"verify (but never\n"
		"                      one made under another server "
		"key)\n" DATA_HELP,
	},
};

#define NCOMMANDS (sizeof(commands) / sizeof(commands[0]))

static const struct command *find_command(const char *name)
{
	for (size_t i = 0; name && i < NCOMMANDS; i++)
		if (!strcmp(commands[i].name, name))
			return &commands[i];
	return NULL;
}

int veld_admin_is_command(const char *cmd)
{
	return find_command(cmd) != NULL;
}

void veld_admin_usage(FILE *f)
{
	for (size_t i = 0; i < NCOMMANDS; i++)
		fprintf(f, "       veldd %s\n", commands[i].synopsis);
}

int veld_admin_main(int argc, char **argv)
{
	const struct command *c = argc > 0 ? find_command(argv[0]) : NULL;
	struct admin a;
	int rc;

	if (!c) {
		fprintf(stderr, "veldd: unknown command '%s'\n",
			argc > 0 ? argv[0] : "");
		return EXIT_USAGE;
	}
	memset(&a, 0, sizeof(a));
	a.cmd = c;
	rc = parse(c, argc, argv, &a.o);
	if (rc == ADMIN_HELP)
		return 0;
	if (rc)
		return rc;
	rc = c->run(&a);
	admin_close(&a);
	return rc;
}
