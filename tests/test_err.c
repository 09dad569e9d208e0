/*
 * test_err.c - every error code has its own name and message.
 */
#include <string.h>

#include "err.h"
#include "test.h"

int main(void)
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
			CHECK(strcmp(veld_err_name(-a), veld_err_name(-b)) != 0);
			CHECK(strcmp(veld_strerror(-a), veld_strerror(-b)) != 0);
		}
	}
	return test_summary("test_err");
}
