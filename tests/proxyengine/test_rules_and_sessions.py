"""Request and response rules through the rules package; session persistence and bandwidth over real sockets."""

import asyncio
import time

import pytest
from helpers import BackendServer, Client, RunningEngine, engine_json, free_port, get, pool, vserver

pytestmark = pytest.mark.timeout(60)

ROUTING = """
if (http.getPath() == "/old") { http.redirect("http://example.com/new"); }
if (http.getPath() == "/teapot") { http.sendResponse("418 I'm a teapot", "text/plain", "short and stout", ""); }
if (http.getPath() == "/drop") { connection.discard(); }
http.setHeader("X-Rule", "yes");
if (string.startsWith(http.getPath(), "/b")) { pool.use("b"); }
"""
RESPONSE = 'http.setResponseHeader("X-Served-By", "rule");'


def test_request_and_response_rules_are_honoured(tmp_path):
    async def main():
        a = await BackendServer("a").start()
        b = await BackendServer("b").start()
        port = free_port()
        doc = engine_json(tmp_path, pools={"a": pool([a.address]), "b": pool([b.address])},
                          virtual_servers={"web": vserver(port, "a", basic={"request_rules": ["route"],
                                                                            "response_rules": ["resp"]})},
                          rules={"route": ROUTING, "resp": RESPONSE})
        async with RunningEngine(tmp_path, doc) as eng:
            r = await get(port, "/x")
            assert r.body == b"a" and r.headers["x-served-by"] == "rule"
            assert a.requests[-1][2]["x-rule"] == "yes"
            assert (await get(port, "/bee")).body == b"b"
            r = await get(port, "/old")
            assert r.status in (301, 302) and r.headers["location"] == "http://example.com/new"
            r = await get(port, "/teapot")
            assert r.status == 418 and r.body == b"short and stout"
            c = await Client(port).connect()
            await c.send(b"GET /drop HTTP/1.1\r\nHost: x\r\n\r\n")
            assert await asyncio.wait_for(c.reader.read(), 5) == b""
            st = (await eng.engine.handle({"cmd": "stats"}))["statistics"]
            assert st["rules"]["route"]["executions"] >= 5
            assert st["virtual_servers"]["web"]["discard"] == 1
        await a.stop()
        await b.stop()
    asyncio.run(main())


def test_rule_that_does_not_compile_keeps_only_its_virtual_server_down(tmp_path):
    async def main():
        a = await BackendServer("a").start()
        p1, p2 = free_port(), free_port()
        doc = engine_json(tmp_path, pools={"a": pool([a.address])},
                          virtual_servers={"good": vserver(p1, "a"),
                                           "bad": vserver(p2, "a", basic={"request_rules": ["broken"]}),
                                           "orphan": vserver(free_port(), "missing")},
                          rules={"broken": "if ( {"})
        async with RunningEngine(tmp_path, doc) as eng:
            assert (await get(p1, "/")).status == 200
            h = (await eng.engine.handle({"cmd": "health"}))["virtual_servers"]
            assert h["good"]["running"] and not h["bad"]["running"] and "does not compile" in h["bad"]["reason"]
            assert "does not exist" in h["orphan"]["reason"]
            with pytest.raises(OSError):
                await get(p2, "/")
        await a.stop()
    asyncio.run(main())


def test_transparent_persistence_sticks_and_draining_keeps_sessions(tmp_path):
    async def main():
        nodes = [await BackendServer(f"n{i}").start() for i in range(3)]
        port = free_port()
        doc = engine_json(tmp_path, pools={"web": pool([n.address for n in nodes],
                                                       basic={"persistence_class": "sticky"})},
                          virtual_servers={"web": vserver(port)},
                          persistence={"sticky": {"properties": {"basic": {"type": "transparent"}}}})
        async with RunningEngine(tmp_path, doc) as eng:
            r = await get(port, "/")
            cookie = r.headers["set-cookie"].split(";")[0]
            first = r.body
            for _ in range(6):
                r = await get(port, "/", headers={"Cookie": cookie})
                assert r.body == first
            addr = next(n.address for n in nodes if n.name.encode() == first)
            await eng.engine.handle({"cmd": "node_state", "pool": "web", "node": addr, "state": "draining"})
            assert (await get(port, "/", headers={"Cookie": cookie})).body == first  # session kept
            fresh = [(await get(port, "/")).body for _ in range(6)]
            assert first not in fresh  # no new sessions
        for n in nodes:
            await n.stop()
    asyncio.run(main())


def test_ip_persistence_and_bandwidth_class(tmp_path):
    async def main():
        nodes = [await BackendServer(f"n{i}").start() for i in range(2)]
        port = free_port()
        doc = engine_json(tmp_path, pools={"web": pool([n.address for n in nodes],
                                                       basic={"persistence_class": "ip"})},
                          virtual_servers={"web": vserver(port, basic={"bandwidth_class": "slow"})},
                          persistence={"ip": {"properties": {"basic": {"type": "ip"}}}},
                          bandwidth={"slow": {"properties": {"basic": {"maximum": 800, "sharing": "connection"}}}})
        async with RunningEngine(tmp_path, doc):
            assert len({(await get(port, "/")).body for _ in range(5)}) == 1
            t0 = time.monotonic()
            r = await get(port, "/big", timeout=10)  # 200 KB at 100 KB/s with 100 KB of burst: ~1 s
            assert len(r.body) == 200_000 and time.monotonic() - t0 > 0.6
        for n in nodes:
            await n.stop()
    asyncio.run(main())


def test_failure_pool_and_queue_limits(tmp_path):
    async def main():
        spare = await BackendServer("spare").start()
        one = await BackendServer("one").start()
        port, port2 = free_port(), free_port()
        doc = engine_json(
            tmp_path,
            pools={"main": pool([f"127.0.0.1:{free_port()}"], basic={"failure_pool": "spare",
                                                                     "node_connection_attempts": 1}),
                   "spare": pool([spare.address]),
                   "one": pool([one.address], connection={"max_connections_per_node": 1, "max_queue_size": 1,
                                                          "queue_timeout": 1})},
            virtual_servers={"web": vserver(port, "main"), "q": vserver(port2, "one")})
        async with RunningEngine(tmp_path, doc):
            await get(port, "/")  # marks the only node failed (passive)
            r = await get(port, "/")
            assert r.status == 200 and r.body == b"spare"
            results = await asyncio.gather(get(port2, "/slow?t=1.5", timeout=8), get(port2, "/", timeout=8),
                                           get(port2, "/", timeout=8))
            statuses = sorted(r.status for r in results)
            assert statuses.count(503) >= 1 and statuses.count(200) >= 1
        await spare.stop()
        await one.stop()
    asyncio.run(main())
