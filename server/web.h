/*
 * web.h - the coordinators' dashboard and its HTTP API, without the
 * transport.
 *
 * http.c (the lws protocol callback) reads a request into a struct
 * veld_web_req and writes back the struct veld_web_resp that
 * veld_web_handle() fills; everything the dashboard decides -- routes,
 * login and sessions (websession.h), CSRF and same-origin checks, the
 * JSON API (built by SQLite in the store's dashboard helpers), exports,
 * writes signed by the server on a coordinator's behalf -- is here, and
 * docs/api.md describes it for the people who call it.  The page's own
 * files (server/www/) are compiled in (assets.h): nothing is read from
 * disk at run time, so no path can reach outside them.
 *
 * Live updates: veld_web_committed() is veldd's srv->on_commit hook; when
 * the log has grown it calls web->wake so that live.c tells every open
 * dashboard WebSocket.
 *
 * Service thread only.
 */
#ifndef VELD_WEB_H
#define VELD_WEB_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "server.h"
#include "websession.h"

#define VELD_WEB_BODY_MAX (16 * 1024)		 /* request body */
#define VELD_WEB_RESPONSE_MAX (64 * 1024 * 1024) /* response body */
#define VELD_WEB_COOKIE "veld_session"

/* What veldd's dashboard keeps while it serves (owned by main.c). */
struct veld_web {
	struct veld_websessions sessions;
	int tls;		 /* cookies get "Secure" */
	int64_t notified;	 /* newest op position announced live */
	void (*wake)(void *ctx); /* live.c: tell every live page */
	void *wake_ctx;
};

enum veld_web_method {
	VELD_WEB_GET,
	VELD_WEB_HEAD,
	VELD_WEB_POST,
	VELD_WEB_OTHER,
};

/* One request; everything borrowed, NULL when absent. */
struct veld_web_req {
	enum veld_web_method method;
	const char *path; /* NUL-terminated, without the query */
	const char *cookie, *origin, *host, *csrf;
	/* Query argument name (decoded) into buf; NULL if absent. */
	const char *(*arg)(void *ctx, const char *name, char *buf, size_t n);
	void *arg_ctx;
	const char *body; /* POST body (may hold NULs), body_len bytes */
	size_t body_len;
};

/* The response; release with veld_web_resp_release. */
struct veld_web_resp {
	unsigned status;
	const char *type; /* Content-Type */
	struct veld_buf body;
	const unsigned char *fixed; /* or an embedded asset */
	size_t fixed_len;
	char cookie[192];      /* Set-Cookie value, or "" */
	char disposition[160]; /* Content-Disposition, or "" */
};

/* Start a struct veld_web: no sessions, sessions last ttl_s (0: 8 h). */
void veld_web_init(struct veld_web *w, uint64_t ttl_s, int tls);

/* Forget every session. */
void veld_web_release(struct veld_web *w);

/*
 * veld_web_handle - answer q into r (initialised here).  Always fills a
 * status; returns 0, or -1 if the connection should be dropped.
 */
int veld_web_handle(struct veld_server *srv, const struct veld_web_req *q,
		    struct veld_web_resp *r);

void veld_web_resp_release(struct veld_web_resp *r);

/*
 * veld_web_session - the live session named by a Cookie header (NULL is
 * fine), or NULL.  live.c authenticates its WebSockets with it.
 */
struct veld_websession *veld_web_session(struct veld_server *srv,
					 const char *cookie);

/* 1 if origin (NULL: refused) is this server as host names it. */
int veld_web_same_origin(const char *origin, const char *host);

/* srv->on_commit: if the log grew, wake the live pages. */
void veld_web_committed(struct veld_server *srv);

/* srv->on_event wrapper: records the event (event.h) and remembers when
 * each device last authenticated (the dashboard's "last sync"). */
void veld_web_event(struct veld_server *srv, const struct veld_event *ev);

#endif /* VELD_WEB_H */
