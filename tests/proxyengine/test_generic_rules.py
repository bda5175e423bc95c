"""Rules on generic TCP virtual servers: routing, discarding, answering and rewriting by content, end to end."""

import asyncio

import pytest
from helpers import RunningEngine, engine_json, free_port, pool, vserver

pytestmark = pytest.mark.timeout(30)


class LineNode(asyncio.Protocol):
    """A TCP node: answers each piece of data with ``<name>:<data>``; a banner first when it has one."""

    def __init__(self, server):
        self.server = server

    def connection_made(self, t):
        self.t = t
        self.server.connections += 1
        if self.server.banner:
            t.write(self.server.banner)

    def data_received(self, data):
        self.server.received.append(data)
        self.t.write(self.server.name + b":" + data)


class LineServer:
    def __init__(self, name: bytes, banner: bytes = b""):
        self.name, self.banner = name, banner
        self.port = free_port()
        self.connections = 0
        self.received: list[bytes] = []

    @property
    def address(self):
        return f"127.0.0.1:{self.port}"

    async def start(self):
        self.srv = await asyncio.get_running_loop().create_server(lambda: LineNode(self), "127.0.0.1", self.port)
        return self

    def stop(self):
        self.srv.close()


async def two_pools(tmp_path, rules: dict, protocol="client_first", request=(), response=(), **vs):
    a = await LineServer(b"a").start()
    b = await LineServer(b"b", banner=b"220 b ready\r\n" if protocol == "server_first" else b"").start()
    port = free_port()
    doc = engine_json(
        tmp_path,
        pools={"a": pool([a.address]), "b": pool([b.address])},
        virtual_servers={"gen": vserver(port, "a", protocol=protocol,
                                        basic={"request_rules": list(request), "response_rules": list(response)},
                                        **vs)},
        rules=rules,
    )
    return a, b, port, doc


async def talk(port, *parts: bytes, pause: float = 0.0, read_until_eof: bool = False) -> bytes:
    r, w = await asyncio.open_connection("127.0.0.1", port)
    try:
        for p in parts:
            w.write(p)
            await w.drain()
            if pause:
                await asyncio.sleep(pause)
        if read_until_eof:
            return await asyncio.wait_for(r.read(), 5)
        return await asyncio.wait_for(r.read(100), 5)
    except ConnectionResetError:
        return b"<reset>"
    finally:
        w.close()


ROUTE = """
$line = request.getLine();
if (string.startsWith($line, "USER b")) { pool.use("b"); }
"""


def test_first_line_routes_the_connection_to_one_of_two_pools(tmp_path):
    async def main():
        a, b, port, doc = await two_pools(tmp_path, {"route": ROUTE}, request=["route"])
        async with RunningEngine(tmp_path, doc):
            assert await talk(port, b"USER b\r\n") == b"b:USER b\r\n"
            assert await talk(port, b"USER a\r\n") == b"a:USER a\r\n"
            # the line arrives in two pieces: the rule waits for the whole of it, the node gets both at once
            assert await talk(port, b"USER", b" b\r\n", pause=0.1) == b"b:USER b\r\n"
            assert (a.connections, b.connections) == (1, 2)
        a.stop()
        b.stop()
    asyncio.run(main())


def test_rules_on_connect_run_before_the_client_says_anything(tmp_path):
    async def main():
        rules = {"greet": 'connection.data.set("seen", "1"); pool.use("b");',  # reads no data: routes at once
                 "ask": ROUTE}  # reads a line: waits for it, as without rules_on_connect
        a, b, port, doc = await two_pools(tmp_path, rules, request=["greet"])
        doc["config"]["virtual_servers"]["gen"]["properties"]["basic"]["rules_on_connect"] = True
        b.banner = b"220 b ready\r\n"  # a node that speaks first, behind a client-first virtual server
        ask = free_port()
        doc["config"]["virtual_servers"]["ask"] = vserver(ask, "a", protocol="client_first",
                                                          basic={"request_rules": ["ask"], "rules_on_connect": True})
        quiet = free_port()  # the same without rules_on_connect: nothing happens until the client speaks
        doc["config"]["virtual_servers"]["quiet"] = vserver(quiet, "a", protocol="client_first",
                                                            basic={"request_rules": ["greet"]})
        async with RunningEngine(tmp_path, doc):
            r, w = await asyncio.open_connection("127.0.0.1", port)
            assert await asyncio.wait_for(r.readline(), 5) == b"220 b ready\r\n"  # the client sent nothing
            w.close()
            b.banner = b""
            assert await talk(ask, b"USER b\r\n") == b"b:USER b\r\n"
            r, w = await asyncio.open_connection("127.0.0.1", quiet)
            with pytest.raises(TimeoutError):
                await asyncio.wait_for(r.readline(), 0.5)
            w.close()
            assert b.connections == 2 and a.connections == 0
        a.stop()
        b.stop()

    asyncio.run(main())


def test_connection_is_discarded_by_its_content(tmp_path):
    rule = 'if (string.contains(request.get(), "EVIL")) { connection.discard(); }'
    async def main():
        a, b, port, doc = await two_pools(tmp_path, {"deny": rule}, request=["deny"])
        async with RunningEngine(tmp_path, doc) as eng:
            assert await talk(port, b"some EVIL data", read_until_eof=True) in (b"", b"<reset>")
            assert await talk(port, b"good data") == b"a:good data"
            assert a.received == [b"good data"]
            st = await eng.engine.handle({"cmd": "stats"})
            assert st["statistics"]["virtual_servers"]["gen"]["discard"] == 1
            assert st["statistics"]["rules"]["deny"]["discards"] == 1
        a.stop()
        b.stop()
    asyncio.run(main())


def test_rule_answers_directly_with_raw_bytes_and_closes(tmp_path):
    rule = 'if (request.getLine() == "PING") { request.sendResponse("PONG " . request.getRemoteIP() . "\\r\\n"); }'
    async def main():
        a, b, port, doc = await two_pools(tmp_path, {"pong": rule}, request=["pong"])
        async with RunningEngine(tmp_path, doc):
            assert await talk(port, b"PING\n", read_until_eof=True) == b"PONG 127.0.0.1\r\n"
            assert a.connections == 0
            assert await talk(port, b"DATA\n") == b"a:DATA\n"
        a.stop()
        b.stop()
    asyncio.run(main())


def test_request_set_rewrites_the_first_bytes_and_response_rules_rewrite_node_data(tmp_path):
    rules = {
        "rewrite": 'request.set(string.replace(request.get(), "old", "new"));',
        "shout": 'response.set(string.uppercase(response.get()) . "[" . connection.getNode() . "]");',
    }
    async def main():
        a, b, port, doc = await two_pools(tmp_path, rules, request=["rewrite"], response=["shout"])
        async with RunningEngine(tmp_path, doc):
            got = await talk(port, b"the old way")
            assert got == f"A:THE NEW WAY[{a.address}]".encode()
            assert a.received == [b"the new way"]
        a.stop()
        b.stop()
    asyncio.run(main())


def test_server_first_rules_run_at_connect_and_see_the_banner(tmp_path):
    rules = {
        "by_port": 'if (request.getLocalPort() > 0 && request.get() == "") { pool.use("b"); }',
        "banner": 'if (string.startsWith(response.get(), "220")) { response.set("220 traffic manager\\r\\n"); }',
    }
    async def main():
        a, b, port, doc = await two_pools(tmp_path, rules, protocol="server_first", request=["by_port"],
                                          response=["banner"])
        async with RunningEngine(tmp_path, doc):
            r, w = await asyncio.open_connection("127.0.0.1", port)
            assert await asyncio.wait_for(r.readline(), 5) == b"220 traffic manager\r\n"
            w.write(b"HELO")
            assert await asyncio.wait_for(r.read(100), 5) == b"b:HELO"
            w.close()
        a.stop()
        b.stop()
    asyncio.run(main())


def test_stream_rules_and_connection_data_and_a_failing_rule(tmp_path):
    rules = {
        "count": 'data.set("n", data.get("n") + 1); if (data.get("n") == 2) { pool.select("b"); }',
        "broken": 'if (data.get("n") == 3) { $x = 1 / 0; }',
    }
    async def main():
        a, b, port, doc = await two_pools(tmp_path, rules, protocol="stream", request=["count", "broken"])
        async with RunningEngine(tmp_path, doc) as eng:
            assert await talk(port, b"x") == b"a:x"
            assert await talk(port, b"y") == b"b:y"
            assert await talk(port, b"z", read_until_eof=True) in (b"", b"<reset>")  # rule aborted: closed
            assert await talk(port, b"w") == b"a:w"  # the engine goes on
            assert any("rule aborted" in e["message"] for e in eng.engine.events.recent)
        a.stop()
        b.stop()
    asyncio.run(main())


def test_connection_sleep_holds_the_connection_then_it_goes_on(tmp_path):
    rule = 'connection.sleep(300); pool.use("b");'
    async def main():
        a, b, port, doc = await two_pools(tmp_path, {"slow": rule}, request=["slow"])
        async with RunningEngine(tmp_path, doc):
            t0 = asyncio.get_running_loop().time()
            assert await talk(port, b"hi") == b"b:hi"
            assert asyncio.get_running_loop().time() - t0 >= 0.28
        a.stop()
        b.stop()
    asyncio.run(main())


def test_generic_connections_are_access_logged_unless_a_rule_says_not_to(tmp_path):
    rule = 'if (string.startsWith(request.get(), "quiet")) { request.setLogEnabled(0); }'
    async def main():
        log = tmp_path / "gen.log"
        a, b, port, doc = await two_pools(tmp_path, {"quiet": rule}, request=["quiet"],
                                          log={"enabled": True, "filename": str(log), "format": "%h %v %n %r %s %b"})
        async with RunningEngine(tmp_path, doc) as eng:
            assert await talk(port, b"hello") == b"a:hello"
            assert await talk(port, b"quiet please") == b"a:quiet please"
            await asyncio.sleep(0.2)  # both connections closed on the engine's side
            for vs in eng.engine.all_virtual_servers():
                if vs.access_log is not None:
                    vs.access_log.flush()
            assert log.read_text().splitlines() == ["127.0.0.1 gen a - - 7"]
        a.stop()
        b.stop()
    asyncio.run(main())
