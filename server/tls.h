/*
 * tls.h - veldd's own TLS certificate: describing it, and loading a
 * renewed one into the running server (SIGHUP).
 *
 * Certificates are renewed every few months (Let's Encrypt: 90 days);
 * restarting veldd for that would drop every live connection.  lws 4.1
 * can load new files into a live vhost's SSL_CTX (lws_tls_cert_updated):
 * connections made from then on get the new certificate, connections
 * already open keep the session they have.  What lws does not do is check
 * the pair first: a key that does not match the new certificate would
 * leave the vhost unable to complete any handshake.  So veld_tls_reload
 * first loads the pair into a throwaway vhost that listens nowhere, and
 * touches the live one only if that worked.
 *
 * The paths cannot change while veldd runs (lws finds the vhost by them):
 * renew by replacing the files at the same paths, then `kill -HUP`.
 *
 * Usage (the service loop, main.c):
 *
 *	char msg[VELD_TLS_MSG_MAX];
 *
 *	if (veld_tls_reload(cx, vh, cert, key, msg, sizeof(msg)) < 0)
 *		fprintf(stderr, "veldd: %s\n", msg);   // still serving
 */
#ifndef VELD_TLS_H
#define VELD_TLS_H

#include <limits.h>
#include <stddef.h>

struct lws_context;
struct lws_vhost;

#define VELD_TLS_MSG_MAX (2 * PATH_MAX + 256)

/*
 * veld_tls_describe - which certificate vh serves, for people, into buf
 * (len bytes, always NUL-terminated): "CN=example.org", or "no
 * certificate".  Not the expiry date: lws 4.1.6 reports notAfter a day
 * early and in local time (its ASN.1 time conversion), so check that with
 * `openssl x509 -enddate` instead.
 */
void veld_tls_describe(struct lws_vhost *vh, char *buf, size_t len);

/*
 * veld_tls_reload - load the certificate (chain) and private key from the
 * PEM files cert and key again, into vh for the connections made from now
 * on.  cert and key must be the very paths vh was created with.  Call it
 * from the lws service thread, between two lws_service() calls.
 *
 * If either file cannot be read, or the pair does not load (bad PEM, key
 * does not match the certificate), nothing changes and vh goes on with
 * the certificate it had.  msg (len bytes, always NUL-terminated) gets one
 * line for the log either way: "reloaded TLS certificate '...': CN=..."
 * or why not.  Returns 0, VELD_EIO (cannot read a file)
 * or VELD_EINVAL (the pair does not load; lws logs the details).
 */
int veld_tls_reload(struct lws_context *cx, struct lws_vhost *vh,
		    const char *cert, const char *key, char *msg, size_t len)
	__attribute__((warn_unused_result));

#endif /* VELD_TLS_H */
