"""Generic TCP virtual servers (stream, client_first, server_first, ssl pass-through) and UDP.

Bytes pass through untouched; each side's full write buffer pauses reading on the other; a FIN from one
side is passed on as a FIN (half-close) and the pair closes when both directions are done. A virtual server
with rules runs them through rulehooks (when, and on what data, is explained there): request rules before the
node is chosen, response rules on the node's data.
"""

from __future__ import annotations

import asyncio
import ssl
import time

from .flow import ReadPauses
from .persistence import TLS_CLIENT_HELLO, TLS_SERVER_HELLO, tls_hello_session_id
from .pools import DISCARD_POOL, Node, Pool
from .rulehooks import run_generic_request_rules, run_generic_response_rules

PAUSE_PEER = 1
PAUSE_THROTTLE = 4
PAUSE_WAIT = 8  # client_first: data read before the node is connected waits here
FIRST_DATA_PROTOCOLS = ("client_first", "ssl")  # with request rules, these wait for the client's first data
BULK_WRITE_HIGH = 1 << 20  # PERFORMANCE-NOTES: 64 KiB made bulk transfers pause constantly


class _Side(ReadPauses):
    """One socket of a proxied pair; ``peer`` is the other side. (Compiled, a cdef class: it cannot also derive
    from asyncio.Protocol, which the event loop does not need; see tcp.pxd.)"""

    def __init__(self):
        self.transport: asyncio.Transport | None = None
        self.peer: _Side | None = None
        self.paused = 0
        self.eof = False
        self.closed = False

    def pause_writing(self):
        if self.peer is not None:
            self.peer.pause(PAUSE_PEER)

    def resume_writing(self):
        if self.peer is not None:
            self.peer.resume(PAUSE_PEER)

    def close(self) -> None:
        if self.transport is not None and not self.closed:
            self.transport.close()


class TcpClientProtocol(_Side):
    """A client connection to a generic TCP virtual server."""

    def __init__(self, engine, listener):
        super().__init__()
        # configuration
        self.engine = engine
        self.loop = engine.loop
        self.listener = listener
        self.vs = listener.vs
        self.counters = listener.vs.stats  # counted into per read (the virtual server's attributes are properties)
        self.response_rules = listener.vs.response_rules
        # per-connection
        self.pending: list[bytes] = []
        self.pool: Pool | None = None
        self.node: Node | None = None
        self.tried: set[str] = set()
        self.attempts = 0
        self.connecting = False
        self.bytes_in = 0
        self.bytes_out = 0
        self.started = time.monotonic()
        self.client_ip = ""
        self.client_port = 0
        self.local_ip = ""
        self.local_port = 0
        self.throttle = None
        self.idle_timer = None
        self.connect_task = None
        # rules
        self.rules_pending = False  # request rules still to run (they wait for the client's first data)
        self.tx = None  # the rules' Transaction, kept for the response rules
        self.connection_data: dict = {}
        self.persist = None  # a persistence class the rules chose (None with persist_set: none at all)
        self.persist_set = False
        self.persist_key: str | None = None
        self.persist_node: str | None = None  # connection.setPersistenceNode, for Named Node persistence
        # ssl persistence on SSL pass-through: the class to record the session the node's ServerHello names in
        self.hello_persistence = None
        self._node_addr = ""  # the node connected to, for the connection's log line

    def connection_made(self, transport):
        self.transport = transport
        transport.set_write_buffer_limits(high=BULK_WRITE_HIGH)
        peer = transport.get_extra_info("peername") or ("", 0)
        self.client_ip, self.client_port = peer[0], peer[1]
        sock = transport.get_extra_info("sockname") or ("", 0)
        self.local_ip, self.local_port = sock[0], sock[1]
        vs = self.vs
        vs.connection_opened()
        if vs.max_conn_reached() or vs.engine.connections_full():
            vs.stats.connection_failures += 1
            transport.abort()
            return
        vs.stats.total_requests += 1
        self.throttle = vs.throttle()
        self.pool = vs.pool
        if vs.cfg.protocol == "server_first" and vs.cfg.server_first_banner:
            transport.write(vs.cfg.server_first_banner.encode("latin-1") + b"\r\n")
        first_data = (vs.cfg.protocol == "client_first" or _session_ids(vs, vs.pool and vs.pool.persistence)
                      or (vs.request_rules and vs.cfg.protocol in FIRST_DATA_PROTOCOLS))
        if vs.request_rules:
            self.rules_pending = True
            if not first_data:
                self._run_request_rules(final=True)
                return
        if not first_data:
            self._choose()
            return
        if vs.cfg.connect_timeout:
            self.idle_timer = self.loop.call_later(vs.cfg.connect_timeout, self._no_first_data)
        if vs.request_rules and vs.cfg.rules_on_connect and vs.cfg.protocol == "client_first":
            self._run_request_rules(final=False)  # now, before any data: a rule that reads data waits for it

    def _no_first_data(self):
        self.idle_timer = None
        if self.peer is None and (not self.pending or self.rules_pending):
            self.vs.stats.connect_timed_out += 1
            self.close()

    def _run_request_rules(self, final: bool) -> None:
        action = run_generic_request_rules(self, b"".join(self.pending), final)
        if action == "wait":
            return  # more data runs them again; connect_timeout (_no_first_data) bounds the wait
        self.rules_pending = False
        if self.idle_timer is not None:
            self.idle_timer.cancel()
            self.idle_timer = None
        if action is None:
            self._choose()
        else:
            self.connecting = True  # answered, dropped, or held by the rules: _dispatch goes on

    # -- called by rulehooks for a connection its rules held (rate class, connection.sleep) or ended -------------

    def _dispatch(self, ex) -> None:
        self.connecting = False
        self._choose()

    def _error(self, ex, status: int, message: str) -> None:
        self.vs.stats.connection_errors += 1
        self.close()

    def _flush(self) -> None:
        pass

    def answer(self, data: bytes) -> None:
        """Send ``data`` as it is and close (request.sendResponse, connection.close(data))."""
        self.pending = []
        if data:
            self.transport.write(data)
            self.bytes_out += len(data)
            self.counters.bytes_out += len(data)
        self.close()

    def data_received(self, data):
        n = len(data)
        self.bytes_in += n
        self.counters.bytes_in += n
        peer = self.peer
        if peer is not None and peer.transport is not None:
            peer.transport.write(data)
            if self.node is not None:
                self.node.bytes_to_node += n
            if self.throttle is not None or self.engine.license_bucket is not None:
                self._throttle(n, self)
            return
        self.pending.append(data)
        full = sum(map(len, self.pending)) > self.vs.cfg.max_client_buffer
        if full:
            self.pause(PAUSE_WAIT)
        if self.rules_pending:
            self._run_request_rules(final=full)
        elif not self.connecting and self.peer is None:
            if self.idle_timer is not None:
                self.idle_timer.cancel()
                self.idle_timer = None
            self._choose()

    def eof_received(self):
        self.eof = True
        peer = self.peer
        if peer is not None and peer.transport is not None:
            if peer.eof:
                return False
            if peer.transport.can_write_eof():
                peer.transport.write_eof()
            return True
        if self.rules_pending and self.pending:
            self._run_request_rules(final=True)  # no more data will come for a rule that waits for some
        return True  # the node is not connected yet: pass the FIN on once it is

    def connection_lost(self, exc):
        self.closed = True
        self.vs.connection_closed()
        if self.idle_timer is not None:
            self.idle_timer.cancel()
        if self.connect_task is not None:
            self.connect_task.cancel()
        if self.peer is not None:
            self.peer.close()
            self.peer.peer = None
        self._release()
        self.engine.stats.connection_done(self.vs, self.client_ip, self.client_port,
                                          self.pool.name if self.pool else "",
                                          self._node_addr, self.bytes_in, self.bytes_out, self.started,
                                          log=self.tx is None or self.tx.log_enabled)

    def _throttle(self, n: int, source: _Side) -> None:
        if self.throttle is None and self.engine.license_bucket is None:
            return
        delay = self.throttle.consume(n) if self.throttle is not None else 0.0
        if self.engine.license_bucket is not None:
            delay = max(delay, self.engine.license_bucket.consume(n))
        if delay > 0:
            source.pause(PAUSE_THROTTLE)
            self.loop.call_later(delay, source.resume, PAUSE_THROTTLE)

    # -- choosing and connecting to a node -------------------------------------------------------------------

    def _choose(self) -> None:
        pool = self.pool
        if pool is None:
            self.close()
            return
        if pool.discard:
            self.vs.stats.discard += 1
            self.transport.abort()
            return
        now = time.time()
        node = None
        pers = self.persist if self.persist_set else pool.persistence
        key = addr = None
        if _session_ids(self.vs, pers):
            # the session id the ClientHello offers (one this pool's node gave earlier, if it is resuming)
            sid = tls_hello_session_id(b"".join(self.pending), TLS_CLIENT_HELLO)
            addr = pers.get(pool.name, sid.hex()) if sid else None
            self.hello_persistence = pers
        elif pers is not None and (pers.type in ("ip", "ssl") or self.persist_key is not None
                                   or self.persist_node is not None):
            key, addr = pers.find(pool, self.client_ip, None, self.persist_key, self.persist_node)
        if addr:
            cand = pool.by_address.get(addr)
            if cand is not None and cand.address not in self.tried and pool.usable_persistent(cand, now):
                node = cand
        if node is None:
            node, why = pool.select(now, self.tried)
            if why == "full":
                if pool.enqueue(self.loop, self._dequeued, self.tried):
                    self.connecting = True
                    return
                self.close()
                return
            if node is None:
                fp = pool.failure_pool
                if fp is not None and pool.all_failed(now) and self.pool is not fp:
                    self.pool = fp
                    self.tried = set()
                    self._choose()
                    return
                self.vs.stats.connection_errors += 1
                self.close()
                return
            if key is not None:
                pers.record(pool.name, key, node.address)
        self._connect(node)

    def _dequeued(self, node: Node | None) -> None:
        self.connecting = False
        if self.closed:
            return
        if node is None:
            self.close()
            return
        self._connect(node)

    def _connect(self, node: Node) -> None:
        pool = self.pool
        self.node = node
        self._node_addr = node.address
        self.attempts += 1
        node.current_conn += 1
        node.total_conn += 1
        node.new_conn += 1
        pool.total_conn += 1
        self.connecting = True
        self.connect_task = self.loop.create_task(self._open(node, pool))

    async def _open(self, node: Node, pool: Pool) -> None:
        try:
            async with asyncio.timeout(pool.cfg.max_connect_time):
                _, side = await self.loop.create_connection(
                    lambda: TcpNodeProtocol(self), node.host, node.port, ssl=pool.ssl_context,
                    server_hostname=pool.server_hostname(node))
        except asyncio.CancelledError:
            self._release()
            raise
        except (OSError, TimeoutError, ssl.SSLError) as e:
            self.connect_task = None
            self.connecting = False
            if pool.connect_failed(node, time.time()):
                self.engine.events.node_failed(pool.name, node.address, f"connection failed: {e or 'timeout'}")
            self._release()
            self.tried.add(node.address)
            if not self.closed and self.attempts < pool.max_attempts():
                self._choose()
            elif not self.closed:
                self.vs.stats.connection_errors += 1
                self.close()
            return
        self.connect_task = None
        self.connecting = False
        if pool.connect_ok(node):
            self.engine.events.node_recovered(pool.name, node.address, "a connection succeeded")
        if self.closed:
            side.close()
            return
        self.peer = side
        side.peer = self
        if self.pending:
            data, self.pending = self.pending, []
            side.transport.writelines(data)
            node.bytes_to_node += sum(map(len, data))
            self.resume(PAUSE_WAIT)
        if self.eof and side.transport.can_write_eof():
            side.transport.write_eof()

    def _server_hello(self, data: bytes) -> None:
        """Remember which node gave the session the node's ServerHello names (TLS 1.2 session ids; TLS 1.3 and
        session tickets echo a throwaway id, so those sessions are not persistent -- as on vTM)."""
        pers, self.hello_persistence = self.hello_persistence, None
        sid = tls_hello_session_id(data, TLS_SERVER_HELLO)
        if sid and self.node is not None:
            pers.record(self.pool.name, sid.hex(), self.node.address)

    def _release(self) -> None:
        node, self.node = self.node, None
        if node is not None:
            self.pool.release(node)


def _session_ids(vs, pers) -> bool:
    """ssl persistence on an SSL pass-through virtual server: by TLS session id, read from the hellos."""
    return pers is not None and pers.type == "ssl" and vs.cfg.protocol == "ssl"


class TcpNodeProtocol(_Side):
    """The node side of a generic TCP connection."""

    def __init__(self, client: TcpClientProtocol):
        super().__init__()
        self.client = client
        self.node: Node | None = None

    def connection_made(self, transport):
        self.transport = transport
        transport.set_write_buffer_limits(high=BULK_WRITE_HIGH)
        self.node = self.client.node
        if self.node is not None:
            self.node.active.add(self)

    def data_received(self, data):
        client = self.client
        n = len(data)
        client.bytes_out += n
        client.counters.bytes_out += n
        node = client.node
        if node is not None:
            node.bytes_from_node += n
        if client.transport is None or client.closed:
            return
        if client.hello_persistence is not None:
            client._server_hello(data)
        if client.response_rules:
            data, close = run_generic_response_rules(client, data)
            if data is None:
                client.transport.abort()
                return
            client.transport.write(data)
            if close:
                client.close()
                return
        else:
            client.transport.write(data)
        if client.throttle is not None or client.engine.license_bucket is not None:
            client._throttle(n, self)

    def eof_received(self):
        self.eof = True
        client = self.peer
        if client is not None and client.transport is not None and not client.closed:
            if client.eof:
                return False
            if client.transport.can_write_eof():
                client.transport.write_eof()
            return True
        return False

    def connection_lost(self, exc):
        self.closed = True
        if self.node is not None:
            self.node.active.discard(self)
        client = self.peer
        if client is not None:
            client.peer = None
            client.close()


class UdpListenerProtocol(asyncio.DatagramProtocol):
    """A UDP virtual server: each client address gets an association (its own socket to one node)."""

    def __init__(self, engine, listener):
        self.engine = engine
        self.loop = engine.loop
        self.listener = listener
        self.transport = None
        self.assocs: dict[tuple, UdpAssociation] = {}
        self.sticky: dict[tuple, str] = {}  # udp.end_point_persistence: client -> node address

    def connection_made(self, transport):
        self.transport = transport

    def datagram_received(self, data, addr):
        vs = self.listener.vs
        vs.stats.total_dgram += 1
        vs.stats.bytes_in += len(data)
        assoc = self.assocs.get(addr)
        if assoc is None:
            pool = vs.pool
            if pool is None or pool.name == DISCARD_POOL:
                vs.stats.discard += 1
                return
            now = time.time()
            node = None
            sticky = self.sticky.get(addr) if vs.cfg.udp_end_point_persistence else None
            if sticky is not None:
                cand = pool.by_address.get(sticky)
                if cand is not None and pool.usable_persistent(cand, now):
                    node = cand
            if node is None:
                node, _ = pool.select(now)
                if node is None:
                    vs.stats.connection_errors += 1
                    return
            if vs.cfg.udp_end_point_persistence:
                self.sticky[addr] = node.address
                if len(self.sticky) > 100_000:
                    self.sticky.pop(next(iter(self.sticky)))
            vs.stats.total_conn += 1
            assoc = UdpAssociation(self, vs, pool, node, addr)
            self.assocs[addr] = assoc
            assoc.start()
        assoc.send(data)

    def error_received(self, exc):
        pass

    def close(self):
        for assoc in list(self.assocs.values()):
            assoc.close()
        if self.transport is not None:
            self.transport.close()


class UdpAssociation(asyncio.DatagramProtocol):
    """Datagrams of one client to one node and back, until idle for udp.timeout."""

    def __init__(self, listener: UdpListenerProtocol, vs, pool: Pool, node: Node, client: tuple):
        self.listener = listener
        self.vs = vs
        self.pool = pool
        self.node = node
        self.client = client
        self.transport = None
        self.queue: list[bytes] = []
        self.responses = 0
        self.timer = None
        self.closed = False
        self.started = time.monotonic()
        self.bytes_in = 0
        self.bytes_out = 0

    def start(self):
        self.node.current_conn += 1
        self.node.total_conn += 1
        self.pool.total_conn += 1
        self._touch()
        self.listener.loop.create_task(self._open())

    async def _open(self):
        try:
            await self.listener.loop.create_datagram_endpoint(lambda: self, remote_addr=(self.node.host,
                                                                                         self.node.port))
        except OSError as e:
            self.listener.engine.events.log("warn", f"pools/{self.pool.name}",
                                            f"udp to {self.node.address} failed: {e}")
            self.close()

    def connection_made(self, transport):
        if self.closed:
            transport.close()
            return
        self.transport = transport
        for d in self.queue:
            transport.sendto(d)
        self.queue = []

    def send(self, data: bytes) -> None:
        self.bytes_in += len(data)
        self.node.bytes_to_node += len(data)
        self._touch()
        if self.transport is not None:
            self.transport.sendto(data)
        else:
            self.queue.append(data)

    def datagram_received(self, data, addr):
        self.bytes_out += len(data)
        self.node.bytes_from_node += len(data)
        self.vs.stats.bytes_out += len(data)
        lt = self.listener.transport
        if lt is not None:
            lt.sendto(data, self.client)
        self.responses += 1
        expected = self.vs.cfg.udp_response_datagrams_expected
        if expected > 0 and self.responses >= expected:
            self.close()
        else:
            self._touch()

    def error_received(self, exc):
        self.node.errors += 1

    def _touch(self):
        if self.timer is not None:
            self.timer.cancel()
        self.timer = self.listener.loop.call_later(self.vs.cfg.udp_timeout, self._timeout)

    def _timeout(self):
        self.timer = None
        self.vs.stats.udp_timed_out += 1
        self.close()

    def close(self):
        if self.closed:
            return
        self.closed = True
        if self.timer is not None:
            self.timer.cancel()
        if self.listener.assocs.get(self.client) is self:
            del self.listener.assocs[self.client]
        if self.transport is not None:
            self.transport.close()
        self.pool.release(self.node)
        self.listener.engine.stats.connection_done(self.vs, self.client[0], self.client[1], self.pool.name,
                                                   self.node.address, self.bytes_in, self.bytes_out, self.started)

    def connection_lost(self, exc):
        pass
