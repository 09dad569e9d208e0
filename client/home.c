/*
 * home.c - locate and create the device home; see home.h.
 */
#include "home.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "err.h"
#include "store.h"

int veld_home_resolve(struct veld_home *h, const char *flag)
{
	const char *env;
	int n;

	if (flag)
		n = snprintf(h->dir, sizeof(h->dir), "%s", flag);
	else if ((env = getenv("VELD_DIR")) && *env)
		n = snprintf(h->dir, sizeof(h->dir), "%s", env);
	else if ((env = getenv("XDG_DATA_HOME")) && *env)
		n = snprintf(h->dir, sizeof(h->dir), "%s/veld", env);
	else if ((env = getenv("HOME")) && *env)
		n = snprintf(h->dir, sizeof(h->dir), "%s/.local/share/veld",
			     env);
	else
		return VELD_EINVAL;
	if (n < 0 || (size_t)n >= sizeof(h->dir))
		return VELD_EINVAL;
	n = snprintf(h->key_path, sizeof(h->key_path), "%s/device.key", h->dir);
	if (n < 0 || (size_t)n >= sizeof(h->key_path))
		return VELD_EINVAL;
	n = snprintf(h->server_path, sizeof(h->server_path), "%s/server.pub",
		     h->dir);
	if (n < 0 || (size_t)n >= sizeof(h->server_path))
		return VELD_EINVAL;
	n = snprintf(h->db_path, sizeof(h->db_path), "%s/veld.db", h->dir);
	if (n < 0 || (size_t)n >= sizeof(h->db_path))
		return VELD_EINVAL;
	n = snprintf(h->revoked_path, sizeof(h->revoked_path), "%s/revoked",
		     h->dir);
	if (n < 0 || (size_t)n >= sizeof(h->revoked_path))
		return VELD_EINVAL;
	return 0;
}

/* mkdir -p with mode 0700 for the directories it creates. */
static int mkdirs(const char *path)
{
	char tmp[PATH_MAX];
	size_t len = strlen(path);

	if (len >= sizeof(tmp))
		return -1;
	memcpy(tmp, path, len + 1);
	for (char *p = tmp + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = 0;
		if (mkdir(tmp, 0700) < 0 && errno != EEXIST)
			return -1;
		*p = '/';
	}
	if (mkdir(tmp, 0700) < 0 && errno != EEXIST)
		return -1;
	return 0;
}

int veld_home_init(const struct veld_home *h, struct veld_key *key)
{
	if (access(h->key_path, F_OK) == 0)
		return VELD_EINVAL;
	if (mkdirs(h->dir) < 0)
		return VELD_EIO;
	veld_key_generate(key);
	return veld_key_save(key, h->key_path);
}

int veld_home_set_server(const struct veld_home *h,
			 const uint8_t server_key[VELD_PK_LEN])
{
	char tmp[PATH_MAX + 8];
	int fd, n, ok;

	n = snprintf(tmp, sizeof(tmp), "%s.tmp", h->server_path);
	if (n < 0 || (size_t)n >= sizeof(tmp))
		return VELD_EINVAL;
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return VELD_EIO;
	ok = write(fd, server_key, VELD_PK_LEN) == VELD_PK_LEN &&
	     fsync(fd) == 0;
	ok = close(fd) == 0 && ok;
	if (!ok || rename(tmp, h->server_path) < 0) {
		unlink(tmp);
		return VELD_EIO;
	}
	return 0;
}

int veld_device_load(struct veld_device *d, const struct veld_home *h)
{
	ssize_t n;
	int fd, rc;

	memset(d, 0, sizeof(*d));
	d->home = *h;
	/* A revoked device must not quietly start a new, empty replica. */
	if (access(h->revoked_path, F_OK) == 0)
		return VELD_EREVOKED;
	rc = veld_key_load(&d->key, h->key_path);
	if (rc < 0)
		return rc;
	fd = open(h->server_path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		veld_key_release(&d->key);
		return errno == ENOENT ? VELD_ENOTENROLLED : VELD_EIO;
	}
	n = read(fd, d->server_key, VELD_PK_LEN);
	close(fd);
	if (n != VELD_PK_LEN) {
		veld_key_release(&d->key);
		return VELD_EKEYFILE;
	}
	return 0;
}

int veld_device_attach(struct veld_device *d, int page_size)
{
	int rc = 0;

	if (page_size > 0)
		rc = veld_store_prepare(d->home.db_path, page_size);
	if (rc == 0)
		rc = veld_replica_open(d->home.db_path, &d->key, d->server_key,
				       &d->replica);
	if (rc < 0)
		return rc;
	/* What a device pulls comes from the server, which checked every
	 * signature; one per author run is enough here (§13.1). */
	veld_replica_set_run_auth(d->replica, 1);
	return 0;
}

int veld_device_open(struct veld_device *d, const struct veld_home *h)
{
	int rc = veld_device_load(d, h);

	if (rc == 0 && (rc = veld_device_attach(d, 0)) < 0)
		veld_key_release(&d->key);
	return rc;
}

void veld_device_close(struct veld_device *d)
{
	veld_replica_close(d->replica);
	d->replica = NULL;
	veld_key_release(&d->key);
}
