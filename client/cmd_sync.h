/*
 * cmd_sync.h - the veld commands that talk to the server (or report on
 * that): init (with enrolment), sync, status.
 *
 * Each takes the arguments after the command name and returns the exit
 * code: 0 ok, 1 failure (a message on stderr), 2 usage error.
 */
#ifndef VELD_CMD_SYNC_H
#define VELD_CMD_SYNC_H

#include "home.h"

int veld_cmd_init(const struct veld_home *h, int argc, char **argv);
int veld_cmd_sync(const struct veld_home *h, int argc, char **argv);
int veld_cmd_status(const struct veld_home *h, int argc, char **argv);

#endif /* VELD_CMD_SYNC_H */
