/*
 * form.c - form definitions and typed values; see form.h.
 *
 * A definition arrives as the canonical msgpack map of the form op
 * (docs/forms.md "What is signed"): msgpack-c decodes it and this file
 * only copies out what the client needs.  Typed values are packed with
 * msgpack-c's packer into the canonical form (shortest integers, float64,
 * strings), and checked with veld_canon_check before anyone stores them.
 */
#include "form.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "canon.h"
#include "err.h"
#include "i18n.h"

static const char *const type_names[] = {
	[VELD_FT_TEXT] = "text",       [VELD_FT_NUMBER] = "number",
	[VELD_FT_INTEGER] = "integer", [VELD_FT_CHOICE] = "choice",
	[VELD_FT_MULTI] = "multi",     [VELD_FT_BOOL] = "bool",
	[VELD_FT_DATE] = "date",       [VELD_FT_DATETIME] = "datetime",
};

const char *veld_ftype_name(enum veld_ftype t)
{
	return (size_t)t < sizeof(type_names) / sizeof(type_names[0])
		       ? type_names[t]
		       : "?";
}

/* --- decoding the definition --- */

/*
 * A msgpack str as a new C string (NULL on a non-string or no memory).
 * Every string of a form ends up on a terminal, so control characters
 * become spaces: a form cannot drive the field worker's screen.
 */
static char *dup_str(const msgpack_object *o)
{
	char *s;

	if (o->type != MSGPACK_OBJECT_STR)
		return NULL;
	s = malloc(o->via.str.size + 1);
	if (s) {
		if (o->via.str.size)
			memcpy(s, o->via.str.ptr, o->via.str.size);
		s[o->via.str.size] = 0;
		for (char *p = s; p < s + o->via.str.size; p++)
			if ((unsigned char)*p < 0x20 || *p == 0x7f)
				*p = ' ';
	}
	return s;
}

static int key_is(const msgpack_object *k, const char *name)
{
	return k->type == MSGPACK_OBJECT_STR &&
	       k->via.str.size == strlen(name) &&
	       memcmp(k->via.str.ptr, name, k->via.str.size) == 0;
}

/* Pack one msgpack object again (a default), canonical as it came. */
static int copy_value(const msgpack_object *o, uint8_t **out, size_t *len)
{
	struct veld_buf b;
	msgpack_packer pk;

	veld_buf_init(&b, VELD_BODY_MAX);
	veld_buf_packer_init(&pk, &b);
	if (msgpack_pack_object(&pk, *o) != 0 || b.err || !b.data) {
		veld_buf_release(&b);
		return VELD_ENOMEM;
	}
	*out = b.data; /* taken from the buffer */
	*len = b.len;
	return 0;
}

static int decode_field(const msgpack_object *o, struct veld_form_field *f)
{
	int has_type = 0;

	if (o->type != MSGPACK_OBJECT_MAP)
		return VELD_ECONTENT;
	for (uint32_t i = 0; i < o->via.map.size; i++) {
		const msgpack_object *k = &o->via.map.ptr[i].key;
		const msgpack_object *v = &o->via.map.ptr[i].val;

		if (key_is(k, "name")) {
			if (!(f->name = dup_str(v)))
				return VELD_ECONTENT;
		} else if (key_is(k, "label")) {
			if (!(f->label = dup_str(v)))
				return VELD_ECONTENT;
		} else if (key_is(k, "hint")) {
			if (!(f->hint = dup_str(v)))
				return VELD_ECONTENT;
		} else if (key_is(k, "required") || key_is(k, "personal")) {
			if (v->type != MSGPACK_OBJECT_BOOLEAN)
				return VELD_ECONTENT;
			*(key_is(k, "required") ? &f->required : &f->personal) =
				v->via.boolean;
		} else if (key_is(k, "type")) {
			size_t t;
			for (t = 0;
			     t < sizeof(type_names) / sizeof(*type_names); t++)
				if (key_is(v, type_names[t]))
					break;
			if (t == sizeof(type_names) / sizeof(*type_names))
				return VELD_ECONTENT;
			f->type = (enum veld_ftype)t;
			has_type = 1;
		} else if (key_is(k, "choices")) {
			if (v->type != MSGPACK_OBJECT_ARRAY ||
			    v->via.array.size == 0)
				return VELD_ECONTENT;
			f->choices = calloc(v->via.array.size, sizeof(char *));
			if (!f->choices)
				return VELD_ENOMEM;
			for (uint32_t c = 0; c < v->via.array.size; c++) {
				f->choices[c] = dup_str(&v->via.array.ptr[c]);
				if (!f->choices[c])
					return VELD_ECONTENT;
				f->nchoices = c + 1;
			}
		} else if (key_is(k, "default")) {
			int rc = copy_value(v, &f->def, &f->def_len);
			if (rc < 0)
				return rc;
		}
		/* Keys of a later format version are ignored. */
	}
	if (!f->name || !has_type)
		return VELD_ECONTENT;
	if ((f->type == VELD_FT_CHOICE || f->type == VELD_FT_MULTI) &&
	    f->nchoices == 0)
		return VELD_ECONTENT;
	return 0;
}

static int decode_def(const uint8_t *def, size_t len, struct veld_form *f)
{
	const msgpack_object *fields = NULL;
	msgpack_unpacked u;
	int rc = 0;

	msgpack_unpacked_init(&u);
	if (veld_canon_decode(def, len, &u) != 0 ||
	    u.data.type != MSGPACK_OBJECT_MAP) {
		rc = VELD_ECONTENT;
		goto out;
	}
	for (uint32_t i = 0; i < u.data.via.map.size; i++) {
		const msgpack_object *k = &u.data.via.map.ptr[i].key;
		const msgpack_object *v = &u.data.via.map.ptr[i].val;
		if (key_is(k, "fields") && v->type == MSGPACK_OBJECT_ARRAY)
			fields = v;
		else if (key_is(k, "title") && !(f->title = dup_str(v)))
			rc = VELD_ECONTENT;
	}
	if (rc) {
		rc = VELD_ECONTENT;
		goto out;
	}
	f->consent = f->at_home = -1;
	if (!fields || fields->via.array.size == 0)
		goto out; /* a free form: no fields defined, none checked */
	f->fields = calloc(fields->via.array.size, sizeof(*f->fields));
	if (!f->fields) {
		rc = VELD_ENOMEM;
		goto out;
	}
	for (uint32_t i = 0; i < fields->via.array.size && rc == 0; i++) {
		f->n = i + 1;
		rc = decode_field(&fields->via.array.ptr[i], &f->fields[i]);
	}
	if (rc == 0) {
		int c = veld_form_find(f, "consent");
		int a = veld_form_find(f, "at_home");
		f->consent =
			c >= 0 && f->fields[c].type == VELD_FT_BOOL ? c : -1;
		f->at_home =
			a >= 0 && f->fields[a].type == VELD_FT_BOOL ? a : -1;
	}
out:
	msgpack_unpacked_destroy(&u);
	return rc;
}

int veld_form_decode(const char *name, const uint8_t *def, size_t len,
		     struct veld_form **out)
{
	struct veld_form *f = calloc(1, sizeof(*f));
	int rc;

	if (!f || !(f->name = strdup(name))) {
		free(f);
		return VELD_ENOMEM;
	}
	rc = decode_def(def, len, f);
	if (rc < 0) {
		veld_form_free(f);
		return rc;
	}
	*out = f;
	return 0;
}

struct find_form {
	const char *name;
	struct veld_form *form;
	int rc;
};

static int find_one(void *ctx, const struct veld_form_row *row)
{
	struct find_form *ff = ctx;

	if (strcmp(row->name, ff->name) != 0)
		return 0;
	ff->rc = veld_form_decode(row->name, row->def, row->def_len, &ff->form);
	return 1;
}

int veld_form_load(struct veld_store *s, const char *name,
		   struct veld_form **out)
{
	struct find_form ff = {name, NULL, 0};
	int rc = veld_store_forms(s, find_one, &ff);

	if (rc < 0) {
		veld_form_free(ff.form);
		return rc;
	}
	if (ff.rc < 0)
		return ff.rc;
	*out = ff.form;
	return ff.form ? 1 : 0;
}

void veld_form_free(struct veld_form *f)
{
	if (!f)
		return;
	for (size_t i = 0; i < f->n; i++) {
		struct veld_form_field *x = &f->fields[i];
		free(x->name);
		free(x->label);
		free(x->hint);
		for (size_t c = 0; c < x->nchoices; c++)
			free(x->choices[c]);
		free(x->choices);
		free(x->def);
	}
	free(f->fields);
	free(f->name);
	free(f->title);
	free(f);
}

int veld_form_find(const struct veld_form *f, const char *name)
{
	for (size_t i = 0; i < f->n; i++)
		if (strcmp(f->fields[i].name, name) == 0)
			return (int)i;
	return -1;
}

/* Append "a, b, c" to out (NUL-terminated, cut at n). */
static void join(size_t count, const char *(*get)(const void *, size_t),
		 const void *base, char *out, size_t n)
{
	size_t used = 0;

	if (n)
		out[0] = 0;
	for (size_t i = 0; i < count && used + 1 < n; i++) {
		int w = snprintf(out + used, n - used, "%s%s", i ? ", " : "",
				 get(base, i));
		if (w < 0)
			break;
		used += (size_t)w;
	}
}

static const char *field_name_at(const void *base, size_t i)
{
	return ((const struct veld_form *)base)->fields[i].name;
}

static const char *choice_at(const void *base, size_t i)
{
	return ((const struct veld_form_field *)base)->choices[i];
}

void veld_form_field_list(const struct veld_form *f, char *out, size_t n)
{
	join(f->n, field_name_at, f, out, n);
}

void veld_form_choice_list(const struct veld_form_field *f, char *out, size_t n)
{
	join(f->nchoices, choice_at, f, out, n);
}

/* --- typed values --- */

/* Index of choice text in f, or -1. */
static int choice_index(const struct veld_form_field *f, const char *text,
			size_t len, int numbered)
{
	char *end;
	long k;

	for (size_t i = 0; i < f->nchoices; i++)
		if (strlen(f->choices[i]) == len &&
		    memcmp(f->choices[i], text, len) == 0)
			return (int)i;
	/* Typed in another case ("Ja"): still unambiguous. */
	for (size_t i = 0; i < f->nchoices; i++)
		if (strlen(f->choices[i]) == len &&
		    strncasecmp(f->choices[i], text, len) == 0)
			return (int)i;
	if (!numbered || len == 0 || len > 3)
		return -1;
	errno = 0;
	k = strtol(text, &end, 10);
	if (end != text + len || k < 1 || (size_t)k > f->nchoices)
		return -1;
	return (int)(k - 1);
}

static int parse_bool(const char *t, int *v)
{
	static const char *const yes[] = {"yes", "y", "true", "ja", "j", "1"};
	static const char *const no[] = {"no", "n", "false", "nee", "0"};

	for (size_t i = 0; i < sizeof(yes) / sizeof(*yes); i++)
		if (strcasecmp(t, yes[i]) == 0)
			return *v = 1, 0;
	for (size_t i = 0; i < sizeof(no) / sizeof(*no); i++)
		if (strcasecmp(t, no[i]) == 0)
			return *v = 0, 0;
	return -1;
}

static int digits(const char *s, int n)
{
	for (int i = 0; i < n; i++)
		if (s[i] < '0' || s[i] > '9')
			return 0;
	return 1;
}

/* A real calendar date YYYY-MM-DD at s (10 bytes). */
static int date_ok(const char *s)
{
	static const int mdays[] = {31, 29, 31, 30, 31, 30,
				    31, 31, 30, 31, 30, 31};
	int y, m, d;

	if (!digits(s, 4) || s[4] != '-' || !digits(s + 5, 2) || s[7] != '-' ||
	    !digits(s + 8, 2))
		return 0;
	y = atoi(s);
	m = atoi(s + 5);
	d = atoi(s + 8);
	if (m < 1 || m > 12 || d < 1 || d > mdays[m - 1])
		return 0;
	if (m == 2 && d == 29 &&
	    !(y % 4 == 0 && (y % 100 != 0 || y % 400 == 0)))
		return 0;
	return 1;
}

/* HH:MM[:SS][Z] at s, all of it. */
static int time_ok(const char *s)
{
	size_t n = strlen(s);

	if (n && s[n - 1] == 'Z')
		n--;
	if (n != 5 && n != 8)
		return 0;
	if (!digits(s, 2) || s[2] != ':' || !digits(s + 3, 2) || atoi(s) > 23 ||
	    atoi(s + 3) > 59)
		return 0;
	if (n == 8 && (s[5] != ':' || !digits(s + 6, 2) || atoi(s + 6) > 59))
		return 0;
	return 1;
}

/* The local date or time now, as typed ("YYYY-MM-DD[THH:MM]"). */
static void local_now(int with_time, char *out, size_t n)
{
	time_t t = time(NULL);
	struct tm tm;

	if (!localtime_r(&t, &tm) ||
	    !strftime(out, n, with_time ? "%Y-%m-%dT%H:%M" : "%Y-%m-%d", &tm))
		snprintf(out, n, "?");
}

static int is_word(const char *t, const char *a, const char *b)
{
	return strcasecmp(t, a) == 0 || strcasecmp(t, b) == 0;
}

static int pack_done(struct veld_buf *out, int err)
{
	if (err || out->err)
		return out->err ? out->err : VELD_ENOMEM;
	return veld_canon_check(out->data, out->len) < 0 ? VELD_EINVAL : 0;
}

int veld_form_parse(const struct veld_form_field *f, const char *text,
		    int numbered, struct veld_buf *out, char *why,
		    size_t why_len)
{
	msgpack_packer pk;
	char list[2048], now[32];
	char *end;
	int rc = 0;

	veld_buf_reset(out);
	veld_buf_packer_init(&pk, out);
	snprintf(why, why_len, _("field '%s': the value cannot be stored"),
		 f->name);
	if (strlen(text) > VELD_STR_MAX) {
		snprintf(why, why_len,
			 _("the value of field '%s' is longer than %d bytes"),
			 f->name, VELD_STR_MAX);
		return VELD_EINVAL;
	}
	switch (f->type) {
	case VELD_FT_TEXT:
		rc = msgpack_pack_str_with_body(&pk, text, strlen(text));
		return pack_done(out, rc);
	case VELD_FT_INTEGER: {
		long long v;
		errno = 0;
		v = strtoll(text, &end, 10);
		if (errno || end == text || *end || text[0] == ' ') {
			snprintf(why, why_len,
				 _("field '%s' wants a whole number "
				   "(integer), not '%s'"),
				 f->name, text);
			return VELD_EINVAL;
		}
		rc = msgpack_pack_int64(&pk, v);
		return pack_done(out, rc);
	}
	case VELD_FT_NUMBER: {
		char copy[64];
		double v;
		long long iv;
		/* A decimal comma is what Dutch speakers type. */
		if (strlen(text) >= sizeof(copy)) {
			snprintf(why, why_len,
				 _("field '%s' wants a number (like 12 or "
				   "3.5), not '%s'"),
				 f->name, text);
			return VELD_EINVAL;
		}
		memcpy(copy, text, strlen(text) + 1);
		for (char *p = copy; *p; p++)
			if (*p == ',')
				*p = '.';
		errno = 0;
		v = strtod(copy, &end);
		if (errno || end == copy || *end || copy[0] == ' ' ||
		    !isfinite(v)) {
			snprintf(why, why_len,
				 _("field '%s' wants a number (like 12 or "
				   "3.5), not '%s'"),
				 f->name, text);
			return VELD_EINVAL;
		}
		/* An integral value is stored as an integer (forms.md). */
		iv = (long long)v;
		if (v >= -9.2e18 && v <= 9.2e18 && (double)iv == v)
			rc = msgpack_pack_int64(&pk, iv);
		else
			rc = msgpack_pack_double(&pk, v);
		return pack_done(out, rc);
	}
	case VELD_FT_CHOICE: {
		int i = choice_index(f, text, strlen(text), numbered);
		if (i < 0) {
			veld_form_choice_list(f, list, sizeof(list));
			snprintf(why, why_len,
				 _("'%s' is not a choice of field '%s'; "
				   "choose one of: %s"),
				 text, f->name, list);
			return VELD_EINVAL;
		}
		rc = msgpack_pack_str_with_body(&pk, f->choices[i],
						strlen(f->choices[i]));
		return pack_done(out, rc);
	}
	case VELD_FT_MULTI: {
		/* Comma-separated; stored in the form's order, each once. */
		unsigned char picked[256] = {0};
		size_t count = 0;
		const char *p = text;
		while (*p) {
			const char *e = strchr(p, ',');
			size_t len = e ? (size_t)(e - p) : strlen(p);
			const char *a = p;
			int i;
			while (len && *a == ' ')
				a++, len--;
			while (len && a[len - 1] == ' ')
				len--;
			i = len ? choice_index(f, a, len, numbered) : -2;
			if (i == -1) {
				veld_form_choice_list(f, list, sizeof(list));
				snprintf(why, why_len,
					 _("'%.*s' is not a choice of field "
					   "'%s'; choose any of: %s "
					   "(separated by commas)"),
					 (int)len, a, f->name, list);
				return VELD_EINVAL;
			}
			if (i >= 0 && i < 256 && !picked[i]) {
				picked[i] = 1;
				count++;
			}
			p = e ? e + 1 : p + strlen(p);
		}
		if (count == 0 && f->required) {
			veld_form_choice_list(f, list, sizeof(list));
			snprintf(
				why, why_len,
				_("field '%s' is required; choose at least one "
				  "of: %s"),
				f->name, list);
			return VELD_EINVAL;
		}
		rc = msgpack_pack_array(&pk, count);
		for (size_t i = 0; i < f->nchoices && i < 256 && !rc; i++)
			if (picked[i])
				rc = msgpack_pack_str_with_body(
					&pk, f->choices[i],
					strlen(f->choices[i]));
		return pack_done(out, rc);
	}
	case VELD_FT_BOOL: {
		int v;
		if (parse_bool(text, &v) < 0) {
			snprintf(why, why_len,
				 _("field '%s' wants yes or no (yes, no, ja, "
				   "nee, true, false), not '%s'"),
				 f->name, text);
			return VELD_EINVAL;
		}
		rc = v ? msgpack_pack_true(&pk) : msgpack_pack_false(&pk);
		return pack_done(out, rc);
	}
	case VELD_FT_DATE:
		if (is_word(text, "today", "vandaag")) {
			local_now(0, now, sizeof(now));
			text = now;
		}
		if (strlen(text) != 10 || !date_ok(text)) {
			snprintf(why, why_len,
				 _("field '%s' wants a date YYYY-MM-DD (or "
				   "'today'), not '%s'"),
				 f->name, text);
			return VELD_EINVAL;
		}
		rc = msgpack_pack_str_with_body(&pk, text, strlen(text));
		return pack_done(out, rc);
	case VELD_FT_DATETIME:
		if (is_word(text, "now", "nu")) {
			local_now(1, now, sizeof(now));
			text = now;
		}
		if (strlen(text) < 16 || !date_ok(text) || text[10] != 'T' ||
		    !time_ok(text + 11)) {
			snprintf(why, why_len,
				 _("field '%s' wants a date and time "
				   "YYYY-MM-DDTHH:MM (or 'now'), not '%s'"),
				 f->name, text);
			return VELD_EINVAL;
		}
		rc = msgpack_pack_str_with_body(&pk, text, strlen(text));
		return pack_done(out, rc);
	}
	snprintf(why, why_len, "field '%s': unknown type", f->name);
	return VELD_EINVAL;
}

/* Append to out (NUL-terminated, cut at n). */
static void cat(char *out, size_t n, const char *s, size_t len)
{
	size_t used = strnlen(out, n);

	if (used + 1 >= n)
		return;
	if (len > n - used - 1)
		len = n - used - 1;
	memcpy(out + used, s, len);
	out[used + len] = 0;
}

static void show_obj(const msgpack_object *o, char *out, size_t n)
{
	char t[64];

	switch (o->type) {
	case MSGPACK_OBJECT_STR:
		cat(out, n, o->via.str.ptr, o->via.str.size);
		break;
	case MSGPACK_OBJECT_BOOLEAN:
		cat(out, n, o->via.boolean ? _("yes") : _("no"),
		    strlen(o->via.boolean ? _("yes") : _("no")));
		break;
	case MSGPACK_OBJECT_NIL:
		break;
	case MSGPACK_OBJECT_ARRAY:
		for (uint32_t i = 0; i < o->via.array.size; i++) {
			if (i)
				cat(out, n, ", ", 2);
			show_obj(&o->via.array.ptr[i], out, n);
		}
		break;
	default:
		if (msgpack_object_print_buffer(t, sizeof(t), *o) > 0)
			cat(out, n, t, strnlen(t, sizeof(t)));
	}
}

void veld_form_show(const uint8_t *mp, size_t len, char *out, size_t n)
{
	msgpack_unpacked u;

	if (n == 0)
		return;
	out[0] = 0;
	msgpack_unpacked_init(&u);
	if (mp && veld_canon_decode(mp, len, &u) == 0)
		show_obj(&u.data, out, n);
	msgpack_unpacked_destroy(&u);
	/* Control characters from another device never reach a terminal. */
	for (char *p = out; *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			*p = ' ';
}

int veld_value_is_true(const uint8_t *mp, size_t len)
{
	return mp && len == 1 && mp[0] == 0xc3;
}
