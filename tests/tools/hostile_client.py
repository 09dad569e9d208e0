#!/usr/bin/env python3
"""hostile_client.py - a misbehaving peer for veldd, on plain sockets.

A WebSocket library would refuse to send what these tests need to send
(messages over the limit, frames that claim gigabytes, requests that never
finish, paths with dot segments), so this speaks just enough RFC 6455 /
HTTP/1.1 by hand to misbehave on purpose.  It is a test tool, never part
of veldd or veld.

    hostile_client.py oversize  HOST PORT      one binary message of
                                               VELD_MSG_MAX + 1 bytes
    hostile_client.py hugeframe HOST PORT      a frame header claiming
                                               2**40 bytes, then 1.1 MiB
    hostile_client.py textframe HOST PORT      a text message
    hostile_client.py noauth    HOST PORT      complete the upgrade, read
                                               HELLO, then say nothing
    hostile_client.py slowloris HOST PORT N S  N connections trickling a
                                               request header, one byte per
                                               second, for at most S seconds
    hostile_client.py get       HOST PORT PATH one raw GET of PATH exactly
                                               as given (no normalising)

Output (stdout), one line, for the shell test to check:
    close CODE SECONDS     the server sent a close frame with CODE
    error NAME             an ERROR message arrived first; NAME is its
                           VELD_E* name, looked up in the error table of
                           docs/protocol.md (env VELD_PROTOCOL_MD), else
                           the number
    dropped SECONDS        the connection ended without a close frame
    open SECONDS           still open when we gave up
    slowloris CLOSED OF N MAXSECONDS
    http STATUS LENGTH     for get; the body goes to stderr
Exit status 0 unless the tool itself failed (2).
"""
import base64
import os
import re
import socket
import struct
import sys
import time

MSG_MAX = 1024 * 1024


def connect(host, port, timeout=15):
    s = socket.create_connection((host, port), timeout=timeout)
    return s


def upgrade(host, port):
    s = connect(host, port)
    key = base64.b64encode(os.urandom(16)).decode()
    req = (
        "GET /sync HTTP/1.1\r\n"
        f"Host: {host}:{port}\r\n"
        "Upgrade: websocket\r\nConnection: Upgrade\r\n"
        f"Sec-WebSocket-Key: {key}\r\n"
        "Sec-WebSocket-Version: 13\r\n"
        "Sec-WebSocket-Protocol: veld.4\r\n\r\n"
    )
    s.sendall(req.encode())
    head = b""
    while b"\r\n\r\n" not in head:
        chunk = s.recv(4096)
        if not chunk:
            raise SystemExit("hostile_client: upgrade refused")
        head += chunk
    status = head.split(b"\r\n", 1)[0]
    if b" 101 " not in status:
        raise SystemExit(f"hostile_client: upgrade answered {status!r}")
    return s, head.split(b"\r\n\r\n", 1)[1]


def frame_header(opcode, length, fin=True):
    b0 = (0x80 if fin else 0) | opcode
    if length < 126:
        return struct.pack("!BB", b0, 0x80 | length)
    if length < 65536:
        return struct.pack("!BBH", b0, 0x80 | 126, length)
    return struct.pack("!BBQ", b0, 0x80 | 127, length)


def send_frame(s, opcode, payload, fin=True):
    mask = os.urandom(4)
    masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
    s.sendall(frame_header(opcode, len(payload), fin) + mask + masked)


class Reader:
    """Server frames (never masked) from a socket."""

    def __init__(self, s, pending=b""):
        self.s = s
        self.buf = pending

    def need(self, n):
        while len(self.buf) < n:
            chunk = self.s.recv(65536)
            if not chunk:
                raise EOFError
            self.buf += chunk
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def frame(self):
        b0, b1 = self.need(2)
        n = b1 & 0x7F
        if n == 126:
            (n,) = struct.unpack("!H", self.need(2))
        elif n == 127:
            (n,) = struct.unpack("!Q", self.need(8))
        return b0 & 0x0F, self.need(n)


def error_code(payload):
    """The code of an ERROR message [10, code, text, fatal] (msgpack): a
    negative fixint or int8/16/32; the tests only need the number."""
    if len(payload) < 3 or payload[0] != 0x94 or payload[1] != 0x0A:
        return None
    c = payload[2]
    if c >= 0xE0:
        return c - 256
    if c == 0xD0:
        return struct.unpack("!b", payload[3:4])[0]
    if c == 0xD1:
        return struct.unpack("!h", payload[3:5])[0]
    return None


def error_name(code):
    path = os.environ.get("VELD_PROTOCOL_MD")
    if path:
        with open(path, encoding="utf-8") as f:
            for line in f:
                m = re.match(r"\| (-\d+) \| `(E[A-Z0-9]+)` \|", line)
                if m and int(m.group(1)) == code:
                    return m.group(2)
    return str(code)


def outcome(s, pending, t0, wait=20):
    """Read until the server closes; print what happened."""
    s.settimeout(wait)
    r = Reader(s, pending)
    err = None
    try:
        while True:
            op, payload = r.frame()
            if op == 0x8:
                code = struct.unpack("!H", payload[:2])[0] if payload else 1005
                if err is not None:
                    print(f"error {error_name(err)}")
                print(f"close {code} {time.monotonic() - t0:.1f}")
                return
            if op == 0x2:
                c = error_code(payload)
                if c is not None:
                    err = c
    except (EOFError, ConnectionResetError, BrokenPipeError):
        if err is not None:
            print(f"error {error_name(err)}")
        print(f"dropped {time.monotonic() - t0:.1f}")
    except socket.timeout:
        print(f"open {time.monotonic() - t0:.1f}")


def read_hello(s, pending):
    r = Reader(s, pending)
    op, payload = r.frame()
    if op != 0x2 or not payload or payload[0] != 0x94 or payload[1] != 0x01:
        raise SystemExit("hostile_client: no HELLO")
    return r.buf


def oversize(host, port):
    s, pending = upgrade(host, port)
    pending = read_hello(s, pending)
    t0 = time.monotonic()
    # Looks like the start of a PUSH, then padding: one message, in
    # 64 KiB fragments, one byte over the limit.
    body = b"\x93\x05\x01" + b"\0" * (MSG_MAX + 1 - 3)
    step = 65536
    try:
        for i in range(0, len(body), step):
            part = body[i : i + step]
            opcode = 0x2 if i == 0 else 0x0
            send_frame(s, opcode, part, fin=i + step >= len(body))
    except (BrokenPipeError, ConnectionResetError):
        pass
    outcome(s, pending, t0)


def hugeframe(host, port):
    s, pending = upgrade(host, port)
    pending = read_hello(s, pending)
    t0 = time.monotonic()
    mask = os.urandom(4)
    try:
        s.sendall(struct.pack("!BBQ", 0x82, 0x80 | 127, 1 << 40) + mask)
        zeros = b"\0" * 65536
        for _ in range(18):  # 1.1 MiB of the claimed terabyte
            s.sendall(zeros)
    except (BrokenPipeError, ConnectionResetError):
        pass
    outcome(s, pending, t0)


def textframe(host, port):
    s, pending = upgrade(host, port)
    pending = read_hello(s, pending)
    t0 = time.monotonic()
    send_frame(s, 0x1, b'{"hello": "server"}')
    outcome(s, pending, t0)


def noauth(host, port):
    s, pending = upgrade(host, port)
    pending = read_hello(s, pending)
    t0 = time.monotonic()
    outcome(s, pending, t0, wait=30)


def slowloris(host, port, n, limit):
    req = f"GET /sync HTTP/1.1\r\nHost: {host}\r\nX-Slow: " + "a" * 4096
    socks = []
    for _ in range(n):
        s = connect(host, port)
        s.setblocking(False)
        socks.append([s, 0, None])
    t0 = time.monotonic()
    while time.monotonic() - t0 < limit:
        alive = 0
        for e in socks:
            if e[2] is not None:
                continue
            try:
                e[0].send(req[e[1] : e[1] + 1].encode())
                e[1] += 1
                try:
                    if e[0].recv(4096) == b"":
                        e[2] = time.monotonic() - t0
                except BlockingIOError:
                    pass
            except (BrokenPipeError, ConnectionResetError, OSError):
                e[2] = time.monotonic() - t0
            if e[2] is None:
                alive += 1
        if not alive:
            break
        time.sleep(1)
    closed = [e[2] for e in socks if e[2] is not None]
    worst = max(closed) if closed else 0
    print(f"slowloris {len(closed)} OF {n} {worst:.1f}")
    for e in socks:
        e[0].close()


def get(host, port, path):
    s = connect(host, port)
    s.sendall(
        f"GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n".encode()
    )
    data = b""
    try:
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
    except (ConnectionResetError, socket.timeout):
        pass
    head, _, body = data.partition(b"\r\n\r\n")
    line = head.split(b"\r\n", 1)[0].split()
    status = line[1].decode() if len(line) > 1 else "none"
    sys.stderr.buffer.write(body)
    print(f"http {status} {len(body)}")


def main(argv):
    if len(argv) < 4:
        print(__doc__, file=sys.stderr)
        return 2
    mode, host, port = argv[1], argv[2], int(argv[3])
    if mode == "oversize":
        oversize(host, port)
    elif mode == "hugeframe":
        hugeframe(host, port)
    elif mode == "textframe":
        textframe(host, port)
    elif mode == "noauth":
        noauth(host, port)
    elif mode == "slowloris" and len(argv) == 6:
        slowloris(host, port, int(argv[4]), float(argv[5]))
    elif mode == "get" and len(argv) == 5:
        get(host, port, argv[4])
    else:
        print(__doc__, file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
