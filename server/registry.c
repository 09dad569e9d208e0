/*
 * registry.c - authentication and enrolment; see registry.h.
 */
#include "registry.h"

#include <stdio.h>
#include <string.h>

#include "code.h"
#include "err.h"
#include "hlc.h"
#include "store.h"

struct find {
	const uint8_t *key;
	struct veld_device_info *info;
	int found;
};

static void copy(char *dst, size_t n, const char *src)
{
	snprintf(dst, n, "%s", src ? src : "");
}

static int find_one(void *ctx, const struct veld_device_row *row)
{
	struct find *f = ctx;

	if (memcmp(row->key, f->key, 32) != 0)
		return 0;
	copy(f->info->role, sizeof(f->info->role), row->role);
	copy(f->info->name, sizeof(f->info->name), row->name);
	copy(f->info->area, sizeof(f->info->area), row->area);
	f->info->has_area = row->area != NULL;
	f->info->revoked = row->revoked;
	f->found = 1;
	return 1; /* stop */
}

int veld_registry_lookup(struct veld_server *srv, const uint8_t key[32],
			 struct veld_device_info *info)
{
	struct find f = {key, info, 0};
	int rc;

	memset(info, 0, sizeof(*info));
	rc = veld_store_devices(veld_replica_store(srv->replica), find_one, &f);
	if (rc < 0)
		return rc;
	return f.found ? 0 : VELD_EAUTH;
}

/* Token bucket: refill, then take one token for a failed attempt. */
static int rate_ok(struct veld_server *srv)
{
	uint64_t now = veld_server_now_ms();
	double add = (double)(now - srv->enrol_refill_ms) *
		     VELD_ENROL_PER_MINUTE / 60000.0;

	srv->enrol_refill_ms = now;
	srv->enrol_tokens += add;
	if (srv->enrol_tokens > VELD_ENROL_BURST)
		srv->enrol_tokens = VELD_ENROL_BURST;
	return srv->enrol_tokens >= 1.0;
}

static int failed(struct veld_server *srv, int rc)
{
	srv->enrol_tokens -= 1.0;
	return rc;
}

int veld_registry_enrol(struct veld_server *srv, const uint8_t key[32],
			const char *code, size_t code_len,
			struct veld_device_info *info)
{
	struct veld_store *st = veld_replica_store(srv->replica);
	struct veld_code_row row;
	char typed[64], strings[256];
	uint8_t hash[32];
	int rc;

	/* Enrolled already (a lost WELCOME): answered as AUTH would be. */
	rc = veld_registry_lookup(srv, key, info);
	if (rc != VELD_EAUTH)
		return rc;
	if (!rate_ok(srv))
		return VELD_ERATE;
	if (code_len >= sizeof(typed))
		return failed(srv, VELD_ECODE);
	memcpy(typed, code, code_len);
	typed[code_len] = 0;
	if (veld_code_hash(typed, hash) < 0)
		return failed(srv, VELD_ECODE);

	if ((rc = veld_store_begin(st)) < 0)
		return rc;
	rc = veld_store_code_take(st, hash, veld_hlc_wall_ms(), &row, strings,
				  sizeof(strings));
	if (rc == 0)
		rc = veld_store_commit(st);
	if (rc < 0) {
		veld_store_rollback(st);
		return rc == VELD_ESTORE ? rc : failed(srv, rc);
	}
	rc = veld_replica_device(srv->replica, key, row.role, row.name,
				 row.area, 0, NULL);
	if (rc < 0)
		return rc;
	veld_server_committed(srv);
	return veld_registry_lookup(srv, key, info);
}
