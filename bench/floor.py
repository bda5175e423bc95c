"""The floor: the least a Python reverse proxy on uvloop and httptools does per request, measured beside ours.

    .venv/bin/python bench/floor.py --http PORT --tcp PORT --nodes P1,P2 [--workers N]

Not a product, a yardstick (bench/run.py --floor runs it as "floor-1w" and "floor-2w"): issue 5's calibration
run, a minimal uvloop + httptools proxy, reached 0.87x HAProxy's req/s and 1.38x its CPU per request. This one
does what the benchmark's configuration asks and nothing else: keep-alive on both sides with idle node
connections kept per node, round-robin over the two nodes, the routing rule's test (Host, then path prefixes) and
X-Forwarded-For. No validation beyond httptools', no statistics, no timeouts, no monitors, no request bodies, and
the node's response is passed on as it came (httptools only finds where it ends). So ours/floor is what our
engine's features cost, and floor/HAProxy what Python and uvloop cost.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import socket
import sys
from collections import deque

import httptools
import uvloop

ROUTES = (b"/small", b"/big")


class Node:
    def __init__(self, port: int):
        self.port = port
        self.idle: list[NodeConn] = []


class NodeConn(asyncio.Protocol):
    """A connection to a node; ``client`` while it carries a request, in ``node.idle`` between."""

    def __init__(self, node: Node):
        self.node = node
        self.client: ClientConn | None = None
        self.transport = None
        self.parser = httptools.HttpResponseParser(self)
        self.done = False
        self.keep = False

    def connection_made(self, transport):
        self.transport = transport

    def data_received(self, data):
        client = self.client
        if client is None:
            self.transport.close()
            return
        client.transport.write(data)
        self.parser.feed_data(data)
        if self.done:
            self.done = False
            keep = self.keep
            self.client = None
            if keep:
                self.node.idle.append(self)
            else:
                self.transport.close()
            client.response_done()

    def on_message_complete(self):
        self.done = True
        self.keep = self.parser.should_keep_alive()  # only here: httptools clears it once feed_data returns

    def connection_lost(self, exc):
        if self in self.node.idle:
            self.node.idle.remove(self)
        if self.client is not None:
            self.client.transport.close()


class ClientConn(asyncio.Protocol):
    def __init__(self, proxy: Proxy):
        self.proxy = proxy
        self.loop = proxy.loop
        self.parser = httptools.HttpRequestParser(self)
        self.transport = None
        self.url = b""
        self.headers: list[bytes] = []
        self.host = b""
        self.xff = b""
        self.queue: deque[tuple[bytes, bool]] = deque()  # (head, close after it) waiting for the one in flight
        self.busy = False
        self.close_after = False

    def connection_made(self, transport):
        self.transport = transport
        self.xff = b"X-Forwarded-For: " + transport.get_extra_info("peername")[0].encode() + b"\r\n\r\n"

    def data_received(self, data):
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError:
            self.transport.write(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
            self.transport.close()

    def on_url(self, url):
        self.url = url

    def on_header(self, name, value):
        if name.lower() == b"host":
            self.host = value
        self.headers += (name, b": ", value, b"\r\n")

    def on_message_complete(self):
        p = self.parser
        method = p.get_method()
        routed = self.host == b"www.example.com" or self.url.startswith(ROUTES)  # the routing rule's test
        head = b"".join([method, b" ", self.url, b" HTTP/1.1\r\n", *self.headers, self.xff])
        self.headers = []
        self.host = b""
        self.proxy.routed += routed
        self.queue.append((head, not p.should_keep_alive()))
        if not self.busy:
            self.send_next()

    def send_next(self):
        head, self.close_after = self.queue.popleft()
        self.busy = True
        node = self.proxy.next_node()
        if node.idle:
            conn = node.idle.pop()
            conn.client = self
            conn.transport.write(head)
        else:
            self.loop.create_task(self.connect(node, head))

    async def connect(self, node: Node, head: bytes):
        try:
            _, conn = await self.loop.create_connection(lambda: NodeConn(node), "127.0.0.1", node.port)
        except OSError:
            self.transport.write(b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
            self.transport.close()
            return
        conn.client = self
        conn.transport.write(head)

    def response_done(self):
        self.busy = False
        if self.close_after:
            self.transport.close()
        elif self.queue:
            self.send_next()


class Proxy:
    def __init__(self, loop, nodes: list[int]):
        self.loop = loop
        self.nodes = [Node(p) for p in nodes]
        self.turn = 0
        self.routed = 0

    def next_node(self) -> Node:
        self.turn = (self.turn + 1) % len(self.nodes)
        return self.nodes[self.turn]


class Relay(asyncio.Protocol):
    """L4: bytes both ways, untouched."""

    def __init__(self, peer: Relay | None = None):
        self.peer = peer
        self.transport = None
        self.pending: list[bytes] = []

    def connection_made(self, transport):
        self.transport = transport
        if self.peer is not None:  # the node side: the client's early bytes go now
            self.peer.peer = self
            if self.peer.pending:
                transport.writelines(self.peer.pending)
                self.peer.pending = []

    def data_received(self, data):
        if self.peer is not None and self.peer.transport is not None:
            self.peer.transport.write(data)
        else:
            self.pending.append(data)

    def connection_lost(self, exc):
        if self.peer is not None and self.peer.transport is not None:
            self.peer.transport.close()


def serve(http: socket.socket, tcp: socket.socket, nodes: list[int]) -> None:
    loop = uvloop.new_event_loop()
    asyncio.set_event_loop(loop)
    proxy = Proxy(loop, nodes)
    turn = [0]

    def relay():
        client = Relay()
        turn[0] = (turn[0] + 1) % len(nodes)
        loop.create_task(loop.create_connection(lambda: Relay(client), "127.0.0.1", nodes[turn[0]]))
        return client

    loop.run_until_complete(loop.create_server(lambda: ClientConn(proxy), sock=http, backlog=1024))
    loop.run_until_complete(loop.create_server(relay, sock=tcp, backlog=1024))
    loop.add_signal_handler(signal.SIGTERM, loop.stop)
    loop.run_forever()


def listen(port: int) -> socket.socket:
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("127.0.0.1", port))
    s.listen(1024)
    s.setblocking(False)
    return s


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--http", type=int, required=True)
    ap.add_argument("--tcp", type=int, required=True)
    ap.add_argument("--nodes", required=True, help="the nodes' ports on 127.0.0.1, comma-separated")
    ap.add_argument("--workers", type=int, default=1)
    args = ap.parse_args()
    nodes = [int(p) for p in args.nodes.split(",")]
    http, tcp = listen(args.http), listen(args.tcp)
    if args.workers == 1:
        serve(http, tcp, nodes)
        return 0
    children = []
    for _ in range(args.workers):
        pid = os.fork()
        if pid == 0:
            serve(http, tcp, nodes)
            os._exit(0)
        children.append(pid)
    signal.signal(signal.SIGTERM, lambda *_: [os.kill(c, signal.SIGTERM) for c in children])
    for c in children:
        while True:
            try:
                os.waitpid(c, 0)
                break
            except InterruptedError:
                continue
    return 0


if __name__ == "__main__":
    sys.exit(main())
