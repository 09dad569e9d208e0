/*
 * config.h - veldd's configuration file.
 *
 * `veldd serve` (and the admin commands, for `data`) read settings from a
 * file before the command line, so that a service manager can start veldd
 * with one fixed command and an operator can change the rest in one place.
 * The file is given with --config FILE; without it veldd reads
 * VELD_CONFIG_DEFAULT if that exists, and nothing if it does not.
 * Precedence, strongest first: command-line flags, the environment
 * ($VELDD_DATA), the file, the built-in defaults.
 *
 * The format is lines of `key = value`:
 *
 *	# veldd.conf
 *	data = /var/lib/veldd
 *	listen = 127.0.0.1:8787
 *	log_level = info
 *
 * Blank lines and lines whose first non-blank character is '#' are
 * ignored.  A '#' later in a line is not a comment: a value that holds
 * blank-then-'#' is refused, so "listen = 1.2.3.4:8787  # public" is an
 * error instead of a surprise.  Blanks around the key and the value are
 * dropped; the value is everything else, taken literally (no quotes, no
 * escapes).  A line is at most VELD_CONFIG_LINE_MAX bytes.  An unknown
 * key, a bad value, a key given twice, or tls_cert without tls_key is an
 * error naming FILE:LINE; veldd then exits with status 2.
 *
 * Keys (docs/operations.md and deploy/veldd.conf.example say more):
 *
 *	data             data directory
 *	listen           HOST:PORT, numeric, as --listen (listen.h)
 *	tls_cert         PEM certificate (chain) file, as --tls-cert
 *	tls_key          PEM private key file, as --tls-key
 *	log_level        error | warn | info | debug
 *	code_retention   how long used and expired enrolment codes are kept:
 *	                 a whole number of minutes, hours or days (30m, 12h,
 *	                 90d; at most VELD_CONFIG_RETENTION_MAX_DAYS days) or
 *	                 "forever" (the default)
 *	max_connections  at most this many connections at once, 1..
 *	                 VELD_CONFIG_CONNECTIONS_MAX (default: no limit of
 *	                 veldd's own; the process's open-file limit)
 *
 * Usage:
 *
 *	struct veld_config cfg;
 *	char err[VELD_CONFIG_ERR_MAX];
 *
 *	if (veld_config_load(&cfg, path_or_NULL, err, sizeof(err)) < 0) {
 *		fprintf(stderr, "veldd: %s\n", err);
 *		return 2;
 *	}
 *	if (cfg.set & VELD_CONFIG_DATA) ... cfg.data ...
 *
 * The struct owns no memory: there is nothing to release.
 */
#ifndef VELD_CONFIG_H
#define VELD_CONFIG_H

#include <limits.h>
#include <stdint.h>
#include <stdio.h>

#include "listen.h"

#define VELD_CONFIG_DEFAULT "/etc/veldd/veldd.conf"
#define VELD_CONFIG_LINE_MAX 4096 /* bytes per line, without the newline */
#define VELD_CONFIG_ERR_MAX (PATH_MAX + 256) /* room for any message */
#define VELD_CONFIG_RETENTION_MAX_DAYS 3650
#define VELD_CONFIG_CONNECTIONS_MAX 100000
#define VELD_CONFIG_NKEYS 7

/* Bits of struct veld_config.set: which keys the file gave. */
enum {
	VELD_CONFIG_DATA = 1 << 0,
	VELD_CONFIG_LISTEN = 1 << 1,
	VELD_CONFIG_TLS_CERT = 1 << 2,
	VELD_CONFIG_TLS_KEY = 1 << 3,
	VELD_CONFIG_LOG_LEVEL = 1 << 4,
	VELD_CONFIG_CODE_RETENTION = 1 << 5,
	VELD_CONFIG_MAX_CONNECTIONS = 1 << 6,
};

struct veld_config {
	char path[PATH_MAX]; /* the file read; "" if none was */
	unsigned set;	     /* VELD_CONFIG_* bits of the keys given */
	char data[PATH_MAX]; /* data directory */
	struct veld_listen listen;
	char tls_cert[PATH_MAX];
	char tls_key[PATH_MAX];
	char log_level[8];	     /* "error", "warn", "info" or "debug" */
	uint64_t code_retention_ms;  /* 0 = forever */
	unsigned max_connections;    /* 0 = no limit of veldd's own */
	int line[VELD_CONFIG_NKEYS]; /* where each key was set, by bit */
};

/* veld_config_init - an empty configuration: no file, no key set. */
void veld_config_init(struct veld_config *c);

/*
 * veld_config_parse - read settings from f (borrowed; read to its end)
 * into c, which veld_config_init prepared; name is what messages call the
 * file.  On failure err (errlen bytes, always NUL-terminated) says
 * "NAME:LINE: what is wrong", and c may hold the settings before that
 * line.  Returns 0, VELD_EINVAL (bad content) or VELD_EIO (read error).
 */
int veld_config_parse(struct veld_config *c, const char *name, FILE *f,
		      char *err, size_t errlen)
	__attribute__((warn_unused_result));

/*
 * veld_config_load - initialise c and read the configuration file path
 * (copied), or VELD_CONFIG_DEFAULT if path is NULL.  A default file that
 * does not exist is no error: c stays empty.  A path given explicitly
 * must exist.  Returns 0, or VELD_EINVAL / VELD_EIO with err as
 * veld_config_parse (a file that cannot be opened: "cannot read config
 * 'PATH': No such file or directory").
 */
int veld_config_load(struct veld_config *c, const char *path, char *err,
		     size_t errlen) __attribute__((warn_unused_result));

#endif /* VELD_CONFIG_H */
