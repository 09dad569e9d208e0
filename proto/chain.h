/*
 * chain.h - authenticate a run of one author's ops with one signature.
 *
 * An op's signature covers its header, and the header names the op before
 * it by its id (prev = BLAKE2b of that op's header, which holds the hash
 * of its body).  So when an author's ops k..m arrive together, seq rising
 * by one and each prev naming the op before, a valid signature on op m
 * vouches for all of them: changing anything in op k..m-1 would change an
 * id that op m's signed header names.  docs/protocol.md §13.1 states the
 * rule and the argument; DESIGN.md §7 asked for it because a signature
 * check costs ~50 us and everything else an op costs is a few.
 *
 * Nothing owns anything here: the ops borrow their buffers.
 */
#ifndef VELD_CHAIN_H
#define VELD_CHAIN_H

#include <stddef.h>
#include <stdint.h>

#include "op.h"

/*
 * veld_chain_cover - decide which ops of a batch are authentic.
 *
 * ops[0..n) are decoded ops (veld_op_decode succeeded; the signature not
 * yet checked).  Sets ok[i] = 1 if ops[i] is authentic: some op of the
 * batch with the same author and seq + 1 names it as prev and is itself
 * authentic, or else its own signature verifies.  Otherwise ok[i] = 0: its
 * own signature does not verify and nothing after it vouches for it.
 * Only the last op of each linked run has its signature checked, plus
 * the op before any run end whose signature fails.
 *
 * Returns 0, or VELD_ENOMEM (ok[] is then all 0: check one by one).
 */
int veld_chain_cover(const struct veld_op *ops, size_t n, uint8_t *ok)
	__attribute__((warn_unused_result));

#endif /* VELD_CHAIN_H */
