/*
 * test_form.c - client/form.c: decoding a form definition and turning
 * typed text into the canonical value of each field type.
 *
 * The definition is packed here the way veldd form import packs it
 * (docs/forms.md "What is signed"); every value veld_form_parse makes must
 * be canonical msgpack (veld_canon_check) of exactly the expected bytes.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "buf.h"
#include "canon.h"
#include "form.h"
#include "test.h"

static void pack_s(msgpack_packer *pk, const char *s)
{
	msgpack_pack_str_with_body(pk, s, strlen(s));
}

/* A field map: keys in ascending byte order, as canonical msgpack wants. */
static void field(msgpack_packer *pk, const char *name, const char *type,
		  const char *const *choices, int nchoices, int required,
		  int personal)
{
	int n = 2 + (nchoices > 0) + (required >= 0) + (personal > 0);

	msgpack_pack_map(pk, n);
	if (nchoices > 0) {
		pack_s(pk, "choices");
		msgpack_pack_array(pk, nchoices);
		for (int i = 0; i < nchoices; i++)
			pack_s(pk, choices[i]);
	}
	pack_s(pk, "name");
	pack_s(pk, name);
	if (personal > 0) {
		pack_s(pk, "personal");
		msgpack_pack_true(pk);
	}
	if (required >= 0) {
		pack_s(pk, "required");
		required ? msgpack_pack_true(pk) : msgpack_pack_false(pk);
	}
	pack_s(pk, "type");
	pack_s(pk, type);
}

static const char *const knows[] = {"ja", "een beetje", "nee"};
static const char *const needs[] = {"beugel", "schimmel", "schulden"};

static struct veld_form *make_form(void)
{
	struct veld_buf b;
	msgpack_packer pk;
	struct veld_form *f = NULL;

	veld_buf_init(&b, 65536);
	veld_buf_packer_init(&pk, &b);
	msgpack_pack_map(&pk, 2);
	pack_s(&pk, "fields");
	msgpack_pack_array(&pk, 9);
	field(&pk, "street", "text", NULL, 0, 1, 0);
	field(&pk, "house_number", "integer", NULL, 0, -1, 0);
	field(&pk, "at_home", "bool", NULL, 0, -1, 0);
	field(&pk, "knows", "choice", knows, 3, 0, 0);
	field(&pk, "needs", "multi", needs, 3, 1, 0);
	field(&pk, "score", "number", NULL, 0, -1, 0);
	field(&pk, "day", "date", NULL, 0, -1, 0);
	field(&pk, "time", "datetime", NULL, 0, -1, 0);
	field(&pk, "consent", "bool", NULL, 0, -1, 0);
	pack_s(&pk, "title");
	pack_s(&pk, "Test\033[31m");
	CHECK(b.err == 0);
	CHECK_ERR(veld_canon_check(b.data, b.len), 0);
	CHECK_ERR(veld_form_decode("test", b.data, b.len, &f), 0);
	veld_buf_release(&b);
	return f;
}

/* Parse text for field name; 0 and the bytes in out, or the error. */
static int parse(struct veld_form *f, const char *name, const char *text,
		 int numbered, struct veld_buf *out)
{
	char why[512];
	int k = veld_form_find(f, name);
	int rc;

	if (k < 0)
		return VELD_ENOTFOUND;
	rc = veld_form_parse(&f->fields[k], text, numbered, out, why,
			     sizeof(why));
	if (rc == 0)
		CHECK_ERR(veld_canon_check(out->data, out->len), 0);
	else
		CHECK(strstr(why, name) != NULL); /* the message names it */
	return rc;
}

/* The expected canonical bytes, from msgpack-c's packer. */
#define EXPECT(f, name, text, numbered, ...)                                   \
	do {                                                                   \
		struct veld_buf wbuf_, gbuf_;                                  \
		msgpack_packer wp_;                                            \
		veld_buf_init(&wbuf_, 4096);                                   \
		veld_buf_init(&gbuf_, 4096);                                   \
		veld_buf_packer_init(&wp_, &wbuf_);                            \
		__VA_ARGS__;                                                   \
		CHECK_ERR(parse(f, name, text, numbered, &gbuf_), 0);          \
		CHECK_EQ(gbuf_.len, wbuf_.len);                                \
		if (gbuf_.len == wbuf_.len)                                    \
			CHECK_MEM(gbuf_.data, wbuf_.data, gbuf_.len);          \
		veld_buf_release(&wbuf_);                                      \
		veld_buf_release(&gbuf_);                                      \
	} while (0)

static void refused(struct veld_form *f, const char *name, const char *text,
		    int numbered)
{
	struct veld_buf b;

	veld_buf_init(&b, 4096);
	CHECK_ERR(parse(f, name, text, numbered, &b), VELD_EINVAL);
	veld_buf_release(&b);
}

static void definition(struct veld_form *f)
{
	CHECK_EQ(f->n, 9);
	CHECK(strcmp(f->fields[1].name, "house_number") == 0);
	CHECK_EQ(f->fields[1].type, VELD_FT_INTEGER);
	CHECK_EQ(f->fields[0].required, 1);
	CHECK_EQ(f->fields[3].nchoices, 3);
	CHECK_EQ(f->at_home, 2);
	CHECK_EQ(f->consent, 8);
	/* Control characters from a form never reach the terminal. */
	CHECK(strcmp(f->title, "Test [31m") == 0);
	CHECK_EQ(veld_form_find(f, "nope"), -1);
}

static void values(struct veld_form *f)
{
	EXPECT(f, "street", "Kerkstraat", 0, pack_s(&wp_, "Kerkstraat"));
	EXPECT(f, "house_number", "12", 0, msgpack_pack_int64(&wp_, 12));
	EXPECT(f, "house_number", "-3", 0, msgpack_pack_int64(&wp_, -3));
	EXPECT(f, "house_number", "9223372036854775807", 0,
	       msgpack_pack_int64(&wp_, INT64_MAX));
	refused(f, "house_number", "9223372036854775808", 0);
	refused(f, "house_number", "12a", 0);
	refused(f, "house_number", "", 0);
	refused(f, "house_number", " 12", 0);
	EXPECT(f, "score", "3.5", 0, msgpack_pack_double(&wp_, 3.5));
	EXPECT(f, "score", "3,5", 0, msgpack_pack_double(&wp_, 3.5));
	EXPECT(f, "score", "4.0", 0, msgpack_pack_int64(&wp_, 4));
	refused(f, "score", "nan", 0);
	refused(f, "score", "1e999", 0);
	refused(f, "score", "drie", 0);
	EXPECT(f, "at_home", "ja", 0, msgpack_pack_true(&wp_));
	EXPECT(f, "at_home", "No", 0, msgpack_pack_false(&wp_));
	EXPECT(f, "at_home", "1", 0, msgpack_pack_true(&wp_));
	refused(f, "at_home", "misschien", 0);
	EXPECT(f, "knows", "een beetje", 0, pack_s(&wp_, "een beetje"));
	EXPECT(f, "knows", "NEE", 0, pack_s(&wp_, "nee"));
	EXPECT(f, "knows", "2", 1, pack_s(&wp_, "een beetje"));
	refused(f, "knows", "2", 0); /* numbers only when they are shown */
	refused(f, "knows", "4", 1);
	refused(f, "knows", "0", 1);
	/* Multi: the form's order, each once, names or numbers. */
	EXPECT(f, "needs", "schulden, beugel,schulden", 0,
	       (msgpack_pack_array(&wp_, 2), pack_s(&wp_, "beugel"),
		pack_s(&wp_, "schulden")));
	EXPECT(f, "needs", "3,2", 1,
	       (msgpack_pack_array(&wp_, 2), pack_s(&wp_, "schimmel"),
		pack_s(&wp_, "schulden")));
	refused(f, "needs", "beugel,vocht", 0);
	refused(f, "needs", ",", 0); /* required: at least one */
	EXPECT(f, "day", "2024-02-29", 0, pack_s(&wp_, "2024-02-29"));
	refused(f, "day", "2023-02-29", 0);
	refused(f, "day", "1900-02-29", 0);
	EXPECT(f, "day", "2000-02-29", 0, pack_s(&wp_, "2000-02-29"));
	refused(f, "day", "2024-13-01", 0);
	refused(f, "day", "24-01-01", 0);
	EXPECT(f, "time", "2024-06-01T10:30", 0,
	       pack_s(&wp_, "2024-06-01T10:30"));
	EXPECT(f, "time", "2024-06-01T10:30:59Z", 0,
	       pack_s(&wp_, "2024-06-01T10:30:59Z"));
	refused(f, "time", "2024-06-01 10:30", 0);
	refused(f, "time", "2024-06-01T24:00", 0);
	refused(f, "time", "2024-06-01T10:3", 0);
	{
		struct veld_buf b;
		char shown[64];
		veld_buf_init(&b, 4096);
		CHECK_ERR(parse(f, "time", "now", 0, &b), 0);
		CHECK_ERR(parse(f, "day", "vandaag", 0, &b), 0);
		veld_form_show(b.data, b.len, shown, sizeof(shown));
		CHECK_EQ(strlen(shown), 10);
		CHECK_ERR(parse(f, "needs", "1,3", 1, &b), 0);
		veld_form_show(b.data, b.len, shown, sizeof(shown));
		CHECK(strcmp(shown, "beugel, schulden") == 0);
		veld_buf_release(&b);
	}
}

static void bad_definitions(void)
{
	struct veld_form *f = NULL;
	struct veld_buf b;
	msgpack_packer pk;

	/* A choice without choices is not a form veld can use. */
	veld_buf_init(&b, 4096);
	veld_buf_packer_init(&pk, &b);
	msgpack_pack_map(&pk, 1);
	pack_s(&pk, "fields");
	msgpack_pack_array(&pk, 1);
	field(&pk, "x", "choice", NULL, 0, -1, 0);
	CHECK_ERR(veld_form_decode("bad", b.data, b.len, &f), VELD_ECONTENT);
	/* An unknown type neither. */
	veld_buf_reset(&b);
	msgpack_pack_map(&pk, 1);
	pack_s(&pk, "fields");
	msgpack_pack_array(&pk, 1);
	field(&pk, "x", "adres", NULL, 0, -1, 0);
	CHECK_ERR(veld_form_decode("bad", b.data, b.len, &f), VELD_ECONTENT);
	/* Not msgpack at all. */
	CHECK_ERR(veld_form_decode("bad", (const uint8_t *)"\xc1", 1, &f),
		  VELD_ECONTENT);
	/* No fields: a free form, nothing checked. */
	veld_buf_reset(&b);
	msgpack_pack_map(&pk, 0);
	CHECK_ERR(veld_form_decode("free", b.data, b.len, &f), 0);
	CHECK_EQ(f->n, 0);
	veld_form_free(f);
	veld_buf_release(&b);
}

int main(void)
{
	struct veld_form *f = make_form();

	if (f) {
		definition(f);
		values(f);
	}
	veld_form_free(f);
	bad_definitions();
	return test_summary("test_form");
}
