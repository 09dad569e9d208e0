/*
 * test_dashboard.c - attribution ("by", docs/protocol.md section 11) and
 * the store's dashboard read helpers, in-process.
 *
 * Pins: a local write after veld_replica_set_by carries "by" in canonical
 * order, another replica accepts it and folds the same state; a malformed
 * "by" is refused as content; the record JSON names the coordinator and
 * the server; counts per answer split multi fields; exports leave personal
 * fields out unless asked, quote CSV per RFC 4180, mark erased records,
 * and the Excel variant starts with a BOM and uses ';'.
 */
#include <stdlib.h>
#include <string.h>

#include <msgpack.h>
#include <sodium.h>

#include "buf.h"
#include "canon.h"
#include "merge.h"
#include "op.h"
#include "replica.h"
#include "replica_util.h"
#include "store.h"
#include "test.h"

static void pack_s(msgpack_packer *pk, const char *s)
{
	msgpack_pack_str_with_body(pk, s, strlen(s));
}

/* {"fields": [street text, needs multi, phone text personal]} */
static void form_def(struct veld_buf *b)
{
	msgpack_packer pk;

	veld_buf_init(b, 4096);
	veld_buf_packer_init(&pk, b);
	msgpack_pack_map(&pk, 1);
	pack_s(&pk, "fields");
	msgpack_pack_array(&pk, 3);
	msgpack_pack_map(&pk, 2);
	pack_s(&pk, "name");
	pack_s(&pk, "street");
	pack_s(&pk, "type");
	pack_s(&pk, "text");
	msgpack_pack_map(&pk, 3);
	pack_s(&pk, "choices");
	msgpack_pack_array(&pk, 2);
	pack_s(&pk, "bank");
	pack_s(&pk, "groen");
	pack_s(&pk, "name");
	pack_s(&pk, "needs");
	pack_s(&pk, "type");
	pack_s(&pk, "multi");
	msgpack_pack_map(&pk, 3);
	pack_s(&pk, "name");
	pack_s(&pk, "phone");
	pack_s(&pk, "personal");
	msgpack_pack_true(&pk);
	pack_s(&pk, "type");
	pack_s(&pk, "text");
}

/* A canonical msgpack array of strings into b. */
static void str_array(struct veld_buf *b, const char *x, const char *y)
{
	msgpack_packer pk;

	veld_buf_init(b, 256);
	veld_buf_packer_init(&pk, b);
	msgpack_pack_array(&pk, y ? 2 : 1);
	pack_s(&pk, x);
	if (y)
		pack_s(&pk, y);
}

static int contains(const struct veld_buf *b, const char *s)
{
	size_t n = strlen(s);

	for (size_t i = 0; i + n <= b->len; i++)
		if (!memcmp(b->data + i, s, n))
			return 1;
	return 0;
}

/* A note body [salt, content] with content {"by": by_value, "text": "x"}
 * where by_value is an int (bad) or a string. */
static void note_body(struct veld_buf *b, const char *by)
{
	uint8_t salt[VELD_SALT_LEN] = {0};
	msgpack_packer pk;

	veld_buf_init(b, 1024);
	veld_buf_packer_init(&pk, b);
	if (veld_body_begin(&pk, salt) < 0)
		abort();
	msgpack_pack_map(&pk, 2);
	pack_s(&pk, "by");
	if (by)
		pack_s(&pk, by);
	else
		msgpack_pack_int(&pk, 5);
	pack_s(&pk, "text");
	pack_s(&pk, "x");
}

int main(void)
{
	struct veld_key root;
	struct veld_replica *srv, *dev;
	struct veld_buf def, needs, needs2, out, body;
	uint8_t form[VELD_RECORD_LEN], r1[VELD_RECORD_LEN], r2[VELD_RECORD_LEN];
	uint8_t h1[32], h2[32];
	char long_name[80];

	if (sodium_init() < 0)
		return 1;
	util_key(&root, 1);
	if (veld_replica_open(":memory:", &root, root.pk, &srv) ||
	    veld_replica_open(":memory:", &root, root.pk, &dev))
		return 1;

	form_def(&def);
	CHECK_ERR(veld_replica_form(srv, form, 1, "enquete", def.data, def.len,
				    NULL),
		  0);
	str_array(&needs, "bank", "groen");
	str_array(&needs2, "groen", NULL);
	{
		struct veld_field f[] = {
			{"street", "Kerkstraat, \"oost\"", NULL, 0},
			{"needs", NULL, needs.data, needs.len},
			{"phone", "0612345678", NULL, 0},
		};
		CHECK_ERR(veld_replica_put(srv, r1, 1, "enquete", "noord", f, 3,
					   NULL),
			  0);
	}
	{
		struct veld_field f[] = {
			{"street", "Brink", NULL, 0},
			{"needs", NULL, needs2.data, needs2.len},
			{"phone", "0687654321", NULL, 0},
		};
		CHECK_ERR(veld_replica_put(srv, r2, 1, "enquete", "zuid", f, 3,
					   NULL),
			  0);
	}

	/* Attribution: bad names are refused, a good one is signed in. */
	CHECK_ERR(veld_replica_set_by(srv, ""), VELD_EINVAL);
	memset(long_name, 'x', 65);
	long_name[65] = 0;
	CHECK_ERR(veld_replica_set_by(srv, long_name), VELD_EINVAL);
	CHECK_ERR(veld_replica_set_by(srv, "Carla"), 0);
	{
		struct veld_field f = {"followup_status", "done", NULL, 0};
		CHECK_ERR(veld_replica_put(srv, r1, 0, NULL, NULL, &f, 1, NULL),
			  0);
	}
	CHECK_ERR(veld_replica_note(srv, r1, "gebeld", NULL), 0);
	CHECK_ERR(veld_replica_set_by(srv, NULL), 0);
	CHECK_ERR(veld_replica_note(srv, r1, "zonder naam", NULL), 0);

	/* Another replica takes the attributed ops and agrees on the state. */
	ship(srv, dev);
	CHECK_ERR(veld_replica_state_hash(srv, h1), 0);
	CHECK_ERR(veld_replica_state_hash(dev, h2), 0);
	CHECK(memcmp(h1, h2, 32) == 0);

	/* "by" must be a name. */
	note_body(&body, NULL);
	CHECK_ERR(veld_content_check(VELD_KIND_NOTE, body.data, body.len),
		  VELD_ECONTENT);
	veld_buf_release(&body);
	note_body(&body, "Carla");
	CHECK_ERR(veld_content_check(VELD_KIND_NOTE, body.data, body.len), 0);
	veld_buf_release(&body);
	note_body(&body, "");
	CHECK_ERR(veld_content_check(VELD_KIND_NOTE, body.data, body.len),
		  VELD_ECONTENT);
	veld_buf_release(&body);

	veld_buf_init(&out, 1 << 20);
	/* The record's history names the server and the coordinator. */
	CHECK_EQ(veld_store_dash_record(veld_replica_store(dev), r1, root.pk,
					&out),
		 1);
	CHECK(contains(&out, "\"role\":\"server\",\"by\":\"Carla\""));
	CHECK(contains(&out, "\"followup_status\":\"done\""));
	CHECK(contains(&out, "\"by\":null"));

	/* Counts: one per street, a multi counted per choice. */
	CHECK_ERR(veld_store_dash_counts(veld_replica_store(dev), "enquete",
					 &out),
		  0);
	CHECK(contains(&out, "\"total\":2"));
	CHECK(contains(&out, "\"counts\":[{\"value\":\"groen\",\"n\":2},"
			     "{\"value\":\"bank\",\"n\":1}]"));
	CHECK_ERR(veld_store_dash_counts(veld_replica_store(dev), "nope", &out),
		  VELD_ENOTFOUND);

	/* Exports. */
	CHECK_ERR(veld_store_dash_export(veld_replica_store(dev), "enquete",
					 VELD_EXPORT_CSV, 0, &out),
		  0);
	CHECK(!contains(&out, "phone"));
	CHECK(!contains(&out, "0612345678"));
	CHECK(contains(&out, "\"Kerkstraat, \"\"oost\"\"\""));
	CHECK(contains(&out, "\"bank; groen\""));
	CHECK(contains(&out, "\r\n"));
	CHECK_ERR(veld_store_dash_export(veld_replica_store(dev), "enquete",
					 VELD_EXPORT_CSV_EXCEL, 1, &out),
		  0);
	CHECK(out.len > 3 && !memcmp(out.data, "\xef\xbb\xbf\"id\";", 8));
	CHECK(contains(&out, "\"0612345678\""));
	CHECK_ERR(veld_store_dash_export(veld_replica_store(dev), "nope",
					 VELD_EXPORT_JSON, 1, &out),
		  VELD_ENOTFOUND);

	CHECK_ERR(veld_replica_erase(srv, r1, NULL), 0);
	CHECK_ERR(veld_store_dash_export(veld_replica_store(srv), "enquete",
					 VELD_EXPORT_CSV, 1, &out),
		  0);
	CHECK(contains(&out, "\"true\""));
	CHECK(contains(&out, "\"[erased]\""));
	CHECK(!contains(&out, "Kerkstraat"));
	CHECK_ERR(veld_store_dash_export(veld_replica_store(srv), "enquete",
					 VELD_EXPORT_JSON, 1, &out),
		  0);
	CHECK(contains(&out, "\"erased\":true"));
	CHECK(contains(&out, "\"values\":null"));

	/* The newest op position moves with every write. */
	{
		int64_t before = veld_store_ops_last(veld_replica_store(srv));
		CHECK_ERR(veld_replica_note(srv, r2, "nog een", NULL), 0);
		CHECK_EQ(veld_store_ops_last(veld_replica_store(srv)),
			 before + 1);
	}

	veld_buf_release(&out);
	veld_buf_release(&def);
	veld_buf_release(&needs);
	veld_buf_release(&needs2);
	veld_replica_close(srv);
	veld_replica_close(dev);
	return test_summary("test_dashboard");
}
