/*
 * websession.c - coordinators' browser sessions; see websession.h.
 */
#include "websession.h"

#include <string.h>

#include <sodium.h>

static void token_hash(const char *token, size_t n, uint8_t out[32])
{
	crypto_generichash_state st;

	crypto_generichash_init(&st, NULL, 0, 32);
	crypto_generichash_update(&st, (const uint8_t *)VELD_DS_WEB_SESSION,
				  sizeof(VELD_DS_WEB_SESSION));
	crypto_generichash_update(&st, (const uint8_t *)token, n);
	crypto_generichash_final(&st, out, 32);
}

void veld_websessions_init(struct veld_websessions *w, uint64_t ttl_s,
			   uint64_t now_ms)
{
	memset(w, 0, sizeof(*w));
	w->ttl_ms = (ttl_s ? ttl_s : VELD_WEB_TTL_DEFAULT_S) * 1000;
	w->next_id = 1;
	w->tokens = VELD_WEB_LOGIN_BURST;
	w->refill_ms = now_ms;
}

void veld_websessions_release(struct veld_websessions *w)
{
	sodium_memzero(w->s, sizeof(w->s));
}

struct veld_websession *veld_websession_new(struct veld_websessions *w,
					    const char *name, uint64_t now_ms,
					    char token[VELD_WEB_TOKEN_TEXT])
{
	uint8_t raw[VELD_WEB_TOKEN_BYTES], csrf[32];
	struct veld_websession *s = &w->s[0];
	size_t n = strlen(name);

	for (size_t i = 0; i < VELD_WEB_SESSIONS_MAX; i++) {
		struct veld_websession *c = &w->s[i];
		if (!c->used || c->expires_ms <= now_ms) {
			s = c;
			break;
		}
		if (c->expires_ms < s->expires_ms)
			s = c;
	}
	randombytes_buf(raw, sizeof(raw));
	sodium_bin2base64(token, VELD_WEB_TOKEN_TEXT, raw, sizeof(raw),
			  sodium_base64_VARIANT_URLSAFE_NO_PADDING);
	sodium_memzero(raw, sizeof(raw));
	randombytes_buf(csrf, sizeof(csrf));

	memset(s, 0, sizeof(*s));
	s->used = 1;
	s->id = w->next_id++;
	token_hash(token, strlen(token), s->hash);
	sodium_bin2hex(s->csrf, sizeof(s->csrf), csrf, sizeof(csrf));
	if (n > sizeof(s->name) - 1)
		n = sizeof(s->name) - 1;
	memcpy(s->name, name, n);
	s->expires_ms = now_ms + w->ttl_ms;
	return s;
}

struct veld_websession *veld_websession_find(struct veld_websessions *w,
					     const char *token, uint64_t now_ms)
{
	size_t n = strlen(token);
	uint8_t h[32];

	if (n != VELD_WEB_TOKEN_TEXT - 1)
		return NULL;
	token_hash(token, n, h);
	for (size_t i = 0; i < VELD_WEB_SESSIONS_MAX; i++) {
		struct veld_websession *s = &w->s[i];
		if (!s->used || sodium_memcmp(s->hash, h, sizeof(h)) != 0)
			continue;
		if (s->expires_ms <= now_ms) {
			veld_websession_end(s);
			return NULL;
		}
		return s;
	}
	return NULL;
}

int veld_websession_alive(const struct veld_websessions *w, uint64_t id,
			  uint64_t now_ms)
{
	for (size_t i = 0; i < VELD_WEB_SESSIONS_MAX; i++)
		if (w->s[i].used && w->s[i].id == id)
			return w->s[i].expires_ms > now_ms;
	return 0;
}

void veld_websession_end(struct veld_websession *s)
{
	sodium_memzero(s, sizeof(*s));
}

uint64_t veld_websession_left_s(const struct veld_websession *s,
				uint64_t now_ms)
{
	return s->expires_ms > now_ms ? (s->expires_ms - now_ms) / 1000 : 0;
}

int veld_websession_login_allowed(struct veld_websessions *w, uint64_t now_ms)
{
	double add = (double)(now_ms - w->refill_ms) *
		     VELD_WEB_LOGIN_PER_MINUTE / 60000.0;

	w->refill_ms = now_ms;
	w->tokens += add;
	if (w->tokens > VELD_WEB_LOGIN_BURST)
		w->tokens = VELD_WEB_LOGIN_BURST;
	return w->tokens >= 1.0;
}

void veld_websession_login_failed(struct veld_websessions *w)
{
	w->tokens -= 1.0;
}

int veld_websession_csrf_ok(const struct veld_websession *s, const char *given)
{
	if (!given || strlen(given) != VELD_WEB_CSRF_TEXT - 1)
		return 0;
	return sodium_memcmp(s->csrf, given, VELD_WEB_CSRF_TEXT - 1) == 0;
}
