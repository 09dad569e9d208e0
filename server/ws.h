/*
 * ws.h - the sync endpoint: lws protocol "veld.4" on path /sync.
 *
 * This file's callbacks are the only place where sync connections meet
 * libwebsockets: they assemble fragmented messages (up to VELD_MSG_MAX),
 * hand whole ones to session.c, write what it queues (one lws_write per
 * WRITEABLE), pause reading while a PUSH is checked, enforce the handshake
 * timeout, and drain the ingest pool when a worker wakes the loop.
 *
 * The context's user pointer must be the struct veld_server.
 */
#ifndef VELD_WS_H
#define VELD_WS_H

#include <libwebsockets.h>

#include "server.h"

extern const struct lws_protocols veld_ws_protocol;
/* "veld.3", "veld.2" and "veld.1": answer an out-of-date device with ERROR
 * EVERSION, then close. */
extern const struct lws_protocols veld_ws_v3_protocol;
extern const struct lws_protocols veld_ws_v2_protocol;
extern const struct lws_protocols veld_ws_v1_protocol;

/* Fill srv->tx with this transport's hooks. */
void veld_ws_bind(struct veld_server *srv);

/* Wake the service loop from a worker thread (ctx: the lws_context). */
void veld_ws_wake(void *ctx);

#endif /* VELD_WS_H */
