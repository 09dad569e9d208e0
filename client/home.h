/*
 * home.h - where a field device keeps its replica: the device home.
 *
 * The home directory holds the device key (device.key, mode 0600) and, from
 * the replica milestone on, the SQLite store.  It is chosen, first match:
 * --dir DIR on the command line, $VELD_DIR, $XDG_DATA_HOME/veld,
 * $HOME/.local/share/veld.
 */
#ifndef VELD_CLIENT_HOME_H
#define VELD_CLIENT_HOME_H

#include <limits.h>

#include "key.h"

struct veld_home {
	char dir[PATH_MAX];
	char key_path[PATH_MAX];
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

#endif /* VELD_CLIENT_HOME_H */
