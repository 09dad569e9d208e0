#!/usr/bin/env python3
"""wijklab_proxy.py - the byte-counting TCP proxy of the wijklab benchmark.

    python3 bench/wijklab_proxy.py LISTEN_PORT TARGET_PORT

Listens on 127.0.0.1:LISTEN_PORT and relays every connection to
127.0.0.1:TARGET_PORT, counting what it reads: `up` = bytes read from the
client socket (client -> server), `down` = bytes read from the server
socket (server -> client).  That is TCP payload: HTTP upgrade requests,
WebSocket frames (headers included), pings, everything; not TCP/IP
headers.  It is what peers/lib/proxy.mjs counts for the peer systems.

Control on stdin, one command a line, answers on stdout:
    snap   -> "up down conns" since the last snap (then reset to 0)
    exit   -> stop
It prints "listening PORT" once ready and stops when stdin closes (the
harness is gone).  Flow control: a side's reading pauses while the other
side's write buffer is above the high-water mark, so memory stays bounded.
"""
import asyncio
import sys

HOST = "127.0.0.1"


class Counters:
    def __init__(self):
        self.up = 0
        self.down = 0
        self.conns = 0


class Side(asyncio.Protocol):
    """One socket of a relayed pair; counts what it reads."""

    def __init__(self, counters, up):
        self.counters = counters
        self.up = up  # True: this is the client's socket
        self.transport = None
        self.peer = None  # the other Side
        self.pending = []  # data read before the peer connected
        self.closed = False

    def connection_made(self, transport):
        self.transport = transport

    def data_received(self, data):
        if self.up:
            self.counters.up += len(data)
        else:
            self.counters.down += len(data)
        if self.peer is not None and self.peer.transport is not None:
            self.peer.transport.write(data)
        else:
            self.pending.append(data)

    def eof_received(self):
        if self.peer is not None and self.peer.transport is not None:
            if self.peer.transport.can_write_eof():
                self.peer.transport.write_eof()
        return True  # keep our write side open for the other direction

    def connection_lost(self, exc):
        self.closed = True
        if self.peer is not None and self.peer.transport is not None:
            self.peer.transport.close()

    # flow control: our write buffer is full -> stop reading the other side
    def pause_writing(self):
        if self.peer is not None and self.peer.transport is not None:
            self.peer.transport.pause_reading()

    def resume_writing(self):
        if self.peer is not None and self.peer.transport is not None:
            self.peer.transport.resume_reading()


async def relay(loop, counters, target_port):
    def accept():
        counters.conns += 1
        client = Side(counters, True)

        async def connect():
            try:
                _, server = await loop.create_connection(
                    lambda: Side(counters, False), HOST, target_port)
            except OSError:
                if client.transport is not None:
                    client.transport.close()
                return
            server.peer = client
            client.peer = server
            if client.closed:
                server.transport.close()
                return
            for chunk in client.pending:
                server.transport.write(chunk)
            client.pending.clear()

        loop.create_task(connect())
        return client

    return accept


async def main():
    if len(sys.argv) != 3:
        print("usage: wijklab_proxy.py LISTEN_PORT TARGET_PORT", file=sys.stderr)
        sys.exit(2)
    listen_port, target_port = int(sys.argv[1]), int(sys.argv[2])
    loop = asyncio.get_running_loop()
    counters = Counters()
    factory = await relay(loop, counters, target_port)
    server = await loop.create_server(factory, HOST, listen_port,
                                      reuse_address=True)
    # asyncio sets TCP_NODELAY on every TCP transport, like the peers' proxy
    print(f"listening {listen_port}", flush=True)

    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader),
                                 sys.stdin)
    while True:
        line = await reader.readline()
        if not line:
            break
        cmd = line.decode().strip()
        if cmd == "snap":
            print(f"{counters.up} {counters.down} {counters.conns}", flush=True)
            counters.up = counters.down = counters.conns = 0
        elif cmd == "exit":
            break
    server.close()


if __name__ == "__main__":
    asyncio.run(main())
