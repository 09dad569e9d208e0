#!/usr/bin/env python3
"""faultproxy.py - a hostile network between veld and veldd, as a TCP proxy.

Used where tc netem is not available (it needs the sch_netem module in the
kernel; tests/integration/fault_network.sh tries it first).  Every
connection to 127.0.0.1:LISTEN is relayed to 127.0.0.1:TARGET, and on the
way:

    --split        bytes are delivered in random pieces of 1..MAXPIECE
                   (default 512) bytes, so every WebSocket frame and every
                   message arrives cut up in different places each time;
    --delay MS     each piece waits a random 0..MS milliseconds, per
                   direction, so the two directions' timing is shuffled
                   against each other (TCP itself keeps each direction's
                   bytes in order; there is nothing else to reorder);
    --cut P        with probability P a connection is cut (both sockets
                   closed, no goodbye) after a random 1..CUTMAX (default
                   64 KiB) bytes, which is in the middle of a message
                   nearly always;
    --seed N       the random choices, to replay a run.

    faultproxy.py LISTEN TARGET [--split] [--maxpiece N] [--delay MS]
                  [--cut P] [--cutmax N] [--seed N] [--stats FILE]

On SIGTERM it writes "connections N cut N bytes N" to FILE (if given) and
exits.  Test tool only.
"""
import argparse
import random
import signal
import socket
import sys
import threading
import time

stats = {"connections": 0, "cut": 0, "bytes": 0}
lock = threading.Lock()


def pump(src, dst, rng, args, budget, conn_done):
    """Copy src to dst with the faults; budget[0] bytes until the cut."""
    try:
        while not conn_done.is_set():
            data = src.recv(65536)
            if not data:
                break
            while data:
                n = len(data)
                if args.split:
                    n = min(n, rng.randint(1, args.maxpiece))
                if budget[0] is not None:
                    with lock:
                        if budget[0] <= 0:
                            raise ConnectionAbortedError
                        n = min(n, budget[0])
                        budget[0] -= n
                piece, data = data[:n], data[n:]
                if args.delay:
                    time.sleep(rng.uniform(0, args.delay) / 1000.0)
                dst.sendall(piece)
                with lock:
                    stats["bytes"] += len(piece)
                if budget[0] is not None and budget[0] <= 0:
                    with lock:
                        stats["cut"] += 1
                    raise ConnectionAbortedError
    except (OSError, ConnectionAbortedError):
        pass
    conn_done.set()
    for s in (src, dst):
        try:
            s.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass


def handle(client, args, rng):
    try:
        server = socket.create_connection(("127.0.0.1", args.target))
    except OSError:
        client.close()
        return
    budget = [None]
    if rng.random() < args.cut:
        budget[0] = rng.randint(1, args.cutmax)
    done = threading.Event()
    r1 = random.Random(rng.random())
    r2 = random.Random(rng.random())
    t1 = threading.Thread(
        target=pump, args=(client, server, r1, args, budget, done), daemon=True
    )
    t2 = threading.Thread(
        target=pump, args=(server, client, r2, args, budget, done), daemon=True
    )
    t1.start()
    t2.start()
    t1.join()
    t2.join()
    client.close()
    server.close()


def main():
    p = argparse.ArgumentParser()
    p.add_argument("listen", type=int)
    p.add_argument("target", type=int)
    p.add_argument("--split", action="store_true")
    p.add_argument("--maxpiece", type=int, default=512)
    p.add_argument("--delay", type=float, default=0)
    p.add_argument("--cut", type=float, default=0)
    p.add_argument("--cutmax", type=int, default=65536)
    p.add_argument("--seed", type=int, default=None)
    p.add_argument("--stats", default=None)
    args = p.parse_args()
    rng = random.Random(args.seed)

    def finish(*_):
        if args.stats:
            with open(args.stats, "w") as f:
                f.write(
                    f"connections {stats['connections']} cut {stats['cut']} "
                    f"bytes {stats['bytes']}\n"
                )
        sys.exit(0)

    signal.signal(signal.SIGTERM, finish)
    ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind(("127.0.0.1", args.listen))
    ls.listen(64)
    while True:
        c, _ = ls.accept()
        with lock:
            stats["connections"] += 1
        threading.Thread(target=handle, args=(c, args, rng), daemon=True).start()


if __name__ == "__main__":
    main()
