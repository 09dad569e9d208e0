/*
 * test_replica.c - the merge rules and the replica's checks, one rule at a
 * time, with real (in-memory or file) stores.
 *
 * Cast: the server S (its key is the root of trust), a coordinator C and
 * field devices A and B, enrolled by S.
 */
#include <sodium.h>
#include <sqlite3.h>
#include <unistd.h>

#include "canon.h"
#include "framed.h"
#include "hlc.h"
#include "msg.h"
#include "recvals.h"
#include "replica_util.h"
#include "runs.h"
#include "verify.h"

static struct veld_key kS, kC, kA, kB, kX;
static struct veld_replica *S, *C, *A, *B;

static uint64_t fake_ms;
static uint64_t fake_wall(void *ctx)
{
	(void)ctx;
	return fake_ms;
}

static struct veld_replica *open_replica(const struct veld_key *k,
					 const char *path)
{
	struct veld_replica *r;

	if (veld_replica_open(path, k, kS.pk, &r) != 0)
		abort();
	return r;
}

/* Fresh cast; the server enrols everyone, and everyone syncs with it. */
static void setup(void)
{
	S = open_replica(&kS, ":memory:");
	C = open_replica(&kC, ":memory:");
	A = open_replica(&kA, ":memory:");
	B = open_replica(&kB, ":memory:");
	/* The devices authenticate runs (§13.1); S checks every op. */
	veld_replica_set_run_auth(C, 1);
	veld_replica_set_run_auth(A, 1);
	veld_replica_set_run_auth(B, 1);
	CHECK_ERR(veld_replica_device(S, kC.pk, "coordinator", "Carla", NULL, 0,
				      NULL),
		  0);
	CHECK_ERR(veld_replica_device(S, kA.pk, "field", "Ahmed", "noord", 0,
				      NULL),
		  0);
	CHECK_ERR(
		veld_replica_device(S, kB.pk, "field", "Bea", "noord", 0, NULL),
		0);
	ship(S, C);
	ship(S, A);
	ship(S, B);
}

static void teardown(void)
{
	veld_replica_close(S);
	veld_replica_close(C);
	veld_replica_close(A);
	veld_replica_close(B);
}

/* Everyone exchanges everything with the server, twice. */
static void sync_all(void)
{
	struct veld_replica *all[] = {C, A, B};

	for (int round = 0; round < 2; round++)
		for (int i = 0; i < 3; i++) {
			ship(all[i], S);
			ship(S, all[i]);
		}
}

static void check_converged(const char *what)
{
	uint8_t hs[32], h[32];
	struct veld_replica *all[] = {C, A, B};

	state_hash(S, hs);
	for (int i = 0; i < 3; i++) {
		state_hash(all[i], h);
		if (memcmp(h, hs, 32) != 0) {
			test_failed++;
			fprintf(stderr, "%s: replica %d differs from server\n",
				what, i);
		} else {
			test_passed++;
		}
	}
}

static void put1(struct veld_replica *r, uint8_t rec[16], int create,
		 const char *field, const char *value)
{
	struct veld_field f = {field, value, NULL, 0};

	CHECK_ERR(veld_replica_put(r, rec, create, create ? "huisbezoek" : NULL,
				   create ? "noord" : NULL, &f, 1, NULL),
		  0);
}

static void basic_put_and_sync(void)
{
	uint8_t rec[16];
	struct veld_field f[] = {{"street", "Kerkstraat", NULL, 0},
				 {"house", "12", NULL, 0},
				 {"wish", "meer bankjes", NULL, 0}};
	uint8_t opid[VELD_HASH_LEN], want[VELD_RECORD_LEN];
	struct veld_head head;
	struct snap s;

	setup();
	CHECK_ERR(
		veld_replica_put(A, rec, 1, "huisbezoek", "noord", f, 3, opid),
		0);
	/* A new record's id is derived from its creating op: our key and
	 * that op's seq (what lets a runs block name it in one byte). */
	CHECK_EQ(veld_store_head(veld_replica_store(A), kA.pk, &head), 0);
	CHECK_MEM(head.id, opid, VELD_HASH_LEN);
	veld_record_derive(kA.pk, head.seq, want);
	CHECK_MEM(rec, want, VELD_RECORD_LEN);
	veld_record_derive(kA.pk, head.seq + 1, want);
	CHECK(memcmp(rec, want, VELD_RECORD_LEN) != 0);
	s = snapshot(A, rec);
	CHECK(s.found);
	CHECK(strcmp(s.form, "huisbezoek") == 0);
	CHECK(strcmp(s.area, "noord") == 0);
	CHECK_EQ(s.nvalues, 3);
	CHECK(has_value(&s, "street=Kerkstraat"));
	CHECK_EQ(s.rec.conflicts, 0);
	sync_all();
	s = snapshot(S, rec);
	CHECK(s.found && has_value(&s, "wish=meer bankjes"));
	check_converged("basic");

	/* Fields given twice, or none, are refused; nothing is written. */
	struct veld_field dup[] = {{"house", "1", NULL, 0},
				   {"house", "2", NULL, 0}};
	uint8_t rec2[16];
	CHECK_ERR(
		veld_replica_put(A, rec2, 1, "huisbezoek", NULL, dup, 2, NULL),
		VELD_EKEYDUP);
	CHECK_ERR(
		veld_replica_put(A, rec2, 1, "huisbezoek", NULL, dup, 0, NULL),
		VELD_EINVAL);
	memset(rec2, 0x77, sizeof(rec2));
	CHECK_ERR(veld_replica_put(A, rec2, 0, NULL, NULL, f, 1, NULL),
		  VELD_ENOTFOUND);
	teardown();
}

static void concurrent_edits_three_authors(void)
{
	uint8_t rec[16];
	struct snap s;

	setup();
	put1(A, rec, 1, "wish", "bankjes");
	sync_all();
	/* Three authors edit the same field without seeing each other. */
	put1(A, rec, 0, "wish", "bloemen");
	put1(B, rec, 0, "wish", "speeltuin");
	put1(C, rec, 0, "wish", "verlichting");
	sync_all();
	check_converged("3 concurrent edits");
	s = snapshot(S, rec);
	CHECK_EQ(s.nvalues, 3);
	CHECK_EQ(s.rec.conflicts, 1);
	CHECK(has_value(&s, "wish=bloemen") &&
	      has_value(&s, "wish=speeltuin") &&
	      has_value(&s, "wish=verlichting"));
	CHECK(!has_value(&s, "wish=bankjes")); /* all three replaced it */
	{
		int winners = 0;
		for (int i = 0; i < s.nvalues; i++)
			winners += strchr(s.values[i], '*') != NULL;
		CHECK_EQ(winners, 1);
	}
	/* The coordinator resolves: one value naming all three. */
	put1(C, rec, 0, "wish", "bankjes en bloemen");
	sync_all();
	check_converged("resolved");
	s = snapshot(A, rec);
	CHECK_EQ(s.nvalues, 1);
	CHECK_EQ(s.rec.conflicts, 0);
	CHECK(has_value(&s, "wish=bankjes en bloemen"));
	teardown();
}

static void edit_versus_delete(void)
{
	uint8_t rec[16], rec2[16];
	struct snap s;

	setup();
	put1(A, rec, 1, "wish", "bankjes");
	put1(A, rec2, 1, "wish", "bomen");
	sync_all();
	/* B deletes what it saw; A edits concurrently (earlier clock). */
	put1(A, rec, 0, "needs", "handgreep");
	fake_ms = veld_hlc_wall_ms() + 1000;
	veld_replica_set_wall(B, fake_wall, NULL);
	CHECK_ERR(veld_replica_delete(B, rec, NULL), 0);
	veld_replica_set_wall(B, NULL, NULL);
	sync_all();
	check_converged("edit vs delete");
	s = snapshot(S, rec);
	CHECK(s.found);
	CHECK_EQ(s.rec.deleted, 0);
	CHECK_EQ(s.rec.delete_conflict, 1); /* flagged */
	CHECK(has_value(&s, "needs=handgreep"));
	CHECK(!has_value(&s, "wish=bankjes")); /* the delete saw that */

	/* A delete with nothing concurrent removes the record. */
	CHECK_ERR(veld_replica_delete(B, rec2, NULL), 0);
	sync_all();
	s = snapshot(C, rec2);
	CHECK(s.found && s.rec.deleted && !s.rec.delete_conflict);
	CHECK_EQ(s.nvalues, 0);
	teardown();
}

static void notes_are_ordered_and_kept(void)
{
	uint8_t rec[16];
	struct snap s;

	setup();
	put1(A, rec, 1, "wish", "x");
	sync_all();
	CHECK_ERR(veld_replica_note(A, rec, "eerste", NULL), 0);
	CHECK_ERR(veld_replica_note(B, rec, "tweede", NULL), 0);
	CHECK_ERR(veld_replica_note(A, rec, "", NULL), VELD_EINVAL);
	sync_all();
	check_converged("notes");
	s = snapshot(S, rec);
	CHECK_EQ(s.nnotes, 2);
	teardown();
}

/* Erase: bodies gone now, and a late op's body is dropped on arrival. */
static int count_bodies(void *ctx, const struct veld_stored_op *op)
{
	int *n = ctx;
	if (op->body && op->h.kind != VELD_KIND_ERASE)
		(*n)++;
	return 0;
}

static void erase_then_late_op(void)
{
	uint8_t rec[16];
	struct snap s;
	int bodies = 0;

	setup();
	put1(A, rec, 1, "wish", "handgreep in toilet");
	CHECK_ERR(veld_replica_note(A, rec, "mevrouw J., 84", NULL), 0);
	sync_all();
	/* B, offline, edits the record; meanwhile C erases it. */
	put1(B, rec, 0, "wish", "ook een douchestoel");
	CHECK_ERR(veld_replica_erase(C, rec, NULL), 0);
	CHECK_ERR(veld_replica_erase(A, rec, NULL), VELD_EROLE);
	ship(C, S);
	ship(B, S); /* the late op arrives after the erase */
	sync_all();
	check_converged("erase");
	s = snapshot(S, rec);
	CHECK(s.found && s.rec.erased);
	CHECK(strcmp(s.form, "huisbezoek") == 0); /* from the erase op */
	CHECK_EQ(s.nvalues, 0);			  /* values read as erased */
	CHECK_EQ(s.nnotes, 1);
	CHECK_EQ(s.notes_erased, 1);
	CHECK_EQ(veld_store_record_ops(veld_replica_store(S), rec, count_bodies,
				       &bodies),
		 0);
	CHECK_EQ(bodies, 0);
	bodies = 0;
	CHECK_EQ(veld_store_record_ops(veld_replica_store(B), rec, count_bodies,
				       &bodies),
		 0);
	CHECK_EQ(bodies, 0); /* B's own copy too, once it learnt */
	teardown();
}

/* Build a signed op of author k by hand (for forks and forgeries). */
/* A body with a random salt in body (caller releases), its content next
 * on pk. */
static void start_body(struct veld_buf *body, msgpack_packer *pk)
{
	uint8_t salt[16];

	veld_buf_init(body, VELD_BODY_MAX);
	veld_buf_packer_init(pk, body);
	veld_salt_random(salt);
	veld_body_begin(pk, salt);
}

/* Sign body (salt and content, from veld_body_begin) as op seq of k. */
static void sign_op(const struct veld_key *k, uint64_t seq, const uint8_t *prev,
		    uint64_t kind, const uint8_t record[16], uint64_t hlc,
		    const struct veld_buf *body, struct veld_buf *out)
{
	struct veld_op_header h;

	memset(&h, 0, sizeof(h));
	h.seq = seq;
	h.has_prev = prev != NULL;
	if (prev)
		memcpy(h.prev, prev, 32);
	h.hlc = hlc ? hlc : VELD_HLC_MAKE(veld_hlc_wall_ms(), 0);
	memcpy(h.record, record, 16);
	h.kind = kind;
	veld_buf_init(out, VELD_OP_MAX);
	if (veld_op_create(k, &h, body->data, body->len, out, NULL) != 0)
		abort();
}

static void make_op(const struct veld_key *k, uint64_t seq, const uint8_t *prev,
		    uint64_t kind, const uint8_t record[16], const char *field,
		    const char *value, uint64_t hlc, struct veld_buf *out)
{
	struct veld_buf body;
	msgpack_packer pk;

	start_body(&body, &pk);
	if (kind == VELD_KIND_PUT) {
		msgpack_pack_map(&pk, 2);
		msgpack_pack_str_with_body(&pk, "form", 4);
		msgpack_pack_str_with_body(&pk, "f", 1);
		msgpack_pack_str_with_body(&pk, "set", 3);
		msgpack_pack_map(&pk, 1);
		msgpack_pack_str_with_body(&pk, field, strlen(field));
		msgpack_pack_str_with_body(&pk, value, strlen(value));
	} else if (kind == VELD_KIND_FORM) {
		msgpack_pack_map(&pk, 2);
		msgpack_pack_str_with_body(&pk, "def", 3);
		msgpack_pack_map(&pk, 0);
		msgpack_pack_str_with_body(&pk, "name", 4);
		msgpack_pack_str_with_body(&pk, "f", 1);
	} else { /* a body that fits no kind */
		msgpack_pack_map(&pk, 1);
		msgpack_pack_str_with_body(&pk, "bogus", 5);
		msgpack_pack_nil(&pk);
	}
	sign_op(k, seq, prev, kind, record, hlc, &body, out);
	veld_buf_release(&body);
}

static void op_id_of(const struct veld_buf *b, uint8_t id[32])
{
	struct veld_op op;
	if (veld_op_decode(b->data, b->len, &op) != 0)
		abort();
	memcpy(id, op.id, 32);
}

static void chain_gap_held_then_completed(void)
{
	struct veld_buf o1, o2, o3;
	uint8_t id1[32], id2[32], rec[16] = {1};
	struct veld_apply_result r;
	struct veld_head head;
	int64_t pending;
	struct snap s;

	setup();
	make_op(&kA, 1, NULL, VELD_KIND_PUT, rec, "a", "1", 0, &o1);
	op_id_of(&o1, id1);
	make_op(&kA, 2, id1, VELD_KIND_PUT, rec, "b", "2", 0, &o2);
	op_id_of(&o2, id2);
	make_op(&kA, 3, id2, VELD_KIND_PUT, rec, "c", "3", 0, &o3);
	r = apply1(S, &o3);
	CHECK_EQ(r.status, VELD_APPLY_HELD);
	r = apply1(S, &o2);
	CHECK_EQ(r.status, VELD_APPLY_HELD);
	r = apply1(S, &o3); /* held twice is still held once */
	CHECK_EQ(r.status, VELD_APPLY_HELD);
	CHECK_EQ(veld_store_pending_count(veld_replica_store(S), &pending), 0);
	CHECK_EQ(pending, 2);
	CHECK(!snapshot(S, rec).found);
	r = apply1(S, &o1); /* releases 2, then 3 */
	CHECK_EQ(r.status, VELD_APPLY_APPLIED);
	CHECK_EQ(veld_store_pending_count(veld_replica_store(S), &pending), 0);
	CHECK_EQ(pending, 0);
	CHECK_EQ(veld_store_head(veld_replica_store(S), kA.pk, &head), 0);
	CHECK_EQ(head.seq, 3);
	s = snapshot(S, rec);
	CHECK_EQ(s.nvalues, 3);
	r = apply1(S, &o2);
	CHECK_EQ(r.status, VELD_APPLY_DUPLICATE);
	veld_buf_release(&o1);
	veld_buf_release(&o2);
	veld_buf_release(&o3);
	teardown();
}

/* Apply every op of from's log to to as one batch; res[i]: op i's fate. */
static size_t apply_log(struct veld_replica *from, struct veld_replica *to,
			struct veld_apply_result *res, size_t max)
{
	struct oplist l;
	struct veld_bytes b[16];
	size_t n;

	oplist_load(&l, from);
	n = l.n;
	CHECK(n <= max && n <= 16);
	for (size_t i = 0; i < n && i < 16; i++)
		b[i] = (struct veld_bytes){l.ops[i].data, l.ops[i].len};
	CHECK_ERR(veld_replica_apply(to, b, n < 16 ? n : 16, 0, res), 0);
	oplist_release(&l);
	return n;
}

/* Copy author's op 1 out of r's log into out. */
static void first_op_of(struct veld_replica *r, const uint8_t *author,
			struct veld_buf *out)
{
	struct oplist l;
	struct veld_op op;
	int found = 0;

	oplist_load(&l, r);
	veld_buf_init(out, VELD_OP_MAX);
	for (size_t i = 0; i < l.n && !found; i++) {
		if (veld_op_decode(l.ops[i].data, l.ops[i].len, &op) != 0)
			abort();
		found = op.h.seq == 1 && !memcmp(op.h.author, author, 32);
		if (found &&
		    veld_buf_append(out, l.ops[i].data, l.ops[i].len) != 0)
			abort();
	}
	CHECK(found);
	oplist_release(&l);
}

/*
 * A device's ops in the same batch as its enrolment (a fresh replica's
 * first pull) go straight in: the registry is folded when the first of
 * them arrives, not at the batch's end, so nothing waits in pending.
 * Also when one of them was held before (unenrolled, sent early): the
 * fold lets it in, and the same op in the batch is then a duplicate.
 */
static void enrolment_and_ops_in_one_batch(void)
{
	struct veld_apply_result res[16];
	struct veld_replica *F, *G;
	uint8_t rec[16] = {7};
	struct veld_buf mine;
	struct veld_head head;
	int64_t pending;
	size_t n;

	setup();
	put1(A, rec, 1, "street", "Kerkstraat");
	put1(A, rec, 0, "house", "12");
	ship(A, S);
	F = open_replica(&kX, ":memory:");
	n = apply_log(S, F, res, 16);
	CHECK(n >= 5); /* three enrolments, A's two ops */
	for (size_t i = 0; i < n; i++)
		CHECK_EQ(res[i].status, VELD_APPLY_APPLIED);
	CHECK_EQ(veld_store_pending_count(veld_replica_store(F), &pending), 0);
	CHECK_EQ(pending, 0);
	CHECK(snapshot(F, rec).found);

	/* G saw A's first op before anything else: held, unenrolled. */
	G = open_replica(&kX, ":memory:");
	first_op_of(A, kA.pk, &mine);
	CHECK_EQ(apply1(G, &mine).status, VELD_APPLY_HELD);
	n = apply_log(S, G, res, 16);
	for (size_t i = 0; i + 2 < n; i++)
		CHECK_EQ(res[i].status, VELD_APPLY_APPLIED);
	CHECK_EQ(res[n - 2].status, VELD_APPLY_DUPLICATE);
	CHECK_EQ(res[n - 1].status, VELD_APPLY_APPLIED);
	CHECK_EQ(veld_store_pending_count(veld_replica_store(G), &pending), 0);
	CHECK_EQ(pending, 0);
	CHECK_EQ(veld_store_head(veld_replica_store(G), kA.pk, &head), 0);
	CHECK_EQ(head.seq, 2);
	CHECK(snapshot(G, rec).found);
	veld_buf_release(&mine);
	veld_replica_close(F);
	veld_replica_close(G);
	teardown();
}

static void fork_freezes_author(void)
{
	struct veld_buf o1, o1b, o2;
	uint8_t id1[32], rec[16] = {2};
	struct veld_apply_result r;
	struct veld_head head;
	int status = -1;
	uint8_t idb[32];

	setup();
	make_op(&kA, 1, NULL, VELD_KIND_PUT, rec, "a", "honest", 0, &o1);
	make_op(&kA, 1, NULL, VELD_KIND_PUT, rec, "a", "other", 0, &o1b);
	op_id_of(&o1, id1);
	op_id_of(&o1b, idb);
	make_op(&kA, 2, id1, VELD_KIND_PUT, rec, "b", "2", 0, &o2);
	CHECK_EQ(apply1(S, &o1).status, VELD_APPLY_APPLIED);
	CHECK(snapshot(S, rec).found);
	r = apply1(S, &o1b);
	CHECK_EQ(r.status, VELD_APPLY_REFUSED);
	CHECK_ERR(r.err, VELD_EFORK);
	/* Evidence kept, author frozen, its ops leave the state. */
	CHECK_EQ(veld_store_op_status(veld_replica_store(S), idb, &status), 1);
	CHECK_EQ(status, VELD_STATUS_FORK);
	CHECK_EQ(veld_store_head(veld_replica_store(S), kA.pk, &head), 0);
	CHECK(head.frozen);
	CHECK_EQ(head.fork_seq, 1);
	CHECK(!snapshot(S, rec).found);
	r = apply1(S, &o2);
	CHECK_ERR(r.err, VELD_EFROZEN);
	/* Another replica that sees the branches the other way round ends
	 * in the same state. */
	CHECK_EQ(apply1(B, &o1b).status, VELD_APPLY_APPLIED);
	CHECK_EQ(apply1(B, &o1).status, VELD_APPLY_REFUSED);
	{
		uint8_t h1[32], h2[32];
		state_hash(S, h1);
		state_hash(B, h2);
		CHECK_MEM(h1, h2, 32);
	}
	veld_buf_release(&o1);
	veld_buf_release(&o1b);
	veld_buf_release(&o2);
	teardown();
}

/* An op of kind by k whose content is the msgpack bytes content[0..n). */
static void make_raw_op(const struct veld_key *k, uint64_t seq, uint64_t kind,
			const uint8_t record[16], const char *content, size_t n,
			struct veld_buf *out)
{
	struct veld_buf body;
	msgpack_packer pk;

	start_body(&body, &pk);
	if (veld_buf_append(&body, content, n))
		abort();
	sign_op(k, seq, NULL, kind, record, 0, &body, out);
	veld_buf_release(&body);
}

/*
 * A NUL inside a name (a field, form, area, by) or a note's text is
 * ECONTENT: names are C strings in the store and the state hash, and a
 * NUL-led field name once came back from the store as NULL (fuzz_session).
 */
static void nul_in_names_refused(void)
{
	static const struct {
		uint64_t kind;
		const char *content;
		size_t len;
	} bad[] = {
		/* {"set": {"\0isits": 3}} */
		{VELD_KIND_PUT, "\x81\xa3set\x81\xa6\0isits\x03", 14},
		/* {"set": {"vis\0ts": 3}} */
		{VELD_KIND_PUT, "\x81\xa3set\x81\xa6vis\0ts\x03", 14},
		/* {"form": "f\0", "set": {"a": 1}} */
		{VELD_KIND_PUT, "\x82\244form\242f\0\xa3set\x81\241a\x01", 17},
		/* {"text": "a\0b"} */
		{VELD_KIND_NOTE, "\x81\xa4text\243a\0b", 10},
	};
	uint8_t rec[16] = {7}, before[32], after[32];
	struct veld_apply_result r;
	struct veld_buf o;

	setup();
	CHECK_ERR(veld_replica_state_hash(S, before), 0);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		make_raw_op(&kB, 1, bad[i].kind, rec, bad[i].content,
			    bad[i].len, &o);
		r = apply1(S, &o);
		CHECK_EQ(r.status, VELD_APPLY_REFUSED);
		CHECK_ERR(r.err, VELD_ECONTENT);
		veld_buf_release(&o);
	}
	CHECK_ERR(veld_replica_state_hash(S, after), 0);
	CHECK_MEM(before, after, 32);
	/* The same put without the NUL goes in and hashes. */
	make_raw_op(&kB, 1, VELD_KIND_PUT, rec, "\x81\xa3set\x81\xa6visits\x03",
		    14, &o);
	r = apply1(S, &o);
	CHECK_EQ(r.status, VELD_APPLY_APPLIED);
	veld_buf_release(&o);
	CHECK_ERR(veld_replica_state_hash(S, after), 0);
	CHECK(memcmp(before, after, 32) != 0);
	teardown();
}

static void authorisation(void)
{
	struct veld_buf o;
	uint8_t rec[16] = {3}, form[16], key[32];
	struct veld_apply_result r;

	setup();
	/* A field device may not write forms, registry entries or erases. */
	CHECK_ERR(veld_replica_form(A, form, 1, "f", (const uint8_t *)"\x80", 1,
				    NULL),
		  VELD_EROLE);
	memset(key, 9, sizeof(key));
	CHECK_ERR(
		veld_replica_device(A, key, "coordinator", "me", NULL, 0, NULL),
		VELD_EROLE);
	make_op(&kA, 1, NULL, VELD_KIND_FORM, rec, NULL, NULL, 0, &o);
	r = apply1(S, &o);
	CHECK_EQ(r.status, VELD_APPLY_REFUSED);
	CHECK_ERR(r.err, VELD_EROLE);
	veld_buf_release(&o);
	/* The coordinator may. */
	CHECK_ERR(veld_replica_form(C, form, 1, "f", (const uint8_t *)"\x80", 1,
				    NULL),
		  0);
	/* Content that fits no kind is refused. */
	make_op(&kB, 1, NULL, VELD_KIND_NOTE, rec, NULL, NULL, 0, &o);
	r = apply1(S, &o);
	CHECK_ERR(r.err, VELD_ECONTENT);
	veld_buf_release(&o);
	/* An unknown author is held until its enrolment arrives. */
	make_op(&kX, 1, NULL, VELD_KIND_PUT, rec, "a", "1", 0, &o);
	r = apply1(S, &o);
	CHECK_EQ(r.status, VELD_APPLY_HELD);
	CHECK_ERR(r.err, VELD_EAUTHOR);
	CHECK(!snapshot(S, rec).found);
	CHECK_ERR(veld_replica_device(S, kX.pk, "field", "X", NULL, 0, NULL),
		  0);
	CHECK(snapshot(S, rec).found);
	veld_buf_release(&o);
	/* A forged signature is refused. */
	make_op(&kB, 1, NULL, VELD_KIND_PUT, rec, "a", "1", 0, &o);
	o.data[o.len - 70] ^= 1; /* inside the signature */
	r = apply1(S, &o);
	CHECK_EQ(r.status, VELD_APPLY_REFUSED);
	CHECK(r.err == VELD_ESIG || r.err == VELD_EBODYHASH);
	veld_buf_release(&o);
	/* A clock far ahead is refused. */
	make_op(&kB, 1, NULL, VELD_KIND_PUT, rec, "a", "1",
		VELD_HLC_MAKE(veld_hlc_wall_ms() + 3600 * 1000, 0), &o);
	r = apply1(S, &o);
	CHECK_ERR(r.err, VELD_ECLOCKAHEAD);
	veld_buf_release(&o);
	teardown();
}

static void revocation(void)
{
	uint8_t rec[16], rec2[16], id[32];
	struct snap s;

	setup();
	put1(A, rec, 1, "wish", "voor intrekking");
	ship(A, S);
	/* A keeps writing offline; the server revokes A meanwhile. */
	fake_ms = veld_hlc_wall_ms() + 2000;
	veld_replica_set_wall(S, fake_wall, NULL);
	CHECK_ERR(veld_replica_device(S, kA.pk, "field", "Ahmed", "noord", 1,
				      NULL),
		  0);
	fake_ms += 2000;
	veld_replica_set_wall(A, fake_wall, NULL);
	put1(A, rec2, 1, "wish", "na intrekking");
	ship(A, S);
	s = snapshot(S, rec);
	CHECK(s.found); /* written before the revocation: stays */
	CHECK(!snapshot(S, rec2).found); /* after: kept for the chain only */
	/* The same outcome when the revocation arrives after the op. */
	ship(A, B);
	CHECK(snapshot(B, rec2).found);
	ship(S, B);
	CHECK(!snapshot(B, rec2).found);
	CHECK(snapshot(B, rec).found);
	/* And A itself, once it learns: its own write is void. */
	ship(S, A);
	CHECK(!snapshot(A, rec2).found);
	CHECK_ERR(veld_replica_note(A, rec, "nog iets", id), VELD_EREVOKED);
	veld_replica_set_wall(S, NULL, NULL);
	veld_replica_set_wall(A, NULL, NULL);
	teardown();
}

/* Remove a store file made in its own directory, then the directory. */
static void remove_store(const char *dir, const char *path)
{
	test_remove_db(path);
	rmdir(dir);
}

static void persistence(void)
{
	char dir[] = "/tmp/veld-test-XXXXXX", path[64];
	uint8_t rec[16], h1[32], h2[32];
	struct veld_replica *r;

	CHECK(mkdtemp(dir) != NULL);
	snprintf(path, sizeof(path), "%s/a.db", dir);
	r = open_replica(&kS, path);
	put1(r, rec, 1, "wish", "blijft");
	CHECK_ERR(veld_replica_note(r, rec, "notitie", NULL), 0);
	state_hash(r, h1);
	veld_replica_close(r);
	r = open_replica(&kS, path);
	state_hash(r, h2);
	CHECK_MEM(h1, h2, 32);
	CHECK(has_value(&(struct snap){0}, "x") == 0);
	{
		struct snap s = snapshot(r, rec);
		CHECK(s.found && has_value(&s, "wish=blijft") && s.nnotes == 1);
	}
	/* The clock continues after the last op, also after a restart. */
	put1(r, rec, 0, "wish", "later");
	veld_replica_close(r);
	remove_store(dir, path);
}

/* Turn a store of this version back into what schema 2 wrote: bodies in
 * their own table under the op id, no body column in ops, records keyed by
 * id, values and notes with the op id, author and hlc in every row. */
static void downgrade_to_v2(const char *path)
{
	sqlite3 *db;

	CHECK_EQ(sqlite3_open(path, &db), SQLITE_OK);
	CHECK_EQ(veld_recvals_register(db), SQLITE_OK); /* field_values */
	CHECK_EQ(sqlite3_exec(
			 db,
			 "BEGIN;"
			 "CREATE TABLE b2(id BLOB PRIMARY KEY,"
			 " body BLOB NOT NULL) WITHOUT ROWID;"
			 "INSERT INTO b2 SELECT id, body FROM ops"
			 " WHERE body IS NOT NULL;"
			 "CREATE TABLE r2(id BLOB PRIMARY KEY, form TEXT,"
			 " area TEXT, street TEXT, followup TEXT,"
			 " created INTEGER NOT NULL, updated INTEGER NOT NULL,"
			 " deleted INTEGER NOT NULL,"
			 " delete_conflict INTEGER NOT NULL,"
			 " erased INTEGER NOT NULL, conflicts INTEGER NOT NULL)"
			 " WITHOUT ROWID;"
			 "INSERT INTO r2 SELECT id, form, area, street,"
			 " followup, created, updated, deleted,"
			 " delete_conflict, erased, conflicts FROM records;"
			 "CREATE TABLE f2(record BLOB NOT NULL,"
			 " field TEXT NOT NULL, op BLOB NOT NULL,"
			 " author BLOB NOT NULL, hlc INTEGER NOT NULL,"
			 " value BLOB, winner INTEGER NOT NULL,"
			 " PRIMARY KEY(record, field, op)) WITHOUT ROWID;"
			 "INSERT INTO f2 SELECT * FROM field_values;"
			 "CREATE TABLE n2(record BLOB NOT NULL,"
			 " hlc INTEGER NOT NULL, author BLOB NOT NULL,"
			 " op BLOB NOT NULL, text TEXT,"
			 " PRIMARY KEY(record, hlc, author, op)) WITHOUT ROWID;"
			 "INSERT INTO n2 SELECT * FROM notes;"
			 "DROP VIEW bodies; DROP VIEW field_values;"
			 "DROP VIEW notes;"
			 "DROP TABLE note_rows; DROP TABLE records;"
			 "ALTER TABLE b2 RENAME TO bodies;"
			 "ALTER TABLE r2 RENAME TO records;"
			 "ALTER TABLE f2 RENAME TO field_values;"
			 "ALTER TABLE n2 RENAME TO notes;"
			 "CREATE INDEX records_form ON records(form, updated);"
			 "ALTER TABLE ops DROP COLUMN body;"
			 "DROP INDEX ops_device;"
			 "CREATE INDEX ops_kind ON ops(kind, hlc);"
			 "DROP TABLE salt_nodes;"
			 "PRAGMA user_version = 2;"
			 "COMMIT;",
			 NULL, NULL, NULL),
		 SQLITE_OK);
	sqlite3_close(db);
}

/* 1 if the file has an index of that name, else 0. */
static int has_index(const char *path, const char *name)
{
	sqlite3 *db;
	sqlite3_stmt *st;
	int found = -1;

	CHECK_EQ(sqlite3_open(path, &db), SQLITE_OK);
	if (sqlite3_prepare_v2(db,
			       "SELECT count(*) FROM sqlite_schema"
			       " WHERE type = 'index' AND name = ?1",
			       -1, &st, NULL) == SQLITE_OK) {
		sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
		if (sqlite3_step(st) == SQLITE_ROW)
			found = sqlite3_column_int(st, 0);
		sqlite3_finalize(st);
	}
	sqlite3_close(db);
	return found;
}

static int user_version(const char *path)
{
	sqlite3 *db;
	sqlite3_stmt *st;
	int v = -1;

	CHECK_EQ(sqlite3_open(path, &db), SQLITE_OK);
	if (sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &st, NULL) ==
		    SQLITE_OK &&
	    sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	sqlite3_close(db);
	return v;
}

static int count_all_bodies(void *ctx, const struct veld_stored_op *op)
{
	int *n = ctx;
	if (op->body)
		(*n)++;
	return 0;
}

/* A data directory written by schema 2 (bodies in a table of their own,
 * values and notes under record and op ids) opens as before: same state,
 * same bodies, erased ones still gone, and it takes new ops. */
static void migrate_from_v2(void)
{
	char dir[] = "/tmp/veld-test-XXXXXX", path[64];
	uint8_t rec[16], gone[16], h1[32], h2[32];
	struct veld_store_counts c1, c2;
	struct veld_replica *r;
	char msg[128];
	int kept = 0, erased = 0;

	CHECK(mkdtemp(dir) != NULL);
	snprintf(path, sizeof(path), "%s/a.db", dir);
	r = open_replica(&kS, path);
	put1(r, rec, 1, "wish", "blijft");
	put1(r, rec, 0, "wish", "blijft ook");
	CHECK_ERR(veld_replica_note(r, rec, "notitie", NULL), 0);
	put1(r, gone, 1, "wish", "weg");
	CHECK_ERR(veld_replica_note(r, gone, "ook weg", NULL), 0);
	CHECK_ERR(veld_replica_erase(r, gone, NULL), 0);
	state_hash(r, h1);
	CHECK_EQ(veld_store_counts(veld_replica_store(r), &c1), 0);
	veld_replica_close(r);
	CHECK_EQ(user_version(path), 8);

	downgrade_to_v2(path);
	CHECK_EQ(user_version(path), 2);
	CHECK_EQ(has_index(path, "ops_kind"), 1);
	r = open_replica(&kS, path);
	CHECK_EQ(user_version(path), 8);
	/* schema 5: device ops alone are indexed by clock */
	CHECK_EQ(has_index(path, "ops_kind"), 0);
	CHECK_EQ(has_index(path, "ops_device"), 1);
	state_hash(r, h2);
	CHECK_MEM(h1, h2, 32);
	CHECK_EQ(veld_store_counts(veld_replica_store(r), &c2), 0);
	CHECK_EQ(c2.ops, c1.ops);
	CHECK_EQ(c2.bodies, c1.bodies);
	CHECK_EQ(veld_store_record_ops(veld_replica_store(r), rec,
				       count_all_bodies, &kept),
		 0);
	CHECK_EQ(kept, 3);
	CHECK_EQ(veld_store_record_ops(veld_replica_store(r), gone,
				       count_bodies, &erased),
		 0);
	CHECK_EQ(erased, 0);
	put1(r, rec, 0, "wish", "na de migratie");
	{
		struct snap s = snapshot(r, rec);
		CHECK(s.found && has_value(&s, "wish=na de migratie"));
	}
	CHECK_EQ(veld_store_integrity(veld_replica_store(r), msg, sizeof(msg)),
		 0);
	veld_replica_close(r);
	remove_store(dir, path);
}

/* The CREATE statement of table name in the file at path (static). */
static const char *table_sql(const char *path, const char *name)
{
	static char sql[1024];
	sqlite3 *db;
	sqlite3_stmt *st;

	sql[0] = 0;
	CHECK_EQ(sqlite3_open(path, &db), SQLITE_OK);
	if (sqlite3_prepare_v2(db,
			       "SELECT sql FROM sqlite_schema"
			       " WHERE type = 'table' AND name = ?1",
			       -1, &st, NULL) == SQLITE_OK) {
		sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
		if (sqlite3_step(st) == SQLITE_ROW)
			snprintf(sql, sizeof(sql), "%s",
				 (const char *)sqlite3_column_text(st, 0));
		sqlite3_finalize(st);
	}
	sqlite3_close(db);
	return sql;
}

/*
 * Schema 7's op log: AUTOINCREMENT, the id UNIQUE in the table, and a
 * rebased log (a restore, veld_store_log_rebase) kept in sqlite_sequence:
 * the next position is 5001 although the last op is far below it.
 */
static void downgrade_to_v7(const char *path)
{
	sqlite3 *db;

	CHECK_EQ(sqlite3_open(path, &db), SQLITE_OK);
	CHECK_EQ(sqlite3_exec(
			 db,
			 "PRAGMA legacy_alter_table = ON;"
			 "BEGIN;"
			 "CREATE TABLE ops7("
			 " pos INTEGER PRIMARY KEY AUTOINCREMENT,"
			 " id BLOB NOT NULL UNIQUE,"
			 " author BLOB NOT NULL, seq INTEGER NOT NULL,"
			 " hlc INTEGER NOT NULL, record BLOB NOT NULL,"
			 " kind INTEGER NOT NULL, header BLOB NOT NULL,"
			 " sig BLOB NOT NULL, status INTEGER NOT NULL,"
			 " body BLOB);"
			 "INSERT INTO ops7 SELECT pos, id, author, seq, hlc,"
			 " record, kind, header, sig, status, body FROM ops;"
			 "DROP TABLE ops;"
			 "ALTER TABLE ops7 RENAME TO ops;"
			 "CREATE INDEX ops_author ON ops(author, seq);"
			 "CREATE INDEX ops_record ON ops(record, hlc);"
			 "CREATE INDEX ops_device ON ops(hlc) WHERE kind = 6;"
			 "UPDATE sqlite_sequence SET seq = 5000"
			 " WHERE name = 'ops';"
			 "DELETE FROM meta WHERE key = 'log_floor';"
			 "PRAGMA user_version = 7;"
			 "COMMIT;",
			 NULL, NULL, NULL),
		 SQLITE_OK);
	sqlite3_close(db);
}

/* Schema 8 rebuilds the op log without AUTOINCREMENT: the same state, the
 * same ops, and a rebased log still hands out positions from its floor on
 * (meta 'log_floor'), never one a device may already have pulled past. */
static void migrate_from_v7(void)
{
	char dir[] = "/tmp/veld-test-XXXXXX", path[64];
	uint8_t rec[16], h1[32], h2[32];
	struct veld_store_counts c1, c2;
	struct veld_replica *r;
	int64_t next;
	char msg[128];

	CHECK(mkdtemp(dir) != NULL);
	snprintf(path, sizeof(path), "%s/a.db", dir);
	r = open_replica(&kS, path);
	put1(r, rec, 1, "wish", "bankjes");
	CHECK_ERR(veld_replica_note(r, rec, "notitie", NULL), 0);
	state_hash(r, h1);
	CHECK_EQ(veld_store_counts(veld_replica_store(r), &c1), 0);
	veld_replica_close(r);
	CHECK(strstr(table_sql(path, "ops"), "AUTOINCREMENT") == NULL);
	CHECK_EQ(has_index(path, "ops_id"), 1);

	downgrade_to_v7(path);
	CHECK_EQ(user_version(path), 7);
	CHECK(strstr(table_sql(path, "ops"), "AUTOINCREMENT") != NULL);
	CHECK_EQ(has_index(path, "ops_id"), 0);
	r = open_replica(&kS, path);
	CHECK_EQ(user_version(path), 8);
	CHECK(strstr(table_sql(path, "ops"), "AUTOINCREMENT") == NULL);
	CHECK_EQ(has_index(path, "ops_id"), 1);
	state_hash(r, h2);
	CHECK_MEM(h1, h2, 32);
	CHECK_EQ(veld_store_counts(veld_replica_store(r), &c2), 0);
	CHECK_EQ(c2.ops, c1.ops);
	CHECK_EQ(c2.bodies, c1.bodies);
	CHECK_EQ(veld_store_log_next(veld_replica_store(r), &next), 0);
	CHECK_EQ(next, 5001);
	/* The next op goes in at the floor, the one after it right behind. */
	put1(r, rec, 0, "wish", "na de migratie");
	CHECK_EQ(veld_store_log_next(veld_replica_store(r), &next), 0);
	CHECK_EQ(next, 5002);
	put1(r, rec, 0, "wish", "en nog een");
	CHECK_EQ(veld_store_log_next(veld_replica_store(r), &next), 0);
	CHECK_EQ(next, 5003);
	CHECK_EQ(veld_store_integrity(veld_replica_store(r), msg, sizeof(msg)),
		 0);
	veld_replica_close(r);
	remove_store(dir, path);
}

/* Count the authors veld_store_pending_authors hands over. */
static int count_keys(void *ctx, const uint8_t *key)
{
	(void)key;
	(*(int *)ctx)++;
	return 0;
}

/* Open checks the schema version; statements are prepared on first use.
 * A store with a table missing opens, and each call that needs the table
 * fails with VELD_ESTORE and SQLite's reason, again on the next try, while
 * the rest of the store works; a newer schema is still refused at open. */
static void damaged_store_fails_at_use(void)
{
	char dir[] = "/tmp/veld-test-XXXXXX", path[64];
	struct veld_store *s;
	struct veld_buf v;
	uint64_t seq = 7;
	int64_t n = -1;
	int keys = 0;
	sqlite3 *db;

	CHECK(mkdtemp(dir) != NULL);
	snprintf(path, sizeof(path), "%s/d.db", dir);
	CHECK_ERR(veld_store_open(path, &s), 0);
	CHECK_ERR(veld_store_meta_set(s, "k", "v", 1), 0);
	CHECK_ERR(veld_store_pending_count(s, &n), 0);
	CHECK_EQ(n, 0);
	veld_store_close(s);

	CHECK_EQ(sqlite3_open(path, &db), SQLITE_OK);
	CHECK_EQ(sqlite3_exec(db, "DROP TABLE pending", NULL, NULL, NULL),
		 SQLITE_OK);
	sqlite3_close(db);

	veld_buf_init(&v, 64);
	CHECK_ERR(veld_store_open(path, &s), 0);
	for (int i = 0; i < 2; i++) {
		CHECK_ERR(veld_store_pending_count(s, &n), VELD_ESTORE);
		CHECK_EQ(n, 0);
		CHECK(strstr(veld_store_errmsg(s), "no such table") != NULL);
	}
	CHECK_ERR(veld_store_pending_min_seq(s, kA.pk, &seq), VELD_ESTORE);
	CHECK_U64(seq, 0);
	CHECK_ERR(veld_store_pending_take(s, kA.pk, 1, &v), VELD_ESTORE);
	CHECK_ERR(veld_store_pending_authors(s, VELD_PENDING_GAP, count_keys,
					     &keys),
		  VELD_ESTORE);
	CHECK_EQ(keys, 0);
	/* the rest of the store, inside a transaction too */
	CHECK_ERR(veld_store_begin(s), 0);
	CHECK_ERR(veld_store_pending_count(s, &n), VELD_ESTORE);
	CHECK_ERR(veld_store_meta_set(s, "k2", "w", 1), 0);
	CHECK_ERR(veld_store_commit(s), 0);
	CHECK_EQ(veld_store_meta_get(s, "k", &v), 1);
	CHECK_MEM(v.data, "v", 1);
	CHECK_EQ(veld_store_meta_get(s, "k2", &v), 1);
	veld_store_close(s);

	/* read-only: the same */
	CHECK_ERR(veld_store_open_readonly(path, &s), 0);
	CHECK_ERR(veld_store_pending_count(s, &n), VELD_ESTORE);
	CHECK_EQ(veld_store_meta_get(s, "k", &v), 1);
	veld_store_close(s);

	/* a newer schema: refused at open, writable or not */
	CHECK_EQ(sqlite3_open(path, &db), SQLITE_OK);
	CHECK_EQ(sqlite3_exec(db, "PRAGMA user_version = 99", NULL, NULL, NULL),
		 SQLITE_OK);
	sqlite3_close(db);
	CHECK_ERR(veld_store_open(path, &s), VELD_ESCHEMA);
	CHECK_ERR(veld_store_open_readonly(path, &s), VELD_ESCHEMA);

	veld_buf_release(&v);
	remove_store(dir, path);
}

/* A pushed batch is taken whole or not at all. */
static void apply_all_or_nothing(void)
{
	struct veld_buf o1, o2;
	uint8_t id1[32], rec[16] = {4};
	struct veld_bytes b[2];
	size_t bad = 99;
	int status;

	setup();
	make_op(&kA, 1, NULL, VELD_KIND_PUT, rec, "a", "1", 0, &o1);
	op_id_of(&o1, id1);
	make_op(&kA, 2, id1, VELD_KIND_NOTE, rec, NULL, NULL, 0, &o2);
	b[0] = (struct veld_bytes){o1.data, o1.len};
	b[1] = (struct veld_bytes){o2.data, o2.len};
	CHECK_ERR(veld_replica_apply_all(S, b, 2, 0, &bad), VELD_ECONTENT);
	CHECK_EQ(bad, 1);
	CHECK_EQ(veld_store_op_status(veld_replica_store(S), id1, &status), 0);
	CHECK(!snapshot(S, rec).found);
	CHECK_ERR(veld_replica_apply_all(S, b, 1, 0, &bad), 0);
	CHECK(snapshot(S, rec).found);
	CHECK_ERR(veld_replica_apply_all(S, b, 1, 0, &bad), 0); /* dup ok */
	veld_buf_release(&o1);
	veld_buf_release(&o2);
	teardown();
}

/*
 * The pushes of the group tests: A's a=1 (ba), B's b=1 and a note that is
 * refused as content (bb), C's c=1 (bc), then A's a=2 (ba2).
 */
struct pushes {
	struct veld_buf a1, b1, b2, c1, a2;
	uint8_t ida1[32], idb1[32], idc1[32], ida2[32];
	uint8_t ra[16], rb[16], rc[16];
	struct veld_bytes ba[1], bb[2], bc[1], ba2[1];
};

static void pushes_make(struct pushes *p)
{
	memset(p, 0, sizeof(*p));
	p->ra[0] = 7;
	p->rb[0] = 8;
	p->rc[0] = 9;
	make_op(&kA, 1, NULL, VELD_KIND_PUT, p->ra, "a", "1", 0, &p->a1);
	op_id_of(&p->a1, p->ida1);
	make_op(&kB, 1, NULL, VELD_KIND_PUT, p->rb, "b", "1", 0, &p->b1);
	op_id_of(&p->b1, p->idb1);
	make_op(&kB, 2, p->idb1, VELD_KIND_NOTE, p->rb, NULL, NULL, 0, &p->b2);
	make_op(&kC, 1, NULL, VELD_KIND_PUT, p->rc, "c", "1", 0, &p->c1);
	op_id_of(&p->c1, p->idc1);
	make_op(&kA, 2, p->ida1, VELD_KIND_PUT, p->ra, "a", "2", 0, &p->a2);
	op_id_of(&p->a2, p->ida2);
	p->ba[0] = (struct veld_bytes){p->a1.data, p->a1.len};
	p->bb[0] = (struct veld_bytes){p->b1.data, p->b1.len};
	p->bb[1] = (struct veld_bytes){p->b2.data, p->b2.len};
	p->bc[0] = (struct veld_bytes){p->c1.data, p->c1.len};
	p->ba2[0] = (struct veld_bytes){p->a2.data, p->a2.len};
}

static void pushes_release(struct pushes *p)
{
	veld_buf_release(&p->a1);
	veld_buf_release(&p->b1);
	veld_buf_release(&p->b2);
	veld_buf_release(&p->c1);
	veld_buf_release(&p->a2);
}

/*
 * Group commit: three devices' pushes in one transaction.  The one with a
 * refused op is undone alone; the others are kept, exactly as if each had
 * been applied on its own; a group rolled back keeps nothing.
 */
static void group_of_pushes(void)
{
	struct pushes p;
	uint8_t h1[32], h2[32];
	struct veld_replica *S2;
	size_t bad = 99;
	int status;

	setup();
	S2 = open_replica(&kS, ":memory:");
	ship(S, S2);
	pushes_make(&p);

	CHECK_ERR(veld_replica_group_begin(S), 0);
	CHECK_ERR(veld_replica_group_apply_all(S, p.ba, NULL, 1, 0, &bad), 0);
	CHECK_ERR(veld_replica_group_apply_all(S, p.bb, NULL, 2, 0, &bad),
		  VELD_ECONTENT);
	CHECK_EQ(bad, 1);
	CHECK_ERR(veld_replica_group_apply_all(S, p.bc, NULL, 1, 0, &bad), 0);
	CHECK_ERR(veld_replica_group_commit(S), 0);
	CHECK_EQ(veld_store_op_status(veld_replica_store(S), p.ida1, &status),
		 1);
	CHECK_EQ(veld_store_op_status(veld_replica_store(S), p.idb1, &status),
		 0);
	CHECK_EQ(veld_store_op_status(veld_replica_store(S), p.idc1, &status),
		 1);
	CHECK(snapshot(S, p.ra).found && !snapshot(S, p.rb).found &&
	      snapshot(S, p.rc).found);
	/* The same as each push applied on its own. */
	CHECK_ERR(veld_replica_apply_all(S2, p.ba, 1, 0, &bad), 0);
	CHECK_ERR(veld_replica_apply_all(S2, p.bc, 1, 0, &bad), 0);
	state_hash(S, h1);
	state_hash(S2, h2);
	CHECK_MEM(h1, h2, 32);
	/* B's chain was left as it was: its first op still fits. */
	CHECK_ERR(veld_replica_apply_all(S, p.bb, 1, 0, &bad), 0);
	CHECK(snapshot(S, p.rb).found);

	/* A group rolled back keeps nothing; the next one goes on. */
	CHECK_ERR(veld_replica_group_begin(S), 0);
	CHECK_ERR(veld_replica_group_apply_all(S, p.ba2, NULL, 1, 0, &bad), 0);
	veld_replica_group_rollback(S);
	CHECK_EQ(veld_store_op_status(veld_replica_store(S), p.ida2, &status),
		 0);
	CHECK_ERR(veld_replica_group_begin(S), 0);
	CHECK_ERR(veld_replica_group_apply_all(S, p.ba2, NULL, 1, 0, &bad), 0);
	CHECK_ERR(veld_replica_group_commit(S), 0);
	{
		struct snap sn = snapshot(S, p.ra);
		CHECK(sn.found && has_value(&sn, "a=2"));
	}
	veld_replica_close(S2);
	pushes_release(&p);
	teardown();
}

/*
 * Deferred records (veldd): a group's records wait for
 * veld_replica_settle_deferred, a refused batch's and a rolled-back
 * group's never wait, the settled state is the one settling in the batch
 * gives, and records a closed replica left waiting are settled when the
 * file is opened again.
 */
static void deferred_records(void)
{
	char dir[] = "/tmp/veld-defer-XXXXXX", path[64], rm[96];
	struct pushes p;
	uint8_t h1[32], h2[32];
	struct veld_replica *F, *S2;
	uint64_t pos;
	size_t bad = 99;

	setup();
	CHECK(mkdtemp(dir) != NULL);
	snprintf(path, sizeof(path), "%s/s.db", dir);
	F = open_replica(&kS, path);
	S2 = open_replica(&kS, ":memory:");
	ship(S, F);
	ship(S, S2);
	CHECK_ERR(veld_store_meta_get_u64(veld_replica_store(F),
					  VELD_META_SETTLED_POS, &pos),
		  0);
	CHECK_ERR(veld_replica_set_defer_records(F, 1), 0);
	CHECK_ERR(veld_store_meta_get_u64(veld_replica_store(F),
					  VELD_META_SETTLED_POS, &pos),
		  1);
	CHECK_EQ(pos, (uint64_t)veld_store_ops_last(veld_replica_store(F)));

	pushes_make(&p);

	/* Committed, the ops are in the log; their records wait. */
	CHECK_ERR(veld_replica_group_begin(F), 0);
	CHECK_ERR(veld_replica_group_apply_all(F, p.ba, NULL, 1, 0, &bad), 0);
	CHECK_ERR(veld_replica_settle_deferred(F, 8), VELD_EINVAL);
	CHECK_ERR(veld_replica_group_apply_all(F, p.bb, NULL, 2, 0, &bad),
		  VELD_ECONTENT);
	CHECK_ERR(veld_replica_group_apply_all(F, p.bc, NULL, 1, 0, &bad), 0);
	CHECK_EQ(veld_replica_unsettled(F), 0); /* nothing committed yet */
	CHECK_ERR(veld_replica_group_commit(F), 0);
	CHECK_EQ(veld_replica_unsettled(F), 2); /* a and c, not b */
	CHECK(!snapshot(F, p.ra).found && !snapshot(F, p.rc).found);
	CHECK_ERR(veld_store_meta_get_u64(veld_replica_store(F),
					  VELD_META_SETTLED_POS, &pos),
		  1);
	CHECK(pos < (uint64_t)veld_store_ops_last(veld_replica_store(F)));
	/* One at a time, then the rest: the position moves at the end. */
	CHECK_ERR(veld_replica_settle_deferred(F, 1), 0);
	CHECK_EQ(veld_replica_unsettled(F), 1);
	CHECK(snapshot(F, p.ra).found && !snapshot(F, p.rc).found);
	CHECK_ERR(veld_replica_settle_deferred(F, 8), 0);
	CHECK_EQ(veld_replica_unsettled(F), 0);
	CHECK(snapshot(F, p.rc).found && !snapshot(F, p.rb).found);
	CHECK_ERR(veld_store_meta_get_u64(veld_replica_store(F),
					  VELD_META_SETTLED_POS, &pos),
		  1);
	CHECK_EQ(pos, (uint64_t)veld_store_ops_last(veld_replica_store(F)));
	/* The state settling in the batch gives. */
	CHECK_ERR(veld_replica_apply_all(S2, p.ba, 1, 0, &bad), 0);
	CHECK_ERR(veld_replica_apply_all(S2, p.bc, 1, 0, &bad), 0);
	state_hash(F, h1);
	state_hash(S2, h2);
	CHECK_MEM(h1, h2, 32);

	/* A group rolled back leaves nothing waiting. */
	CHECK_ERR(veld_replica_group_begin(F), 0);
	CHECK_ERR(veld_replica_group_apply_all(F, p.ba2, NULL, 1, 0, &bad), 0);
	veld_replica_group_rollback(F);
	CHECK_EQ(veld_replica_unsettled(F), 0);

	/* Closed with a record waiting: the next open settles it. */
	CHECK_ERR(veld_replica_group_begin(F), 0);
	CHECK_ERR(veld_replica_group_apply_all(F, p.ba2, NULL, 1, 0, &bad), 0);
	CHECK_ERR(veld_replica_group_commit(F), 0);
	CHECK_EQ(veld_replica_unsettled(F), 1);
	{
		struct snap sn = snapshot(F, p.ra);
		CHECK(has_value(&sn, "a=1") && !has_value(&sn, "a=2"));
	}
	veld_replica_close(F);
	F = open_replica(&kS, path);
	CHECK_EQ(veld_replica_unsettled(F), 0);
	{
		struct snap sn = snapshot(F, p.ra);
		CHECK(has_value(&sn, "a=2"));
	}
	CHECK_ERR(veld_replica_apply_all(S2, p.ba2, 1, 0, &bad), 0);
	state_hash(F, h1);
	state_hash(S2, h2);
	CHECK_MEM(h1, h2, 32);

	veld_replica_close(F);
	veld_replica_close(S2);
	pushes_release(&p);
	snprintf(rm, sizeof(rm), "rm -rf %s", dir);
	CHECK_EQ(system(rm), 0);
	teardown();
}

/*
 * Two processes on one file (veldd serving, `veldd revoke` beside it): a
 * revocation written through one handle counts in the other's next batch.
 */
static void second_writer(void)
{
	char dir[] = "/tmp/veld-two-XXXXXX", path[64], rm[96];
	struct veld_replica *serving, *admin;
	struct veld_buf o;
	uint8_t rec[16] = {5};

	CHECK(mkdtemp(dir) != NULL);
	snprintf(path, sizeof(path), "%s/s.db", dir);
	serving = open_replica(&kS, path);
	admin = open_replica(&kS, path);
	CHECK_ERR(veld_replica_device(serving, kA.pk, "field", "Ahmed", NULL, 0,
				      NULL),
		  0);
	fake_ms = veld_hlc_wall_ms() - 5000;
	veld_replica_set_wall(admin, fake_wall, NULL);
	CHECK_ERR(veld_replica_device(admin, kA.pk, "field", "Ahmed", NULL, 1,
				      NULL),
		  0);
	/* A's op, made after the revocation's clock, reaches the server. */
	make_op(&kA, 1, NULL, VELD_KIND_PUT, rec, "a", "1", 0, &o);
	CHECK_EQ(apply1(serving, &o).status, VELD_APPLY_VOID);
	CHECK(!snapshot(serving, rec).found);
	/* Both handles write as the root without forking its chain. */
	CHECK_ERR(veld_replica_device(serving, kB.pk, "field", "Bea", NULL, 0,
				      NULL),
		  0);
	CHECK_ERR(
		veld_replica_device(admin, kC.pk, "field", "C", NULL, 0, NULL),
		0);
	struct veld_head head;
	CHECK_EQ(veld_store_head(veld_replica_store(serving), kS.pk, &head), 0);
	CHECK(!head.frozen);
	CHECK_EQ(head.seq, 4);
	veld_buf_release(&o);
	veld_replica_close(admin);
	veld_replica_close(serving);
	snprintf(rm, sizeof(rm), "rm -rf '%s'", dir);
	CHECK_EQ(system(rm), 0);
}

static int count_rec(void *ctx, const struct veld_record_row *row)
{
	(void)row;
	(*(int *)ctx)++;
	return 0;
}

static int count_records(struct veld_replica *r,
			 const struct veld_record_filter *f)
{
	int n = 0;
	CHECK_EQ(veld_store_records(veld_replica_store(r), f, count_rec, &n),
		 0);
	return n;
}

static int count_head(void *ctx, const uint8_t *author,
		      const struct veld_head *h)
{
	(void)author;
	*(uint64_t *)ctx += h->seq;
	return 0;
}

static int count_op(void *ctx, const struct veld_stored_op *op)
{
	(void)op;
	(*(int *)ctx)++;
	return 0;
}

static void reads_and_filters(void)
{
	uint8_t r1[16], r2[16], r3[16];
	struct veld_field f1[] = {{"street", "Kerkstraat", NULL, 0}};
	struct veld_field f2[] = {{"street", "Dorpsweg", NULL, 0},
				  {"followup", "open", NULL, 0}};
	uint64_t seqs = 0;
	int history = 0;

	setup();
	CHECK_ERR(
		veld_replica_put(A, r1, 1, "huisbezoek", "noord", f1, 1, NULL),
		0);
	CHECK_ERR(
		veld_replica_put(A, r2, 1, "containerdag", "zuid", f2, 2, NULL),
		0);
	put1(A, r3, 1, "wish", "x");
	sync_all();
	put1(A, r3, 0, "wish", "y");
	put1(B, r3, 0, "wish", "z");
	sync_all();
	CHECK_EQ(count_records(S, NULL), 3);
	CHECK_EQ(count_records(
			 S, &(struct veld_record_filter){.form = "huisbezoek"}),
		 2);
	CHECK_EQ(count_records(S, &(struct veld_record_filter){.area = "zuid"}),
		 1);
	CHECK_EQ(count_records(
			 S,
			 &(struct veld_record_filter){.street = "Kerkstraat"}),
		 1);
	CHECK_EQ(count_records(
			 S, &(struct veld_record_filter){.followup = "open"}),
		 1);
	CHECK_EQ(count_records(
			 S, &(struct veld_record_filter){.only_conflicts = 1}),
		 1);
	CHECK_EQ(count_records(S,
			       &(struct veld_record_filter){
				       .updated_since = UINT64_MAX >> 1}),
		 0);
	/* Deleted records are left out unless asked for. */
	CHECK_ERR(veld_replica_delete(C, r1, NULL), 0);
	CHECK_EQ(count_records(C, NULL), 2);
	CHECK_EQ(count_records(
			 C, &(struct veld_record_filter){.include_deleted = 1}),
		 3);
	/* Chain heads: 3 enrolments by S, 4 puts by A, 1 by B, 1 by C. */
	CHECK_EQ(veld_store_heads(veld_replica_store(C), count_head, &seqs), 0);
	CHECK_EQ(seqs, 3 + 4 + 1 + 1);
	/* History of r3: the three puts. */
	CHECK_EQ(veld_store_record_ops(veld_replica_store(S), r3, count_op,
				       &history),
		 0);
	CHECK_EQ(history, 3);
	teardown();
}

/* Flip a bit of an op's signature (found by decoding, not by offset). */
static void corrupt_sig(struct veld_buf *b)
{
	struct veld_op op;

	if (veld_op_decode(b->data, b->len, &op) != 0)
		abort();
	b->data[op.sig - b->data + 10] ^= 1;
}

/* Apply a batch; each op's fate into res. */
static void apply_n(struct veld_replica *r, struct veld_buf *ops, size_t n,
		    struct veld_apply_result *res)
{
	struct veld_bytes b[8];

	for (size_t i = 0; i < n; i++) {
		b[i].p = ops[i].data;
		b[i].len = ops[i].len;
	}
	if (veld_replica_apply(r, b, n, 0, res) != 0)
		abort();
}

static int verify_problems(struct veld_replica *r)
{
	struct veld_verify_report rep;
	int n;

	if (veld_verify_store(veld_replica_store(r), kS.pk, &rep) != 0)
		abort();
	n = (int)rep.problems_total;
	veld_verify_report_release(&rep);
	return n;
}

/* B's ops 1..3, linked by prev; values "1", v2, "3". */
static void chain3(struct veld_buf o[3], const uint8_t rec[16], const char *v2)
{
	uint8_t id[32];

	make_op(&kB, 1, NULL, VELD_KIND_PUT, rec, "a", "1", 0, &o[0]);
	op_id_of(&o[0], id);
	make_op(&kB, 2, id, VELD_KIND_PUT, rec, "b", v2, 0, &o[1]);
	op_id_of(&o[1], id);
	make_op(&kB, 3, id, VELD_KIND_PUT, rec, "c", "3", 0, &o[2]);
}

static void release3(struct veld_buf o[3])
{
	for (int i = 0; i < 3; i++)
		veld_buf_release(&o[i]);
}

/*
 * docs/protocol.md §13.1: a linked run of one author's ops in a batch is
 * authenticated by the last op's signature; an op nothing vouches for
 * needs its own.
 */
static void chain_run_one_signature(void)
{
	struct veld_buf o[3], other[3];
	struct veld_apply_result res[3];
	uint8_t rec[16] = {7};

	/* Op 2's own signature is bad, op 3's is good: on a device (C) all
	 * three stand. */
	setup();
	chain3(o, rec, "2");
	corrupt_sig(&o[1]);
	apply_n(C, o, 3, res);
	for (int i = 0; i < 3; i++)
		CHECK_EQ(res[i].status, VELD_APPLY_APPLIED);
	CHECK_EQ(snapshot(C, rec).nvalues, 3);
	/* A re-check of the store applies the same rule: no problem. */
	CHECK_EQ(verify_problems(C), 0);
	/* The server checks every op's own signature. */
	apply_n(S, o, 3, res);
	CHECK_EQ(res[0].status, VELD_APPLY_APPLIED);
	CHECK_EQ(res[1].status, VELD_APPLY_REFUSED);
	CHECK_ERR(res[1].err, VELD_ESIG);
	CHECK_EQ(res[2].status, VELD_APPLY_HELD);
	/* Alone, op 2 is refused: nothing in its batch vouches for it. */
	CHECK_EQ(apply1(A, &o[0]).status, VELD_APPLY_APPLIED);
	CHECK_ERR(apply1(A, &o[1]).err, VELD_ESIG);
	release3(o);
	teardown();

	/* Ops 2 and 3 have bad signatures: 3 vouches for nobody, both are
	 * refused, op 1 stands on its own. */
	setup();
	chain3(o, rec, "2");
	corrupt_sig(&o[1]);
	corrupt_sig(&o[2]);
	apply_n(C, o, 3, res);
	CHECK_EQ(res[0].status, VELD_APPLY_APPLIED);
	CHECK_EQ(res[1].status, VELD_APPLY_REFUSED);
	CHECK_ERR(res[1].err, VELD_ESIG);
	CHECK_EQ(res[2].status, VELD_APPLY_REFUSED);
	CHECK_ERR(res[2].err, VELD_ESIG);
	CHECK_EQ(snapshot(C, rec).nvalues, 1);
	CHECK_EQ(verify_problems(C), 0);
	release3(o);
	teardown();

	/* A made-up op 2 (bad signature) beside B's real op 3, whose prev
	 * names the real op 2: op 3 does not vouch for the fake. */
	setup();
	chain3(o, rec, "2");
	chain3(other, rec, "forged");
	corrupt_sig(&other[1]);
	veld_buf_release(&o[1]);
	o[1] = other[1];
	other[1] = (struct veld_buf){0};
	apply_n(C, o, 3, res);
	CHECK_EQ(res[0].status, VELD_APPLY_APPLIED);
	CHECK_EQ(res[1].status, VELD_APPLY_REFUSED);
	CHECK_ERR(res[1].err, VELD_ESIG);
	CHECK_EQ(res[2].status, VELD_APPLY_HELD); /* waits for the real 2 */
	CHECK_EQ(snapshot(C, rec).nvalues, 1);
	CHECK_EQ(verify_problems(C), 0);
	veld_buf_release(&other[0]);
	veld_buf_release(&other[2]);
	release3(o);
	teardown();
}

/*
 * A batch from more authors than the replica keeps heads for at once
 * (replica.c caches 64 per batch): 70 devices' ops, interleaved so that
 * every author comes back after the cache has been flushed.  Every op
 * lands, every head ends where it should, and the state is the one of
 * applying each device's ops as a batch of its own.
 */
#define MANY 70

static void many_authors_one_batch(void)
{
	struct veld_replica *dev[MANY], *T;
	struct veld_key k[MANY];
	struct oplist l[MANY];
	struct veld_bytes *all, *one;
	struct veld_apply_result *res;
	uint8_t rec[16], h1[32], h2[32];
	size_t n = 0, per = 3;

	S = open_replica(&kS, ":memory:");
	T = open_replica(&kS, ":memory:");
	for (int i = 0; i < MANY; i++) {
		char name[16];
		util_key(&k[i], (uint8_t)(0x60 + i));
		snprintf(name, sizeof(name), "d%02d", i);
		CHECK_ERR(veld_replica_device(S, k[i].pk, "field", name,
					      "noord", 0, NULL),
			  0);
	}
	ship(S, T);
	for (int i = 0; i < MANY; i++) {
		dev[i] = open_replica(&k[i], ":memory:");
		ship(S, dev[i]);
		put1(dev[i], rec, 1, "wish", "bankjes");
		put1(dev[i], rec, 0, "wish", "meer bankjes");
		CHECK_ERR(veld_replica_note(dev[i], rec, "koffie", NULL), 0);
		memset(&l[i], 0, sizeof(l[i]));
		CHECK_EQ(veld_store_author_ops(veld_replica_store(dev[i]),
					       k[i].pk, oplist_add, &l[i]),
			 0);
		CHECK_EQ(l[i].n, per);
	}
	/* round robin: op 1 of every device, then op 2, then op 3 */
	all = calloc(MANY * per, sizeof(*all));
	res = calloc(MANY * per, sizeof(*res));
	for (size_t j = 0; j < per; j++)
		for (int i = 0; i < MANY; i++)
			all[n++] = (struct veld_bytes){l[i].ops[j].data,
						       l[i].ops[j].len};
	CHECK_ERR(veld_replica_apply(S, all, n, 0, res), 0);
	for (size_t i = 0; i < n; i++)
		CHECK_EQ(res[i].status, VELD_APPLY_APPLIED);
	for (int i = 0; i < MANY; i++) {
		struct veld_head head;
		uint8_t last[32];
		CHECK_EQ(veld_store_head(veld_replica_store(S), k[i].pk, &head),
			 0);
		CHECK_EQ(head.seq, per);
		op_id_of(&l[i].ops[per - 1], last);
		CHECK_MEM(head.id, last, 32);
	}
	/* again: every op a duplicate, nothing changes */
	state_hash(S, h1);
	CHECK_ERR(veld_replica_apply(S, all, n, 0, res), 0);
	for (size_t i = 0; i < n; i++)
		CHECK_EQ(res[i].status, VELD_APPLY_DUPLICATE);
	state_hash(S, h2);
	CHECK_MEM(h1, h2, 32);
	/* device by device, a batch each */
	one = calloc(per, sizeof(*one));
	for (int i = 0; i < MANY; i++) {
		for (size_t j = 0; j < per; j++)
			one[j] = (struct veld_bytes){l[i].ops[j].data,
						     l[i].ops[j].len};
		CHECK_ERR(veld_replica_apply(T, one, per, 0, NULL), 0);
	}
	state_hash(T, h2);
	CHECK_MEM(h1, h2, 32);
	free(one);
	free(all);
	free(res);
	for (int i = 0; i < MANY; i++) {
		oplist_release(&l[i]);
		veld_replica_close(dev[i]);
	}
	veld_replica_close(T);
	veld_replica_close(S);
}

/* --- salt trees (docs/protocol.md §5.1) --- */

/* The stored ops of one author, as framed.h hands them to be sent. */
struct pick_author {
	struct veld_framed f;
	const uint8_t *author;
};

static int pick_author_one(void *ctx, const struct veld_stored_op *op)
{
	struct pick_author *p = ctx;

	if (memcmp(op->h.author, p->author, VELD_PK_LEN) != 0)
		return 0;
	return veld_framed_add(&p->f, op);
}

static void pick_load(struct pick_author *p, struct veld_replica *r,
		      const uint8_t *author)
{
	CHECK_EQ(veld_framed_init(&p->f, 4096, VELD_RUNS_MAX, 0), 0);
	p->author = author;
	CHECK_EQ(veld_store_ops_since(veld_replica_store(r), 0, 1 << 30,
				      pick_author_one, p),
		 0);
}

/* Send author's ops from r as one runs block, salts from r's kept nodes;
 * decode it into *out and check it gives back the same ops: ids, headers
 * and bodies (the runs' inner ops come without signatures of their own). */
static void send_runs(struct veld_replica *r, const uint8_t *author,
		      struct veld_runs *out)
{
	struct veld_salt_source src = {veld_store_salt_source,
				       veld_replica_store(r)};
	struct pick_author p;
	struct veld_buf z;
	size_t bad;

	pick_load(&p, r, author);
	veld_buf_init(&z, VELD_RUNS_MAX);
	CHECK_ERR(veld_runs_encode_ops(veld_framed_views(&p.f), p.f.n,
				       VELD_RUNS_LEVEL, &src, &z),
		  0);
	CHECK_ERR(veld_runs_decode(z.data, z.len, 4096, out), 0);
	CHECK_ERR(veld_runs_verify(out, &bad), 0);
	CHECK_EQ(out->n, p.f.n);
	for (size_t i = 0; i < out->n && i < p.f.n; i++) {
		const struct veld_op *a = &out->dec[i];
		const struct veld_op *b = &veld_framed_views(&p.f)[i];
		CHECK(memcmp(a->id, b->id, VELD_HASH_LEN) == 0);
		CHECK(a->header_len == b->header_len &&
		      memcmp(a->header, b->header, b->header_len) == 0);
		CHECK(a->body_len == b->body_len && !a->body == !b->body &&
		      (!b->body || memcmp(a->body, b->body, b->body_len) == 0));
	}
	veld_buf_release(&z);
	veld_framed_release(&p.f);
}

/* 1 if r keeps a node of author above seq. */
static int salt_covered(struct veld_replica *r, const uint8_t *author,
			uint64_t seq)
{
	struct veld_salt_set s = {0};
	int found;

	CHECK_EQ(veld_store_salt_nodes(veld_replica_store(r), author, seq, seq,
				       &s),
		 0);
	found = veld_salt_find(&s, seq) >= 0;
	veld_salt_set_release(&s);
	return found;
}

/* Each op of author in r: with a body, its salt is what r's kept nodes
 * derive (or no node covers it); erased, no node lies above it.  Returns
 * how many salts the nodes derive. */
struct salt_check {
	struct veld_replica *r;
	const uint8_t *author;
	size_t derived, erased_free;
};

static int salt_check_one(void *ctx, const struct veld_stored_op *op)
{
	struct salt_check *c = ctx;
	struct veld_salt_set s = {0};
	uint8_t salt[VELD_SALT_LEN];
	long at;

	if (memcmp(op->h.author, c->author, VELD_PK_LEN) != 0)
		return 0;
	CHECK_EQ(veld_store_salt_nodes(veld_replica_store(c->r), c->author,
				       op->h.seq, op->h.seq, &s),
		 0);
	at = veld_salt_find(&s, op->h.seq);
	if (!op->body) {
		CHECK_EQ(at, -1);
		c->erased_free += at < 0;
	} else if (at >= 0) {
		veld_salt_derive(&s.v[at], op->h.seq, salt);
		CHECK(memcmp(salt, op->body + 3, VELD_SALT_LEN) == 0);
		c->derived++;
	}
	veld_salt_set_release(&s);
	return 0;
}

static struct salt_check salt_check(struct veld_replica *r,
				    const uint8_t *author)
{
	struct salt_check c = {r, author, 0, 0};

	CHECK_EQ(veld_store_ops_since(veld_replica_store(r), 0, 1 << 30,
				      salt_check_one, &c),
		 0);
	return c;
}

/*
 * A device's salts come from its tree; a push hands them over as nodes,
 * which the server keeps and hands over again; an erasure punctures every
 * kept node above the erased ops, on the server and on the device.
 */
static void salt_trees(void)
{
	uint8_t r1[16], r2[16], r3[16];
	struct veld_runs rs;
	struct veld_salt_node first[8];
	struct salt_check c;
	size_t nseq, first_n;

	setup();
	put1(A, r1, 1, "wish", "bankjes");
	CHECK_ERR(veld_replica_note(A, r1, "koffie", NULL), 0);
	put1(A, r2, 1, "wish", "geheim");
	CHECK_ERR(veld_replica_note(A, r2, "ook geheim", NULL), 0);
	put1(A, r3, 1, "wish", "bomen");
	put1(A, r2, 0, "wish", "nog geheimer");
	nseq = 6;
	/* every salt of A's ops is its tree's */
	c = salt_check(A, kA.pk);
	CHECK_EQ(c.derived, nseq);

	/* the push: no salt travels, the nodes do; S keeps them */
	send_runs(A, kA.pk, &rs);
	CHECK_EQ(rs.nruns, 1);
	CHECK(rs.nnodes >= 1 && rs.nnodes <= 4); /* 1..6: [1] [2,3] [4,7]∩ */
	CHECK_ERR(veld_replica_apply_decoded(S, rs.ops, rs.dec, rs.n, 1, NULL),
		  0);
	CHECK_ERR(veld_store_salt_keep(veld_replica_store(S), kA.pk, rs.nodes,
				       rs.nnodes),
		  0);
	first_n = rs.nnodes < 8 ? rs.nnodes : 8;
	memcpy(first, rs.nodes, first_n * sizeof(*first));
	veld_runs_release(&rs);
	c = salt_check(S, kA.pk);
	CHECK_EQ(c.derived, nseq);
	/* kept twice: still one set of nodes, disjoint */
	send_runs(A, kA.pk, &rs);
	CHECK_ERR(veld_store_salt_keep(veld_replica_store(S), kA.pk, rs.nodes,
				       rs.nnodes),
		  0);
	veld_runs_release(&rs);
	{
		struct veld_salt_set s = {0};
		CHECK_EQ(veld_store_salt_nodes(veld_replica_store(S), kA.pk, 0,
					       VELD_SALT_SEQ_MAX, &s),
			 0);
		for (size_t i = 1; i < s.n; i++)
			CHECK(s.v[i].lo > veld_salt_hi(&s.v[i - 1]));
		for (size_t i = 0; i < s.n; i++)
			CHECK(veld_salt_hi(&s.v[i]) <= nseq);
		veld_salt_set_release(&s);
	}
	/* S hands A's ops to C the same way */
	send_runs(S, kA.pk, &rs);
	CHECK(rs.nnodes >= 1);
	veld_runs_release(&rs);

	/* the coordinator erases r2 (A's ops 3, 4 and 6): S punctures */
	ship(S, C);
	CHECK_ERR(veld_replica_erase(C, r2, NULL), 0);
	ship(C, S);
	CHECK(!salt_covered(S, kA.pk, 3));
	CHECK(!salt_covered(S, kA.pk, 4));
	CHECK(!salt_covered(S, kA.pk, 6));
	CHECK(salt_covered(S, kA.pk, 1) && salt_covered(S, kA.pk, 5));
	c = salt_check(S, kA.pk);
	CHECK_EQ(c.derived, 3);
	CHECK_EQ(c.erased_free, 3);
	/* the same push again (A never got its receipt): its nodes are kept
	 * only where S still holds the bodies */
	CHECK_ERR(veld_store_salt_keep(veld_replica_store(S), kA.pk, first,
				       first_n),
		  0);
	c = salt_check(S, kA.pk);
	CHECK_EQ(c.derived, 3);
	CHECK_EQ(c.erased_free, 3);
	CHECK(!salt_covered(S, kA.pk, 3) && !salt_covered(S, kA.pk, 6));
	/* what S sends now: erased ops without body, no node above them */
	send_runs(S, kA.pk, &rs);
	for (size_t i = 0; i < rs.nnodes; i++)
		for (uint64_t q = 3; q <= 6; q++)
			CHECK(q == 5 || q < rs.nodes[i].lo ||
			      q > veld_salt_hi(&rs.nodes[i]));
	veld_runs_release(&rs);
	/* A learns of the erasure: its own tree is punctured too, and its
	 * next op still takes its salt from the tree */
	ship(S, A);
	CHECK(!salt_covered(A, kA.pk, 3) && !salt_covered(A, kA.pk, 6));
	put1(A, r1, 0, "wish", "meer bankjes");
	c = salt_check(A, kA.pk);
	CHECK_EQ(c.derived, 4);
	CHECK_EQ(c.erased_free, 3);
	CHECK(salt_covered(A, kA.pk, 7) && salt_covered(A, kA.pk, 1000));
	teardown();
}

/* A source that hands out r's own nodes cut into single leaves: correct,
 * but one node per op. */
static int leaves_source(void *ctx, const uint8_t author[VELD_PK_LEN],
			 uint64_t lo, uint64_t hi, struct veld_salt_set *out)
{
	struct veld_salt_set kept = {0};
	int rc = veld_store_salt_nodes(ctx, author, lo, hi, &kept);

	for (size_t i = 0; rc == 0 && i < kept.n; i++)
		for (uint64_t q = lo; rc == 0 && q <= hi; q++)
			rc = veld_salt_cover(&kept.v[i], q, q, out);
	veld_salt_set_release(&kept);
	return rc;
}

/* A run whose salts would take more nodes than a run may carry (600 here,
 * 1,200 uints in its trees entry: over the decoder's array limit) sends
 * its salts as they are, and the block decodes. */
static void salt_nodes_capped(void)
{
	struct veld_salt_source src;
	struct pick_author p;
	struct veld_runs rs;
	struct veld_buf z;
	uint8_t rec[16];
	size_t bad;

	setup();
	put1(A, rec, 1, "wish", "0");
	for (int i = 1; i < 600; i++)
		put1(A, rec, 0, "wish", i % 2 ? "1" : "2");
	src.fn = leaves_source;
	src.ctx = veld_replica_store(A);
	pick_load(&p, A, kA.pk);
	CHECK_EQ(p.f.n, 600);
	veld_buf_init(&z, VELD_RUNS_MAX);
	CHECK_ERR(veld_runs_encode_ops(veld_framed_views(&p.f), p.f.n,
				       VELD_RUNS_LEVEL, &src, &z),
		  0);
	CHECK_ERR(veld_runs_decode(z.data, z.len, VELD_BATCH_MAX, &rs), 0);
	CHECK_EQ(rs.nnodes, 0);
	CHECK_ERR(veld_runs_verify(&rs, &bad), 0);
	CHECK_EQ(rs.n, 600);
	veld_runs_release(&rs);
	veld_buf_release(&z);
	veld_framed_release(&p.f);
	teardown();
}

int main(void)
{
	if (sodium_init() < 0)
		return 2;
	util_key(&kS, 0x53);
	util_key(&kC, 0x43);
	util_key(&kA, 0x41);
	util_key(&kB, 0x42);
	util_key(&kX, 0x58);
	basic_put_and_sync();
	salt_trees();
	salt_nodes_capped();
	concurrent_edits_three_authors();
	edit_versus_delete();
	notes_are_ordered_and_kept();
	erase_then_late_op();
	chain_gap_held_then_completed();
	enrolment_and_ops_in_one_batch();
	fork_freezes_author();
	authorisation();
	nul_in_names_refused();
	revocation();
	persistence();
	migrate_from_v2();
	migrate_from_v7();
	damaged_store_fails_at_use();
	reads_and_filters();
	apply_all_or_nothing();
	group_of_pushes();
	deferred_records();
	second_writer();
	chain_run_one_signature();
	many_authors_one_batch();
	return test_summary("test_replica");
}
