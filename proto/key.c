/*
 * key.c - Ed25519 key pairs and key files; see key.h.
 */
#include "key.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <sodium.h>

#include "err.h"

void veld_key_generate(struct veld_key *k)
{
	crypto_sign_keypair(k->pk, k->sk);
}

void veld_key_from_seed(struct veld_key *k, const uint8_t seed[VELD_SEED_LEN])
{
	crypto_sign_seed_keypair(k->pk, k->sk, seed);
}

void veld_key_release(struct veld_key *k)
{
	sodium_memzero(k, sizeof(*k));
}

static int write_all(int fd, const uint8_t *p, size_t n)
{
	while (n) {
		ssize_t w = write(fd, p, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

static int fsync_dir_of(const char *path)
{
	char copy[4096];
	int fd, rc;

	if (strlen(path) >= sizeof(copy))
		return -1;
	memcpy(copy, path, strlen(path) + 1);
	fd = open(dirname(copy), O_RDONLY | O_DIRECTORY);
	if (fd < 0)
		return -1;
	rc = fsync(fd);
	close(fd);
	return rc;
}

int veld_key_save(const struct veld_key *k, const char *path)
{
	char tmp[4096];
	int fd, n;

	n = snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	if (n < 0 || (size_t)n >= sizeof(tmp))
		return VELD_EINVAL;
	if (access(path, F_OK) == 0) {
		errno = EEXIST;
		return VELD_EIO;
	}
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return VELD_EIO;
	/* The seed is the first half of libsodium's secret key. */
	if (write_all(fd, k->sk, VELD_SEED_LEN) < 0 || fsync(fd) < 0) {
		close(fd);
		unlink(tmp);
		return VELD_EIO;
	}
	if (close(fd) < 0 || rename(tmp, path) < 0) {
		unlink(tmp);
		return VELD_EIO;
	}
	return fsync_dir_of(path) < 0 ? VELD_EIO : 0;
}

int veld_key_load(struct veld_key *k, const char *path)
{
	uint8_t seed[VELD_SEED_LEN + 1];
	ssize_t n;
	size_t got = 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return VELD_EIO;
	/* Read one byte more than a seed, to notice a longer file. */
	while (got < sizeof(seed)) {
		n = read(fd, seed + got, sizeof(seed) - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			close(fd);
			sodium_memzero(seed, sizeof(seed));
			return VELD_EIO;
		}
		if (n == 0)
			break;
		got += (size_t)n;
	}
	close(fd);
	if (got != VELD_SEED_LEN) {
		sodium_memzero(seed, sizeof(seed));
		return VELD_EKEYFILE;
	}
	veld_key_from_seed(k, seed);
	sodium_memzero(seed, sizeof(seed));
	return 0;
}
