/*
 * assets.h - the dashboard's static files, compiled into veldd.
 *
 * server/CMakeLists.txt turns every file of server/www/ into a byte array
 * in a generated assets.c (server/embed.cmake), so veldd serves its page
 * without reading files at run time and needs nothing beside the binary.
 */
#ifndef VELD_ASSETS_H
#define VELD_ASSETS_H

#include <stddef.h>

struct veld_asset {
	const char *path; /* "/app.js" */
	const char *type; /* Content-Type */
	const unsigned char *data;
	size_t len;
};

extern const struct veld_asset veld_assets[];
extern const size_t veld_assets_count;

#endif /* VELD_ASSETS_H */
