/*
 * idle_devices.c - N devices connected to one veldd at once, idle, and one
 * new op that must reach every one of them (issue 8's "1,000 concurrently
 * connected idle devices").  Driven by bench/idle_devices.sh, which starts
 * the server, issues the codes, samples the server's memory and makes the
 * new op; see bench/README.md.
 *
 *   idle_devices --port P --codes FILE [--n N] [--host H] [--json FILE]
 *                [--ready FILE] [--done FILE] [--timeout S] [--wait S]
 *
 * One process, one lws client context, N WebSocket connections to
 * ws://HOST:PORT/sync (subprotocol veld.4).  Each connection is its own
 * device: a fresh Ed25519 key, enrolled with its own one-time code (line i
 * of FILE, as `veldd code new` prints them).  Phases:
 *
 *  1. connect: every device connects and ENROLs; at most --window of them
 *     are in the handshake at a time (the server's accept backlog is not
 *     what is measured).  Ends when all N have their WELCOME.
 *  2. catch up: all N send PULL (cursor 0) and ACK every OPS until one has
 *     more = false.  Enrolling first and pulling afterwards keeps the
 *     enrolment ops of the others from being pushed live to every device
 *     that enrolled before them (N^2/2 messages that say nothing about an
 *     idle server).  The devices are then live and idle.
 *  3. Writes --ready FILE (then prints "ready") and waits for SIGUSR1, the
 *     trigger: the script makes one new op appear on the server.  From the
 *     trigger, every device must receive an OPS holding at least one op,
 *     within --timeout seconds; all of them must receive the same first op
 *     (compared by BLAKE2b of its bytes).  Writes --json and --done FILE.
 *  4. Waits for a second SIGUSR1 (or --wait seconds) so that the server can
 *     be measured after the broadcast, then closes every connection
 *     normally (1000) and exits.
 *
 * The devices do not apply or verify the ops they receive (they are not
 * replicas, and the bench is about the server); they ACK each OPS.
 *
 * Exit codes: 0 every device connected, caught up, stayed connected and
 * received the op; 1 one did not (which, and why, on stderr), or a phase
 * timed out; 2 bad usage, unreadable codes, or the open-file limit is too
 * low for N connections.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include <libwebsockets.h>
#include <sodium.h>

#include "err.h"
#include "key.h"
#include "msg.h"

#define N_MAX 20000
#define FD_SPARE 64 /* descriptors besides the connections */

enum dphase {
	D_IDLE,	      /* not started */
	D_CONNECTING, /* connect / HELLO / ENROL sent */
	D_WELCOMED,   /* waiting for the others */
	D_PULLING,    /* PULL sent, OPS coming */
	D_LIVE,	      /* caught up: idle */
	D_CLOSING,
	D_GONE, /* closed or failed */
};

struct dev {
	struct lws *wsi;
	int idx;
	int phase;
	struct veld_key key;
	char code[VELD_CODE_MAX + 1];
	struct veld_buf rx, tx;
	int tx_ready;
	uint64_t cursor;
	uint64_t pulled;    /* ops received while catching up */
	uint64_t got_us;    /* the broadcast op arrived (0: not yet) */
	uint8_t got_id[32]; /* BLAKE2b of its bytes */
	uint64_t stray;	    /* ops received while idle, before the trigger */
	int err;	    /* why it went away, or 0 */
	char why[128];
};

struct opts {
	const char *host, *codes, *json, *ready, *done;
	int port, n, window, timeout, wait;
};

static struct dev *devs;
static struct opts o = {.host = "127.0.0.1",
			.n = 1000,
			.window = 64,
			.timeout = 60,
			.wait = 600};
static struct lws_context *ctx;
static unsigned char *wbuf;
static volatile sig_atomic_t usr1;
static int started, handshaking, welcomed, live, gone;
static uint64_t trigger_us;

static uint64_t now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

static void on_usr1(int sig)
{
	(void)sig;
	usr1++;
}

static void queue(struct dev *d)
{
	d->tx_ready = 1;
	lws_callback_on_writable(d->wsi);
}

/* The device is lost: remember why (the first reason counts). */
static void lose(struct dev *d, int err, const char *why)
{
	if (d->phase == D_GONE)
		return;
	if (d->phase != D_CLOSING && !d->err) {
		d->err = err ? err : VELD_ECONNECT;
		snprintf(d->why, sizeof(d->why), "%.*s",
			 (int)sizeof(d->why) - 1, why);
	}
	if (d->phase == D_CONNECTING)
		handshaking--;
	d->phase = D_GONE;
	d->wsi = NULL;
	gone++;
}

static void on_hello(struct dev *d, const struct veld_msg *m)
{
	char name[32];

	snprintf(name, sizeof(name), "idle-%05d", d->idx);
	veld_buf_reset(&d->tx);
	if (veld_msg_enrol(&d->tx, &d->key, m->key, m->nonce, d->code, name) <
	    0) {
		lose(d, VELD_ENOMEM, "cannot build ENROL");
		return;
	}
	queue(d);
}

static void send_pull(struct dev *d)
{
	veld_buf_reset(&d->tx);
	if (veld_msg_pull(&d->tx, 0) < 0) {
		lose(d, VELD_ENOMEM, "cannot build PULL");
		return;
	}
	d->phase = D_PULLING;
	queue(d);
}

static void on_ops(struct dev *d, struct veld_msg *m)
{
	if (d->phase != D_PULLING && d->phase != D_LIVE) {
		lose(d, VELD_EPROTO, "OPS before PULL");
		return;
	}
	if (veld_msg_open_runs(m) < 0) {
		lose(d, VELD_EMSGSHAPE, "OPS that do not decode");
		return;
	}
	d->cursor = m->cursor;
	if (d->phase == D_PULLING) {
		d->pulled += m->nops;
		if (!m->more) {
			d->phase = D_LIVE;
			live++;
		}
	} else if (m->nops && trigger_us && !d->got_us) {
		d->got_us = now_us();
		crypto_generichash(d->got_id, sizeof(d->got_id), m->ops[0].p,
				   m->ops[0].len, NULL, 0);
	} else if (!trigger_us) {
		d->stray += m->nops;
	}
	veld_buf_reset(&d->tx);
	if (veld_msg_ack(&d->tx, m->cursor) < 0) {
		lose(d, VELD_ENOMEM, "cannot build ACK");
		return;
	}
	queue(d);
}

static void handle(struct dev *d)
{
	struct veld_msg *m = malloc(sizeof(*m));
	char text[VELD_TEXT_MAX + 32];
	int rc;

	if (!m) {
		lose(d, VELD_ENOMEM, "out of memory");
		return;
	}
	rc = veld_msg_decode(d->rx.data, d->rx.len, m);
	if (rc < 0) {
		lose(d, rc, "malformed message from the server");
	} else if (m->type == VELD_MSG_ERROR) {
		snprintf(text, sizeof(text), "server: %s: %.*s",
			 veld_err_name((int)m->err), (int)m->text_len, m->text);
		lose(d, (int)m->err, text);
	} else if (m->type == VELD_MSG_HELLO && d->phase == D_CONNECTING) {
		on_hello(d, m);
	} else if (m->type == VELD_MSG_WELCOME && d->phase == D_CONNECTING) {
		d->phase = D_WELCOMED;
		handshaking--;
		welcomed++;
	} else if (m->type == VELD_MSG_OPS) {
		on_ops(d, m);
	} else {
		snprintf(text, sizeof(text), "unexpected %s",
			 veld_msg_name(m->type));
		lose(d, VELD_EPROTO, text);
	}
	veld_msg_release(m);
	free(m);
}

static int callback(struct lws *wsi, enum lws_callback_reasons reason,
		    void *user, void *in, size_t len)
{
	struct dev *d = user;

	switch (reason) {
	case LWS_CALLBACK_CLIENT_CONNECTION_ERROR:
		if (d)
			lose(d, VELD_ECONNECT,
			     in ? (const char *)in : "cannot connect");
		return 0;
	case LWS_CALLBACK_CLIENT_RECEIVE:
		if (d->phase == D_GONE)
			return -1;
		if (veld_buf_append(&d->rx, in, len) < 0) {
			lose(d, VELD_EMSGSIZE, "message too large");
			return -1;
		}
		if (!lws_is_final_fragment(wsi) ||
		    lws_remaining_packet_payload(wsi))
			return 0;
		handle(d);
		/* Idle devices keep no big buffers. */
		if (d->rx.cap > 4096)
			veld_buf_release(&d->rx);
		veld_buf_reset(&d->rx);
		return d->phase == D_GONE ? -1 : 0;
	case LWS_CALLBACK_CLIENT_WRITEABLE:
		if (d->tx_ready) {
			memcpy(wbuf + LWS_PRE, d->tx.data, d->tx.len);
			if (lws_write(wsi, wbuf + LWS_PRE, d->tx.len,
				      LWS_WRITE_BINARY) < (int)d->tx.len) {
				lose(d, VELD_ECONNECT, "write failed");
				return -1;
			}
			d->tx_ready = 0;
		}
		if (d->phase == D_CLOSING) {
			lws_close_reason(wsi, LWS_CLOSE_STATUS_NORMAL, NULL, 0);
			return -1;
		}
		return 0;
	case LWS_CALLBACK_CLIENT_CLOSED:
		if (d)
			lose(d, VELD_ECONNECT,
			     "the server closed the connection");
		return 0;
	default:
		break;
	}
	return 0;
}

static const struct lws_protocols protocols[] = {{.name = VELD_SUBPROTOCOL,
						  .callback = callback,
						  .rx_buffer_size = 4096},
						 {0}};

static void connect_dev(struct dev *d)
{
	struct lws_client_connect_info ci;

	memset(&ci, 0, sizeof(ci));
	ci.context = ctx;
	ci.address = o.host;
	ci.port = o.port;
	ci.path = "/sync";
	ci.host = o.host;
	ci.origin = o.host;
	ci.protocol = VELD_SUBPROTOCOL;
	ci.userdata = d;
	ci.pwsi = &d->wsi;
	d->phase = D_CONNECTING;
	handshaking++;
	started++;
	if (!lws_client_connect_via_info(&ci) && d->phase == D_CONNECTING)
		lose(d, VELD_ECONNECT, "cannot start the connection");
}

/* Serve until done() is true or the deadline (seconds from now) passes. */
static int serve_until(int (*done)(void), int seconds)
{
	uint64_t end = now_us() + (uint64_t)seconds * 1000000;

	while (!done()) {
		if (now_us() > end)
			return -1;
		if (lws_service(ctx, 0) < 0)
			return -1;
	}
	return 0;
}

/* A timer so that lws_service returns often enough to see signals. */
static lws_sorted_usec_list_t tick_sul;
static void tick(lws_sorted_usec_list_t *sul)
{
	/* Start more handshakes while connecting. */
	while (started < o.n && handshaking < o.window)
		connect_dev(&devs[started]);
	lws_sul_schedule(ctx, 0, sul, tick, 20 * LWS_US_PER_MS);
}

static int all_welcomed(void)
{
	return welcomed + gone >= o.n || gone;
}
static int all_live(void)
{
	return live >= o.n || gone;
}
static int got_usr1(void)
{
	return usr1 > 0 || gone;
}
static int got_usr1_again(void)
{
	return usr1 > 1 || gone;
}
static int received;
static int all_received(void)
{
	received = 0;
	for (int i = 0; i < o.n; i++)
		received += devs[i].got_us != 0;
	return received >= o.n || gone;
}
static int all_gone(void)
{
	return gone >= o.n;
}

static int raise_nofile(int n)
{
	struct rlimit rl;
	rlim_t want = (rlim_t)n + FD_SPARE;

	if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
		return -1;
	if (rl.rlim_cur >= want)
		return 0;
	if (rl.rlim_max != RLIM_INFINITY && rl.rlim_max < want) {
		fprintf(stderr,
			"idle_devices: %d connections need %llu open files, "
			"but the hard limit is %llu; raise it (ulimit -Hn, "
			"limits.conf, LimitNOFILE=) or use a smaller --n\n",
			n, (unsigned long long)want,
			(unsigned long long)rl.rlim_max);
		return -1;
	}
	rl.rlim_cur = want;
	if (setrlimit(RLIMIT_NOFILE, &rl) < 0) {
		fprintf(stderr,
			"idle_devices: cannot raise the open-file "
			"limit to %llu: %s\n",
			(unsigned long long)want, strerror(errno));
		return -1;
	}
	return 0;
}

static int read_codes(void)
{
	FILE *f = fopen(o.codes, "r");
	char line[128];
	int i = 0;

	if (!f) {
		fprintf(stderr, "idle_devices: cannot open '%s': %s\n", o.codes,
			strerror(errno));
		return -1;
	}
	while (i < o.n && fgets(line, sizeof(line), f)) {
		size_t l = strcspn(line, "\r\n");
		if (l == 0)
			continue;
		if (l > VELD_CODE_MAX) {
			fprintf(stderr,
				"idle_devices: %s line %d is not a code\n",
				o.codes, i + 1);
			fclose(f);
			return -1;
		}
		memcpy(devs[i].code, line, l);
		devs[i].code[l] = 0;
		i++;
	}
	fclose(f);
	if (i < o.n) {
		fprintf(stderr, "idle_devices: %s holds %d codes, need %d\n",
			o.codes, i, o.n);
		return -1;
	}
	return 0;
}

static void usage(FILE *f)
{
	fprintf(f, "usage: idle_devices --port P --codes FILE [--n N] "
		   "[--host H] [--json FILE]\n"
		   "         [--ready FILE] [--done FILE] [--window W] "
		   "[--timeout S] [--wait S]\n");
}

static int parse_int(const char *s, int lo, int hi, int *v)
{
	char *end;
	long x;

	errno = 0;
	x = strtol(s, &end, 10);
	if (errno || end == s || *end || x < lo || x > hi)
		return -1;
	*v = (int)x;
	return 0;
}

static int parse(int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		int bad = 0;

		if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
			usage(stdout);
			exit(0);
		}
		if (!v) {
			fprintf(stderr, "idle_devices: '%s' needs a value\n",
				a);
			return -1;
		}
		i++;
		if (!strcmp(a, "--port"))
			bad = parse_int(v, 1, 65535, &o.port);
		else if (!strcmp(a, "--n"))
			bad = parse_int(v, 1, N_MAX, &o.n);
		else if (!strcmp(a, "--window"))
			bad = parse_int(v, 1, N_MAX, &o.window);
		else if (!strcmp(a, "--timeout"))
			bad = parse_int(v, 1, 3600, &o.timeout);
		else if (!strcmp(a, "--wait"))
			bad = parse_int(v, 0, 3600, &o.wait);
		else if (!strcmp(a, "--host"))
			o.host = v;
		else if (!strcmp(a, "--codes"))
			o.codes = v;
		else if (!strcmp(a, "--json"))
			o.json = v;
		else if (!strcmp(a, "--ready"))
			o.ready = v;
		else if (!strcmp(a, "--done"))
			o.done = v;
		else {
			fprintf(stderr, "idle_devices: unknown option '%s'\n",
				a);
			return -1;
		}
		if (bad) {
			fprintf(stderr, "idle_devices: bad value '%s' for %s\n",
				v, a);
			return -1;
		}
	}
	if (!o.port || !o.codes) {
		fprintf(stderr,
			"idle_devices: --port and --codes are needed\n");
		return -1;
	}
	return 0;
}

static int touch(const char *path)
{
	FILE *f;

	if (!path)
		return 0;
	f = fopen(path, "w");
	if (!f || fclose(f) != 0) {
		fprintf(stderr, "idle_devices: cannot write '%s'\n", path);
		return -1;
	}
	return 0;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

/* Name the first few devices that failed, and count them. */
static int report_lost(void)
{
	int n = 0;

	for (int i = 0; i < o.n; i++) {
		if (!devs[i].err)
			continue;
		if (n++ < 5)
			fprintf(stderr, "idle_devices: device %d: %s (%s)\n", i,
				devs[i].why, veld_err_name(devs[i].err));
	}
	if (n > 5)
		fprintf(stderr, "idle_devices: ... %d devices lost in all\n",
			n);
	return n;
}

int main(int argc, char **argv)
{
	struct lws_context_creation_info info;
	struct sigaction sa;
	uint64_t t0, t_conn = 0, t_live = 0, *lat = NULL;
	uint64_t pulled_min = UINT64_MAX, pulled_max = 0, stray = 0;
	int rc = 1, same = 1, lost = 0, phase_ok = 0;
	const char *stage = "connect";

	if (parse(argc, argv) < 0) {
		usage(stderr);
		return 2;
	}
	if (sodium_init() < 0) {
		fprintf(stderr, "idle_devices: sodium_init failed\n");
		return 2;
	}
	if (raise_nofile(o.n) < 0)
		return 2;
	devs = calloc((size_t)o.n, sizeof(*devs));
	lat = calloc((size_t)o.n, sizeof(*lat));
	wbuf = malloc(LWS_PRE + 4096);
	if (!devs || !lat || !wbuf) {
		fprintf(stderr, "idle_devices: out of memory\n");
		return 2;
	}
	if (read_codes() < 0)
		return 2;
	for (int i = 0; i < o.n; i++) {
		devs[i].idx = i;
		veld_key_generate(&devs[i].key);
		veld_buf_init(&devs[i].rx, VELD_MSG_MAX);
		veld_buf_init(&devs[i].tx, 4096);
	}

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_usr1;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGUSR1, &sa, NULL); /* no SA_RESTART: wake poll() */

	lws_set_log_level(LLL_ERR, NULL);
	memset(&info, 0, sizeof(info));
	info.port = CONTEXT_PORT_NO_LISTEN;
	info.protocols = protocols;
	info.fd_limit_per_thread = (unsigned)o.n + FD_SPARE;
	ctx = lws_create_context(&info);
	if (!ctx) {
		fprintf(stderr,
			"idle_devices: cannot create the lws context\n");
		return 1;
	}

	/* 1. connect and enrol */
	t0 = now_us();
	lws_sul_schedule(ctx, 0, &tick_sul, tick, 1);
	if (serve_until(all_welcomed, o.timeout * 10) < 0 || gone)
		goto out;
	t_conn = now_us() - t0;
	printf("connected: %d devices enrolled in %.2f s\n", o.n, t_conn / 1e6);
	fflush(stdout);

	/* 2. catch up */
	stage = "catch up";
	t0 = now_us();
	for (int i = 0; i < o.n; i++)
		send_pull(&devs[i]);
	if (serve_until(all_live, o.timeout * 10) < 0 || gone)
		goto out;
	t_live = now_us() - t0;
	for (int i = 0; i < o.n; i++) {
		if (devs[i].pulled < pulled_min)
			pulled_min = devs[i].pulled;
		if (devs[i].pulled > pulled_max)
			pulled_max = devs[i].pulled;
	}
	printf("live: %d devices caught up in %.2f s (%llu..%llu ops each)\n",
	       o.n, t_live / 1e6, (unsigned long long)pulled_min,
	       (unsigned long long)pulled_max);
	if (touch(o.ready) < 0)
		goto out;
	printf("ready\n");
	fflush(stdout);

	/* 3. idle until the trigger, then wait for the op everywhere */
	stage = "idle (waiting for the trigger)";
	if (serve_until(got_usr1, 3600) < 0 || gone)
		goto out;
	trigger_us = now_us();
	stage = "broadcast";
	serve_until(all_received, o.timeout);
	phase_ok = received == o.n && !gone;
	for (int i = 0; i < o.n; i++) {
		stray += devs[i].stray;
		if (devs[i].got_us) {
			lat[i] = devs[i].got_us - trigger_us;
			if (memcmp(devs[i].got_id, devs[0].got_id, 32) != 0)
				same = 0;
		} else {
			lat[i] = UINT64_MAX;
		}
	}
	qsort(lat, (size_t)o.n, sizeof(*lat), cmp_u64);
	if (received)
		printf("broadcast: %d of %d devices received the op; from the "
		       "trigger: first %.3f s, median %.3f s, last %.3f s%s\n",
		       received, o.n, lat[0] / 1e6,
		       lat[(received - 1) / 2] / 1e6, lat[received - 1] / 1e6,
		       same ? "" : " (NOT the same op everywhere)");
	else
		printf("broadcast: no device received the op within %d s\n",
		       o.timeout);
	if (stray)
		printf("note: %llu ops arrived while idle before the trigger\n",
		       (unsigned long long)stray);
	fflush(stdout);
	if (o.json) {
		FILE *f = fopen(o.json, "w");
		if (!f) {
			fprintf(stderr, "idle_devices: cannot write '%s'\n",
				o.json);
			goto out;
		}
		fprintf(f,
			"{\"n\": %d, \"window\": %d, \"connect_s\": %.6f, "
			"\"catch_up_s\": %.6f, \"pulled_min\": %llu, "
			"\"pulled_max\": %llu, \"received\": %d, "
			"\"same_op\": %s, \"first_s\": %.6f, \"median_s\": "
			"%.6f, \"last_s\": %.6f, \"stray_ops\": %llu, "
			"\"lost\": %d}\n",
			o.n, o.window, t_conn / 1e6, t_live / 1e6,
			(unsigned long long)pulled_min,
			(unsigned long long)pulled_max, received,
			same ? "true" : "false", received ? lat[0] / 1e6 : -1.0,
			received ? lat[(received - 1) / 2] / 1e6 : -1.0,
			received ? lat[received - 1] / 1e6 : -1.0,
			(unsigned long long)stray, gone);
		if (fclose(f) != 0)
			goto out;
	}
	if (!phase_ok || !same)
		goto out;
	if (touch(o.done) < 0)
		goto out;

	/* 4. stay connected while the server is measured, then say bye */
	stage = "after the broadcast";
	serve_until(got_usr1_again, o.wait);
	if (gone)
		goto out;
	rc = 0;
out:
	lost = report_lost();
	if (rc || lost) {
		rc = 1;
		fprintf(stderr,
			"idle_devices: failed in phase '%s': %d of %d "
			"devices lost, %d welcomed, %d live, %d "
			"received the op\n",
			stage, lost, o.n, welcomed, live, received);
	}
	for (int i = 0; i < o.n; i++) {
		struct dev *d = &devs[i];
		if (d->phase != D_GONE && d->wsi) {
			d->phase = D_CLOSING;
			lws_callback_on_writable(d->wsi);
		} else if (d->phase != D_GONE) {
			d->phase = D_GONE;
			gone++;
		}
	}
	serve_until(all_gone, 10);
	lws_context_destroy(ctx);
	for (int i = 0; i < o.n; i++) {
		veld_key_release(&devs[i].key);
		veld_buf_release(&devs[i].rx);
		veld_buf_release(&devs[i].tx);
	}
	free(devs);
	free(lat);
	free(wbuf);
	return rc;
}
