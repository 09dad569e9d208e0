/*
 * fuzz_session.c - libFuzzer target for the server's message handler:
 * server/session.c with the real registry, ingest worker pool and a real
 * replica in a file in a temporary directory, fed a sequence of messages
 * after a valid AUTH.
 *
 * Every run starts from the same store: a copy of a template made once
 * (server key, a field device, a coordinator, a revoked device, a form and
 * a record), so a saved input replays the same way.  The input is a script:
 *
 *	input  := who chunk*
 *	who    := 1 byte: 0 field, 1 coordinator, 2 revoked, 3 unknown key,
 *	          else no AUTH at all (the handshake itself gets fuzzed)
 *	chunk  := tag len16be payload     (a short last chunk is cut)
 *	tag%5: 0 payload is one raw message
 *	       1 ACK the cursor of the last OPS the server sent
 *	       2 sign an op with the device's key (see add_op) and add it to
 *	         the pending batch
 *	       3 PUSH the pending batch (batch number = payload's first byte)
 *	       4 PULL from the cursor in the payload (up to 8 bytes, BE)
 *
 * so the fuzzer reaches the store with properly signed ops (which it could
 * never forge) while still choosing their seq, prev, clock, record, kind
 * and body.  Besides sanitizer reports it aborts when a promise breaks:
 *
 *  - everything the server queues is a well-formed veld.1 message;
 *  - a RECEIPT carries a valid server signature for this device and
 *    names the device's stored chain head (no receipt before the commit);
 *  - a refused PUSH stores nothing (op count and state hash unchanged);
 *  - a session that went CLOSING stays CLOSING.
 *
 * FUZZ_SESSION_TRACE=1 in the environment prints each message the server
 * sends (to read what a saved input does).
 */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "../dbfiles.h"
#include "err.h"
#include "hlc.h"
#include "session.h"
#include "store.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct veld_key k_srv, k_field, k_coord, k_revoked, k_unknown;
static struct veld_server srv;
static char dir[64], tmpl[96], work[96];
static uint8_t *tmpl_bytes;
static size_t tmpl_len;
static uint8_t form_id[VELD_RECORD_LEN];
static int trace; /* FUZZ_SESSION_TRACE set: print what the server sends */

static void fail(const char *what)
{
	fprintf(stderr, "fuzz_session: %s\n", what);
	abort();
}

static void key(struct veld_key *k, uint8_t fill)
{
	uint8_t seed[VELD_SEED_LEN];

	memset(seed, fill, sizeof(seed));
	veld_key_from_seed(k, seed);
}

static void want_write(struct veld_session *s)
{
	(void)s;
}

static void rx_flow(struct veld_session *s, int on)
{
	(void)s;
	(void)on;
}

static void wake(void *ctx)
{
	(void)ctx;
}

static void cleanup(void)
{
	test_remove_db(tmpl);
	test_remove_db(work);
	rmdir(dir);
}

/* The template store, made once; its bytes are kept for every run. */
static void make_template(void)
{
	struct veld_replica *r;
	struct veld_field f = {0};
	uint8_t rec[VELD_RECORD_LEN], id[VELD_HASH_LEN];
	static const uint8_t def[] = {
		0x81, 0xa6, 'f', 'i', 'e',
		'l',  'd',  's', 0x90}; /* {"fields": []} */
	FILE *fp;
	long n;

	if (veld_replica_open(tmpl, &k_srv, k_srv.pk, &r) ||
	    veld_replica_device(r, k_field.pk, "field", "Ahmed", "noord", 0,
				id) ||
	    veld_replica_device(r, k_coord.pk, "coordinator", "Carla", NULL, 0,
				id) ||
	    veld_replica_device(r, k_revoked.pk, "field", "Rik", "zuid", 0,
				id) ||
	    veld_replica_device(r, k_revoked.pk, "field", "Rik", "zuid", 1, id))
		fail("cannot make the template store");
	memset(form_id, 0xf0, sizeof(form_id));
	if (veld_replica_form(r, form_id, 1, "huisbezoek", def, sizeof(def),
			      id))
		fail("cannot add the template form");
	f.name = "wish";
	f.text = "bankjes";
	if (veld_replica_put(r, rec, 1, "huisbezoek", "noord", &f, 1, id))
		fail("cannot add the template record");
	veld_replica_close(r);

	fp = fopen(tmpl, "rb");
	if (!fp || fseek(fp, 0, SEEK_END))
		fail("cannot read the template store");
	n = ftell(fp);
	if (n <= 0 || fseek(fp, 0, SEEK_SET))
		fail("cannot read the template store");
	tmpl_len = (size_t)n;
	tmpl_bytes = malloc(tmpl_len);
	if (!tmpl_bytes || fread(tmpl_bytes, 1, tmpl_len, fp) != tmpl_len)
		fail("cannot read the template store");
	fclose(fp);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	if (sodium_init() < 0)
		fail("sodium_init failed");
	trace = getenv("FUZZ_SESSION_TRACE") != NULL;
	key(&k_srv, 0x53);
	key(&k_field, 0x41);
	key(&k_coord, 0x43);
	key(&k_revoked, 0x52);
	key(&k_unknown, 0x58);
	snprintf(dir, sizeof(dir), "/tmp/fuzz_session.XXXXXX");
	if (!mkdtemp(dir))
		fail("mkdtemp failed");
	snprintf(tmpl, sizeof(tmpl), "%s/template.db", dir);
	snprintf(work, sizeof(work), "%s/veld.db", dir);
	atexit(cleanup);
	make_template();
	memset(&srv, 0, sizeof(srv));
	srv.key = &k_srv;
	srv.tx.want_write = want_write;
	srv.tx.rx_flow = rx_flow;
	if (veld_ingest_new(&srv.ingest, 1, wake, NULL))
		fail("cannot start the worker pool");
	return 0;
}

/* Fresh copy of the template as the server's store. */
static void server_up(void)
{
	int fd;

	test_remove_db(work);
	fd = open(work, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	if (fd < 0 || write(fd, tmpl_bytes, tmpl_len) != (ssize_t)tmpl_len ||
	    close(fd))
		fail("cannot copy the template store");
	if (veld_replica_open(work, &k_srv, k_srv.pk, &srv.replica))
		fail("cannot open the store");
	srv.enrol_tokens = VELD_ENROL_BURST;
	srv.enrol_refill_ms = veld_server_now_ms();
}

static int64_t op_count(void)
{
	struct veld_store_counts c;

	if (veld_store_counts(veld_replica_store(srv.replica), &c))
		fail("cannot count the ops");
	return c.ops;
}

static void state_hash(uint8_t h[VELD_HASH_LEN])
{
	if (veld_replica_state_hash(srv.replica, h))
		fail("cannot hash the state");
}

/* What one run keeps between chunks. */
struct run {
	struct veld_session s;
	const struct veld_key *dev; /* signs the ops of chunk 2 */
	uint64_t last_cursor;	    /* of the last OPS */
	uint64_t seq;		    /* of the last op we signed */
	uint8_t prev[VELD_HASH_LEN];
	struct veld_buf pending[8];
	size_t npending;
	struct veld_buf tx;
};

/* Take everything the session queued; check it is well-formed. */
static void drain(struct run *r)
{
	const struct veld_buf *b;
	struct veld_msg *m = malloc(sizeof(*m));

	if (!m)
		abort();
	while ((b = veld_session_out(&r->s)) != NULL) {
		if (b->len > VELD_MSG_MAX ||
		    veld_msg_decode(b->data, b->len, m))
			fail("the server queued a malformed message");
		if (trace)
			fprintf(stderr, "fuzz_session: server sent %s %s\n",
				veld_msg_name(m->type),
				m->type == VELD_MSG_ERROR
					? veld_err_name((int)m->err)
					: "");
		if (m->type == VELD_MSG_OPS) {
			size_t bad;
			r->last_cursor = m->cursor;
			/* Every run the server sends ends with a signed op
			 * that vouches for it. */
			if (veld_msg_open_runs(m) ||
			    veld_runs_verify(&m->rs, &bad))
				fail("OPS whose runs do not decode or verify");
		}
		if (m->type == VELD_MSG_RECEIPT) {
			struct veld_head head;
			if (veld_msg_verify_receipt(m, k_srv.pk, r->s.device))
				fail("RECEIPT with a bad signature");
			if (veld_store_head(veld_replica_store(srv.replica),
					    r->s.device, &head) ||
			    head.seq != m->seq ||
			    memcmp(head.id, m->head, VELD_HASH_LEN))
				fail("RECEIPT does not name the stored head");
		}
		veld_msg_release(m);
		veld_session_out_pop(&r->s);
	}
	free(m);
}

/* Wait for the worker pool to hand the PUSH back, then finish it. */
static void settle(struct run *r)
{
	struct veld_ingest_job *job = NULL;
	int64_t before = op_count();
	uint8_t h0[VELD_HASH_LEN], h1[VELD_HASH_LEN];

	state_hash(h0);
	for (int i = 0; i < 20000 && !job; i++) {
		struct timespec ts = {0, 100000};
		job = veld_ingest_done(srv.ingest);
		if (!job)
			nanosleep(&ts, NULL);
	}
	if (!job)
		fail("the worker pool never finished a PUSH");
	veld_session_push_done(&r->s, job);
	veld_ingest_release(srv.ingest, job);
	if (r->s.state == VELD_SS_CLOSING) { /* refused: nothing kept */
		state_hash(h1);
		if (op_count() != before || memcmp(h0, h1, sizeof(h0)))
			fail("a refused PUSH changed the store");
	}
}

static void input(struct run *r, const uint8_t *msg, size_t len)
{
	int was_closing = r->s.state == VELD_SS_CLOSING;

	veld_session_input(&r->s, msg, len);
	if (r->s.push_busy)
		settle(r);
	if (was_closing && r->s.state != VELD_SS_CLOSING)
		fail("a closing session came back");
	drain(r);
}

/*
 * Chunk 2: p[0] low bits pick the seq (0 next, 1 the same again = a fork
 * attempt, 2 a gap, 3 seq 1), bit 2 signs with another key; p[1] the kind;
 * p[2] the record (fill byte, 0xf0 = the form's id); p[3] the clock, in hours
 * from now (signed); the rest is the body's content value.
 */
static void add_op(struct run *r, const uint8_t *p, size_t n)
{
	struct veld_op_header h;
	struct veld_buf body;
	msgpack_packer pk;
	uint8_t salt[VELD_SALT_LEN] = {0}, id[VELD_HASH_LEN];
	const struct veld_key *k = r->dev;
	int64_t hours;
	int rc;

	if (n < 4 || r->npending == 8)
		return;
	memset(&h, 0, sizeof(h));
	switch (p[0] & 3) {
	case 0:
		h.seq = r->seq + 1;
		break;
	case 1:
		h.seq = r->seq ? r->seq : 1;
		break;
	case 2:
		h.seq = r->seq + 2;
		break;
	default:
		h.seq = 1;
	}
	if (p[0] & 4)
		k = k == &k_field ? &k_coord : &k_field;
	h.has_prev = h.seq > 1;
	if (h.has_prev)
		memcpy(h.prev, r->prev, VELD_HASH_LEN);
	h.kind = p[1] % 16;
	memset(h.record, p[2], VELD_RECORD_LEN);
	hours = (int8_t)p[3];
	h.hlc = VELD_HLC_MAKE(
		(uint64_t)((int64_t)veld_hlc_wall_ms() + hours * 3600000), 0);

	veld_buf_init(&body, VELD_BODY_MAX);
	veld_buf_packer_init(&pk, &body);
	if (veld_body_begin(&pk, salt) ||
	    veld_buf_append(&body, p + 4, n - 4)) {
		veld_buf_release(&body);
		return;
	}
	veld_buf_init(&r->pending[r->npending], VELD_OP_MAX);
	rc = veld_op_create(k, &h, body.data, body.len,
			    &r->pending[r->npending], id);
	veld_buf_release(&body);
	if (rc < 0) {
		veld_buf_release(&r->pending[r->npending]);
		return;
	}
	r->npending++;
	if (k == r->dev && h.seq > r->seq) {
		r->seq = h.seq;
		memcpy(r->prev, id, VELD_HASH_LEN);
	}
}

static void push_pending(struct run *r, uint64_t batch)
{
	struct veld_bytes b[8];

	if (!r->npending)
		return;
	for (size_t i = 0; i < r->npending; i++)
		b[i] = (struct veld_bytes){r->pending[i].data,
					   r->pending[i].len};
	veld_buf_reset(&r->tx);
	if (veld_msg_push(&r->tx, batch, b, r->npending))
		fail("cannot encode a PUSH");
	for (size_t i = 0; i < r->npending; i++)
		veld_buf_release(&r->pending[i]);
	r->npending = 0;
	input(r, r->tx.data, r->tx.len);
}

static void handshake(struct run *r, uint8_t who)
{
	const struct veld_key *k;
	struct veld_msg m;
	const struct veld_buf *b = veld_session_out(&r->s);
	uint8_t nonce[VELD_NONCE_LEN];
	struct veld_head head;

	if (!b || veld_msg_decode(b->data, b->len, &m) ||
	    m.type != VELD_MSG_HELLO)
		fail("no HELLO");
	memcpy(nonce, m.nonce, sizeof(nonce));
	veld_msg_release(&m);
	veld_session_out_pop(&r->s);
	switch (who) {
	case 0:
		k = &k_field;
		break;
	case 1:
		k = &k_coord;
		break;
	case 2:
		k = &k_revoked;
		break;
	case 3:
		k = &k_unknown;
		break;
	default:
		r->dev = &k_field;
		return;
	}
	r->dev = k;
	if (veld_store_head(veld_replica_store(srv.replica), k->pk, &head))
		fail("cannot read a head");
	r->seq = head.seq;
	memcpy(r->prev, head.id, VELD_HASH_LEN);
	veld_buf_reset(&r->tx);
	if (veld_msg_auth(&r->tx, k, k_srv.pk, nonce))
		fail("cannot encode AUTH");
	input(r, r->tx.data, r->tx.len);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct run *r;
	size_t at = 1;

	if (size < 1)
		return 0;
	r = calloc(1, sizeof(*r));
	if (!r)
		abort();
	server_up();
	veld_buf_init(&r->tx, VELD_MSG_MAX);
	if (veld_session_open(&r->s, &srv, r))
		fail("cannot open a session");
	handshake(r, data[0]);
	while (at + 3 <= size) {
		uint8_t tag = data[at] % 5;
		size_t n = (size_t)data[at + 1] << 8 | data[at + 2];
		const uint8_t *p = data + at + 3;
		uint64_t cursor = 0;

		at += 3;
		if (n > size - at)
			n = size - at;
		at += n;
		switch (tag) {
		case 0:
			input(r, p, n);
			break;
		case 1:
			veld_buf_reset(&r->tx);
			if (veld_msg_ack(&r->tx, r->last_cursor))
				fail("cannot encode ACK");
			input(r, r->tx.data, r->tx.len);
			break;
		case 2:
			add_op(r, p, n);
			break;
		case 3:
			push_pending(r, n ? p[0] : 0);
			break;
		default:
			for (size_t i = 0; i < n && i < 8; i++)
				cursor = cursor << 8 | p[i];
			veld_buf_reset(&r->tx);
			if (veld_msg_pull(&r->tx, cursor))
				fail("cannot encode PULL");
			input(r, r->tx.data, r->tx.len);
		}
	}
	for (size_t i = 0; i < r->npending; i++)
		veld_buf_release(&r->pending[i]);
	veld_session_close(&r->s);
	veld_buf_release(&r->tx);
	free(r);
	veld_replica_close(srv.replica);
	srv.replica = NULL;
	return 0;
}
