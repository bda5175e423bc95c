"""Bad traffic over real sockets on 127.0.0.1: malformed requests answered early and closed with nothing sent to a node,
slow clients timed out, connection limits, and nodes that send malformed responses or stop mid-way."""

import asyncio
import time

import pytest
from helpers import BackendServer, RunningEngine, engine_json, free_port, pool, vserver

pytestmark = pytest.mark.timeout(60)

LIMITS = {"http": {"max_url_length": 1024, "max_header_length": 1024, "max_header_count": 20,
                   "max_request_length": 4096}}  # fmt: skip


async def raw(port: int, data: bytes | list[bytes], timeout: float = 5.0, gap: float = 0.0) -> tuple[int, bytes, bool]:
    """Send ``data`` (pieces ``gap`` seconds apart) while reading; (status, everything read, whether it was closed)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    got = bytearray()
    state = {"closed": False}

    async def read_all():
        try:
            while chunk := await reader.read(65536):
                got.extend(chunk)
            state["closed"] = True
        except ConnectionError:
            state["closed"] = True

    task = asyncio.ensure_future(read_all())
    try:
        for piece in [data] if isinstance(data, bytes) else data:
            if task.done():
                break  # the engine gave up on us
            try:
                writer.write(piece)
                await writer.drain()
            except ConnectionError:
                break
            if gap:
                await asyncio.sleep(gap)
        try:
            await asyncio.wait_for(asyncio.shield(task), timeout)
        except TimeoutError:
            pass
    finally:
        task.cancel()
        writer.close()
    out = bytes(got)
    status = int(out.split(b" ", 2)[1]) if out.startswith(b"HTTP/1.1 ") else 0
    return status, out, state["closed"]


async def _engine(tmp_path, vs_extra=None, backend=None, **config):
    backend = backend or await BackendServer("node0").start()
    port = free_port()
    doc = engine_json(tmp_path, pools={"web": pool([backend.address])},
                      virtual_servers={"web": vserver(port, **(vs_extra or {}))},
                      global_settings={"properties": LIMITS}, **config)  # fmt: skip
    return backend, port, doc


def _cl(n):
    return b"POST / HTTP/1.1\r\nHost: a\r\n" + n + b"\r\n\r\nabc"


BAD_REQUESTS = {
    # request smuggling
    "CL and TE": (b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400),
    "TE and CL": (b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n0\r\n\r\n", 400),
    "duplicate CL": (_cl(b"Content-Length: 3\r\nContent-Length: 3"), 400),
    "conflicting CL": (_cl(b"Content-Length: 3\r\nContent-Length: 4"), 400),
    "list CL": (_cl(b"Content-Length: 3, 3"), 400),
    "CL with sign": (_cl(b"Content-Length: +3"), 400),
    "CL with underscore": (_cl(b"Content-Length: 0_3"), 400),
    "CL in hex": (_cl(b"Content-Length: 0x3"), 400),
    "CL negative": (_cl(b"Content-Length: -3"), 400),
    "CL Unicode digits": (_cl("Content-Length: \u0663".encode()), 400),
    "CL over 64 bits": (_cl(b"Content-Length: 18446744073709551619"), 400),
    "TE not chunked": (b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\n\r\n", 501),
    "TE chunked not last": (b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, gzip\r\n\r\n0\r\n\r\n", 400),
    "TE chunked twice": (b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, chunked\r\n\r\n0\r\n\r\n", 400),
    "TE space before colon": (b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding : chunked\r\n\r\n0\r\n\r\n", 400),
    "TE control character": (b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding:\x0bchunked\r\n\r\n0\r\n\r\n", 400),
    "TE folded": (b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding:\r\n chunked\r\n\r\n0\r\n\r\n", 400),
    "TE obfuscated value": (b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: xchunked\r\n\r\n0\r\n\r\n", 501),
    "TE in HTTP/1.0": (b"POST / HTTP/1.0\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400),
    "chunk size with sign": (b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n+3\r\nabc\r\n0\r\n\r\n", 400),
    "chunk size 0x": (b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n0x3\r\nabc\r\n0\r\n\r\n", 400),
    "chunk size over 64 bits": (b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
                                b"10000000000000003\r\nabc\r\n0\r\n\r\n", 400),
    "chunk without CRLF after data": (b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
                                      b"3\r\nabcX\r\n0\r\n\r\n", 400),
    "chunk line with bare LF": (b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n3\nabc\r\n0\r\n\r\n",
                                400),
    "chunk extension with control": (b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
                                     b"3;a\x01=b\r\nabc\r\n0\r\n\r\n", 400),
    "bad trailer": (b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\nBad trailer\r\n\r\n",
                    400),
    # header syntax
    "control character in value": (b"GET / HTTP/1.1\r\nHost: a\r\nX-A: b\x00c\r\n\r\n", 400),
    "bare CR in value": (b"GET / HTTP/1.1\r\nHost: a\r\nX-A: b\rc\r\n\r\n", 400),
    "bare LF line endings": (b"GET / HTTP/1.1\nHost: a\n\n", 400),
    "space before colon": (b"GET / HTTP/1.1\r\nHost: a\r\nX-A : b\r\n\r\n", 400),
    "obs-fold": (b"GET / HTTP/1.1\r\nHost: a\r\nX-A: b\r\n  c\r\n\r\n", 400),
    "first header starts with space": (b"GET / HTTP/1.1\r\n Host: a\r\n\r\n", 400),
    "invalid name character": (b"GET / HTTP/1.1\r\nHost: a\r\nX(A): b\r\n\r\n", 400),
    "empty name": (b"GET / HTTP/1.1\r\nHost: a\r\n: b\r\n\r\n", 400),
    "no colon": (b"GET / HTTP/1.1\r\nHost: a\r\nBad Header\r\n\r\n", 400),
    # Host
    "missing Host": (b"GET / HTTP/1.1\r\nX-A: b\r\n\r\n", 400),
    "duplicate Host": (b"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400),
    "Host with space": (b"GET / HTTP/1.1\r\nHost: a b\r\n\r\n", 400),
    "Host with userinfo": (b"GET / HTTP/1.1\r\nHost: u@a\r\n\r\n", 400),
    "Host with path": (b"GET / HTTP/1.1\r\nHost: a/b\r\n\r\n", 400),
    "empty Host": (b"GET / HTTP/1.1\r\nHost: \r\n\r\n", 400),
    "absolute-form with bad authority": (b"GET http://a b/ HTTP/1.1\r\nHost: a\r\n\r\n", 400),
    # request line
    "invalid method": (b"G(T / HTTP/1.1\r\nHost: a\r\n\r\n", 400),
    "space in target": (b"GET /a b HTTP/1.1\r\nHost: a\r\n\r\n", 400),
    "control in target": (b"GET /a\x7fb HTTP/1.1\r\nHost: a\r\n\r\n", 400),
    "fragment in target": (b"GET /a#b HTTP/1.1\r\nHost: a\r\n\r\n", 400),
    "relative target": (b"GET a HTTP/1.1\r\nHost: a\r\n\r\n", 400),
    "HTTP/0.9": (b"GET /\r\n\r\n", 400),
    "HTTP/2.0 on HTTP/1": (b"GET / HTTP/2.0\r\nHost: a\r\n\r\n", 505),
    "HTTP/3.0": (b"GET / HTTP/3.0\r\nHost: a\r\n\r\n", 505),
    "lower-case version": (b"GET / http/1.1\r\nHost: a\r\n\r\n", 400),
    "version garbage": (b"GET / HTTP/1.1x\r\nHost: a\r\n\r\n", 400),
    "two spaces": (b"GET  / HTTP/1.1\r\nHost: a\r\n\r\n", 400),
    "CONNECT": (b"CONNECT a:443 HTTP/1.1\r\nHost: a:443\r\n\r\n", 501),
    "binary garbage": (b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\r\n\r\n", 400),
    "unsupported expectation": (b"POST / HTTP/1.1\r\nHost: a\r\nExpect: something\r\nContent-Length: 1\r\n\r\nx", 417),
    # limits (configured: 1024 request line / header line, 20 fields, 4096 in all)
    "request line too long": (b"GET /" + b"a" * 2000 + b" HTTP/1.1\r\nHost: a\r\n\r\n", 414),
    "request line too long, unfinished": (b"GET /" + b"a" * 3000, 414),
    "header line too long": (b"GET / HTTP/1.1\r\nHost: a\r\nX-A: " + b"b" * 2000 + b"\r\n\r\n", 431),
    "too many headers": (b"GET / HTTP/1.1\r\nHost: a\r\n" + b"".join(b"X-%d: 1\r\n" % i for i in range(30)) + b"\r\n",
                         431),
    "head too large": (b"GET / HTTP/1.1\r\nHost: a\r\n" + b"".join(b"X-%d: %s\r\n" % (i, b"v" * 500)
                                                                    for i in range(12)) + b"\r\n", 431),
    "head too large, unfinished": (b"GET / HTTP/1.1\r\nHost: a\r\n" + b"X: " + b"v" * 900 + b"\r\n" + b"Y: z\r\n" * 900,
                                   431),
}  # fmt: skip


@pytest.mark.parametrize("case", list(BAD_REQUESTS))
def test_malformed_request_refused_and_closed_with_nothing_sent_to_the_node(tmp_path, case):
    data, want = BAD_REQUESTS[case]

    async def main():
        backend, port, doc = await _engine(tmp_path)
        async with RunningEngine(tmp_path, doc):
            status, out, closed = await raw(port, data)
        await backend.stop()
        assert status == want, out[:200]
        assert b"Connection: close" in out and closed
        assert backend.connections == 0 and backend.requests == []

    asyncio.run(main())


def test_bad_request_after_a_good_one_in_the_same_packet_sends_neither(tmp_path):
    async def main():
        backend, port, doc = await _engine(tmp_path)
        async with RunningEngine(tmp_path, doc):
            status, out, closed = await raw(port, b"GET /ok HTTP/1.1\r\nHost: a\r\n\r\n"
                                                  b"GET /bad HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n")
        await backend.stop()
        assert status == 400 and closed and backend.connections == 0

    asyncio.run(main())


def test_chunk_error_in_a_later_read_sends_nothing_to_the_node(tmp_path):
    async def main():
        backend, port, doc = await _engine(tmp_path)
        async with RunningEngine(tmp_path, doc):
            status, out, closed = await raw(port, [b"POST /u HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
                                                   b"3\r\nabc\r\n", b"zz\r\nxyz\r\n0\r\n\r\n"], gap=0.3)
            # the same with Expect: 100-continue: the engine says continue itself while it holds the body
            status2, out2, closed2 = await raw(port, [b"POST /u HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n"
                                                      b"Expect: 100-continue\r\n\r\n", b"3\r\nabc\r\n",
                                                      b"3\r\nxyz\r\nQ\r\n"], gap=0.3)
        await backend.stop()
        assert status == 400 and closed
        assert out2.startswith(b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 400 ") and closed2
        assert backend.connections == 0 and backend.requests == []  # the body was held back: nothing went

    asyncio.run(main())


def test_chunked_body_held_until_complete_then_sent_and_a_big_one_streams(tmp_path):
    async def main():
        backend, port, doc = await _engine(tmp_path, vs_extra={"connection": {"max_client_buffer": 1024}})
        async with RunningEngine(tmp_path, doc):
            head = b"POST /echo HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
            status, out, _ = await raw(port, [head + b"3\r\nabc\r\n", b"3\r\nxyz\r\n0\r\n\r\n"], gap=0.2)
            assert status == 200 and out.endswith(b"abcxyz")
            big = b"800\r\n" + b"b" * 2048 + b"\r\n"  # over max_client_buffer: streams before the end arrives
            status, out, _ = await raw(port, [head + big, big + b"0\r\n\r\n"], gap=0.2)
            assert status == 200 and out.endswith(b"b" * 4096)
        await backend.stop()

    asyncio.run(main())


def test_well_formed_edge_cases_pass_through(tmp_path):
    async def main():
        backend, port, doc = await _engine(tmp_path)
        async with RunningEngine(tmp_path, doc):
            # absolute-form: the authority is the Host the node sees
            status, out, _ = await raw(port, b"GET http://www.example.com/p?q HTTP/1.1\r\nHost: other\r\n"
                                             b"Connection: close\r\n\r\n")
            assert status == 200
            method, url, headers, _ = backend.requests[-1]
            assert url == "/p?q" and headers["host"] == "www.example.com"
            # chunked body with an extension and a trailer: passed on verbatim, framing kept
            status, out, _ = await raw(port, b"POST /echo HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n"
                                             b"Connection: close\r\n\r\n3;x=y\r\nabc\r\n0\r\nX-T: 1\r\n\r\n")
            assert status == 200 and out.endswith(b"abc")
            # empty lines before the request line are ignored; HTTP/1.0 without Host is fine
            status, out, _ = await raw(port, b"\r\nGET / HTTP/1.0\r\n\r\n")
            assert status == 200
        await backend.stop()

    asyncio.run(main())


def test_slow_head_gets_408_and_idle_keepalive_is_closed(tmp_path):
    async def main():
        backend, port, doc = await _engine(tmp_path, vs_extra={"connection": {"timeout": 1, "keepalive_timeout": 1},
                                                               "basic": {"connect_timeout": 1}})
        async with RunningEngine(tmp_path, doc):
            t0 = time.monotonic()
            # slowloris: a byte every 0.2 s never completes the head in time
            pieces = [bytes([b]) for b in b"GET / HTTP/1.1\r\nHost: a\r\nX-Slow: aaaaaaaaaaaaaaa"]
            status, out, closed = await raw(port, pieces, gap=0.2, timeout=3)
            assert status == 408 and closed and time.monotonic() - t0 < 4
            # a connection that says nothing is closed without a response
            status, out, closed = await raw(port, b"", timeout=3)
            assert closed and out == b""
            # keep-alive idle after a response: closed after the idle timeout
            t0 = time.monotonic()
            status, out, closed = await raw(port, b"GET / HTTP/1.1\r\nHost: a\r\n\r\n", timeout=4)
            assert status == 200 and closed and time.monotonic() - t0 < 3.5
        await backend.stop()
        assert backend.requests and all(r[1] == "/" for r in backend.requests)

    asyncio.run(main())


@pytest.mark.parametrize("where", ["virtual_server", "engine"])
def test_connection_limits(tmp_path, where):
    async def main():
        if where == "virtual_server":
            backend, port, doc = await _engine(tmp_path, vs_extra={"basic": {"max_concurrent_connections": 2}})
        else:
            backend, port, doc = await _engine(tmp_path)
            doc["config"]["global_settings"]["properties"]["connection"] = {"max_client_connections": 2}
        async with RunningEngine(tmp_path, doc):
            held = [await asyncio.open_connection("127.0.0.1", port) for _ in range(2)]
            await asyncio.sleep(0.1)
            status, out, closed = await raw(port, b"GET / HTTP/1.1\r\nHost: a\r\n\r\n", timeout=3)
            assert closed and status == 0  # refused at once
            for _, w in held:
                w.close()
            await asyncio.sleep(0.2)
            status, out, _ = await raw(port, b"GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
            assert status == 200  # the slots came back
        await backend.stop()

    asyncio.run(main())


class CannedNode(asyncio.Protocol):
    """A node that answers every request with the same bytes, then maybe closes."""

    def __init__(self, server):
        self.server = server

    def connection_made(self, transport):
        self.server.connections += 1
        self.transport = transport

    def data_received(self, data):
        if b"\r\n\r\n" in data:
            self.transport.write(self.server.reply)
            if self.server.close:
                self.transport.close()


class CannedServer:
    def __init__(self, reply: bytes, close: bool = False):
        self.reply, self.close = reply, close
        self.connections = 0
        self.port = free_port()
        self.address = f"127.0.0.1:{self.port}"

    async def start(self):
        self.server = await asyncio.get_running_loop().create_server(lambda: CannedNode(self), "127.0.0.1", self.port)
        return self

    async def stop(self):
        self.server.close()


BAD_RESPONSES = {
    "CL and TE": b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
    "two different CLs": b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd",
    "invalid CL": b"HTTP/1.1 200 OK\r\nContent-Length: 3x\r\n\r\nabc",
    "garbage": b"SSH-2.0-OpenSSH_9.2\r\n\r\n",
    "obs-fold": b"HTTP/1.1 200 OK\r\nX-A: b\r\n c\r\nContent-Length: 0\r\n\r\n",
    "bad chunk": b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n0\r\n\r\n",
}


@pytest.mark.parametrize("case", list(BAD_RESPONSES))
def test_malformed_response_gives_502_and_the_node_connection_is_not_reused(tmp_path, case):
    async def main():
        node = await CannedServer(BAD_RESPONSES[case]).start()
        _, port, doc = await _engine(tmp_path, backend=node)
        doc["config"]["pools"]["web"]["properties"]["connection"] = {"max_reply_time": 2}
        async with RunningEngine(tmp_path, doc):
            for i in range(2):
                status, out, closed = await raw(port, b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\n\r\n")
                if case == "bad chunk":  # the head went out already: the client's connection is cut short
                    assert closed and b"abc" not in out
                else:
                    assert status == 502, out
                assert node.connections == i + 1  # a fresh connection each time
        await node.stop()

    asyncio.run(main())


def test_node_stopping_mid_response_closes_the_client_connection(tmp_path):
    async def main():
        node = await CannedServer(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly ten..", close=True).start()
        _, port, doc = await _engine(tmp_path, backend=node)
        async with RunningEngine(tmp_path, doc):
            status, out, closed = await raw(port, b"GET / HTTP/1.1\r\nHost: a\r\n\r\n")
            assert status == 200 and closed and out.endswith(b"only ten..")
            # a chunked response cut before its last chunk: closed too, never a clean end
            node.reply = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n"
            status, out, closed = await raw(port, b"GET / HTTP/1.1\r\nHost: a\r\n\r\n")
            assert status == 200 and closed and not out.endswith(b"0\r\n\r\n")
        await node.stop()

    asyncio.run(main())
