/*
 * wijklab_prep.h - the offline phase of a wijklab field device: write its
 * operation log (wijklab_gen.h) into a real veld device directory.
 *
 * The device directory is one `veld init` made (device.key, server.pub,
 * veld.db, enrolled, the wijklab form synced).  Every user action is one
 * local write through libveld's local-write API, exactly the calls
 * `veld new`, `veld edit` and `veld delete` make: a create is one
 * veld_replica_put (create, form "wijklab", the device's area, 8 fields),
 * an edit one veld_replica_put of its 1 or 2 fields, a delete one
 * veld_replica_delete.  Each is signed, applied and durably committed in
 * the device's replica, as on a real device; nothing touches the network.
 *
 * Values keep their JSON types: strings as msgpack str (an empty string
 * stays an empty string), integers as msgpack ints and yes/no as msgpack
 * bools (what a typed form's fields hold).
 *
 * veld record ids are random (16 bytes), so the workload's ids
 * ("d007-r00123") travel nowhere: the map file records which veld id each
 * workload record got, one line "<32 hex digits> <workload id>", for the
 * harness's verification only.
 */
#ifndef WIJKLAB_PREP_H
#define WIJKLAB_PREP_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* The form every wijklab record names. */
#define WIJKLAB_FORM "wijklab"

struct wijklab_prep_counts {
	long creates, edits, deletes;
};

/*
 * wijklab_prep_device - write device d's log (seed, R) into the veld
 * device at dir and the id map to map.  counts (may be NULL) receives what
 * was written.  Returns 0; -1 with a message in err (errlen bytes) if the
 * device cannot be opened, is not enrolled or does not know the form, a
 * write failed (writes before it stay, as on a device) or map cannot be
 * written.
 */
int wijklab_prep_device(const char *dir, uint32_t seed, int d, int R, FILE *map,
			struct wijklab_prep_counts *counts, char *err,
			size_t errlen);

#endif /* WIJKLAB_PREP_H */
