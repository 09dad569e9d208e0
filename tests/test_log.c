/*
 * test_log.c - veldd's structured log lines (server/log.c) and the
 * Prometheus text of its counters (server/metrics.c).
 *
 * The logfmt quoting is pinned by examples and by a round trip: random
 * byte strings, quoted, then read back by an independent unquoter written
 * from the rules in log.h, give the string again.
 */
#include <stdlib.h>
#include <unistd.h>

#include "log.h"
#include "metrics.h"
#include "server.h"
#include "test.h"

static void check_quote(const char *in, const char *want)
{
	char out[256];
	size_t n = veld_log_quote(out, sizeof(out), in);

	CHECK_EQ(n, strlen(want));
	if (strcmp(out, want) != 0) {
		test_failed++;
		fprintf(stderr, "quote(%s): got %s, want %s\n", in, out, want);
	} else {
		test_passed++;
	}
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* Read a logfmt value back; -1 if it is not well-formed. */
static int unquote(const char *q, char *out, size_t cap)
{
	size_t n = 0, len = strlen(q);

	if (len == 0 || q[0] != '"') { /* bare */
		if (len + 1 > cap)
			return -1;
		for (size_t i = 0; i < len; i++)
			if ((unsigned char)q[i] <= ' ' || q[i] == '"' ||
			    q[i] == '=' || q[i] == '\\' || q[i] == 0x7f)
				return -1;
		memcpy(out, q, len + 1);
		return 0;
	}
	if (len < 2 || q[len - 1] != '"')
		return -1;
	for (size_t i = 1; i < len - 1; i++) {
		char c = q[i];

		if (c == '"' || (unsigned char)c < ' ' || c == 0x7f)
			return -1; /* must have been escaped */
		if (c == '\\') {
			c = q[++i];
			if (c == 'n')
				c = '\n';
			else if (c == 'r')
				c = '\r';
			else if (c == 't')
				c = '\t';
			else if (c == 'u') {
				int hi, lo;

				if (i + 4 >= len - 1 || q[i + 1] != '0' ||
				    q[i + 2] != '0')
					return -1;
				hi = hexval(q[i + 3]);
				lo = hexval(q[i + 4]);
				if (hi < 0 || lo < 0)
					return -1;
				c = (char)(hi << 4 | lo);
				i += 4;
			} else if (c != '"' && c != '\\') {
				return -1;
			}
		}
		if (n + 1 >= cap)
			return -1;
		out[n++] = c;
	}
	out[n] = '\0';
	return 0;
}

static void test_quote(void)
{
	uint64_t rng = 7;
	char small[4];

	check_quote("ESIG", "ESIG");
	check_quote("1a2b3c4d", "1a2b3c4d");
	check_quote("", "\"\"");
	check_quote("second PULL", "\"second PULL\"");
	check_quote("a=b", "\"a=b\"");
	check_quote("say \"hi\"", "\"say \\\"hi\\\"\"");
	check_quote("C:\\dir", "\"C:\\\\dir\"");
	check_quote("line\n", "\"line\\n\"");
	check_quote("\t\r", "\"\\t\\r\"");
	check_quote("\x01\x1f\x7f", "\"\\u0001\\u001f\\u007f\"");
	check_quote("caf\xc3\xa9", "caf\xc3\xa9"); /* UTF-8 as is */

	/* Cut short: the length it needed, a terminated prefix. */
	CHECK_EQ(veld_log_quote(small, sizeof(small), "abcdef"), 6);
	CHECK(strcmp(small, "abc") == 0);
	CHECK_EQ(veld_log_quote(small, sizeof(small), "a b"), 5);
	CHECK(strcmp(small, "\"a ") == 0);
	CHECK_EQ(veld_log_quote(small, 1, "abc"), 3);
	CHECK(small[0] == '\0');

	/* Round trip over random bytes 1..255 (0 ends the string). */
	for (int round = 0; round < 2000; round++) {
		char in[40], q[256], back[64];
		size_t len = test_rand(&rng) % sizeof(in);

		for (size_t i = 0; i < len; i++)
			in[i] = (char)(1 + test_rand(&rng) % 255);
		in[len] = '\0';
		CHECK(veld_log_quote(q, sizeof(q), in) < sizeof(q));
		if (unquote(q, back, sizeof(back)) != 0 || strcmp(back, in)) {
			test_failed++;
			fprintf(stderr, "round %d: %s does not read back\n",
				round, q);
			break;
		}
		test_passed++;
	}
}

static void test_levels(void)
{
	struct veld_log lg;

	veld_log_init(&lg, stderr);
	CHECK_EQ(lg.level, VELD_LOG_INFO);
	CHECK_EQ(veld_log_level_parse("error"), VELD_LOG_ERROR);
	CHECK_EQ(veld_log_level_parse("warn"), VELD_LOG_WARN);
	CHECK_EQ(veld_log_level_parse("info"), VELD_LOG_INFO);
	CHECK_EQ(veld_log_level_parse("debug"), VELD_LOG_DEBUG);
	CHECK_ERR(veld_log_level_parse("INFO"), VELD_EINVAL);
	CHECK_ERR(veld_log_level_parse("warning"), VELD_EINVAL);
	CHECK_ERR(veld_log_level_parse(NULL), VELD_EINVAL);
	CHECK_ERR(veld_log_set_level(&lg, "debug"), 0);
	CHECK_EQ(lg.level, VELD_LOG_DEBUG);
	CHECK_ERR(veld_log_set_level(&lg, "loud"), VELD_EINVAL);
	CHECK_EQ(lg.level, VELD_LOG_DEBUG); /* unchanged */
	CHECK(strcmp(veld_log_level_name(VELD_LOG_WARN), "warn") == 0);
	CHECK(strcmp(veld_log_level_name(42), "?") == 0);
}

/* What was written to lg's file since the last call, into got. */
static void capture(struct veld_log *lg, char *got, size_t cap)
{
	size_t n;

	fflush(lg->out);
	rewind(lg->out);
	n = fread(got, 1, cap - 1, lg->out);
	got[n] = '\0';
	rewind(lg->out);
	CHECK_EQ(ftruncate(fileno(lg->out), 0), 0);
}

static void test_lines(void)
{
	const uint8_t dev[32] = {0x01, 0x02, 0xab, 0xff, 0x99};
	char got[2 * VELD_LOG_LINE_MAX], *tail;
	char longval[VELD_LOG_LINE_MAX + 10];
	struct veld_log lg;
	struct veld_log_line l;
	FILE *f = tmpfile();

	if (!f) {
		CHECK(!"tmpfile");
		return;
	}
	veld_log_init(&lg, f);

	CHECK(veld_log_begin(&lg, &l, VELD_LOG_INFO, "push"));
	veld_log_hex(&l, "device", dev, 32); /* capped at 4 bytes */
	veld_log_u64(&l, "ops", 12);
	veld_log_int(&l, "code", -3);
	veld_log_ms(&l, "ms", 3149);
	veld_log_str(&l, "detail", "op 3 of batch 7");
	veld_log_end(&lg, &l);
	capture(&lg, got, sizeof(got));
	/* ts=YYYY-MM-DDTHH:MM:SS.mmmZ */
	CHECK(strncmp(got, "ts=", 3) == 0 && strlen(got) > 27 &&
	      got[7] == '-' && got[13] == 'T' && got[22] == '.' &&
	      got[26] == 'Z' && got[27] == ' ');
	tail = strchr(got, ' ');
	CHECK(tail && strcmp(tail, " level=info event=push device=0102abff "
				   "ops=12 code=-3 ms=3.1 detail=\"op 3 of "
				   "batch 7\"\n") == 0);

	/* Below the threshold: nothing. */
	CHECK(!veld_log_begin(&lg, &l, VELD_LOG_DEBUG, "pull"));
	capture(&lg, got, sizeof(got));
	CHECK_EQ(strlen(got), 0);

	/* A value too long for a line: dropped, and the line says so. */
	memset(longval, 'x', sizeof(longval) - 1);
	longval[sizeof(longval) - 1] = '\0';
	CHECK(veld_log_begin(&lg, &l, VELD_LOG_WARN, "lws"));
	veld_log_str(&l, "msg", longval);
	veld_log_u64(&l, "after", 1);
	veld_log_end(&lg, &l);
	capture(&lg, got, sizeof(got));
	CHECK(strlen(got) <= VELD_LOG_LINE_MAX);
	tail = strstr(got, " level=");
	CHECK(tail && strcmp(tail, " level=warn event=lws "
				   "truncated=true\n") == 0);

	/* A library message loses its newline and is quoted. */
	veld_log_message(&lg, VELD_LOG_ERROR, "lws", "bind failed: x\n");
	capture(&lg, got, sizeof(got));
	tail = strstr(got, " level=");
	CHECK(tail && strcmp(tail, " level=error event=lws "
				   "msg=\"bind failed: x\"\n") == 0);

	/* A very long one is cut, and says so. */
	veld_log_message(&lg, VELD_LOG_ERROR, "lws", longval);
	capture(&lg, got, sizeof(got));
	CHECK(strlen(got) <= VELD_LOG_LINE_MAX);
	CHECK(strstr(got, " msg=xxx") != NULL);
	CHECK(strstr(got, "x truncated=true\n") != NULL);
	fclose(f);
}

static void test_metrics(void)
{
	static struct veld_server srv; /* no sessions, no store */
	struct veld_metrics *m = &srv.metrics;
	struct veld_buf out;
	char *text;

	veld_metrics_init(m, NULL);
	veld_metrics_commit(m, 1000);	 /* le="0.001": inclusive */
	veld_metrics_commit(m, 1001);	 /* le="0.0025" */
	veld_metrics_commit(m, 2500000); /* le="2.5" */
	veld_metrics_commit(m, 2500001); /* +Inf only */
	CHECK_U64(m->commit_bucket[0], 1);
	CHECK_U64(m->commit_bucket[1], 1);
	CHECK_U64(m->commit_bucket[VELD_METRICS_NBOUNDS - 1], 1);
	CHECK_U64(m->commit_bucket[VELD_METRICS_NBOUNDS], 1);
	CHECK_U64(m->commit_count, 4);
	veld_metrics_rejected(m, VELD_ESIG, 5);
	veld_metrics_rejected(m, VELD_ESIG, 2);
	veld_metrics_rejected(m, 0, 9);	    /* not an error: ignored */
	veld_metrics_rejected(m, 3, 9);	    /* nor this */
	veld_metrics_rejected(m, -1000, 9); /* nor this */
	m->enrol_fail = 2;

	veld_buf_init(&out, VELD_METRICS_MAX);
	CHECK_ERR(veld_metrics_render(&srv, &out), 0);
	CHECK_ERR(veld_buf_append(&out, "", 1), 0); /* NUL for strstr */
	text = (char *)out.data;
	CHECK(strstr(text, "# TYPE veld_ops_accepted_total counter\n"
			   "veld_ops_accepted_total 0\n") != NULL);
	CHECK(strstr(text, "\nveld_ops_rejected_total{reason=\"ESIG\"} 7\n"));
	CHECK(strstr(text, "reason=\"OK\"") == NULL);
	CHECK(strstr(text, "\nveld_batch_commit_seconds_bucket{le=\"0.001\"} "
			   "1\n"
			   "veld_batch_commit_seconds_bucket{le=\"0.0025\"} "
			   "2\n"));
	CHECK(strstr(text, "{le=\"2.5\"} 3\n"
			   "veld_batch_commit_seconds_bucket{le=\"+Inf\"} 4\n"
			   "veld_batch_commit_seconds_sum 5.002002\n"
			   "veld_batch_commit_seconds_count 4\n"));
	CHECK(strstr(text, "\nveld_enrolments_total{result=\"fail\"} 2\n"));
	CHECK(strstr(text, "\nveld_sync_sessions_active 0\n"));
	CHECK(strstr(text, "\nveld_store_bytes 0\n"));
	CHECK(out.len >= 2 && text[out.len - 2] == '\n');
	veld_buf_release(&out);

	/* Too small a buffer is an error, never a cut text. */
	veld_buf_init(&out, 100);
	CHECK_ERR(veld_metrics_render(&srv, &out), VELD_ETOOBIG);
	veld_buf_release(&out);
}

int main(void)
{
	test_quote();
	test_levels();
	test_lines();
	test_metrics();
	return test_summary("test_log");
}
