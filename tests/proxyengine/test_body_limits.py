"""Request bodies over real sockets: the protection class's body size limit (413), a body that stops arriving (408),
and a rule reading a chunked body sent with chunk extensions and trailer fields."""

import asyncio
import time

import pytest
from helpers import BackendServer, RunningEngine, engine_json, free_port, pool, vserver
from test_hardening import raw

from proxyengine.rulehooks import _dechunk

pytestmark = pytest.mark.timeout(60)


def test_dechunk_drops_extensions_and_trailers():
    assert _dechunk(b"3;x=y\r\nabc\r\n2 ; a=\"b c\"\r\nde\r\n0\r\nX-T: 1\r\nY: 2\r\n\r\n") == b"abcde"
    assert _dechunk(b"A\r\n0123456789\r\n0\r\n\r\n") == b"0123456789"
    assert _dechunk(b"0\r\n\r\n") == b""


async def _engine(tmp_path, vs_extra=None, **config):
    backend = await BackendServer("node0").start()
    port = free_port()
    doc = engine_json(tmp_path, pools={"web": pool([backend.address])},
                      virtual_servers={"web": vserver(port, **(vs_extra or {}))}, **config)  # fmt: skip
    return backend, port, doc


def test_body_over_the_protection_class_limit_gets_413_and_reaches_no_node(tmp_path):
    async def main():
        backend, port, doc = await _engine(tmp_path, vs_extra={"basic": {"protection_class": "small"}},
                                           protection={"small": {"properties": {"http": {"max_body_length": 10}}}})
        async with RunningEngine(tmp_path, doc):
            status, out, closed = await raw(port, b"POST /u HTTP/1.1\r\nHost: a\r\nContent-Length: 11\r\n\r\n"
                                                  b"0123456789A")
            assert status == 413 and closed and b"Connection: close" in out
            assert backend.connections == 0
            # chunked: refused once the data passes the limit
            status, out, closed = await raw(port, [b"POST /u HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n"
                                                   b"\r\n6;ext=1\r\nabcdef\r\n", b"6\r\nghijkl\r\n0\r\n\r\n"], gap=0.2)
            assert status == 413 and closed
            # at the limit: proxied
            status, out, closed = await raw(port, b"POST /u HTTP/1.1\r\nHost: a\r\nContent-Length: 10\r\n"
                                                  b"Connection: close\r\n\r\n0123456789")
            assert status == 200
        await backend.stop()
        assert [r[3] for r in backend.requests] == [b"0123456789"]

    asyncio.run(main())


def test_body_without_a_limit_passes(tmp_path):
    async def main():
        backend, port, doc = await _engine(tmp_path)
        async with RunningEngine(tmp_path, doc):
            status, _, _ = await raw(port, b"POST /u HTTP/1.1\r\nHost: a\r\nContent-Length: 20000\r\n"
                                           b"Connection: close\r\n\r\n" + b"x" * 20000)
            assert status == 200
        await backend.stop()
        assert len(backend.requests[0][3]) == 20000

    asyncio.run(main())


def test_request_body_that_stops_arriving_gets_408(tmp_path):
    async def main():
        backend, port, doc = await _engine(tmp_path, vs_extra={"connection": {"timeout": 1}})
        async with RunningEngine(tmp_path, doc):
            t0 = time.monotonic()
            status, out, closed = await raw(port, b"POST /u HTTP/1.1\r\nHost: a\r\nContent-Length: 10\r\n\r\nabc",
                                            timeout=4)
            assert status == 408 and closed and time.monotonic() - t0 < 3
            # a body trickling in, a byte at a time faster than the timeout, is not cut
            pieces = [b"POST /u HTTP/1.1\r\nHost: a\r\nContent-Length: 4\r\nConnection: close\r\n\r\n"] + \
                [bytes([c]) for c in b"abcd"]  # fmt: skip
            status, out, closed = await raw(port, pieces, gap=0.4, timeout=4)
            assert status == 200
        await backend.stop()
        assert [r[3] for r in backend.requests] == [b"abcd"]

    asyncio.run(main())


def test_rule_reading_a_chunked_body_with_extensions_and_trailers(tmp_path):
    async def main():
        backend, port, doc = await _engine(tmp_path, vs_extra={"basic": {"request_rules": ["body"]}},
                                           rules={"body": 'http.setHeader("X-Body", http.getBody());'})
        async with RunningEngine(tmp_path, doc):
            status, out, _ = await raw(port, b"POST /u HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n"
                                             b"Connection: close\r\n\r\n3;x=y\r\nabc\r\n2\r\nde\r\n0\r\nX-T: 1\r\n\r\n")
            assert status == 200
        await backend.stop()
        headers = backend.requests[0][2]
        assert headers["x-body"] == "abcde"

    asyncio.run(main())
