/*
 * dbfiles.h - remove an SQLite database file with its -wal and -shm, for
 * tests and fuzz targets that start from an empty store.  Header only.
 */
#ifndef VELD_TESTS_DBFILES_H
#define VELD_TESTS_DBFILES_H

#include <stdio.h>
#include <unistd.h>

/* Remove path and its -wal and -shm (those that are there). */
static inline void test_remove_db(const char *path)
{
	char p[512];

	unlink(path);
	snprintf(p, sizeof(p), "%s-wal", path);
	unlink(p);
	snprintf(p, sizeof(p), "%s-shm", path);
	unlink(p);
}

#endif /* VELD_TESTS_DBFILES_H */
