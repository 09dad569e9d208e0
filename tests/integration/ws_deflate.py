#!/usr/bin/env python3
"""ws_deflate.py - permessage-deflate on veldd's sync endpoint, against a
real veldd on 127.0.0.1.

    usage: ws_deflate.py PATH/TO/veldd

Checks that a client offering permessage-deflate gets it, that a small
compressed message is understood (a compressed PULL before AUTH is refused
as out of order, not as garbage), and that a decompression bomb - 64 MB of
zeros that deflate to ~64 kB - is refused with close code 4413 (EMSGSIZE,
the limit applies after decompression; docs/protocol.md P1) while veldd's
peak RSS stays small and it keeps serving /healthz.  Prints
"N passed, M failed"; exits non-zero if anything failed.
"""
import base64
import os
import shutil
import socket
import struct
import subprocess
import sys
import tempfile
import time
import urllib.request
import zlib

passed = failed = 0


def check(what, cond):
    global passed, failed
    if cond:
        passed += 1
        print(f"ok   - {what}")
    else:
        failed += 1
        print(f"FAIL - {what}", file=sys.stderr)


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def healthz(port):
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz",
                                    timeout=2) as r:
            return r.status == 200
    except OSError:
        return False


def connect(port):
    """A WebSocket handshake offering deflate; returns (sock, headers, rest)."""
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    key = base64.b64encode(os.urandom(16)).decode()
    s.sendall((
        "GET /sync HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        "Upgrade: websocket\r\nConnection: Upgrade\r\n"
        f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
        "Sec-WebSocket-Protocol: veld.1\r\n"
        "Sec-WebSocket-Extensions: permessage-deflate; "
        "client_no_context_takeover; server_no_context_takeover\r\n\r\n"
    ).encode())
    buf = b""
    while b"\r\n\r\n" not in buf and len(buf) < 65536:
        d = s.recv(4096)
        if not d:
            break
        buf += d
    head, _, rest = buf.partition(b"\r\n\r\n")
    return s, head.decode("latin-1").lower(), rest


def send_compressed(s, data):
    """One binary message, compressed per RFC 7692, masked as a client."""
    c = zlib.compressobj(9, zlib.DEFLATED, -15)
    payload = (c.compress(data) + c.flush(zlib.Z_SYNC_FLUSH))[:-4]
    n = len(payload)
    hdr = bytes([0x80 | 0x40 | 0x2])  # FIN, RSV1 (compressed), binary
    if n < 126:
        hdr += bytes([0x80 | n])
    elif n < 65536:
        hdr += bytes([0x80 | 126]) + struct.pack(">H", n)
    else:
        hdr += bytes([0x80 | 127]) + struct.pack(">Q", n)
    mask = os.urandom(4)
    body = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
    s.sendall(hdr + mask + body)
    return n


def close_code(s, rest, limit_s=10):
    """Read until the server closes; the close code of its close frame."""
    data = rest
    end = time.time() + limit_s
    try:
        while time.time() < end:
            d = s.recv(65536)
            if not d:
                break
            data += d
    except OSError:
        pass
    s.close()
    # Walk the frames (server frames are not masked).
    i = 0
    while i + 2 <= len(data):
        op = data[i] & 0x0F
        n = data[i + 1] & 0x7F
        j = i + 2
        if n == 126:
            n = struct.unpack(">H", data[j:j + 2])[0]
            j += 2
        elif n == 127:
            n = struct.unpack(">Q", data[j:j + 8])[0]
            j += 8
        if op == 0x8 and n >= 2:
            close_code.reason = data[j + 2:j + n].decode("utf-8", "replace")
            return struct.unpack(">H", data[j:j + 2])[0]
        i = j + n
    return None


def vm(pid, key):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    return 0


def main():
    veldd = sys.argv[1]
    tmp = tempfile.mkdtemp(prefix="veld-deflate.")
    proc = None
    try:
        for _ in range(5):
            port = free_port()
            proc = subprocess.Popen(
                [veldd, "serve", "--data", os.path.join(tmp, "d"),
                 "--listen", f"127.0.0.1:{port}"],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            for _ in range(100):
                if healthz(port) or proc.poll() is not None:
                    break
                time.sleep(0.1)
            if proc.poll() is None and healthz(port):
                break
            proc.kill()
            proc.wait()
            proc = None
        if proc is None:
            check("veldd started", False)
            return

        s, head, rest = connect(port)
        check("handshake switched to veld.1", head.startswith("http/1.1 101"))
        check("permessage-deflate agreed",
              "sec-websocket-extensions: permessage-deflate" in head)
        # PULL (type 7, cursor 0) before AUTH: understood, and refused as
        # out of order (4400 EPROTO), which shows it was decompressed.
        send_compressed(s, bytes([0x92, 0x07, 0x00]))
        code = close_code(s, rest)
        why = getattr(close_code, "reason", "")
        check(f"a compressed PULL before AUTH is read and refused as out "
              f"of order (close {code} '{why}')",
              code == 4400 and why.startswith("EPROTO"))

        base = vm(proc.pid, "VmRSS")
        s, head, rest = connect(port)
        n = send_compressed(s, b"\x00" * (64 << 20))
        code = close_code(s, rest)
        check(f"a 64 MB message deflated to {n} bytes is refused with "
              f"4413 EMSGSIZE (got {code})", code == 4413)
        hwm = vm(proc.pid, "VmHWM")
        check(f"veldd's peak RSS stays small ({hwm} KiB, {base} KiB "
              f"before)", hwm < base + 16 * 1024)
        check("veldd keeps serving", healthz(port))
    finally:
        if proc is not None:
            proc.terminate()
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        shutil.rmtree(tmp, ignore_errors=True)
        print(f"{passed} passed, {failed} failed")


if __name__ == "__main__":
    main()
    sys.exit(1 if failed else 0)
