/*
 * wijklab_threads.c - the wijklab push, every device a thread of this
 * process; see wijklab_threads.h.
 *
 * A pthread barrier of n + 1 (the devices and the caller) makes the
 * release one moment for all of them; the time is taken by the caller
 * right before it crosses the barrier, and each device takes its own end
 * time when its run returns.  The caller then waits on a condition
 * variable with a deadline, so a stuck run cannot hold the benchmark:
 * the process ends instead (the threads cannot be stopped cleanly).
 */
#include "wijklab_threads.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sys/resource.h>

#include "err.h"
#include "home.h"
#include "sync.h"

struct device {
	struct veld_home home;
	struct veld_sync_report rep;
	struct timespec end;
	int rc;
	struct shared *sh;
	pthread_t thread;
};

struct shared {
	pthread_barrier_t go;
	pthread_mutex_t lock;
	pthread_cond_t done_cond;
	int done; /* devices whose run returned */
};

static double seconds(const struct timespec *t)
{
	return (double)t->tv_sec + (double)t->tv_nsec / 1e9;
}

static double cpu_now(void)
{
	struct rusage ru;

	if (getrusage(RUSAGE_SELF, &ru) < 0)
		return -1;
	return (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 +
	       (double)ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
}

/* VmHWM of this process in KiB (per address space: not the parent's). */
static long peak_rss_kb(void)
{
	char line[256];
	long kb = -1;
	FILE *f = fopen("/proc/self/status", "r");

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (strncmp(line, "VmHWM:", 6) == 0) {
			kb = strtol(line + 6, NULL, 10);
			break;
		}
	fclose(f);
	return kb;
}

static void *device_main(void *arg)
{
	struct device *d = arg;
	struct veld_sync_opts o;

	memset(&o, 0, sizeof(o));
	o.push_only = 1; /* the server URL is the one stored at enrolment */
	pthread_barrier_wait(&d->sh->go);
	d->rc = veld_sync_run(&d->home, &o, &d->rep);
	clock_gettime(CLOCK_MONOTONIC, &d->end);
	pthread_mutex_lock(&d->sh->lock);
	d->sh->done++;
	pthread_cond_signal(&d->sh->done_cond);
	pthread_mutex_unlock(&d->sh->lock);
	return NULL;
}

/* Block until a "go" line; 0, or -1 on EOF. */
static int wait_go(FILE *in)
{
	char line[64];

	while (fgets(line, sizeof(line), in))
		if (strcmp(line, "go\n") == 0 || strcmp(line, "go") == 0)
			return 0;
	return -1;
}

int wijklab_push_threads(int n, char *const *dirs, int timeout_s, FILE *in,
			 FILE *out)
{
	struct device *devs = calloc((size_t)n, sizeof(*devs));
	struct shared sh;
	struct timespec t0, deadline, last;
	double cpu0, cpu1;
	int started = 0, failed = 0, rc;

	if (!devs || n < 1) {
		free(devs);
		fprintf(stderr, "push-threads: out of memory\n");
		return -1;
	}
	memset(&sh, 0, sizeof(sh));
	if (pthread_barrier_init(&sh.go, NULL, (unsigned)n + 1) != 0) {
		free(devs);
		fprintf(stderr, "push-threads: no barrier\n");
		return -1;
	}
	pthread_mutex_init(&sh.lock, NULL);
	pthread_cond_init(&sh.done_cond, NULL);
	for (int i = 0; i < n; i++) {
		devs[i].sh = &sh;
		if (veld_home_resolve(&devs[i].home, dirs[i]) < 0) {
			fprintf(stderr, "push-threads: bad directory '%s'\n",
				dirs[i]);
			free(devs);
			return -1;
		}
	}
	for (int i = 0; i < n; i++) {
		/* a thread parked at the barrier cannot be called back */
		rc = pthread_create(&devs[i].thread, NULL, device_main,
				    &devs[i]);
		if (rc != 0) {
			fprintf(stderr, "push-threads: thread %d: %s\n", i,
				strerror(rc));
			_exit(1);
		}
		started++;
	}
	fprintf(out, "ready %d\n", started);
	fflush(out);
	if (wait_go(in) < 0) {
		fprintf(stderr, "push-threads: no \"go\" on stdin\n");
		_exit(1);
	}

	cpu0 = cpu_now();
	clock_gettime(CLOCK_MONOTONIC, &t0);
	pthread_barrier_wait(&sh.go);

	/* The deadline is on CLOCK_REALTIME, as pthread_cond_timedwait's. */
	clock_gettime(CLOCK_REALTIME, &deadline);
	deadline.tv_sec += timeout_s;
	pthread_mutex_lock(&sh.lock);
	rc = 0;
	while (sh.done < n && rc != ETIMEDOUT)
		rc = pthread_cond_timedwait(&sh.done_cond, &sh.lock, &deadline);
	if (sh.done < n) {
		fprintf(out,
			"timeout: %d of %d devices still running after "
			"%d s\n",
			n - sh.done, n, timeout_s);
		fflush(out);
		_exit(1);
	}
	pthread_mutex_unlock(&sh.lock);
	cpu1 = cpu_now();
	last = t0;
	for (int i = 0; i < n; i++) {
		struct device *d = &devs[i];
		struct veld_sync_report *r = &d->rep;

		pthread_join(d->thread, NULL);
		if (seconds(&d->end) > seconds(&last))
			last = d->end;
		if (d->rc != 0 || r->err != 0 || r->pushed == 0 ||
		    r->receipt_seq == 0)
			failed++;
		fprintf(out,
			"device %d pushed %llu pulled %llu up %llu down %llu "
			"receipt %llu ms %.3f err %d %s\n",
			i, (unsigned long long)r->pushed,
			(unsigned long long)r->pulled,
			(unsigned long long)r->bytes_up,
			(unsigned long long)r->bytes_down,
			(unsigned long long)r->receipt_seq,
			(seconds(&d->end) - seconds(&t0)) * 1000, r->err,
			r->err ? r->text : "ok");
	}
	fprintf(out,
		"threads %d wall_ms %.3f cpu_s %.3f setup_cpu_s %.3f "
		"peak_rss_kb %ld\n",
		n, (seconds(&last) - seconds(&t0)) * 1000, cpu1 - cpu0, cpu0,
		peak_rss_kb());
	fflush(out);
	pthread_barrier_destroy(&sh.go);
	pthread_cond_destroy(&sh.done_cond);
	pthread_mutex_destroy(&sh.lock);
	free(devs);
	if (failed)
		fprintf(stderr, "push-threads: %d of %d devices failed\n",
			failed, n);
	return failed ? -1 : 0;
}
