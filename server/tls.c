/*
 * tls.c - describing and reloading veldd's TLS certificate; see tls.h.
 */
#include "tls.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <libwebsockets.h>

#include "err.h"

/* The name of the vhost that only tries a certificate; it never listens. */
#define PROBE_VHOST "veldd-tls-probe"

void veld_tls_describe(struct lws_vhost *vh, char *buf, size_t len)
{
	union lws_tls_cert_info_results r;
	char cn[sizeof(r.ns.name)];
	size_t i;

	if (!len)
		return;
	memset(&r, 0, sizeof(r));
	if (lws_tls_vhost_cert_info(vh, LWS_TLS_CERT_INFO_COMMON_NAME, &r,
				    sizeof(r.ns.name) - 1)) {
		snprintf(buf, len, "no certificate");
		return;
	}
	/* The name comes from a file: no control bytes in the log. */
	for (i = 0; i + 1 < sizeof(cn) && r.ns.name[i]; i++) {
		unsigned char ch = (unsigned char)r.ns.name[i];

		cn[i] = ch < 0x20 || ch == 0x7f ? '?' : (char)ch;
	}
	cn[i] = '\0';
	snprintf(buf, len, "CN=%s", cn);
}

/* 0 if path can be opened for reading; else VELD_EIO and msg says why. */
static int readable(const char *what, const char *path, char *msg, size_t len)
{
	FILE *f = fopen(path, "r");

	if (!f) {
		snprintf(msg, len,
			 "cannot reload the TLS certificate: cannot read %s "
			 "'%s': %s; keeping the current certificate",
			 what, path, strerror(errno));
		return VELD_EIO;
	}
	fclose(f);
	return 0;
}

int veld_tls_reload(struct lws_context *cx, struct lws_vhost *vh,
		    const char *cert, const char *key, char *msg, size_t len)
{
	struct lws_context_creation_info info;
	struct lws_vhost *probe;
	char desc[128];
	int rc;

	/* lws would only log a missing file; say it plainly first. */
	rc = readable("certificate", cert, msg, len);
	if (rc == 0)
		rc = readable("key", key, msg, len);
	if (rc < 0)
		return rc;

	/*
	 * Try the pair where it can do no harm: a vhost that listens
	 * nowhere.  lws loads the chain and the key into its SSL_CTX and
	 * refuses a key that does not match; nothing is bound to the probe,
	 * so lws_vhost_destroy() frees it at once.
	 */
	memset(&info, 0, sizeof(info));
	info.port = CONTEXT_PORT_NO_LISTEN_SERVER;
	info.options = LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT;
	info.ssl_cert_filepath = cert;
	info.ssl_private_key_filepath = key;
	info.vhost_name = PROBE_VHOST;
	probe = lws_create_vhost(cx, &info);
	if (!probe) {
		snprintf(msg, len,
			 "cannot reload the TLS certificate: '%s' and '%s' do "
			 "not load as a certificate and its key (see the "
			 "libwebsockets error above); keeping the current "
			 "certificate",
			 cert, key);
		return VELD_EINVAL;
	}
	lws_vhost_destroy(probe);

	/* Same files, checked a moment ago: now for the live vhost. */
	lws_tls_cert_updated(cx, cert, key, NULL, 0, NULL, 0);
	veld_tls_describe(vh, desc, sizeof(desc));
	snprintf(msg, len, "reloaded TLS certificate '%s': %s", cert, desc);
	return 0;
}
