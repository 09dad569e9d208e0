/*
 * test_records_json.c - the store's client read helpers, which the veld
 * record commands print: veld_store_record_prefix (a record by a short id),
 * veld_store_records_json (the list) and veld_store_record_json (one record
 * in detail), JSON built by SQLite from canonical msgpack values.
 *
 * Cast: the server S (root of trust), a coordinator C and field devices A
 * and B, as in test_replica.c, all on one fake clock.  With the clock fixed
 * and the op ids known, every text is deterministic, so most checks compare
 * exact strings.  Every text a helper hands out is also run through a strict
 * RFC 8259 checker written here: SQLite's own parser cannot be the judge of
 * what SQLite wrote (and newer SQLite also accepts JSON5).
 *
 * This test found four bugs, now fixed and pinned among the value cases:
 * an empty str came out as null, a map with an empty key and containers of
 * more than 127 elements failed the call, and subnormal doubles were not
 * written with the fewest digits.
 */
#include <float.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "canon.h"
#include "hlc.h"
#include "replica_util.h"

/* --- a strict JSON checker (RFC 8259) --- */

struct js {
	const char *p, *end;
	int depth;
};

static int js_value(struct js *s);

static void js_ws(struct js *s)
{
	while (s->p < s->end && (*s->p == ' ' || *s->p == '\t' ||
				 *s->p == '\n' || *s->p == '\r'))
		s->p++;
}

static int js_lit(struct js *s, const char *w)
{
	size_t n = strlen(w);

	if ((size_t)(s->end - s->p) < n || memcmp(s->p, w, n) != 0)
		return 0;
	s->p += n;
	return 1;
}

static int js_digits(struct js *s)
{
	const char *start = s->p;

	while (s->p < s->end && *s->p >= '0' && *s->p <= '9')
		s->p++;
	return s->p > start;
}

/* number = [ "-" ] ( "0" / 1-9 *DIGIT ) [ "." 1*DIGIT ]
 *          [ ( "e" / "E" ) [ "+" / "-" ] 1*DIGIT ] */
static int js_number(struct js *s)
{
	if (s->p < s->end && *s->p == '-')
		s->p++;
	if (s->p < s->end && *s->p == '0')
		s->p++;
	else if (!js_digits(s))
		return 0;
	if (s->p < s->end && *s->p == '.') {
		s->p++;
		if (!js_digits(s))
			return 0;
	}
	if (s->p < s->end && (*s->p == 'e' || *s->p == 'E')) {
		s->p++;
		if (s->p < s->end && (*s->p == '+' || *s->p == '-'))
			s->p++;
		if (!js_digits(s))
			return 0;
	}
	return 1;
}

/* No raw control characters; only the escapes RFC 8259 names. */
static int js_string(struct js *s)
{
	static const char simple[] = "\"\\/bfnrt";
	static const char hexdigits[] = "0123456789abcdefABCDEF";

	if (!js_lit(s, "\""))
		return 0;
	while (s->p < s->end) {
		unsigned char c = (unsigned char)*s->p++;

		if (c == '"')
			return 1;
		if (c < 0x20)
			return 0;
		if (c != '\\')
			continue;
		if (s->p >= s->end)
			return 0;
		c = (unsigned char)*s->p++;
		if (c == 'u') {
			for (int i = 0; i < 4; i++, s->p++)
				if (s->p >= s->end ||
				    !memchr(hexdigits, *s->p,
					    sizeof(hexdigits) - 1))
					return 0;
		} else if (!memchr(simple, c, sizeof(simple) - 1)) {
			return 0;
		}
	}
	return 0;
}

static int js_container(struct js *s, char close)
{
	if (++s->depth > 64)
		return 0;
	s->p++;
	js_ws(s);
	if (s->p < s->end && *s->p == close) {
		s->p++;
		s->depth--;
		return 1;
	}
	for (;;) {
		if (close == '}') {
			js_ws(s);
			if (!js_string(s))
				return 0;
			js_ws(s);
			if (!js_lit(s, ":"))
				return 0;
		}
		if (!js_value(s))
			return 0;
		js_ws(s);
		if (js_lit(s, ","))
			continue;
		if (s->p < s->end && *s->p == close)
			break;
		return 0;
	}
	s->p++;
	s->depth--;
	return 1;
}

static int js_value(struct js *s)
{
	js_ws(s);
	if (s->p >= s->end)
		return 0;
	switch (*s->p) {
	case '{':
		return js_container(s, '}');
	case '[':
		return js_container(s, ']');
	case '"':
		return js_string(s);
	case 't':
		return js_lit(s, "true");
	case 'f':
		return js_lit(s, "false");
	case 'n':
		return js_lit(s, "null");
	default:
		return js_number(s);
	}
}

/* Is t[0..n) one well-formed JSON text in valid UTF-8? */
static int json_valid(const char *t, size_t n)
{
	struct js s = {t, t + n, 0};

	if (!veld_utf8_valid((const uint8_t *)t, n) || !js_value(&s))
		return 0;
	js_ws(&s);
	return s.p == s.end;
}

/* The checker itself: it must refuse what JSON does not allow, or its
 * verdicts below would mean little. */
static void checker_self_test(void)
{
	static const char *const good[] = {
		"0",
		"-0",
		"1e+300",
		"1E-07",
		"0.5",
		"-12.5e3",
		"\"\"",
		"\"a\\u00e9\\n\\/\"",
		"[]",
		"{}",
		" [1, {\"a\": null}] ",
		"\"\xc3\xa9\x7f\"",
		"{\"\":true}",
	};
	static const char *const bad[] = {
		"",
		"01",
		"1.",
		".5",
		"+1",
		"1e",
		"-",
		"NaN",
		"Infinity",
		"0x10",
		"[1,]",
		"[1 2]",
		"{\"a\"}",
		"{'a':1}",
		"{a:1}",
		"\"\x01\"",
		"\"a\nb\"" /* raw newline */,
		"\"\\x41\"",
		"\"\\u00g0\"",
		"\"abc",
		"[1]]",
		"tru",
		"nul",
		"1 2",
		"\"\xff\"",
		"\"\xc3\"",
	};

	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		CHECK(json_valid(good[i], strlen(good[i])));
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		CHECK(!json_valid(bad[i], strlen(bad[i])));
	CHECK(!json_valid("\"a\0b\"", 5));
}

/*
 * The raw text of member key (written without escapes) of the JSON object
 * obj, malloc'd; NULL if obj has no such member at its top level.
 */
static char *member(const char *obj, const char *key)
{
	struct js s = {obj, obj + strlen(obj), 0};
	size_t klen = strlen(key);

	js_ws(&s);
	if (!js_lit(&s, "{"))
		return NULL;
	do {
		const char *k, *kend, *v;
		js_ws(&s);
		k = s.p;
		if (!js_string(&s))
			return NULL;
		kend = s.p;
		js_ws(&s);
		if (!js_lit(&s, ":"))
			return NULL;
		js_ws(&s);
		v = s.p;
		if (!js_value(&s))
			return NULL;
		if ((size_t)(kend - k) == klen + 2 &&
		    memcmp(k + 1, key, klen) == 0) {
			char *out = malloc((size_t)(s.p - v) + 1);
			if (!out)
				abort();
			memcpy(out, v, (size_t)(s.p - v));
			out[s.p - v] = 0;
			return out;
		}
		js_ws(&s);
	} while (js_lit(&s, ","));
	return NULL;
}

/* --- string checks and building --- */

static void check_str(const char *file, int line, const char *what,
		      const char *got, const char *want)
{
	if (got && want && strcmp(got, want) == 0) {
		test_passed++;
		return;
	}
	test_failed++;
	fprintf(stderr, "%s:%d: %s\n  got  %s\n  want %s\n", file, line, what,
		got ? got : "(none)", want ? want : "(none)");
}

#define CHECK_STR(got, want) check_str(__FILE__, __LINE__, #got, (got), (want))

/* Member key of obj equals want (a NULL want: there is no such member). */
static void check_member(const char *file, int line, const char *obj,
			 const char *key, const char *want)
{
	char *got = obj ? member(obj, key) : NULL;

	if (!want && !got)
		test_passed++;
	else
		check_str(file, line, key, got, want);
	free(got);
}

#define CHECK_MEMBER(obj, key, want)                                           \
	check_member(__FILE__, __LINE__, (obj), (key), (want))

/* A growing, NUL-terminated string for expected texts. */
struct sb {
	char *p;
	size_t len, cap;
};

static void sb_add(struct sb *b, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void sb_add(struct sb *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0)
		abort();
	if (b->len + (size_t)n + 1 > b->cap) {
		b->cap = (b->len + (size_t)n + 1) * 2;
		b->p = realloc(b->p, b->cap);
		if (!b->p)
			abort();
	}
	va_start(ap, fmt);
	vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
}

static void sb_release(struct sb *b)
{
	free(b->p);
	memset(b, 0, sizeof(*b));
}

static void hex(const uint8_t *p, size_t n, char *out)
{
	for (size_t i = 0; i < n; i++)
		snprintf(out + 2 * i, 3, "%02x", p[i]);
	out[2 * n] = 0;
}

/* Hex text to bytes; returns the length. */
static size_t unhex(const char *h, uint8_t *out, size_t cap)
{
	size_t n = strlen(h) / 2;

	if (n > cap)
		abort();
	for (size_t i = 0; i < n; i++) {
		unsigned v;
		if (sscanf(h + 2 * i, "%2x", &v) != 1)
			abort();
		out[i] = (uint8_t)v;
	}
	return n;
}

/* What the helpers print for a time: ISO-8601 UTC with milliseconds. */
static void iso(uint64_t ms, char out[32])
{
	time_t t = (time_t)(ms / 1000);
	size_t n = strftime(out, 32, "%Y-%m-%dT%H:%M:%S", gmtime(&t));

	snprintf(out + n, 32 - n, ".%03uZ", (unsigned)(ms % 1000));
}

/* --- collecting the helpers' texts --- */

#define TEXTS_MAX 16

struct texts {
	int n;
	int stop_at, stop_rc; /* return stop_rc from call stop_at (1-based) */
	char *t[TEXTS_MAX];   /* NUL-terminated copies */
};

static int collect(void *ctx, const char *json, size_t len)
{
	struct texts *x = ctx;
	char *copy = malloc(len + 1);

	if (!copy)
		abort();
	memcpy(copy, json, len);
	copy[len] = 0;
	CHECK_EQ(strlen(copy), len); /* no raw NUL inside */
	if (json_valid(copy, len)) {
		test_passed++;
	} else {
		test_failed++;
		fprintf(stderr, "not JSON: %s\n", copy);
	}
	if (x->n < TEXTS_MAX)
		x->t[x->n] = copy;
	else
		free(copy);
	x->n++;
	return x->n == x->stop_at ? x->stop_rc : 0;
}

static void texts_release(struct texts *x)
{
	for (int i = 0; i < x->n && i < TEXTS_MAX; i++)
		free(x->t[i]);
	memset(x, 0, sizeof(*x));
}

static int list(struct veld_store *s, const struct veld_record_filter *f,
		struct texts *x)
{
	memset(x, 0, sizeof(*x));
	return veld_store_records_json(s, f, collect, x);
}

static int detail(struct veld_store *s, const uint8_t id[VELD_RECORD_LEN],
		  struct texts *x)
{
	memset(x, 0, sizeof(*x));
	return veld_store_record_json(s, id, collect, x);
}

/* --- the cast --- */

static struct veld_key kS, kC, kA, kB;
static struct veld_replica *S, *C, *A, *B;
static char hS[65], hC[65], hA[65], hB[65]; /* public keys in hex */

/* The fake wall clock every replica reads. */
#define T0 UINT64_C(1700000000000) /* 2023-11-14T22:13:20.000Z */
static uint64_t now_ms;

static uint64_t fake_wall(void *ctx)
{
	(void)ctx;
	return now_ms;
}

static struct veld_replica *open_replica(const struct veld_key *k)
{
	struct veld_replica *r;

	if (veld_replica_open(":memory:", k, kS.pk, &r) != 0)
		abort();
	veld_replica_set_wall(r, fake_wall, NULL);
	return r;
}

/* Fresh cast at T0; the server enrols everyone and everyone syncs. */
static void setup(void)
{
	now_ms = T0;
	S = open_replica(&kS);
	C = open_replica(&kC);
	A = open_replica(&kA);
	B = open_replica(&kB);
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
	S = C = A = B = NULL;
}

static void sync_all(void)
{
	struct veld_replica *all[] = {C, A, B};

	for (int round = 0; round < 2; round++)
		for (int i = 0; i < 3; i++) {
			ship(all[i], S);
			ship(S, all[i]);
		}
}

/* Put one text field at time ms; op id to id (may be NULL). */
static void put_text(struct veld_replica *r, uint64_t ms, uint8_t rec[16],
		     int create, const char *field, const char *text,
		     uint8_t id[VELD_HASH_LEN])
{
	struct veld_field f = {field, text, NULL, 0};

	now_ms = ms;
	CHECK_ERR(veld_replica_put(r, rec, create, create ? "huisbezoek" : NULL,
				   create ? "noord" : NULL, &f, 1, id),
		  0);
}

/* --- values: every msgpack type, exactly --- */

struct value_case {
	const char *name;
	const char *key;  /* the name as a JSON string; NULL: "name" as is */
	const char *text; /* a str given as text, or */
	const char *mp;	  /* canonical msgpack in hex, or */
	double f;	  /* a float64 (when text and mp are NULL) */
	const char *want; /* the value as JSON */
};

static const struct value_case value_cases[] = {
	{"n_nil", NULL, NULL, "c0", 0, "null"},
	{"b_true", NULL, NULL, "c3", 0, "true"},
	{"b_false", NULL, NULL, "c2", 0, "false"},
	/* Integers exactly, also where a double could not hold them. */
	{"i_0", NULL, NULL, "00", 0, "0"},
	{"i_127", NULL, NULL, "7f", 0, "127"},
	{"i_128", NULL, NULL, "cc80", 0, "128"},
	{"i_256", NULL, NULL, "cd0100", 0, "256"},
	{"i_65536", NULL, NULL, "ce00010000", 0, "65536"},
	{"i_2p32", NULL, NULL, "cf0000000100000000", 0, "4294967296"},
	{"i_2p53p1", NULL, NULL, "cf0020000000000001", 0, "9007199254740993"},
	{"i_2p63", NULL, NULL, "cf8000000000000000", 0, "9223372036854775808"},
	{"i_u64max", NULL, NULL, "cfffffffffffffffff", 0,
	 "18446744073709551615"},
	{"j_m1", NULL, NULL, "ff", 0, "-1"},
	{"j_m32", NULL, NULL, "e0", 0, "-32"},
	{"j_m33", NULL, NULL, "d0df", 0, "-33"},
	{"j_m129", NULL, NULL, "d1ff7f", 0, "-129"},
	{"j_m32769", NULL, NULL, "d2ffff7fff", 0, "-32769"},
	{"j_m2p31m1", NULL, NULL, "d3ffffffff7fffffff", 0, "-2147483649"},
	{"j_m2p53m1", NULL, NULL, "d3ffdfffffffffffff", 0, "-9007199254740993"},
	{"j_min", NULL, NULL, "d38000000000000000", 0, "-9223372036854775808"},
	/* Floats: the fewest digits that read back as the same double. */
	{"f_0", NULL, NULL, NULL, 0.0, "0"},
	{"f_m0", NULL, NULL, NULL, -0.0, "-0"},
	{"f_1", NULL, NULL, NULL, 1.0, "1"},
	{"f_m2_5", NULL, NULL, NULL, -2.5, "-2.5"},
	{"f_0_1", NULL, NULL, NULL, 0.1, "0.1"},
	{"f_sum", NULL, NULL, NULL, 0.30000000000000004, "0.30000000000000004"},
	{"f_third", NULL, NULL, NULL, 1.0 / 3.0, "0.3333333333333333"},
	{"f_pi", NULL, NULL, NULL, 3.141592653589793, "3.141592653589793"},
	{"f_dec", NULL, NULL, NULL, 123456.789, "123456.789"},
	{"f_2p53", NULL, NULL, NULL, 9007199254740992.0, "9007199254740992"},
	{"f_1e21", NULL, NULL, NULL, 1e21, "1e+21"},
	{"f_1e300", NULL, NULL, NULL, 1e300, "1e+300"},
	{"f_1em7", NULL, NULL, NULL, 1e-7, "1e-07"},
	{"f_max", NULL, NULL, NULL, DBL_MAX, "1.7976931348623157e+308"},
	{"f_mmax", NULL, NULL, NULL, -DBL_MAX, "-1.7976931348623157e+308"},
	{"f_min", NULL, NULL, NULL, DBL_MIN, "2.2250738585072014e-308"},
	/* Strings are escaped by SQLite's json_quote(). */
	{"s_ascii", NULL, "hello", NULL, 0, "\"hello\""},
	{"s_quote", NULL, "say \"hi\"", NULL, 0, "\"say \\\"hi\\\"\""},
	{"s_bslash", NULL, "C:\\dir\\", NULL, 0, "\"C:\\\\dir\\\\\""},
	{"s_short", NULL, "\b\f\n\r\t", NULL, 0, "\"\\b\\f\\n\\r\\t\""},
	{"s_ctrl", NULL, "\x01\x0b\x1f", NULL, 0, "\"\\u0001\\u000b\\u001f\""},
	{"s_nul", NULL, NULL, "a3610062", 0, "\"a\\u0000b\""},
	{"s_del", NULL, "\x7f", NULL, 0, "\"\x7f\""},
	{"s_slash", NULL, "</a>", NULL, 0, "\"</a>\""},
	{"s_apos", NULL, "it's", NULL, 0, "\"it's\""},
	{"s_utf8", NULL, "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80", NULL, 0,
	 "\"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80\""},
	{"s_lsep", NULL, "\xe2\x80\xa8\xe2\x80\xa9", NULL, 0,
	 "\"\xe2\x80\xa8\xe2\x80\xa9\""},
	/* Byte strings become lower-case hex strings. */
	{"x_bin", NULL, NULL, "c40300ff10", 0, "\"00ff10\""},
	{"x_binhi", NULL, NULL, "c402ABCD", 0, "\"abcd\""},
	{"x_bin0", NULL, NULL, "c400", 0, "\"\""},
	/* Arrays and maps, in msgpack's order, with everything inside. */
	{"a_empty", NULL, NULL, "90", 0, "[]"},
	{"a_mixed", NULL, NULL, "9501c0a178c3d0df", 0,
	 "[1,null,\"x\",true,-33]"},
	{"a_ints", NULL, NULL, "92cfffffffffffffffffd38000000000000000", 0,
	 "[18446744073709551615,-9223372036854775808]"},
	{"a_floats", NULL, NULL, "92cb3fb999999999999acb8000000000000000", 0,
	 "[0.1,-0]"},
	{"a_bins", NULL, NULL, "92c401abc400", 0, "[\"ab\",\"\"]"},
	{"a_deep", NULL, NULL, "919191919101", 0, "[[[[[1]]]]]"},
	{"a_127", NULL, NULL, NULL, 0, NULL}, /* filled in below */
	{"m_empty", NULL, NULL, "80", 0, "{}"},
	{"m_mixed", NULL, NULL, "83a16101a2616292c3c0a16281a163a164", 0,
	 "{\"a\":1,\"ab\":[true,null],\"b\":{\"c\":\"d\"}}"},
	{"m_keys", NULL, NULL, "84a10a01a12202a15c03a2c3a904", 0,
	 "{\"\\n\":1,\"\\\"\":2,\"\\\\\":3,\"\xc3\xa9\":4}"},
	{"m_strs", NULL, NULL, "81a16ba20a22", 0, "{\"k\":\"\\n\\\"\"}"},
	{"m_63", NULL, NULL, NULL, 0, NULL}, /* filled in below */
	/* Found by this test, fixed: empty str, empty key, 128 elements,
	 * a subnormal double with the fewest digits. */
	{"s_empty", NULL, NULL, "a0", 0, "\"\""},
	{"m_emptykey", NULL, NULL, "81a001", 0, "{\"\":1}"},
	{"a_128", NULL, NULL,
	 "dc0080010101010101010101010101010101010101010101010101010101"
	 "010101010101010101010101010101010101010101010101010101010101"
	 "010101010101010101010101010101010101010101010101010101010101"
	 "010101010101010101010101010101010101010101010101010101010101"
	 "0101010101010101010101",
	 0,
	 "[1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1"
	 ",1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1"
	 ",1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1"
	 ",1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1"
	 ",1,1,1,1,1,1,1,1]"},
	{"f_sub", NULL, NULL, NULL, 5e-324, "5e-324"},

	/* Field names are escaped too. */
	{"\t\"k\\", "\"\\t\\\"k\\\\\"", "v", NULL, 0, "\"v\""},
	{"stra\xc3\x9f"
	 "e",
	 NULL, "Kerkstraat", NULL, 0, "\"Kerkstraat\""},
};

#define NCASES (sizeof(value_cases) / sizeof(value_cases[0]))

/* A case made ready: its msgpack bytes and expected JSON. */
struct value_prep {
	const struct value_case *c;
	uint8_t mp[1024];
	size_t mp_len;
	struct sb want;
};

static int prep_cmp(const void *a, const void *b)
{
	const struct value_prep *x = a, *y = b;

	return strcmp(x->c->name, y->c->name);
}

static void mp_f64(uint8_t out[9], double d)
{
	uint64_t u;

	memcpy(&u, &d, sizeof(u));
	out[0] = 0xcb;
	for (int i = 0; i < 8; i++)
		out[1 + i] = (uint8_t)(u >> (56 - 8 * i));
}

static void prep_case(struct value_prep *p, const struct value_case *c)
{
	memset(p, 0, sizeof(*p));
	p->c = c;
	if (strcmp(c->name, "a_127") == 0) {
		/* The most elements SQLite takes in one json_array(). */
		p->mp[p->mp_len++] = 0xdc;
		p->mp[p->mp_len++] = 0;
		p->mp[p->mp_len++] = 127;
		sb_add(&p->want, "[");
		for (int i = 0; i < 127; i++) {
			p->mp[p->mp_len++] = (uint8_t)(i < 64 ? i : 0xe0 | i);
			sb_add(&p->want, "%s%d", i ? "," : "",
			       i < 64 ? i : (int)(int8_t)(0xe0 | i));
		}
		sb_add(&p->want, "]");
	} else if (strcmp(c->name, "m_63") == 0) {
		/* The most pairs SQLite takes in one json_object(). */
		p->mp[p->mp_len++] = 0xde;
		p->mp[p->mp_len++] = 0;
		p->mp[p->mp_len++] = 63;
		sb_add(&p->want, "{");
		for (int i = 0; i < 63; i++) {
			p->mp[p->mp_len++] = 0xa2;
			p->mp[p->mp_len++] = (uint8_t)('a' + i / 26);
			p->mp[p->mp_len++] = (uint8_t)('a' + i % 26);
			p->mp[p->mp_len++] = 0xc3;
			sb_add(&p->want, "%s\"%c%c\":true", i ? "," : "",
			       'a' + i / 26, 'a' + i % 26);
		}
		sb_add(&p->want, "}");
	} else {
		if (c->mp)
			p->mp_len = unhex(c->mp, p->mp, sizeof(p->mp));
		else if (!c->text) {
			mp_f64(p->mp, c->f);
			p->mp_len = 9;
		}
		sb_add(&p->want, "%s", c->want);
	}
	/* The table's msgpack must itself be canonical, or the put fails. */
	if (p->mp_len)
		CHECK_ERR(veld_canon_check(p->mp, p->mp_len), 0);
}

/* The "values" object the cases make, in field name (byte) order. */
static void values_want(const struct value_prep *p, size_t n, struct sb *out)
{
	sb_add(out, "{");
	for (size_t i = 0; i < n; i++) {
		if (p[i].c->key)
			sb_add(out, "%s%s:%s", i ? "," : "", p[i].c->key,
			       p[i].want.p);
		else
			sb_add(out, "%s\"%s\":%s", i ? "," : "", p[i].c->name,
			       p[i].want.p);
	}
	sb_add(out, "}");
}

static void values_exact(void)
{
	static struct value_prep p[NCASES];
	struct veld_field f[NCASES];
	uint8_t rec[16], op[VELD_HASH_LEN];
	char hrec[33], hop[65], t1[32];
	struct sb want = {0}, values = {0};
	struct texts x;

	setup();
	for (size_t i = 0; i < NCASES; i++)
		prep_case(&p[i], &value_cases[i]);
	qsort(p, NCASES, sizeof(p[0]), prep_cmp);
	for (size_t i = 0; i < NCASES; i++) {
		f[i].name = p[i].c->name;
		f[i].text = p[i].c->text;
		f[i].mp = p[i].mp_len ? p[i].mp : NULL;
		f[i].mp_len = p[i].mp_len;
	}
	now_ms = T0 + 1234;
	CHECK_ERR(veld_replica_put(A, rec, 1, "huisbezoek", "noord", f, NCASES,
				   op),
		  0);
	hex(rec, 16, hrec);
	hex(op, 32, hop);
	iso(now_ms, t1);
	CHECK_STR(t1, "2023-11-14T22:13:21.234Z");
	values_want(p, NCASES, &values);

	/* The list: the whole object, exactly. */
	sb_add(&want,
	       "{\"id\":\"%s\",\"form\":\"huisbezoek\",\"area\":\"noord\","
	       "\"street\":null,\"followup\":null,\"created\":\"%s\","
	       "\"updated\":\"%s\",\"deleted\":false,"
	       "\"delete_conflict\":false,\"conflicts\":0,\"erased\":false,"
	       "\"values\":%s}",
	       hrec, t1, t1, values.p);
	CHECK_ERR(list(veld_replica_store(A), NULL, &x), 0);
	CHECK_EQ(x.n, 1);
	CHECK_STR(x.t[0], want.p);
	texts_release(&x);

	/* The detail: the same values, and every one as a current value. */
	CHECK_EQ(detail(veld_replica_store(A), rec, &x), 1);
	CHECK_EQ(x.n, 1);
	CHECK_MEMBER(x.t[0], "values", values.p);
	{
		char *cur = member(x.t[0], "current");
		CHECK(cur != NULL);
		for (size_t i = 0; cur && i < NCASES; i++) {
			struct sb one = {0};
			if (p[i].c->key)
				continue; /* member() takes plain names */
			sb_add(&one,
			       "[{\"value\":%s,\"winner\":true,\"op\":\"%s\","
			       "\"author\":\"%s\",\"device\":\"Ahmed\","
			       "\"time\":\"%s\"}]",
			       p[i].want.p, hop, hA, t1);
			CHECK_MEMBER(cur, p[i].c->name, one.p);
			sb_release(&one);
		}
		free(cur);
	}
	CHECK_MEMBER(x.t[0], "notes", "[]");
	sb_release(&want);
	sb_add(&want,
	       "[{\"op\":\"%s\",\"author\":\"%s\",\"device\":\"Ahmed\","
	       "\"time\":\"%s\",\"seq\":1,\"kind\":\"put\","
	       "\"status\":\"applied\"}]",
	       hop, hA, t1);
	CHECK_MEMBER(x.t[0], "history", want.p);
	texts_release(&x);

	for (size_t i = 0; i < NCASES; i++)
		sb_release(&p[i].want);
	sb_release(&want);
	sb_release(&values);
	teardown();
}

/* Long strings: every byte escaped, or every byte as two hex digits. */
static void values_long(void)
{
	enum { N = 8000 };
	static char ctrl[N + 1];
	static uint8_t bin[N + 3];
	struct veld_field f[2];
	struct sb want = {0};
	uint8_t rec[16];
	struct texts x;

	setup();
	memset(ctrl, 0x01, N);
	ctrl[N] = 0;
	bin[0] = 0xc5; /* bin 16 */
	bin[1] = N >> 8;
	bin[2] = N & 0xff;
	memset(bin + 3, 0xfe, N);
	f[0] = (struct veld_field){"bin", NULL, bin, sizeof(bin)};
	f[1] = (struct veld_field){"ctrl", ctrl, NULL, 0};
	now_ms = T0 + 1000;
	CHECK_ERR(veld_replica_put(A, rec, 1, "huisbezoek", NULL, f, 2, NULL),
		  0);
	sb_add(&want, "{\"bin\":\"");
	for (int i = 0; i < N; i++)
		sb_add(&want, "fe");
	sb_add(&want, "\",\"ctrl\":\"");
	for (int i = 0; i < N; i++)
		sb_add(&want, "\\u0001");
	sb_add(&want, "\"}");
	CHECK_EQ(detail(veld_replica_store(A), rec, &x), 1);
	CHECK_MEMBER(x.t[0], "values", want.p);
	texts_release(&x);
	sb_release(&want);
	teardown();
}

/* --- floats: the fewest digits, as a property --- */

/* Significant digits of a number's text: its mantissa without sign, point,
 * leading and trailing zeros ("4427170000000" and "4.42717e+12" have 6). */
static int sig_digits(const char *t)
{
	const char *first = NULL, *last = NULL;

	for (; *t && *t != 'e' && *t != 'E'; t++) {
		if (*t < '1' || *t > '9')
			continue;
		if (!first)
			first = t;
		last = t;
	}
	if (!first)
		return 0;
	return (int)(last - first + 1) -
	       (memchr(first, '.', (size_t)(last - first)) != NULL);
}

/* The oracle's count: the fewest digits %.*g needs to read back as d. */
static int fewest_digits(double d)
{
	char t[40];

	for (int digits = 1; digits < 17; digits++) {
		snprintf(t, sizeof(t), "%.*g", digits, d);
		if (strtod(t, NULL) == d)
			return sig_digits(t);
	}
	snprintf(t, sizeof(t), "%.17g", d);
	return sig_digits(t);
}

/* Every number reads back as the same double (bit for bit), written with
 * no more significant digits than needed. */
static void floats_shortest(void)
{
	enum { N = 200 };
	static uint8_t mp[N][9];
	static double d[N];
	struct veld_field f[N];
	char names[N][8];
	uint64_t seed = 20250501;
	uint8_t rec[16];
	struct texts x;
	char *values;

	setup();
	for (int i = 0; i < N; i++) {
		if (i % 2) {
			/* Any normal double: random bits, exponent not 0
			 * (zero, subnormal) nor 0x7ff (inf, NaN). */
			uint64_t u;
			do
				u = test_rand(&seed);
			while (((u >> 52) & 0x7ff) == 0 ||
			       ((u >> 52) & 0x7ff) == 0x7ff);
			memcpy(&d[i], &u, sizeof(d[i]));
		} else {
			/* A short decimal, scaled: few digits suffice. */
			static const double scale[] = {1, 1e-3, 1e7, 1e-12,
						       1e200};
			d[i] = (double)(test_rand(&seed) % 1000000) *
			       scale[i / 2 % 5];
		}
		snprintf(names[i], sizeof(names[i]), "r%03d", i);
		mp_f64(mp[i], d[i]);
		f[i] = (struct veld_field){names[i], NULL, mp[i], 9};
	}
	now_ms = T0 + 1000;
	CHECK_ERR(veld_replica_put(A, rec, 1, "huisbezoek", NULL, f, N, NULL),
		  0);
	CHECK_EQ(detail(veld_replica_store(A), rec, &x), 1);
	values = x.n == 1 ? member(x.t[0], "values") : NULL;
	CHECK(values != NULL);
	for (int i = 0; values && i < N; i++) {
		char *num = member(values, names[i]);
		double back = num ? strtod(num, NULL) : 0;
		uint64_t want_bits, got_bits;
		int ok;

		memcpy(&want_bits, &d[i], 8);
		memcpy(&got_bits, &back, 8);
		ok = num && got_bits == want_bits &&
		     sig_digits(num) == fewest_digits(d[i]);
		if (ok) {
			test_passed++;
		} else {
			test_failed++;
			fprintf(stderr,
				"%s: %.17g written as %s (%d digits, "
				"%d needed)\n",
				names[i], d[i], num ? num : "(none)",
				num ? sig_digits(num) : 0, fewest_digits(d[i]));
		}
		free(num);
	}
	free(values);
	texts_release(&x);
	teardown();
}

/* --- conflicts, notes and history, in detail --- */

/* One entry of "current". */
static void cur_entry(struct sb *b, const char *value, int winner,
		      const uint8_t op[32], const char *author,
		      const char *device, uint64_t ms)
{
	char hop[65], t[32];

	hex(op, 32, hop);
	iso(ms, t);
	sb_add(b,
	       "{\"value\":%s,\"winner\":%s,\"op\":\"%s\",\"author\":\"%s\","
	       "\"device\":%s,\"time\":\"%s\"}",
	       value, winner ? "true" : "false", hop, author, device, t);
}

/* One entry of "history". */
static void hist_entry(struct sb *b, const uint8_t op[32], const char *author,
		       const char *device, uint64_t ms, int seq,
		       const char *kind, const char *status)
{
	char hop[65], t[32];

	hex(op, 32, hop);
	iso(ms, t);
	sb_add(b,
	       "{\"op\":\"%s\",\"author\":\"%s\",\"device\":%s,\"time\":\"%s\","
	       "\"seq\":%d,\"kind\":\"%s\",\"status\":\"%s\"}",
	       hop, author, device, t, seq, kind, status);
}

static void conflict_detail(void)
{
	uint8_t rec[16], a1[32], a2[32], b1[32], a3[32], c1[32], b2[32];
	const uint64_t t1 = T0 + 1000, t2 = T0 + 2000, t3 = T0 + 3000,
		       t4 = T0 + 4000, t5 = T0 + 5000, t6 = T0 + 6000,
		       t7 = T0 + 7000;
	struct veld_field f[] = {{"street", "Kerkstraat", NULL, 0},
				 {"wish", "bankjes", NULL, 0}};
	struct veld_record_filter only = {0};
	char hrec[33], ts1[32], ts4[32], hn[65], ts[32];
	struct sb want = {0};
	struct texts x;

	setup();
	now_ms = t1;
	CHECK_ERR(veld_replica_put(A, rec, 1, "huisbezoek", "noord", f, 2, a1),
		  0);
	sync_all();
	/* A and B change the wish without seeing each other: a conflict. */
	put_text(A, t2, rec, 0, "wish", "bloemen", a2);
	put_text(B, t3, rec, 0, "wish", "speeltuin", b1);
	now_ms = t4;
	CHECK_ERR(veld_replica_note(A, rec, "eerste \"noot\"\nregel 2", a3), 0);
	sync_all();

	hex(rec, 16, hrec);
	iso(t1, ts1);
	iso(t4, ts4);
	hex(a3, 32, hn);
	/* B's value is the later one: the display winner, listed first. */
	sb_add(&want,
	       "{\"id\":\"%s\",\"form\":\"huisbezoek\",\"area\":\"noord\","
	       "\"street\":\"Kerkstraat\",\"followup\":null,"
	       "\"created\":\"%s\",\"updated\":\"%s\",\"deleted\":false,"
	       "\"delete_conflict\":false,\"conflicts\":1,\"erased\":false,"
	       "\"values\":{\"street\":\"Kerkstraat\",\"wish\":\"speeltuin\"},"
	       "\"current\":{\"street\":[",
	       hrec, ts1, ts4);
	cur_entry(&want, "\"Kerkstraat\"", 1, a1, hA, "\"Ahmed\"", t1);
	sb_add(&want, "],\"wish\":[");
	cur_entry(&want, "\"speeltuin\"", 1, b1, hB, "\"Bea\"", t3);
	sb_add(&want, ",");
	cur_entry(&want, "\"bloemen\"", 0, a2, hA, "\"Ahmed\"", t2);
	sb_add(&want,
	       "]},\"notes\":[{\"op\":\"%s\",\"author\":\"%s\","
	       "\"device\":\"Ahmed\",\"time\":\"%s\","
	       "\"text\":\"eerste \\\"noot\\\"\\nregel 2\","
	       "\"erased\":false}],\"history\":[",
	       hn, hA, ts4);
	hist_entry(&want, a1, hA, "\"Ahmed\"", t1, 1, "put", "applied");
	sb_add(&want, ",");
	hist_entry(&want, a2, hA, "\"Ahmed\"", t2, 2, "put", "applied");
	sb_add(&want, ",");
	hist_entry(&want, b1, hB, "\"Bea\"", t3, 1, "put", "applied");
	sb_add(&want, ",");
	hist_entry(&want, a3, hA, "\"Ahmed\"", t4, 3, "note", "applied");
	sb_add(&want, "]}");
	CHECK_EQ(detail(veld_replica_store(S), rec, &x), 1);
	CHECK_EQ(x.n, 1);
	CHECK_STR(x.t[0], want.p);
	texts_release(&x);
	/* Every replica prints the same text. */
	CHECK_EQ(detail(veld_replica_store(C), rec, &x), 1);
	CHECK_STR(x.t[0], want.p);
	texts_release(&x);

	/* The list shows the winner and the count; it is a conflict. */
	only.only_conflicts = 1;
	CHECK_ERR(list(veld_replica_store(S), &only, &x), 0);
	CHECK_EQ(x.n, 1);
	CHECK_MEMBER(x.t[0], "conflicts", "1");
	CHECK_MEMBER(x.t[0], "values",
		     "{\"street\":\"Kerkstraat\",\"wish\":\"speeltuin\"}");
	CHECK_MEMBER(x.t[0], "current", NULL);
	CHECK_MEMBER(x.t[0], "notes", NULL);
	texts_release(&x);

	/* The coordinator resolves it: one value again. */
	put_text(C, t5, rec, 0, "wish", "bankjes en bloemen", c1);
	sync_all();
	CHECK_ERR(list(veld_replica_store(S), &only, &x), 0);
	CHECK_EQ(x.n, 0);
	texts_release(&x);
	sb_release(&want);
	sb_add(&want, "{\"street\":[");
	cur_entry(&want, "\"Kerkstraat\"", 1, a1, hA, "\"Ahmed\"", t1);
	sb_add(&want, "],\"wish\":[");
	cur_entry(&want, "\"bankjes en bloemen\"", 1, c1, hC, "\"Carla\"", t5);
	sb_add(&want, "]}");
	CHECK_EQ(detail(veld_replica_store(S), rec, &x), 1);
	CHECK_MEMBER(x.t[0], "conflicts", "0");
	CHECK_MEMBER(x.t[0], "current", want.p);
	texts_release(&x);

	/* B, revoked at t6, writes at t7 without knowing: stored for the
	 * chain (void), not in the state. */
	now_ms = t6;
	CHECK_ERR(
		veld_replica_device(S, kB.pk, "field", "Bea", "noord", 1, NULL),
		0);
	put_text(B, t7, rec, 0, "wish", "glijbaan", b2);
	ship(B, S);
	CHECK_EQ(detail(veld_replica_store(S), rec, &x), 1);
	CHECK_MEMBER(x.t[0], "values",
		     "{\"street\":\"Kerkstraat\",\"wish\":\"bankjes en "
		     "bloemen\"}");
	sb_release(&want);
	hist_entry(&want, b2, hB, "\"Bea\"", t7, 2, "put", "void");
	sb_add(&want, "]}");
	/* Its entry ends the history. */
	CHECK(strlen(x.t[0]) > want.len);
	if (strlen(x.t[0]) > want.len)
		CHECK_STR(x.t[0] + strlen(x.t[0]) - want.len, want.p);
	/* Only applied ops move "updated". */
	iso(t5, ts);
	sb_release(&want);
	sb_add(&want, "\"%s\"", ts);
	CHECK_MEMBER(x.t[0], "updated", want.p);
	texts_release(&x);
	sb_release(&want);
	teardown();
}

/* Two devices with one key sign two different ops 2: the fork evidence
 * shows as "fork", the first op 2 as "void". */
static void fork_history(void)
{
	struct veld_replica *A2;
	uint8_t rec[16], a1[32], a2[32], a2x[32];
	struct sb want = {0};
	struct texts x;

	setup();
	put_text(A, T0 + 1000, rec, 1, "wish", "bankjes", a1);
	ship(A, S);
	A2 = open_replica(&kA);
	ship(S, A2);
	put_text(A, T0 + 2000, rec, 0, "wish", "bloemen", a2);
	put_text(A2, T0 + 3000, rec, 0, "wish", "bomen", a2x);
	ship(A, S);
	ship(A2, S);
	sb_add(&want, "[");
	hist_entry(&want, a1, hA, "\"Ahmed\"", T0 + 1000, 1, "put", "applied");
	sb_add(&want, ",");
	hist_entry(&want, a2, hA, "\"Ahmed\"", T0 + 2000, 2, "put", "void");
	sb_add(&want, ",");
	hist_entry(&want, a2x, hA, "\"Ahmed\"", T0 + 3000, 2, "put", "fork");
	sb_add(&want, "]");
	CHECK_EQ(detail(veld_replica_store(S), rec, &x), 1);
	CHECK_MEMBER(x.t[0], "history", want.p);
	CHECK_MEMBER(x.t[0], "values", "{\"wish\":\"bankjes\"}");
	texts_release(&x);
	sb_release(&want);
	veld_replica_close(A2);
	teardown();
}

/* --- the list: order (newest first) and filters --- */

enum { NREC = 6 };
static uint8_t recs[NREC][16];

/* The records of the texts, by number ("3 2 1"), in the order given. */
static void order_of(const struct texts *x, char *out, size_t cap)
{
	size_t len = 0;

	out[0] = 0;
	for (int i = 0; i < x->n && i < TEXTS_MAX; i++) {
		char *id = member(x->t[i], "id"), h[35];
		int which = 0;
		for (int r = 0; r < NREC && id; r++) {
			h[0] = '"';
			hex(recs[r], 16, h + 1);
			h[33] = '"';
			h[34] = 0;
			if (strcmp(id, h) == 0)
				which = r + 1;
		}
		free(id);
		len += (size_t)snprintf(out + len, cap - len, "%s%d",
					len ? " " : "", which);
		if (len >= cap)
			abort();
	}
}

static void check_order(const char *file, int line,
			const struct veld_record_filter *f, const char *want)
{
	struct texts x;
	char got[64];
	int rc = list(veld_replica_store(S), f, &x);

	if (rc != 0) {
		test_failed++;
		fprintf(stderr, "%s:%d: list: %s\n", file, line,
			veld_err_name(rc));
	}
	order_of(&x, got, sizeof(got));
	check_str(file, line, "order", got, want);
	texts_release(&x);
}

#define CHECK_ORDER(f, want) check_order(__FILE__, __LINE__, (f), (want))

static void put_rec(struct veld_replica *r, uint64_t ms, uint8_t rec[16],
		    const char *form, const char *area,
		    const struct veld_field *f, size_t n)
{
	now_ms = ms;
	CHECK_ERR(veld_replica_put(r, rec, 1, form, area, f, n, NULL), 0);
}

static void list_order_filters(void)
{
	struct veld_field f1[] = {{"followup", "open", NULL, 0},
				  {"street", "Kerkstraat", NULL, 0}};
	struct veld_field f2[] = {{"street", "Dorpsweg", NULL, 0}};
	struct veld_field f3[] = {{"followup", "klaar", NULL, 0},
				  {"street", "Kerkstraat", NULL, 0}};
	struct veld_field f4[] = {{"wish", "x", NULL, 0}};
	struct veld_record_filter f;
	struct texts x;
	uint8_t zero[16] = {0}, got[16];
	char hx[33], hr6[33], hr4[33];

	setup();
	put_rec(A, T0 + 1000, recs[0], "huisbezoek", "noord", f1, 2);
	put_rec(B, T0 + 2000, recs[1], "melding", "zuid", f2, 1);
	put_rec(A, T0 + 3000, recs[2], "huisbezoek", "zuid", f3, 2);
	put_rec(A, T0 + 4000, recs[3], "melding", "noord", f4, 1);
	now_ms = T0 + 5000;
	CHECK_ERR(veld_replica_delete(A, recs[3], NULL), 0);
	put_rec(S, T0 + 6000, recs[4], "melding", NULL, f4, 1); /* the root */
	put_rec(A, T0 + 7000, recs[5], "huisbezoek", "noord", f4, 1);
	sync_all();
	/* A edits record 6 while B deletes it, unseen: a delete conflict. */
	put_text(A, T0 + 8000, recs[5], 0, "needs", "handgreep", NULL);
	now_ms = T0 + 9000;
	CHECK_ERR(veld_replica_delete(B, recs[5], NULL), 0);
	sync_all();

	/* Newest change first; deleted records only when asked for. */
	CHECK_ORDER(NULL, "6 5 3 2 1");
	memset(&f, 0, sizeof(f));
	CHECK_ORDER(&f, "6 5 3 2 1");
	f.include_deleted = 1;
	CHECK_ORDER(&f, "6 5 4 3 2 1");
	memset(&f, 0, sizeof(f));
	f.form = "huisbezoek";
	CHECK_ORDER(&f, "6 3 1");
	f.area = "zuid";
	CHECK_ORDER(&f, "3");
	memset(&f, 0, sizeof(f));
	f.form = "melding";
	CHECK_ORDER(&f, "5 2");
	f.include_deleted = 1;
	CHECK_ORDER(&f, "5 4 2");
	memset(&f, 0, sizeof(f));
	f.area = "noord";
	CHECK_ORDER(&f, "6 1");
	memset(&f, 0, sizeof(f));
	f.street = "Kerkstraat";
	CHECK_ORDER(&f, "3 1");
	memset(&f, 0, sizeof(f));
	f.followup = "open";
	CHECK_ORDER(&f, "1");
	f.followup = "klaar";
	CHECK_ORDER(&f, "3");
	memset(&f, 0, sizeof(f));
	f.only_conflicts = 1;
	CHECK_ORDER(&f, "6");
	memset(&f, 0, sizeof(f));
	f.updated_since = VELD_HLC_MAKE(T0 + 3000, 0);
	CHECK_ORDER(&f, "6 5 3");
	memset(&f, 0, sizeof(f));
	f.form = "nope";
	CHECK_ORDER(&f, "");

	/* What the flags look like. */
	memset(&f, 0, sizeof(f));
	f.include_deleted = 1;
	CHECK_ERR(list(veld_replica_store(S), &f, &x), 0);
	CHECK_EQ(x.n, 6);
	hex(recs[5], 16, hr6);
	hex(recs[3], 16, hr4);
	{
		char want[600];
		snprintf(want, sizeof(want),
			 "{\"id\":\"%s\",\"form\":\"huisbezoek\","
			 "\"area\":\"noord\",\"street\":null,"
			 "\"followup\":null,"
			 "\"created\":\"2023-11-14T22:13:27.000Z\","
			 "\"updated\":\"2023-11-14T22:13:29.000Z\","
			 "\"deleted\":false,\"delete_conflict\":true,"
			 "\"conflicts\":0,\"erased\":false,"
			 "\"values\":{\"needs\":\"handgreep\"}}",
			 hr6);
		CHECK_STR(x.t[0], want);
		snprintf(want, sizeof(want),
			 "{\"id\":\"%s\",\"form\":\"melding\","
			 "\"area\":\"noord\",\"street\":null,"
			 "\"followup\":null,"
			 "\"created\":\"2023-11-14T22:13:24.000Z\","
			 "\"updated\":\"2023-11-14T22:13:25.000Z\","
			 "\"deleted\":true,\"delete_conflict\":false,"
			 "\"conflicts\":0,\"erased\":false,\"values\":{}}",
			 hr4);
		CHECK_STR(x.t[2], want);
	}
	CHECK_MEMBER(x.t[1], "area", "null"); /* the root named none */
	CHECK_MEMBER(x.t[3], "street", "\"Kerkstraat\"");
	CHECK_MEMBER(x.t[3], "followup", "\"klaar\"");
	texts_release(&x);

	/* The root is not a registered device: its name is null. */
	CHECK_EQ(detail(veld_replica_store(S), recs[4], &x), 1);
	{
		char *cur = member(x.t[0], "current");
		char want[300];
		CHECK(cur && strstr(cur, "\"device\":null,") != NULL);
		snprintf(want, sizeof(want), "\"author\":\"%s\",", hS);
		CHECK(cur && strstr(cur, want) != NULL);
		free(cur);
	}
	texts_release(&x);

	/* fn's nonzero stops the walk and is returned. */
	memset(&x, 0, sizeof(x));
	x.stop_at = 2;
	x.stop_rc = 42;
	CHECK_EQ(veld_store_records_json(veld_replica_store(S), NULL, collect,
					 &x),
		 42);
	CHECK_EQ(x.n, 2);
	texts_release(&x);
	memset(&x, 0, sizeof(x));
	x.stop_at = 1;
	x.stop_rc = 9;
	CHECK_EQ(veld_store_record_json(veld_replica_store(S), recs[0], collect,
					&x),
		 9);
	CHECK_EQ(x.n, 1);
	texts_release(&x);
	/* An unknown record: 0, and fn is not called. */
	CHECK_EQ(detail(veld_replica_store(S), zero, &x), 0);
	CHECK_EQ(x.n, 0);
	texts_release(&x);

	/* Every listed id leads back to its record, in either case; so does
	 * the deleted one. */
	for (int r = 0; r < NREC; r++) {
		hex(recs[r], 16, hx);
		memset(got, 0, sizeof(got));
		CHECK_ERR(veld_store_record_prefix(veld_replica_store(S), hx,
						   got),
			  0);
		CHECK_MEM(got, recs[r], 16);
		for (char *c = hx; *c; c++)
			if (*c >= 'a' && *c <= 'f')
				*c = (char)(*c - 'a' + 'A');
		memset(got, 0, sizeof(got));
		CHECK_ERR(veld_store_record_prefix(veld_replica_store(S), hx,
						   got),
			  0);
		CHECK_MEM(got, recs[r], 16);
	}
	teardown();
}

/* --- erased records --- */

static void erased_record(void)
{
	uint8_t rec[16], a1[32], a2[32], c1[32], got[16];
	struct veld_field f[] = {{"street", "Kerkstraat", NULL, 0},
				 {"wish", "bankjes", NULL, 0}};
	struct sb want = {0};
	char hrec[33], hn[65], t1[32], t3[32], tn[32];
	struct texts x;

	setup();
	now_ms = T0 + 1000;
	CHECK_ERR(veld_replica_put(A, rec, 1, "huisbezoek", "noord", f, 2, a1),
		  0);
	now_ms = T0 + 2000;
	CHECK_ERR(veld_replica_note(A, rec, "mevrouw J., 84", a2), 0);
	sync_all();
	now_ms = T0 + 3000;
	CHECK_ERR(veld_replica_erase(C, rec, c1), 0);
	sync_all();

	hex(rec, 16, hrec);
	hex(a2, 32, hn);
	iso(T0 + 1000, t1);
	iso(T0 + 2000, tn);
	iso(T0 + 3000, t3);
	/* No values, no street; the note keeps author and time only. */
	sb_add(&want,
	       "{\"id\":\"%s\",\"form\":\"huisbezoek\",\"area\":\"noord\","
	       "\"street\":null,\"followup\":null,\"created\":\"%s\","
	       "\"updated\":\"%s\",\"deleted\":false,"
	       "\"delete_conflict\":false,\"conflicts\":0,\"erased\":true,"
	       "\"values\":{},\"current\":{},\"notes\":[{\"op\":\"%s\","
	       "\"author\":\"%s\",\"device\":\"Ahmed\",\"time\":\"%s\","
	       "\"text\":null,\"erased\":true}],\"history\":[",
	       hrec, t1, t3, hn, hA, tn);
	hist_entry(&want, a1, hA, "\"Ahmed\"", T0 + 1000, 1, "put", "applied");
	sb_add(&want, ",");
	hist_entry(&want, a2, hA, "\"Ahmed\"", T0 + 2000, 2, "note", "applied");
	sb_add(&want, ",");
	hist_entry(&want, c1, hC, "\"Carla\"", T0 + 3000, 1, "erase",
		   "applied");
	sb_add(&want, "]}");
	CHECK_EQ(detail(veld_replica_store(S), rec, &x), 1);
	CHECK_STR(x.t[0], want.p);
	texts_release(&x);
	/* Listed like any other (it is not deleted). */
	CHECK_ERR(list(veld_replica_store(S), NULL, &x), 0);
	CHECK_EQ(x.n, 1);
	CHECK_MEMBER(x.t[0], "erased", "true");
	CHECK_MEMBER(x.t[0], "values", "{}");
	texts_release(&x);
	/* It still exists for a short id. */
	hrec[6] = 0;
	CHECK_ERR(veld_store_record_prefix(veld_replica_store(S), hrec, got),
		  0);
	CHECK_MEM(got, rec, 16);
	sb_release(&want);
	teardown();
}

/* --- a hand-made store: id prefixes, stored values, errors --- */

static void fill_id(uint8_t id[16], const char *h)
{
	if (unhex(h, id, 16) != 16)
		abort();
}

/*
 * Append a signed put by kA on record id to the log, in the open
 * transaction, and return its log position: a stored value row names
 * the op it comes from by that position (store.h), so every row these
 * tests write needs a real op behind it.
 */
static int64_t log_op(struct veld_store *s, const uint8_t id[16])
{
	static uint64_t seq;
	static uint8_t prev[32];
	struct veld_op_header h;
	struct veld_buf body, raw;
	struct veld_op op;
	msgpack_packer pk;
	uint8_t salt[16] = {0}, opid[32];

	memset(&h, 0, sizeof(h));
	h.seq = ++seq;
	h.has_prev = seq > 1;
	memcpy(h.prev, prev, 32);
	h.hlc = VELD_HLC_MAKE(T0, seq);
	memcpy(h.record, id, 16);
	h.kind = VELD_KIND_PUT;
	veld_buf_init(&body, VELD_BODY_MAX);
	veld_buf_init(&raw, VELD_OP_MAX);
	veld_buf_packer_init(&pk, &body);
	CHECK_EQ(veld_body_begin(&pk, salt), 0);
	msgpack_pack_map(&pk, 1);
	msgpack_pack_str_with_body(&pk, "set", 3);
	msgpack_pack_map(&pk, 0);
	CHECK_EQ(veld_op_create(&kA, &h, body.data, body.len, &raw, opid), 0);
	memcpy(prev, opid, 32);
	CHECK_EQ(veld_op_decode(raw.data, raw.len, &op), 0);
	CHECK_EQ(veld_store_op_insert(s, &op, 1, VELD_STATUS_APPLIED), 0);
	veld_buf_release(&body);
	veld_buf_release(&raw);
	return veld_store_ops_last(s);
}

static void add_record(struct veld_store *s, const char *idhex,
		       uint64_t updated_ms, int deleted, int erased,
		       const struct veld_value_row *v, size_t nv)
{
	struct veld_record_row r;
	struct veld_value_row rows[8];

	CHECK(nv <= 8);
	memset(&r, 0, sizeof(r));
	fill_id(r.id, idhex);
	r.form = "huisbezoek";
	r.created = VELD_HLC_MAKE(T0, 0);
	r.updated = VELD_HLC_MAKE(updated_ms, 7);
	r.deleted = deleted;
	r.erased = erased;
	CHECK_ERR(veld_store_begin(s), 0);
	for (size_t i = 0; i < nv && i < 8; i++) {
		rows[i] = v[i];
		rows[i].pos = log_op(s, r.id);
	}
	CHECK_ERR(veld_store_record_replace(s, &r, rows, nv, NULL, 0), 0);
	CHECK_ERR(veld_store_commit(s), 0);
}

struct prefix_case {
	const char *hex;
	int want;
	const char *id; /* the record found, when want is 0 */
};

#define ID0 "00000000000000000000000000000000"
#define IDF "ffffffffffffffffffffffffffffffff"
#define IDA "ab120000000000000000000000000000"
#define IDB "ab12ffffffffffffffffffffffffffff"
#define IDC "ab13000000000000000000000000000f"
#define IDD "abc00000000000000000000000000000"

static const struct prefix_case prefix_cases[] = {
	{"0", 0, ID0},
	{ID0, 0, ID0},
	{"f", 0, IDF},
	{"F", 0, IDF},
	{IDF, 0, IDF},
	{"FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF", 0, IDF},
	{"a", VELD_EAMBIGUOUS, NULL},
	{"ab", VELD_EAMBIGUOUS, NULL},
	{"ab1", VELD_EAMBIGUOUS, NULL},
	{"AB12", VELD_EAMBIGUOUS, NULL},
	{"ab120", 0, IDA}, /* odd lengths: the low and high half byte */
	{"ab12f", 0, IDB},
	{"ab13", 0, IDC},
	{"Ab13", 0, IDC},
	{"abc", 0, IDD},
	{"ABC0", 0, IDD},
	{IDB, 0, IDB},
	{IDC, 0, IDC},
	{"ab13000000000000000000000000000F", 0, IDC},
	{"1", VELD_ENOTFOUND, NULL},
	{"fe", VELD_ENOTFOUND, NULL},
	{"ab14", VELD_ENOTFOUND, NULL},
	{"abd", VELD_ENOTFOUND, NULL},
	{"ab121", VELD_ENOTFOUND, NULL},
	{"ab12fffffffffffffffffffffffffffe", VELD_ENOTFOUND, NULL},
	{"ab13000000000000000000000000000e", VELD_ENOTFOUND, NULL},
	{"ab130000000000000000000000000010", VELD_ENOTFOUND, NULL},
	{"", VELD_EINVAL, NULL},
	{"g", VELD_EINVAL, NULL},
	{"ab1g", VELD_EINVAL, NULL},
	{"0xab", VELD_EINVAL, NULL},
	{" ab", VELD_EINVAL, NULL},
	{"ab ", VELD_EINVAL, NULL},
	{"ab-1", VELD_EINVAL, NULL},
	{"\xc3\xa9", VELD_EINVAL, NULL},
	{ID0 "0", VELD_EINVAL, NULL}, /* 33 digits */
	{IDC "0", VELD_EINVAL, NULL},
};

static void prefixes(void)
{
	struct veld_store *s;
	uint8_t got[16], want[16];

	CHECK_ERR(veld_store_open(":memory:", &s), 0);
	CHECK_ERR(veld_store_record_prefix(s, "ab", got), VELD_ENOTFOUND);
	CHECK_ERR(veld_store_record_prefix(s, "x", got), VELD_EINVAL);
	/* Deleted and erased records count: they still exist. */
	add_record(s, ID0, T0, 0, 0, NULL, 0);
	add_record(s, IDF, T0, 0, 0, NULL, 0);
	add_record(s, IDA, T0, 1, 0, NULL, 0);
	add_record(s, IDB, T0, 0, 1, NULL, 0);
	add_record(s, IDC, T0, 0, 0, NULL, 0);
	add_record(s, IDD, T0, 0, 0, NULL, 0);
	for (size_t i = 0; i < sizeof(prefix_cases) / sizeof(prefix_cases[0]);
	     i++) {
		const struct prefix_case *c = &prefix_cases[i];
		int rc;
		memset(got, 0x55, sizeof(got));
		rc = veld_store_record_prefix(s, c->hex, got);
		if (rc != c->want) {
			test_failed++;
			fprintf(stderr, "prefix \"%s\": got %s, want %s\n",
				c->hex, veld_err_name(rc),
				veld_err_name(c->want));
		} else {
			test_passed++;
		}
		if (c->id) {
			fill_id(want, c->id);
			CHECK_MEM(got, want, 16);
		}
	}
	veld_store_close(s);
}

static void stored_values(void)
{
	static const uint8_t v_true[] = {0xc3}, v_nonc[] = {0xcc, 0x05},
			     v_trunc[] = {0xcd, 0x01}, v_ext[] = {0xd4, 1, 2};
	struct veld_value_row v[2];
	struct veld_store *s;
	struct texts x;
	uint8_t id[16];

	CHECK_ERR(veld_store_open(":memory:", &s), 0);
	CHECK_ERR(list(s, NULL, &x), 0); /* empty: no call */
	CHECK_EQ(x.n, 0);
	texts_release(&x);

	/* An erased value (NULL in the store) is null; times use the hlc's
	 * milliseconds, to the millisecond, at both ends of a second. */
	memset(v, 0, sizeof(v));
	v[0].field = "a";
	v[0].winner = 1;
	v[1].field = "b";
	v[1].value = v_true;
	v[1].value_len = sizeof(v_true);
	v[1].winner = 1;
	add_record(s, ID0, T0 + 999, 0, 0, v, 2);
	add_record(s, IDF, UINT64_C(4102444800001), 0, 0, NULL, 0);
	CHECK_ERR(list(s, NULL, &x), 0);
	CHECK_EQ(x.n, 2);
	CHECK_MEMBER(x.t[0], "id", "\"" IDF "\"");
	CHECK_MEMBER(x.t[0], "updated", "\"2100-01-01T00:00:00.001Z\"");
	CHECK_MEMBER(x.t[0], "values", "{}");
	CHECK_MEMBER(x.t[0], "area", "null");
	CHECK_MEMBER(x.t[1], "created", "\"2023-11-14T22:13:20.000Z\"");
	CHECK_MEMBER(x.t[1], "updated", "\"2023-11-14T22:13:20.999Z\"");
	CHECK_MEMBER(x.t[1], "values", "{\"a\":null,\"b\":true}");
	texts_release(&x);
	fill_id(id, ID0);
	CHECK_EQ(detail(s, id, &x), 1);
	CHECK_MEMBER(x.t[0], "notes", "[]");
	{
		/* The two puts behind the two values, in log order. */
		char *his = member(x.t[0], "history");
		CHECK(his && strncmp(his, "[{\"op\":\"", 8) == 0);
		CHECK(his && strstr(his, "\"seq\":1,\"kind\":\"put\"") &&
		      strstr(his, "\"seq\":2,\"kind\":\"put\"") &&
		      !strstr(his, "\"seq\":3,"));
		free(his);
	}
	{
		char *cur = member(x.t[0], "current");
		CHECK(cur &&
		      strncmp(cur, "{\"a\":[{\"value\":null,\"winner\":true,",
			      34) == 0);
		CHECK(cur && strstr(cur, "\"device\":null") != NULL);
		free(cur);
	}
	texts_release(&x);

	/* A stored value that is not canonical msgpack: the decoder's code,
	 * and no text for that record.  The list stops there too. */
	{
		const uint8_t *bad[] = {v_nonc, v_trunc, v_ext};
		const size_t len[] = {sizeof(v_nonc), sizeof(v_trunc),
				      sizeof(v_ext)};
		const int err[] = {VELD_ENONCANON, VELD_ETRUNCATED, VELD_EEXT};
		for (int i = 0; i < 3; i++) {
			v[0].value = bad[i];
			v[0].value_len = len[i];
			add_record(s, IDC, T0 + 5000, 0, 0, v, 1);
			fill_id(id, IDC);
			CHECK_ERR(detail(s, id, &x), err[i]);
			CHECK_EQ(x.n, 0);
			texts_release(&x);
			/* The newer record has been handed out. */
			CHECK_ERR(list(s, NULL, &x), err[i]);
			CHECK_EQ(x.n, 1);
			CHECK_MEMBER(x.t[0], "id", "\"" IDF "\"");
			texts_release(&x);
		}
	}
	/* Gone again, everything reads as before: the helpers leave
	 * nothing behind after an error. */
	fill_id(id, IDC);
	CHECK_ERR(veld_store_record_delete(s, id), 0);
	CHECK_ERR(list(s, NULL, &x), 0);
	CHECK_EQ(x.n, 2);
	CHECK_MEMBER(x.t[1], "values", "{\"a\":null,\"b\":true}");
	texts_release(&x);
	veld_store_close(s);
}

int main(void)
{
	if (sodium_init() < 0)
		return 1;
	util_key(&kS, 1);
	util_key(&kC, 2);
	util_key(&kA, 3);
	util_key(&kB, 4);
	hex(kS.pk, 32, hS);
	hex(kC.pk, 32, hC);
	hex(kA.pk, 32, hA);
	hex(kB.pk, 32, hB);
	checker_self_test();
	values_exact();
	values_long();
	floats_shortest();
	conflict_detail();
	fork_history();
	list_order_filters();
	erased_record();
	prefixes();
	stored_values();
	return test_summary("test_records_json");
}
