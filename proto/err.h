/*
 * err.h - the one error space of libveld.
 *
 * Every fallible function in libveld (and in veldd and veld) returns an int:
 * 0 (VELD_OK) on success, a negative VELD_E* code on failure.  The codes come
 * from one X-macro so that the enum, veld_strerror() and veld_err_name()
 * can never disagree.  Every rejection path has its own code, so a log line
 * or a test can say exactly why an input was refused.
 *
 * Values are stable once released: new errors are appended at the end of the
 * list, never inserted, because the numbers travel in sync error messages.
 */
#ifndef VELD_ERR_H
#define VELD_ERR_H

#define VELD_ERRORS(X)                                                         \
	X(ENOMEM, "out of memory")                                             \
	X(EINVAL, "invalid argument")                                          \
	X(ETRUNCATED, "input ends inside a value")                             \
	X(ETRAILING, "trailing bytes after the end of the value")              \
	X(EDECLARED, "declared length or count exceeds the bytes that remain") \
	X(EMSGPACK, "malformed msgpack (reserved type byte 0xc1)")             \
	X(EEXT, "msgpack ext types are not allowed")                           \
	X(EFLOAT32, "float32 is not allowed (use float64)")                    \
	X(EFLOAT, "non-finite float (NaN or infinity) is not allowed")         \
	X(EDEPTH, "nesting deeper than VELD_DEPTH_MAX")                        \
	X(ECOUNT, "array or map has more than VELD_ITEMS_MAX items")           \
	X(ESTRLEN, "string or binary longer than VELD_STR_MAX bytes")          \
	X(ENONCANON, "non-canonical encoding (not the shortest form)")         \
	X(EKEYTYPE, "map key is not a string")                                 \
	X(EKEYORDER, "map keys are not in ascending byte order")               \
	X(EKEYDUP, "duplicate map key")                                        \
	X(EUTF8, "string is not valid UTF-8")                                  \
	X(EOPSIZE, "op larger than VELD_OP_MAX bytes")                         \
	X(EOPSHAPE, "op is not an array [header, signature, body]")            \
	X(EHDRSIZE, "header larger than VELD_HEADER_MAX bytes")                \
	X(EHDRSHAPE, "header is not an array of 9 fields")                     \
	X(EVERSION, "unsupported op format version")                           \
	X(EAUTHOR, "author is not a 32-byte public key")                       \
	X(ESEQ, "seq is not an integer in 1..VELD_SEQ_MAX")                    \
	X(EPREV, "prev must be nil for seq 1 and a 32-byte hash otherwise")    \
	X(EHLC, "hlc is not an unsigned 64-bit integer")                       \
	X(ERECORD, "record id is not 16 bytes")                                \
	X(EKIND, "unknown op kind")                                            \
	X(EBODYLEN, "body length is not an integer in 0..VELD_BODY_MAX")       \
	X(EBODYHASHLEN, "body hash is not 32 bytes")                           \
	X(ESIGLEN, "signature is not 64 bytes")                                \
	X(EBODYSIZE, "body larger than VELD_BODY_MAX bytes")                   \
	X(EBODYMISMATCH, "body length differs from the length in the header")  \
	X(EBODYHASH, "body hash does not match the body")                      \
	X(EBODYSHAPE, "body is not an array [16-byte salt, content]")          \
	X(ESIG, "signature does not verify")                                   \
	X(ECLOCKAHEAD, "remote clock is further ahead than the allowed drift") \
	X(ECLOCKRANGE, "clock milliseconds do not fit in 48 bits")             \
	X(EIO, "input/output error")                                           \
	X(EKEYFILE, "key file is not a 32-byte seed")                          \
	X(ETOOBIG, "buffer would exceed its maximum size")                     \
	X(ESTORE, "the store (SQLite) reported an error")                      \
	X(ESCHEMA, "the store was written by a newer veldwerk")                \
	X(ECONTENT, "body content does not match its op kind")                 \
	X(EROLE, "author's role may not write this kind of op")                \
	X(EFROZEN, "author is frozen after a fork")                            \
	X(EFORK, "a different op already has this author and seq (fork)")      \
	X(EREVOKED, "author was revoked before this op's clock")               \
	X(EPENDINGFULL, "too many ops held back waiting for predecessors")     \
	X(ENOTFOUND, "no such record")                                         \
	X(EAMBIGUOUS, "record id prefix matches more than one record")         \
	X(ECODE, "unknown enrolment code")                                     \
	X(ECODEUSED, "enrolment code was already used")                        \
	X(ECODEEXPIRED, "enrolment code has expired")                          \
	X(ENOTENROLLED, "this device is not enrolled with a server yet")       \
	X(EPROTO, "message not allowed in this state of the protocol")         \
	X(EMSGTYPE, "unknown message type")                                    \
	X(EMSGSHAPE, "message does not have the fields its type needs")        \
	X(EMSGSIZE, "message larger than VELD_MSG_MAX bytes")                  \
	X(EAUTH, "authentication failed (unknown key or bad signature)")       \
	X(ERATE, "too many attempts; wait and try again")                      \
	X(ETIMEOUT, "the peer took too long")                                  \
	X(ESERVER, "the server could not complete the request")                \
	X(ECONNECT, "cannot connect to the server")                            \
	X(EFULL, "storage is full (no space left on the disk)")                \
	X(ERUNSIG, "a run of ops does not end with a signed op")               \
	X(EZIP, "compressed data is corrupt, truncated or followed by junk")   \
	X(EZIPSIZE, "compressed data inflates beyond its limit")               \
	X(ERECORDREF, "record reference names no earlier record of the "       \
		      "message")                                               \
	X(EOPREF, "op reference names no earlier op of the message, or "       \
		  "sits where no op id may")                                   \
	X(ESALTNODE, "salt node outside its run, out of order, or over an "    \
		     "op without a body")

/* Position of each error in the list; only used to derive the values. */
enum veld_err_index {
#define VELD__ERR_INDEX(name, msg) VELD__I_##name,
	VELD_ERRORS(VELD__ERR_INDEX)
#undef VELD__ERR_INDEX
		VELD__ERR_COUNT
};

enum veld_err {
	VELD_OK = 0,
#define VELD__ERR_VALUE(name, msg) VELD_##name = -1 - VELD__I_##name,
	VELD_ERRORS(VELD__ERR_VALUE)
#undef VELD__ERR_VALUE
};

/* Number of distinct error codes (not counting VELD_OK). */
#define VELD_ERR_COUNT ((int)VELD__ERR_COUNT)

/*
 * veld_strerror - human-readable, lowercase message for an error code.
 * Never returns NULL: unknown codes give "unknown error".
 */
const char *veld_strerror(int err);

/*
 * veld_err_name - the code's name without the VELD_ prefix ("ESIG"), for
 * logs and tests.  Unknown codes give "EUNKNOWN"; 0 gives "OK".
 */
const char *veld_err_name(int err);

#endif /* VELD_ERR_H */
