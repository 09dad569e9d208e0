/*
 * live.h - the dashboard's live feed: a WebSocket (subprotocol
 * "veld-live", path /live) from the page to veldd.
 *
 * The upgrade is refused unless the request carries a live dashboard
 * session cookie (web.h) and comes from the same origin.  The server
 * sends text messages only, each a JSON object:
 *
 *	{"type":"ops","pos":N}   the log grew (N: newest op position)
 *
 * and the page fetches what it shows again.  The socket is closed when
 * its session ends (logout or expiry), checked once a second.  Whatever
 * the page sends is ignored (at most 256 bytes a message).
 */
#ifndef VELD_LIVE_H
#define VELD_LIVE_H

#include <libwebsockets.h>

#include "server.h"

#define VELD_LIVE_PROTOCOL_NAME "veld-live"

extern const struct lws_protocols veld_live_protocol;

/* Wake every live connection of context (web->wake). */
void veld_live_wake(void *context);

/* Once a second: close live connections whose session ended. */
void veld_live_tick(struct lws_context *context);

#endif /* VELD_LIVE_H */
