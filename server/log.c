/*
 * log.c - structured log lines; see log.h.
 *
 * A line is assembled in a fixed buffer and written at once.  Appending
 * never fails: what does not fit is dropped and the line ends with
 * truncated=true instead, so a long library message cannot cost the event.
 */
#include "log.h"

#include <inttypes.h>
#include <stdarg.h>
#include <string.h>
#include <time.h>

#include "err.h"

/* Room kept free at the end of a line for " truncated=true\n". */
#define TAIL_ROOM 24

static const char *const level_names[] = {"error", "warn", "info", "debug"};

#define N_LEVELS ((int)(sizeof(level_names) / sizeof(level_names[0])))

void veld_log_init(struct veld_log *lg, FILE *out)
{
	lg->level = VELD_LOG_INFO;
	lg->out = out;
}

int veld_log_level_parse(const char *name)
{
	for (int i = 0; name && i < N_LEVELS; i++)
		if (!strcmp(name, level_names[i]))
			return i;
	return VELD_EINVAL;
}

int veld_log_set_level(struct veld_log *lg, const char *name)
{
	int level = veld_log_level_parse(name);

	if (level < 0)
		return level;
	lg->level = level;
	return 0;
}

const char *veld_log_level_name(int level)
{
	return level >= 0 && level < N_LEVELS ? level_names[level] : "?";
}

int veld_log_enabled(const struct veld_log *lg, int level)
{
	return lg && lg->out && level <= lg->level;
}

/*
 * Append " key=value" (value already in logfmt), whole or not at all: what
 * does not fit marks the line truncated, and so does everything after it.
 */
static void put_pair(struct veld_log_line *l, const char *key, const char *val,
		     size_t vlen)
{
	size_t klen = strlen(key);
	size_t room = VELD_LOG_LINE_MAX - TAIL_ROOM - l->len;

	if (l->truncated || vlen > room || klen + 2 > room - vlen) {
		l->truncated = 1;
		return;
	}
	l->buf[l->len++] = ' ';
	memcpy(l->buf + l->len, key, klen);
	l->len += klen;
	l->buf[l->len++] = '=';
	memcpy(l->buf + l->len, val, vlen);
	l->len += vlen;
}

static void put_num(struct veld_log_line *l, const char *key, const char *fmt,
		    ...) __attribute__((format(printf, 3, 4)));

/* A number: never needs quotes. */
static void put_num(struct veld_log_line *l, const char *key, const char *fmt,
		    ...)
{
	char num[48];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(num, sizeof(num), fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(num)) {
		l->truncated = 1;
		return;
	}
	put_pair(l, key, num, (size_t)n);
}

int veld_log_begin(const struct veld_log *lg, struct veld_log_line *l,
		   int level, const char *event)
{
	struct timespec ts;
	struct tm tm;
	char when[32];
	int n;

	if (!veld_log_enabled(lg, level))
		return 0;
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%S", &tm);
	/* Far shorter than a line: the rest is put_pair's business. */
	n = snprintf(l->buf, sizeof(l->buf), "ts=%s.%03dZ level=%s", when,
		     (int)(ts.tv_nsec / 1000000), veld_log_level_name(level));
	l->len = n > 0 ? (size_t)n : 0;
	l->truncated = 0;
	veld_log_str(l, "event", event);
	return 1;
}

/* Does val have to be quoted? */
static int needs_quotes(const char *val)
{
	if (!*val)
		return 1;
	for (const unsigned char *p = (const unsigned char *)val; *p; p++)
		if (*p <= ' ' || *p == '=' || *p == '"' || *p == '\\' ||
		    *p == 0x7f)
			return 1;
	return 0;
}

/* A bounded output that still counts what did not fit (like snprintf). */
struct sink {
	char *dst;
	size_t n;   /* capacity, > 0 */
	size_t len; /* bytes wanted so far */
};

static void sink_put(struct sink *s, char c)
{
	if (s->len + 1 < s->n)
		s->dst[s->len] = c;
	s->len++;
}

static void sink_puts(struct sink *s, const char *str)
{
	while (*str)
		sink_put(s, *str++);
}

size_t veld_log_quote(char *dst, size_t n, const char *val)
{
	static const char hex[] = "0123456789abcdef";
	struct sink s = {dst, n, 0};
	const unsigned char *p = (const unsigned char *)val;

	if (!needs_quotes(val)) {
		sink_puts(&s, val);
	} else {
		sink_put(&s, '"');
		for (; *p; p++) {
			if (*p == '"')
				sink_puts(&s, "\\\"");
			else if (*p == '\\')
				sink_puts(&s, "\\\\");
			else if (*p == '\n')
				sink_puts(&s, "\\n");
			else if (*p == '\r')
				sink_puts(&s, "\\r");
			else if (*p == '\t')
				sink_puts(&s, "\\t");
			else if (*p < ' ' || *p == 0x7f) {
				sink_puts(&s, "\\u00");
				sink_put(&s, hex[*p >> 4]);
				sink_put(&s, hex[*p & 15]);
			} else {
				sink_put(&s, (char)*p); /* UTF-8 passes */
			}
		}
		sink_put(&s, '"');
	}
	dst[s.len < n ? s.len : n - 1] = '\0';
	return s.len;
}

void veld_log_str(struct veld_log_line *l, const char *key, const char *val)
{
	char q[VELD_LOG_LINE_MAX];
	size_t n = veld_log_quote(q, sizeof(q), val ? val : "");

	if (n >= sizeof(q)) {
		l->truncated = 1;
		return;
	}
	put_pair(l, key, q, n);
}

void veld_log_u64(struct veld_log_line *l, const char *key, uint64_t val)
{
	put_num(l, key, "%" PRIu64, val);
}

void veld_log_int(struct veld_log_line *l, const char *key, int val)
{
	put_num(l, key, "%d", val);
}

void veld_log_hex(struct veld_log_line *l, const char *key, const uint8_t *p,
		  size_t n)
{
	char hex[2 * VELD_LOG_ID_BYTES + 1];

	if (n > VELD_LOG_ID_BYTES)
		n = VELD_LOG_ID_BYTES;
	for (size_t i = 0; i < n; i++)
		snprintf(hex + 2 * i, 3, "%02x", p[i]);
	hex[2 * n] = '\0';
	veld_log_str(l, key, hex); /* "" if n is 0 */
}

void veld_log_ms(struct veld_log_line *l, const char *key, uint64_t us)
{
	put_num(l, key, "%" PRIu64 ".%" PRIu64, us / 1000, us % 1000 / 100);
}

void veld_log_end(const struct veld_log *lg, struct veld_log_line *l)
{
	static const char tail[] = " truncated=true";

	/* TAIL_ROOM is always left free for these. */
	if (l->truncated) {
		memcpy(l->buf + l->len, tail, sizeof(tail) - 1);
		l->len += sizeof(tail) - 1;
	}
	l->buf[l->len++] = '\n';
	fwrite(l->buf, 1, l->len, lg->out);
}

void veld_log_message(const struct veld_log *lg, int level, const char *event,
		      const char *text)
{
	char msg[VELD_LOG_LINE_MAX / 2];
	struct veld_log_line l;
	size_t n;
	int cut;

	if (!veld_log_begin(lg, &l, level, event))
		return;
	cut = snprintf(msg, sizeof(msg), "%s", text ? text : "") >=
	      (int)sizeof(msg);
	/* Without the newline libraries end their messages with. */
	n = strlen(msg);
	while (n && (msg[n - 1] == '\n' || msg[n - 1] == '\r'))
		msg[--n] = '\0';
	veld_log_str(&l, "msg", msg);
	if (cut)
		l.truncated = 1;
	veld_log_end(lg, &l);
}
