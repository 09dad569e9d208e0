/*
 * runs.c - encode and decode compressed runs blocks; see runs.h and
 * docs/protocol.md §P2.1.
 *
 * The block, before deflate, is one canonical msgpack array of six columns
 * (docs/protocol.md §P2.1):
 *
 *	[ runs     [[author bin(32), seq, prev bin(32)|nil, count, sig], ...],
 *	  clocks   [hlc, ...],
 *	  records  [bin(16) | uint | nil, ...],
 *	  kinds    [uint, ...],
 *	  salts    bin(16 x the ops with a body),
 *	  contents [bin | [bin] | [body_len, body_hash bin(32)], ...] ]
 *
 * Every column but runs and salts has one entry per op, in order; the
 * runs' counts add up to that number.  An hlc is a uint for a run's first
 * op, then the signed difference from the op before.  A record is bin(16)
 * the first time the block names it, or nil if it is the id derived from
 * the op's author and seq (veld_record_derive: a record this op creates),
 * afterwards a uint: its position among the block's records so far (bin or
 * nil).  A body is [bin(16) salt, content]: the salt travels in the salts
 * column, the content bytes in contents; an erased op has its length and
 * hash there instead.  In a put's pred arrays and a delete's seen array,
 * an op id of an earlier op of the block may travel as a 4-byte reference
 * (fixext 2, canon.h VELD_EXT_OPREF) to that op's index; such a content is
 * wrapped as [bin], so a plain bin is never parsed.  Random record ids and
 * op ids are what deflate cannot shrink.  Like values sit
 * together, so deflate finds them: random salts and records do not break
 * up the text of the contents (6 % fewer bytes than op by op, docs/bench.md).
 */
#include "runs.h"

#include <stdlib.h>
#include <string.h>

#include <zlib.h>

#include "canon.h"
#include "err.h"
#include "merge.h"

/* --- tables of records (in order of first mention) and of op ids --- */

struct rec_table {
	const uint8_t **rec; /* borrowed keys of klen bytes */
	uint32_t *slot;	     /* open addressing: index + 1, 0 = empty */
	size_t n, nslots;
	size_t klen; /* VELD_RECORD_LEN or VELD_HASH_LEN */
};

static int tab_init(struct rec_table *t, size_t max, size_t klen)
{
	t->n = 0;
	t->klen = klen;
	t->nslots = 16;
	while (t->nslots < 2 * max)
		t->nslots *= 2;
	t->rec = malloc(max * sizeof(*t->rec) + 1);
	t->slot = calloc(t->nslots, sizeof(*t->slot));
	return t->rec && t->slot ? 0 : VELD_ENOMEM;
}

static int rec_init(struct rec_table *t, size_t max)
{
	return tab_init(t, max, VELD_RECORD_LEN);
}

static void rec_release(struct rec_table *t)
{
	free(t->rec);
	free(t->slot);
}

static size_t rec_hash(const uint8_t *rec, size_t nslots)
{
	uint64_t h;

	/* record ids (random or derived) and op ids are hashes */
	memcpy(&h, rec, sizeof(h));
	return (size_t)(h ^ (h >> 29)) & (nslots - 1);
}

/* Index of key if known, else -1 with *at the free slot it would take. */
static long tab_find(const struct rec_table *t, const uint8_t *key, size_t *at)
{
	size_t s = rec_hash(key, t->nslots);

	while (t->slot[s]) {
		uint32_t i = t->slot[s] - 1;
		if (memcmp(t->rec[i], key, t->klen) == 0)
			return (long)i;
		s = (s + 1) & (t->nslots - 1);
	}
	*at = s;
	return -1;
}

/* Index of rec if known, else add it (room is guaranteed) and return -1. */
static long rec_find_add(struct rec_table *t, const uint8_t *rec)
{
	size_t s;
	long i = tab_find(t, rec, &s);

	if (i >= 0)
		return i;
	t->rec[t->n] = rec;
	t->slot[s] = (uint32_t)++t->n;
	return -1;
}

/* --- op references in contents --- */

/* Op ids become references at these positions of a content only. */
static int key_is(const msgpack_object *k, const char *name)
{
	size_t n = strlen(name);

	return k->type == MSGPACK_OBJECT_STR && k->via.str.size == n &&
	       memcmp(k->via.str.ptr, name, n) == 0;
}

/* 1 if o holds an ext anywhere (depth is bounded by the decoder). */
static int has_ext(const msgpack_object *o)
{
	if (o->type == MSGPACK_OBJECT_EXT)
		return 1;
	if (o->type == MSGPACK_OBJECT_ARRAY) {
		for (uint32_t i = 0; i < o->via.array.size; i++)
			if (has_ext(&o->via.array.ptr[i]))
				return 1;
	} else if (o->type == MSGPACK_OBJECT_MAP) {
		for (uint32_t i = 0; i < o->via.map.size; i++)
			if (has_ext(&o->via.map.ptr[i].key) ||
			    has_ext(&o->via.map.ptr[i].val))
				return 1;
	}
	return 0;
}

/* Re-packing one content: ids to references (encode) or back (decode). */
struct refs {
	int decode;
	const struct rec_table *ids; /* encode: ids of the ops before it */
	const struct veld_op *dec;   /* decode: the ops rebuilt so far */
	size_t before;		     /* decode: their number */
	size_t n;		     /* references made or resolved */
	int err;		     /* decode: VELD_EOPREF once one is bad */
};

/* Pack o unchanged; on decoding, a reference inside is misplaced. */
static void pack_plain(msgpack_packer *pk, const msgpack_object *o,
		       struct refs *x)
{
	if (x->decode && has_ext(o))
		x->err = VELD_EOPREF;
	msgpack_pack_object(pk, *o);
}

/* Pack one element of a pred or seen array. */
static void pack_id(msgpack_packer *pk, const msgpack_object *o, struct refs *x)
{
	if (!x->decode) {
		size_t at;
		long j =
			o->type == MSGPACK_OBJECT_BIN &&
					o->via.bin.size == VELD_HASH_LEN
				? tab_find(x->ids,
					   (const uint8_t *)o->via.bin.ptr, &at)
				: -1;
		uint8_t be[2] = {(uint8_t)(j >> 8), (uint8_t)j};

		if (j < 0 || j > 0xffff) {
			msgpack_pack_object(pk, *o);
			return;
		}
		msgpack_pack_ext(pk, sizeof(be), VELD_EXT_OPREF);
		msgpack_pack_ext_body(pk, be, sizeof(be));
		x->n++;
		return;
	}
	if (o->type == MSGPACK_OBJECT_EXT) {
		/* canon.c let only fixext 2 of VELD_EXT_OPREF through */
		const uint8_t *p = (const uint8_t *)o->via.ext.ptr;
		size_t j = (size_t)p[0] << 8 | p[1];

		if (o->via.ext.type != VELD_EXT_OPREF || o->via.ext.size != 2 ||
		    j >= x->before) {
			x->err = VELD_EOPREF;
			return;
		}
		msgpack_pack_bin_with_body(pk, x->dec[j].id, VELD_HASH_LEN);
		x->n++;
		return;
	}
	pack_plain(pk, o, x);
}

static void pack_ids(msgpack_packer *pk, const msgpack_object *o,
		     struct refs *x)
{
	if (o->type != MSGPACK_OBJECT_ARRAY) {
		pack_plain(pk, o, x);
		return;
	}
	msgpack_pack_array(pk, o->via.array.size);
	for (uint32_t i = 0; i < o->via.array.size; i++)
		pack_id(pk, &o->via.array.ptr[i], x);
}

/*
 * Pack the content c of an op of kind with its op ids, at the positions
 * that may hold references (a put's pred map -> arrays, a delete's seen
 * array), turned into references or back; everything else as it is.
 */
static void pack_content(msgpack_packer *pk, const msgpack_object *c,
			 uint64_t kind, struct refs *x)
{
	if (c->type != MSGPACK_OBJECT_MAP) {
		pack_plain(pk, c, x);
		return;
	}
	msgpack_pack_map(pk, c->via.map.size);
	for (uint32_t i = 0; i < c->via.map.size; i++) {
		const msgpack_object *k = &c->via.map.ptr[i].key;
		const msgpack_object *v = &c->via.map.ptr[i].val;

		pack_plain(pk, k, x);
		if (kind == VELD_KIND_PUT && key_is(k, "pred") &&
		    v->type == MSGPACK_OBJECT_MAP) {
			msgpack_pack_map(pk, v->via.map.size);
			for (uint32_t f = 0; f < v->via.map.size; f++) {
				pack_plain(pk, &v->via.map.ptr[f].key, x);
				pack_ids(pk, &v->via.map.ptr[f].val, x);
			}
		} else if (kind == VELD_KIND_DELETE && key_is(k, "seen")) {
			pack_ids(pk, v, x);
		} else {
			pack_plain(pk, v, x);
		}
	}
}

/* --- encoding --- */

/* 1 if b follows a in one author's chain, as a run needs. */
static int linked(const struct veld_op *a, const struct veld_op *b)
{
	/* (and the clock step fits the signed delta it travels as) */
	return memcmp(a->h.author, b->h.author, VELD_PK_LEN) == 0 &&
	       b->h.seq == a->h.seq + 1 && b->h.has_prev &&
	       memcmp(b->h.prev, a->id, VELD_HASH_LEN) == 0 &&
	       (b->h.hlc >= a->h.hlc ||
		a->h.hlc - b->h.hlc <= (uint64_t)INT64_MAX + 1);
}

/* A body's canonical prefix: fixarray(2), bin8 of 16 (the salt). */
static const uint8_t body_prefix[3] = {0x92, 0xc4, VELD_SALT_LEN};
#define BODY_HEAD (sizeof(body_prefix) + VELD_SALT_LEN)

/* The clock of op i: absolute for a run's first op, else the step. */
static void pack_clock(msgpack_packer *pk, const struct veld_op *op,
		       const struct veld_op *before)
{
	if (before && op->h.hlc >= before->h.hlc)
		msgpack_pack_uint64(pk, op->h.hlc - before->h.hlc);
	else if (before) /* down by at most 2^63 (linked()): two's complement */
		msgpack_pack_int64(pk, (int64_t)(op->h.hlc - before->h.hlc));
	else
		msgpack_pack_uint64(pk, op->h.hlc);
}

/* 1 if the n bytes at p contain the 5 bytes of key (a fixstr of 4). */
static int has_key(const uint8_t *p, size_t n, const char key[6])
{
	for (size_t i = 0; i + 5 <= n; i++)
		if (p[i] == (uint8_t)key[0] && memcmp(p + i, key, 5) == 0)
			return 1;
	return 0;
}

/*
 * Pack op i's content (the body after its salt) into the contents column:
 * as [bin] with references where its pred or seen arrays name ops before
 * it in the block (ids: theirs), else as the plain bin.  tmp is scratch.
 */
static void pack_contents_entry(msgpack_packer *pk, const struct veld_op *op,
				const struct rec_table *ids,
				struct veld_buf *tmp)
{
	const uint8_t *c = op->body + BODY_HEAD;
	size_t clen = op->body_len - BODY_HEAD;
	struct refs x = {0, ids, NULL, 0, 0, 0};
	msgpack_unpacked u;
	msgpack_packer tpk;

	/* Parse only what can hold an id of this block (bodies are
	 * canonical: the key is the fixstr a4 "pred" or a4 "seen"). */
	int may = ids->n > 0 && ((op->h.kind == VELD_KIND_PUT &&
				  has_key(c, clen, "\xa4pred")) ||
				 (op->h.kind == VELD_KIND_DELETE &&
				  has_key(c, clen, "\xa4seen")));

	if (!may) {
		msgpack_pack_bin_with_body(pk, c, clen);
		return;
	}
	msgpack_unpacked_init(&u);
	veld_buf_reset(tmp);
	veld_buf_packer_init(&tpk, tmp);
	if (veld_canon_decode(c, clen, &u) == 0)
		pack_content(&tpk, &u.data, op->h.kind, &x);
	msgpack_unpacked_destroy(&u);
	if (x.n == 0 || tmp->err) { /* nothing to gain, or no memory */
		msgpack_pack_bin_with_body(pk, c, clen);
		return;
	}
	msgpack_pack_array(pk, 1);
	msgpack_pack_bin_with_body(pk, tmp->data, tmp->len);
}

/*
 * The salt nodes of the run d[0..n) (one author, seqs rising by one),
 * appended to out: those src keeps that meet the run, cut to the run, then
 * punctured at every op whose salt they do not derive (an erased op, or
 * one whose body has another salt: a node that does not match costs
 * bytes, never an op).  covered[k] says if op k's salt is left to them.
 */
static int run_nodes(const struct veld_salt_source *src,
		     const struct veld_op *d, size_t n,
		     struct veld_salt_set *out, uint8_t *covered)
{
	struct veld_salt_set kept = {0}, mine = {0};
	struct veld_salt_walk w;
	uint64_t lo = d[0].h.seq, hi = d[n - 1].h.seq;
	int rc = 0;

	memset(covered, 0, n);
	if (!src || lo > VELD_SALT_SEQ_MAX)
		return 0;
	if (hi > VELD_SALT_SEQ_MAX)
		hi = VELD_SALT_SEQ_MAX;
	/* nodes only save bytes: without them (src failed) salts travel */
	if (src->fn(src->ctx, d[0].h.author, lo, hi, &kept) < 0)
		kept.n = 0;
	for (size_t i = 0; rc == 0 && i < kept.n; i++) {
		size_t from = mine.n;
		rc = veld_salt_cover(&kept.v[i], lo, hi, &mine);
		/* sorted and disjoint, whatever src gave */
		if (rc == 0 && from > 0 && from < mine.n &&
		    mine.v[from].lo <= veld_salt_hi(&mine.v[from - 1]))
			mine.n = from;
	}
	veld_salt_walk_reset(&w);
	for (size_t k = 0; rc == 0 && k < n; k++) {
		long at = veld_salt_find(&mine, d[k].h.seq);
		uint8_t salt[VELD_SALT_LEN];

		if (at < 0)
			continue;
		if (d[k].body) {
			veld_salt_walk(&w, &mine.v[at], d[k].h.seq, salt);
			if (memcmp(salt, d[k].body + 3, VELD_SALT_LEN) == 0) {
				covered[k] = 1;
				continue;
			}
		}
		/* nodes before k stay where they are: covered[] holds */
		rc = veld_salt_puncture(&mine, d[k].h.seq);
		rc = rc < 0 ? rc : 0;
		veld_salt_walk_reset(&w);
	}
	/* A run's trees entry stays far below the decoder's array limit
	 * (2 uints a node); so many pieces are worth little anyway. */
	if (mine.n > VELD_RUN_NODES_MAX) {
		mine.n = 0;
		memset(covered, 0, n);
	}
	for (size_t i = 0; rc == 0 && i < mine.n; i++)
		rc = veld_salt_set_add(out, &mine.v[i]);
	veld_salt_set_release(&kept);
	veld_salt_set_release(&mine);
	return rc;
}

/* Pack the block of the decoded ops d[0..n) into raw, column by column. */
static int pack_block(const struct veld_op *d, size_t n,
		      const struct veld_salt_source *src, struct veld_buf *raw)
{
	struct rec_table t, ids;
	struct veld_buf tmp;
	struct veld_salt_set nodes = {0};
	msgpack_packer pk;
	size_t nruns = 0, nsalts = 0, *run_nodes_n = NULL;
	uint8_t *last = malloc(n + 1), *covered = calloc(n + 1, 1);
	int rc = 0;

	if (!last || !covered) {
		free(last);
		free(covered);
		return VELD_ENOMEM;
	}
	for (size_t i = 0; i < n; i++) {
		last[i] = i + 1 == n || !linked(&d[i], &d[i + 1]);
		if (last[i] && !d[i].sig) {
			free(last);
			free(covered);
			return VELD_ERUNSIG;
		}
		nruns += last[i];
	}
	/* Each run's salt nodes, and which salts they leave out. */
	run_nodes_n = malloc((nruns + 1) * sizeof(*run_nodes_n));
	if (!run_nodes_n)
		rc = VELD_ENOMEM;
	for (size_t i = 0, first = 0, r = 0; rc == 0 && i < n; i++) {
		size_t before = nodes.n;
		if (!last[i])
			continue;
		rc = run_nodes(src, &d[first], i + 1 - first, &nodes,
			       &covered[first]);
		run_nodes_n[r++] = nodes.n - before;
		first = i + 1;
	}
	for (size_t i = 0; i < n; i++)
		nsalts += d[i].body != NULL && !covered[i];
	veld_buf_init(&tmp, VELD_BODY_MAX);
	if (rc == 0)
		rc = rec_init(&t, n);
	else
		memset(&t, 0, sizeof(t));
	if (tab_init(&ids, n, VELD_HASH_LEN) < 0)
		rc = VELD_ENOMEM;
	if (rc < 0)
		goto out;
	veld_buf_packer_init(&pk, raw);
	msgpack_pack_array(&pk, 8);
	/* runs */
	msgpack_pack_array(&pk, nruns);
	for (size_t i = 0, first = 0; i < n; i++) {
		if (!last[i])
			continue;
		msgpack_pack_array(&pk, 5);
		msgpack_pack_bin_with_body(&pk, d[first].h.author, VELD_PK_LEN);
		msgpack_pack_uint64(&pk, d[first].h.seq);
		if (d[first].h.has_prev)
			msgpack_pack_bin_with_body(&pk, d[first].h.prev,
						   VELD_HASH_LEN);
		else
			msgpack_pack_nil(&pk);
		msgpack_pack_uint64(&pk, i + 1 - first);
		msgpack_pack_bin_with_body(&pk, d[i].sig, VELD_SIG_LEN);
		first = i + 1;
	}
	/* clocks */
	msgpack_pack_array(&pk, n);
	for (size_t i = 0; i < n; i++)
		pack_clock(&pk, &d[i], i && !last[i - 1] ? &d[i - 1] : NULL);
	/* records */
	msgpack_pack_array(&pk, n);
	for (size_t i = 0; i < n; i++) {
		long idx = rec_find_add(&t, d[i].h.record);
		uint8_t derived[VELD_RECORD_LEN];

		if (idx >= 0) {
			msgpack_pack_uint32(&pk, (uint32_t)idx);
			continue;
		}
		veld_record_derive(d[i].h.author, d[i].h.seq, derived);
		if (memcmp(derived, d[i].h.record, VELD_RECORD_LEN) == 0)
			msgpack_pack_nil(&pk);
		else
			msgpack_pack_bin_with_body(&pk, d[i].h.record,
						   VELD_RECORD_LEN);
	}
	/* kinds */
	msgpack_pack_array(&pk, n);
	for (size_t i = 0; i < n; i++)
		msgpack_pack_uint64(&pk, d[i].h.kind);
	/* salts of the ops with a body that no node derives, back to back */
	msgpack_pack_bin(&pk, nsalts * VELD_SALT_LEN);
	for (size_t i = 0; i < n; i++)
		if (d[i].body && !covered[i])
			msgpack_pack_bin_body(&pk, d[i].body + 3,
					      VELD_SALT_LEN);
	/* contents: the body after its salt, or an erased op's length and
	 * hash (veld_op_decode checked that a body starts [bin(16), ...) */
	msgpack_pack_array(&pk, n);
	for (size_t i = 0; i < n; i++) {
		size_t at;
		if (i && tab_find(&ids, d[i - 1].id, &at) < 0) {
			ids.rec[ids.n] = d[i - 1].id;
			ids.slot[at] = (uint32_t)++ids.n;
		} else if (i) { /* the same op twice: keep the indexes */
			ids.rec[ids.n++] = d[i - 1].id;
		}
		if (d[i].body) {
			pack_contents_entry(&pk, &d[i], &ids, &tmp);
		} else {
			msgpack_pack_array(&pk, 2);
			msgpack_pack_uint64(&pk, d[i].h.body_len);
			msgpack_pack_bin_with_body(&pk, d[i].h.body_hash,
						   VELD_HASH_LEN);
		}
	}
	/* trees: per run its nodes as depth, index pairs; then their seeds */
	msgpack_pack_array(&pk, nruns);
	for (size_t r = 0, k = 0; r < nruns; r++) {
		msgpack_pack_array(&pk, 2 * run_nodes_n[r]);
		for (size_t j = 0; j < run_nodes_n[r]; j++, k++) {
			msgpack_pack_uint8(&pk, nodes.v[k].depth);
			msgpack_pack_uint64(&pk, veld_salt_index(&nodes.v[k]));
		}
	}
	msgpack_pack_bin(&pk, nodes.n * VELD_SALT_LEN);
	for (size_t k = 0; k < nodes.n; k++)
		msgpack_pack_bin_body(&pk, nodes.v[k].seed, VELD_SALT_LEN);
	rc = raw->err;
out:
	rec_release(&t);
	rec_release(&ids);
	veld_buf_release(&tmp);
	veld_salt_set_release(&nodes);
	free(run_nodes_n);
	free(last);
	free(covered);
	return rc;
}

static int deflate_to(const struct veld_buf *raw, int level,
		      struct veld_buf *out)
{
	z_stream z;
	size_t cap;
	int rc;

	memset(&z, 0, sizeof(z));
	if (deflateInit2(&z, level, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY) !=
	    Z_OK)
		return VELD_ENOMEM;
	/* good_length only matters to the lazy matcher of levels 4..9. */
	if (level == 1 &&
	    deflateTune(&z, 8, VELD_RUNS_TUNE_INSERT, VELD_RUNS_TUNE_NICE,
			VELD_RUNS_TUNE_CHAIN) != Z_OK) {
		deflateEnd(&z);
		return VELD_ENOMEM;
	}
	/* Straight into out: deflateBound is what the worst input takes. */
	cap = deflateBound(&z, (uLong)raw->len);
	if (cap > out->max - out->len)
		cap = out->max - out->len;
	rc = veld_buf_reserve(out, cap);
	if (rc == 0) {
		z.next_in = raw->data;
		z.avail_in = (uInt)raw->len;
		z.next_out = out->data + out->len;
		z.avail_out = (uInt)cap;
		if (deflate(&z, Z_FINISH) != Z_STREAM_END)
			rc = z.avail_out == 0 ? VELD_ETOOBIG : VELD_ENOMEM;
	}
	if (rc == 0)
		out->len += cap - z.avail_out;
	deflateEnd(&z);
	return rc;
}

int veld_runs_encode_ops(const struct veld_op *ops, size_t n, int level,
			 const struct veld_salt_source *src,
			 struct veld_buf *out)
{
	struct veld_buf raw;
	size_t want = 64;
	int rc = 0;

	if (level < 0 || level > 9)
		return VELD_EINVAL;
	/* The block is smaller than the envelopes it carries. */
	for (size_t i = 0; i < n; i++)
		want += ops[i].header_len + VELD_SIG_LEN + ops[i].body_len + 16;
	veld_buf_init(&raw, VELD_RUNS_MAX);
	rc = veld_buf_reserve(&raw, want);
	if (rc == 0)
		rc = pack_block(ops, n, src, &raw);
	if (rc == 0)
		rc = deflate_to(&raw, level, out);
	veld_buf_release(&raw);
	return rc;
}

int veld_runs_encode(const struct veld_bytes *ops, size_t n, int level,
		     struct veld_buf *out)
{
	struct veld_op *d = malloc(n * sizeof(*d) + 1);
	int rc = 0;

	if (!d)
		return VELD_ENOMEM;
	for (size_t i = 0; i < n && rc == 0; i++)
		rc = veld_op_decode(ops[i].p, ops[i].len, &d[i]);
	if (rc == 0)
		rc = veld_runs_encode_ops(d, n, level, NULL, out);
	free(d);
	return rc;
}

/* --- decoding --- */

/* Inflate z into a new buffer of at most VELD_RUNS_MAX bytes. */
static int inflate_block(const uint8_t *zb, size_t zlen, uint8_t **out,
			 size_t *len)
{
	z_stream z;
	uint8_t *buf = NULL;
	size_t cap = 0, have = 0;
	int rc = 0, zr = Z_OK;

	memset(&z, 0, sizeof(z));
	if (inflateInit2(&z, -15) != Z_OK)
		return VELD_ENOMEM;
	z.next_in = (Bytef *)zb;
	z.avail_in = (uInt)zlen;
	while (zr != Z_STREAM_END) {
		if (have == cap) {
			/* One byte past the limit tells a bomb from a block
			 * of exactly VELD_RUNS_MAX bytes. */
			size_t ncap = cap ? cap * 2 : 64 * 1024;
			uint8_t *p;
			if (cap > VELD_RUNS_MAX) {
				rc = VELD_EZIPSIZE;
				break;
			}
			if (ncap > VELD_RUNS_MAX + 1)
				ncap = VELD_RUNS_MAX + 1;
			p = realloc(buf, ncap);
			if (!p) {
				rc = VELD_ENOMEM;
				break;
			}
			buf = p;
			cap = ncap;
		}
		z.next_out = buf + have;
		z.avail_out = (uInt)(cap - have);
		zr = inflate(&z, Z_NO_FLUSH);
		have = cap - z.avail_out;
		if (zr == Z_MEM_ERROR) {
			rc = VELD_ENOMEM;
			break;
		}
		if (zr != Z_OK && zr != Z_STREAM_END) {
			rc = VELD_EZIP; /* corrupt, or ends too soon */
			break;
		}
		if (have > VELD_RUNS_MAX) {
			rc = VELD_EZIPSIZE;
			break;
		}
		if (zr == Z_OK && z.avail_in == 0 && have < cap) {
			rc = VELD_EZIP; /* input used up, stream not ended */
			break;
		}
	}
	if (rc == 0 && z.avail_in != 0)
		rc = VELD_EZIP; /* bytes after the end of the stream */
	inflateEnd(&z);
	if (rc < 0) {
		free(buf);
		return rc;
	}
	*out = buf;
	*len = have;
	return 0;
}

static int is_bin(const msgpack_object *o, uint32_t n)
{
	return o->type == MSGPACK_OBJECT_BIN && o->via.bin.size == n;
}

static int is_uint(const msgpack_object *o)
{
	return o->type == MSGPACK_OBJECT_POSITIVE_INTEGER;
}

/* A content inside a body: one level below the body's array. */
static const struct veld_canon_limits content_limits = {
	VELD_DEPTH_MAX - 1, VELD_ITEMS_MAX, VELD_STR_MAX};

/* State while rebuilding one block's ops. */
struct rebuild {
	struct veld_runs *r;
	struct rec_table t;
	struct veld_buf hdr;
	uint8_t body[VELD_BODY_MAX]; /* a body put back together */
	size_t (*off)[2];	     /* per op: envelope start, end */
	struct veld_op_at *at;	     /* per op: its parts in the envelope */
	size_t nops;		     /* the block's ops (sum of run counts) */
	/* the columns, n entries each (salts: 16 bytes per body) */
	const msgpack_object *clocks, *records, *kinds, *contents;
	const uint8_t *salts;
	size_t nsalts, salt_at;
	/* per op: 1 + the index of the salt node that derives its salt
	   (r->nodes), or 0: its salt is in the salts column */
	uint32_t *node_of;
	struct veld_salt_walk walk;
};

/* 1 if a contents entry carries a body: bin, or [bin] with references. */
static int is_content(const msgpack_object *c)
{
	return c->type == MSGPACK_OBJECT_BIN ||
	       (c->type == MSGPACK_OBJECT_ARRAY && c->via.array.size == 1 &&
		c->via.array.ptr[0].type == MSGPACK_OBJECT_BIN);
}

/*
 * The content of op i (of kind) from the [bin] form: the bin decoded
 * (canonical but for its references), every reference replaced by the id
 * of the op it names, packed again at b->body + BODY_HEAD (*clen bytes).
 * Refuses a reference that names no op before i, that sits anywhere but a
 * put's pred arrays or a delete's seen array, an ext of another type or
 * size, and a [bin] with no reference at all: VELD_EOPREF.
 */
static int resolve_refs(struct rebuild *b, size_t i, uint64_t kind,
			const msgpack_object *bin, size_t *clen)
{
	struct refs x = {1, NULL, b->r->dec, i, 0, 0};
	struct veld_buf out;
	msgpack_unpacked u;
	msgpack_packer pk;
	int rc;

	if (kind != VELD_KIND_PUT && kind != VELD_KIND_DELETE)
		return VELD_EOPREF;
	msgpack_unpacked_init(&u);
	veld_buf_init(&out, sizeof(b->body) - BODY_HEAD);
	rc = veld_canon_decode_refs((const uint8_t *)bin->via.bin.ptr,
				    bin->via.bin.size, &content_limits, &u);
	if (rc == 0) {
		veld_buf_packer_init(&pk, &out);
		pack_content(&pk, &u.data, kind, &x);
		if (x.err)
			rc = x.err;
		else if (out.err)
			rc = out.err == VELD_ETOOBIG ? VELD_EBODYSIZE : out.err;
		else if (x.n == 0)
			rc = VELD_EOPREF;
	}
	if (rc == 0) {
		memcpy(b->body + BODY_HEAD, out.data, out.len);
		*clen = out.len;
	}
	veld_buf_release(&out);
	msgpack_unpacked_destroy(&u);
	return rc;
}

/* Apply an hlc field (absolute for a run's first op, else a delta). */
static int hlc_field(const msgpack_object *o, int first, uint64_t *hlc)
{
	if (first) {
		if (!is_uint(o))
			return VELD_EMSGSHAPE;
		*hlc = o->via.u64;
		return 0;
	}
	if (is_uint(o)) {
		if (o->via.u64 > UINT64_MAX - *hlc)
			return VELD_EHLC;
		*hlc += o->via.u64;
		return 0;
	}
	if (o->type != MSGPACK_OBJECT_NEGATIVE_INTEGER)
		return VELD_EMSGSHAPE;
	/* -INT64_MIN does not fit an int64: negate in unsigned. */
	if ((uint64_t)0 - (uint64_t)o->via.i64 > *hlc)
		return VELD_EHLC;
	*hlc -= (uint64_t)0 - (uint64_t)o->via.i64;
	return 0;
}

/* Rebuild op i of the block into b->r->env; h holds its run so far. */
static int rebuild_op(struct rebuild *b, size_t i, struct veld_op_header *h,
		      int first, const uint8_t *sig)
{
	const msgpack_object *rec = &b->records[i], *c = &b->contents[i];
	const uint8_t *body = NULL;
	size_t start = b->r->env.len;
	int rc, content_ok = 0;

	if ((rc = hlc_field(&b->clocks[i], first, &h->hlc)) < 0)
		return rc;
	if (is_bin(rec, VELD_RECORD_LEN)) {
		b->t.rec[b->t.n++] = (const uint8_t *)rec->via.bin.ptr;
		memcpy(h->record, rec->via.bin.ptr, VELD_RECORD_LEN);
	} else if (is_uint(rec)) {
		if (rec->via.u64 >= b->t.n)
			return VELD_ERECORDREF;
		memcpy(h->record, b->t.rec[rec->via.u64], VELD_RECORD_LEN);
	} else if (rec->type == MSGPACK_OBJECT_NIL) {
		/* a record this op creates: its id is derived, and the
		 * table keeps it where the op will be (dec does not move) */
		veld_record_derive(h->author, h->seq, h->record);
		memcpy(b->r->dec[i].h.record, h->record, VELD_RECORD_LEN);
		b->t.rec[b->t.n++] = b->r->dec[i].h.record;
	} else {
		return VELD_EMSGSHAPE;
	}
	if (!is_uint(&b->kinds[i]))
		return VELD_EMSGSHAPE;
	h->kind = b->kinds[i].via.u64;
	if (is_content(c)) {
		/* [salt, content]: the salt from its column */
		size_t clen = 0;
		if (!b->node_of[i] && b->salt_at == b->nsalts)
			return VELD_EMSGSHAPE;
		if (c->type == MSGPACK_OBJECT_BIN) {
			clen = c->via.bin.size;
			if (clen > sizeof(b->body) - BODY_HEAD)
				return VELD_EBODYSIZE;
			memcpy(b->body + BODY_HEAD, c->via.bin.ptr, clen);
		} else if ((rc = resolve_refs(b, i, h->kind, c->via.array.ptr,
					      &clen)) < 0) {
			return rc;
		}
		memcpy(b->body, body_prefix, sizeof(body_prefix));
		if (b->node_of[i])
			veld_salt_walk(&b->walk,
				       &b->r->nodes[b->node_of[i] - 1], h->seq,
				       b->body + sizeof(body_prefix));
		else
			memcpy(b->body + sizeof(body_prefix),
			       b->salts + VELD_SALT_LEN * b->salt_at++,
			       VELD_SALT_LEN);
		body = b->body;
		h->body_len = BODY_HEAD + clen;
		/* One decode for the wire's check and the content's */
		if ((rc = veld_body_content_check(h->kind, body, h->body_len,
						  &content_ok)) < 0)
			return rc;
		veld_body_hash(body, h->body_len, h->body_hash);
	} else {
		const msgpack_object *e = c->via.array.ptr;
		if (c->type != MSGPACK_OBJECT_ARRAY || c->via.array.size != 2 ||
		    !is_uint(&e[0]) || !is_bin(&e[1], VELD_HASH_LEN))
			return VELD_EMSGSHAPE;
		h->body_len = e[0].via.u64;
		memcpy(h->body_hash, e[1].via.bin.ptr, VELD_HASH_LEN);
	}
	veld_buf_reset(&b->hdr);
	if ((rc = veld_op_header_encode(h, &b->hdr)) < 0)
		return rc;
	rc = veld_op_frame_at(b->hdr.data, b->hdr.len, sig, body, h->body_len,
			      &b->r->env, &b->at[i]);
	if (rc < 0)
		return rc;
	b->off[i][0] = start;
	b->off[i][1] = b->r->env.len;
	b->r->n++;
	/* The op as veld_op_decode would give it (pointers set at the end,
	 * once env has stopped moving). */
	b->r->dec[i].h = *h;
	b->r->dec[i].header_len = b->hdr.len;
	b->r->dec[i].sig = sig;
	b->r->dec[i].body = body;
	b->r->dec[i].body_len = body ? h->body_len : 0;
	b->r->dec[i].content_ok = content_ok;
	veld_op_id(b->hdr.data, b->hdr.len, b->r->dec[i].id);
	/* The next op of the run names this one. */
	memcpy(h->prev, b->r->dec[i].id, VELD_HASH_LEN);
	h->has_prev = 1;
	h->seq++;
	return 0;
}

/* Check a run's fields and note where it sits; 0 or EMSGSHAPE. */
static int run_fields(struct rebuild *b, const msgpack_object *run,
		      size_t first)
{
	const msgpack_object *f = run->via.array.ptr;
	struct veld_run *ri = &b->r->runs[b->r->nruns];

	if (run->type != MSGPACK_OBJECT_ARRAY || run->via.array.size != 5 ||
	    !is_bin(&f[0], VELD_PK_LEN) || !is_uint(&f[1]) ||
	    (f[2].type != MSGPACK_OBJECT_NIL &&
	     !is_bin(&f[2], VELD_HASH_LEN)) ||
	    !is_uint(&f[3]) || f[3].via.u64 < 1 ||
	    f[3].via.u64 > b->nops - first || !is_bin(&f[4], VELD_SIG_LEN))
		return VELD_EMSGSHAPE;
	ri->first = first;
	ri->n = f[3].via.u64;
	ri->seq = f[1].via.u64;
	memcpy(ri->author, f[0].via.bin.ptr, VELD_PK_LEN);
	b->r->nruns++;
	return 0;
}

static int rebuild_run(struct rebuild *b, const msgpack_object *run,
		       const struct veld_run *ri)
{
	const msgpack_object *f = run->via.array.ptr;
	struct veld_op_header h;
	int rc;

	memset(&h, 0, sizeof(h));
	h.version = VELD_OP_VERSION;
	memcpy(h.author, ri->author, VELD_PK_LEN);
	h.seq = f[1].via.u64;
	h.has_prev = f[2].type != MSGPACK_OBJECT_NIL;
	if (h.has_prev)
		memcpy(h.prev, f[2].via.bin.ptr, VELD_HASH_LEN);
	for (size_t k = 0; k < ri->n; k++) {
		int last = k + 1 == ri->n;
		rc = rebuild_op(b, ri->first + k, &h, k == 0,
				last ? (const uint8_t *)f[4].via.bin.ptr
				     : NULL);
		if (rc < 0)
			return rc;
	}
	return 0;
}

/* 1 if o is an array of exactly n elements. */
static int is_column(const msgpack_object *o, size_t n)
{
	return o->type == MSGPACK_OBJECT_ARRAY && o->via.array.size == n;
}

/*
 * Run ri's salt nodes from its trees entry t ([depth, index, ...]) and the
 * seeds from *seed on: each under the run's seqs, rising, disjoint; every
 * op under one has a body.  Notes each op's node in b->node_of.
 */
static int run_tree(struct rebuild *b, struct veld_run *ri,
		    const msgpack_object *t, const uint8_t **seed)
{
	const msgpack_object *e = t->via.array.ptr;
	/* (wraps only for a seq near 2^64, where no node can lie) */
	uint64_t end = ri->seq + ri->n - 1;

	if (t->type != MSGPACK_OBJECT_ARRAY || t->via.array.size % 2)
		return VELD_EMSGSHAPE;
	ri->node_first = b->r->nnodes;
	ri->node_n = t->via.array.size / 2;
	if (ri->node_n > ri->n)
		return VELD_ESALTNODE; /* more than one per op: not disjoint */
	for (size_t j = 0; j < ri->node_n; j++) {
		struct veld_salt_node *nd = &b->r->nodes[b->r->nnodes];
		uint64_t lo, hi;
		if (!is_uint(&e[2 * j]) || !is_uint(&e[2 * j + 1]))
			return VELD_EMSGSHAPE;
		if (!veld_salt_node_at(e[2 * j].via.u64, e[2 * j + 1].via.u64,
				       &lo))
			return VELD_ESALTNODE;
		nd->lo = lo;
		nd->depth = (uint8_t)e[2 * j].via.u64;
		hi = veld_salt_hi(nd);
		if (lo < ri->seq || hi > end ||
		    (j > 0 && lo <= veld_salt_hi(nd - 1)))
			return VELD_ESALTNODE;
		memcpy(nd->seed, *seed, VELD_SALT_LEN);
		*seed += VELD_SALT_LEN;
		for (uint64_t q = lo; q <= hi; q++) {
			size_t i = ri->first + (size_t)(q - ri->seq);
			if (!is_content(&b->contents[i]))
				return VELD_ESALTNODE;
			b->node_of[i] = (uint32_t)b->r->nnodes + 1;
		}
		b->r->nnodes++;
	}
	return 0;
}

/* Find the columns of the block a and check their lengths. */
static int columns(struct rebuild *b, const msgpack_object *a)
{
	const msgpack_object *runs = &a[0], *trees = &a[6];
	const uint8_t *seed;
	size_t n = 0, nbodies = 0, nseeds = 0;
	int rc;

	if (runs->type != MSGPACK_OBJECT_ARRAY)
		return VELD_EMSGSHAPE;
	b->r->runs = malloc(runs->via.array.size * sizeof(*b->r->runs) + 1);
	if (!b->r->runs)
		return VELD_ENOMEM;
	for (uint32_t i = 0; i < runs->via.array.size; i++) {
		if ((rc = run_fields(b, &runs->via.array.ptr[i], n)) < 0)
			return rc;
		n += b->r->runs[i].n;
	}
	if (!is_column(&a[1], n) || !is_column(&a[2], n) ||
	    !is_column(&a[3], n) || a[4].type != MSGPACK_OBJECT_BIN ||
	    !is_column(&a[5], n) || !is_column(trees, b->r->nruns) ||
	    a[7].type != MSGPACK_OBJECT_BIN)
		return VELD_EMSGSHAPE;
	b->clocks = a[1].via.array.ptr;
	b->records = a[2].via.array.ptr;
	b->kinds = a[3].via.array.ptr;
	b->contents = a[5].via.array.ptr;
	b->nops = n;
	/* the salt nodes, run by run, and the ops they derive salts for */
	for (size_t r = 0; r < b->r->nruns; r++) {
		const msgpack_object *t = &trees->via.array.ptr[r];
		if (t->type != MSGPACK_OBJECT_ARRAY)
			return VELD_EMSGSHAPE;
		nseeds += t->via.array.size / 2;
	}
	if (a[7].via.bin.size != nseeds * VELD_SALT_LEN)
		return VELD_EMSGSHAPE;
	b->node_of = calloc(n + 1, sizeof(*b->node_of));
	b->r->nodes = malloc(nseeds * sizeof(*b->r->nodes) + 1);
	if (!b->node_of || !b->r->nodes)
		return VELD_ENOMEM;
	seed = (const uint8_t *)a[7].via.bin.ptr;
	for (size_t r = 0; r < b->r->nruns; r++)
		if ((rc = run_tree(b, &b->r->runs[r], &trees->via.array.ptr[r],
				   &seed)) < 0)
			return rc;
	for (size_t i = 0; i < n; i++)
		nbodies += is_content(&b->contents[i]) && !b->node_of[i];
	if (a[4].via.bin.size != nbodies * VELD_SALT_LEN)
		return VELD_EMSGSHAPE;
	b->salts = (const uint8_t *)a[4].via.bin.ptr;
	b->nsalts = nbodies;
	return 0;
}

int veld_runs_decode(const uint8_t *z, size_t zlen, size_t max_ops,
		     struct veld_runs *r)
{
	struct veld_canon_limits lim = {3, max_ops < 8 ? 8 : (uint32_t)max_ops,
					VELD_SALT_LEN * max_ops > VELD_BODY_MAX
						? VELD_SALT_LEN * max_ops
						: VELD_BODY_MAX};
	struct rebuild *b = calloc(1, sizeof(*b));
	msgpack_unpacked u;
	const msgpack_object *a;
	uint8_t *raw = NULL;
	size_t len = 0;
	int rc;

	memset(r, 0, sizeof(*r));
	veld_buf_init(&r->env, 0);
	msgpack_unpacked_init(&u);
	if (!b) {
		rc = VELD_ENOMEM;
		goto out;
	}
	b->r = r;
	b->nops = max_ops;
	veld_buf_init(&b->hdr, VELD_HEADER_MAX);
	if ((rc = inflate_block(z, zlen, &raw, &len)) < 0)
		goto out;
	if ((rc = veld_canon_decode_limits(raw, len, &lim, &u)) < 0)
		goto out;
	if (!is_column(&u.data, 8)) {
		rc = VELD_EMSGSHAPE;
		goto out;
	}
	a = u.data.via.array.ptr;
	if ((rc = columns(b, a)) < 0)
		goto out;
	/* Each op's envelope is at most its block bytes plus a header. */
	veld_buf_init(&r->env, len + b->nops * (VELD_HEADER_MAX + 32) + 16);
	b->off = malloc(b->nops * sizeof(*b->off) + 1);
	b->at = malloc(b->nops * sizeof(*b->at) + 1);
	r->ops = malloc(b->nops * sizeof(*r->ops) + 1);
	r->dec = malloc(b->nops * sizeof(*r->dec) + 1);
	if (!b->off || !b->at || !r->ops || !r->dec ||
	    (rc = rec_init(&b->t, b->nops)) < 0) {
		rc = VELD_ENOMEM;
		goto out;
	}
	for (uint32_t i = 0; i < a[0].via.array.size; i++)
		if ((rc = rebuild_run(b, &a[0].via.array.ptr[i], &r->runs[i])) <
		    0)
			goto out;
	for (size_t i = 0; i < r->n; i++) {
		struct veld_op *d = &r->dec[i];
		r->ops[i].p = r->env.data + b->off[i][0];
		r->ops[i].len = b->off[i][1] - b->off[i][0];
		d->header = r->env.data + b->at[i].header;
		d->sig = d->sig ? r->env.data + b->at[i].sig : NULL;
		d->body = d->body ? r->env.data + b->at[i].body : NULL;
	}
out:
	r->bad = r->n;
	if (rc < 0) {
		free(r->ops);
		free(r->dec);
		r->ops = NULL;
		r->dec = NULL;
	}
	if (b) {
		rec_release(&b->t);
		free(b->node_of);
		free(b->off);
		free(b->at);
		veld_buf_release(&b->hdr);
		free(b);
	}
	msgpack_unpacked_destroy(&u);
	free(raw);
	return rc;
}

int veld_runs_verify(const struct veld_runs *r, size_t *bad)
{
	for (size_t i = 0; i < r->nruns; i++) {
		size_t k = r->runs[i].first + r->runs[i].n - 1;
		struct veld_op op;

		if (veld_op_decode(r->ops[k].p, r->ops[k].len, &op) < 0 ||
		    veld_op_verify(&op) < 0) {
			*bad = k;
			return VELD_ESIG;
		}
	}
	return 0;
}

void veld_runs_release(struct veld_runs *r)
{
	veld_buf_release(&r->env);
	free(r->ops);
	free(r->dec);
	free(r->runs);
	free(r->nodes);
	memset(r, 0, sizeof(*r));
}
