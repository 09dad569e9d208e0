/*
 * footprint_records.c - make N survey records on an enrolled device, in one
 * process, for bench/client_footprint.sh.
 *
 * `veld new` costs a process launch and a durable commit per record; for a
 * log of 100,000 ops that takes the best part of an hour.  This helper
 * writes the same kind of ops (signed puts of a device's own chain) through
 * the same library call veld uses, veld_replica_put, in one process.  What
 * it makes is then pushed and pulled by the real veld.
 *
 * Usage: footprint_records DEVICE_DIR N
 * Compiled by bench/client_footprint.sh against the build's libveld.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "err.h"
#include "key.h"
#include "replica.h"

int main(int argc, char **argv)
{
	static const char *const streets[] = {"Kerkstraat", "Dorpsstraat",
					      "Schoolstraat", "Stationsweg"};
	char path[4096], house[16];
	uint8_t root[VELD_PK_LEN], id[VELD_RECORD_LEN];
	struct veld_replica *r;
	struct veld_key key;
	FILE *f;
	long n;
	int rc = 0;

	if (argc != 3 || (n = strtol(argv[2], NULL, 10)) < 1) {
		fprintf(stderr, "usage: footprint_records DEVICE_DIR N\n");
		return 2;
	}
	if (sodium_init() < 0)
		return 1;
	snprintf(path, sizeof(path), "%s/device.key", argv[1]);
	if (veld_key_load(&key, path) < 0) {
		fprintf(stderr, "cannot read '%s'\n", path);
		return 1;
	}
	snprintf(path, sizeof(path), "%s/server.pub", argv[1]);
	f = fopen(path, "rb");
	if (!f || fread(root, 1, sizeof(root), f) != sizeof(root)) {
		fprintf(stderr, "cannot read '%s'\n", path);
		if (f)
			fclose(f);
		return 1;
	}
	fclose(f);
	snprintf(path, sizeof(path), "%s/veld.db", argv[1]);
	if (veld_replica_open(path, &key, root, &r) < 0) {
		fprintf(stderr, "cannot open '%s'\n", path);
		return 1;
	}
	for (long i = 0; i < n && rc == 0; i++) {
		struct veld_field fl[3] = {
			{"street", streets[i % 4], NULL, 0},
			{"house", house, NULL, 0},
			{"wish",
			 "meer groen in de wijk en bankjes bij de speeltuin",
			 NULL, 0},
		};
		snprintf(house, sizeof(house), "%ld", i % 240 + 1);
		rc = veld_replica_put(r, id, 1, "huisbezoek", "noord", fl, 3,
				      NULL);
	}
	if (rc < 0)
		fprintf(stderr, "put failed: %s\n", veld_strerror(rc));
	veld_replica_close(r);
	veld_key_release(&key);
	return rc < 0 ? 1 : 0;
}
