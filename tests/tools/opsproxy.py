#!/usr/bin/env python3
"""opsproxy.py - a TCP proxy between veld and veldd that joins two OPS.

    opsproxy.py LISTEN TARGET --join N --log FILE

Every connection to 127.0.0.1:LISTEN is relayed to 127.0.0.1:TARGET.  The
client's bytes pass as they are; the server's are read as WebSocket frames
(after the HTTP upgrade answer; the server does not mask, and veld
negotiates no extension), one message at a time, and sent on as one frame
each.  The N-th OPS message (counted over the proxy's life, from 1), if it
says more = true, is held back until the server's next message (veldd
sends it without waiting for the ACK: two OPS may be in flight), and then
both go on in one write.

Every OPS message passed on is logged to FILE as "ops K cursor C more M"
(K counted as N is), at once (flushed).  Test tool only.
"""
import argparse
import signal
import socket
import sys
import threading

lock = threading.Lock()
state = {"ops": 0}


def recv_exact(s, n):
    b = b""
    while len(b) < n:
        chunk = s.recv(n - len(b))
        if not chunk:
            raise EOFError
        b += chunk
    return b


def uint_at(p, i):
    """A msgpack unsigned integer at p[i]: (value, next index)."""
    t = p[i]
    if t < 0x80:
        return t, i + 1
    width = {0xCC: 1, 0xCD: 2, 0xCE: 4, 0xCF: 8}[t]
    return int.from_bytes(p[i + 1:i + 1 + width], "big"), i + 1 + width


def ops_fields(p):
    """For [8, runs, cursor, more]: (runs offset, cursor, more), else None."""
    if len(p) < 3 or p[0] != 0x94 or p[1] != 0x08:
        return None
    t = p[2]
    width = {0xC4: 1, 0xC5: 2, 0xC6: 4}.get(t)
    if width is None:
        return None
    n = int.from_bytes(p[3:3 + width], "big")
    start = 3 + width
    cursor, i = uint_at(p, start + n)
    return start, cursor, p[i] == 0xC3


def frame(opcode, payload):
    n = len(payload)
    if n < 126:
        head = bytes([0x80 | opcode, n])
    elif n < 65536:
        head = bytes([0x80 | opcode, 126]) + n.to_bytes(2, "big")
    else:
        head = bytes([0x80 | opcode, 127]) + n.to_bytes(8, "big")
    return head + payload


def message(payload, args, log):
    """Whether to hold this message back (the N-th OPS with more)."""
    f = ops_fields(payload)
    if f is None:
        return False
    _, cursor, more = f
    with lock:
        state["ops"] += 1
        k = state["ops"]
    log.write(f"ops {k} cursor {cursor} more {int(more)}\n")
    log.flush()
    return k == args.join and more


def downstream(srv, cli, args, log):
    """The server's bytes: the HTTP answer, then messages."""
    head = b""
    while b"\r\n\r\n" not in head:
        chunk = srv.recv(4096)
        if not chunk:
            raise EOFError
        head += chunk
    end = head.index(b"\r\n\r\n") + 4
    cli.sendall(head[:end])
    pending = head[end:]

    def take(n):
        nonlocal pending
        if len(pending) >= n:
            b, pending = pending[:n], pending[n:]
            return b
        b, pending = pending, b""
        return b + recv_exact(srv, n - len(b))

    opcode, parts, held = None, [], None
    while True:
        b0, b1 = take(2)
        n = b1 & 0x7F
        if n == 126:
            n = int.from_bytes(take(2), "big")
        elif n == 127:
            n = int.from_bytes(take(8), "big")
        if b1 & 0x80:
            mask = take(4)
            data = bytes(c ^ mask[i % 4] for i, c in enumerate(take(n)))
        else:
            data = take(n)
        op = b0 & 0x0F
        if op >= 0x8:  # control frames pass as they are
            cli.sendall(frame(op, data))
            continue
        if op != 0:
            opcode, parts = op, []
        parts.append(data)
        if b0 & 0x80:
            payload = b"".join(parts)
            if opcode == 0x2 and message(payload, args, log):
                held = frame(opcode, payload)
                continue
            out = frame(opcode, payload)
            if held:
                out, held = held + out, None
            cli.sendall(out)


def upstream(cli, srv):
    while True:
        data = cli.recv(65536)
        if not data:
            break
        srv.sendall(data)


def handle(cli, args, log):
    srv = socket.create_connection(("127.0.0.1", args.target))

    def run(fn, *a):
        try:
            fn(*a)
        except (OSError, EOFError, KeyError, IndexError):
            pass
        for s in (cli, srv):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    t = threading.Thread(target=run, args=(upstream, cli, srv), daemon=True)
    t.start()
    run(downstream, srv, cli, args, log)
    t.join(5)
    cli.close()
    srv.close()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("listen", type=int)
    ap.add_argument("target", type=int)
    ap.add_argument("--join", type=int, required=True)
    ap.add_argument("--log", required=True)
    args = ap.parse_args()
    log = open(args.log, "w")
    ls = socket.socket()
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind(("127.0.0.1", args.listen))
    ls.listen(16)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    while True:
        c, _ = ls.accept()
        threading.Thread(target=handle, args=(c, args, log),
                         daemon=True).start()


main()
