/*
 * wijklab_threads.h - the wijklab push with every device a thread of one
 * process (bench/wijklab --devices threads), the layout of the peers'
 * harness, which holds all W devices in one Node process.
 *
 * Each thread runs veld's own sync driver (veld_sync_run, push only) on
 * its own device directory, as `veld --dir DIR sync --push-only` does in
 * the default layout (one process per device).  The threads are started
 * and parked on a barrier first; the caller's "go" releases them all at
 * once, and the time runs from that release until the last run returned.
 * Everything a run does, opening the device's key and replica included,
 * is inside that window; starting the process and its threads is not.
 */
#ifndef WIJKLAB_THREADS_H
#define WIJKLAB_THREADS_H

#include <stdio.h>

/*
 * wijklab_push_threads - push the n devices in dirs (borrowed), one
 * thread each.  Writes "ready N" to out once every thread waits at the
 * barrier, then reads lines from in until one is "go" (EOF before it:
 * failure, nothing released).  After the push it writes, to out, one line
 * per device
 *     device I pushed N pulled N up B down B receipt SEQ ms T err E TEXT
 * (err 0 and TEXT "ok" on success) and one summary line
 *     threads N wall_ms T cpu_s C setup_cpu_s C peak_rss_kb K
 * with the process's CPU time (user + system) inside the timed window and
 * before it (start-up, set-up, the threads' creation), and its peak RSS.
 * veld_sync_global_init(0) and sodium_init() must have been called.  A run not
 * done after timeout_s seconds ends the process (exit status 1) after a
 * "timeout" line. Returns 0 when every device pushed and got a receipt, -1
 * otherwise (messages on stderr).
 */
int wijklab_push_threads(int n, char *const *dirs, int timeout_s, FILE *in,
			 FILE *out);

#endif /* WIJKLAB_THREADS_H */
