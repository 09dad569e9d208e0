/*
 * backup.h - veldd backup, verify and restore: the work behind the three
 * admin commands (admin.c parses their options and opens the data
 * directory; these do the rest and print what they did).
 *
 *	veldd backup FILE [--force]        a verified copy, while serving
 *	veldd verify [--json]              re-check the whole store
 *	veldd restore FILE [--ops-from DB] [--force]
 *	                                   put a backup in place (veldd stopped)
 *
 * The server key (DATA/server.key) is in none of this: it is not in the
 * database, a backup does not contain it, and a restore needs the same key
 * in place.  Operators keep one copy of it, offline, made once.
 *
 * Each returns the exit status: 0 ok, 1 failure or problems found (the
 * output says which).
 */
#ifndef VELD_BACKUP_H
#define VELD_BACKUP_H

#include "key.h"
#include "store.h"

/*
 * veld_backup_write - copy live (the server's store, opened read-only; its
 * file is live_path) to file: one snapshot, written to "file.tmp", fsync'ed,
 * checked (integrity_check, then every check of veld_verify_store against
 * root, and its state hash against the live store's at the same snapshot),
 * and only then renamed to file.  An existing file is replaced only with
 * force, and never if it is one of the data directory's own files.
 */
int veld_backup_write(struct veld_store *live, const char *live_path,
		      const uint8_t root[VELD_PK_LEN], const char *file,
		      int force);

/*
 * veld_backup_verify - veld_verify_store on s (read-only; path is shown),
 * and the report: a summary for people, or one JSON object (json).
 */
int veld_backup_verify(struct veld_store *s, const char *path,
		       const uint8_t root[VELD_PK_LEN], int json);

/*
 * veld_backup_restore - make the backup file the server's store in
 * data_dir, whose server key is key.  Refuses while a veldd has the store
 * open, and a backup that does not verify under the key (unless force).
 * The current store, if any, is kept beside it as
 * veld.db.replaced-<UTC time> (with its -wal).
 *
 * The restored log continues at positions above any an earlier copy of it
 * can have handed out (see backup.c), so that a device whose pull cursor
 * was further along than the backup still receives every op appended
 * after the restore.  ops_from (may be NULL) is another replica's store,
 * typically a coordinator device's veld.db: every op in it is applied
 * too, which gives the server back the ops it signed itself after the
 * backup (enrolments, revocations, forms), which no device pushes.
 */
int veld_backup_restore(const char *data_dir, const struct veld_key *key,
			const char *file, const char *ops_from, int force);

#endif /* VELD_BACKUP_H */
