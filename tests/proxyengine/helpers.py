"""Test helpers for the engine: engine.json builders, back-end servers and a tiny HTTP client (127.0.0.1 only)."""

from __future__ import annotations

import asyncio
import json
import socket
import time

import httptools


def free_port(kind: int = socket.SOCK_STREAM) -> int:
    with socket.socket(socket.AF_INET, kind) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def pool(nodes, algorithm="round_robin", **sections) -> dict:
    table = []
    for n in nodes:
        if isinstance(n, str):
            n = {"node": n}
        table.append({"state": "active", "weight": 1, "priority": 1, **n})
    props = {"basic": {"nodes_table": table}, "load_balancing": {"algorithm": algorithm}}
    for sec, vals in sections.items():
        props.setdefault(sec, {}).update(vals)
    return {"properties": props}


def vserver(port, pool_name="web", protocol="http", **sections) -> dict:
    props = {"basic": {"enabled": True, "port": port, "protocol": protocol, "pool": pool_name,
                       "listen_on_any": False, "listen_on_hosts": ["127.0.0.1"]}}
    for sec, vals in sections.items():
        props.setdefault(sec, {}).update(vals)
    return {"properties": props}


def engine_json(tmp_path, pools=None, virtual_servers=None, revision=1, **config) -> dict:
    return {
        "format": 1,
        "revision": revision,
        "digest": "0" * 64,
        "node": {"name": "tm1", "zeushome": str(tmp_path), "control_socket": str(tmp_path / "run" / "engine.sock"),
                 "log_dir": str(tmp_path / "log"), "workers": 1},
        "license": {"edition": "community", "bandwidth_limit_kbps": 0, "max_cluster_size": 4},
        "config": {"pools": pools or {}, "virtual_servers": virtual_servers or {}, **config},
    }


def write_json(path, doc) -> str:
    path.write_text(json.dumps(doc))
    return str(path)


class Backend(asyncio.Protocol):
    """An HTTP/1.1 node: answers with its name; /slow waits; /big sends a large body; /echo echoes the body."""

    def __init__(self, server: BackendServer):
        self.server = server
        self.parser = httptools.HttpRequestParser(self)
        self.transport = None
        self.headers = []
        self.body = b""
        self.url = b""

    def connection_made(self, transport):
        self.transport = transport
        self.server.connections += 1
        self.server.open.add(transport)

    def connection_lost(self, exc):
        self.server.open.discard(transport := self.transport)
        del transport

    upgraded = False

    def data_received(self, data):
        if self.upgraded:
            self.transport.write(b"echo:" + data)
            return
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserUpgrade as e:
            self.transport.write(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: echo\r\nConnection: Upgrade\r\n\r\n")
            self.upgraded = True
            if data[e.args[0]:]:
                self.transport.write(b"echo:" + data[e.args[0]:])
        except httptools.HttpParserError:
            self.transport.close()

    def on_message_begin(self):
        self.headers, self.body, self.url = [], b"", b""

    def on_url(self, url):
        self.url += url

    def on_header(self, n, v):
        self.headers.append((n.decode(), v.decode()))

    def on_body(self, b):
        self.body += b

    def on_message_complete(self):
        self.server.requests.append((self.parser.get_method().decode(), self.url.decode(), dict(
            (k.lower(), v) for k, v in self.headers), self.body))
        if self.parser.should_upgrade():
            return
        keep = self.parser.should_keep_alive()
        url = self.url.decode()
        if url.startswith("/slow"):
            asyncio.get_running_loop().call_later(float(url.split("=")[-1]) if "=" in url else 1.0, self.reply,
                                                  url, keep)
        else:
            self.reply(url, keep)

    def reply(self, url, keep):
        if self.transport.is_closing():
            return
        s = self.server
        if url.startswith("/echo"):
            body = self.body
        elif url.startswith("/big"):
            body = b"x" * 200_000
        else:
            body = s.name.encode()
        extra = b"".join(b"%s: %s\r\n" % (k.encode(), v.encode()) for k, v in s.extra_headers)
        if url.startswith("/chunked"):
            self.transport.write(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n" + extra + b"\r\n" +
                                 b"5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n")
        else:
            self.transport.write(b"HTTP/1.1 %d OK\r\nContent-Length: %d\r\n%s%s\r\n%s" % (
                s.status, len(body), extra, b"" if keep else b"Connection: close\r\n", body))
        if not keep:
            self.transport.close()


class BackendServer:
    def __init__(self, name: str, port: int | None = None, status: int = 200):
        self.name = name
        self.port = port or free_port()
        self.status = status
        self.requests: list = []
        self.connections = 0
        self.open: set = set()
        self.server = None
        self.extra_headers: list[tuple[str, str]] = []

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    async def start(self):
        loop = asyncio.get_running_loop()
        self.server = await loop.create_server(lambda: Backend(self), "127.0.0.1", self.port, reuse_address=True)
        return self

    async def stop(self):
        self.server.close()
        for t in list(self.open):
            t.abort()
        await self.server.wait_closed()


class Response:
    def __init__(self):
        self.status = 0
        self.headers: dict[str, str] = {}
        self.header_list: list[tuple[str, str]] = []
        self.body = b""
        self.done = False
        self.keep_alive = True

    def on_header(self, n, v):
        self.headers[n.decode().lower()] = v.decode()
        self.header_list.append((n.decode(), v.decode()))

    def on_body(self, b):
        self.body += b

    def on_message_complete(self):
        self.done = True


class Client:
    """A keep-alive HTTP/1.1 client connection (streams, for tests only)."""

    def __init__(self, port: int, host: str = "127.0.0.1", ssl=None, server_hostname=None):
        self.port, self.host, self.ssl, self.sni = port, host, ssl, server_hostname
        self.reader = self.writer = None
        self.buf = b""

    async def connect(self):
        self.reader, self.writer = await asyncio.open_connection(self.host, self.port, ssl=self.ssl,
                                                                 server_hostname=self.sni)
        return self

    async def send(self, raw: bytes):
        self.writer.write(raw)
        await self.writer.drain()

    async def read_response(self, method: str = "GET", timeout: float = 5.0) -> Response:
        resp = Response()
        parser = httptools.HttpResponseParser(resp)

        async def run():
            data = self.buf
            self.buf = b""
            while True:
                if data:
                    try:
                        parser.feed_data(data)
                    except httptools.HttpParserUpgrade as e:
                        self.buf = data[e.args[0]:]
                        resp.status = parser.get_status_code()
                        return
                    if resp.done or (method == "HEAD" and resp.headers and b"\r\n\r\n" in data):
                        resp.status = parser.get_status_code()
                        resp.keep_alive = parser.should_keep_alive()
                        return
                data = await self.reader.read(65536)
                if not data:
                    resp.status = parser.get_status_code() if resp.headers else 0
                    return

        await asyncio.wait_for(run(), timeout)
        return resp

    async def request(self, path="/", method="GET", headers=None, body=b"", timeout=5.0) -> Response:
        hs = {"Host": "test", **(headers or {})}
        if body:
            hs["Content-Length"] = str(len(body))
        raw = f"{method} {path} HTTP/1.1\r\n".encode() + b"".join(
            f"{k}: {v}\r\n".encode() for k, v in hs.items()) + b"\r\n" + body
        await self.send(raw)
        return await self.read_response(method, timeout)

    async def close(self):
        if self.writer:
            self.writer.close()


async def get(port: int, path: str = "/", **kw) -> Response:
    c = await Client(port).connect()
    try:
        return await c.request(path, **kw)
    finally:
        await c.close()


async def wait_for(cond, timeout: float = 10.0, interval: float = 0.05):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return True
        await asyncio.sleep(interval)
    return False


class RunningEngine:
    """An in-process Engine on the current loop, serving ``doc``; ``async with`` stops it."""

    def __init__(self, tmp_path, doc: dict):
        self.tmp_path = tmp_path
        self.doc = doc
        self.path = tmp_path / "engine.json"
        self.engine = None

    async def __aenter__(self):
        from proxyengine.config import parse_config
        from proxyengine.engine import Engine

        write_json(self.path, self.doc)
        self.engine = Engine(asyncio.get_running_loop(), config_path=str(self.path))
        self.warnings = await self.engine.start(parse_config(json.dumps(self.doc)))
        return self

    async def reload(self, doc: dict) -> dict:
        self.doc = doc
        write_json(self.path, doc)
        return await self.engine.handle({"cmd": "reload"})

    async def __aexit__(self, *exc):
        await self.engine.stop()
