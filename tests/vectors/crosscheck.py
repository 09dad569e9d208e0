#!/usr/bin/env python3
"""Independent check of the op-format golden vectors (docs/protocol.md §9).

Uses only Python's standard library (hashlib's BLAKE2b), not libveld: it
recomputes every hash and re-assembles every envelope from the spec's
rules, so a bug shared by the C encoder and the C test cannot hide.
Ed25519 is checked by crosscheck_ed25519.js (Node's crypto).

Usage: crosscheck.py tests/vectors/op-v1.txt
Prints 'N passed, N failed'; exit status 1 on any failure.
"""
import hashlib
import sys

DS_SIG = b"veld-op-sig-1\0"
DS_ID = b"veld-op-id-1\0"
DS_BODY = b"veld-body-1\0"


def load(path):
    vals = {}
    with open(path) as f:
        for line in f:
            if line.startswith("#") or "=" not in line:
                continue
            k, v = line.split("=", 1)
            vals[k.strip()] = bytes.fromhex(v.strip())
    return vals


def b2b(prefix, data):
    return hashlib.blake2b(prefix + data, digest_size=32).digest()


def bin8(b):
    assert len(b) < 256
    return b"\xc4" + bytes([len(b)]) + b


def mp_uint(n):
    """Shortest msgpack encoding of a non-negative integer."""
    if n < 128:
        return bytes([n])
    for tag, size in ((0xCC, 1), (0xCD, 2), (0xCE, 4), (0xCF, 8)):
        if n < 1 << (8 * size):
            return bytes([tag]) + n.to_bytes(size, "big")
    raise ValueError(n)


def mp_str(s):
    b = s.encode()
    assert len(b) < 256
    return (bytes([0xA0 | len(b)]) if len(b) < 32 else b"\xd9" + bytes([len(b)])) + b


def main():
    v = load(sys.argv[1])
    passed = failed = 0

    def check(name, got, want):
        nonlocal passed, failed
        if got == want:
            passed += 1
        else:
            failed += 1
            print(f"{name}: got {got.hex()} want {want.hex()}", file=sys.stderr)

    salts = {"op1": b"salt-0123456789a", "op2": b"salt-0123456789b"}
    contents = {
        "op1": b"\x83" + mp_str("house") + mp_str("12") + mp_str("q_wish")
        + mp_str("meer bankjes") + mp_str("street") + mp_str("Kerkstraat"),
        "op2": mp_str("Handgreep in toilet ontbreekt."),
    }
    check("record", v["record"], b"veldwerk-record1")
    prev = None
    for i, op in enumerate(("op1", "op2"), start=1):
        body = b"\x92" + bin8(salts[op]) + contents[op]
        check(op + ".body", v[op + ".body"], body)
        body_hash = b2b(DS_BODY, body)
        check(op + ".body_hash", v[op + ".body_hash"], body_hash)
        header = (
            b"\x99" + mp_uint(1) + bin8(v["public_key"]) + mp_uint(i)
            + (b"\xc0" if prev is None else bin8(prev))
            + mp_uint(int.from_bytes(v[op + ".hlc"], "big"))
            + bin8(b"veldwerk-record1") + mp_uint(1 if i == 1 else 3)
            + mp_uint(len(body)) + bin8(body_hash)
        )
        check(op + ".header", v[op + ".header"], header)
        check(op + ".signed_message", v[op + ".signed_message"], DS_SIG + header)
        op_id = b2b(DS_ID, header)
        check(op + ".op_id", v[op + ".op_id"], op_id)
        envelope = b"\x93" + bin8(header) + bin8(v[op + ".signature"]) + bin8(body)
        check(op + ".op", v[op + ".op"], envelope)
        prev = op_id
    print(f"crosscheck.py: {passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
