/*
 * args.c - command-line flags; see args.h.
 */
#include "args.h"

#include <string.h>

int veld_args_flag(int argc, char **argv, int *i, const char *flag,
		   const char **value)
{
	const char *a = argv[*i];
	size_t n = strlen(flag);

	if (strncmp(a, flag, n) || (a[n] != '\0' && a[n] != '='))
		return 0;
	if (a[n] == '=')
		*value = a + n + 1;
	else if (*i + 1 < argc)
		*value = argv[++*i];
	else
		*value = NULL;
	return 1;
}
