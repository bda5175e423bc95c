"""HttpClientProtocol driven with fake transports: no sockets."""

import asyncio

from proxyengine.config import NodeEntry, PoolConfig, VirtualServerConfig
from proxyengine.engine import Engine, Listener, VirtualServer
from proxyengine.http import HttpClientProtocol, HttpNodeProtocol
from proxyengine.pools import Pool


class FakeTransport(asyncio.Transport):
    def __init__(self):
        super().__init__()
        self.out = []
        self.closed = False
        self.paused = False

    def write(self, data):
        self.out.append(bytes(data))

    def writelines(self, lines):
        self.out.append(b"".join(lines))

    def close(self):
        self.closed = True

    abort = close

    def is_closing(self):
        return self.closed

    def get_extra_info(self, name, default=None):
        return {"peername": ("192.0.2.9", 5555), "sockname": ("127.0.0.1", 80)}.get(name, default)

    def pause_reading(self):
        self.paused = True

    def resume_reading(self):
        self.paused = False

    def set_write_buffer_limits(self, high=None, low=None):
        pass

    def can_write_eof(self):
        return True


def setup():
    loop = asyncio.new_event_loop()
    engine = Engine(loop, run_monitors=False)
    pool = Pool(PoolConfig("web", (NodeEntry("10.0.0.1:80", "10.0.0.1", 80),)))
    engine.pools = {"web": pool}
    vs = VirtualServer(VirtualServerConfig("web", 80, enabled=True, add_x_forwarded_for=True), engine)
    vs.pool = pool
    lst = Listener(("tcp", "", 80), None, vs)
    client = HttpClientProtocol(engine, lst)
    ct = FakeTransport()
    client.connection_made(ct)
    # a pooled keep-alive connection to the node, so no connect is needed
    conn = HttpNodeProtocol(engine, pool.nodes[0], pool)
    nt = FakeTransport()
    conn.connection_made(nt)
    pool.nodes[0].idle.append(conn)
    return loop, client, ct, conn, nt


def test_request_goes_to_pooled_node_and_response_comes_back_in_one_write():
    loop, client, ct, conn, nt = setup()
    client.data_received(b"GET /a HTTP/1.1\r\nHost: x\r\nConnection: keep-alive, X-Drop\r\nX-Drop: 1\r\n\r\n")
    sent = b"".join(nt.out)
    assert sent.startswith(b"GET /a HTTP/1.1\r\n")
    assert b"X-Forwarded-For: 192.0.2.9\r\n" in sent and b"X-Drop" not in sent
    conn.data_received(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nKeep-Alive: timeout=5\r\n\r\nok")
    assert len(ct.out) == 1  # one write per event
    assert ct.out[0].startswith(b"HTTP/1.1 200 OK\r\n") and ct.out[0].endswith(b"\r\n\r\nok")
    assert b"Keep-Alive" not in ct.out[0]
    assert conn in conn.node.idle  # back in the pool for the next request
    assert conn.node.current_conn == 0
    loop.close()


def test_malformed_request_gets_400_and_close():
    loop, client, ct, conn, nt = setup()
    client.data_received(b"GET / HTTP/1.1\r\nBad Header\r\n\r\n")
    assert ct.out[0].startswith(b"HTTP/1.1 400") and ct.closed
    assert nt.out == []
    loop.close()


def test_node_write_buffer_full_pauses_client_reading():
    loop, client, ct, conn, nt = setup()
    client.data_received(b"POST /u HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\n12345")
    conn.pause_writing()
    assert ct.paused
    conn.resume_writing()
    assert not ct.paused
    loop.close()


def test_response_without_length_is_chunked_for_keepalive_client():
    loop, client, ct, conn, nt = setup()
    client.data_received(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
    conn.data_received(b"HTTP/1.1 200 OK\r\n\r\nabc")
    conn.connection_lost(None)
    out = b"".join(ct.out)
    assert b"Transfer-Encoding: chunked" in out and out.endswith(b"3\r\nabc\r\n0\r\n\r\n")
    loop.close()
