/*
 * server.c - the few things veldd's modules share; see server.h.
 */
#include "server.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "err.h"
#include "session.h"
#include "store.h"

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

void veld_server_pushed(struct veld_server *srv)
{
	if (!veld_replica_unsettled(srv->replica))
		return;
	if (srv->tx.want_settle)
		srv->tx.want_settle(srv);
	else
		(void)veld_server_settle(srv, SIZE_MAX);
}

int veld_server_note(struct veld_server *srv, const char *key,
		     const void *value, size_t len)
{
	struct veld_meta_note *n = NULL;

	if (strlen(key) >= VELD_NOTE_KEY_MAX || len > VELD_NOTE_VALUE_MAX)
		return VELD_EINVAL;
	for (size_t i = 0; i < srv->nnotes && !n; i++)
		if (!strcmp(srv->notes[i].key, key))
			n = &srv->notes[i];
	if (!n) {
		if (srv->nnotes == VELD_NOTES_MAX)
			(void)veld_server_flush_notes(srv);
		n = &srv->notes[srv->nnotes++];
		strcpy(n->key, key);
	}
	memcpy(n->value, value, len);
	n->len = len;
	return 0;
}

int veld_server_flush_notes(struct veld_server *srv)
{
	struct veld_store *st = veld_replica_store(srv->replica);
	int rc, began;

	if (!srv->nnotes)
		return 0;
	rc = veld_store_begin(st);
	began = rc == 0;
	for (size_t i = 0; rc == 0 && i < srv->nnotes; i++)
		rc = veld_store_meta_set(st, srv->notes[i].key,
					 srv->notes[i].value,
					 srv->notes[i].len);
	if (rc == 0)
		rc = veld_store_commit(st);
	if (rc < 0 && began)
		veld_store_rollback(st);
	srv->nnotes = 0;
	return rc;
}

int veld_server_settle(struct veld_server *srv, size_t max)
{
	int rc;

	if (!veld_replica_unsettled(srv->replica))
		return 0;
	if ((rc = veld_replica_settle_deferred(srv->replica, max)) < 0)
		return rc;
	if (!veld_replica_unsettled(srv->replica))
		veld_server_committed(srv);
	return 0;
}

/* Revoked devices, from one pass over the registry. */
struct revoked {
	uint8_t (*keys)[32];
	size_t n, cap;
	int err;
};

static int note_revoked(void *ctx, const struct veld_device_row *row)
{
	struct revoked *r = ctx;

	if (!row->revoked)
		return 0;
	if (r->n == r->cap) {
		size_t cap = r->cap ? 2 * r->cap : 16;
		void *k = realloc(r->keys, cap * sizeof(*r->keys));
		if (!k) {
			r->err = 1;
			return 1;
		}
		r->keys = k;
		r->cap = cap;
	}
	memcpy(r->keys[r->n++], row->key, 32);
	return 0;
}

/*
 * One pass over the registry for all connections, not a lookup (itself a
 * pass) per connection: that was sessions x devices rows a second, 8% of
 * a core with 1,000 idle devices (bench/idle_devices.sh).  The sessions
 * are failed after the pass, not from inside the store's callback.
 */
void veld_server_check_revoked(struct veld_server *srv)
{
	struct revoked r = {0};

	if (!srv->sessions)
		return;
	if (veld_store_devices(veld_replica_store(srv->replica), note_revoked,
			       &r) < 0 ||
	    r.err) {
		/* Cannot tell this time; the next tick tries again. */
		free(r.keys);
		return;
	}
	for (size_t i = 0; i < r.n; i++)
		for (struct veld_session *s = srv->sessions; s; s = s->next)
			if (s->state == VELD_SS_READY &&
			    memcmp(s->device, r.keys[i], 32) == 0)
				veld_session_fail(s, VELD_EREVOKED,
						  "revoked while connected");
	free(r.keys);
}
