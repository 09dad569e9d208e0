/*
 * admin.h - veldd's admin sub-commands: enrolment codes, the device
 * registry, revocation, form import, the state hash; backup, verify and
 * restore.
 *
 *	veldd code new --role field|coordinator --name NAME [--area AREA]
 *	               [--expires DURATION]
 *	veldd devices [--json]
 *	veldd revoke DEVICE
 *	veldd form import FILE
 *	veldd state-hash
 *	veldd backup FILE [--force]
 *	veldd verify [--json]
 *	veldd restore FILE [--ops-from DB] [--force]   (backup.c)
 *
 * Each takes --data DIR (default $VELDD_DATA, else ./veld-data, as serve)
 * and works on the server's replica, DIR/veld.db, signing with the server
 * key, DIR/server.key.  They work while `veldd serve` runs: SQLite's WAL
 * lets them read beside it, and a write waits for the server's current
 * batch (busy timeout) instead of failing.  (Except restore, which
 * replaces the file and so refuses while veldd runs.  Backup and verify
 * never write the store.)
 *
 * They never create a data directory or a server key: a mistyped --data
 * must not quietly start a second deployment with a new root of trust.
 * `veldd serve` makes both on its first start; until then every admin
 * command says so and exits 1.
 *
 * Exit status: 0 ok, 1 failure (the message on stderr says why), 2 usage
 * error.
 */
#ifndef VELD_ADMIN_H
#define VELD_ADMIN_H

#include <stdio.h>

/* Nonzero if cmd ("code", "devices", ...) names an admin sub-command. */
int veld_admin_is_command(const char *cmd);

/*
 * veld_admin_main - run the admin sub-command argv[0] with its arguments
 * (argv[1..argc-1]; borrowed).  Needs sodium_init() to have run.  Output
 * goes to stdout, errors to stderr.  Returns the exit status.
 */
int veld_admin_main(int argc, char **argv);

/* The admin lines of `veldd help`. */
void veld_admin_usage(FILE *f);

#endif /* VELD_ADMIN_H */
