/*
 * http.h - veldd's plain-HTTP endpoint (lws protocol "veld-http").
 *
 * It shares the listening port with the sync WebSocket (ws.c) and the
 * dashboard's live WebSocket (live.c) and, being protocols[0], receives
 * every HTTP request that is not a WebSocket upgrade.  It serves:
 *
 *	GET|HEAD /healthz  200 application/json
 *	                   {"status":"ok","version":"...","server_key":"<hex>"}
 *	GET|HEAD /metrics  200 text/plain; version=0.0.4 (Prometheus text
 *	                   exposition format; see metrics.h)
 *	everything else    the dashboard and its API (web.c, docs/api.md):
 *	                   GET|HEAD|POST, 404 for unknown paths, 405 for other
 *	                   methods (connection closed)
 *
 * Neither /healthz nor /metrics asks for credentials, by decision: both
 * are read-only, and /metrics tells counts (ops, sessions, bytes, error
 * names, store size), never a device id, a key or anything about a
 * resident.  veldd listens on loopback by default, where only the host's
 * own users and a scraper on it can reach them.  Deployments that publish
 * veldd through a reverse proxy should publish /sync, the dashboard (/,
 * /api/, /live) and /healthz if wanted, and keep /metrics for the
 * monitoring network (an nginx "location = /metrics { allow 10.0.0.0/8;
 * deny all; }"): traffic volume over time is still information about a
 * municipality's field work.  The context's user pointer must be the
 * struct veld_server (for /metrics and the dashboard, srv->web).
 *
 * An upgrade that names no known subprotocol is refused here.
 *
 * Configuration comes per vhost, as protocol options (pvo) named
 * VELD_HTTP_PROTOCOL_NAME with these children:
 *
 *	VELD_HTTP_PVO_SERVER_KEY  server public key, 64 lowercase hex digits
 *
 * The vhost creation fails if it is missing or malformed.  The value is
 * copied into per-vhost storage at PROTOCOL_INIT, but lws keeps pointers
 * to the pvo list itself: it must outlive the vhost.
 */
#ifndef VELD_HTTP_H
#define VELD_HTTP_H

#include <libwebsockets.h>

#define VELD_HTTP_PROTOCOL_NAME "veld-http"
#define VELD_HTTP_PVO_SERVER_KEY "server-key"

/* The protocol; put it first in the vhost's protocol list. */
extern const struct lws_protocols veld_http_protocol;

#endif /* VELD_HTTP_H */
