/*
 * hlc.c - hybrid logical clock; see hlc.h.
 *
 * Kulkarni's rules, written with l = logical ms and c = counter:
 *   local/send: l' = max(l, wall); c' = (l' == l) ? c + 1 : 0
 *   receive m:  l' = max(l, m.l, wall);
 *               c' = l' == l == m.l ? max(c, m.c) + 1
 *                  : l' == l        ? c + 1
 *                  : l' == m.l      ? m.c + 1
 *                  :                  0
 * A counter that would pass 0xffff moves l' on by one millisecond instead.
 */
#include "hlc.h"

#include <time.h>

#include "err.h"

void veld_hlc_init(struct veld_hlc *c, uint64_t max_drift_ms)
{
	c->last = 0;
	c->max_drift_ms = max_drift_ms;
}

uint64_t veld_hlc_wall_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* Build the timestamp (ms, counter), carrying a counter overflow into ms. */
static int make(uint64_t ms, uint64_t counter, uint64_t *out)
{
	if (counter > VELD_HLC_COUNTER_MAX) {
		ms += 1;
		counter = 0;
	}
	if (ms > VELD_HLC_MS_MAX)
		return VELD_ECLOCKRANGE;
	*out = VELD_HLC_MAKE(ms, counter);
	return 0;
}

int veld_hlc_now(struct veld_hlc *c, uint64_t wall_ms, uint64_t *out)
{
	uint64_t l = VELD_HLC_MS(c->last), cnt = VELD_HLC_COUNTER(c->last);
	uint64_t t;
	int rc;

	if (wall_ms > VELD_HLC_MS_MAX)
		return VELD_ECLOCKRANGE;
	if (wall_ms > l)
		rc = make(wall_ms, 0, &t);
	else
		rc = make(l, cnt + 1, &t);
	if (rc < 0)
		return rc;
	c->last = t;
	*out = t;
	return 0;
}

int veld_hlc_recv(struct veld_hlc *c, uint64_t wall_ms, uint64_t remote,
		  uint64_t *out)
{
	uint64_t l = VELD_HLC_MS(c->last), cnt = VELD_HLC_COUNTER(c->last);
	uint64_t ml = VELD_HLC_MS(remote), mc = VELD_HLC_COUNTER(remote);
	uint64_t nl, nc, t;
	int rc;

	if (wall_ms > VELD_HLC_MS_MAX)
		return VELD_ECLOCKRANGE;
	if (ml > wall_ms && ml - wall_ms > c->max_drift_ms)
		return VELD_ECLOCKAHEAD;

	nl = l > ml ? l : ml;
	if (wall_ms > nl)
		nl = wall_ms;
	if (nl == l && nl == ml)
		nc = (cnt > mc ? cnt : mc) + 1;
	else if (nl == l)
		nc = cnt + 1;
	else if (nl == ml)
		nc = mc + 1;
	else
		nc = 0;

	rc = make(nl, nc, &t);
	if (rc < 0)
		return rc;
	c->last = t;
	*out = t;
	return 0;
}
