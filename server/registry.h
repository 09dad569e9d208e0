/*
 * registry.h - who may connect: authentication of enrolled devices and
 * enrolment with a one-time code.
 *
 * The registry itself is part of the replica (device ops, folded by
 * proto/merge.c); this module answers the questions the sync endpoint asks
 * of it and writes the enrolment op, signed by the server key.
 */
#ifndef VELD_REGISTRY_H
#define VELD_REGISTRY_H

#include <stdint.h>

#include "server.h"

#define VELD_ENROL_BURST 10	 /* failed enrolments allowed at once */
#define VELD_ENROL_PER_MINUTE 10 /* and then this many per minute */

/* What the server knows of one device. */
struct veld_device_info {
	char role[16];
	char name[65];
	char area[65];
	int has_area;
	uint64_t revoked; /* hlc, 0 if active */
};

/*
 * veld_registry_lookup - the registry entry of key: 0 and *info filled,
 * VELD_EAUTH if the key is not enrolled, or a store error.
 */
int veld_registry_lookup(struct veld_server *srv, const uint8_t key[32],
			 struct veld_device_info *info)
	__attribute__((warn_unused_result));

/*
 * veld_registry_enrol - redeem a one-time code for key: mark the code used
 * (durably, first: a code is never good twice, even across a crash), then
 * write the device op (role, name and area from the code).  Refused first when
 * too many attempts failed recently (VELD_ERATE).  Returns 0 and *info, or
 * VELD_ECODE, VELD_ECODEUSED, VELD_ECODEEXPIRED, VELD_ERATE, or a store
 * error.
 *
 * A key that is already enrolled gets its registry entry (0 and *info, as
 * veld_registry_lookup) and the code is not looked at: the caller checked
 * the proof of possession, which is all AUTH checks.  So a device whose
 * WELCOME was lost (the connection cut after the server enrolled it)
 * finishes by sending ENROL again, and a second code can never change an
 * enrolled key's role.
 */
int veld_registry_enrol(struct veld_server *srv, const uint8_t key[32],
			const char *code, size_t code_len,
			struct veld_device_info *info)
	__attribute__((warn_unused_result));

#endif /* VELD_REGISTRY_H */
