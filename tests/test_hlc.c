/*
 * test_hlc.c - hybrid logical clock rules (proto/hlc.c).
 */
#include "hlc.h"
#include "test.h"

#define T(ms, c) VELD_HLC_MAKE((ms), (c))

static void local_events(void)
{
	struct veld_hlc c;
	uint64_t t;

	veld_hlc_init(&c, VELD_HLC_DRIFT_DEFAULT_MS);
	CHECK_ERR(veld_hlc_now(&c, 1000, &t), 0);
	CHECK_U64(t, T(1000, 0));
	CHECK_ERR(veld_hlc_now(&c, 1000, &t), 0);
	CHECK_U64(t, T(1000, 1));
	/* Wall clock steps back (NTP, battery swap): we do not. */
	CHECK_ERR(veld_hlc_now(&c, 400, &t), 0);
	CHECK_U64(t, T(1000, 2));
	CHECK_ERR(veld_hlc_now(&c, 1001, &t), 0);
	CHECK_U64(t, T(1001, 0));
}

static void receive_rule(void)
{
	struct veld_hlc c;
	uint64_t t;

	veld_hlc_init(&c, 60000);
	c.last = T(1000, 5);
	/* Remote ahead of us and of the wall: take its ms, counter + 1. */
	CHECK_ERR(veld_hlc_recv(&c, 1200, T(1500, 3), &t), 0);
	CHECK_U64(t, T(1500, 4));
	/* Same ms on both sides: max counter + 1. */
	c.last = T(2000, 2);
	CHECK_ERR(veld_hlc_recv(&c, 1900, T(2000, 7), &t), 0);
	CHECK_U64(t, T(2000, 8));
	c.last = T(2000, 9);
	CHECK_ERR(veld_hlc_recv(&c, 1900, T(2000, 7), &t), 0);
	CHECK_U64(t, T(2000, 10));
	/* Ours ahead: our counter + 1. */
	c.last = T(3000, 4);
	CHECK_ERR(veld_hlc_recv(&c, 2000, T(2500, 9), &t), 0);
	CHECK_U64(t, T(3000, 5));
	/* Wall clock ahead of both: wall, counter 0. */
	CHECK_ERR(veld_hlc_recv(&c, 5000, T(4000, 9), &t), 0);
	CHECK_U64(t, T(5000, 0));
}

static void drift_bound(void)
{
	struct veld_hlc c;
	uint64_t t;

	veld_hlc_init(&c, 60000);
	c.last = T(1000, 0);
	CHECK_ERR(veld_hlc_recv(&c, 1000, T(1000 + 60001, 0), &t),
		  VELD_ECLOCKAHEAD);
	CHECK_U64(c.last, T(1000, 0)); /* refused: clock unchanged */
	CHECK_ERR(veld_hlc_recv(&c, 1000, T(1000 + 60000, 0), &t), 0);
	CHECK_U64(t, T(61000, 1));
	/* A remote far in the past is fine. */
	CHECK_ERR(veld_hlc_recv(&c, 1000, T(1, 0), &t), 0);
	CHECK_U64(t, T(61000, 2));
}

static void counter_overflow(void)
{
	struct veld_hlc c;
	uint64_t t;

	veld_hlc_init(&c, 60000);
	c.last = T(1000, 0xffff);
	CHECK_ERR(veld_hlc_now(&c, 900, &t), 0);
	CHECK_U64(t, T(1001, 0));
	c.last = T(1000, 0xfffe);
	CHECK_ERR(veld_hlc_recv(&c, 900, T(1000, 0xffff), &t), 0);
	CHECK_U64(t, T(1001, 0));
	/* 70,000 events in one wall millisecond: still strictly rising. */
	veld_hlc_init(&c, 60000);
	uint64_t prev = 0;
	int rising = 1;
	for (int i = 0; i < 70000; i++) {
		if (veld_hlc_now(&c, 5000, &t) != 0 || t <= prev)
			rising = 0;
		prev = t;
	}
	CHECK(rising);
	CHECK_U64(VELD_HLC_MS(prev), 5001);
}

static void range(void)
{
	struct veld_hlc c;
	uint64_t t = 0;

	veld_hlc_init(&c, 60000);
	CHECK_ERR(veld_hlc_now(&c, VELD_HLC_MS_MAX + 1, &t), VELD_ECLOCKRANGE);
	CHECK_U64(c.last, 0);
	c.last = T(VELD_HLC_MS_MAX, 0xffff);
	CHECK_ERR(veld_hlc_now(&c, 1000, &t), VELD_ECLOCKRANGE);
	CHECK_U64(c.last, T(VELD_HLC_MS_MAX, 0xffff));
	CHECK(veld_hlc_wall_ms() > UINT64_C(1700000000000));
}

/*
 * Three devices with skewed clocks exchange timestamps at random: every
 * clock's outputs strictly rise, and a receive is always later than what
 * was received.
 */
static void property_causality(void)
{
	struct veld_hlc c[3];
	uint64_t last[3] = {0}, wall = 100000, rs = 1;
	int64_t skew[3] = {0, -30000, 20000};
	int ok = 1;

	for (int i = 0; i < 3; i++)
		veld_hlc_init(&c[i], 60000);
	for (int step = 0; step < 100000 && ok; step++) {
		uint64_t r = test_rand(&rs), t;
		int a = (int)(r % 3), b = (int)((r >> 8) % 3);
		uint64_t w = (uint64_t)((int64_t)wall + skew[a]);

		wall += (r >> 16) % 3;
		if ((r >> 20) & 1) {
			if (veld_hlc_now(&c[a], w, &t) != 0)
				ok = 0;
		} else {
			if (veld_hlc_recv(&c[a], w, last[b], &t) != 0 ||
			    t <= last[b])
				ok = 0;
		}
		if (t <= last[a])
			ok = 0;
		last[a] = t;
	}
	CHECK(ok);
}

int main(void)
{
	local_events();
	receive_rule();
	drift_bound();
	counter_overflow();
	range();
	property_causality();
	return test_summary("test_hlc");
}
