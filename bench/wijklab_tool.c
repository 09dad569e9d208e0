/*
 * wijklab_tool.c - the C side of the wijklab benchmark (bench/wijklab):
 * the workload generator and the offline phase of veld devices.
 *
 *   wijklab_tool vectors
 *       the PRNG test vectors of WORKLOAD.md §1
 *   wijklab_tool expect [--seed S] --W N --R N [--lines FILE]
 *       the expected final state: prints "LIVE SHA256" (hex); with
 *       --lines also writes its canonical lines (WORKLOAD.md §6) to FILE
 *   wijklab_tool prep [--seed S] --R N --device D --dir DIR --map FILE
 *       writes device D's offline log into the veld device at DIR
 *       (wijklab_prep.h) and the veld-id -> workload-id map to FILE;
 *       prints "creates edits deletes"
 *   wijklab_tool run --rss-out FILE -- CMD [ARG...]
 *       runs CMD as a child of this small process, exits with its status
 *       (128 + signal if killed) and writes its peak RSS in KiB to FILE.
 *       A process forked straight from the (large) Python harness would
 *       carry the harness's resident pages in its high-water mark, which
 *       survives exec: forked from here, CMD's peak is its own.
 *   wijklab_tool push-threads [--timeout S] DIR...
 *       pushes the veld devices at DIR..., each a thread of this process
 *       running veld's sync driver, all released at once by a "go" line
 *       on stdin (wijklab_threads.h has the output lines); default
 *       timeout 600 s.
 *
 * Exit codes: 0 ok; 1 failed (message on stderr); 2 bad usage.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "sync.h"
#include "wijklab_gen.h"
#include "wijklab_prep.h"
#include "wijklab_threads.h"

struct opts {
	unsigned long seed;
	long W, R, device;
	const char *lines, *dir, *map;
};

static int usage(void)
{
	fprintf(stderr, "usage: wijklab_tool vectors\n"
			"       wijklab_tool expect [--seed S] --W N --R N "
			"[--lines FILE]\n"
			"       wijklab_tool prep [--seed S] --R N --device D "
			"--dir DIR --map FILE\n"
			"       wijklab_tool run --rss-out FILE -- CMD "
			"[ARG...]\n"
			"       wijklab_tool push-threads [--timeout S] "
			"DIR...\n");
	return 2;
}

/* A decimal number in [lo, hi]; -1 if it is not one. */
static int number(const char *s, unsigned long hi, unsigned long *out)
{
	char *end;

	if (!s || !*s || *s == '-' || *s == '+')
		return -1;
	errno = 0;
	*out = strtoul(s, &end, 10);
	return errno || *end || *out > hi ? -1 : 0;
}

static int parse(int argc, char **argv, struct opts *o)
{
	unsigned long v;

	memset(o, 0, sizeof(*o));
	o->seed = 42;
	o->W = o->R = o->device = -1;
	for (int i = 0; i < argc; i++) {
		const char *a = argv[i], *val = i + 1 < argc ? argv[i + 1] : 0;

		if (!val) {
			fprintf(stderr, "wijklab_tool: '%s' needs a value\n",
				a);
			return -1;
		}
		i++;
		if (strcmp(a, "--seed") == 0) {
			if (number(val, 0xffffffffUL, &o->seed) < 0)
				goto bad;
		} else if (strcmp(a, "--W") == 0) {
			if (number(val, WIJKLAB_W_MAX, &v) < 0 || v < 1)
				goto bad;
			o->W = (long)v;
		} else if (strcmp(a, "--R") == 0) {
			if (number(val, WIJKLAB_R_MAX, &v) < 0 || v < 1)
				goto bad;
			o->R = (long)v;
		} else if (strcmp(a, "--device") == 0) {
			if (number(val, WIJKLAB_W_MAX - 1, &v) < 0)
				goto bad;
			o->device = (long)v;
		} else if (strcmp(a, "--lines") == 0) {
			o->lines = val;
		} else if (strcmp(a, "--dir") == 0) {
			o->dir = val;
		} else if (strcmp(a, "--map") == 0) {
			o->map = val;
		} else {
			fprintf(stderr, "wijklab_tool: unknown option '%s'\n",
				a);
			return -1;
		}
		continue;
	bad:
		fprintf(stderr, "wijklab_tool: bad value '%s' for %s\n", val,
			a);
		return -1;
	}
	return 0;
}

static int cmd_vectors(void)
{
	uint32_t st = 42;

	printf("mulberry32(42) first 5 uint32:");
	for (int k = 0; k < 5; k++)
		printf(" %lu", (unsigned long)wijklab_next(&st));
	printf("\ndeviceSeed(42, 0..2):");
	for (int d = 0; d < 3; d++)
		printf(" %lu", (unsigned long)wijklab_device_seed(42, d));
	printf("\n");
	return 0;
}

static int cmd_expect(const struct opts *o)
{
	struct wijklab_state *st;
	FILE *lines = NULL;
	uint8_t dg[32];
	char hex[65];
	int rc;

	if (o->W < 0 || o->R < 0)
		return usage();
	if (o->lines && !(lines = fopen(o->lines, "w"))) {
		fprintf(stderr, "wijklab_tool: cannot write '%s': %s\n",
			o->lines, strerror(errno));
		return 1;
	}
	st = wijklab_state_new((uint32_t)o->seed, (int)o->W, (int)o->R);
	rc = st ? wijklab_state_digest(st, dg, lines) : -1;
	if (lines && fclose(lines) != 0)
		rc = -1;
	if (rc < 0) {
		fprintf(stderr, "wijklab_tool: cannot compute the expected "
				"state\n");
		wijklab_state_free(st);
		return 1;
	}
	sodium_bin2hex(hex, sizeof(hex), dg, sizeof(dg));
	printf("%ld %s\n", wijklab_state_live(st), hex);
	wijklab_state_free(st);
	return 0;
}

static int cmd_prep(const struct opts *o)
{
	struct wijklab_prep_counts n;
	char err[512];
	FILE *map;
	int rc;

	if (o->R < 0 || o->device < 0 || !o->dir || !o->map)
		return usage();
	map = fopen(o->map, "w");
	if (!map) {
		fprintf(stderr, "wijklab_tool: cannot write '%s': %s\n", o->map,
			strerror(errno));
		return 1;
	}
	rc = wijklab_prep_device(o->dir, (uint32_t)o->seed, (int)o->device,
				 (int)o->R, map, &n, err, sizeof(err));
	if (fclose(map) != 0 && rc == 0) {
		snprintf(err, sizeof(err), "cannot write '%s'", o->map);
		rc = -1;
	}
	if (rc < 0) {
		fprintf(stderr, "wijklab_tool: device %ld: %s\n", o->device,
			err);
		return 1;
	}
	printf("%ld %ld %ld\n", n.creates, n.edits, n.deletes);
	return 0;
}

static int cmd_run(int argc, char **argv)
{
	struct rusage ru;
	FILE *f;
	pid_t pid;
	int status;

	if (argc < 4 || strcmp(argv[0], "--rss-out") != 0 ||
	    strcmp(argv[2], "--") != 0)
		return usage();
	pid = fork();
	if (pid < 0) {
		perror("wijklab_tool: fork");
		return 1;
	}
	if (pid == 0) {
		execv(argv[3], argv + 3);
		perror("wijklab_tool: exec");
		_exit(127);
	}
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR) {
			perror("wijklab_tool: waitpid");
			return 1;
		}
	/* Our only child: the children's peak is its peak. */
	if (getrusage(RUSAGE_CHILDREN, &ru) < 0) {
		perror("wijklab_tool: getrusage");
		return 1;
	}
	f = fopen(argv[1], "w");
	if (!f || fprintf(f, "%ld\n", ru.ru_maxrss) < 0 || fclose(f) != 0) {
		fprintf(stderr, "wijklab_tool: cannot write '%s'\n", argv[1]);
		return 1;
	}
	if (WIFSIGNALED(status))
		return 128 + WTERMSIG(status);
	return WEXITSTATUS(status);
}

static int cmd_push_threads(int argc, char **argv)
{
	unsigned long timeout = 600;

	if (argc >= 2 && strcmp(argv[0], "--timeout") == 0) {
		if (number(argv[1], 86400, &timeout) < 0 || timeout < 1)
			return usage();
		argc -= 2;
		argv += 2;
	}
	if (argc < 1 || argc > WIJKLAB_W_MAX)
		return usage();
	/* Before any thread: lws must not log from several at once. */
	veld_sync_global_init(0);
	if (wijklab_push_threads(argc, argv, (int)timeout, stdin, stdout) < 0)
		return 1;
	return 0;
}

int main(int argc, char **argv)
{
	struct opts o;

	/* Before libsodium and the option parser: CMD's arguments are not
	 * ours to parse. */
	if (argc >= 2 && strcmp(argv[1], "run") == 0)
		return cmd_run(argc - 2, argv + 2);

	if (sodium_init() < 0) {
		fprintf(stderr, "wijklab_tool: libsodium failed to start\n");
		return 1;
	}
	if (argc < 2)
		return usage();
	if (strcmp(argv[1], "push-threads") == 0)
		return cmd_push_threads(argc - 2, argv + 2);
	if (parse(argc - 2, argv + 2, &o) < 0)
		return 2;
	if (strcmp(argv[1], "vectors") == 0)
		return cmd_vectors();
	if (strcmp(argv[1], "expect") == 0)
		return cmd_expect(&o);
	if (strcmp(argv[1], "prep") == 0)
		return cmd_prep(&o);
	return usage();
}
