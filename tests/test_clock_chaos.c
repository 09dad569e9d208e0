/*
 * test_clock_chaos.c - device clocks that are wrong, in-process: a server
 * replica and a field device replica, each with its own wall clock
 * (veld_replica_set_wall), shipping ops as a sync would.
 *
 *  - a device clock hours (or days) behind, after the device has seen ops
 *    stamped with the right time (its own enrolment, at least): the field
 *    worker can still record, the ops carry clocks after everything the
 *    device has seen (HLC), and the server takes them;
 *  - a device clock ahead within the drift bound (5 minutes): taken;
 *  - ahead beyond it (3 hours): the device records (its entries are safe
 *    locally), the server refuses the push with ECLOCKAHEAD and stores
 *    nothing; once the server's time has caught up, the same ops go in.
 *
 * The real-process version (libfaketime, veld and veldd) is
 * tests/integration/fault_clock.sh.
 */
#include <sodium.h>

#include "hlc.h"
#include "replica_util.h"

static struct veld_key kS, kA;
static const uint64_t T0 = UINT64_C(1767225600000); /* 2026-01-01 */
static uint64_t server_wall, device_wall;

static uint64_t server_clock(void *ctx)
{
	(void)ctx;
	return server_wall;
}

static uint64_t device_clock(void *ctx)
{
	(void)ctx;
	return device_wall;
}

/* Ship every op of `from` after *cursor to `to`; returns the first
 * refusal's code (0 if none) and leaves to unchanged on refusal (a device
 * pushes its chain all or nothing). */
static int ship_chain(struct veld_replica *from, struct veld_replica *to,
		      const uint8_t *only_author)
{
	struct oplist l;
	struct veld_bytes b[64];
	size_t n = 0, bad = 0;
	int rc;

	oplist_load(&l, from);
	for (size_t i = 0; i < l.n && n < 64; i++) {
		struct veld_op op;
		if (veld_op_decode(l.ops[i].data, l.ops[i].len, &op))
			abort();
		if (only_author && memcmp(op.h.author, only_author, 32))
			continue;
		b[n++] = (struct veld_bytes){l.ops[i].data, l.ops[i].len};
	}
	rc = n ? veld_replica_apply_all(to, b, n, 0, &bad) : 0;
	oplist_release(&l);
	return rc;
}

static int put(struct veld_replica *r, const char *wish, uint8_t id[32])
{
	struct veld_field f = {.name = "wish", .text = wish};
	uint8_t rec[16];

	return veld_replica_put(r, rec, 1, "huisbezoek", "noord", &f, 1, id);
}

static uint64_t hlc_of(struct veld_replica *r, const uint8_t id[32])
{
	struct oplist l;
	uint64_t hlc = 0;

	oplist_load(&l, r);
	for (size_t i = 0; i < l.n; i++) {
		struct veld_op op;
		if (veld_op_decode(l.ops[i].data, l.ops[i].len, &op))
			abort();
		if (!memcmp(op.id, id, 32))
			hlc = op.h.hlc;
	}
	oplist_release(&l);
	return hlc;
}

static void setup(struct veld_replica **srv, struct veld_replica **dev)
{
	uint8_t form[16], id[32];
	static const uint8_t def[] = {0x81, 0xa6, 'f', 'i', 'e',
				      'l',  'd',  's', 0x90};

	server_wall = device_wall = T0;
	CHECK_EQ(veld_replica_open(":memory:", &kS, kS.pk, srv), 0);
	CHECK_EQ(veld_replica_open(":memory:", &kA, kS.pk, dev), 0);
	veld_replica_set_wall(*srv, server_clock, NULL);
	veld_replica_set_wall(*dev, device_clock, NULL);
	CHECK_EQ(veld_replica_device(*srv, kA.pk, "field", "Ahmed", "noord", 0,
				     id),
		 0);
	CHECK_EQ(veld_replica_form(*srv, form, 1, "huisbezoek", def,
				   sizeof(def), id),
		 0);
	/* Enrolment: the device gets the registry and forms, stamped T0. */
	CHECK_EQ(ship_chain(*srv, *dev, NULL), 0);
}

static void clock_behind(void)
{
	struct veld_replica *srv, *dev;
	uint8_t id1[32], id2[32], h1[32], h2[32];
	static const uint64_t behind[] = {3600000, 3 * 3600000,
					  3 * 86400000ull};

	for (size_t i = 0; i < 3; i++) {
		setup(&srv, &dev);
		server_wall = T0 + 1000;
		device_wall = T0 - behind[i]; /* battery died, clock reset */
		CHECK_ERR(put(dev, "bankjes", id1), 0);
		CHECK_ERR(put(dev, "bloemen", id2), 0);
		/* The HLC carries on after what the device has seen. */
		CHECK(VELD_HLC_MS(hlc_of(dev, id1)) >= T0);
		CHECK(hlc_of(dev, id2) > hlc_of(dev, id1));
		CHECK_ERR(ship_chain(dev, srv, kA.pk), 0);
		state_hash(srv, h1);
		state_hash(dev, h2);
		CHECK_MEM(h1, h2, 32);
		veld_replica_close(srv);
		veld_replica_close(dev);
	}
}

static void clock_ahead(void)
{
	struct veld_replica *srv, *dev;
	uint8_t id1[32], id2[32], h0[32], h1[32], h2[32];

	/* Within the bound: fine. */
	setup(&srv, &dev);
	device_wall = T0 + 5 * 60000;
	CHECK_ERR(put(dev, "bankjes", id1), 0);
	CHECK_ERR(ship_chain(dev, srv, kA.pk), 0);
	veld_replica_close(srv);
	veld_replica_close(dev);

	/* Beyond it: recorded on the device, refused by the server. */
	setup(&srv, &dev);
	device_wall = T0 + 3 * 3600000;
	CHECK_ERR(put(dev, "bankjes", id1), 0);
	device_wall = T0 + 1000; /* someone fixes the clock */
	CHECK_ERR(put(dev, "bloemen", id2), 0);
	state_hash(srv, h0);
	CHECK_ERR(ship_chain(dev, srv, kA.pk), VELD_ECLOCKAHEAD);
	state_hash(srv, h1);
	CHECK_MEM(h0, h1, 32);
	/* Three hours later, the same ops are taken whole. */
	server_wall = T0 + 3 * 3600000 + 1000;
	CHECK_ERR(ship_chain(dev, srv, kA.pk), 0);
	state_hash(srv, h1);
	state_hash(dev, h2);
	CHECK_MEM(h1, h2, 32);
	veld_replica_close(srv);
	veld_replica_close(dev);
}

int main(void)
{
	if (sodium_init() < 0)
		return 2;
	util_key(&kS, 0x53);
	util_key(&kA, 0x41);
	clock_behind();
	clock_ahead();
	return test_summary("test_clock_chaos");
}
