/*
 * websession.h - coordinators' browser sessions for the dashboard.
 *
 * A coordinator logs in with a one-time code from `veldd code new --role
 * coordinator` (code.h; the same codes that enrol a coordinator device,
 * single use either way).  The server then makes a session: 32 random
 * bytes (libsodium), given to the browser once as the cookie value
 * (base64url, 43 characters) and kept here only as
 *
 *	BLAKE2b-256("veld-web-session-1" || 0x00 || cookie value)
 *
 * so that nothing in veldd's memory or core dump can be replayed as a
 * cookie.  A session also holds a CSRF token (32 random bytes, hex) that
 * the page sends back in the X-CSRF-Token header of every write, the
 * coordinator's name (from the code: it attributes the writes), and an
 * absolute expiry on the monotonic clock.  Sessions live in memory: a
 * restart of veldd logs every coordinator out (docs/api.md).
 *
 * Failed logins share one token bucket (VELD_WEB_LOGIN_BURST, then
 * VELD_WEB_LOGIN_PER_MINUTE), like failed enrolments in registry.c, so
 * codes cannot be guessed through the dashboard either.
 *
 * Service thread only; no allocation (a fixed table).
 */
#ifndef VELD_WEBSESSION_H
#define VELD_WEBSESSION_H

#include <stddef.h>
#include <stdint.h>

#define VELD_WEB_SESSIONS_MAX 64 /* logged-in browsers at once */
#define VELD_WEB_TOKEN_BYTES 32
#define VELD_WEB_TOKEN_TEXT 44 /* base64url, no padding, and the NUL */
#define VELD_WEB_CSRF_TEXT 65  /* 64 hex digits and the NUL */
#define VELD_WEB_TTL_DEFAULT_S (8 * 3600)
#define VELD_WEB_LOGIN_BURST 10
#define VELD_WEB_LOGIN_PER_MINUTE 10
#define VELD_DS_WEB_SESSION "veld-web-session-1"

struct veld_websession {
	int used;
	uint64_t id; /* for logs and live connections; never reused */
	uint8_t hash[32];
	char csrf[VELD_WEB_CSRF_TEXT];
	char name[65];	     /* the coordinator, from the code */
	uint64_t expires_ms; /* monotonic */
};

struct veld_websessions {
	struct veld_websession s[VELD_WEB_SESSIONS_MAX];
	uint64_t ttl_ms;
	uint64_t next_id;
	double tokens; /* failed-login bucket */
	uint64_t refill_ms;
};

/* Empty table; sessions last ttl_s seconds (0: the default). */
void veld_websessions_init(struct veld_websessions *w, uint64_t ttl_s,
			   uint64_t now_ms);

/* Forget every session (wiping the hashes). */
void veld_websessions_release(struct veld_websessions *w);

/*
 * veld_websession_new - a new session for name (copied, cut to 64 bytes),
 * its cookie value into token.  When the table is full the session
 * closest to its expiry makes room.  Returns the session (borrowed).
 */
struct veld_websession *veld_websession_new(struct veld_websessions *w,
					    const char *name, uint64_t now_ms,
					    char token[VELD_WEB_TOKEN_TEXT]);

/*
 * veld_websession_find - the live session whose cookie value is token
 * (NUL-terminated), or NULL (unknown, malformed or expired; an expired
 * one is forgotten here).
 */
struct veld_websession *veld_websession_find(struct veld_websessions *w,
					     const char *token,
					     uint64_t now_ms);

/* 1 if s (NULL is fine) is still a live session at now_ms. */
int veld_websession_alive(const struct veld_websessions *w, uint64_t id,
			  uint64_t now_ms);

/* End s (logout). */
void veld_websession_end(struct veld_websession *s);

/* Seconds s has left. */
uint64_t veld_websession_left_s(const struct veld_websession *s,
				uint64_t now_ms);

/* Login rate limit: 1 if an attempt may be made now, else 0. */
int veld_websession_login_allowed(struct veld_websessions *w, uint64_t now_ms);

/* A login attempt failed: take one token. */
void veld_websession_login_failed(struct veld_websessions *w);

/* 1 if the CSRF token given (NULL is fine) is s's, in constant time. */
int veld_websession_csrf_ok(const struct veld_websession *s, const char *given);

#endif /* VELD_WEBSESSION_H */
