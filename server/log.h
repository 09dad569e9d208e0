/*
 * log.h - veldd's structured log: one logfmt line per event on stderr.
 *
 *	ts=2026-11-27T23:30:01.123Z level=info event=push session=7
 *	device=1a2b3c4d ops=12 seq=40 ms=3.1
 *
 * (one line; wrapped here).  Every line starts with ts (UTC, milliseconds),
 * level and event; key=value pairs follow.  Keys are literals of
 * [a-z0-9_]; a value is written bare unless it is empty or holds a space,
 * '=', '"', '\' or a control character, in which case it is quoted with
 * "..." and \\ \" \n \r \t \u00XX escapes (veld_log_quote).
 *
 * What may be logged: ids (a device key's first 4 bytes as 8 hex digits,
 * op or record id prefixes), counts, sizes, timings, error names, roles and
 * messages written by us or by libwebsockets.  Never a record's field
 * values, a device's name or area, an enrolment code, a key in full, or a
 * peer's IP address: the log is read by people who may not see residents'
 * data, and it is kept longer than anyone remembers.  That is why the API
 * below has no printf: every value goes in through a typed call.
 *
 * State: a struct veld_log hangs off struct veld_server (server.h) and is
 * passed explicitly; there is no global logger.  A line is built in a
 * fixed buffer on the caller's stack and written with one fwrite, so lines
 * from one process never interleave (stderr is unbuffered).  Only the lws
 * service thread logs.
 *
 * Usage:
 *
 *	struct veld_log_line l;
 *
 *	if (veld_log_begin(&srv->log, &l, VELD_LOG_INFO, "push")) {
 *		veld_log_hex(&l, "device", key, VELD_LOG_ID_BYTES);
 *		veld_log_u64(&l, "ops", n);
 *		veld_log_ms(&l, "ms", us);
 *		veld_log_end(&srv->log, &l);
 *	}
 */
#ifndef VELD_LOG_H
#define VELD_LOG_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* Levels, most severe first: a threshold lets through itself and above. */
enum veld_log_level {
	VELD_LOG_ERROR,
	VELD_LOG_WARN,
	VELD_LOG_INFO,
	VELD_LOG_DEBUG,
};

#define VELD_LOG_LINE_MAX 512 /* longer lines end in truncated=true */
#define VELD_LOG_ID_BYTES 4   /* ids are logged as their first 4 bytes */

struct veld_log {
	int level; /* enum veld_log_level: the threshold */
	FILE *out; /* borrowed; stderr in veldd */
};

struct veld_log_line {
	char buf[VELD_LOG_LINE_MAX];
	size_t len;
	int truncated;
};

/* Prepare lg: threshold info, lines to out (borrowed). */
void veld_log_init(struct veld_log *lg, FILE *out);

/*
 * veld_log_set_level - set the threshold by name: "error", "warn", "info"
 * or "debug".  Returns 0, or VELD_EINVAL (threshold unchanged) for any
 * other name.
 */
int veld_log_set_level(struct veld_log *lg, const char *name)
	__attribute__((warn_unused_result));

/* The level called name (as above), or VELD_EINVAL. */
int veld_log_level_parse(const char *name);

/* The level's name ("info"), or "?" for a bad level. */
const char *veld_log_level_name(int level);

/* 1 if a line of this level would be written. */
int veld_log_enabled(const struct veld_log *lg, int level);

/*
 * veld_log_begin - start a line (ts, level, event) in l; returns 1, or 0
 * if the level is below the threshold (then l is untouched: skip the rest).
 * event is a literal of [a-z_].
 */
int veld_log_begin(const struct veld_log *lg, struct veld_log_line *l,
		   int level, const char *event);

/* Add key=value; value is quoted and escaped when it needs to be. */
void veld_log_str(struct veld_log_line *l, const char *key, const char *val);
void veld_log_u64(struct veld_log_line *l, const char *key, uint64_t val);
void veld_log_int(struct veld_log_line *l, const char *key, int val);

/* key=<n bytes of p as lowercase hex>; n is capped at VELD_LOG_ID_BYTES. */
void veld_log_hex(struct veld_log_line *l, const char *key, const uint8_t *p,
		  size_t n);

/* key=<microseconds us as milliseconds with one decimal> ("3.1"). */
void veld_log_ms(struct veld_log_line *l, const char *key, uint64_t us);

/* Finish the line (newline) and write it to lg->out. */
void veld_log_end(const struct veld_log *lg, struct veld_log_line *l);

/*
 * veld_log_quote - write val into dst (capacity n > 0, always
 * NUL-terminated) as a logfmt value, quoted if it needs to be.  Returns the
 * length it needed (like snprintf): >= n means dst was cut short.  Public
 * for the tests.
 */
size_t veld_log_quote(char *dst, size_t n, const char *val);

/*
 * veld_log_message - one free-text line from a library (libwebsockets):
 * event=<event> msg="<text without its trailing newline>", at level.
 */
void veld_log_message(const struct veld_log *lg, int level, const char *event,
		      const char *text);

#endif /* VELD_LOG_H */
