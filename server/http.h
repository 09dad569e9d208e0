/*
 * http.h - veldd's plain-HTTP endpoint (lws protocol "veld-http").
 *
 * It shares the listening port with the sync WebSocket (which comes later)
 * and, being protocols[0], receives every HTTP request that is not a
 * WebSocket upgrade.  Today it serves:
 *
 *	GET|HEAD /healthz  200 application/json
 *	                   {"status":"ok","version":"...","server_key":"<hex>"}
 *	GET|HEAD other     404 text/plain
 *	other methods      405 text/plain, connection closed
 *
 * and refuses WebSocket upgrades (no sync endpoint yet).
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
