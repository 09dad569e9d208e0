/*
 * buf.c - bounded growable byte buffer; see buf.h.
 */
#include "buf.h"

#include <stdlib.h>
#include <string.h>

#include "err.h"

void veld_buf_init(struct veld_buf *b, size_t max)
{
	b->data = NULL;
	b->len = 0;
	b->cap = 0;
	b->max = max;
	b->err = 0;
}

void veld_buf_release(struct veld_buf *b)
{
	free(b->data);
	veld_buf_init(b, b->max);
}

void veld_buf_reset(struct veld_buf *b)
{
	b->len = 0;
	b->err = 0;
}

int veld_buf_reserve(struct veld_buf *b, size_t n)
{
	size_t cap = n > b->max - b->len ? b->max : b->len + n;
	uint8_t *d;

	if (cap <= b->cap)
		return 0;
	d = realloc(b->data, cap);
	if (!d)
		return VELD_ENOMEM;
	b->data = d;
	b->cap = cap;
	return 0;
}

int veld_buf_append(struct veld_buf *b, const void *p, size_t n)
{
	if (n > b->max - b->len)
		return VELD_ETOOBIG;
	if (b->len + n > b->cap) {
		/* Double, but never past max: the maximum is a promise. */
		size_t cap = b->cap ? b->cap : 256;
		while (cap < b->len + n)
			cap = cap > b->max / 2 ? b->max : cap * 2;
		if (cap > b->max)
			cap = b->max;
		uint8_t *d = realloc(b->data, cap);
		if (!d)
			return VELD_ENOMEM;
		b->data = d;
		b->cap = cap;
	}
	if (n)
		memcpy(b->data + b->len, p, n);
	b->len += n;
	return 0;
}

static int packer_write(void *data, const char *p, size_t n)
{
	struct veld_buf *b = data;
	int rc = veld_buf_append(b, p, n);
	if (rc < 0) {
		if (!b->err)
			b->err = rc;
		return -1;
	}
	return 0;
}

void veld_buf_packer_init(msgpack_packer *pk, struct veld_buf *b)
{
	msgpack_packer_init(pk, b, packer_write);
}
