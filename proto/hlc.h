/*
 * hlc.h - hybrid logical clock (Kulkarni et al., "Logical Physical Clocks",
 * 2014).
 *
 * A timestamp is one uint64: the upper 48 bits are milliseconds since the
 * Unix epoch, the lower 16 bits a counter that orders events within one
 * millisecond.  Comparing two timestamps as integers orders them.  The
 * clock never runs backwards, stays close to wall-clock time, and after
 * veld_hlc_recv() is ahead of every timestamp it has seen, so causally
 * later ops get larger timestamps even across devices with skewed clocks.
 *
 * Wall-clock time is passed in (veld_hlc_wall_ms() reads the real one) so
 * that tests can drive the clock.
 *
 * Counter overflow: when 65,536 timestamps are taken within one logical
 * millisecond, the clock moves to the next millisecond with counter 0.  The
 * logical time then runs at most (events/65536) ms ahead of the wall clock,
 * and catches up as soon as the wall clock passes it.
 */
#ifndef VELD_HLC_H
#define VELD_HLC_H

#include <stdint.h>

#define VELD_HLC_MS_BITS 48
#define VELD_HLC_MS_MAX ((UINT64_C(1) << VELD_HLC_MS_BITS) - 1)
#define VELD_HLC_COUNTER_MAX UINT64_C(0xffff)
/* Default maximum lead of a remote clock over ours: 10 minutes. */
#define VELD_HLC_DRIFT_DEFAULT_MS (10 * 60 * 1000)

#define VELD_HLC_MS(t) ((t) >> 16)
#define VELD_HLC_COUNTER(t) ((t)&0xffff)
#define VELD_HLC_MAKE(ms, c) (((uint64_t)(ms) << 16) | ((uint64_t)(c)&0xffff))

struct veld_hlc {
	uint64_t last;	       /* last timestamp issued or merged; 0 = none */
	uint64_t max_drift_ms; /* remote ms > wall + this is refused */
};

/* A clock that has issued nothing yet, with the given drift bound. */
void veld_hlc_init(struct veld_hlc *c, uint64_t max_drift_ms);

/* Milliseconds since the Unix epoch from CLOCK_REALTIME. */
uint64_t veld_hlc_wall_ms(void);

/*
 * veld_hlc_now - timestamp for a local event (or a send): strictly greater
 * than every timestamp issued or merged before.  Returns 0 or
 * VELD_ECLOCKRANGE if wall_ms, or the clock after a counter overflow, does
 * not fit in 48 bits; the clock is then unchanged.
 */
int veld_hlc_now(struct veld_hlc *c, uint64_t wall_ms, uint64_t *out)
	__attribute__((warn_unused_result));

/*
 * veld_hlc_recv - merge a remote timestamp (receive rule) and return the
 * new local time, greater than both the remote timestamp and everything
 * before.  Refuses, leaving the clock unchanged: VELD_ECLOCKAHEAD when the
 * remote milliseconds are more than max_drift_ms ahead of wall_ms (a device
 * with a broken clock must not drag every replica into the future);
 * VELD_ECLOCKRANGE as for veld_hlc_now.
 */
int veld_hlc_recv(struct veld_hlc *c, uint64_t wall_ms, uint64_t remote,
		  uint64_t *out) __attribute__((warn_unused_result));

#endif /* VELD_HLC_H */
