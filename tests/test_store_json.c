/*
 * test_store_json.c - the store's JSON helpers for veldd's admin commands:
 * veld_store_json_walk (SQLite's json_tree as a walk with a callback) and
 * veld_store_devices_json (the registry as a JSON array, made by JSON1).
 */
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "err.h"
#include "hlc.h"
#include "store.h"
#include "test.h"

/*
 * The walk written down, one word per node: depth, a type letter, the
 * member name (".key") or array index ("[i]"), and "=value" for scalars.
 * E.g. {"a": [true]} is "0o 1a.a 2t[0]".
 */
struct trace {
	char out[2048];
	size_t len;
	int n, stop_at; /* stop_at: return 7 at that node (0: never) */
};

static int trace_node(void *ctx, const struct veld_json_node *n)
{
	static const char letters[] = "ntfirsao"; /* enum veld_json_type */
	struct trace *t = ctx;
	char where[80], value[160];
	int w;

	if (n->key)
		snprintf(where, sizeof(where), ".%s", n->key);
	else if (n->index >= 0)
		snprintf(where, sizeof(where), "[%lld]", (long long)n->index);
	else
		where[0] = 0;
	if (n->type == VELD_JSON_INTEGER)
		snprintf(value, sizeof(value), "=%lld", (long long)n->i);
	else if (n->type == VELD_JSON_REAL)
		snprintf(value, sizeof(value), "=%g", n->d);
	else if (n->type == VELD_JSON_TEXT)
		snprintf(value, sizeof(value), "='%s'/%zu", n->text,
			 n->text_len);
	else
		value[0] = 0;
	w = snprintf(t->out + t->len, sizeof(t->out) - t->len, "%s%d%c%s%s",
		     t->len ? " " : "", n->depth, letters[n->type], where,
		     value);
	if (w > 0 && (size_t)w < sizeof(t->out) - t->len)
		t->len += (size_t)w;
	return ++t->n == t->stop_at ? 7 : 0;
}

static int walk(struct veld_store *s, const char *json, struct trace *t,
		int stop_at)
{
	memset(t, 0, sizeof(*t));
	t->stop_at = stop_at;
	return veld_store_json_walk(s, json, strlen(json), trace_node, t);
}

static void expect(struct veld_store *s, const char *json, const char *want)
{
	struct trace t;

	CHECK_ERR(walk(s, json, &t, 0), 0);
	if (strcmp(t.out, want)) {
		CHECK(strcmp(t.out, want) == 0);
		fprintf(stderr, "json: %s\n got: %s\nwant: %s\n", json, t.out,
			want);
	}
}

static void test_walk(struct veld_store *s)
{
	struct trace t;
	char deep[256];
	size_t n = 0;

	expect(s, "1", "0i=1");
	expect(s, "\"h\\u00e9\\n\"", "0s='h\xc3\xa9\n'/4");
	expect(s, "{\"a\": [true, false, null, 1.5, -3], \"b\": {\"c\": \"\"}}",
	       "0o 1a.a 2t[0] 2f[1] 2n[2] 2r[3]=1.5 2i[4]=-3 1o.b 2s.c=''/0");
	/* Depth follows the tree, not the order of closing brackets. */
	expect(s, "[[[1]], 2, {\"k\": [3]}, 4]",
	       "0a 1a[0] 2a[0] 3i[0]=1 1i[1]=2 1o[2] 2a.k 3i[0]=3 1i[3]=4");
	/* Members in the order written, duplicates passed on. */
	expect(s, "{\"z\": 1, \"a\": 2, \"z\": 3}", "0o 1i.z=1 1i.a=2 1i.z=3");
	/* Keys are decoded; odd keys arrive as they are. */
	expect(s, "{\"a\\\"b\": 1, \"\": 2, \"\\u00e9\": 3}",
	       "0o 1i.a\"b=1 1i.=2 1i.\xc3\xa9=3");
	/* Integers beyond int64 arrive as reals; exponents are reals. */
	expect(s, "[9223372036854775807, 99999999999999999999, 1e3]",
	       "0a 1i[0]=9223372036854775807 1r[1]=1e+20 1r[2]=1000");

	/* Not JSON. */
	CHECK_ERR(walk(s, "{\"a\": 1,}", &t, 0), VELD_EINVAL);
	CHECK_ERR(walk(s, "{a: 1}", &t, 0), VELD_EINVAL);
	CHECK_ERR(walk(s, "[1] [2]", &t, 0), VELD_EINVAL);
	CHECK_ERR(walk(s, "", &t, 0), VELD_EINVAL);
	CHECK_EQ(t.n, 0); /* nothing was called */
	/* \u0000 would be cut short by SQLite: refused... */
	CHECK_ERR(walk(s, "[\"a\\u0000b\"]", &t, 0), VELD_EINVAL);
	/* ...but an escaped backslash before "u0000" is fine. */
	expect(s, "[\"a\\\\u0000\"]", "0a 1s[0]='a\\u0000'/7");

	/* The callback stops the walk with its value. */
	CHECK_ERR(walk(s, "[1, 2, 3]", &t, 2), 7);
	CHECK_EQ(t.n, 2);

	/* Depth: VELD_STORE_JSON_DEPTH_MAX levels below the top are fine. */
	for (int i = 0; i <= VELD_STORE_JSON_DEPTH_MAX; i++)
		deep[n++] = '[';
	for (int i = 0; i <= VELD_STORE_JSON_DEPTH_MAX; i++)
		deep[n++] = ']';
	deep[n] = 0;
	CHECK_ERR(walk(s, deep, &t, 0), 0);
	memmove(deep + 1, deep, n + 1);
	deep[0] = '[';
	strcat(deep, "]");
	CHECK_ERR(walk(s, deep, &t, 0), VELD_EDEPTH);
}

static void test_devices_json(struct veld_store *s)
{
	/* 2024-06-01T00:00:00Z and a day later, as hlc values. */
	const uint64_t t0 = VELD_HLC_MAKE(UINT64_C(1717200000000), 5);
	const uint64_t t1 = VELD_HLC_MAKE(UINT64_C(1717286400999), 0);
	struct veld_device_row rows[2];
	struct veld_head h;
	struct veld_buf out, tiny;
	char *text;

	veld_buf_init(&out, 1 << 20);
	CHECK_ERR(veld_store_devices_json(s, &out), 0);
	CHECK(out.len == 2 && memcmp(out.data, "[]", 2) == 0);

	memset(rows, 0, sizeof(rows));
	memset(rows[0].key, 0xab, sizeof(rows[0].key));
	rows[0].role = "field";
	rows[0].name = "Anna \"de\" \\ Vries\n"; /* needs escaping */
	rows[0].area = "Noord";
	rows[0].enrolled = t0;
	rows[0].hlc = t0;
	memset(rows[1].key, 0x01, sizeof(rows[1].key));
	rows[1].role = "coordinator";
	rows[1].name = "Bram";
	rows[1].area = NULL;
	rows[1].enrolled = t0;
	rows[1].revoked = t1;
	rows[1].hlc = t1;
	CHECK_ERR(veld_store_devices_replace(s, rows, 2), 0);
	memset(&h, 0, sizeof(h));
	h.seq = 12;
	h.frozen = 1;
	h.fork_seq = 7;
	CHECK_ERR(veld_store_head_set(s, rows[0].key, &h), 0);

	CHECK_ERR(veld_store_devices_json(s, &out), 0);
	text = calloc(1, out.len + 1);
	if (!text) {
		CHECK(text != NULL);
		veld_buf_release(&out);
		return;
	}
	memcpy(text, out.data, out.len);
	/* By key: 0101... first. */
	CHECK_EQ(
		strcmp(text,
		       "[{\"key\":\"0101010101010101010101010101010101010101"
		       "010101010101010101010101\",\"role\":\"coordinator\","
		       "\"name\":\"Bram\",\"area\":null,\"status\":\"revoked\","
		       "\"enrolled\":\"2024-06-01T00:00:00Z\","
		       "\"revoked\":\"2024-06-02T00:00:00Z\",\"seq\":0,"
		       "\"frozen\":false},"
		       "{\"key\":\"abababababababababababababababababababab"
		       "abababababababababababab\",\"role\":\"field\","
		       "\"name\":\"Anna \\\"de\\\" \\\\ Vries\\n\","
		       "\"area\":\"Noord\",\"status\":\"active\","
		       "\"enrolled\":\"2024-06-01T00:00:00Z\","
		       "\"revoked\":null,\"seq\":12,\"frozen\":true}]"),
		0);
	if (strstr(text, "Bram") == NULL)
		fprintf(stderr, "devices json: %s\n", text);
	free(text);

	/* The output buffer's maximum holds. */
	veld_buf_init(&tiny, 16);
	CHECK_ERR(veld_store_devices_json(s, &tiny), VELD_ETOOBIG);
	veld_buf_release(&tiny);
	veld_buf_release(&out);
}

int main(void)
{
	struct veld_store *s = NULL;

	CHECK_ERR(veld_store_open(":memory:", &s), 0);
	if (!s)
		return test_summary("test_store_json");
	test_walk(s);
	test_devices_json(s);
	veld_store_close(s);
	return test_summary("test_store_json");
}
