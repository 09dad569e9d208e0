/*
 * test_err.c - every error code has its own name and message, and the
 * table in docs/protocol.md (given as argv[1]) lists each with its value.
 */
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "test.h"

/* Each error must appear in the doc as "| VALUE | `NAME` |". */
static void doc_lists_every_error(const char *path)
{
	FILE *f = fopen(path, "rb");
	static char doc[1 << 20];
	size_t n;

	CHECK(f != NULL);
	if (!f)
		return;
	n = fread(doc, 1, sizeof(doc) - 1, f);
	fclose(f);
	doc[n] = 0;
	for (int e = 1; e <= VELD_ERR_COUNT; e++) {
		char row[64];
		snprintf(row, sizeof(row), "| %d | `%s` |", -e,
			 veld_err_name(-e));
		if (!strstr(doc, row)) {
			fprintf(stderr, "%s: no row '%s'\n", path, row);
			test_failed++;
		} else {
			test_passed++;
		}
	}
}

int main(int argc, char **argv)
{
	CHECK(strcmp(veld_err_name(0), "OK") == 0);
	CHECK(strcmp(veld_strerror(0), "success") == 0);
	CHECK(strcmp(veld_err_name(VELD_ESIG), "ESIG") == 0);
	CHECK(strcmp(veld_strerror(VELD_ESIG), "signature does not verify") ==
	      0);
	CHECK(strcmp(veld_err_name(1), "EUNKNOWN") == 0);
	CHECK(strcmp(veld_err_name(-VELD_ERR_COUNT - 1), "EUNKNOWN") == 0);
	CHECK(strcmp(veld_strerror(-100000), "unknown error") == 0);

	/* Distinct: a rejection must say which rule it broke. */
	for (int a = 1; a <= VELD_ERR_COUNT; a++) {
		CHECK(veld_strerror(-a)[0] != '\0');
		for (int b = a + 1; b <= VELD_ERR_COUNT; b++) {
			CHECK(strcmp(veld_err_name(-a), veld_err_name(-b)) !=
			      0);
			CHECK(strcmp(veld_strerror(-a), veld_strerror(-b)) !=
			      0);
		}
	}
	if (argc > 1)
		doc_lists_every_error(argv[1]);
	return test_summary("test_err");
}
