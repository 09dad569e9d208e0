/*
 * buf.h - a growable byte buffer with a hard maximum.
 *
 * Everything libveld builds from or for the network goes through a
 * struct veld_buf: it grows on demand but never past the maximum given at
 * init, so a hostile peer cannot make us allocate without bound (the idea
 * of curl's dynbuf).  It also serves as the write target of a msgpack
 * packer (veld_buf_packer_init), which is how every encoder in libveld
 * produces bytes.
 *
 * Usage:
 *	struct veld_buf b;
 *	veld_buf_init(&b, VELD_OP_MAX);
 *	if (veld_buf_append(&b, p, n) < 0) ...
 *	use(b.data, b.len);
 *	veld_buf_release(&b);
 */
#ifndef VELD_BUF_H
#define VELD_BUF_H

#include <stddef.h>
#include <stdint.h>

#include <msgpack.h>

struct veld_buf {
	uint8_t *data; /* owned; NULL until the first append */
	size_t len;    /* bytes in use */
	size_t cap;    /* bytes allocated */
	size_t max;    /* len never exceeds this */
	int err;       /* first error seen by the packer callback, or 0 */
};

/* Prepare an empty buffer that will hold at most max bytes.  No allocation. */
void veld_buf_init(struct veld_buf *b, size_t max);

/* Free the storage; the buffer is empty and reusable afterwards. */
void veld_buf_release(struct veld_buf *b);

/* Forget the contents but keep the storage (and the maximum). */
void veld_buf_reset(struct veld_buf *b);

/*
 * Append n bytes (copied).  Returns 0; VELD_ETOOBIG when the buffer would
 * exceed its maximum (the caller knows which limit that is and may map it
 * to a more specific code); VELD_ENOMEM when allocation fails.  On failure
 * the buffer is unchanged.
 */
int veld_buf_append(struct veld_buf *b, const void *p, size_t n)
	__attribute__((warn_unused_result));

/*
 * Make room for n more bytes at once (up to the maximum: less if n would
 * pass it), so that a buffer whose size is known, or bounded, grows in one
 * allocation instead of by doubling (each doubling copies everything so
 * far).  Returns 0 or VELD_ENOMEM (the buffer unchanged).
 */
int veld_buf_reserve(struct veld_buf *b, size_t n)
	__attribute__((warn_unused_result));

/*
 * Make pk write into b.  Packer calls then fail (return -1) once b would
 * exceed its maximum or memory runs out; b->err says which (VELD_ETOOBIG or
 * VELD_ENOMEM).  The packer borrows b.
 */
void veld_buf_packer_init(msgpack_packer *pk, struct veld_buf *b);

#endif /* VELD_BUF_H */
