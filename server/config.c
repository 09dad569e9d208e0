/*
 * config.c - reading veldd's configuration file; see config.h.
 *
 * A line format needs no library: each line is read with getc() into a
 * fixed buffer (a longer line is an error, not a truncation), trimmed,
 * split at the first '=', and the value handed to the setter of its key.
 * Every setter checks its value completely, so that a mistake is reported
 * with its file and line when veldd starts, not as a strange failure
 * later.  The first error ends the parse.
 */
#include "config.h"

#include <errno.h>
#include <stdarg.h>
#include <string.h>

#include "err.h"

#define MINUTE_MS (60 * (uint64_t)1000)
#define SHOWN_MAX 64 /* bytes of a key or value quoted in a message */

/* Why a value was refused, for the message (setters fill it). */
struct why {
	char text[256];
};

static void why_set(struct why *w, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void why_set(struct why *w, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(w->text, sizeof(w->text), fmt, ap);
	va_end(ap);
}

/*
 * A copy of s fit to be quoted in a message: at most SHOWN_MAX bytes
 * ("..." after a cut), control characters as '?', since the file may hold
 * anything and the message goes to a terminal.
 */
static void shown(char out[SHOWN_MAX + 4], const char *s)
{
	size_t i;

	for (i = 0; s[i] && i < SHOWN_MAX; i++) {
		unsigned char ch = (unsigned char)s[i];

		out[i] = ch < 0x20 || ch == 0x7f ? '?' : (char)ch;
	}
	if (s[i]) {
		memcpy(out + i, "...", 3);
		i += 3;
	}
	out[i] = '\0';
}

static int is_blank(int ch)
{
	return ch == ' ' || ch == '\t';
}

/* --- the setters: 0, or -1 with the reason in *w --- */

/* Paths must be absolute: veldd's working directory depends on who
 * starts it (systemd: /), so a relative path would mean different files. */
static int set_path(char *dst, const char *v, struct why *w)
{
	char s[SHOWN_MAX + 4];

	shown(s, v);
	if (v[0] != '/') {
		why_set(w, "'%s' is not an absolute path", s);
		return -1;
	}
	if (strlen(v) >= PATH_MAX) {
		why_set(w, "path is too long (at most %d bytes)", PATH_MAX - 1);
		return -1;
	}
	memcpy(dst, v, strlen(v) + 1);
	return 0;
}

static int set_data(struct veld_config *c, const char *v, struct why *w)
{
	return set_path(c->data, v, w);
}

static int set_tls_cert(struct veld_config *c, const char *v, struct why *w)
{
	return set_path(c->tls_cert, v, w);
}

static int set_tls_key(struct veld_config *c, const char *v, struct why *w)
{
	return set_path(c->tls_key, v, w);
}

static int set_listen(struct veld_config *c, const char *v, struct why *w)
{
	char s[SHOWN_MAX + 4];

	if (veld_listen_parse(&c->listen, v) == 0)
		return 0;
	shown(s, v);
	why_set(w,
		"bad listen address '%s' (want a numeric HOST:PORT like "
		"%s or [::1]:8787)",
		s, VELD_LISTEN_DEFAULT);
	return -1;
}

static int set_log_level(struct veld_config *c, const char *v, struct why *w)
{
	static const char *const levels[] = {"error", "warn", "info", "debug"};
	char s[SHOWN_MAX + 4];

	for (size_t i = 0; i < sizeof(levels) / sizeof(levels[0]); i++) {
		if (!strcmp(v, levels[i])) {
			memcpy(c->log_level, levels[i], strlen(levels[i]) + 1);
			return 0;
		}
	}
	shown(s, v);
	why_set(w, "bad log_level '%s' (want error, warn, info or debug)", s);
	return -1;
}

/* "forever", or a whole number of minutes, hours or days: 30m 12h 90d. */
static int set_code_retention(struct veld_config *c, const char *v,
			      struct why *w)
{
	const uint64_t max_minutes =
		(uint64_t)VELD_CONFIG_RETENTION_MAX_DAYS * 24 * 60;
	uint64_t n = 0, minutes;
	char s[SHOWN_MAX + 4];
	size_t i = 0;

	if (!strcmp(v, "forever")) {
		c->code_retention_ms = 0;
		return 0;
	}
	/* Seven digits at most: more than any unit allows, and no overflow. */
	for (; v[i] >= '0' && v[i] <= '9' && i < 7; i++)
		n = n * 10 + (uint64_t)(v[i] - '0');
	shown(s, v);
	if (i == 0 || n == 0 || !v[i] || v[i + 1] ||
	    (v[i] != 'm' && v[i] != 'h' && v[i] != 'd')) {
		why_set(w,
			"bad code_retention '%s' (want a whole number of "
			"minutes, hours or days, e.g. 30m, 12h, 90d, or "
			"forever)",
			s);
		return -1;
	}
	minutes = n * (v[i] == 'm' ? 1 : v[i] == 'h' ? 60 : 24 * 60);
	if (minutes > max_minutes) {
		why_set(w, "code_retention '%s' is too long (at most %dd)", s,
			VELD_CONFIG_RETENTION_MAX_DAYS);
		return -1;
	}
	c->code_retention_ms = minutes * MINUTE_MS;
	return 0;
}

static int set_max_connections(struct veld_config *c, const char *v,
			       struct why *w)
{
	unsigned long n = 0;
	char s[SHOWN_MAX + 4];
	size_t i = 0;

	for (; v[i] >= '0' && v[i] <= '9' && n <= VELD_CONFIG_CONNECTIONS_MAX;
	     i++)
		n = n * 10 + (unsigned long)(v[i] - '0');
	if (i > 0 && !v[i] && n >= 1 && n <= VELD_CONFIG_CONNECTIONS_MAX) {
		c->max_connections = (unsigned)n;
		return 0;
	}
	shown(s, v);
	why_set(w,
		"bad max_connections '%s' (want a whole number from 1 to %d)",
		s, VELD_CONFIG_CONNECTIONS_MAX);
	return -1;
}

/* The keys, in the order of the VELD_CONFIG_* bits (key k is bit k). */
enum { KEY_TLS_CERT = 2, KEY_TLS_KEY = 3 };
_Static_assert(VELD_CONFIG_TLS_CERT == 1u << KEY_TLS_CERT &&
		       VELD_CONFIG_TLS_KEY == 1u << KEY_TLS_KEY,
	       "keys[] follows the VELD_CONFIG_* bits");

static const struct key {
	const char *name;
	int (*set)(struct veld_config *c, const char *v, struct why *w);
} keys[VELD_CONFIG_NKEYS] = {
	{"data", set_data},
	{"listen", set_listen},
	{"tls_cert", set_tls_cert},
	{"tls_key", set_tls_key},
	{"log_level", set_log_level},
	{"code_retention", set_code_retention},
	{"max_connections", set_max_connections},
};

/* --- reading --- */

enum { LINE_EOF, LINE_OK, LINE_LONG, LINE_NUL, LINE_IOERR };

/*
 * Read one line of f into buf (VELD_CONFIG_LINE_MAX + 1 bytes) without its
 * newline (or its CR-LF), NUL-terminated.  LINE_LONG, LINE_NUL and
 * LINE_IOERR end the parse, so the rest of a long line is not skipped.
 */
static int read_line(FILE *f, char *buf)
{
	size_t n = 0;
	int got = 0;

	for (;;) {
		int ch = getc(f);

		if (ch == EOF) {
			if (ferror(f))
				return LINE_IOERR;
			break;
		}
		got = 1;
		if (ch == '\n')
			break;
		if (ch == '\0')
			return LINE_NUL;
		if (n == VELD_CONFIG_LINE_MAX)
			return LINE_LONG;
		buf[n++] = (char)ch;
	}
	if (n > 0 && buf[n - 1] == '\r')
		n--;
	buf[n] = '\0';
	return got ? LINE_OK : LINE_EOF;
}

static void fail(char *err, size_t errlen, const char *name, int line,
		 const char *fmt, ...) __attribute__((format(printf, 5, 6)));

static void fail(char *err, size_t errlen, const char *name, int line,
		 const char *fmt, ...)
{
	va_list ap;
	int n;

	if (!errlen)
		return;
	n = snprintf(err, errlen, "%s:%d: ", name, line);
	if (n < 0 || (size_t)n >= errlen)
		return;
	va_start(ap, fmt);
	vsnprintf(err + n, errlen - (size_t)n, fmt, ap);
	va_end(ap);
}

/* Drop blanks at both ends of s, in place; returns the new start. */
static char *trim(char *s)
{
	size_t n;

	while (is_blank(*s))
		s++;
	n = strlen(s);
	while (n > 0 && is_blank(s[n - 1]))
		s[--n] = '\0';
	return s;
}

/* Handle one line that is not blank or a comment.  0, or -1 with *w set. */
static int parse_setting(struct veld_config *c, char *line, int lineno,
			 struct why *w)
{
	char *eq = strchr(line, '='), *key, *value;
	char s[SHOWN_MAX + 4];
	size_t k;

	if (!eq) {
		why_set(w, "expected 'key = value'");
		return -1;
	}
	*eq = '\0';
	key = trim(line);
	value = trim(eq + 1);
	for (k = 0; k < VELD_CONFIG_NKEYS; k++)
		if (!strcmp(key, keys[k].name))
			break;
	shown(s, key);
	if (!*key) {
		why_set(w, "expected 'key = value' (no key before '=')");
		return -1;
	}
	if (k == VELD_CONFIG_NKEYS) {
		why_set(w,
			"unknown key '%s' (known: data, listen, tls_cert, "
			"tls_key, log_level, code_retention, max_connections)",
			s);
		return -1;
	}
	if (c->set & (1u << k)) {
		why_set(w, "'%s' is already set on line %d", s, c->line[k]);
		return -1;
	}
	if (!*value) {
		why_set(w, "'%s' needs a value", s);
		return -1;
	}
	if (value[0] == '"' || value[0] == '\'') {
		why_set(w, "values are taken literally: remove the quotes");
		return -1;
	}
	for (const char *p = value; *p; p++) {
		if (is_blank(p[0]) && p[1] == '#') {
			why_set(w, "a comment must be on a line of its own");
			return -1;
		}
	}
	if (keys[k].set(c, value, w) < 0)
		return -1;
	c->set |= 1u << k;
	c->line[k] = lineno;
	return 0;
}

void veld_config_init(struct veld_config *c)
{
	memset(c, 0, sizeof(*c));
}

int veld_config_parse(struct veld_config *c, const char *name, FILE *f,
		      char *err, size_t errlen)
{
	char buf[VELD_CONFIG_LINE_MAX + 1];
	const unsigned tls = VELD_CONFIG_TLS_CERT | VELD_CONFIG_TLS_KEY;
	struct why w;
	int lineno = 0;

	for (;;) {
		int rc = read_line(f, buf);
		char *line;

		if (rc == LINE_EOF)
			break;
		lineno++;
		if (rc == LINE_IOERR) {
			fail(err, errlen, name, lineno, "cannot read: %s",
			     strerror(errno));
			return VELD_EIO;
		}
		if (rc == LINE_LONG) {
			fail(err, errlen, name, lineno,
			     "line too long (at most %d bytes)",
			     VELD_CONFIG_LINE_MAX);
			return VELD_EINVAL;
		}
		if (rc == LINE_NUL) {
			fail(err, errlen, name, lineno,
			     "NUL byte (not a text file?)");
			return VELD_EINVAL;
		}
		line = trim(buf);
		if (!*line || *line == '#')
			continue;
		if (parse_setting(c, line, lineno, &w) < 0) {
			fail(err, errlen, name, lineno, "%s", w.text);
			return VELD_EINVAL;
		}
	}
	if ((c->set & tls) && (c->set & tls) != tls) {
		int cert = !!(c->set & VELD_CONFIG_TLS_CERT);

		fail(err, errlen, name,
		     c->line[cert ? KEY_TLS_CERT : KEY_TLS_KEY],
		     "%s is set but %s is not: they go together",
		     cert ? "tls_cert" : "tls_key",
		     cert ? "tls_key" : "tls_cert");
		return VELD_EINVAL;
	}
	return 0;
}

int veld_config_load(struct veld_config *c, const char *path, char *err,
		     size_t errlen)
{
	const char *p = path ? path : VELD_CONFIG_DEFAULT;
	FILE *f;
	int rc;

	veld_config_init(c);
	if (errlen)
		err[0] = '\0';
	if (strlen(p) >= sizeof(c->path)) {
		snprintf(err, errlen, "config path is too long");
		return VELD_EINVAL;
	}
	f = fopen(p, "r");
	if (!f) {
		if (!path && errno == ENOENT)
			return 0; /* no default file: built-in defaults */
		snprintf(err, errlen, "cannot read config '%s': %s", p,
			 strerror(errno));
		return VELD_EIO;
	}
	memcpy(c->path, p, strlen(p) + 1);
	rc = veld_config_parse(c, p, f, err, errlen);
	fclose(f);
	return rc;
}
