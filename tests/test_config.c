/*
 * test_config.c - veldd's configuration file (server/config.c): every key
 * and its value rules, comments and blanks, the FILE:LINE of each error,
 * the line-length bound, and loading from a path.
 *
 * server/config.c and server/listen.c are compiled into this test
 * (tests/CMakeLists.txt), as they belong to veldd, not to libveld.
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "err.h"
#include "test.h"

/* s contains sub; prints both when it does not. */
#define CHECK_HAS(s, sub)                                                      \
	do {                                                                   \
		const char *s_ = (s), *sub_ = (sub);                           \
		if (strstr(s_, sub_)) {                                        \
			test_passed++;                                         \
		} else {                                                       \
			test_failed++;                                         \
			fprintf(stderr, "%s:%d: '%s' does not contain '%s'\n", \
				__FILE__, __LINE__, s_, sub_);                 \
		}                                                              \
	} while (0)

static char err[VELD_CONFIG_ERR_MAX];

/* Parse n bytes of text as the file "t.conf" into *c. */
static int parse_n(struct veld_config *c, const char *text, size_t n)
{
	FILE *f = tmpfile();
	int rc;

	if (!f || fwrite(text, 1, n, f) != n || fseek(f, 0, SEEK_SET)) {
		perror("test_config: tmpfile");
		exit(1);
	}
	veld_config_init(c);
	memset(err, 0, sizeof(err));
	rc = veld_config_parse(c, "t.conf", f, err, sizeof(err));
	fclose(f);
	return rc;
}

static int parse(struct veld_config *c, const char *text)
{
	return parse_n(c, text, strlen(text));
}

/* text must be refused with a message that contains want. */
#define REFUSED(text, want)                                                    \
	do {                                                                   \
		struct veld_config c_;                                         \
		CHECK_ERR(parse(&c_, (text)), VELD_EINVAL);                    \
		CHECK_HAS(err, (want));                                        \
	} while (0)

static void test_every_key(void)
{
	struct veld_config c;

	CHECK_ERR(parse(&c, "# veldd.conf\n"
			    "\n"
			    "data = /var/lib/veldd\n"
			    "  listen=[::1]:9000  \n"
			    "\ttls_cert\t=\t/etc/veldd/tls/cert.pem\r\n"
			    "tls_key = /etc/veldd/tls/key.pem\n"
			    "   # indented comment\n"
			    "log_level = debug\n"
			    "code_retention = 90d\n"
			    "max_connections = 500"), /* no final newline */
		  0);
	CHECK_EQ(c.set, VELD_CONFIG_DATA | VELD_CONFIG_LISTEN |
				VELD_CONFIG_TLS_CERT | VELD_CONFIG_TLS_KEY |
				VELD_CONFIG_LOG_LEVEL |
				VELD_CONFIG_CODE_RETENTION |
				VELD_CONFIG_MAX_CONNECTIONS);
	CHECK(!strcmp(c.data, "/var/lib/veldd"));
	CHECK(!strcmp(c.listen.host, "::1"));
	CHECK_EQ(c.listen.port, 9000);
	CHECK_EQ(c.listen.ipv6, 1);
	CHECK_EQ(c.listen.loopback, 1);
	CHECK(!strcmp(c.tls_cert, "/etc/veldd/tls/cert.pem")); /* CR gone */
	CHECK(!strcmp(c.tls_key, "/etc/veldd/tls/key.pem"));
	CHECK(!strcmp(c.log_level, "debug"));
	CHECK_U64(c.code_retention_ms, UINT64_C(90) * 24 * 3600 * 1000);
	CHECK_EQ(c.max_connections, 500);
	CHECK_EQ(c.line[0], 3);	    /* data */
	CHECK_EQ(c.line[6], 10);    /* max_connections */
	CHECK(!strcmp(c.path, "")); /* parse does not name a path */
}

static void test_empty(void)
{
	struct veld_config c;

	CHECK_ERR(parse(&c, ""), 0);
	CHECK_EQ(c.set, 0);
	CHECK_ERR(parse(&c, "\n\n# only comments\n   \n\t\n#data = /x\n"), 0);
	CHECK_EQ(c.set, 0);
	CHECK_ERR(parse(&c, "\r\n"), 0);
	CHECK_EQ(c.set, 0);
}

static void test_values(void)
{
	struct veld_config c;

	/* A value is everything between the blanks, '=' and '#' included. */
	CHECK_ERR(parse(&c, "data = /srv/a=b#c d\n"), 0);
	CHECK(!strcmp(c.data, "/srv/a=b#c d"));
	CHECK_ERR(parse(&c, "listen = localhost:1\n"), 0);
	CHECK(!strcmp(c.listen.host, "127.0.0.1"));
	CHECK_ERR(parse(&c, "listen = 0.0.0.0:8787\n"), 0);
	CHECK_EQ(c.listen.loopback, 0);
	for (int i = 0; i < 4; i++) {
		static const char *const lv[] = {"error", "warn", "info",
						 "debug"};
		char text[64];

		snprintf(text, sizeof(text), "log_level = %s\n", lv[i]);
		CHECK_ERR(parse(&c, text), 0);
		CHECK(!strcmp(c.log_level, lv[i]));
	}
	CHECK_ERR(parse(&c, "code_retention = forever\n"), 0);
	CHECK_U64(c.code_retention_ms, 0);
	CHECK(c.set & VELD_CONFIG_CODE_RETENTION);
	CHECK_ERR(parse(&c, "code_retention = 30m\n"), 0);
	CHECK_U64(c.code_retention_ms, UINT64_C(30) * 60 * 1000);
	CHECK_ERR(parse(&c, "code_retention = 12h\n"), 0);
	CHECK_U64(c.code_retention_ms, UINT64_C(12) * 3600 * 1000);
	CHECK_ERR(parse(&c, "code_retention = 3650d\n"), 0);
	CHECK_U64(c.code_retention_ms, UINT64_C(3650) * 86400 * 1000);
	CHECK_ERR(parse(&c, "max_connections = 1\n"), 0);
	CHECK_EQ(c.max_connections, 1);
	CHECK_ERR(parse(&c, "max_connections = 100000\n"), 0);
	CHECK_EQ(c.max_connections, 100000);
}

static void test_errors(void)
{
	REFUSED("data = /x\nport = 8787\n",
		"t.conf:2: unknown key 'port' (known: data, listen,");
	REFUSED("Data = /x\n", "t.conf:1: unknown key 'Data'");
	REFUSED("\n\ndata /var/lib/veldd\n",
		"t.conf:3: expected 'key = value'");
	REFUSED("= /x\n", "t.conf:1: expected 'key = value' (no key");
	REFUSED("data =\n", "t.conf:1: 'data' needs a value");
	REFUSED("data =   \t\n", "t.conf:1: 'data' needs a value");
	REFUSED("data = /a\n# again:\ndata = /b\n",
		"t.conf:3: 'data' is already set on line 1");
	REFUSED("data = \"/var/lib/veldd\"\n",
		"t.conf:1: values are taken literally: remove the quotes");
	REFUSED("listen = 0.0.0.0:8787  # public\n",
		"t.conf:1: a comment must be on a line of its own");
	REFUSED("listen = 0.0.0.0:8787\t#x\n", "a comment must be on a line");

	REFUSED("data = veld-data\n",
		"t.conf:1: 'veld-data' is not an absolute path");
	REFUSED("tls_cert = cert.pem\ntls_key = /k\n",
		"t.conf:1: 'cert.pem' is not an absolute path");
	REFUSED("listen = example.org:8787\n",
		"t.conf:1: bad listen address 'example.org:8787' (want a "
		"numeric HOST:PORT");
	REFUSED("listen = 127.0.0.1\n", "bad listen address '127.0.0.1'");
	REFUSED("listen = 127.0.0.1:0\n", "bad listen address");
	REFUSED("listen = ::1:8787\n", "bad listen address");
	REFUSED("log_level = verbose\n",
		"t.conf:1: bad log_level 'verbose' (want error, warn, info or "
		"debug)");
	REFUSED("log_level = INFO\n", "bad log_level 'INFO'");
	REFUSED("code_retention = 0d\n", "t.conf:1: bad code_retention '0d'");
	REFUSED("code_retention = 90\n", "bad code_retention '90'");
	REFUSED("code_retention = d\n", "bad code_retention 'd'");
	REFUSED("code_retention = 2w\n", "bad code_retention '2w'");
	REFUSED("code_retention = 9dd\n", "bad code_retention '9dd'");
	REFUSED("code_retention = -1d\n", "bad code_retention '-1d'");
	REFUSED("code_retention = 3651d\n",
		"t.conf:1: code_retention '3651d' is too long (at most 3650d)");
	REFUSED("code_retention = 9999999d\n", "is too long");
	REFUSED("code_retention = 99999999999999999999d\n",
		"bad code_retention");
	REFUSED("max_connections = 0\n",
		"t.conf:1: bad max_connections '0' (want a whole number from "
		"1 to 100000)");
	REFUSED("max_connections = 100001\n", "bad max_connections '100001'");
	REFUSED("max_connections = 18446744073709551617\n",
		"bad max_connections");
	REFUSED("max_connections = 12a\n", "bad max_connections '12a'");
	REFUSED("max_connections = -5\n", "bad max_connections '-5'");
	REFUSED("max_connections = +5\n", "bad max_connections '+5'");
	REFUSED("max_connections = 1e3\n", "bad max_connections '1e3'");
}

static void test_tls_pair(void)
{
	struct veld_config c;

	REFUSED("data = /x\ntls_cert = /c\n",
		"t.conf:2: tls_cert is set but tls_key is not: they go "
		"together");
	REFUSED("tls_key = /k\n",
		"t.conf:1: tls_key is set but tls_cert is not");
	CHECK_ERR(parse(&c, "tls_key = /k\ntls_cert = /c\n"), 0);
}

/* What a message shows of a hostile key: no control bytes, bounded. */
static void test_shown(void)
{
	char text[300];

	REFUSED("\x1b[2Jevil = 1\n", "unknown key '?[2Jevil'");
	memset(text, 'k', sizeof(text));
	memcpy(text + 200, " = v\n", 6);
	REFUSED(text,
		"unknown key 'kkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkk"
		"kkkkkkkkkkkkkkkkkkk...'");
}

static void test_bounds(void)
{
	static char text[VELD_CONFIG_LINE_MAX + 64];
	struct veld_config c;
	size_t n;

	/* Exactly VELD_CONFIG_LINE_MAX bytes: fine (a comment here). */
	memset(text, '#', VELD_CONFIG_LINE_MAX);
	memcpy(text + VELD_CONFIG_LINE_MAX, "\ndata = /x\n", 12);
	CHECK_ERR(parse(&c, text), 0);
	CHECK(!strcmp(c.data, "/x"));
	/* One more: refused, with the line number. */
	memcpy(text, "data = /x\n", 10);
	memset(text + 10, '#', VELD_CONFIG_LINE_MAX + 1);
	text[10 + VELD_CONFIG_LINE_MAX + 1] = '\0';
	REFUSED(text, "t.conf:2: line too long (at most 4096 bytes)");
	/* The longest path a line can hold fits in the struct. */
	n = (size_t)snprintf(text, sizeof(text), "data=/");
	memset(text + n, 'p', VELD_CONFIG_LINE_MAX - n);
	text[VELD_CONFIG_LINE_MAX] = '\0';
	CHECK_ERR(parse(&c, text), 0);
	CHECK_EQ(strlen(c.data), VELD_CONFIG_LINE_MAX - 5);
	CHECK(VELD_CONFIG_LINE_MAX - 5 < PATH_MAX);
	/* A NUL byte. */
	CHECK_ERR(parse_n(&c, "data = /x\nlisten\0 = 1\n", 22), VELD_EINVAL);
	CHECK_HAS(err, "t.conf:2: NUL byte");
}

/* A short error buffer gets a cut, NUL-terminated message. */
static void test_short_err(void)
{
	struct veld_config c;
	char small[12];
	FILE *f = tmpfile();

	CHECK(f != NULL);
	if (!f)
		return;
	fputs("bogus = 1\n", f);
	rewind(f);
	veld_config_init(&c);
	memset(small, 'x', sizeof(small));
	CHECK_ERR(veld_config_parse(&c, "t.conf", f, small, sizeof(small)),
		  VELD_EINVAL);
	CHECK_EQ(strlen(small), sizeof(small) - 1);
	CHECK(!strcmp(small, "t.conf:1: u"));
	fclose(f);
}

static void test_load(void)
{
	char dir[] = "/tmp/test_config.XXXXXX", path[PATH_MAX];
	struct veld_config c;
	FILE *f;

	if (!mkdtemp(dir)) {
		perror("test_config: mkdtemp");
		test_failed++;
		return;
	}
	snprintf(path, sizeof(path), "%s/veldd.conf", dir);

	/* A file named explicitly must exist. */
	CHECK_ERR(veld_config_load(&c, path, err, sizeof(err)), VELD_EIO);
	CHECK_HAS(err, "cannot read config '");
	CHECK_HAS(err, "veldd.conf': No such file or directory");
	CHECK_EQ(c.set, 0);

	f = fopen(path, "w");
	CHECK(f != NULL);
	if (f) {
		fputs("listen = 127.0.0.1:9999\nmax_connections = 7\n", f);
		fclose(f);
	}
	CHECK_ERR(veld_config_load(&c, path, err, sizeof(err)), 0);
	CHECK(!strcmp(c.path, path));
	CHECK_EQ(c.listen.port, 9999);
	CHECK_EQ(c.max_connections, 7);
	CHECK_EQ(c.set, VELD_CONFIG_LISTEN | VELD_CONFIG_MAX_CONNECTIONS);

	/* Errors name the path as given. */
	f = fopen(path, "a");
	if (f) {
		fputs("colour = blue\n", f);
		fclose(f);
	}
	CHECK_ERR(veld_config_load(&c, path, err, sizeof(err)), VELD_EINVAL);
	CHECK_HAS(err, "/veldd.conf:3: unknown key 'colour'");
	CHECK(!strncmp(err, dir, strlen(dir)));

	/* A directory is not a configuration file. */
	CHECK(veld_config_load(&c, dir, err, sizeof(err)) < 0);
	CHECK_HAS(err, "Is a directory");

	/* /dev/null: an empty configuration (how to skip the default). */
	CHECK_ERR(veld_config_load(&c, "/dev/null", err, sizeof(err)), 0);
	CHECK_EQ(c.set, 0);

	unlink(path);
	rmdir(dir);
}

int main(void)
{
	test_every_key();
	test_empty();
	test_values();
	test_errors();
	test_tls_pair();
	test_shown();
	test_bounds();
	test_short_err();
	test_load();
	return test_summary("test_config");
}
