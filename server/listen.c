/*
 * listen.c - parsing and checking the listen address; see listen.h.
 */
#include "listen.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "err.h"

/* A decimal port 1..65535 and nothing else (strtol allows "+", " "). */
static int parse_port(const char *s, int *port)
{
	char *end;
	long v;

	if (*s < '0' || *s > '9')
		return VELD_EINVAL;
	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || *end || v < 1 || v > 65535)
		return VELD_EINVAL;
	*port = (int)v;
	return 0;
}

int veld_listen_parse(struct veld_listen *l, const char *arg)
{
	struct veld_listen out = {.port = 0};
	const char *host = arg, *colon;
	int bracketed = *arg == '[';
	struct in6_addr a6;
	struct in_addr a4;
	size_t n;

	if (bracketed) {
		const char *close = strchr(arg, ']');

		if (!close || close[1] != ':')
			return VELD_EINVAL;
		host = arg + 1;
		n = (size_t)(close - host);
		colon = close + 1;
	} else {
		/* An unbracketed IPv6 address would be ambiguous: refused. */
		colon = strchr(arg, ':');
		if (!colon || strchr(colon + 1, ':'))
			return VELD_EINVAL;
		n = (size_t)(colon - arg);
	}
	if (n == 0 || n >= sizeof(out.host))
		return VELD_EINVAL;
	memcpy(out.host, host, n);
	out.host[n] = '\0';
	if (parse_port(colon + 1, &out.port) < 0)
		return VELD_EINVAL;

	if (bracketed) {
		if (inet_pton(AF_INET6, out.host, &a6) != 1)
			return VELD_EINVAL;
		out.ipv6 = 1;
		out.loopback =
			IN6_IS_ADDR_LOOPBACK(&a6) ||
			(IN6_IS_ADDR_V4MAPPED(&a6) && a6.s6_addr[12] == 127);
	} else {
		if (!strcmp(out.host, "localhost"))
			snprintf(out.host, sizeof(out.host), "127.0.0.1");
		if (inet_pton(AF_INET, out.host, &a4) != 1)
			return VELD_EINVAL;
		out.loopback = (ntohl(a4.s_addr) >> 24) == 127;
	}
	*l = out;
	return 0;
}

int veld_listen_check(const struct veld_listen *l)
{
	struct sockaddr_in6 s6 = {.sin6_family = AF_INET6};
	struct sockaddr_in s4 = {.sin_family = AF_INET};
	struct sockaddr *sa;
	socklen_t salen;
	int fd, rc, saved;

	if (l->ipv6) {
		if (inet_pton(AF_INET6, l->host, &s6.sin6_addr) != 1)
			return VELD_EINVAL;
		sa = (struct sockaddr *)&s6;
		salen = sizeof(s6);
	} else {
		if (inet_pton(AF_INET, l->host, &s4.sin_addr) != 1)
			return VELD_EINVAL;
		sa = (struct sockaddr *)&s4;
		salen = sizeof(s4);
	}
	fd = socket(sa->sa_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return VELD_EIO;
	rc = bind(fd, sa, salen); /* port 0: any free one */
	saved = errno;
	close(fd);
	errno = saved;
	return rc < 0 ? VELD_EIO : 0;
}

void veld_listen_url_host(const struct veld_listen *l, char *buf, size_t len)
{
	snprintf(buf, len, l->ipv6 ? "[%s]" : "%s", l->host);
}
