"""Generic TCP (half-close), UDP associations, health monitors with real back-ends killed and restarted."""

import asyncio
import socket

import pytest
from helpers import BackendServer, RunningEngine, engine_json, free_port, get, pool, vserver, wait_for

pytestmark = pytest.mark.timeout(60)


class EchoTcp(asyncio.Protocol):
    def connection_made(self, t):
        self.t = t

    def data_received(self, data):
        self.t.write(data.upper())

    def eof_received(self):
        self.t.write(b"BYE")
        self.t.write_eof()  # half-close answered after the client's FIN
        return True


def test_tcp_stream_with_half_close(tmp_path):
    async def main():
        loop = asyncio.get_running_loop()
        nport = free_port()
        srv = await loop.create_server(EchoTcp, "127.0.0.1", nport)
        port = free_port()
        doc = engine_json(tmp_path, pools={"tcp": pool([f"127.0.0.1:{nport}"])},
                          virtual_servers={"tcp": vserver(port, "tcp", protocol="stream")})
        async with RunningEngine(tmp_path, doc) as eng:
            r, w = await asyncio.open_connection("127.0.0.1", port)
            w.write(b"hello")
            assert await asyncio.wait_for(r.readexactly(5), 5) == b"HELLO"
            w.write_eof()
            assert await asyncio.wait_for(r.read(), 5) == b"BYE"
            w.close()
            st = await eng.engine.handle({"cmd": "stats"})
            assert st["statistics"]["virtual_servers"]["tcp"]["total_conn"] == 1
        srv.close()
    asyncio.run(main())


class UdpEcho(asyncio.DatagramProtocol):
    def __init__(self, name):
        self.name = name

    def connection_made(self, t):
        self.t = t

    def datagram_received(self, data, addr):
        self.t.sendto(self.name + b":" + data, addr)


def test_udp_association_and_idle_timeout(tmp_path):
    async def main():
        loop = asyncio.get_running_loop()
        nport = free_port(socket.SOCK_DGRAM)
        t, _ = await loop.create_datagram_endpoint(lambda: UdpEcho(b"n0"), local_addr=("127.0.0.1", nport))
        port = free_port(socket.SOCK_DGRAM)
        doc = engine_json(tmp_path, pools={"dns": pool([f"127.0.0.1:{nport}"])},
                          virtual_servers={"dns": vserver(port, "dns", protocol="udp",
                                                          udp={"timeout": 1, "response_datagrams_expected": 0})})
        async with RunningEngine(tmp_path, doc) as eng:
            s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            s.setblocking(False)
            s.connect(("127.0.0.1", port))
            for i in range(3):
                s.send(b"q%d" % i)
                data = await asyncio.wait_for(loop.sock_recv(s, 100), 5)
                assert data == b"n0:q%d" % i
            (lst,) = [x for x in eng.engine.listeners.values() if x.key[0] == "udp"]
            assert len(lst.server.assocs) == 1
            assert await wait_for(lambda: not lst.server.assocs, 5)  # udp.timeout
            s.close()
        t.close()
    asyncio.run(main())


@pytest.mark.timeout(90)
def test_monitor_fails_killed_node_and_brings_it_back(tmp_path):
    async def main():
        a = await BackendServer("a").start()
        b = await BackendServer("b").start()
        port = free_port()
        doc = engine_json(
            tmp_path,
            pools={"web": pool([a.address, b.address], basic={"monitors": ["http"], "passive_monitoring": False})},
            virtual_servers={"web": vserver(port)},
            monitors={"http": {"properties": {"basic": {"type": "http", "delay": 1, "timeout": 1, "failures": 2,
                                                        "back_off": False},
                                              "http": {"path": "/health", "body_regex": "^[ab]$"}}}},
        )
        async with RunningEngine(tmp_path, doc) as eng:
            await b.stop()
            web = eng.engine.pools["web"]
            assert await wait_for(lambda: not web.by_address[b.address].alive(__import__("time").time()), 8)
            for _ in range(10):  # the failed node gets no traffic
                r = await get(port, "/")
                assert r.status == 200 and r.body == b"a"
            h = await eng.engine.handle({"cmd": "health"})
            assert h["pools"]["web"]["nodes"][b.address]["failed_monitors"] == ["http"]
            b2 = await BackendServer("b", port=b.port).start()
            assert await wait_for(lambda: web.by_address[b.address].alive(__import__("time").time()), 8)
            bodies = {(await get(port, "/")).body for _ in range(6)}
            assert bodies == {b"a", b"b"}
            msgs = [e["message"] for e in eng.engine.events.recent]
            assert any("nodefail" in m for m in msgs) and any("nodeworking" in m for m in msgs)
            await b2.stop()
        await a.stop()
    asyncio.run(main())


def test_monitor_types_tcp_transaction_connect_ping_program(tmp_path):
    from proxyengine.config import MonitorConfig
    from proxyengine.monitors import CheckFailed, next_delay, run_check

    async def main():
        loop = asyncio.get_running_loop()
        nport = free_port()
        srv = await loop.create_server(EchoTcp, "127.0.0.1", nport)
        ok = await run_check(MonitorConfig("t", "tcp_transaction", tcp_write_string="ping",
                                           tcp_response_regex="PING", timeout=2), "127.0.0.1", nport)
        assert ok
        with pytest.raises(CheckFailed):
            await run_check(MonitorConfig("t", "tcp_transaction", tcp_write_string="x", tcp_response_regex="NOPE",
                                          timeout=1), "127.0.0.1", nport)
        assert await run_check(MonitorConfig("c", "connect", timeout=1), "127.0.0.1", nport)
        with pytest.raises(CheckFailed):
            await run_check(MonitorConfig("c", "connect", timeout=1), "127.0.0.1", free_port())
        note = await run_check(MonitorConfig("p", "ping", timeout=2), "127.0.0.1", nport)
        assert note  # an echo reply, or a TCP connect with the reason ICMP is not permitted
        script = tmp_path / "check.sh"
        script.write_text("#!/bin/sh\ncase \"$*\" in *--port=" + str(nport) + "*--want=yes*) exit 0;; esac\nexit 3\n")
        script.chmod(0o755)
        prog = MonitorConfig("s", "program", script_program=str(script), script_arguments=(("want", "yes"),))
        assert await run_check(prog, "127.0.0.1", nport)
        with pytest.raises(CheckFailed, match="exited 3"):
            await run_check(prog, "127.0.0.1", nport + 1)
        srv.close()

    asyncio.run(main())
    m = MonitorConfig("m", delay=2, failures=3, back_off=True)
    assert [next_delay(m, f) for f in (0, 2, 3, 4, 10)] == [2, 2, 4, 8, 16]
