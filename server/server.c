/*
 * server.c - the few things veldd's modules share; see server.h.
 */
#include "server.h"

#include <time.h>

#include "session.h"

uint64_t veld_server_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

uint64_t veld_server_now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

void veld_server_committed(struct veld_server *srv)
{
	for (struct veld_session *s = srv->sessions; s; s = s->next)
		veld_session_pump(s);
	if (srv->on_commit)
		srv->on_commit(srv);
}

void veld_server_check_revoked(struct veld_server *srv)
{
	for (struct veld_session *s = srv->sessions; s; s = s->next)
		veld_session_check_revoked(s);
}
