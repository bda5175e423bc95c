"""The HTTP reverse proxy over real sockets on 127.0.0.1: keep-alive, framing, headers, failures."""

import asyncio

import pytest
from helpers import BackendServer, Client, RunningEngine, engine_json, free_port, get, pool, vserver

pytestmark = pytest.mark.timeout(60)


def run(coro):
    return asyncio.run(coro)


async def _setup(tmp_path, n=2, algorithm="round_robin", pool_extra=None, vs_extra=None, **config):
    backends = [await BackendServer(f"node{i}").start() for i in range(n)]
    port = free_port()
    doc = engine_json(tmp_path, pools={"web": pool([b.address for b in backends], algorithm, **(pool_extra or {}))},
                      virtual_servers={"web": vserver(port, **(vs_extra or {}))}, **config)
    return backends, port, doc


def test_round_robin_over_keepalive_reuses_node_connections(tmp_path):
    async def main():
        backends, port, doc = await _setup(tmp_path)
        async with RunningEngine(tmp_path, doc):
            c = await Client(port).connect()
            names = []
            for _ in range(40):
                r = await c.request("/")
                assert r.status == 200
                names.append(r.body.decode())
            await c.close()
            assert names.count("node0") == 20 and names.count("node1") == 20
            # keep-alive reuse to the nodes: far fewer connects than requests
            assert sum(b.connections for b in backends) <= 4
        for b in backends:
            await b.stop()
    run(main())


def test_x_forwarded_headers_and_hop_by_hop_removed(tmp_path):
    async def main():
        backends, port, doc = await _setup(tmp_path, n=1, vs_extra={"http": {"add_x_forwarded_for": True,
                                                                               "add_x_forwarded_proto": True}})
        async with RunningEngine(tmp_path, doc):
            r = await get(port, "/", headers={"X-Forwarded-For": "1.2.3.4", "Connection": "keep-alive, X-Secret",
                                              "X-Secret": "s", "Keep-Alive": "timeout=5", "X-Forwarded-Proto": "ftp"})
            assert r.status == 200
            _, _, h, _ = backends[0].requests[-1]
            assert h["x-forwarded-for"] == "1.2.3.4, 127.0.0.1"
            assert h["x-forwarded-proto"] == "http"
            assert h["x-forwarded-port"] == str(port)
            assert h["x-cluster-client-ip"] == "127.0.0.1"
            assert "x-secret" not in h and "keep-alive" not in h
        await backends[0].stop()
    run(main())


def test_pipelined_requests_answered_in_order(tmp_path):
    async def main():
        backends, port, doc = await _setup(tmp_path, n=1)
        async with RunningEngine(tmp_path, doc):
            c = await Client(port).connect()
            await c.send(b"GET /slow?t=0.3 HTTP/1.1\r\nHost: a\r\n\r\nGET /echo HTTP/1.1\r\nHost: a\r\n"
                         b"Content-Length: 5\r\n\r\nhelloGET /x HTTP/1.1\r\nHost: a\r\n\r\n")
            r1 = await c.read_response()
            r2 = await c.read_response()
            r3 = await c.read_response()
            assert (r1.body, r2.body, r3.body) == (b"node0", b"hello", b"node0")
            await c.close()
        await backends[0].stop()
    run(main())


def test_chunked_request_and_response_bodies_stream(tmp_path):
    async def main():
        backends, port, doc = await _setup(tmp_path, n=1)
        async with RunningEngine(tmp_path, doc):
            c = await Client(port).connect()
            await c.send(b"POST /echo HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
                         b"3\r\nabc\r\n4\r\ndefg\r\n0\r\n\r\n")
            r = await c.read_response()
            assert r.status == 200 and r.body == b"abcdefg"
            r = await c.request("/chunked")
            assert r.body == b"hello world" and r.headers["transfer-encoding"] == "chunked"
            r = await c.request("/big")
            assert len(r.body) == 200_000
            r = await c.request("/x", method="HEAD")
            assert r.status == 200 and r.body == b""
            r = await c.request("/x")
            assert r.body == b"node0"
            await c.close()
        await backends[0].stop()
    run(main())


def test_expect_100_continue(tmp_path):
    async def main():
        backends, port, doc = await _setup(tmp_path, n=1)
        async with RunningEngine(tmp_path, doc):
            c = await Client(port).connect()
            await c.send(b"POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 4\r\nExpect: 100-continue\r\n\r\n")
            line = await asyncio.wait_for(c.reader.readuntil(b"\r\n\r\n"), 5)
            assert line.startswith(b"HTTP/1.1 100 Continue")
            await c.send(b"data")
            r = await c.read_response()
            assert r.body == b"data"
            assert "expect" not in backends[0].requests[-1][2]
            await c.close()
        await backends[0].stop()
    run(main())


def test_websocket_upgrade_is_tunnelled(tmp_path):
    async def main():
        backends, port, doc = await _setup(tmp_path, n=1)
        async with RunningEngine(tmp_path, doc):
            c = await Client(port).connect()
            await c.send(b"GET /ws HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\nUpgrade: echo\r\n\r\n")
            r = await c.read_response()
            assert r.status == 101 and r.headers["upgrade"] == "echo"
            await c.send(b"ping")
            got = await asyncio.wait_for(c.reader.read(100), 5)
            assert c.buf + got == b"echo:ping"
            await c.close()
        await backends[0].stop()
    run(main())


def test_dead_node_is_retried_elsewhere_then_marked_failed(tmp_path):
    async def main():
        backends, port, doc = await _setup(tmp_path, n=1)
        dead = free_port()
        doc["config"]["pools"]["web"] = pool([f"127.0.0.1:{dead}", backends[0].address],
                                             basic={"node_connection_attempts": 2})
        async with RunningEngine(tmp_path, doc) as eng:
            for _ in range(10):
                r = await get(port, "/")
                assert r.status == 200 and r.body == b"node0"
            h = await eng.engine.handle({"cmd": "health"})
            assert h["pools"]["web"]["nodes"][f"127.0.0.1:{dead}"]["passive_failed"] is True
            assert any("nodefail" in e["message"] for e in eng.engine.events.recent)
        await backends[0].stop()
    run(main())


def test_no_nodes_gives_503_and_bad_node_502_and_slow_node_504(tmp_path):
    async def main():
        backends, port, doc = await _setup(tmp_path, n=1, pool_extra={"connection": {"max_reply_time": 1}})
        dead = free_port()
        doc["config"]["pools"]["dead"] = pool([f"127.0.0.1:{dead}"])
        port2 = free_port()
        doc["config"]["virtual_servers"]["dead"] = vserver(port2, "dead")
        async with RunningEngine(tmp_path, doc):
            r = await get(port2, "/")
            assert r.status == 502
            r = await get(port, "/slow?t=2")
            assert r.status == 504
            await backends[0].stop()
        # the slow request was idempotent: it was tried once per node (one node) only
    run(main())


def test_tls_offload_with_sni(tmp_path):
    from certs import make_cert

    async def main():
        import ssl

        backends, port, doc = await _setup(tmp_path, n=1)
        a_pub, a_key = make_cert("a.example.com")
        b_pub, b_key = make_cert("b.example.com")
        doc["config"]["ssl_server_keys"] = {
            "a": {"properties": {"basic": {"public": a_pub, "private": a_key}}},
            "b": {"properties": {"basic": {"public": b_pub, "private": b_key}}},
        }
        doc["config"]["virtual_servers"]["web"]["properties"]["basic"]["ssl_decrypt"] = True
        doc["config"]["virtual_servers"]["web"]["properties"]["ssl"] = {
            "server_cert_default": "a",
            "server_cert_host_mapping": [{"host": "b.example.com", "certificate": "b"}]}
        doc["config"]["virtual_servers"]["web"]["properties"]["http"] = {"add_x_forwarded_proto": True}
        async with RunningEngine(tmp_path, doc):
            for sni, version in (("a.example.com", ssl.TLSVersion.TLSv1_2), ("b.example.com", ssl.TLSVersion.TLSv1_3)):
                ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
                ctx.check_hostname = False
                ctx.verify_mode = ssl.CERT_NONE
                ctx.maximum_version = version
                c = await Client(port, ssl=ctx, server_hostname=sni).connect()
                sslobj = c.writer.get_extra_info("ssl_object")
                cert = sslobj.getpeercert(binary_form=True)
                from cryptography import x509

                cn = x509.load_der_x509_certificate(cert).subject.rfc4514_string()
                assert sni in cn
                assert sslobj.version() == {"a.example.com": "TLSv1.2", "b.example.com": "TLSv1.3"}[sni]
                r = await c.request("/")
                assert r.status == 200 and r.body == b"node0"
                assert backends[0].requests[-1][2]["x-forwarded-proto"] == "https"
                await c.close()
        await backends[0].stop()
    run(main())
