/*
 * wijklab_prep.c - write a wijklab device's offline log into a veld
 * device directory; see wijklab_prep.h.
 *
 * The device files are read as client/home.h documents them (device.key,
 * server.pub, veld.db); the checks before writing are the ones veld makes
 * before a write (the device is in its replica's registry and not
 * revoked; the form is known), once per device instead of once per
 * command.
 */
#include "wijklab_prep.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sodium.h>

#include "buf.h"
#include "err.h"
#include "key.h"
#include "merge.h"
#include "replica.h"
#include "store.h"
#include "wijklab_gen.h"

#define MP_VALUE_MAX 16 /* an int64 or a bool, msgpack-encoded */

struct prep {
	struct veld_replica *r;
	const char *area; /* NULL: none */
	uint8_t (*ids)[VELD_RECORD_LEN];
	FILE *map;
	struct wijklab_prep_counts n;
	char *err;
	size_t errlen;
};

/* Fill f from v; a typed value is encoded into mp (MP_VALUE_MAX bytes). */
static int to_field(struct veld_field *f, const char *name,
		    const struct wijklab_value *v, struct veld_buf *mp)
{
	msgpack_packer pk;

	memset(f, 0, sizeof(*f));
	f->name = name;
	if (v->type == WIJKLAB_STR) {
		f->text = v->s; /* "" stays an empty string, not nil */
		return 0;
	}
	veld_buf_init(mp, MP_VALUE_MAX);
	veld_buf_packer_init(&pk, mp);
	if (v->type == WIJKLAB_INT)
		msgpack_pack_int64(&pk, v->i);
	else if (v->i)
		msgpack_pack_true(&pk);
	else
		msgpack_pack_false(&pk);
	if (mp->err)
		return mp->err;
	f->mp = mp->data;
	f->mp_len = mp->len;
	return 0;
}

static int write_one(void *ctx, const struct wijklab_op *op)
{
	struct prep *p = ctx;
	struct veld_field f[WIJKLAB_FIELDS];
	struct veld_buf mp[WIJKLAB_FIELDS];
	uint8_t *rec = p->ids[op->record];
	char wid[WIJKLAB_ID_LEN + 1];
	char hex[2 * VELD_RECORD_LEN + 1];
	int rc = 0, made = 0;

	wijklab_record_id(op->device, op->record, wid);
	for (; made < op->n && rc == 0; made++)
		rc = to_field(&f[made], wijklab_field_names[op->field[made]],
			      &op->value[made], &mp[made]);
	if (rc == 0) {
		if (op->kind == WIJKLAB_CREATE)
			rc = veld_replica_put(p->r, rec, 1, WIJKLAB_FORM,
					      p->area, f, (size_t)op->n, NULL);
		else if (op->kind == WIJKLAB_EDIT)
			rc = veld_replica_put(p->r, rec, 0, NULL, NULL, f,
					      (size_t)op->n, NULL);
		else
			rc = veld_replica_delete(p->r, rec, NULL);
	}
	for (int k = 0; k < made; k++)
		if (wijklab_field_types[op->field[k]] != WIJKLAB_STR)
			veld_buf_release(&mp[k]);
	if (rc < 0) {
		snprintf(p->err, p->errlen, "%s of %s failed: %s (%s)",
			 op->kind == WIJKLAB_CREATE ? "create"
			 : op->kind == WIJKLAB_EDIT ? "edit"
						    : "delete",
			 wid, veld_strerror(rc), veld_err_name(rc));
		return -1;
	}
	if (op->kind == WIJKLAB_CREATE) {
		p->n.creates++;
		sodium_bin2hex(hex, sizeof(hex), rec, VELD_RECORD_LEN);
		if (fprintf(p->map, "%s %s\n", hex, wid) < 0) {
			snprintf(p->err, p->errlen, "cannot write the id map");
			return -1;
		}
	} else if (op->kind == WIJKLAB_EDIT) {
		p->n.edits++;
	} else {
		p->n.deletes++;
	}
	return 0;
}

/* Is this device in its replica's registry, active? */
struct self {
	const uint8_t *pk;
	int found, revoked;
};

static int self_one(void *ctx, const struct veld_device_row *row)
{
	struct self *s = ctx;

	if (memcmp(row->key, s->pk, VELD_PK_LEN) == 0) {
		s->found = 1;
		s->revoked = row->revoked != 0;
	}
	return 0;
}

static int form_one(void *ctx, const struct veld_form_row *row)
{
	int *found = ctx;

	if (row->name && strcmp(row->name, WIJKLAB_FORM) == 0)
		*found = 1;
	return 0;
}

static int read_server_key(const char *dir, uint8_t pk[VELD_PK_LEN])
{
	char path[PATH_MAX];
	ssize_t n;
	int fd;

	if (snprintf(path, sizeof(path), "%s/server.pub", dir) >=
	    (int)sizeof(path))
		return -1;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	n = read(fd, pk, VELD_PK_LEN);
	close(fd);
	return n == VELD_PK_LEN ? 0 : -1;
}

int wijklab_prep_device(const char *dir, uint32_t seed, int d, int R, FILE *map,
			struct wijklab_prep_counts *counts, char *err,
			size_t errlen)
{
	struct prep p;
	struct veld_key key;
	struct self me;
	struct veld_buf area;
	uint8_t server[VELD_PK_LEN];
	char path[PATH_MAX];
	int rc, form = 0, ret = -1, has_key = 0;

	memset(&p, 0, sizeof(p));
	err[0] = 0;
	p.map = map;
	p.err = err;
	p.errlen = errlen;
	veld_buf_init(&area, VELD_NAME_MAX + 1);
	if (snprintf(path, sizeof(path), "%s/device.key", dir) >=
	    (int)sizeof(path)) {
		snprintf(err, errlen, "'%s': path too long", dir);
		goto out;
	}
	if (veld_key_load(&key, path) < 0) {
		snprintf(err, errlen, "'%s' has no device key: run veld init",
			 dir);
		goto out;
	}
	has_key = 1;
	if (read_server_key(dir, server) < 0) {
		snprintf(err, errlen, "'%s' is not enrolled (no server.pub)",
			 dir);
		goto out;
	}
	snprintf(path, sizeof(path), "%s/veld.db", dir);
	rc = veld_replica_open(path, &key, server, &p.r);
	if (rc < 0) {
		snprintf(err, errlen, "cannot open the replica '%s': %s", path,
			 veld_err_name(rc));
		goto out;
	}
	me.pk = key.pk;
	me.found = me.revoked = 0;
	if (veld_store_devices(veld_replica_store(p.r), self_one, &me) < 0 ||
	    !me.found || me.revoked) {
		snprintf(err, errlen,
			 "'%s': the device's enrolment is not in its replica "
			 "(or it is revoked)",
			 dir);
		goto out;
	}
	if (veld_store_forms(veld_replica_store(p.r), form_one, &form) < 0 ||
	    !form) {
		snprintf(err, errlen,
			 "'%s' does not know the form '" WIJKLAB_FORM
			 "' (import it on the server before veld init)",
			 dir);
		goto out;
	}
	/* the area veld new gives a new record: the device's own */
	rc = veld_store_meta_get(veld_replica_store(p.r), "area", &area);
	if (rc > 0 && area.len > 0 && area.len <= VELD_NAME_MAX &&
	    veld_buf_append(&area, "", 1) == 0 &&
	    !memchr(area.data, 0, area.len - 1))
		p.area = (const char *)area.data;
	p.ids = calloc((size_t)R, sizeof(*p.ids));
	if (!p.ids) {
		snprintf(err, errlen, "out of memory");
		goto out;
	}
	rc = wijklab_device_ops(seed, d, R, write_one, &p);
	if (rc != 0) {
		if (!err[0])
			snprintf(err, errlen, "bad device %d or R %d", d, R);
		goto out;
	}
	if (fflush(map) != 0) {
		snprintf(err, errlen, "cannot write the id map: %s",
			 strerror(errno));
		goto out;
	}
	if (counts)
		*counts = p.n;
	ret = 0;
out:
	free(p.ids);
	veld_replica_close(p.r);
	veld_buf_release(&area);
	if (has_key)
		veld_key_release(&key);
	return ret;
}
