/*
 * main.c - veldd, the veldwerk sync server: command line and service loop.
 *
 *	veldd serve [--data DIR] [--listen HOST:PORT] [--verbose]
 *	veldd code new | devices | revoke | form import | state-hash  (admin.c)
 *	veldd version
 *	veldd help
 *
 * Shaped like the libwebsockets minimal examples: this file holds only the
 * options, the lws context and the service loop; the rest lives in its own
 * modules: http.c (the plain-HTTP protocol callback), listen.c (the listen
 * address), datadir.c (the data directory and the server key).  The only
 * global is the signal flag.
 *
 * Exit codes: 0 ok (including a clean stop on SIGINT/SIGTERM), 1 runtime
 * failure, 2 usage error.
 */
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libwebsockets.h>
#include <sodium.h>

#include "admin.h"
#include "code.h"
#include "datadir.h"
#include "err.h"
#include "hlc.h"
#include "http.h"
#include "ingest.h"
#include "listen.h"
#include "registry.h"
#include "replica.h"
#include "server.h"
#include "ws.h"

#ifndef VELDD_VERSION
#error "VELDD_VERSION must be defined by the build (server/CMakeLists.txt)"
#endif

#define EXIT_USAGE 2

#define SERVE_HELP (-1) /* parse_serve: help was asked for and shown */

/* The one piece of global mutable state: set by SIGINT/SIGTERM. */
static volatile sig_atomic_t interrupted;

/* `veldd serve` options, after parsing. */
struct serve_opts {
	const char *data_dir;
	struct veld_listen listen;
	int verbose;
	const char *tls_cert, *tls_key; /* PEM files; both or neither */
};

static void usage(FILE *f)
{
	fprintf(f, "usage: veldd serve [--data DIR] [--listen HOST:PORT] "
		   "[--tls-cert FILE --tls-key FILE] [--verbose]\n");
	veld_admin_usage(f);
	fprintf(f,
		"       veldd version\n"
		"       veldd help\n"
		"\n"
		"serve options:\n"
		"  --data DIR          data directory (default $%s, else %s)\n"
		"  --listen HOST:PORT  numeric address to listen on "
		"(default %s;\n"
		"                      IPv6 as [::1]:8787)\n"
		"  --tls-cert FILE     serve wss:// and https:// with this PEM "
		"certificate\n"
		"  --tls-key FILE      ... and this PEM private key\n"
		"  --verbose           more libwebsockets logging\n",
		VELD_DATADIR_ENV, VELD_DATADIR_DEFAULT, VELD_LISTEN_DEFAULT);
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
	(void)sig;
	interrupted = 1;
}

/*
 * If argv[*i] is flag or flag=VALUE, point *value at VALUE (the next
 * argument for the first form, NULL if there is none) and return 1.
 */
static int match_flag(int argc, char **argv, int *i, const char *flag,
		      const char **value)
{
	const char *a = argv[*i];
	size_t n = strlen(flag);

	if (strncmp(a, flag, n) || (a[n] != '\0' && a[n] != '='))
		return 0;
	if (a[n] == '=')
		*value = a + n + 1;
	else if (*i + 1 < argc)
		*value = argv[++*i];
	else
		*value = NULL;
	return 1;
}

/* 0; SERVE_HELP after printing the usage; EXIT_USAGE after saying why. */
static int parse_serve(int argc, char **argv, struct serve_opts *o)
{
	const char *env = getenv(VELD_DATADIR_ENV);
	const char *v;

	memset(o, 0, sizeof(*o));
	o->data_dir = env && *env ? env : VELD_DATADIR_DEFAULT;
	if (veld_listen_parse(&o->listen, VELD_LISTEN_DEFAULT) < 0)
		return EXIT_USAGE;

	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];

		if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
			usage(stdout);
			return SERVE_HELP;
		} else if (!strcmp(a, "--verbose")) {
			o->verbose = 1;
		} else if (match_flag(argc, argv, &i, "--data", &v)) {
			if (!v || !*v) {
				usage_error("option '--data' needs a "
					    "directory");
				return EXIT_USAGE;
			}
			o->data_dir = v;
		} else if (match_flag(argc, argv, &i, "--listen", &v)) {
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
		} else if (match_flag(argc, argv, &i, "--tls-cert", &v)) {
			if (!v || !*v) {
				usage_error("option '--tls-cert' needs a file");
				return EXIT_USAGE;
			}
			o->tls_cert = v;
		} else if (match_flag(argc, argv, &i, "--tls-key", &v)) {
			if (!v || !*v) {
				usage_error("option '--tls-key' needs a file");
				return EXIT_USAGE;
			}
			o->tls_key = v;
		} else if (a[0] == '-') {
			usage_error("unknown option '%s'", a);
			return EXIT_USAGE;
		} else {
			usage_error("unexpected argument '%s'", a);
			return EXIT_USAGE;
		}
	}
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
	/* Scripts and supervisors read this through a pipe. */
	fflush(stdout);
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
};

static void on_tick(lws_sorted_usec_list_t *sul)
{
	struct tick *t = lws_container_of(sul, struct tick, sul);

	veld_server_committed(t->srv);
	lws_sul_schedule(t->context, 0, &t->sul, on_tick, LWS_US_PER_SEC);
}

static void serve_release(struct veld_server *srv, struct veld_datadir *dd)
{
	veld_ingest_free(srv->ingest);
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
						   &veld_ws_protocol, NULL};
	struct veld_server srv;
	struct tick tick;
	char db_path[PATH_MAX + 16];
	struct lws_context_creation_info info;
	struct lws_context *context;
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

	lws_set_log_level(LLL_ERR | LLL_WARN | (o.verbose ? LLL_NOTICE : 0),
			  NULL);

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

	memset(&srv, 0, sizeof(srv));
	snprintf(db_path, sizeof(db_path), "%s/veld.db", dd.path);
	rc = veld_replica_open(db_path, &dd.key, dd.key.pk, &srv.replica);
	if (rc < 0) {
		fprintf(stderr, "veldd: cannot open the store '%s': %s\n",
			db_path, veld_strerror(rc));
		veld_datadir_close(&dd);
		return 1;
	}
	srv.key = &dd.key;
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
	}
	info.port = o.listen.port;
	info.iface = o.listen.host;
	info.pprotocols = protocols;
	info.pvo = &pvo;
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
	if (!lws_create_vhost(context, &info)) {
		fprintf(stderr, "veldd: cannot listen on %s port %d\n",
			o.listen.host, o.listen.port);
		lws_context_destroy(context);
		serve_release(&srv, &dd);
		return 1;
	}
	print_banner(&dd, &o.listen, o.tls_cert != NULL);
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
	lws_sul_schedule(context, 0, &tick.sul, on_tick, LWS_US_PER_SEC);
	while (n >= 0 && !interrupted)
		n = lws_service(context, 0);

	/* Workers first: they may still wake the context. */
	veld_ingest_free(srv.ingest);
	srv.ingest = NULL;
	lws_context_destroy(context);
	serve_release(&srv, &dd);
	if (n < 0) {
		fprintf(stderr, "veldd: service loop failed\n");
		return 1;
	}
	printf("veldd: stopped\n");
	return 0;
}

static int cmd_version(void)
{
	printf("veldd %s (libwebsockets %s, libsodium %s)\n", VELDD_VERSION,
	       lws_get_library_version(), sodium_version_string());
	return 0;
}

int main(int argc, char **argv)
{
	const char *cmd = argc > 1 ? argv[1] : NULL;

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
	if (strcmp(cmd, "serve"))
		return veld_admin_main(argc - 1, argv + 1);
	return cmd_serve(argc - 1, argv + 1);
}
