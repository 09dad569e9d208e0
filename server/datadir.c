/*
 * datadir.c - the data directory and the server key; see datadir.h.
 *
 * The only subtle point is telling "no key yet" from "a key we cannot
 * read": only a key file that does not exist (ENOENT) leads to a new key.
 * Any other failure - permissions, a truncated or overlong file, an I/O
 * error - stops veldd, because replacing the server key would break the
 * trust of every device that has enrolled with the old one.
 */
#include "datadir.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include <sodium.h>

#include "err.h"

static void set_err(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void set_err(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (!errlen)
		return;
	va_start(ap, fmt);
	/* Truncation is fine: the message is for humans. */
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

/* The reason for a key-file error: errno for I/O, else the VELD_E* text. */
static const char *key_reason(int rc, int saved_errno)
{
	if (rc == VELD_EIO && saved_errno)
		return strerror(saved_errno);
	return veld_strerror(rc);
}

static int make_dir(const struct veld_datadir *dd, char *err, size_t errlen)
{
	struct stat st;

	if (mkdir(dd->path, 0700) == 0)
		return 0;
	if (errno != EEXIST) {
		set_err(err, errlen, "cannot create data dir '%s': %s",
			dd->path, strerror(errno));
		return VELD_EIO;
	}
	if (stat(dd->path, &st) < 0) {
		set_err(err, errlen, "cannot use data dir '%s': %s", dd->path,
			strerror(errno));
		return VELD_EIO;
	}
	if (!S_ISDIR(st.st_mode)) {
		set_err(err, errlen, "data dir '%s' is not a directory",
			dd->path);
		return VELD_EINVAL;
	}
	return 0;
}

static int new_key(struct veld_datadir *dd, char *err, size_t errlen)
{
	int rc;

	veld_key_generate(&dd->key);
	errno = 0;
	rc = veld_key_save(&dd->key, dd->key_path);
	if (rc < 0) {
		set_err(err, errlen, "cannot write key '%s': %s", dd->key_path,
			key_reason(rc, errno));
		veld_key_release(&dd->key);
		return rc;
	}
	dd->key_created = 1;
	return 0;
}

static int load_key(struct veld_datadir *dd, const struct stat *st, char *err,
		    size_t errlen)
{
	int rc;

	if (!S_ISREG(st->st_mode)) {
		set_err(err, errlen, "cannot read key '%s': not a regular file",
			dd->key_path);
		return VELD_EKEYFILE;
	}
	errno = 0;
	rc = veld_key_load(&dd->key, dd->key_path);
	if (rc < 0) {
		set_err(err, errlen, "cannot read key '%s': %s", dd->key_path,
			key_reason(rc, errno));
		return rc;
	}
	dd->key_exposed = (st->st_mode & 077) != 0;
	return 0;
}

int veld_datadir_open(struct veld_datadir *dd, const char *dir, char *err,
		      size_t errlen)
{
	struct stat st;
	int n, rc;

	memset(dd, 0, sizeof(*dd));
	set_err(err, errlen, "no error");

	n = snprintf(dd->path, sizeof(dd->path), "%s", dir);
	if (n <= 0 || (size_t)n >= sizeof(dd->path)) {
		set_err(err, errlen, "data dir path is empty or too long");
		return VELD_EINVAL;
	}
	n = snprintf(dd->key_path, sizeof(dd->key_path), "%s/%s", dir,
		     VELD_DATADIR_KEY_FILE);
	if (n < 0 || (size_t)n >= sizeof(dd->key_path)) {
		set_err(err, errlen, "data dir path '%s' is too long", dir);
		return VELD_EINVAL;
	}

	rc = make_dir(dd, err, errlen);
	if (rc < 0)
		return rc;

	if (stat(dd->key_path, &st) == 0) {
		rc = load_key(dd, &st, err, errlen);
	} else if (errno == ENOENT) {
		rc = new_key(dd, err, errlen);
	} else {
		set_err(err, errlen, "cannot read key '%s': %s", dd->key_path,
			strerror(errno));
		rc = VELD_EIO;
	}
	if (rc < 0)
		return rc;

	sodium_bin2hex(dd->key_hex, sizeof(dd->key_hex), dd->key.pk,
		       sizeof(dd->key.pk));
	return 0;
}

void veld_datadir_close(struct veld_datadir *dd)
{
	if (!dd)
		return;
	veld_key_release(&dd->key);
}
