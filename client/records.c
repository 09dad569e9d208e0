/*
 * records.c - the record commands of veld; see records.h.
 *
 * Every command opens the device (open_device, which also says what to do
 * when the device is not set up), does one thing through the replica or
 * its store, and closes it again.  Writes go through veld_replica_put /
 * _delete / _note, so each is one signed op in one transaction.
 *
 * Text output is for people: times are local, ids and keys are short, and
 * text that came from other devices is printed with control characters
 * replaced, so a value cannot drive the terminal.  --json output is built
 * by the store with SQLite's JSON functions and is exact.
 *
 * Writes follow the record's form (check_fields): field names, types,
 * choices, required fields and consent are checked and the typed text
 * becomes the value of the field's type before anything is written.  A
 * new record with fields missing on a terminal goes to interactive entry
 * (entry.c).
 */
#include "records.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include <unistd.h>

#include "canon.h"
#include "entry.h"
#include "err.h"
#include "form.h"
#include "hlc.h"
#include "i18n.h"
#include "merge.h"
#include "replica.h"
#include "store.h"

enum { EXIT_OK = 0, EXIT_FAIL = 1, EXIT_USAGE = 2 };

#define SHORT_ID 8  /* hex digits of a record id in lists */
#define SHORT_KEY 8 /* hex digits of an author key */
#define HINT_INIT N_("veld: run 'veld init --server URL --code CODE' first\n")

/* --- output helpers --- */

/* Print n bytes of text from a replica, control characters as spaces. */
static void put_safe(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		putchar(c < 0x20 || c == 0x7f ? ' ' : c);
	}
}

/* Print s (NULL: "-") padded to width columns (UTF-8 aware). */
static void put_cell(const char *s, int width)
{
	int cols = 0;

	if (!s || !*s)
		s = "-";
	put_safe(s, strlen(s));
	for (const char *p = s; *p; p++)
		cols += ((unsigned char)*p & 0xc0) != 0x80;
	for (; cols < width; cols++)
		putchar(' ');
}

static void put_hex(const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		printf("%02x", p[i]);
}

/* An hlc as local time. */
static void fmt_time(uint64_t hlc, int seconds, char *out, size_t n)
{
	time_t t = (time_t)(VELD_HLC_MS(hlc) / 1000);
	struct tm tm;

	if (!localtime_r(&t, &tm) ||
	    !strftime(out, n, seconds ? "%Y-%m-%d %H:%M:%S" : "%Y-%m-%d %H:%M",
		      &tm))
		snprintf(out, n, "?");
}

/* A field value (canonical msgpack; NULL = erased) for people. */
static void put_value(const uint8_t *mp, size_t len)
{
	msgpack_unpacked u;
	char text[256];

	if (!mp) {
		fputs(_("[erased]"), stdout);
		return;
	}
	msgpack_unpacked_init(&u);
	if (veld_canon_decode(mp, len, &u) != 0) {
		fputs(_("[unreadable]"), stdout);
	} else if (u.data.type == MSGPACK_OBJECT_STR) {
		put_safe(u.data.via.str.ptr, u.data.via.str.size);
	} else if (u.data.type == MSGPACK_OBJECT_NIL) {
		fputs(_("(cleared)"), stdout);
	} else {
		/* Numbers, yes/no, lists: msgpack-c's own rendering. */
		int n = msgpack_object_print_buffer(text, sizeof(text), u.data);
		if (n > 0)
			put_safe(text, strnlen(text, sizeof(text)));
	}
	msgpack_unpacked_destroy(&u);
}

/* --- the device --- */

/* Open the device in h; on failure, say what is wrong and what to do. */
static int open_device(struct veld_device *d, const struct veld_home *h)
{
	int rc = veld_device_open(d, h);

	if (rc == 0)
		return 0;
	if (rc == VELD_EIO && errno == ENOENT) {
		fprintf(stderr,
			_("veld: this device is not set up ('%s' has no "
			  "device key)\n"),
			h->dir);
		fputs(_(HINT_INIT), stderr);
	} else if (rc == VELD_ENOTENROLLED) {
		fprintf(stderr, _("veld: this device is not enrolled with a "
				  "server yet\n"));
		fputs(_(HINT_INIT), stderr);
	} else if (rc == VELD_EREVOKED) {
		fprintf(stderr,
			_("veld: this device has been revoked; its copy "
			  "of residents' data was removed (ask a "
			  "coordinator for a new enrolment)\n"));
	} else if (rc == VELD_EKEYFILE) {
		fprintf(stderr, _("veld: a key file in '%s' is damaged (%s)\n"),
			h->dir, veld_strerror(rc));
	} else if (rc == VELD_EIO) {
		fprintf(stderr,
			_("veld: cannot read the device files in '%s': "
			  "%s\n"),
			h->dir, strerror(errno));
	} else {
		fprintf(stderr,
			_("veld: cannot open the replica '%s': %s (%s)\n"),
			h->db_path, veld_strerror(rc), veld_err_name(rc));
	}
	return EXIT_FAIL;
}

static struct veld_store *store_of(struct veld_device *d)
{
	return veld_replica_store(d->replica);
}

/* Report a failed library call on the open device. */
static int fail(struct veld_device *d, const char *what, int rc)
{
	fprintf(stderr, _("veld: %s: %s (%s)\n"), what, veld_strerror(rc),
		veld_err_name(rc));
	if (rc == VELD_ESTORE)
		fprintf(stderr, _("veld: sqlite: %s\n"),
			veld_store_errmsg(store_of(d)));
	return EXIT_FAIL;
}

/* This device's registry entry, if any. */
struct self {
	const uint8_t *pk;
	int found, revoked;
};

static int self_one(void *ctx, const struct veld_device_row *row)
{
	struct self *s = ctx;

	if (memcmp(row->key, s->pk, VELD_PK_LEN) == 0) {
		s->found = 1;
		s->revoked = row->revoked != 0;
	}
	return 0;
}

/*
 * Writes need this device in the registry: an op of an author the replica
 * does not know would only be held, never shown.
 */
static int check_can_write(struct veld_device *d)
{
	struct self me = {d->key.pk, 0, 0};
	int rc = veld_store_devices(store_of(d), self_one, &me);

	if (rc < 0)
		return fail(d, _("cannot read the device registry"), rc);
	if (!me.found) {
		fprintf(stderr,
			_("veld: this device's enrolment has not reached "
			  "its replica yet\n"
			  "veld: run 'veld sync' to fetch it\n"));
		return EXIT_FAIL;
	}
	if (me.revoked) {
		fprintf(stderr, _("veld: this device was revoked by the "
				  "coordinator; it can no longer write\n"));
		return EXIT_FAIL;
	}
	return EXIT_OK;
}

/* --- record ids --- */

static int is_hex(const char *s)
{
	for (; *s; s++)
		if (!strchr("0123456789abcdefABCDEF", *s))
			return 0;
	return 1;
}

struct candidates {
	char prefix[2 * VELD_RECORD_LEN + 1];
	int shown;
};

static int candidate_one(void *ctx, const uint8_t *id)
{
	struct candidates *c = ctx;
	char hex[2 * VELD_RECORD_LEN + 1];

	sodium_bin2hex(hex, sizeof(hex), id, VELD_RECORD_LEN);
	if (strncmp(hex, c->prefix, strlen(c->prefix)) != 0)
		return 0;
	if (c->shown++ == 10) {
		fprintf(stderr, _("  ...\n"));
		return 1;
	}
	fprintf(stderr, _("  %s\n"), hex);
	return 0;
}

/* Resolve a full id or unambiguous prefix; returns an exit status. */
static int resolve_id(struct veld_device *d, const char *arg,
		      uint8_t id[VELD_RECORD_LEN])
{
	size_t n = strlen(arg);
	struct candidates c = {{0}, 0};
	int rc;

	if (n < VELD_ID_PREFIX_MIN || n > 2 * VELD_RECORD_LEN || !is_hex(arg)) {
		fprintf(stderr,
			_("veld: '%s' is not a record id (%d to %d hex "
			  "digits)\n"),
			arg, VELD_ID_PREFIX_MIN, 2 * VELD_RECORD_LEN);
		return EXIT_USAGE;
	}
	rc = veld_store_record_prefix(store_of(d), arg, id);
	if (rc == VELD_ENOTFOUND) {
		fprintf(stderr, _("veld: no record with id '%s'\n"), arg);
		return EXIT_FAIL;
	}
	if (rc == VELD_EAMBIGUOUS) {
		fprintf(stderr,
			_("veld: record id '%s' is ambiguous; give more "
			  "digits of one of:\n"),
			arg);
		for (size_t i = 0; i < n; i++)
			c.prefix[i] = (char)(arg[i] | 0x20); /* lower case */
		if (veld_store_record_ids(store_of(d), candidate_one, &c) < 0)
			fprintf(stderr, _("  (cannot list them)\n"));
		return EXIT_FAIL;
	}
	if (rc < 0)
		return fail(d, _("cannot look up the record"), rc);
	return EXIT_OK;
}

/* --- fields --- */

/* Is s valid UTF-8?  Asks the canonical decoder, which every op passes. */
static int utf8_ok(const char *s)
{
	struct veld_buf b;
	msgpack_packer pk;
	msgpack_unpacked u;
	int rc;

	veld_buf_init(&b, VELD_STR_MAX + 8);
	veld_buf_packer_init(&pk, &b);
	msgpack_pack_str_with_body(&pk, s, strlen(s));
	msgpack_unpacked_init(&u);
	rc = b.err ? b.err : veld_canon_decode(b.data, b.len, &u);
	msgpack_unpacked_destroy(&u);
	veld_buf_release(&b);
	return rc != VELD_EUTF8;
}

/*
 * Parse field=value arguments into f (n entries, caller's), splitting each
 * argument in place.  An empty value clears the field (nil).  Returns an
 * exit status; on error nothing has been written anywhere.
 */
static int parse_fields(int n, char **argv, struct veld_field *f)
{
	if (n > VELD_ITEMS_MAX) {
		fprintf(stderr, _("veld: too many fields (at most %d)\n"),
			VELD_ITEMS_MAX);
		return EXIT_USAGE;
	}
	for (int i = 0; i < n; i++) {
		char *eq = strchr(argv[i], '=');

		if (!eq) {
			fprintf(stderr,
				_("veld: '%s' is not field=value (use '%s=' "
				  "to clear a field)\n"),
				argv[i], argv[i]);
			return EXIT_USAGE;
		}
		if (eq == argv[i]) {
			fprintf(stderr,
				_("veld: '%s' has an empty field name\n"),
				argv[i]);
			return EXIT_USAGE;
		}
		*eq = 0;
		if (eq - argv[i] > VELD_NAME_MAX) {
			fprintf(stderr,
				_("veld: field name '%s' is longer than %d "
				  "bytes\n"),
				argv[i], VELD_NAME_MAX);
			return EXIT_USAGE;
		}
		if (strlen(eq + 1) > VELD_STR_MAX) {
			fprintf(stderr,
				_("veld: the value of field '%s' is longer "
				  "than %d bytes\n"),
				argv[i], VELD_STR_MAX);
			return EXIT_USAGE;
		}
		if (!utf8_ok(argv[i]) || !utf8_ok(eq + 1)) {
			fprintf(stderr,
				_("veld: field '%s' is not valid UTF-8 text\n"),
				argv[i]);
			return EXIT_USAGE;
		}
		for (int j = 0; j < i; j++) {
			if (strcmp(f[j].name, argv[i]) == 0) {
				fprintf(stderr,
					_("veld: field '%s' is given twice\n"),
					argv[i]);
				return EXIT_USAGE;
			}
		}
		memset(&f[i], 0, sizeof(f[i]));
		f[i].name = argv[i];
		f[i].text = eq[1] ? eq + 1 : NULL;
	}
	return EXIT_OK;
}

/* The known form names, for messages. */
struct form_names {
	char list[512];
	int count, found;
	const char *want;
};

static int form_one(void *ctx, const struct veld_form_row *row)
{
	struct form_names *fn = ctx;
	size_t used = strlen(fn->list);

	fn->count++;
	if (fn->want && strcmp(row->name, fn->want) == 0)
		fn->found = 1;
	snprintf(fn->list + used, sizeof(fn->list) - used, "%s%s",
		 used ? ", " : "", row->name);
	return 0;
}

/*
 * The form a write must follow: *form is the definition when the replica
 * knows it, NULL when not (no form has been published yet, or an old
 * record's form was withdrawn: then values are stored as text, unchecked).
 * A new record's form must be known once any form is.  Returns an exit
 * status.
 */
static int load_form(struct veld_device *d, const char *name, int create,
		     struct veld_form **form)
{
	struct form_names names;
	int rc;

	*form = NULL;
	memset(&names, 0, sizeof(names));
	names.want = name;
	rc = veld_store_forms(store_of(d), form_one, &names);
	if (rc < 0)
		return fail(d, _("cannot read the forms"), rc);
	if (create && name && names.count > 0 && !names.found) {
		fprintf(stderr, _("veld: unknown form '%s'; known forms: %s\n"),
			name, names.list);
		return EXIT_USAGE;
	}
	if (!name || !names.found)
		return EXIT_OK;
	rc = veld_form_load(store_of(d), name, form);
	if (rc < 0)
		return fail(d, _("cannot read the form"), rc);
	return EXIT_OK;
}

/* Typed values of a write: one buffer per argument field. */
struct typed {
	struct veld_buf *v;
	size_t n;
};

static void typed_release(struct typed *t)
{
	for (size_t i = 0; t->v && i < t->n; i++)
		veld_buf_release(&t->v[i]);
	free(t->v);
	t->v = NULL;
}

/* Is the value in f nil (cleared)? */
static int field_nil(const struct veld_field *f)
{
	return !f->text && (!f->mp || (f->mp_len == 1 && f->mp[0] == 0xc0));
}

/* The current display value of one field of a record. */
struct cur_value {
	const char *field;
	int is_true, has;
};

static int cur_value_one(void *ctx, const struct veld_value_row *row)
{
	struct cur_value *cv = ctx;

	if (row->winner && strcmp(row->field, cv->field) == 0) {
		cv->has = row->value &&
			  !(row->value_len == 1 && row->value[0] == 0xc0);
		cv->is_true = veld_value_is_true(row->value, row->value_len);
	}
	return 0;
}

/*
 * check_fields - everything the form says about the fields of a write,
 * checked before anything is written: each field must be one of the form,
 * each value of the field's type (the text is turned into that type here,
 * into t), a required field may not be cleared, a new record needs its
 * required fields, and personal fields need consent.  Returns an exit
 * status; on EXIT_USAGE a message naming the field is on stderr.
 * require: check that a new record has its required fields.
 */
static int check_fields(struct veld_device *d, const struct veld_form *form,
			const uint8_t *record, struct veld_field *f, size_t n,
			struct typed *t, int require)
{
	char why[2048], list[2048];
	int consent = 0, consent_given = 0, at_home_false = 0, rc;

	if (!form || form->n == 0)
		return EXIT_OK; /* unknown or free form: values as text */
	t->n = n;
	t->v = calloc(n ? n : 1, sizeof(*t->v));
	if (!t->v)
		return fail(d, _("out of memory"), VELD_ENOMEM);
	for (size_t i = 0; i < n; i++) {
		int k = veld_form_find(form, f[i].name);
		const struct veld_form_field *fl;

		veld_buf_init(&t->v[i], VELD_BODY_MAX);
		if (k < 0) {
			veld_form_field_list(form, list, sizeof(list));
			fprintf(stderr,
				_("veld: form '%s' has no field '%s'; its "
				  "fields are: %s\n"),
				form->name, f[i].name, list);
			return EXIT_USAGE;
		}
		fl = &form->fields[k];
		if (field_nil(&f[i])) {
			if (fl->required) {
				fprintf(stderr,
					_("veld: field '%s' is required; it "
					  "cannot be left empty\n"),
					f[i].name);
				return EXIT_USAGE;
			}
			continue;
		}
		if (f[i].text) {
			if (veld_form_parse(fl, f[i].text, 0, &t->v[i], why,
					    sizeof(why)) < 0) {
				fprintf(stderr, _("veld: %s\n"), why);
				return EXIT_USAGE;
			}
			f[i].text = NULL;
			f[i].mp = t->v[i].data;
			f[i].mp_len = t->v[i].len;
		}
		if (k == form->consent) {
			consent_given = 1;
			consent = veld_value_is_true(f[i].mp, f[i].mp_len);
		}
		if (k == form->at_home &&
		    !veld_value_is_true(f[i].mp, f[i].mp_len))
			at_home_false = 1;
	}
	if (form->consent >= 0 && !consent_given && record) {
		struct cur_value cv = {form->fields[form->consent].name, 0, 0};
		rc = veld_store_values(store_of(d), record, cur_value_one, &cv);
		if (rc < 0)
			return fail(d, _("cannot read the record"), rc);
		consent = cv.is_true;
	}
	for (size_t i = 0; i < n && form->consent >= 0; i++) {
		int k = veld_form_find(form, f[i].name);
		if (form->fields[k].personal && !field_nil(&f[i]) && !consent) {
			fprintf(stderr,
				_("veld: field '%s' holds personal data and "
				  "may only be filled with consent (%s=yes)\n"),
				f[i].name, form->fields[form->consent].name);
			return EXIT_USAGE;
		}
	}
	if (record || !require)
		return EXIT_OK;
	/* A new record: its required fields (nobody home: only those up to
	 * the "at_home" question). */
	for (size_t k = 0; k < form->n; k++) {
		const struct veld_form_field *fl = &form->fields[k];
		int given = 0;

		if (!fl->required ||
		    (at_home_false && (int)k > form->at_home) ||
		    (fl->personal && form->consent >= 0 && !consent))
			continue;
		for (size_t i = 0; i < n && !given; i++)
			given = strcmp(f[i].name, fl->name) == 0;
		if (!given) {
			fprintf(stderr,
				_("veld: required field '%s' (%s) is "
				  "missing\n"),
				fl->name, fl->label ? fl->label : fl->name);
			if (fl->type == VELD_FT_CHOICE ||
			    fl->type == VELD_FT_MULTI) {
				veld_form_choice_list(fl, list, sizeof(list));
				fprintf(stderr, _("veld: choose one of: %s\n"),
					list);
			}
			return EXIT_USAGE;
		}
	}
	return EXIT_OK;
}

/* The record's form, for check_fields on an edit. */
struct rec_form {
	char form[VELD_NAME_MAX + 1];
	int has;
};

static int rec_form_one(void *ctx, const struct veld_record_row *row)
{
	struct rec_form *rf = ctx;

	if (row->form) {
		snprintf(rf->form, sizeof(rf->form), "%s", row->form);
		rf->has = 1;
	}
	return 0;
}

/* The device's area (meta "area"), if set and valid. */
static int device_area(struct veld_device *d, char area[VELD_NAME_MAX + 1])
{
	struct veld_buf b;
	int rc;

	veld_buf_init(&b, VELD_NAME_MAX + 1);
	rc = veld_store_meta_get(store_of(d), "area", &b);
	if (rc > 0 && b.len > 0 && b.len <= VELD_NAME_MAX &&
	    !memchr(b.data, 0, b.len)) {
		memcpy(area, b.data, b.len);
		area[b.len] = 0;
		rc = 1;
	} else if (rc >= 0 || rc == VELD_ETOOBIG) {
		rc = 0;
	}
	veld_buf_release(&b);
	return rc;
}

/*
 * The start every writing command shares: parse the field=value arguments
 * (argv[1..argc)) into *fields (caller frees; one slot per argument), open
 * the device, and check that it may write.  On EXIT_OK the device is open
 * and the caller closes it; otherwise nothing is left to release.
 */
static int begin_write(const struct veld_home *h, int argc, char **argv,
		       struct veld_field **fields, struct veld_device *d)
{
	struct veld_field *f = calloc(argc, sizeof(*f));
	int ex;

	if (!f) {
		fprintf(stderr, _("veld: out of memory\n"));
		return EXIT_FAIL;
	}
	ex = parse_fields(argc - 1, argv + 1, f);
	if (ex == EXIT_OK)
		ex = open_device(d, h);
	if (ex == EXIT_OK && (ex = check_can_write(d)) != EXIT_OK)
		veld_device_close(d);
	if (ex != EXIT_OK) {
		free(f);
		return ex;
	}
	*fields = f;
	return EXIT_OK;
}

/* --- writes --- */

/* Print a msgpack map built here as one JSON document (SQLite quotes). */
static int print_json_mp(struct veld_device *d, struct veld_buf *mp)
{
	struct veld_buf out;
	int rc;

	veld_buf_init(&out, 16 * 1024 * 1024);
	rc = mp->err ? mp->err
		     : veld_store_msgpack_json(store_of(d), mp->data, mp->len,
					       &out);
	if (rc == 0) {
		fwrite(out.data, 1, out.len, stdout);
		putchar('\n');
	}
	veld_buf_release(&out);
	return rc < 0 ? fail(d, _("cannot write JSON"), rc) : EXIT_OK;
}

static void pack_cstr(msgpack_packer *pk, const char *s)
{
	msgpack_pack_str_with_body(pk, s, strlen(s));
}

static void pack_hex(msgpack_packer *pk, const uint8_t *p, size_t n)
{
	char hex[2 * VELD_HASH_LEN + 1];

	sodium_bin2hex(hex, sizeof(hex), p, n);
	pack_cstr(pk, hex);
}

/* {"id": hex, "action": what} for the writing commands' --json. */
static int print_id_json(struct veld_device *d, const uint8_t *id,
			 const char *what)
{
	struct veld_buf b;
	msgpack_packer pk;
	int ex;

	veld_buf_init(&b, 4096);
	veld_buf_packer_init(&pk, &b);
	msgpack_pack_map(&pk, 2);
	pack_cstr(&pk, "id");
	pack_hex(&pk, id, VELD_RECORD_LEN);
	pack_cstr(&pk, "action");
	pack_cstr(&pk, what);
	ex = print_json_mp(d, &b);
	veld_buf_release(&b);
	return ex;
}

/* How many values a field of a record shows (2+: a conflict). */
struct conflict_count {
	const char *field;
	int values;
};

static int conflict_one(void *ctx, const struct veld_value_row *row)
{
	struct conflict_count *cc = ctx;

	cc->values += strcmp(row->field, cc->field) == 0;
	return 0;
}

/* Options of the writing commands, taken out of argv (kept in order). */
struct write_opts {
	int json, no_input, not_home;
};

static int take_write_opts(int *argc, char **argv, struct write_opts *o,
			   int allow_entry)
{
	int n = 0;

	memset(o, 0, sizeof(*o));
	for (int i = 0; i < *argc; i++) {
		if (strcmp(argv[i], "--json") == 0) {
			o->json = 1;
		} else if (allow_entry && strcmp(argv[i], "--no-input") == 0) {
			o->no_input = 1;
		} else if (allow_entry && strcmp(argv[i], "--not-home") == 0) {
			o->not_home = 1;
		} else if (strncmp(argv[i], "--", 2) == 0) {
			fprintf(stderr, _("veld: unknown option '%s'\n"),
				argv[i]);
			return EXIT_USAGE;
		} else {
			argv[n++] = argv[i];
		}
	}
	*argc = n;
	return EXIT_OK;
}

/*
 * Interactive entry for a new record: the fields given on the command
 * line are fixed (f[0..n), already typed), the rest is asked.  On SAVE,
 * *out / *out_n are the record's fields (caller frees *out; the values
 * point into vals, which the caller releases).
 */
static int run_entry(struct veld_device *d, const struct veld_form *form,
		     const struct veld_field *f, size_t n,
		     struct veld_buf *vals, struct veld_field **out,
		     size_t *out_n)
{
	unsigned char *fixed = calloc(form->n, 1);
	struct veld_entry e;
	struct veld_field *g;
	size_t m = 0;
	int rc;

	if (!fixed)
		return fail(d, _("out of memory"), VELD_ENOMEM);
	for (size_t i = 0; i < n; i++) {
		int k = veld_form_find(form, f[i].name);
		const uint8_t *nil = (const uint8_t *)"\xc0";
		fixed[k] = 1;
		if (veld_buf_append(&vals[k], f[i].mp ? f[i].mp : nil,
				    f[i].mp ? f[i].mp_len : 1) < 0) {
			free(fixed);
			return fail(d, _("out of memory"), VELD_ENOMEM);
		}
	}
	e.form = form;
	e.store = store_of(d);
	e.self = d->key.pk;
	e.vals = vals;
	e.fixed = fixed;
	e.in = stdin;
	e.out = isatty(STDOUT_FILENO) ? stdout : stderr;
	rc = veld_entry_run(&e);
	free(fixed);
	if (rc < 0)
		return fail(d, _("cannot keep the draft"), rc);
	if (rc == VELD_ENTRY_CANCEL)
		return EXIT_FAIL;
	g = calloc(form->n, sizeof(*g));
	if (!g)
		return fail(d, _("out of memory"), VELD_ENOMEM);
	/* Empty answers are not stored: a new record simply lacks them.
	 * Fields the form's rules leave out are dropped too. */
	for (size_t k = 0; k < form->n; k++) {
		const struct veld_buf *v = &vals[k];
		int at_home_no = form->at_home >= 0 && (int)k > form->at_home &&
				 vals[form->at_home].len &&
				 !veld_value_is_true(vals[form->at_home].data,
						     vals[form->at_home].len);
		int no_consent = form->fields[k].personal &&
				 form->consent >= 0 &&
				 !veld_value_is_true(vals[form->consent].data,
						     vals[form->consent].len);
		if (!v->len || (v->len == 1 && v->data[0] == 0xc0) ||
		    at_home_no || no_consent)
			continue;
		g[m].name = form->fields[k].name;
		g[m].mp = v->data;
		g[m].mp_len = v->len;
		m++;
	}
	*out = g;
	*out_n = m;
	return EXIT_OK;
}

/*
 * The fields of a new record given on the command line plus the form's
 * defaults for the fields not given (as Enter takes them in interactive
 * entry), except after "at_home" when nobody is home.  *out (caller frees)
 * borrows from f and form.
 */
static int add_defaults(const struct veld_form *form,
			const struct veld_field *f, size_t n,
			struct veld_field **out, size_t *out_n)
{
	struct veld_field *g = calloc(n + form->n + 1, sizeof(*g));
	int nobody_home = 0;
	size_t m = 0;

	if (!g)
		return VELD_ENOMEM;
	/* An empty value in a new record is no value: left out. */
	for (size_t i = 0; i < n; i++)
		if (!field_nil(&f[i]))
			g[m++] = f[i];
	for (size_t i = 0; i < n; i++)
		if (form->at_home >= 0 &&
		    strcmp(f[i].name, form->fields[form->at_home].name) == 0 &&
		    !veld_value_is_true(f[i].mp, f[i].mp_len))
			nobody_home = 1;
	for (size_t k = 0; k < form->n; k++) {
		int given = 0;
		if (!form->fields[k].def ||
		    (nobody_home && (int)k > form->at_home))
			continue;
		for (size_t i = 0; i < n && !given; i++)
			given = strcmp(f[i].name, form->fields[k].name) == 0;
		if (given)
			continue;
		g[m].name = form->fields[k].name;
		g[m].mp = form->fields[k].def;
		g[m].mp_len = form->fields[k].def_len;
		m++;
	}
	*out = g;
	*out_n = m;
	return 0;
}

/*
 * Does a new record with fields f lack a required field that has no
 * default?  The rules of check_fields: nothing after "at_home" when nobody
 * is home, no personal field without consent.
 */
static int missing_required(const struct veld_form *form,
			    const struct veld_field *f, size_t n)
{
	int nobody_home = 0, consent = 0;

	for (size_t i = 0; i < n; i++) {
		int k = veld_form_find(form, f[i].name);
		int yes = veld_value_is_true(f[i].mp, f[i].mp_len);
		if (k >= 0 && k == form->at_home && !yes && !field_nil(&f[i]))
			nobody_home = 1;
		if (k >= 0 && k == form->consent && yes)
			consent = 1;
	}
	for (size_t k = 0; k < form->n; k++) {
		const struct veld_form_field *fl = &form->fields[k];
		int given = 0;
		if (!fl->required || fl->def ||
		    (nobody_home && (int)k > form->at_home) ||
		    (fl->personal && form->consent >= 0 && !consent))
			continue;
		for (size_t i = 0; i < n && !given; i++)
			given = strcmp(f[i].name, fl->name) == 0;
		if (!given)
			return 1;
	}
	return 0;
}

/* After a new record: remember its street, forget the draft, count. */
static int64_t after_new(struct veld_device *d, const struct veld_form *form,
			 const struct veld_field *f, size_t n, int entered)
{
	int64_t today = -1;

	for (size_t i = 0; i < n; i++) {
		msgpack_unpacked u;
		if (strcmp(f[i].name, "street") != 0 || !f[i].mp)
			continue;
		msgpack_unpacked_init(&u);
		if (veld_canon_decode(f[i].mp, f[i].mp_len, &u) == 0 &&
		    u.data.type == MSGPACK_OBJECT_STR &&
		    veld_entry_remember_street(store_of(d), u.data.via.str.ptr,
					       u.data.via.str.size) < 0)
			fprintf(stderr,
				_("veld: cannot remember the street\n"));
		msgpack_unpacked_destroy(&u);
	}
	if (entered && form &&
	    veld_entry_draft_clear(store_of(d), form->name) < 0)
		fprintf(stderr, _("veld: cannot remove the draft\n"));
	if (veld_entry_today(store_of(d), d->key.pk, &today) < 0)
		today = -1;
	return today;
}

int veld_records_new(const struct veld_home *h, int argc, char **argv)
{
	struct veld_device d;
	struct veld_field *f, *g = NULL, *use;
	struct veld_form *form = NULL;
	struct veld_buf *vals = NULL;
	struct typed t = {NULL, 0}, t2 = {NULL, 0};
	struct write_opts o;
	uint8_t id[VELD_RECORD_LEN];
	char area[VELD_NAME_MAX + 1];
	const char *formname;
	char *not_home_arg = NULL;
	size_t n, use_n;
	int64_t today;
	int ex, rc, interactive = 0;

	if ((ex = take_write_opts(&argc, argv, &o, 1)) != EXIT_OK)
		return ex;
	if (argc < 1) {
		fprintf(stderr, _("usage: veld new FORM [field=value ...]\n"));
		return EXIT_USAGE;
	}
	formname = argv[0];
	if (!*formname || strlen(formname) > VELD_NAME_MAX ||
	    !utf8_ok(formname)) {
		fprintf(stderr,
			_("veld: '%s' is not a form name (1 to %d bytes of "
			  "UTF-8)\n"),
			formname, VELD_NAME_MAX);
		return EXIT_USAGE;
	}
	if (o.not_home) {
		/* The same as giving at_home=no (docs/forms.md). */
		char **v = malloc(((size_t)argc + 1) * sizeof(*v));
		not_home_arg = strdup("at_home=no");
		if (!v || !not_home_arg) {
			free(v);
			free(not_home_arg);
			return EXIT_FAIL;
		}
		memcpy(v, argv, (size_t)argc * sizeof(*v));
		v[argc++] = not_home_arg;
		argv = v;
	}
	if ((ex = begin_write(h, argc, argv, &f, &d)) != EXIT_OK)
		goto out_args;
	n = (size_t)argc - 1;
	ex = load_form(&d, formname, 1, &form);
	if (ex == EXIT_OK && o.not_home && (!form || form->at_home < 0)) {
		fprintf(stderr,
			_("veld: form '%s' has no yes/no field 'at_home'; "
			  "--not-home needs one\n"),
			formname);
		ex = EXIT_USAGE;
	}
	interactive = ex == EXIT_OK && form && form->n && !o.no_input &&
		      isatty(STDIN_FILENO);
	if (ex == EXIT_OK)
		ex = check_fields(&d, form, NULL, f, n, &t, 0);
	if (ex == EXIT_OK && n == 0 && !interactive) {
		fprintf(stderr, _("veld: no fields given (field=value ...)\n"));
		ex = EXIT_USAGE;
	}
	/* Everything required given (or defaulted): no questions. */
	if (ex == EXIT_OK && interactive && n > 0 &&
	    !missing_required(form, f, n))
		interactive = 0;
	use = f;
	use_n = n;
	if (ex == EXIT_OK && !interactive && form && form->n) {
		if ((rc = add_defaults(form, f, n, &g, &use_n)) < 0)
			ex = fail(&d, _("out of memory"), rc);
		use = g;
		if (ex == EXIT_OK)
			ex = check_fields(&d, form, NULL, use, use_n, &t2, 1);
	}
	if (ex == EXIT_OK && interactive) {
		vals = calloc(form->n, sizeof(*vals));
		if (!vals) {
			ex = fail(&d, _("out of memory"), VELD_ENOMEM);
		} else {
			for (size_t k = 0; k < form->n; k++)
				veld_buf_init(&vals[k], VELD_BODY_MAX);
			ex = run_entry(&d, form, f, n, vals, &g, &use_n);
			use = g;
		}
		if (ex == EXIT_OK)
			ex = check_fields(&d, form, NULL, use, use_n, &t2, 1);
	}
	if (ex == EXIT_OK) {
		rc = device_area(&d, area);
		if (rc < 0)
			ex = fail(&d, _("cannot read this device's area"), rc);
		else if ((rc = veld_replica_put(d.replica, id, 1, formname,
						rc ? area : NULL, use, use_n,
						NULL)) < 0)
			ex = fail(&d, _("cannot save the record"), rc);
	}
	if (ex == EXIT_OK) {
		today = after_new(&d, form, use, use_n, interactive);
		if (o.json) {
			struct veld_buf b;
			msgpack_packer pk;
			veld_buf_init(&b, 4096);
			veld_buf_packer_init(&pk, &b);
			msgpack_pack_map(&pk, 3);
			pack_cstr(&pk, "id");
			pack_hex(&pk, id, sizeof(id));
			pack_cstr(&pk, "form");
			pack_cstr(&pk, formname);
			pack_cstr(&pk, "today");
			msgpack_pack_int64(&pk, today);
			ex = print_json_mp(&d, &b);
			veld_buf_release(&b);
		} else {
			printf(_("saved a new '%s' record on this device"),
			       formname);
			if (today >= 0)
				printf(_(" (%lld today)"), (long long)today);
			putchar('\n');
			put_hex(id, sizeof(id));
			putchar('\n');
		}
	}
	typed_release(&t);
	typed_release(&t2);
	if (vals) {
		for (size_t k = 0; k < form->n; k++)
			veld_buf_release(&vals[k]);
		free(vals);
	}
	free(g);
	veld_form_free(form);
	veld_device_close(&d);
	free(f);
out_args:
	if (not_home_arg) {
		free(not_home_arg);
		free(argv);
	}
	return ex;
}

int veld_records_edit(const struct veld_home *h, int argc, char **argv)
{
	struct veld_device d;
	struct veld_field *f;
	struct veld_form *form = NULL;
	struct typed t = {NULL, 0};
	struct rec_form rf = {{0}, 0};
	struct write_opts o;
	uint8_t id[VELD_RECORD_LEN];
	int ex, rc;

	if ((ex = take_write_opts(&argc, argv, &o, 0)) != EXIT_OK)
		return ex;
	if (argc < 1) {
		fprintf(stderr, _("usage: veld edit ID field=value ...\n"));
		return EXIT_USAGE;
	}
	if (argc < 2) {
		fprintf(stderr, _("veld: no fields given (field=value ...)\n"));
		return EXIT_USAGE;
	}
	if ((ex = begin_write(h, argc, argv, &f, &d)) != EXIT_OK)
		return ex;
	ex = resolve_id(&d, argv[0], id);
	if (ex == EXIT_OK &&
	    (rc = veld_store_record(store_of(&d), id, rec_form_one, &rf)) < 0)
		ex = fail(&d, _("cannot read the record"), rc);
	if (ex == EXIT_OK)
		ex = load_form(&d, rf.has ? rf.form : NULL, 0, &form);
	if (ex == EXIT_OK)
		ex = check_fields(&d, form, id, f, (size_t)argc - 1, &t, 0);
	if (ex == EXIT_OK &&
	    (rc = veld_replica_put(d.replica, id, 0, NULL, NULL, f,
				   (size_t)argc - 1, NULL)) < 0)
		ex = fail(&d, _("cannot save the record"), rc);
	if (ex == EXIT_OK && o.json) {
		ex = print_id_json(&d, id, "edit");
	} else if (ex == EXIT_OK) {
		printf(ngettext("saved %d field of record ",
				"saved %d fields of record ", argc - 1),
		       argc - 1);
		put_hex(id, sizeof(id));
		putchar('\n');
	}
	typed_release(&t);
	veld_form_free(form);
	veld_device_close(&d);
	free(f);
	return ex;
}

/*
 * veld resolve ID FIELD VALUE: one value for a field in conflict.  The
 * write's pred is every value currently shown for the field (as for any
 * put), so once it has synced the conflict is gone on every device.
 */
int veld_records_resolve(const struct veld_home *h, int argc, char **argv)
{
	struct veld_device d;
	struct veld_field *f;
	struct veld_form *form = NULL;
	struct typed t = {NULL, 0};
	struct rec_form rf = {{0}, 0};
	struct write_opts o;
	struct conflict_count cc;
	uint8_t id[VELD_RECORD_LEN];
	char *arg = NULL, *args[2];
	int ex, rc;

	if ((ex = take_write_opts(&argc, argv, &o, 0)) != EXIT_OK)
		return ex;
	if (argc != 3) {
		fprintf(stderr, _("usage: veld resolve ID FIELD VALUE\n"));
		return EXIT_USAGE;
	}
	/* FIELD VALUE is field=value for the shared checks. */
	arg = malloc(strlen(argv[1]) + strlen(argv[2]) + 2);
	if (!arg)
		return EXIT_FAIL;
	if (strchr(argv[1], '=')) {
		fprintf(stderr, _("veld: '%s' is not a field name\n"), argv[1]);
		free(arg);
		return EXIT_USAGE;
	}
	snprintf(arg, strlen(argv[1]) + strlen(argv[2]) + 2, "%s=%s", argv[1],
		 argv[2]);
	args[0] = argv[0];
	args[1] = arg;
	if ((ex = begin_write(h, 2, args, &f, &d)) != EXIT_OK) {
		free(arg);
		return ex;
	}
	ex = resolve_id(&d, argv[0], id);
	if (ex == EXIT_OK &&
	    (rc = veld_store_record(store_of(&d), id, rec_form_one, &rf)) < 0)
		ex = fail(&d, _("cannot read the record"), rc);
	if (ex == EXIT_OK)
		ex = load_form(&d, rf.has ? rf.form : NULL, 0, &form);
	if (ex == EXIT_OK)
		ex = check_fields(&d, form, id, f, 1, &t, 0);
	memset(&cc, 0, sizeof(cc));
	cc.field = argv[1];
	if (ex == EXIT_OK &&
	    (rc = veld_store_values(store_of(&d), id, conflict_one, &cc)) < 0)
		ex = fail(&d, _("cannot read the record"), rc);
	if (ex == EXIT_OK && cc.values < 2) {
		fprintf(stderr,
			_("veld: field '%s' of this record is not in "
			  "conflict (%d value%s); use 'veld edit' to change "
			  "it\n"),
			argv[1], cc.values, cc.values == 1 ? "" : "s");
		ex = EXIT_FAIL;
	}
	if (ex == EXIT_OK && (rc = veld_replica_put(d.replica, id, 0, NULL,
						    NULL, f, 1, NULL)) < 0)
		ex = fail(&d, _("cannot save the record"), rc);
	if (ex == EXIT_OK && o.json) {
		ex = print_id_json(&d, id, "resolve");
	} else if (ex == EXIT_OK) {
		printf(_("resolved field '%s' (%d values, now one) of record "),
		       argv[1], cc.values);
		put_hex(id, sizeof(id));
		putchar('\n');
	}
	typed_release(&t);
	veld_form_free(form);
	veld_device_close(&d);
	free(f);
	free(arg);
	return ex;
}

int veld_records_note(const struct veld_home *h, int argc, char **argv)
{
	struct veld_device d;
	struct veld_buf text;
	struct write_opts o;
	uint8_t id[VELD_RECORD_LEN];
	int ex, rc = 0;

	if ((ex = take_write_opts(&argc, argv, &o, 0)) != EXIT_OK)
		return ex;
	if (argc < 2) {
		fprintf(stderr, _("usage: veld note ID TEXT ...\n"));
		return EXIT_USAGE;
	}
	/* The words of the note, as the shell split them, joined again. */
	veld_buf_init(&text, VELD_STR_MAX + 1);
	for (int i = 1; i < argc && rc == 0; i++) {
		if (i > 1)
			rc = veld_buf_append(&text, " ", 1);
		if (rc == 0)
			rc = veld_buf_append(&text, argv[i], strlen(argv[i]));
	}
	if (rc == 0)
		rc = veld_buf_append(&text, "", 1);
	if (rc < 0 || text.len <= 1 || text.len > VELD_STR_MAX + 1 ||
	    !utf8_ok((const char *)text.data)) {
		fprintf(stderr,
			_("veld: a note is 1 to %d bytes of UTF-8 text\n"),
			VELD_STR_MAX);
		veld_buf_release(&text);
		return EXIT_USAGE;
	}
	if ((ex = open_device(&d, h)) != EXIT_OK) {
		veld_buf_release(&text);
		return ex;
	}
	ex = check_can_write(&d);
	if (ex == EXIT_OK)
		ex = resolve_id(&d, argv[0], id);
	if (ex == EXIT_OK &&
	    (rc = veld_replica_note(d.replica, id, (const char *)text.data,
				    NULL)) < 0)
		ex = fail(&d, _("cannot save the note"), rc);
	if (ex == EXIT_OK && o.json) {
		ex = print_id_json(&d, id, "note");
	} else if (ex == EXIT_OK) {
		printf(_("saved a note on record "));
		put_hex(id, sizeof(id));
		putchar('\n');
	}
	veld_device_close(&d);
	veld_buf_release(&text);
	return ex;
}

int veld_records_delete(const struct veld_home *h, int argc, char **argv)
{
	struct veld_device d;
	struct write_opts o;
	uint8_t id[VELD_RECORD_LEN];
	int ex, rc;

	if ((ex = take_write_opts(&argc, argv, &o, 0)) != EXIT_OK)
		return ex;
	if (argc != 1) {
		fprintf(stderr, _("usage: veld delete ID\n"));
		return EXIT_USAGE;
	}
	if ((ex = open_device(&d, h)) != EXIT_OK)
		return ex;
	ex = check_can_write(&d);
	if (ex == EXIT_OK)
		ex = resolve_id(&d, argv[0], id);
	if (ex == EXIT_OK &&
	    (rc = veld_replica_delete(d.replica, id, NULL)) < 0)
		ex = fail(&d, _("cannot delete the record"), rc);
	if (ex == EXIT_OK && o.json) {
		ex = print_id_json(&d, id, "delete");
	} else if (ex == EXIT_OK) {
		printf(_("deleted record "));
		put_hex(id, sizeof(id));
		putchar('\n');
	}
	veld_device_close(&d);
	return ex;
}

/* --- reads --- */

/* Take the value of option argv[*i] ("--form F"); NULL if missing. */
static const char *opt_value(int argc, char **argv, int *i)
{
	if (*i + 1 >= argc) {
		fprintf(stderr, _("veld: %s needs a value\n"), argv[*i]);
		return NULL;
	}
	return argv[++*i];
}

/* JSON array output: objects from the store, separated by commas. */
struct json_out {
	int count;
};

static int json_item(void *ctx, const char *json, size_t len)
{
	struct json_out *o = ctx;

	fputs(o->count++ ? ",\n" : "\n", stdout);
	fwrite(json, 1, len, stdout);
	return 0;
}

static int json_whole(void *ctx, const char *json, size_t len)
{
	(void)ctx;
	fwrite(json, 1, len, stdout);
	putchar('\n');
	return 0;
}

/* Text list: one line a record. */
static int list_one(void *ctx, const struct veld_record_row *row)
{
	int *count = ctx;
	char when[32];
	char hex[2 * VELD_RECORD_LEN + 1];
	const char *sep = "";

	if ((*count)++ == 0)
		printf("%-8s  %-14s  %-20s  %-16s  %s\n", "ID", "FORM",
		       "STREET", "UPDATED", "FLAGS");
	sodium_bin2hex(hex, sizeof(hex), row->id, sizeof(row->id));
	fmt_time(row->updated, 0, when, sizeof(when));
	printf("%.*s  ", SHORT_ID, hex);
	put_cell(row->form, 14);
	fputs("  ", stdout);
	put_cell(row->street, 20);
	printf("  %-16s  ", when);
	if (row->conflicts) {
		printf("conflict");
		sep = ",";
	}
	if (row->delete_conflict) {
		printf("%sdelete-conflict", sep);
		sep = ",";
	}
	if (row->deleted) {
		printf("%sdeleted", sep);
		sep = ",";
	}
	if (row->erased) {
		printf("%serased", sep);
		sep = ",";
	}
	printf("%s\n", *sep ? "" : "-");
	return 0;
}

/* Today's local midnight as an hlc (the start of "--today"). */
static uint64_t local_midnight_hlc(void)
{
	time_t now = time(NULL);
	struct tm tm;

	if (!localtime_r(&now, &tm))
		return 0;
	tm.tm_hour = tm.tm_min = tm.tm_sec = 0;
	tm.tm_isdst = -1;
	now = mktime(&tm);
	return now < 0 ? 0 : VELD_HLC_MAKE((uint64_t)now * 1000, 0);
}

int veld_records_list(const struct veld_home *h, int argc, char **argv)
{
	struct veld_record_filter filter;
	struct veld_device d;
	int json = 0, ex, rc, count = 0;

	memset(&filter, 0, sizeof(filter));
	for (int i = 0; i < argc; i++) {
		if (strcmp(argv[i], "--json") == 0) {
			json = 1;
		} else if (strcmp(argv[i], "--conflicts") == 0) {
			filter.only_conflicts = 1;
		} else if (strcmp(argv[i], "--all") == 0) {
			filter.include_deleted = 1;
		} else if (strcmp(argv[i], "--today") == 0) {
			filter.updated_since = local_midnight_hlc();
		} else if (strcmp(argv[i], "--form") == 0) {
			if (!(filter.form = opt_value(argc, argv, &i)))
				return EXIT_USAGE;
		} else if (strcmp(argv[i], "--street") == 0) {
			if (!(filter.street = opt_value(argc, argv, &i)))
				return EXIT_USAGE;
		} else {
			fprintf(stderr,
				_("veld: unknown option '%s'\nusage: veld list "
				  "[--json] [--form F] [--street S] [--today] "
				  "[--conflicts] [--all]\n"),
				argv[i]);
			return EXIT_USAGE;
		}
	}
	if ((ex = open_device(&d, h)) != EXIT_OK)
		return ex;
	if (json) {
		struct json_out o = {0};
		fputs("[", stdout);
		rc = veld_store_records_json(store_of(&d), &filter, json_item,
					     &o);
		fputs(o.count ? "\n]\n" : "]\n", stdout);
	} else {
		rc = veld_store_records(store_of(&d), &filter, list_one,
					&count);
		if (rc == 0 && count == 0)
			printf("no records\n");
	}
	if (rc < 0)
		ex = fail(&d, _("cannot list the records"), rc);
	veld_device_close(&d);
	return ex;
}

/* Registry names, to show who wrote what. */
struct names {
	struct name {
		uint8_t key[VELD_PK_LEN];
		char name[VELD_NAME_MAX + 1];
	} * v;
	size_t n;
	const uint8_t *server;
	const uint8_t *self;
};

static int names_one(void *ctx, const struct veld_device_row *row)
{
	struct names *nm = ctx;
	struct name *v = realloc(nm->v, (nm->n + 1) * sizeof(*v));

	if (!v)
		return VELD_ENOMEM;
	nm->v = v;
	memcpy(v[nm->n].key, row->key, VELD_PK_LEN);
	snprintf(v[nm->n].name, sizeof(v[0].name), "%s",
		 row->name ? row->name : "?");
	nm->n++;
	return 0;
}

/* "name (1a2b3c4d)" for an author key. */
static void put_author(const struct names *nm, const uint8_t *key)
{
	char hex[2 * VELD_PK_LEN + 1];
	const char *name = "unknown device";

	if (memcmp(key, nm->server, VELD_PK_LEN) == 0)
		name = "server";
	for (size_t i = 0; i < nm->n; i++)
		if (memcmp(nm->v[i].key, key, VELD_PK_LEN) == 0)
			name = nm->v[i].name;
	sodium_bin2hex(hex, sizeof(hex), key, VELD_PK_LEN);
	put_safe(name, strlen(name));
	printf(" (%.*s%s)", SHORT_KEY, hex,
	       memcmp(key, nm->self, VELD_PK_LEN) == 0 ? ", this device" : "");
}

/* The record header. */
static int show_rec(void *ctx, const struct veld_record_row *row)
{
	char created[32], updated[32];

	(void)ctx;
	fmt_time(row->created, 1, created, sizeof(created));
	fmt_time(row->updated, 1, updated, sizeof(updated));
	printf("record   ");
	put_hex(row->id, sizeof(row->id));
	printf("\nform     ");
	put_cell(row->form, 0);
	printf("\narea     ");
	put_cell(row->area, 0);
	printf("\ncreated  %s\nupdated  %s\nstate    ", created, updated);
	if (row->erased)
		printf("erased (personal data removed)");
	else if (row->deleted)
		printf("deleted");
	else if (row->delete_conflict)
		printf("deleted on one device while edited on another: the "
		       "edit survives");
	else
		printf("current");
	if (row->conflicts)
		printf("; %d field%s in conflict", row->conflicts,
		       row->conflicts == 1 ? "" : "s");
	putchar('\n');
	return 0;
}

/* Current values, read whole first: a field's count decides its layout. */
struct vals {
	struct val {
		char field[VELD_NAME_MAX + 1];
		uint8_t *value; /* NULL if erased */
		size_t len;
		uint8_t author[VELD_PK_LEN];
		uint64_t hlc;
		int winner;
	} * v;
	size_t n;
};

static int vals_one(void *ctx, const struct veld_value_row *row)
{
	struct vals *vs = ctx;
	struct val *v = realloc(vs->v, (vs->n + 1) * sizeof(*v));

	if (!v)
		return VELD_ENOMEM;
	vs->v = v;
	v += vs->n;
	memset(v, 0, sizeof(*v));
	snprintf(v->field, sizeof(v->field), "%s", row->field);
	if (row->value) {
		v->value = malloc(row->value_len ? row->value_len : 1);
		if (!v->value)
			return VELD_ENOMEM;
		memcpy(v->value, row->value, row->value_len);
		v->len = row->value_len;
	}
	memcpy(v->author, row->author, VELD_PK_LEN);
	v->hlc = row->hlc;
	v->winner = row->winner;
	vs->n++;
	return 0;
}

static void vals_release(struct vals *vs)
{
	for (size_t i = 0; i < vs->n; i++)
		free(vs->v[i].value);
	free(vs->v);
}

static void show_values(const struct vals *vs, const struct names *nm)
{
	int width = 5;

	printf("\nvalues:\n");
	if (vs->n == 0)
		printf("  (none)\n");
	for (size_t i = 0; i < vs->n; i++) {
		int w = (int)strlen(vs->v[i].field);
		width = w > width ? w : width;
	}
	for (size_t i = 0, j; i < vs->n; i = j) {
		const struct val *v = &vs->v[i];
		/* Rows of one field are adjacent, display winner first. */
		for (j = i + 1; j < vs->n; j++)
			if (strcmp(vs->v[j].field, v->field) != 0)
				break;
		printf("  ");
		put_cell(v->field, width);
		printf("  ");
		if (j - i == 1) {
			put_value(v->value, v->len);
			putchar('\n');
			continue;
		}
		printf("CONFLICT: %zu values (* = shown until resolved)\n",
		       j - i);
		for (size_t k = i; k < j; k++) {
			char when[32];
			fmt_time(vs->v[k].hlc, 1, when, sizeof(when));
			printf("  %*s  %s ", width, "",
			       vs->v[k].winner ? "*" : " ");
			put_value(vs->v[k].value, vs->v[k].len);
			printf("  -- ");
			put_author(nm, vs->v[k].author);
			printf(", %s\n", when);
		}
	}
}

struct show_ctx {
	const struct names *nm;
	int count;
};

static int show_note(void *ctx, const struct veld_note_row *n)
{
	struct show_ctx *sc = ctx;
	char when[32];

	if (sc->count++ == 0)
		printf("\nnotes:\n");
	fmt_time(n->hlc, 1, when, sizeof(when));
	printf("  %s  ", when);
	put_author(sc->nm, n->author);
	printf("\n    ");
	if (n->text)
		put_safe(n->text, strlen(n->text));
	else
		printf("[erased]");
	putchar('\n');
	return 0;
}

static int show_op(void *ctx, const struct veld_stored_op *op)
{
	struct show_ctx *sc = ctx;
	char when[32];

	if (sc->count++ == 0)
		printf("\nhistory:\n");
	fmt_time(op->h.hlc, 1, when, sizeof(when));
	printf("  %s  %-6s  ", when, veld_kind_name(op->h.kind));
	put_author(sc->nm, op->h.author);
	if (op->status == VELD_STATUS_VOID)
		printf("  [void: not part of the state]");
	else if (op->status == VELD_STATUS_FORK)
		printf("  [fork evidence]");
	putchar('\n');
	return 0;
}

/* The text form of show, for an id known to exist. */
static int show_text(struct veld_device *d, const uint8_t id[VELD_RECORD_LEN])
{
	struct veld_store *s = store_of(d);
	struct names nm = {NULL, 0, d->server_key, d->key.pk};
	struct vals vs = {NULL, 0};
	struct show_ctx sc = {&nm, 0};
	int rc, conflict = 0;

	rc = veld_store_devices(s, names_one, &nm);
	if (rc == 0)
		rc = veld_store_values(s, id, vals_one, &vs);
	if (rc == 0)
		rc = veld_store_record(s, id, show_rec, NULL);
	if (rc >= 0) {
		show_values(&vs, &nm);
		for (size_t i = 0; i < vs.n; i++)
			conflict |= !vs.v[i].winner;
		if (conflict) {
			char hex[2 * VELD_RECORD_LEN + 1];
			sodium_bin2hex(hex, sizeof(hex), id, VELD_RECORD_LEN);
			printf(_("  resolve with: veld resolve %.*s FIELD "
				 "VALUE\n"),
			       SHORT_ID, hex);
		}
		rc = veld_store_notes(s, id, show_note, &sc);
	}
	if (rc == 0) {
		sc.count = 0;
		rc = veld_store_record_ops(s, id, show_op, &sc);
	}
	vals_release(&vs);
	free(nm.v);
	return rc < 0 ? fail(d, _("cannot read the record"), rc) : EXIT_OK;
}

int veld_records_show(const struct veld_home *h, int argc, char **argv)
{
	struct veld_device d;
	uint8_t id[VELD_RECORD_LEN];
	const char *arg = NULL;
	int json = 0, ex, rc;

	for (int i = 0; i < argc; i++) {
		if (strcmp(argv[i], "--json") == 0) {
			json = 1;
		} else if (argv[i][0] != '-' && !arg) {
			arg = argv[i];
		} else {
			fprintf(stderr, _("usage: veld show ID [--json]\n"));
			return EXIT_USAGE;
		}
	}
	if (!arg) {
		fprintf(stderr, _("usage: veld show ID [--json]\n"));
		return EXIT_USAGE;
	}
	if ((ex = open_device(&d, h)) != EXIT_OK)
		return ex;
	ex = resolve_id(&d, arg, id);
	if (ex == EXIT_OK && json) {
		rc = veld_store_record_json(store_of(&d), id, json_whole, NULL);
		if (rc < 0)
			ex = fail(&d, _("cannot read the record"), rc);
	} else if (ex == EXIT_OK) {
		ex = show_text(&d, id);
	}
	veld_device_close(&d);
	return ex;
}

int veld_records_state_hash(const struct veld_home *h, int argc, char **argv)
{
	struct veld_device d;
	uint8_t hash[VELD_HASH_LEN];
	int ex, rc, json = argc == 1 && strcmp(argv[0], "--json") == 0;

	if (argc != json) {
		fprintf(stderr, _("usage: veld state-hash [--json]\n"));
		return EXIT_USAGE;
	}
	if ((ex = open_device(&d, h)) != EXIT_OK)
		return ex;
	rc = veld_replica_state_hash(d.replica, hash);
	if (rc < 0) {
		ex = fail(&d, _("cannot compute the state hash"), rc);
	} else if (json) {
		struct veld_buf b;
		msgpack_packer pk;
		veld_buf_init(&b, 256);
		veld_buf_packer_init(&pk, &b);
		msgpack_pack_map(&pk, 1);
		pack_cstr(&pk, "state_hash");
		pack_hex(&pk, hash, sizeof(hash));
		ex = print_json_mp(&d, &b);
		veld_buf_release(&b);
	} else {
		put_hex(hash, sizeof(hash));
		putchar('\n');
	}
	veld_device_close(&d);
	return ex;
}

/* Text forms: one block a form, its fields in order. */
static int forms_text_one(void *ctx, const struct veld_form_row *row)
{
	struct veld_form *f = NULL;
	char list[2048], def[256];
	int rc = veld_form_decode(row->name, row->def, row->def_len, &f);

	(void)ctx;
	if (rc < 0) {
		printf(_("%s  (cannot read its definition)\n"), row->name);
		return 0;
	}
	printf("%s", f->name);
	if (f->title)
		printf(" - %s", f->title);
	putchar('\n');
	for (size_t i = 0; i < f->n; i++) {
		const struct veld_form_field *fl = &f->fields[i];
		printf("  %-18s %-8s %s%s", fl->name, veld_ftype_name(fl->type),
		       fl->required ? "*" : " ",
		       fl->personal ? _(" (personal)") : "");
		if (fl->label)
			printf("  %s", fl->label);
		if (fl->nchoices) {
			veld_form_choice_list(fl, list, sizeof(list));
			printf("\n  %-18s %-8s [%s]", "", "", list);
		}
		if (fl->def) {
			veld_form_show(fl->def, fl->def_len, def, sizeof(def));
			printf(_("  (default: %s)"), def);
		}
		putchar('\n');
	}
	veld_form_free(f);
	return 0;
}

int veld_records_forms(const struct veld_home *h, int argc, char **argv)
{
	struct veld_device d;
	struct form_names names;
	int json = 0, ex, rc;

	for (int i = 0; i < argc; i++) {
		if (strcmp(argv[i], "--json") == 0) {
			json = 1;
		} else {
			fprintf(stderr, _("usage: veld forms [--json]\n"));
			return EXIT_USAGE;
		}
	}
	if ((ex = open_device(&d, h)) != EXIT_OK)
		return ex;
	if (json) {
		struct json_out o = {0};
		fputs("[", stdout);
		rc = veld_store_forms_json(store_of(&d), json_item, &o);
		fputs(o.count ? "\n]\n" : "]\n", stdout);
	} else {
		memset(&names, 0, sizeof(names));
		rc = veld_store_forms(store_of(&d), form_one, &names);
		if (rc == 0 && names.count == 0)
			printf(_("no forms yet; 'veld sync' fetches them from "
				 "the server\n"));
		else if (rc == 0)
			rc = veld_store_forms(store_of(&d), forms_text_one,
					      NULL);
	}
	if (rc < 0)
		ex = fail(&d, _("cannot read the forms"), rc);
	veld_device_close(&d);
	return ex;
}
