/*
 * err.c - messages and names for the VELD_E* codes in err.h.
 */
#include "err.h"

static const char *const messages[] = {
#define VELD__ERR_MSG(name, msg) msg,
	VELD_ERRORS(VELD__ERR_MSG)
#undef VELD__ERR_MSG
};

static const char *const names[] = {
#define VELD__ERR_NAME(name, msg) #name,
	VELD_ERRORS(VELD__ERR_NAME)
#undef VELD__ERR_NAME
};

const char *veld_strerror(int err)
{
	if (err == VELD_OK)
		return "success";
	if (err < 0 && -err <= VELD_ERR_COUNT)
		return messages[-err - 1];
	return "unknown error";
}

const char *veld_err_name(int err)
{
	if (err == VELD_OK)
		return "OK";
	if (err < 0 && -err <= VELD_ERR_COUNT)
		return names[-err - 1];
	return "EUNKNOWN";
}
