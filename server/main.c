/*
 * main.c - veldd, the veldwerk sync server: command line and service loop.
 *
 *	veldd serve [--config FILE] [--data DIR] [--listen HOST:PORT]
 *	            [--session-ttl SECONDS] [--log-level LEVEL] [--verbose]
 *	veldd code new | devices | revoke | form import | state-hash |
 *	      erase | export | backup | verify | restore  (admin.c)
 *	veldd version
 *	veldd help
 *
 * Shaped like the libwebsockets minimal examples: this file holds only the
 * options, the lws context and the service loop; the rest lives in its own
 * modules: http.c (the plain-HTTP protocol callback), web.c (the
 * dashboard and its API behind it), live.c (the dashboard's WebSocket),
 * listen.c (the listen address), datadir.c (the data directory and the
 * server key), config.c (the configuration file; flags override it),
 * tls.c (reloading the certificate on SIGHUP).  The only globals are the
 * signal flags.
 *
 * Exit codes: 0 ok (including a clean stop on SIGINT/SIGTERM), 1 runtime
 * failure, 2 usage or configuration error.
 */
#include <errno.h>
#include <limits.h>
#include <malloc.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libwebsockets.h>
#include <sodium.h>

#include "admin.h"
#include "args.h"
#include "code.h"
#include "config.h"
#include "datadir.h"
#include "err.h"
#include "event.h"
#include "hlc.h"
#include "http.h"
#include "ingest.h"
#include "listen.h"
#include "live.h"
#include "log.h"
#include "registry.h"
#include "replica.h"
#include "server.h"
#include "settle.h"
#include "tls.h"
#include "web.h"
#include "ws.h"

#ifndef VELDD_VERSION
#error "VELDD_VERSION must be defined by the build (server/CMakeLists.txt)"
#endif

#define EXIT_USAGE 2

#define SERVE_HELP (-1) /* parse_serve: help was asked for and shown */

/* The only global mutable state: set by SIGINT/SIGTERM, and by SIGHUP. */
static volatile sig_atomic_t interrupted;
static volatile sig_atomic_t hangup;

/* `veldd serve` options, after parsing. */
struct serve_opts {
	const char *data_dir;
	struct veld_listen listen;
	int verbose;
	const char *tls_cert, *tls_key; /* PEM files; both or neither */
	uint64_t session_ttl_s;		/* dashboard sessions; 0: default */
	int log_level;			/* enum veld_log_level */
	const char *config;		/* --config FILE; NULL: the default */
	struct veld_config cfg;		/* what the file said */
};

static void usage(FILE *f)
{
	fprintf(f, "usage: veldd serve [--config FILE] [--data DIR] "
		   "[--listen HOST:PORT]\n"
		   "                   [--tls-cert FILE --tls-key FILE]\n"
		   "                   [--session-ttl SECONDS]\n"
		   "                   [--log-level LEVEL] [--verbose]\n");
	veld_admin_usage(f);
	fprintf(f,
		"       veldd version\n"
		"       veldd help\n"
		"\n"
		"serve options (and, for --config and --data, admin "
		"commands):\n"
		"  --config FILE       read settings from FILE (default, if "
		"it exists:\n"
		"                      %s); flags win over it\n"
		"  --data DIR          data directory (default $%s, else %s)\n"
		"  --listen HOST:PORT  numeric address to listen on "
		"(default %s;\n"
		"                      IPv6 as [::1]:8787)\n"
		"  --tls-cert FILE     serve wss:// and https:// with this PEM "
		"certificate\n"
		"  --tls-key FILE      ... and this PEM private key\n"
		"  --session-ttl SECONDS  dashboard logins last this long "
		"(default 28800,\n"
		"                      8 hours)\n"
		"  --log-level LEVEL   error, warn, info (default) or debug\n"
		"  --verbose           more libwebsockets logging\n",
		VELD_CONFIG_DEFAULT, VELD_DATADIR_ENV, VELD_DATADIR_DEFAULT,
		VELD_LISTEN_DEFAULT);
}

static void usage_error(const char *fmt, ...)
	__attribute__((format(printf, 1, 2)));

static void usage_error(const char *fmt, ...)
{
	va_list ap;

	fputs("veldd: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputs("\nTry 'veldd help'.\n", stderr);
}

static void on_signal(int sig)
{
	if (sig == SIGHUP)
		hangup = 1;
	else
		interrupted = 1;
}

/*
 * Take from the configuration file what no flag gave (given: VELD_CONFIG_*
 * bits of the flags, and of $VELDD_DATA).  0, or EXIT_USAGE after saying
 * why the file is refused.
 */
static int apply_config(struct serve_opts *o, unsigned given)
{
	const struct veld_config *c = &o->cfg;
	char err[VELD_CONFIG_ERR_MAX];
	unsigned use;

	if (veld_config_load(&o->cfg, o->config, err, sizeof(err)) < 0) {
		fprintf(stderr, "veldd: %s\n", err);
		return EXIT_USAGE;
	}
	use = c->set & ~given;
	if (use & VELD_CONFIG_DATA)
		o->data_dir = c->data;
	if (use & VELD_CONFIG_LISTEN)
		o->listen = c->listen;
	if (use & VELD_CONFIG_TLS_CERT)
		o->tls_cert = c->tls_cert;
	if (use & VELD_CONFIG_TLS_KEY)
		o->tls_key = c->tls_key;
	/* Same names as --log-level: config.c checked them. */
	if (use & VELD_CONFIG_LOG_LEVEL)
		o->log_level = veld_log_level_parse(c->log_level);
	return 0;
}

/* 0; SERVE_HELP after printing the usage; EXIT_USAGE after saying why. */
static int parse_serve(int argc, char **argv, struct serve_opts *o)
{
	const char *env = getenv(VELD_DATADIR_ENV);
	unsigned given = env && *env ? VELD_CONFIG_DATA : 0;
	const char *v;

	memset(o, 0, sizeof(*o));
	o->data_dir = env && *env ? env : VELD_DATADIR_DEFAULT;
	o->log_level = VELD_LOG_INFO;
	if (veld_listen_parse(&o->listen, VELD_LISTEN_DEFAULT) < 0)
		return EXIT_USAGE;

	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];

		if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
			usage(stdout);
			return SERVE_HELP;
		} else if (!strcmp(a, "--verbose")) {
			o->verbose = 1;
		} else if (veld_args_flag(argc, argv, &i, "--data", &v)) {
			if (!v || !*v) {
				usage_error("option '--data' needs a "
					    "directory");
				return EXIT_USAGE;
			}
			o->data_dir = v;
			given |= VELD_CONFIG_DATA;
		} else if (veld_args_flag(argc, argv, &i, "--config", &v)) {
			if (!v || !*v) {
				usage_error("option '--config' needs a file");
				return EXIT_USAGE;
			}
			o->config = v;
		} else if (veld_args_flag(argc, argv, &i, "--listen", &v)) {
			if (!v) {
				usage_error("option '--listen' needs "
					    "HOST:PORT");
				return EXIT_USAGE;
			}
			if (veld_listen_parse(&o->listen, v) < 0) {
				usage_error("bad listen address '%s' (want a "
					    "numeric HOST:PORT like %s or "
					    "[::1]:8787)",
					    v, VELD_LISTEN_DEFAULT);
				return EXIT_USAGE;
			}
			given |= VELD_CONFIG_LISTEN;
		} else if (veld_args_flag(argc, argv, &i, "--log-level", &v)) {
			o->log_level = veld_log_level_parse(v);
			if (o->log_level < 0) {
				usage_error("bad log level '%s' (want error, "
					    "warn, info or debug)",
					    v ? v : "");
				return EXIT_USAGE;
			}
			given |= VELD_CONFIG_LOG_LEVEL;
		} else if (veld_args_flag(argc, argv, &i, "--tls-cert", &v)) {
			if (!v || !*v) {
				usage_error("option '--tls-cert' needs a file");
				return EXIT_USAGE;
			}
			o->tls_cert = v;
			given |= VELD_CONFIG_TLS_CERT;
		} else if (veld_args_flag(argc, argv, &i, "--tls-key", &v)) {
			if (!v || !*v) {
				usage_error("option '--tls-key' needs a file");
				return EXIT_USAGE;
			}
			o->tls_key = v;
			given |= VELD_CONFIG_TLS_KEY;
		} else if (veld_args_flag(argc, argv, &i, "--session-ttl",
					  &v)) {
			char *end;
			unsigned long long t = v ? strtoull(v, &end, 10) : 0;
			if (!v || !*v || *end || t == 0 || t > 30 * 86400) {
				usage_error("option '--session-ttl' needs "
					    "1..2592000 seconds");
				return EXIT_USAGE;
			}
			o->session_ttl_s = t;
		} else if (a[0] == '-') {
			usage_error("unknown option '%s'", a);
			return EXIT_USAGE;
		} else {
			usage_error("unexpected argument '%s'", a);
			return EXIT_USAGE;
		}
	}
	if (apply_config(o, given))
		return EXIT_USAGE;
	if (!o->tls_cert != !o->tls_key) {
		usage_error("--tls-cert and --tls-key go together");
		return EXIT_USAGE;
	}
	return 0;
}

/* Loud, because it means residents' data in clear text on a network. */
static void warn_exposed(const struct veld_listen *l)
{
	static const char *const lines[] = {
		"==================================================",
		"veldd listens on a NON-LOOPBACK address WITHOUT TLS.",
		"Sync traffic carries residents' personal data and",
		"will cross the network in clear text. Put veldd",
		"behind a TLS-terminating reverse proxy and listen",
		"on 127.0.0.1 only.",
		"==================================================",
	};

	fputc('\n', stderr);
	for (size_t i = 0; i < sizeof(lines) / sizeof(lines[0]); i++)
		fprintf(stderr, "veldd: WARNING: %s\n", lines[i]);
	fprintf(stderr, "veldd: WARNING: (listen address: %s)\n\n", l->host);
}

static void print_banner(const struct veld_datadir *dd,
			 const struct veld_listen *l, int tls)
{
	char host[INET6_ADDRSTRLEN + 2];

	veld_listen_url_host(l, host, sizeof(host));
	printf("veldd %s\n", VELDD_VERSION);
	printf("data dir:   %s\n", dd->path);
	printf("server key: %s%s\n", dd->key_hex,
	       dd->key_created ? " (new)" : "");
	printf("sync:       %s://%s:%d/sync\n", tls ? "wss" : "ws", host,
	       l->port);
	printf("health:     %s://%s:%d/healthz\n", tls ? "https" : "http", host,
	       l->port);
	printf("dashboard:  %s://%s:%d/\n", tls ? "https" : "http", host,
	       l->port);
	/* Scripts and supervisors read this through a pipe. */
	fflush(stdout);
}

/*
 * libwebsockets' own messages, as log lines.  lws gives its emit function
 * no context pointer, so they go to stderr; which ones lws makes at all is
 * the mask from lws_levels().
 */
static void lws_emit(int lll, const char *line)
{
	const struct veld_log lg = {VELD_LOG_DEBUG, stderr};
	int level = lll == LLL_ERR    ? VELD_LOG_ERROR
		    : lll == LLL_WARN ? VELD_LOG_WARN
				      : VELD_LOG_INFO;

	veld_log_message(&lg, level, "lws", line);
}

static int lws_levels(int level, int verbose)
{
	return LLL_ERR | (level >= VELD_LOG_WARN ? LLL_WARN : 0) |
	       (verbose || level >= VELD_LOG_DEBUG ? LLL_NOTICE : 0);
}

/* event=start: what this process serves (no data, no key). */
static void log_start(const struct veld_log *lg, const struct serve_opts *o)
{
	struct veld_log_line l;

	if (!veld_log_begin(lg, &l, VELD_LOG_INFO, "start"))
		return;
	veld_log_str(&l, "version", VELDD_VERSION);
	veld_log_str(&l, "host", o->listen.host);
	veld_log_int(&l, "port", o->listen.port);
	veld_log_int(&l, "tls", o->tls_cert != NULL);
	veld_log_str(&l, "log_level", veld_log_level_name(lg->level));
	veld_log_end(lg, &l);
}

/* Ping an idle connection after 30 s; drop it if silent for 70 s. */
static const lws_retry_bo_t idle_policy = {
	.secs_since_valid_ping = 30,
	.secs_since_valid_hangup = 70,
};

/*
 * First start: a code for the first coordinator, so a new installation can
 * be used without reading the manual first.
 */
static void first_code(struct veld_server *srv)
{
	struct veld_code_row row = {"coordinator", "coordinator", NULL,
				    veld_hlc_wall_ms() + 24 * 3600 * 1000};
	char code[VELD_CODE_BUF];

	if (veld_code_issue(veld_replica_store(srv->replica), &row, code) < 0) {
		fprintf(stderr, "veldd: cannot issue the first code\n");
		return;
	}
	printf("first coordinator enrolment code (valid 24 hours): %s\n", code);
	fflush(stdout);
}

/* A once-a-second timer on the service loop. */
struct tick {
	lws_sorted_usec_list_t sul;
	struct veld_server *srv;
	struct lws_context *context;
	uint64_t seconds;
	uint64_t code_retention_ms;
};

/* Forget enrolment codes past their expiry plus code_retention. */
static void prune_codes(struct veld_server *srv, uint64_t retention_ms)
{
	int n;

	if (!retention_ms)
		return;
	n = veld_store_codes_prune(veld_replica_store(srv->replica),
				   veld_hlc_wall_ms(), retention_ms);
	if (n < 0)
		fprintf(stderr, "veldd: cannot prune old enrolment codes\n");
}

static void on_tick(lws_sorted_usec_list_t *sul)
{
	struct tick *t = lws_container_of(sul, struct tick, sul);

	if (t->seconds++ % 3600 == 0)
		prune_codes(t->srv, t->code_retention_ms);
	veld_server_check_revoked(t->srv);
	if (veld_server_flush_notes(t->srv) < 0)
		veld_log_message(&t->srv->log, VELD_LOG_WARN, "notes",
				 "cannot note when devices last synced and "
				 "pulled");
	veld_server_committed(t->srv);
	veld_live_tick(t->context);
	/*
	 * Message-sized buffers (OPS and PUSH, 64 KiB to 1 MiB) come and go
	 * with every catch-up.  Taken from the heap they cost nothing to
	 * reuse (mmap'ed, each would be faulted in page by page and unmapped
	 * again, flushing the TLB of every core: a third of veldd's CPU
	 * while serving a pull); but freed, they leave the heap fragmented,
	 * and a server that had 1,000 devices catch up at once would keep
	 * that peak as its idle RSS (bench/idle_devices.sh).  So what is
	 * free goes back to the system once a second.
	 */
#ifdef __GLIBC__
	malloc_trim(0);
#endif
	lws_sul_schedule(t->context, 0, &t->sul, on_tick, LWS_US_PER_SEC);
}

/*
 * SIGHUP: load the TLS certificate again from the same files (renewed in
 * place), without dropping a connection; tls.c keeps the current one if
 * the new pair does not load.  The configuration file is read again only
 * to say whether it still parses: its other settings take effect at the
 * next restart.
 */
static void on_hangup(struct lws_context *context, struct lws_vhost *vhost,
		      const struct serve_opts *o)
{
	struct veld_config cfg;
	char msg[VELD_TLS_MSG_MAX];

	if (!o->tls_cert)
		fprintf(stderr, "veldd: SIGHUP: no TLS certificate to "
				"reload\n");
	else if (veld_tls_reload(context, vhost, o->tls_cert, o->tls_key, msg,
				 sizeof(msg)) < 0)
		fprintf(stderr, "veldd: SIGHUP: error: %s\n", msg);
	else
		fprintf(stderr, "veldd: SIGHUP: %s\n", msg);

	if (veld_config_load(&cfg, o->config, msg, sizeof(msg)) < 0)
		fprintf(stderr,
			"veldd: SIGHUP: warning: %s (still serving; fix it "
			"before the next restart)\n",
			msg);
	else if (cfg.path[0])
		fprintf(stderr,
			"veldd: SIGHUP: config '%s' is valid; changes other "
			"than renewed certificate files take effect at the "
			"next restart\n",
			cfg.path);
}

/* After the banner: where the settings came from, the certificate. */
static void print_settings(struct lws_vhost *vhost, const struct serve_opts *o)
{
	char desc[128];

	if (o->cfg.path[0])
		printf("config:     %s\n", o->cfg.path);
	if (o->tls_cert) {
		veld_tls_describe(vhost, desc, sizeof(desc));
		printf("tls cert:   %s (%s)\n", o->tls_cert, desc);
	}
	if (o->cfg.max_connections)
		printf("max conns:  %u\n", o->cfg.max_connections);
	fflush(stdout);
}

static void serve_release(struct veld_server *srv, struct veld_datadir *dd)
{
	veld_ingest_free(srv->ingest);
	(void)veld_server_flush_notes(srv);
	veld_replica_close(srv->replica);
	free(srv->wbuf);
	veld_datadir_close(dd);
}

static int cmd_serve(int argc, char **argv)
{
	struct lws_protocol_vhost_options pvo_key = {
		.name = VELD_HTTP_PVO_SERVER_KEY,
	};
	struct lws_protocol_vhost_options pvo = {
		.options = &pvo_key,
		.name = VELD_HTTP_PROTOCOL_NAME,
		.value = "",
	};
	const struct lws_protocols *protocols[] = {&veld_http_protocol,
						   &veld_ws_protocol,
						   &veld_ws_v3_protocol,
						   &veld_ws_v2_protocol,
						   &veld_ws_v1_protocol,
						   &veld_live_protocol,
						   NULL};
	struct veld_server srv;
	struct veld_web web;
	struct veld_settle settle;
	struct tick tick;
	char db_path[PATH_MAX + 16];
	struct lws_context_creation_info info;
	struct lws_context *context;
	struct lws_vhost *vhost;
	struct veld_datadir dd;
	struct serve_opts o;
	struct sigaction sa;
	char err[PATH_MAX + 128];
	int rc, n = 0;

	rc = parse_serve(argc, argv, &o);
	if (rc == SERVE_HELP)
		return 0;
	if (rc)
		return rc;

	lws_set_log_level(lws_levels(o.log_level, o.verbose), lws_emit);

	if (veld_listen_check(&o.listen) < 0) {
		fprintf(stderr, "veldd: cannot listen on %s: %s\n",
			o.listen.host, strerror(errno));
		return 1;
	}
	if (veld_datadir_open(&dd, o.data_dir, err, sizeof(err)) < 0) {
		fprintf(stderr, "veldd: %s\n", err);
		return 1;
	}
	if (dd.key_exposed)
		fprintf(stderr,
			"veldd: warning: key '%s' is accessible to other "
			"users; chmod 600 it\n",
			dd.key_path);
	if (!o.listen.loopback && !o.tls_cert)
		warn_exposed(&o.listen);

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	/* No SA_RESTART: the signal has to interrupt lws's poll(). */
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);

	memset(&srv, 0, sizeof(srv));
	snprintf(db_path, sizeof(db_path), "%s/veld.db", dd.path);
	rc = veld_replica_open(db_path, &dd.key, dd.key.pk, &srv.replica);
	if (rc < 0) {
		fprintf(stderr, "veldd: cannot open the store '%s': %s\n",
			db_path, veld_strerror(rc));
		veld_datadir_close(&dd);
		return 1;
	}
	/* Room for a group of pushes applied in one transaction (session.h):
	 * twice a device's page cache.  (wijklab W=20, runs on the wire:
	 * push 0.54 s and peak RSS 21 MiB with 8 MiB, 0.52 s and 16.7 MiB
	 * with 4 MiB.) */
	if (veld_store_cache_set(veld_replica_store(srv.replica),
				 2 * VELD_STORE_CACHE_KIB) < 0)
		fprintf(stderr, "veldd: warning: page cache left at %d KiB\n",
			VELD_STORE_CACHE_KIB);
	/* Receipts wait for the log only; the records view follows
	 * (replica.h, deferred records; settle.h). */
	if (veld_replica_set_defer_records(srv.replica, 1) < 0)
		fprintf(stderr, "veldd: warning: records settled with each "
				"push\n");
	srv.key = &dd.key;
	veld_log_init(&srv.log, stderr);
	srv.log.level = o.log_level;
	veld_metrics_init(&srv.metrics, db_path);
	veld_web_init(&web, o.session_ttl_s, o.tls_cert != NULL);
	srv.web = &web;
	srv.on_event = veld_web_event;
	srv.on_commit = veld_web_committed;
	srv.enrol_tokens = VELD_ENROL_BURST;
	srv.enrol_refill_ms = veld_server_now_ms();
	srv.wbuf = malloc(VELD_WS_HEADROOM + VELD_MSG_MAX);
	veld_ws_bind(&srv);

	pvo_key.value = dd.key_hex;
	memset(&info, 0, sizeof(info));
	info.user = &srv;
	/* Dead peers are found by ping/pong, live ones stay connected. */
	info.retry_and_idle_policy = &idle_policy;
	if (o.tls_cert) {
		info.options |= LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT;
		info.ssl_cert_filepath = o.tls_cert;
		info.ssl_private_key_filepath = o.tls_key;
		/*
		 * HTTP/1.1 only: browsers would otherwise pick h2, where lws
		 * 4.1 neither finds the dashboard's X-CSRF-Token header nor
		 * carries its WebSocket (RFC 8441).
		 */
		info.alpn = "http/1.1";
	}
	info.port = o.listen.port;
	info.iface = o.listen.host;
	info.pprotocols = protocols;
	info.pvo = &pvo;
	/*
	 * max_connections: when its poll table is full, lws stops accepting
	 * (the kernel queues the rest) until a connection closes.  The table
	 * also holds the listen socket: + 1 serves exactly max_connections
	 * (tests/integration/veldd_config.sh).
	 */
	if (o.cfg.max_connections)
		info.fd_limit_per_thread = o.cfg.max_connections + 1;
	info.vhost_name = "veldd";
	info.server_string = "veldd";
	/*
	 * The vhost is made separately so that a port already in use fails
	 * cleanly: lws 4.1 leaks when the implicit default vhost fails
	 * inside lws_create_context().
	 */
	info.options |= LWS_SERVER_OPTION_EXPLICIT_VHOSTS;
	if (!o.listen.ipv6)
		info.options |= LWS_SERVER_OPTION_DISABLE_IPV6;

	context = srv.wbuf ? lws_create_context(&info) : NULL;
	if (!context || veld_ingest_new(&srv.ingest, VELD_INGEST_THREADS,
					veld_ws_wake, context) < 0) {
		fprintf(stderr, "veldd: cannot start libwebsockets\n");
		if (context)
			lws_context_destroy(context);
		serve_release(&srv, &dd);
		return 1;
	}
	vhost = lws_create_vhost(context, &info);
	if (!vhost) {
		fprintf(stderr, "veldd: cannot listen on %s port %d\n",
			o.listen.host, o.listen.port);
		lws_context_destroy(context);
		serve_release(&srv, &dd);
		return 1;
	}
	veld_settle_bind(&settle, &srv, context);
	/* Records the open could not settle (replica.h) wait for the timer. */
	veld_server_pushed(&srv);
	web.wake = veld_live_wake;
	web.wake_ctx = context;
	print_banner(&dd, &o.listen, o.tls_cert != NULL);
	print_settings(vhost, &o);
	log_start(&srv.log, &o);
	if (dd.key_created)
		first_code(&srv);

	/*
	 * A signal that lands between the test and lws's poll() is only
	 * seen when poll() next returns: at the latest on lws's own timer
	 * (about 30 s in lws 4.1).
	 */
	/* Ops committed by admin commands (other processes) reach live
	 * connections within a second. */
	tick.srv = &srv;
	tick.context = context;
	tick.seconds = 0;
	tick.code_retention_ms = o.cfg.code_retention_ms;
	lws_sul_schedule(context, 0, &tick.sul, on_tick, LWS_US_PER_SEC);
	while (n >= 0 && !interrupted) {
		if (hangup) {
			hangup = 0;
			on_hangup(context, vhost, &o);
		}
		n = lws_service(context, 0);
	}

	/* Workers first: they may still wake the context. */
	veld_ingest_free(srv.ingest);
	srv.ingest = NULL;
	/* What the last pushes left (else the next start settles it). */
	srv.tx.want_settle = NULL;
	srv.settle = NULL;
	if (veld_replica_set_defer_records(srv.replica, 0) < 0)
		veld_log_message(&srv.log, VELD_LOG_WARN, "stop",
				 "records left to settle at the next start");
	lws_context_destroy(context);
	serve_release(&srv, &dd);
	veld_web_release(&web);
	if (n < 0) {
		veld_log_message(&srv.log, VELD_LOG_ERROR, "stop",
				 "service loop failed");
		return 1;
	}
	veld_log_message(&srv.log, VELD_LOG_INFO, "stop",
			 "stopped on a signal");
	printf("veldd: stopped\n");
	return 0;
}

static int cmd_version(void)
{
	printf("veldd %s (libwebsockets %s, libsodium %s)\n", VELDD_VERSION,
	       lws_get_library_version(), sodium_version_string());
	return 0;
}

/*
 * The admin commands and the configuration file: take --config FILE out
 * of argv (admin.c does not know it; argc and argv[argc] = NULL follow),
 * read the file (or the default), and let its data directory stand in
 * for $VELDD_DATA when that is unset, so that --data, then $VELDD_DATA,
 * then the file decide, as for serve.  The other keys are serve's.
 * Returns 0, or the exit status after saying what is wrong.
 */
static int admin_config(int *argc, char **argv)
{
	const char *path = NULL, *env = getenv(VELD_DATADIR_ENV);
	char err[VELD_CONFIG_ERR_MAX];
	struct veld_config cfg;
	int i, j;

	for (i = 1, j = 1; i < *argc; i++) {
		const char *v;

		if (!veld_args_flag(*argc, argv, &i, "--config", &v)) {
			argv[j++] = argv[i];
			continue;
		}
		if (!v || !*v) {
			usage_error("option '--config' needs a file");
			return EXIT_USAGE;
		}
		path = v;
	}
	*argc = j;
	argv[j] = NULL;
	if (veld_config_load(&cfg, path, err, sizeof(err)) < 0) {
		fprintf(stderr, "veldd: %s\n", err);
		return EXIT_USAGE;
	}
	if ((cfg.set & VELD_CONFIG_DATA) && !(env && *env) &&
	    setenv(VELD_DATADIR_ENV, cfg.data, 1) < 0) {
		fprintf(stderr, "veldd: cannot set $%s: %s\n", VELD_DATADIR_ENV,
			strerror(errno));
		return 1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	const char *cmd = argc > 1 ? argv[1] : NULL;
	int rc;

	if (!cmd) {
		usage(stderr);
		return EXIT_USAGE;
	}
	if (!strcmp(cmd, "help") || !strcmp(cmd, "--help") ||
	    !strcmp(cmd, "-h")) {
		usage(stdout);
		return 0;
	}
	if (!strcmp(cmd, "version") || !strcmp(cmd, "--version")) {
		if (argc > 2) {
			usage_error("unexpected argument '%s'", argv[2]);
			return EXIT_USAGE;
		}
		return cmd_version();
	}
	if (strcmp(cmd, "serve") && !veld_admin_is_command(cmd)) {
		usage_error("unknown command '%s'", cmd);
		return EXIT_USAGE;
	}

	if (sodium_init() < 0) {
		fprintf(stderr, "veldd: cannot initialise libsodium\n");
		return 1;
	}
	if (strcmp(cmd, "serve")) {
		argc--;
		argv++;
		rc = admin_config(&argc, argv);
		return rc ? rc : veld_admin_main(argc, argv);
	}
	return cmd_serve(argc - 1, argv + 1);
}
