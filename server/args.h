/*
 * args.h - command-line flags, shared by `veldd serve` (main.c) and the
 * admin sub-commands (admin.c).
 */
#ifndef VELD_ARGS_H
#define VELD_ARGS_H

/*
 * veld_args_flag - if argv[*i] is flag or flag=VALUE, point *value at
 * VALUE (for the first form the next argument, consumed by advancing *i;
 * NULL if there is none) and return 1; otherwise return 0.
 */
int veld_args_flag(int argc, char **argv, int *i, const char *flag,
		   const char **value);

#endif /* VELD_ARGS_H */
