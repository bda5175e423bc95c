"""Engine features end to end on 127.0.0.1: SSL re-encryption to nodes, access logs, SIGHUP reload of the real
process, ICMP ping monitors, node.close_on_death, draining nodes with persistent sessions."""

import asyncio
import os
import signal
import ssl
import sys
import time

import pytest
from certs import make_cert
from helpers import (
    Backend,
    BackendServer,
    Client,
    RunningEngine,
    engine_json,
    free_port,
    get,
    pool,
    vserver,
    wait_for,
    write_json,
)

from proxyengine.control import request as control

pytestmark = pytest.mark.timeout(30)


class TlsBackend(BackendServer):
    """An HTTP node that speaks only TLS, with a self-signed certificate; records the TLS version it spoke."""

    def __init__(self, name: str):
        super().__init__(name)
        self.tls_versions: list[str] = []
        self.sni: list[str | None] = []  # the server name each TLS client sent (None: none)

    async def start(self):
        pub, priv = make_cert("node.example.com")
        d = os.path.join("/tmp", f"tls-node-{self.port}")
        os.makedirs(d, exist_ok=True)
        with open(f"{d}/c.pem", "w") as f:
            f.write(pub)
        with open(f"{d}/k.pem", "w") as f:
            f.write(priv)
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(f"{d}/c.pem", f"{d}/k.pem")
        ctx.sni_callback = lambda _obj, name, _ctx: self.sni.append(name)
        server = self

        class Proto(Backend):
            def connection_made(self, transport):
                super().connection_made(transport)
                server.tls_versions.append(transport.get_extra_info("ssl_object").version())

        self.server = await asyncio.get_running_loop().create_server(lambda: Proto(self), "127.0.0.1", self.port,
                                                                     ssl=ctx)
        return self


def test_pool_ssl_reencrypts_plain_http_to_a_tls_node_and_strict_verify_refuses_a_self_signed_one(tmp_path):
    async def main():
        node = await TlsBackend("tls-node").start()
        port, strict_port = free_port(), free_port()
        doc = engine_json(
            tmp_path,
            pools={"tls": pool([node.address], ssl={"enable": True}),
                   "strict": pool([node.address], ssl={"enable": True, "strict_verify": True})},
            virtual_servers={"plain": vserver(port, "tls"), "strict": vserver(strict_port, "strict")},
        )
        async with RunningEngine(tmp_path, doc) as eng:
            c = await Client(port).connect()
            for _ in range(3):  # keep-alive to the node over the one TLS connection
                r = await c.request("/")
                assert r.status == 200 and r.body == b"tls-node"
            await c.close()
            assert node.tls_versions and set(node.tls_versions) <= {"TLSv1.2", "TLSv1.3"}
            assert len(node.requests) == 3
            for _ in range(3):  # passive monitoring fails the node after its node_connection_attempts
                r = await get(strict_port, "/")
                assert r.status in (502, 503)
            assert len(node.requests) == 3  # the node's certificate was refused before any request was sent
            msgs = " ".join(e["message"] for e in eng.engine.events.recent)
            assert "certificate verify failed" in msgs or "CERTIFICATE_VERIFY_FAILED" in msgs
        await node.stop()
    asyncio.run(main())


def test_pool_ssl_server_name_decides_whether_the_node_gets_sni(tmp_path):
    async def main():
        node = await TlsBackend("tls-node").start()
        named = f"localhost:{node.port}"  # a name, not an address: SNI never carries an IP address
        with_sni, without = free_port(), free_port()
        doc = engine_json(
            tmp_path,
            pools={"sni": pool([named], ssl={"enable": True, "server_name": True}),
                   "plain": pool([named], ssl={"enable": True})},
            virtual_servers={"sni": vserver(with_sni, "sni"), "plain": vserver(without, "plain")},
        )
        async with RunningEngine(tmp_path, doc):
            assert (await get(with_sni, "/")).status == 200
            assert node.sni == ["localhost"]
            assert (await get(without, "/")).status == 200  # ssl.server_name is off by default, as on vTM
            assert node.sni == ["localhost", None]
        await node.stop()
    asyncio.run(main())


def test_access_log_per_virtual_server_with_its_format_and_file(tmp_path):
    async def main():
        a = await BackendServer("a").start()
        a.extra_headers = [("X-Served-By", "node-a")]
        port, quiet = free_port(), free_port()
        log_file = tmp_path / "logs" / "%v.access"
        doc = engine_json(
            tmp_path,
            pools={"web": pool([a.address])},
            rules={"nolog": 'if (http.getPath() == "/health") { request.setLogEnabled(0); }'},
            virtual_servers={
                "site": vserver(port, log={"enabled": True, "filename": str(log_file),
                                           "format": '%h "%r" %s %b %v %n "%{User-Agent}i" %{X-Served-By}o'},
                                basic={"request_rules": ["nolog"]}),
                "quiet": vserver(quiet),  # log.enabled is off by default
            },
        )
        async with RunningEngine(tmp_path, doc):
            assert (await get(port, "/one?x=1", headers={"User-Agent": "probe/1"})).status == 200
            assert (await get(port, "/two", method="HEAD")).status == 200
            assert (await get(quiet, "/not-logged")).status == 200
            assert (await get(port, "/health")).status == 200  # request.setLogEnabled(0)
            path = tmp_path / "logs" / "site.access"
            assert await wait_for(lambda: path.exists() and len(path.read_text().splitlines()) == 2, 5)
        lines = path.read_text().splitlines()
        # %b is the body's size (the node answers its name, "a"); a HEAD response has none
        assert lines[0] == '127.0.0.1 "GET /one?x=1 HTTP/1.1" 200 1 site web "probe/1" node-a', lines[0]
        assert lines[1] == '127.0.0.1 "HEAD /two HTTP/1.1" 200 - site web "-" node-a', lines[1]
        assert sorted(os.listdir(tmp_path / "logs")) == ["site.access"]
        await a.stop()
    asyncio.run(main())


def test_sighup_reloads_the_running_master(tmp_path):
    async def main():
        a = await BackendServer("a").start()
        b = await BackendServer("b").start()
        port = free_port()
        cfg = tmp_path / "engine.json"
        ctl = str(tmp_path / "run" / "engine.sock")

        def doc(rev, node):
            return engine_json(tmp_path, revision=rev, pools={"web": pool([node])},
                               virtual_servers={"web": vserver(port)})

        write_json(cfg, doc(1, a.address))
        root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
        proc = await asyncio.create_subprocess_exec(sys.executable, "-m", "proxyengine", "--config", str(cfg),
                                                    "--workers", "1", cwd=root)
        try:
            async def up():
                try:
                    return (await get(port, "/")).body == b"a"
                except OSError:
                    return False

            deadline = time.monotonic() + 15
            while not await up():
                assert proc.returncode is None and time.monotonic() < deadline, "the engine did not come up"
                await asyncio.sleep(0.1)
            write_json(cfg, doc(2, b.address))
            proc.send_signal(signal.SIGHUP)
            deadline = time.monotonic() + 10
            while (await get(port, "/")).body != b"b":
                assert time.monotonic() < deadline, "SIGHUP did not reload the configuration"
                await asyncio.sleep(0.05)
            assert (await asyncio.to_thread(control, ctl, {"cmd": "ping"}))["revision"] == 2
            # an invalid file on SIGHUP is refused and the running configuration keeps serving
            cfg.write_text("{not json")
            proc.send_signal(signal.SIGHUP)
            await asyncio.sleep(0.5)
            assert (await get(port, "/")).body == b"b"
            assert (await asyncio.to_thread(control, ctl, {"cmd": "ping"}))["revision"] == 2
            events = (tmp_path / "log" / "events.log").read_text()
            assert "reload accepted: revision 2" in events and "reload refused" in events
        finally:
            proc.send_signal(signal.SIGTERM)
            await asyncio.wait_for(proc.wait(), 10)
        await a.stop()
        await b.stop()
    asyncio.run(main())


def test_ping_monitor_really_uses_icmp(tmp_path):
    from proxyengine import monitors
    from proxyengine.config import MonitorConfig

    async def main():
        closed_port = free_port()  # nothing listens here: a TCP connect would fail, an ICMP echo does not
        note = await monitors.run_check(MonitorConfig("p", "ping", timeout=2), "127.0.0.1", closed_port)
        assert note == "echo reply"
        assert monitors._icmp_mode in ("dgram", "raw")
        # in the engine: a node whose port is closed stays alive under a ping monitor (the host answers)
        port = free_port()
        doc = engine_json(
            tmp_path,
            pools={"web": pool([f"127.0.0.1:{closed_port}"], basic={"monitors": ["ping"],
                                                                     "passive_monitoring": False})},
            virtual_servers={"web": vserver(port)},
            monitors={"ping": {"properties": {"basic": {"type": "ping", "delay": 1, "timeout": 1, "failures": 1}}}},
        )
        async with RunningEngine(tmp_path, doc) as eng:
            await asyncio.sleep(1.5)
            node = eng.engine.pools["web"].nodes[0]
            assert node.alive(time.time()) and not node.monitor_failed
    asyncio.run(main())


class Tunnel(asyncio.Protocol):
    def connection_made(self, t):
        self.t = t

    def data_received(self, data):
        self.t.write(b"node:" + data)


def _close_on_death_doc(tmp_path, nport, port, flag, close_on_death):
    script = tmp_path / "alive.sh"
    script.write_text(f"#!/bin/sh\ntest -e {flag}\n")
    script.chmod(0o755)
    return engine_json(
        tmp_path,
        pools={"tcp": pool([f"127.0.0.1:{nport}"], basic={"monitors": ["alive"], "passive_monitoring": False},
                           node={"close_on_death": close_on_death})},
        virtual_servers={"tcp": vserver(port, "tcp", protocol="stream")},
        monitors={"alive": {"properties": {"basic": {"type": "program", "delay": 1, "timeout": 2, "failures": 1,
                                                     "back_off": False},
                                           "script": {"program": str(script)}}}},
    )


@pytest.mark.parametrize("close_on_death", [True, False])
def test_close_on_death_closes_connections_to_a_failed_node(tmp_path, close_on_death):
    async def main():
        nport, port = free_port(), free_port()
        srv = await asyncio.get_running_loop().create_server(Tunnel, "127.0.0.1", nport)
        flag = tmp_path / "alive"
        flag.touch()
        doc = _close_on_death_doc(tmp_path, nport, port, flag, close_on_death)
        async with RunningEngine(tmp_path, doc) as eng:
            r, w = await asyncio.open_connection("127.0.0.1", port)
            w.write(b"hi")
            assert await asyncio.wait_for(r.readexactly(7), 5) == b"node:hi"
            flag.unlink()  # the monitor fails the node within a second or so
            node = eng.engine.pools["tcp"].nodes[0]
            assert await wait_for(lambda: not node.alive(time.time()), 5)
            if close_on_death:
                assert await asyncio.wait_for(r.read(), 3) == b""  # the traffic manager closed the tunnel
            else:
                w.write(b"still")  # the established connection keeps working
                assert await asyncio.wait_for(r.readexactly(10), 3) == b"node:still"
            w.close()
        srv.close()
    asyncio.run(main())


def test_draining_node_keeps_persistent_sessions_and_takes_no_new_ones(tmp_path):
    rule = 'connection.setPersistenceKey(http.getHeader("X-User"));'

    async def main():
        a = await BackendServer("a").start()
        b = await BackendServer("b").start()
        port = free_port()
        doc = engine_json(
            tmp_path,
            pools={"web": pool([a.address, b.address], basic={"persistence_class": "users"})},
            virtual_servers={"web": vserver(port, basic={"request_rules": ["user"]})},
            persistence={"users": {"properties": {"basic": {"type": "universal"}}}},
            rules={"user": rule},
        )
        async with RunningEngine(tmp_path, doc) as eng:
            where = {}
            for i in range(8):
                where[f"u{i}"] = (await get(port, "/", headers={"X-User": f"u{i}"})).body
            assert set(where.values()) == {b"a", b"b"}
            reply = await eng.engine.handle({"cmd": "node_state", "pool": "web", "node": b.address,
                                             "state": "draining"})
            assert reply["ok"]
            for user, node in where.items():  # existing sessions stay where they are, draining or not
                for _ in range(2):
                    assert (await get(port, "/", headers={"X-User": user})).body == node
            for i in range(8, 20):  # new sessions go only to the active node
                assert (await get(port, "/", headers={"X-User": f"u{i}"})).body == b"a"
            for _ in range(4):  # requests without a session too
                assert (await get(port, "/")).body == b"a"
        await a.stop()
        await b.stop()
    asyncio.run(main())


def test_close_on_death_cuts_a_request_in_flight_to_a_failed_http_node(tmp_path):
    async def main():
        a = await BackendServer("a").start()
        port = free_port()
        flag = tmp_path / "alive"
        flag.touch()
        script = tmp_path / "alive.sh"
        script.write_text(f"#!/bin/sh\ntest -e {flag}\n")
        script.chmod(0o755)
        doc = engine_json(
            tmp_path,
            pools={"web": pool([a.address], basic={"monitors": ["alive"], "passive_monitoring": False},
                               node={"close_on_death": True})},
            virtual_servers={"web": vserver(port)},
            monitors={"alive": {"properties": {"basic": {"type": "program", "delay": 1, "timeout": 2,
                                                         "failures": 1, "back_off": False},
                                               "script": {"program": str(script)}}}},
        )
        async with RunningEngine(tmp_path, doc):
            slow = asyncio.create_task(get(port, "/slow=8", timeout=10))
            assert await wait_for(lambda: a.requests, 3)
            t0 = time.monotonic()
            flag.unlink()
            r = await slow
            assert r.status in (502, 503, 0) and time.monotonic() - t0 < 4  # not the node's answer 8 s later
        await a.stop()
    asyncio.run(main())


def _tls_name_server_ctx(tmp_path, name: str) -> ssl.SSLContext:
    pub, priv = make_cert(name)
    (tmp_path / f"{name}.pem").write_text(pub + priv)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(tmp_path / f"{name}.pem")
    ctx.maximum_version = ssl.TLSVersion.TLSv1_2
    ctx.options |= ssl.OP_NO_TICKET  # sessions by id, kept by the server
    return ctx


class NameOverTls(asyncio.Protocol):
    def __init__(self, name: bytes):
        self.name = name

    def connection_made(self, t):
        self.t = t

    def data_received(self, data):
        self.t.write(self.name)


def test_ssl_pass_through_persistence_follows_the_tls_session_id(tmp_path):
    import socket as sk

    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)  # one client context: its sessions can be resumed
    ctx.check_hostname, ctx.verify_mode = False, ssl.CERT_NONE
    ctx.maximum_version = ssl.TLSVersion.TLSv1_2

    def connect(port, session=None):
        with sk.create_connection(("127.0.0.1", port), 5) as raw, ctx.wrap_socket(raw, session=session) as s:
            s.sendall(b"?")
            got, session, reused = s.recv(10), s.session, s.session_reused
            s.unwrap()  # close_notify: a session ended by a bare EOF is not resumable
            return got, session, reused

    async def main():
        loop = asyncio.get_running_loop()
        servers, addrs = [], []
        for name in ("a", "b"):
            p = free_port()
            servers.append(await loop.create_server(lambda n=name: NameOverTls(n.encode()), "127.0.0.1", p,
                                                    ssl=_tls_name_server_ctx(tmp_path, name)))
            addrs.append(f"127.0.0.1:{p}")
        port = free_port()
        doc = engine_json(
            tmp_path,
            pools={"tls": pool(addrs, basic={"persistence_class": "sessions"})},
            virtual_servers={"tls": vserver(port, "tls", protocol="ssl")},
            persistence={"sessions": {"properties": {"basic": {"type": "ssl"}}}},
        )
        async with RunningEngine(tmp_path, doc):
            first, s1, _ = await asyncio.to_thread(connect, port)
            second, s2, _ = await asyncio.to_thread(connect, port)
            assert {first, second} == {b"a", b"b"}  # two sessions from one address: not ip persistence
            for _ in range(3):
                for name, session in ((first, s1), (second, s2)):
                    got, _, reused = await asyncio.to_thread(connect, port, session)
                    assert (got, reused) == (name, True)  # back on the node that holds the session
        for s in servers:
            s.close()
    asyncio.run(main())
