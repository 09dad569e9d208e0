/*
 * home.h - where a field device keeps its replica: the device home.
 *
 * The directory holds
 *   device.key   the device's Ed25519 seed (mode 0600, never leaves it);
 *   server.pub   the server's public key, the root of trust, written at
 *                enrolment (32 bytes);
 *   revoked      present once the server said the device is revoked (its
 *                replica was then deleted); the device stays unusable
 *   veld.db      the replica (SQLite), whose meta table also keeps the
 *                sync settings: "server_url", "name", "role", "area",
 *                "pull_cursor", "receipt", "last_sync".
 * It is chosen, first match: --dir DIR on the command line, $VELD_DIR,
 * $XDG_DATA_HOME/veld, $HOME/.local/share/veld.
 */
#ifndef VELD_CLIENT_HOME_H
#define VELD_CLIENT_HOME_H

#include <limits.h>

#include "key.h"
#include "op.h"
#include "replica.h"

struct veld_home {
	char dir[PATH_MAX];
	char revoked_path[PATH_MAX];
	char key_path[PATH_MAX];
	char server_path[PATH_MAX];
	char db_path[PATH_MAX];
};

/* An open device: its key, the server's key and its replica. */
struct veld_device {
	struct veld_home home;
	struct veld_key key;
	uint8_t server_key[VELD_PK_LEN];
	struct veld_replica *replica;
};

/*
 * veld_home_resolve - fill h from flag (may be NULL) and the environment.
 * Returns 0 or VELD_EINVAL when no location can be determined or a path is
 * too long.
 */
int veld_home_resolve(struct veld_home *h, const char *flag)
	__attribute__((warn_unused_result));

/*
 * veld_home_init - create the directory (mode 0700, parents included) and a
 * new device key.  Returns 0, VELD_EINVAL if a key already exists (a device
 * never silently gets a new identity), or VELD_EIO (errno tells more).
 */
int veld_home_init(const struct veld_home *h, struct veld_key *key)
	__attribute__((warn_unused_result));

/*
 * veld_home_set_server - record the server's public key (at enrolment),
 * atomically.  Returns 0 or VELD_EIO.
 */
int veld_home_set_server(const struct veld_home *h,
			 const uint8_t server_key[VELD_PK_LEN])
	__attribute__((warn_unused_result));

/*
 * veld_device_open - open the device in h: load its key and the server's
 * key and open the replica.  Returns 0; VELD_EKEYFILE/VELD_EIO for the
 * device key (run `veld init`); VELD_ENOTENROLLED when there is no server
 * key yet; VELD_EREVOKED when the device was revoked; a store error.
 * Close with veld_device_close().
 */
int veld_device_open(struct veld_device *d, const struct veld_home *h)
	__attribute__((warn_unused_result));

/*
 * The two halves of veld_device_open, for enrolment, where the store is
 * created only once the server has said the device's role:
 * veld_device_load loads the keys (d->replica stays NULL; errors as
 * above, without the store's), veld_device_attach then opens the replica,
 * creating a new store with pages of page_size bytes (0: the default;
 * see veld_store_prepare).  On a failed attach the keys stay loaded.
 * veld_device_close undoes either.
 */
int veld_device_load(struct veld_device *d, const struct veld_home *h)
	__attribute__((warn_unused_result));
int veld_device_attach(struct veld_device *d, int page_size)
	__attribute__((warn_unused_result));

/* Close the replica (if open) and wipe the key; safe on a failed open. */
void veld_device_close(struct veld_device *d);

#endif /* VELD_CLIENT_HOME_H */
