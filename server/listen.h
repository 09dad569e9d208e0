/*
 * listen.h - the address veldd listens on (--listen HOST:PORT).
 *
 * HOST is numeric on purpose: lws binds to exactly what it is given, and
 * veldd must know whether the address is loopback (anything else, without
 * TLS, earns a loud warning).  Accepted forms:
 *
 *	127.0.0.1:8787   IPv4
 *	[::1]:8787       IPv6, in brackets as in URLs
 *	localhost:8787   shorthand for 127.0.0.1
 *
 * PORT is decimal, 1..65535.
 */
#ifndef VELD_LISTEN_H
#define VELD_LISTEN_H

#include <netinet/in.h>
#include <stddef.h>

#define VELD_LISTEN_DEFAULT "127.0.0.1:8787"

struct veld_listen {
	char host[INET6_ADDRSTRLEN]; /* numeric address, no brackets */
	int port;
	int ipv6;
	int loopback;
};

/*
 * veld_listen_parse - parse HOST:PORT into *l.  Returns 0 or VELD_EINVAL;
 * *l is unchanged on failure.
 */
int veld_listen_parse(struct veld_listen *l, const char *arg)
	__attribute__((warn_unused_result));

/*
 * veld_listen_check - can this machine listen on l->host at all?  Binds a
 * throwaway socket to the address with an ephemeral port, so it finds an
 * address that is not ours (lws would wait for it to appear) without
 * taking l->port.  Returns 0, or VELD_EIO with errno set.
 */
int veld_listen_check(const struct veld_listen *l)
	__attribute__((warn_unused_result));

/* veld_listen_url_host - the host as written in a URL: "[::1]", "127.0.0.1". */
void veld_listen_url_host(const struct veld_listen *l, char *buf, size_t len);

#endif /* VELD_LISTEN_H */
