/*
 * test_vectors.c - golden vectors for the op format.
 *
 * Re-derives the worked example of docs/protocol.md from its stated inputs
 * (key seed, salts, record id, clock, body content) and compares every
 * intermediate value with tests/vectors/op-v1.txt, then checks that each
 * hex dump in docs/protocol.md marked `<!-- vector: NAME -->` shows the
 * same bytes.  Any change to the encoding, hashing or signing breaks this
 * test, and the documentation cannot drift from the code.
 *
 * Usage: test_vectors VECTOR_FILE DOC_FILE   (check)
 *        test_vectors --write                (print the vectors)
 */
#include <ctype.h>
#include <stdlib.h>

#include <sodium.h>

#include "buf.h"
#include "op.h"
#include "test.h"

#define MAX_VECTORS 32
/* 2026-11-18 11:06:40 UTC, the clock of the worked example. */
#define VELD_HLC_MS_EXAMPLE UINT64_C(1795000000000)

struct vector {
	char name[32];
	uint8_t *bytes;
	size_t len;
};

struct vectors {
	struct vector v[MAX_VECTORS];
	int n;
};

static void add(struct vectors *vs, const char *name, const void *p, size_t len)
{
	struct vector *v = &vs->v[vs->n++];

	snprintf(v->name, sizeof(v->name), "%s", name);
	v->bytes = malloc(len ? len : 1);
	memcpy(v->bytes, p, len);
	v->len = len;
}

static void add_u64(struct vectors *vs, const char *name, uint64_t x)
{
	uint8_t be[8];

	for (int i = 0; i < 8; i++)
		be[i] = (uint8_t)(x >> (56 - 8 * i));
	add(vs, name, be, 8);
}

static const struct vector *find(const struct vectors *vs, const char *name)
{
	for (int i = 0; i < vs->n; i++)
		if (strcmp(vs->v[i].name, name) == 0)
			return &vs->v[i];
	return NULL;
}

/* One op of the example; prefix is "op1" or "op2". */
static void derive_op(struct vectors *vs, const char *prefix,
		      const struct veld_key *key, struct veld_op_header *h,
		      const char *salt, void (*content)(msgpack_packer *),
		      uint8_t id[VELD_HASH_LEN])
{
	struct veld_buf body, op, hdr;
	msgpack_packer pk;
	struct veld_op d;
	char name[32];

	veld_buf_init(&body, VELD_BODY_MAX);
	veld_buf_packer_init(&pk, &body);
	veld_body_begin(&pk, (const uint8_t *)salt);
	content(&pk);
	veld_buf_init(&op, VELD_OP_MAX);
	if (veld_op_create(key, h, body.data, body.len, &op, id) != 0 ||
	    veld_op_decode(op.data, op.len, &d) != 0 || veld_op_verify(&d))
		abort();

	veld_buf_init(&hdr, sizeof(VELD_DS_SIG) + VELD_HEADER_MAX);
	if (veld_buf_append(&hdr, VELD_DS_SIG, sizeof(VELD_DS_SIG)) ||
	    veld_buf_append(&hdr, d.header, d.header_len))
		abort();

#define ADD(suffix, p, n)                                                      \
	do {                                                                   \
		snprintf(name, sizeof(name), "%s.%s", prefix, suffix);         \
		add(vs, name, p, n);                                           \
	} while (0)
	ADD("body", body.data, body.len);
	ADD("body_hash", h->body_hash, VELD_HASH_LEN);
	ADD("header", d.header, d.header_len);
	ADD("signed_message", hdr.data, hdr.len);
	ADD("signature", d.sig, VELD_SIG_LEN);
	ADD("op_id", d.id, VELD_HASH_LEN);
	ADD("op", op.data, op.len);
#undef ADD
	veld_buf_release(&hdr);
	veld_buf_release(&op);
	veld_buf_release(&body);
}

static void content1(msgpack_packer *pk)
{
	msgpack_pack_map(pk, 3);
	msgpack_pack_str_with_body(pk, "house", 5);
	msgpack_pack_str_with_body(pk, "12", 2);
	msgpack_pack_str_with_body(pk, "q_wish", 6);
	msgpack_pack_str_with_body(pk, "meer bankjes", 12);
	msgpack_pack_str_with_body(pk, "street", 6);
	msgpack_pack_str_with_body(pk, "Kerkstraat", 10);
}

static void content2(msgpack_packer *pk)
{
	static const char note[] = "Handgreep in toilet ontbreekt.";

	msgpack_pack_str_with_body(pk, note, sizeof(note) - 1);
}

/* The example of docs/protocol.md §6: inputs first, then the results. */
static void derive(struct vectors *vs)
{
	uint8_t seed[VELD_SEED_LEN], id1[VELD_HASH_LEN], id2[VELD_HASH_LEN];
	struct veld_op_header h;
	struct veld_key key;

	for (int i = 0; i < VELD_SEED_LEN; i++)
		seed[i] = (uint8_t)i;
	veld_key_from_seed(&key, seed);
	add(vs, "seed", seed, sizeof(seed));
	add(vs, "public_key", key.pk, VELD_PK_LEN);
	add(vs, "record", "veldwerk-record1", VELD_RECORD_LEN);
	add_u64(vs, "op1.hlc", VELD_HLC_MS_EXAMPLE << 16);

	memset(&h, 0, sizeof(h));
	h.seq = 1;
	h.hlc = VELD_HLC_MS_EXAMPLE << 16;
	memcpy(h.record, "veldwerk-record1", VELD_RECORD_LEN);
	h.kind = VELD_KIND_PUT;
	derive_op(vs, "op1", &key, &h, "salt-0123456789a", content1, id1);

	memset(&h, 0, sizeof(h));
	h.seq = 2;
	h.has_prev = 1;
	memcpy(h.prev, id1, VELD_HASH_LEN);
	h.hlc = (VELD_HLC_MS_EXAMPLE << 16) | 1;
	memcpy(h.record, "veldwerk-record1", VELD_RECORD_LEN);
	h.kind = VELD_KIND_NOTE;
	add_u64(vs, "op2.hlc", h.hlc);
	derive_op(vs, "op2", &key, &h, "salt-0123456789b", content2, id2);
	veld_key_release(&key);
}

static int hexval(int c)
{
	return isdigit(c) ? c - '0' : tolower(c) - 'a' + 10;
}

/* Parse hex digits (whitespace ignored) until end or a non-hex char. */
static size_t parse_hex(const char *s, const char *end, uint8_t *out,
			size_t max)
{
	size_t n = 0;

	while (s < end && n < max) {
		if (isspace((unsigned char)*s)) {
			s++;
			continue;
		}
		if (s + 1 >= end || !isxdigit((unsigned char)s[0]) ||
		    !isxdigit((unsigned char)s[1]))
			break;
		out[n++] = (uint8_t)(hexval(s[0]) << 4 | hexval(s[1]));
		s += 2;
	}
	return n;
}

static char *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *p;
	long n;

	if (!f)
		return NULL;
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	fseek(f, 0, SEEK_SET);
	p = malloc((size_t)n + 1);
	if (fread(p, 1, (size_t)n, f) != (size_t)n) {
		fclose(f);
		free(p);
		return NULL;
	}
	fclose(f);
	p[n] = 0;
	*len = (size_t)n;
	return p;
}

static void check_bytes(const char *where, const struct vector *want,
			const uint8_t *got, size_t got_len)
{
	if (got_len == want->len && memcmp(got, want->bytes, got_len) == 0) {
		test_passed++;
		return;
	}
	test_failed++;
	fprintf(stderr, "%s: %s differs (%zu bytes there, %zu derived)\n",
		where, want->name, got_len, want->len);
}

/* Vector file: "name = hex" lines; '#' starts a comment. */
static void check_vector_file(const struct vectors *vs, const char *path)
{
	static uint8_t buf[VELD_OP_MAX];
	size_t len;
	char *text = slurp(path, &len), *line, *save = NULL;
	int seen = 0;

	if (!text) {
		fprintf(stderr, "cannot read '%s'\n", path);
		test_failed++;
		return;
	}
	for (line = strtok_r(text, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save)) {
		char *eq = strchr(line, '=');
		char name[32];
		const struct vector *v;
		size_t n;

		if (line[0] == '#' || !eq)
			continue;
		n = (size_t)(eq - line);
		while (n && isspace((unsigned char)line[n - 1]))
			n--;
		if (n >= sizeof(name))
			continue;
		memcpy(name, line, n);
		name[n] = 0;
		v = find(vs, name);
		if (!v) {
			fprintf(stderr, "%s: unknown vector '%s'\n", path,
				name);
			test_failed++;
			continue;
		}
		n = parse_hex(eq + 1, line + strlen(line), buf, sizeof(buf));
		check_bytes(path, v, buf, n);
		seen++;
	}
	CHECK_EQ(seen, vs->n); /* every derived value is pinned */
	free(text);
}

/* Doc: "<!-- vector: NAME -->" then a fenced block of hex. */
static void check_doc(const struct vectors *vs, const char *path)
{
	static const char marker[] = "<!-- vector: ";
	static uint8_t buf[VELD_OP_MAX];
	size_t len;
	char *text = slurp(path, &len), *p;
	int seen = 0;

	if (!text) {
		fprintf(stderr, "cannot read '%s'\n", path);
		test_failed++;
		return;
	}
	for (p = strstr(text, marker); p; p = strstr(p + 1, marker)) {
		char name[32];
		const char *end = strstr(p, " -->"), *open, *close;
		const struct vector *v;
		size_t n = end ? (size_t)(end - p) - strlen(marker) : 0;

		if (!end || n >= sizeof(name)) {
			fprintf(stderr, "%s: bad vector marker\n", path);
			test_failed++;
			continue;
		}
		memcpy(name, p + strlen(marker), n);
		name[n] = 0;
		v = find(vs, name);
		open = strstr(end, "```\n");
		close = open ? strstr(open + 4, "```") : NULL;
		if (!v || !close) {
			fprintf(stderr, "%s: vector '%s' unknown or no block\n",
				path, name);
			test_failed++;
			continue;
		}
		n = parse_hex(open + 4, close, buf, sizeof(buf));
		check_bytes(path, v, buf, n);
		seen++;
	}
	CHECK(seen >= 8); /* the worked example is really there */
	free(text);
}

int main(int argc, char **argv)
{
	struct vectors vs = {0};

	if (sodium_init() < 0)
		return 2;
	derive(&vs);
	if (argc == 2 && strcmp(argv[1], "--write") == 0) {
		printf("# Golden vectors for the op format, version 1.\n"
		       "# Derived and explained in docs/protocol.md §6; "
		       "checked by tests/test_vectors.c.\n");
		for (int i = 0; i < vs.n; i++) {
			printf("%s = ", vs.v[i].name);
			for (size_t k = 0; k < vs.v[i].len; k++)
				printf("%02x", vs.v[i].bytes[k]);
			printf("\n");
		}
		return 0;
	}
	if (argc != 3) {
		fprintf(stderr, "usage: test_vectors VECTOR_FILE DOC_FILE\n");
		return 2;
	}
	check_vector_file(&vs, argv[1]);
	check_doc(&vs, argv[2]);
	for (int i = 0; i < vs.n; i++)
		free(vs.v[i].bytes);
	return test_summary("test_vectors");
}
