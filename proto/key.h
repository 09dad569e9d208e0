/*
 * key.h - a replica's Ed25519 signing key.
 *
 * Every replica (the server, each field device) owns one key pair.  The
 * private key never leaves the replica; on disk it is kept as the 32-byte
 * Ed25519 seed (RFC 8032 private key), in a file of mode 0600.  The public
 * key is the replica's identity: it is the author field of every op it
 * signs.
 *
 * struct veld_key lives in caller storage; veld_key_release() wipes it.
 */
#ifndef VELD_KEY_H
#define VELD_KEY_H

#include <stddef.h>
#include <stdint.h>

#define VELD_PK_LEN 32
#define VELD_SEED_LEN 32
#define VELD_SIG_LEN 64

struct veld_key {
	uint8_t pk[VELD_PK_LEN]; /* public key: safe to copy and publish */
	uint8_t sk[64];		 /* libsodium secret key (seed || pk) */
};

/* Fresh random key pair.  Needs sodium_init() to have run. */
void veld_key_generate(struct veld_key *k);

/* Deterministic key pair from a 32-byte seed (tests, key files). */
void veld_key_from_seed(struct veld_key *k, const uint8_t seed[VELD_SEED_LEN]);

/* Wipe the secret key (sodium_memzero). */
void veld_key_release(struct veld_key *k);

/*
 * veld_key_save - write the seed to path, mode 0600, atomically (temporary
 * file, fsync, rename, fsync of the directory), so that a crash leaves
 * either no key file or a complete one.  Refuses to overwrite an existing
 * file.  Returns 0, VELD_EIO (errno tells more).
 */
int veld_key_save(const struct veld_key *k, const char *path)
	__attribute__((warn_unused_result));

/*
 * veld_key_load - read a key file written by veld_key_save.  Returns 0,
 * VELD_EIO (cannot open/read; errno tells more) or VELD_EKEYFILE (not
 * exactly 32 bytes).
 */
int veld_key_load(struct veld_key *k, const char *path)
	__attribute__((warn_unused_result));

#endif /* VELD_KEY_H */
