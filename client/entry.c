/*
 * entry.c - interactive entry and drafts; see entry.h.
 *
 * Plain stdio on a terminal in its normal (cooked) mode: the terminal
 * does the line editing people know (backspace, Ctrl-U), veld reads whole
 * lines.  SIGINT is caught only while asking, without SA_RESTART, so that
 * Ctrl-C ends the read at once; the draft is already on disk by then.
 *
 * Fields the form's meaning rules leave out are not asked: fields after
 * "at_home" when nobody is home, personal fields without "consent".
 */
#include "entry.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "canon.h"
#include "err.h"
#include "hlc.h"
#include "i18n.h"
#include "merge.h"

#define LINE_MAX_BYTES (8192 + 2)
#define DRAFT_PREFIX "draft:"
#define META_LAST_STREET "last_street"

static volatile sig_atomic_t interrupted;

static void on_sigint(int sig)
{
	(void)sig;
	interrupted = 1;
}

/* --- drafts: [saved ms, position, {field: bin(value)}] in meta --- */

static void draft_key(const char *form, char *key, size_t n)
{
	snprintf(key, n, "%s%s", DRAFT_PREFIX, form);
}

static int draft_save(struct veld_entry *e, size_t pos)
{
	const struct veld_form *f = e->form;
	char key[128];
	struct veld_buf b;
	msgpack_packer pk;
	uint32_t count = 0;
	int rc;

	for (size_t i = 0; i < f->n; i++)
		count += e->vals[i].len > 0;
	veld_buf_init(&b, 4 * 1024 * 1024);
	veld_buf_packer_init(&pk, &b);
	msgpack_pack_array(&pk, 3);
	msgpack_pack_uint64(&pk, veld_hlc_wall_ms());
	msgpack_pack_uint64(&pk, pos);
	msgpack_pack_map(&pk, count);
	for (size_t i = 0; i < f->n; i++) {
		if (!e->vals[i].len)
			continue;
		msgpack_pack_str_with_body(&pk, f->fields[i].name,
					   strlen(f->fields[i].name));
		msgpack_pack_bin_with_body(&pk, e->vals[i].data,
					   e->vals[i].len);
	}
	draft_key(f->name, key, sizeof(key));
	rc = b.err ? b.err : veld_store_meta_set(e->store, key, b.data, b.len);
	veld_buf_release(&b);
	return rc;
}

int veld_entry_draft_clear(struct veld_store *s, const char *form)
{
	char key[128];

	/* An empty value is "no draft". */
	draft_key(form, key, sizeof(key));
	return veld_store_meta_set(s, key, "", 0);
}

/* Load the draft of e's form into the values not fixed.  1 if there was
 * one (*when, *pos set), 0 if not. */
static int draft_load(struct veld_entry *e, int apply, uint64_t *when,
		      size_t *pos, size_t *answered)
{
	const struct veld_form *f = e->form;
	char key[128];
	struct veld_buf b;
	msgpack_unpacked u;
	size_t off = 0;
	int rc, found = 0;

	veld_buf_init(&b, 4 * 1024 * 1024);
	draft_key(f->name, key, sizeof(key));
	rc = veld_store_meta_get(e->store, key, &b);
	if (rc <= 0 || b.len == 0) {
		veld_buf_release(&b);
		return rc < 0 ? rc : 0;
	}
	msgpack_unpacked_init(&u);
	if (msgpack_unpack_next(&u, (const char *)b.data, b.len, &off) ==
		    MSGPACK_UNPACK_SUCCESS &&
	    u.data.type == MSGPACK_OBJECT_ARRAY && u.data.via.array.size == 3 &&
	    u.data.via.array.ptr[0].type == MSGPACK_OBJECT_POSITIVE_INTEGER &&
	    u.data.via.array.ptr[1].type == MSGPACK_OBJECT_POSITIVE_INTEGER &&
	    u.data.via.array.ptr[2].type == MSGPACK_OBJECT_MAP) {
		const msgpack_object_map *m = &u.data.via.array.ptr[2].via.map;
		found = 1;
		*when = u.data.via.array.ptr[0].via.u64;
		*pos = (size_t)u.data.via.array.ptr[1].via.u64;
		*answered = 0;
		for (uint32_t i = 0; i < m->size; i++) {
			const msgpack_object *k = &m->ptr[i].key;
			const msgpack_object *v = &m->ptr[i].val;
			char name[VELD_NAME_MAX + 1];
			int idx;
			if (k->type != MSGPACK_OBJECT_STR ||
			    v->type != MSGPACK_OBJECT_BIN ||
			    k->via.str.size > VELD_NAME_MAX)
				continue;
			memcpy(name, k->via.str.ptr, k->via.str.size);
			name[k->via.str.size] = 0;
			/* A field the form no longer has is dropped. */
			idx = veld_form_find(f, name);
			if (idx < 0 || e->fixed[idx])
				continue;
			(*answered)++;
			if (apply) {
				veld_buf_reset(&e->vals[idx]);
				if (veld_buf_append(&e->vals[idx],
						    v->via.bin.ptr,
						    v->via.bin.size) < 0)
					rc = VELD_ENOMEM;
			}
		}
	}
	msgpack_unpacked_destroy(&u);
	veld_buf_release(&b);
	return rc < 0 ? rc : found;
}

/* --- today's entries and the last street --- */

int veld_entry_today(struct veld_store *s, const uint8_t *self, int64_t *n)
{
	time_t now = time(NULL);
	struct tm tm;

	if (!localtime_r(&now, &tm))
		return VELD_EINVAL;
	tm.tm_hour = tm.tm_min = tm.tm_sec = 0;
	tm.tm_isdst = -1;
	now = mktime(&tm);
	return veld_store_count_created(
		s, self, VELD_HLC_MAKE((uint64_t)now * 1000, 0), n);
}

int veld_entry_remember_street(struct veld_store *s, const char *street,
			       size_t len)
{
	return veld_store_meta_set(s, META_LAST_STREET, street, len);
}

/* --- asking --- */

enum answer {
	A_VALUE,
	A_BACK,
	A_CANCEL,
	A_NOTHOME,
	A_ERROR,
};

/* Read one line (trimmed) into line.  0, or -1 on EOF/interrupt. */
static int read_line(struct veld_entry *e, char *line, size_t n)
{
	size_t len;
	char *p;

	fflush(e->out);
	if (interrupted || !fgets(line, (int)n, e->in) || interrupted)
		return -1;
	len = strlen(line);
	if (len && line[len - 1] != '\n' && !feof(e->in)) {
		/* Longer than any value may be: drop the rest. */
		int c;
		while ((c = fgetc(e->in)) != EOF && c != '\n')
			;
		line[0] = 0;
		fprintf(e->out, _("  that is longer than a value may be\n"));
		return 1;
	}
	while (len && (line[len - 1] == '\n' || line[len - 1] == '\r' ||
		       line[len - 1] == ' ' || line[len - 1] == '\t'))
		line[--len] = 0;
	p = line;
	while (*p == ' ' || *p == '\t')
		p++;
	memmove(line, p, strlen(p) + 1);
	return 0;
}

static int value_true(const struct veld_buf *v)
{
	return veld_value_is_true(v->data, v->len);
}

/* Is field i left out by the form's rules, given the values so far? */
static int left_out(const struct veld_entry *e, size_t i)
{
	const struct veld_form *f = e->form;

	if (f->at_home >= 0 && i > (size_t)f->at_home &&
	    e->vals[f->at_home].len && !value_true(&e->vals[f->at_home]))
		return 1;
	if (f->fields[i].personal && f->consent >= 0 &&
	    !value_true(&e->vals[f->consent]))
		return 1;
	return 0;
}

/* The default offered for field i: its own, the last street, now. */
static int default_of(struct veld_entry *e, size_t i, struct veld_buf *out)
{
	const struct veld_form_field *fl = &e->form->fields[i];
	char why[256];
	int rc;

	veld_buf_reset(out);
	if (fl->def)
		return veld_buf_append(out, fl->def, fl->def_len);
	if (fl->type == VELD_FT_DATETIME)
		return veld_form_parse(fl, "now", 0, out, why, sizeof(why));
	if (fl->type == VELD_FT_DATE)
		return veld_form_parse(fl, "today", 0, out, why, sizeof(why));
	if (strcmp(fl->name, "street") == 0 && fl->type == VELD_FT_TEXT) {
		struct veld_buf st;
		veld_buf_init(&st, VELD_STR_MAX);
		rc = veld_store_meta_get(e->store, META_LAST_STREET, &st);
		if (rc == 1 && st.len && veld_buf_append(&st, "", 1) == 0)
			rc = veld_form_parse(fl, (const char *)st.data, 0, out,
					     why, sizeof(why));
		veld_buf_release(&st);
		return rc < 0 ? rc : 0;
	}
	return 0;
}

static size_t askable_count(const struct veld_entry *e)
{
	size_t n = 0;

	for (size_t i = 0; i < e->form->n; i++)
		n += !e->fixed[i];
	return n;
}

static size_t askable_index(const struct veld_entry *e, size_t i)
{
	size_t n = 0;

	for (size_t j = 0; j < i; j++)
		n += !e->fixed[j];
	return n + 1;
}

static void show_question(struct veld_entry *e, size_t i,
			  const struct veld_buf *def)
{
	const struct veld_form_field *fl = &e->form->fields[i];
	char text[1024];

	fprintf(e->out, "\n(%zu/%zu) %s%s\n", askable_index(e, i),
		askable_count(e), fl->label ? fl->label : fl->name,
		fl->required ? _(" (required)") : "");
	if (fl->hint)
		fprintf(e->out, "      %s\n", fl->hint);
	if (fl->type == VELD_FT_CHOICE || fl->type == VELD_FT_MULTI) {
		for (size_t c = 0; c < fl->nchoices; c++)
			fprintf(e->out, "  %2zu) %s\n", c + 1, fl->choices[c]);
		if (fl->type == VELD_FT_MULTI)
			fprintf(e->out, "      %s\n",
				_("numbers or names, separated by commas"));
	} else if (fl->type == VELD_FT_BOOL) {
		fprintf(e->out, "      %s/%s\n", _("yes"), _("no"));
	} else if (fl->type == VELD_FT_INTEGER) {
		fprintf(e->out, "      %s\n", _("a whole number"));
	} else if (fl->type == VELD_FT_NUMBER) {
		fprintf(e->out, "      %s\n", _("a number"));
	}
	if (e->vals[i].len) {
		veld_form_show(e->vals[i].data, e->vals[i].len, text,
			       sizeof(text));
		fprintf(e->out, _("  [Enter = keep: %s]"), text);
	} else if (def->len) {
		veld_form_show(def->data, def->len, text, sizeof(text));
		fprintf(e->out, _("  [Enter = %s]"), text);
	}
	fprintf(e->out, "> ");
}

/* Ask field i until it has an acceptable answer or a key moves on. */
static enum answer ask(struct veld_entry *e, size_t i)
{
	const struct veld_form_field *fl = &e->form->fields[i];
	struct veld_buf def, val;
	char line[LINE_MAX_BYTES], why[2048];
	enum answer a = A_ERROR;

	veld_buf_init(&def, VELD_BODY_MAX);
	veld_buf_init(&val, VELD_BODY_MAX);
	if (default_of(e, i, &def) < 0)
		goto out;
	for (;;) {
		int r;
		show_question(e, i, &def);
		r = read_line(e, line, sizeof(line));
		if (r < 0) {
			a = A_CANCEL;
			break;
		}
		if (r > 0)
			continue;
		if (strcmp(line, "!") == 0) {
			a = A_CANCEL;
			break;
		}
		if (strcmp(line, "<") == 0) {
			a = A_BACK;
			break;
		}
		if (strcmp(line, "*") == 0) {
			if (e->form->at_home < 0) {
				fprintf(e->out, _("  this form has no 'at "
						  "home' question\n"));
				continue;
			}
			a = A_NOTHOME;
			break;
		}
		if (line[0] == 0 && e->vals[i].len) {
			a = A_VALUE; /* keep what is there */
			break;
		}
		if (line[0] == 0 && def.len) {
			veld_buf_reset(&e->vals[i]);
			if (veld_buf_append(&e->vals[i], def.data, def.len) < 0)
				break;
			a = A_VALUE;
			break;
		}
		if (line[0] == 0 || strcmp(line, "-") == 0) {
			if (fl->required) {
				fprintf(e->out,
					_("  '%s' is required; please give a "
					  "value\n"),
					fl->label ? fl->label : fl->name);
				continue;
			}
			veld_buf_reset(&e->vals[i]);
			if (veld_buf_append(&e->vals[i], "\xc0", 1) < 0)
				break;
			a = A_VALUE;
			break;
		}
		if (veld_form_parse(fl, line, 1, &val, why, sizeof(why)) < 0) {
			/* Wrong: say why and ask again at once. */
			fprintf(e->out, "  %s\n", why);
			continue;
		}
		veld_buf_reset(&e->vals[i]);
		if (veld_buf_append(&e->vals[i], val.data, val.len) < 0)
			break;
		a = A_VALUE;
		break;
	}
out:
	veld_buf_release(&def);
	veld_buf_release(&val);
	return a;
}

/* Columns of UTF-8 text (one per character; no wide characters). */
static int columns(const char *s)
{
	int n = 0;

	for (; *s; s++)
		n += ((unsigned char)*s & 0xc0) != 0x80;
	return n;
}

/* Print s cut to width columns at a character boundary, padded. */
static void put_padded(FILE *out, const char *s, int width)
{
	int cols = 0;
	const char *p = s;

	while (*p && cols < width) {
		const char *q = p + 1;
		while (((unsigned char)*q & 0xc0) == 0x80)
			q++;
		fwrite(p, 1, (size_t)(q - p), out);
		cols++;
		p = q;
	}
	for (; cols < width; cols++)
		fputc(' ', out);
}

static void show_summary(struct veld_entry *e)
{
	const struct veld_form *f = e->form;
	char text[1024];
	int width = 0;

	for (size_t i = 0; i < f->n; i++) {
		const char *l = f->fields[i].label ? f->fields[i].label
						   : f->fields[i].name;
		int w = columns(l);
		width = w > width ? w : width;
	}
	width = width > 40 ? 40 : width;
	fprintf(e->out, "\n%s\n", _("Summary:"));
	for (size_t i = 0; i < f->n; i++) {
		const char *l = f->fields[i].label ? f->fields[i].label
						   : f->fields[i].name;
		if (left_out(e, i))
			continue;
		text[0] = 0;
		if (e->vals[i].len)
			veld_form_show(e->vals[i].data, e->vals[i].len, text,
				       sizeof(text));
		fprintf(e->out, "  %2zu) ", i + 1);
		put_padded(e->out, l, width);
		fprintf(e->out, "  %s\n", text[0] ? text : "-");
	}
}

/* Offer the draft; returns the position to start at (form->n: none). */
static int offer_draft(struct veld_entry *e, size_t *start)
{
	uint64_t when;
	size_t pos = 0, answered = 0;
	char line[64], at[32];
	time_t t;
	struct tm tm;
	int rc = draft_load(e, 0, &when, &pos, &answered);

	*start = 0;
	if (rc <= 0)
		return rc;
	if (answered == 0)
		return veld_entry_draft_clear(e->store, e->form->name);
	t = (time_t)(when / 1000);
	if (!localtime_r(&t, &tm) ||
	    !strftime(at, sizeof(at), "%Y-%m-%d %H:%M", &tm))
		snprintf(at, sizeof(at), "?");
	fprintf(e->out,
		_("There is an unfinished '%s' entry from %s (%zu answers).\n"
		  "Resume it? [Enter/y = resume, n = discard] "),
		e->form->name, at, answered);
	if (read_line(e, line, sizeof(line)) < 0)
		return VELD_ENTRY_CANCEL;
	if (line[0] == 'n' || line[0] == 'N') {
		fprintf(e->out, "%s\n", _("Draft discarded."));
		return veld_entry_draft_clear(e->store, e->form->name);
	}
	rc = draft_load(e, 1, &when, &pos, &answered);
	*start = pos < e->form->n ? pos : e->form->n;
	return rc < 0 ? rc : 0;
}

/* The next field to ask at or after i (going forward), or form->n. */
static size_t next_field(const struct veld_entry *e, size_t i)
{
	while (i < e->form->n && (e->fixed[i] || left_out(e, i)))
		i++;
	return i;
}

/* The field to ask before i, or i itself when there is none. */
static size_t prev_field(const struct veld_entry *e, size_t i)
{
	for (size_t j = i; j-- > 0;)
		if (!e->fixed[j] && !left_out(e, j))
			return j;
	return i;
}

/* First required field without a value (not left out), or form->n. */
static size_t first_missing(const struct veld_entry *e)
{
	for (size_t i = 0; i < e->form->n; i++) {
		const struct veld_buf *v = &e->vals[i];
		if (e->form->fields[i].required && !left_out(e, i) &&
		    (!v->len || (v->len == 1 && v->data[0] == 0xc0)))
			return i;
	}
	return e->form->n;
}

static int run(struct veld_entry *e)
{
	const struct veld_form *f = e->form;
	char line[64];
	size_t i;
	int64_t today = 0;
	int rc;

	rc = offer_draft(e, &i);
	if (rc != 0)
		return rc;
	if (veld_entry_today(e->store, e->self, &today) < 0)
		today = -1;
	fprintf(e->out, "\n== %s ==\n", f->title ? f->title : f->name);
	if (today >= 0)
		fprintf(e->out, _("Today: %lld entries on this device.\n"),
			(long long)today);
	fprintf(e->out, "%s\n",
		_("Keys: Enter = default or skip, < = back, - = leave empty, "
		  "! = stop (kept as a draft)"));
	if (f->at_home >= 0)
		fprintf(e->out, "%s\n",
			_("      * = nobody home (saves the "
			  "address only)"));
	for (;;) {
		i = next_field(e, i);
		while (i < f->n) {
			enum answer a = ask(e, i);
			if (a == A_ERROR)
				return VELD_ENOMEM;
			if (a == A_CANCEL)
				return VELD_ENTRY_CANCEL;
			if (a == A_BACK) {
				i = prev_field(e, i);
			} else if (a == A_NOTHOME) {
				struct veld_buf *h = &e->vals[f->at_home];
				veld_buf_reset(h);
				if (veld_buf_append(h, "\xc2", 1) < 0)
					return VELD_ENOMEM;
				i = next_field(e, i + 1);
			} else {
				i = next_field(e, i + 1);
			}
			if ((rc = draft_save(e, i)) < 0)
				return rc;
		}
		/* Something required still open (skipped by "back")? */
		if ((i = first_missing(e)) < f->n)
			continue;
		show_summary(e);
		fprintf(e->out, "%s",
			_("Save? [Enter/y = save, number = change that field, "
			  "< = back, ! = stop] "));
		if (read_line(e, line, sizeof(line)) < 0 ||
		    strcmp(line, "!") == 0)
			return VELD_ENTRY_CANCEL;
		if (line[0] == 0 || strcasecmp(line, "y") == 0 ||
		    strcasecmp(line, "j") == 0 ||
		    strcasecmp(line, "yes") == 0 || strcasecmp(line, "ja") == 0)
			return VELD_ENTRY_SAVE;
		if (strcmp(line, "<") == 0) {
			i = prev_field(e, f->n);
			continue;
		}
		{
			char *end;
			long k = strtol(line, &end, 10);
			if (*end == 0 && k >= 1 && (size_t)k <= f->n &&
			    !e->fixed[k - 1] && !left_out(e, (size_t)k - 1)) {
				enum answer a = ask(e, (size_t)k - 1);
				if (a == A_CANCEL)
					return VELD_ENTRY_CANCEL;
				if (a == A_ERROR)
					return VELD_ENOMEM;
				if (a == A_NOTHOME) {
					struct veld_buf *h =
						&e->vals[f->at_home];
					veld_buf_reset(h);
					if (veld_buf_append(h, "\xc2", 1) < 0)
						return VELD_ENOMEM;
				}
				if ((rc = draft_save(e, f->n)) < 0)
					return rc;
			} else {
				fprintf(e->out, "%s\n",
					_("  not a field number of this "
					  "summary"));
			}
			i = f->n;
		}
	}
}

int veld_entry_run(struct veld_entry *e)
{
	struct sigaction sa, old;
	int rc;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_sigint;
	sigemptyset(&sa.sa_mask);
	sa.sa_flags = 0; /* no SA_RESTART: Ctrl-C ends the read */
	interrupted = 0;
	sigaction(SIGINT, &sa, &old);
	rc = run(e);
	sigaction(SIGINT, &old, NULL);
	if (rc == VELD_ENTRY_CANCEL) {
		/* The draft (if any answer was given) is already saved; a
		 * draft that was offered and not taken stays as it was. */
		int any = 0;
		for (size_t i = 0; i < e->form->n; i++)
			any |= e->vals[i].len > 0 && !e->fixed[i];
		fprintf(e->out, "\n%s\n",
			any ? _("Stopped. Nothing was saved as a record; what "
				"you typed is kept as a draft ('veld new' "
				"offers to resume it).")
			    : _("Stopped. Nothing was saved."));
	}
	return rc;
}
