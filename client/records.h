/*
 * records.h - the record commands of veld: new, edit, note, delete, list,
 * show and state-hash.
 *
 * They work on the device's own replica only and never touch the network:
 * a write is one signed op, applied and committed locally, and waits there
 * for `veld sync`.  Record ids are 32 hex digits; wherever a command takes
 * an id, an unambiguous prefix of at least VELD_ID_PREFIX_MIN digits will
 * do.
 *
 * Each command takes the arguments after its name (argv[0] is the first
 * argument, not the command) and returns the process exit status:
 * 0 done, 1 failed (nothing or everything of a write was saved, never
 * part), 2 usage error (nothing was written).  Messages go to stderr, data
 * to stdout; with --json, stdout is one JSON document.
 */
#ifndef VELD_CLIENT_RECORDS_H
#define VELD_CLIENT_RECORDS_H

#include "home.h"

/* Fewest hex digits accepted as a record id prefix. */
#define VELD_ID_PREFIX_MIN 4

/* veld new FORM [--json] [--no-input] [--not-home] [field=value...] :
 * create a record (asking for missing fields on a terminal); prints its
 * id last. */
int veld_records_new(const struct veld_home *h, int argc, char **argv);

/* veld edit ID field=value... : set fields ("field=" clears one). */
int veld_records_edit(const struct veld_home *h, int argc, char **argv);

/* veld resolve ID FIELD VALUE : end a conflict on FIELD with VALUE. */
int veld_records_resolve(const struct veld_home *h, int argc, char **argv);

/* veld forms [--json] : the forms this device knows. */
int veld_records_forms(const struct veld_home *h, int argc, char **argv);

/* veld note ID TEXT... : append a note (the words are joined by spaces). */
int veld_records_note(const struct veld_home *h, int argc, char **argv);

/* veld delete ID : delete a record (every value currently shown). */
int veld_records_delete(const struct veld_home *h, int argc, char **argv);

/* veld list [--json] [--form F] [--street S] [--today] [--conflicts]
 * [--all] */
int veld_records_list(const struct veld_home *h, int argc, char **argv);

/* veld show ID [--json] : values, conflicts, notes and history. */
int veld_records_show(const struct veld_home *h, int argc, char **argv);

/* veld state-hash [--json] : the replica's state hash, in hex. */
int veld_records_state_hash(const struct veld_home *h, int argc, char **argv);

#endif /* VELD_CLIENT_RECORDS_H */
