#!/usr/bin/env python3
"""badserver.py - a "server" on 127.0.0.1 that never completes a WebSocket
upgrade, for the handshake faults of tests/integration/fault_handshake.sh.

    badserver.py PORT MODE SECONDS

MODE, for every connection it accepts:
  close    close at once (reset by a captive portal, a crashed proxy)
  http503  read the request, answer "503 Service Unavailable", close
  garbage  read the request, answer bytes that are not HTTP, close
  silent   accept and say nothing (a dead proxy); held until exit
Prints "ready" once listening and the number of connections at exit
(after SECONDS, or on SIGTERM): a test can check that the client tried
again, and that it gave up.
"""
import signal
import socket
import sys
import time


def main():
    port, mode, seconds = int(sys.argv[1]), sys.argv[2], float(sys.argv[3])
    if mode not in ("close", "http503", "garbage", "silent"):
        sys.exit(f"badserver: unknown mode {mode}")
    ls = socket.socket()
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind(("127.0.0.1", port))
    ls.listen(16)
    ls.settimeout(0.2)
    held, count = [], 0
    stop = [False]
    signal.signal(signal.SIGTERM, lambda *_: stop.__setitem__(0, True))
    print("ready", flush=True)
    end = time.monotonic() + seconds
    while not stop[0] and time.monotonic() < end:
        try:
            c, _ = ls.accept()
        except socket.timeout:
            continue
        count += 1
        if mode == "silent":
            held.append(c)
            continue
        if mode != "close":
            c.settimeout(2)
            try:
                c.recv(4096)
                c.sendall(b"HTTP/1.1 503 Service Unavailable\r\n"
                          b"Content-Length: 0\r\nConnection: close\r\n\r\n"
                          if mode == "http503" else b"\x00\xffnot http\r\n")
            except OSError:
                pass
        c.close()
    print(f"connections {count}", flush=True)


main()
