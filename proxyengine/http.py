"""HTTP/1.1 reverse proxy: the client-side and node-side asyncio Protocols.

httptools frames messages; bodies stream through (never collected), with reading paused at high-water
marks on either side. Everything one ``data_received`` produces for a peer is sent with one
``writelines``. Keep-alive reuse is decided inside ``on_message_complete`` (httptools clears
``should_keep_alive`` once ``feed_data`` returns). No Task or Future per request: a task only to connect.
"""

from __future__ import annotations

import asyncio
import ssl
import time
from functools import partial

from . import rulehooks  # the module, not its functions: compiled, it imports this one first (rulehooks.pxd)
from .clock import monotonic, wall
from .flow import ReadPauses
from .http1 import (
    DEFAULT_LIMITS,
    METHOD_GET,
    REASON_OK,
    ChunkedReader,
    HttpError,
    RequestHead,
    build_head,
    head_end,
    head_too_big,
    header_list,
    parse_request,
    parse_response,
)
from .pools import Node, Pool

IDEMPOTENT = frozenset((b"GET", b"HEAD", b"OPTIONS", b"PUT", b"DELETE", b"TRACE"))
HOP_BY_HOP = frozenset(
    (b"connection", b"keep-alive", b"proxy-connection", b"te", b"trailer", b"transfer-encoding", b"upgrade")
)
RETAIN_LIMIT = 65536  # request body bytes kept so an idempotent request can be retried on another node
MAX_PIPELINE = 32
MAX_RESPONSE_HEAD = 65536
IDLE_CEILING = 4  # idle node connections kept between sweeps, as a multiple of max_idle_connections_pernode

REASONS = {
    400: b"Bad Request", 408: b"Request Timeout", 413: b"Payload Too Large", 414: b"URI Too Long",
    417: b"Expectation Failed", 431: b"Request Header Fields Too Large", 501: b"Not Implemented",
    505: b"HTTP Version Not Supported", 502: b"Bad Gateway", 503: b"Service Unavailable", 504: b"Gateway Timeout",
    500: b"Internal Server Error",
}  # fmt: skip
NO_CUT = frozenset((b"host", b"content-length"))  # interesting request fields passed on as they are
STATUS_LINES: dict[tuple[int, bytes], bytes] = {}  # pre-rendered response status lines
# the end of a response head sent on, by the Connection line the engine adds (none, close, keep-alive) + 3 when it
# adds chunked framing
RESPONSE_ENDS = tuple(te + conn + b"\r\n" for te in (b"", b"Transfer-Encoding: chunked\r\n")
                      for conn in (b"", b"Connection: close\r\n", b"Connection: keep-alive\r\n"))  # fmt: skip
KEEP_TOKENS = frozenset((b"close", b"keep-alive", b"upgrade"))  # Connection tokens that name no header to drop

# reasons reading from the client is paused (a bitmask, so flow control and throttling do not fight)
PAUSE_NODE_WRITE = 1  # the node's socket buffer is full
PAUSE_BUFFER = 2  # request bytes buffered while no node is attached
PAUSE_THROTTLE = 4  # bandwidth class
PAUSE_PIPELINE = 8  # too many pipelined requests waiting


class _Armed:
    """Stands in an exchange's reply_timer while the client connection's shared reply timer watches it."""

    __slots__ = ()

    def cancel(self) -> None:
        pass


ARMED = _Armed()
NO_NODES: frozenset[str] = frozenset()


def error_response(status: int, message: str = "", close: bool = True) -> bytes:
    body = (message or REASONS.get(status, b"Error").decode()).encode() + b"\n"
    return b"".join(
        (
            b"HTTP/1.1 %d %s\r\n" % (status, REASONS.get(status, b"Error")),
            b"Content-Type: text/plain\r\nContent-Length: %d\r\n" % len(body),
            b"Connection: close\r\n\r\n" if close else b"\r\n",
            body,
        )
    )


def connection_tokens(headers: list[tuple[bytes, bytes]]) -> set[bytes]:
    out: set[bytes] = set()
    for name, value in headers:
        if name.lower() == b"connection":
            out.update(t.strip().lower() for t in value.split(b","))
    return out


class Exchange:
    """One request on a client connection, and the state of proxying it."""

    def __init__(self, client: HttpClientProtocol):
        # every field is set here, not as a class attribute: compiled (proxyengine/compile.py with http.pxd) they
        # are the fields of a C struct, which cost next to nothing to set
        self.method = b"GET"
        self.url = b"/"
        self.head = None  # the validated raw head; headers are parsed from it on demand
        self._headers = None
        self.headers_changed = False
        self.version = "1.1"
        self.http10 = False
        self.keep_alive = True
        self.upgrade = False
        self.chunked = False
        self.content_length = -1
        self.expect_continue = False
        self.complete = False
        self.held = False  # a chunked body kept back until it is complete and valid (or too big to keep)
        self.body_buf_size = 0
        self.sent_size = 0
        self.upgrade_tail = b""
        self.vs = None
        self.pool = None
        self.node = None
        self.conn = None
        self.attempts = 0
        self.failovers = 0
        self.connect_task = None
        self.waiter_active = False
        self.persist = None
        self.persist_key = None
        self.persist_new = False
        self.tx = None
        self.last_error = 503
        self.close_after = False
        self.dead = False
        self.reply_timer = None
        self.response_started = False
        self.response_done = False
        self.status = 0
        self.resp_chunked_out = False  # the engine adds chunked framing (a close-delimited body, kept alive)
        self.resp_chunked_in = False  # the node's chunked body is passed on as it is
        self.resp_until_close = False
        self.head_only = False
        self.sent_at = 0.0
        self.node_address = ""  # the node that answered (ex.node is released before the statistics see the exchange)
        self.req_bytes = 0
        self.resp_bytes = 0  # the response as sent: head and body
        self.resp_head_bytes = 0
        self.resp_headers = None  # kept only for an access log that prints %{X}o
        self.client = client
        self.settings = None  # the virtual server's (settings.VsSettings), set by the client protocol
        self.response_rules = None  # the virtual server's, or a stand-in when request rules changed the response
        # made on the first addition (nearly every request has no body, no retry, no node tried before)
        self.body_buf: list[bytes] | tuple = ()  # body bytes that arrived before a node was connected
        self.sent: list[bytes] | tuple | None = ()  # what a node was sent, for a retry (None: not to be retried)
        self.tried: frozenset[str] = NO_NODES  # nodes not to choose again (replaced, never changed in place)
        self.started = monotonic()

    @property
    def headers(self) -> list[tuple[bytes, bytes]]:
        """The request's header fields as (name, value) bytes: parsed from the raw head only when asked for."""
        h = self._headers
        if h is None:
            h = header_list(self.head) if self.head is not None else []
            self._headers = h
        return h

    @headers.setter
    def headers(self, value: list[tuple[bytes, bytes]]) -> None:
        self._headers = value
        self.headers_changed = True


class HttpClientProtocol(ReadPauses):
    """A client connection to an HTTP virtual server."""

    def __init__(self, engine, listener, tls: bool = False):
        # per-connection state
        self.transport = None
        self.client_ip = ""
        self.client_port = 0
        self._local_ip = None  # found on first use (a getsockname per connection otherwise)
        self.client_ip_bytes = b""
        self.forwarded_proto = b""
        self.paused = 0
        self.closed = False
        self.tunnel = None
        self.idle_timer = None  # waiting for a request head: keep-alive idle, or the head taking too long
        self.timer_for_head = False  # idle_timer bounds the arrival of a head already begun (a 408)
        # keep-alive idleness is timed lazily: the armed timer is left in place across requests (no call_later
        # and cancel per request); when it fires it re-arms itself for whatever is left of the latest deadline
        self.idle_deadline = None  # None while a request is in progress
        self.reply_handle = None  # the node's reply deadline for the exchange in flight (see _request_sent)
        self.reply_when = 0.0
        self.reply_ex = None
        self.reply_deadline = 0.0
        self.writing_paused = False
        self.throttle = None
        self.client_eof = False
        # per-request (framing state)
        self.buf = b""  # an incomplete request head
        self.cur = None  # the exchange whose body is arriving
        self.body_left = 0
        self.chunks = None
        self.to_start = None  # routed once all of this read is framed (so checked)
        self.body_timer = None  # a request body is arriving: no byte of it for vs timeout seconds is a 408
        self.body_deadline = 0.0
        self.engine = engine
        self.loop = engine.loop
        self.listener = listener
        self.vs = listener.vs
        self.counters = listener.vs.stats  # typed (counters.pxd): counted into without a lookup
        self.settings = listener.vs.settings  # typed (settings.pxd): the configuration read per request
        self.stats = engine.stats  # typed (stats.pxd): request_done is a C call
        self.tls = tls
        self.local_port = listener.port
        self.limits = getattr(engine, "limits", DEFAULT_LIMITS)
        self.exchanges: list[Exchange] = []  # the pipeline, oldest first (a list: typed, compiled code indexes it in C)
        self.wbuf: list[bytes] = []  # to the client, flushed once per event
        self.nbuf: list[bytes] = []  # to the active exchange's node, flushed once per event
        self.connection_data: dict = {}
        self.rule_side = None  # rulehooks.ClientSide: what this connection's rule transactions share

    @property
    def local_ip(self) -> str:
        """The address the client connected to (rules and the access log ask; most connections never do)."""
        ip = self._local_ip
        if ip is None:
            sock = self.transport.get_extra_info("sockname") if self.transport is not None else None
            ip = self._local_ip = sock[0] if sock else ""
        return ip

    # -- transport callbacks ----------------------------------------------------------------------------------

    def connection_made(self, transport):
        self.transport = transport
        peer = transport.get_extra_info("peername") or ("", 0)
        self.client_ip, self.client_port = peer[0], peer[1]
        # what the engine's X-Forwarded-* lines say, the same for every request on the connection
        self.client_ip_bytes = self.client_ip.encode()
        self.forwarded_proto = b"X-Forwarded-Proto: %s\r\nX-Forwarded-Port: %d\r\n" % (
            b"https" if self.tls else b"http", self.local_port)
        vs = self.vs
        vs.connection_opened()
        if vs.max_conn_reached() or self.engine.connections_full():
            vs.stats.connection_failures += 1
            transport.abort()
            return
        self.throttle = vs.throttle()
        transport.set_write_buffer_limits(high=self.settings.max_server_buffer * 4)
        self._set_idle_timer(self.settings.connect_timeout or self.settings.timeout, head=True)

    def connection_lost(self, exc):
        self.closed = True
        self.vs.connection_closed()
        self._cancel_idle_timer()
        if self.reply_handle is not None:
            self.reply_handle.cancel()
            self.reply_handle = None
        if self.body_timer is not None:
            self.body_timer.cancel()
            self.body_timer = None
        self.reply_ex = None
        if self.tunnel is not None:
            tunnel, self.tunnel = self.tunnel, None
            tunnel.close()
        for ex in self.exchanges:
            ex.dead = True
            self._drop_node(ex, reusable=False)
        self.exchanges = []

    def data_received(self, data):
        self.counters.bytes_in += len(data)
        if self.tunnel is not None:
            self.tunnel.write(data)
            return
        if self.idle_timer is not None and not self.timer_for_head:
            self.idle_deadline = None  # not idle any more; the keep-alive timer stays armed
        if self.body_timer is not None:
            self.body_deadline = self.loop.time() + self.settings.timeout  # lazily: the timer re-arms for the rest
        try:
            self._consume(data)
        except HttpError as e:
            self._bad_request(e.status, str(e))
            return
        ex = self.to_start
        if ex is not None:
            # routing waits for the end of the read: a request whose body is malformed in the same read is
            # refused before its head goes anywhere
            self.to_start = None
            if not ex.dead and self.exchanges and self.exchanges[0] is ex:
                self._start(ex)
        self._flush()

    def _consume(self, data: bytes) -> None:
        """Frame ``data``: request heads (validated whole before anything is sent on) and bodies."""
        pos, n = 0, len(data)
        while pos < n and not self.closed:
            ex = self.cur
            if ex is not None:  # a body
                if self.chunks is not None:
                    out: list = []
                    pos = self.chunks.feed(data, pos, out)
                    limit = self.settings.max_body_length
                    if limit and self.chunks.data_size > limit:
                        raise HttpError(413, "request body too large")
                    for piece in out:
                        ex.req_bytes += len(piece)
                        self._request_bytes(ex, piece)
                    if self.chunks.done:
                        self.chunks = None
                        self._message_complete(ex)
                else:
                    take = min(self.body_left, n - pos)
                    piece = data if take == n else data[pos : pos + take]
                    pos += take
                    self.body_left -= take
                    ex.req_bytes += take
                    self._request_bytes(ex, piece)
                    if not self.body_left:
                        self._message_complete(ex)
                continue
            last = self.exchanges[-1] if self.exchanges else None
            if last is not None and last.upgrade and last.complete:
                last.upgrade_tail += data[pos:]  # bytes after an Upgrade request wait for the node's 101
                return
            buf = self.buf + data[pos:] if self.buf else (data[pos:] if pos else data)
            end = head_end(buf)
            if end < 0:
                self.buf = buf.lstrip(b"\r\n") if buf[:1] in (b"\r", b"\n") else buf
                err = head_too_big(self.buf, self.limits)
                if err is not None:
                    raise err
                if self.buf and not self.timer_for_head:
                    self._cancel_idle_timer()
                    self._set_idle_timer(self.settings.connect_timeout or self.settings.timeout, head=True)
                return
            self.buf = b""
            head = buf if end + 4 == len(buf) else buf[: end + 4]  # (nearly always the whole read: no copy)
            if head[0] == 13 and head[1] == 10:  # empty lines before a request line are ignored (RFC 9112 2.2)
                head = head.lstrip(b"\r\n")
                if not head or head[:1] == b"\n" or b"\r\n" not in head:
                    raise HttpError(400, "malformed request line")
            data, pos, n = buf, end + 4, len(buf)
            if self.timer_for_head:
                self._cancel_idle_timer()
            self._new_exchange(parse_request(head, self.limits))

    def _new_exchange(self, r: RequestHead) -> None:
        ex = Exchange(self)
        ex.settings = self.settings  # (again in _start, which may find the virtual server reconfigured)
        # the head's fields copied here, where both are typed (compiled: C struct fields, not attribute lookups)
        ex.head = r
        ex.method = r.method
        ex.url = r.target
        ex.version = r.version
        ex.http10 = r.http10  # (HTTP/1.0 and 1.1 are the versions a request may have)
        ex.keep_alive = r.keep_alive
        if r.upgrade:
            ex.upgrade = True
        if r.chunked:
            ex.chunked = True
        else:
            ex.content_length = r.content_length
        if r.expect_continue:
            ex.expect_continue = True
        if r.chunked or r.content_length:
            cfg = self.settings
            if cfg.max_body_length and r.content_length > cfg.max_body_length:
                raise HttpError(413, "request body too large")
            self.cur = ex
            if r.chunked:
                self.chunks = ChunkedReader(self.limits.max_chunk_header_length)
            else:
                self.body_left = r.content_length
            if cfg.timeout:
                self.body_deadline = self.loop.time() + cfg.timeout
                if self.body_timer is None:
                    self.body_timer = self.loop.call_at(self.body_deadline, self._body_timeout)
        else:
            ex.complete = True
        self.counters.total_requests += 1
        self.exchanges.append(ex)
        if len(self.exchanges) == 1:
            self.to_start = ex
        elif len(self.exchanges) > MAX_PIPELINE:
            self.pause(PAUSE_PIPELINE)

    def _body_timeout(self) -> None:
        """No byte of a request body for the virtual server's timeout: 408 (or a cut connection if answered)."""
        self.body_timer = None
        if self.cur is None or self.closed or self.transport is None:
            return
        if self.body_deadline > self.loop.time() + 0.001:
            self.body_timer = self.loop.call_at(self.body_deadline, self._body_timeout)
            return
        self.vs.stats.data_timed_out += 1
        self._bad_request(408, "the request body did not arrive in time")

    def _message_complete(self, ex: Exchange) -> None:
        self.cur = None
        if self.body_timer is not None:
            self.body_timer.cancel()
            self.body_timer = None
        ex.complete = True
        if ex.held:  # routed once this whole read is framed (so checked)
            ex.held = False
            self.to_start = ex
        if ex.conn is not None and self.exchanges and ex is self.exchanges[0]:
            self._request_sent(ex)

    def eof_received(self):
        if self.tunnel is not None:
            self.tunnel.write_eof()
            return True
        self.client_eof = True
        if self.exchanges:  # a half-closed client still gets its responses
            return True
        return False

    def pause_writing(self):
        self.writing_paused = True
        ex = self.exchanges[0] if self.exchanges else None
        conn = self.tunnel or (ex.conn if ex is not None else None)
        if conn is not None and conn.transport is not None:
            conn.pause(PAUSE_NODE_WRITE)

    def resume_writing(self):
        self.writing_paused = False
        ex = self.exchanges[0] if self.exchanges else None
        conn = self.tunnel or (ex.conn if ex is not None else None)
        if conn is not None and conn.transport is not None:
            conn.resume(PAUSE_NODE_WRITE)


    def throttled(self, nbytes: int, source) -> None:
        """Charge ``nbytes`` to the bandwidth class and the license cap; pause ``source`` if over."""
        delay = 0.0
        if self.throttle is not None:
            delay = self.throttle.consume(nbytes)
        lic = self.engine.license_bucket
        if lic is not None:
            delay = max(delay, lic.consume(nbytes))
        if delay > 0:
            source.pause(PAUSE_THROTTLE)
            self.loop.call_later(delay, source.resume, PAUSE_THROTTLE)

    def _flush(self) -> None:
        if self.wbuf:
            buf, self.wbuf = self.wbuf, []
            if self.transport is not None and not self.closed:
                self.transport.writelines(buf)
        if self.nbuf:
            buf, self.nbuf = self.nbuf, []
            ex = self.exchanges[0] if self.exchanges else None
            if ex is not None and ex.conn is not None and ex.conn.transport is not None:
                ex.conn.transport.writelines(buf)

    def _set_idle_timer(self, seconds: int, head: bool = False) -> None:
        if not seconds:
            return
        deadline = self.loop.time() + seconds
        if self.idle_timer is not None and not head and not self.timer_for_head:
            self.idle_deadline = deadline  # the armed keep-alive timer fires first and re-arms for the rest
            return
        self._cancel_idle_timer()
        self.timer_for_head = head
        self.idle_deadline = deadline
        self.idle_timer = self.loop.call_at(deadline, self._idle_timeout)

    def _cancel_idle_timer(self) -> None:
        if self.idle_timer is not None:
            self.idle_timer.cancel()
            self.idle_timer = None

    def _idle_timeout(self) -> None:
        """No complete request head in time: a slow client holds nothing for long (408 when a head had begun)."""
        self.idle_timer = None
        if not self.timer_for_head:
            deadline = self.idle_deadline
            if deadline is None:
                return  # busy: the next idle period arms a new timer
            if deadline > self.loop.time() + 0.001:
                self.idle_timer = self.loop.call_at(deadline, self._idle_timeout)
                return
        if self.exchanges or self.cur is not None or self.transport is None or self.closed:
            return
        if self.buf:
            self.vs.stats.connect_timed_out += 1
            self.transport.write(error_response(408, "The request head did not arrive in time"))
        else:
            self.vs.stats.keepalive_timed_out += 1
        self.closed = True
        self.transport.close()

    def _request_bytes(self, ex: Exchange, data: bytes) -> None:
        active = self.exchanges and ex is self.exchanges[0]
        if active and ex.conn is not None and ex.conn.transport is not None:
            self.nbuf.append(data)
            if ex.sent is not None:
                if ex.sent:
                    ex.sent.append(data)
                else:
                    ex.sent = [data]
                ex.sent_size += len(data)
                if ex.sent_size > RETAIN_LIMIT:
                    ex.sent = None
            if ex.node is not None:
                ex.node.bytes_to_node += len(data)
            if self.throttle is not None or self.engine.license_bucket is not None:
                self.throttled(len(data), self)
        elif not ex.dead:
            if ex.body_buf:
                ex.body_buf.append(data)
            else:
                ex.body_buf = [data]
            ex.body_buf_size += len(data)
            if ex.body_buf_size > self.settings.max_client_buffer:
                if ex.held:  # too big to keep back: it streams from here on
                    ex.held = False
                    self.to_start = ex
                self.pause(PAUSE_BUFFER)

    # -- routing a request ------------------------------------------------------------------------------------

    def _start(self, ex: Exchange) -> None:
        """``ex`` became the head of the pipeline: run rules, choose the pool, send it.

        A chunked request body is held back until it has arrived whole (up to the virtual server's
        max_client_buffer, as nginx buffers request bodies): a chunk error in a later read then refuses the
        request before any of it reached a node. A bigger body streams, and an error in it aborts the node
        connection, so the node never receives a complete request."""
        if ex.chunked and not ex.complete and ex.body_buf_size <= self.settings.max_client_buffer:
            ex.held = True
            if ex.expect_continue:  # the client waits for this before sending the body it is held for
                ex.expect_continue = False
                self.wbuf.append(b"HTTP/1.1 100 Continue\r\n\r\n")
            return
        settings = self.settings  # the virtual server's, typed: its pool and rules are C struct fields
        if settings.retired and self.listener.vs is not self.vs:
            vs = self.vs = self.listener.vs  # the listener stayed, the virtual server was reconfigured
            self.counters = vs.stats
            self.settings = settings = vs.settings
        ex.vs = self.vs
        ex.settings = settings
        if settings.retired or self.listener.retired:
            ex.close_after = True
        ex.pool = settings.pool
        ex.response_rules = settings.response_rules
        if settings.request_rules:
            action = rulehooks.run_request_rules(self, ex)
            if action == "done":
                return
        if ex.pool is None:
            self._error(ex, 503, "No pool is available for this virtual server")
            return
        self._dispatch(ex)

    def _dispatch(self, ex: Exchange) -> None:
        pool = ex.pool
        if pool.discard:
            vs = ex.vs
            vs.stats.discard += 1
            self.transport.abort()
            return
        now = wall()
        node = None
        if ex.attempts == 0 and ex.failovers == 0 and (pool.persistence is not None or ex.persist is not None):
            node = self._persistent_node(ex, pool, now)
            if node is False:
                return
        if node is None:
            node, why = pool.select(now, ex.tried)
            if why == "full":
                if pool.enqueue(self.loop, partial(self._dequeued, ex), ex.tried):
                    ex.waiter_active = True
                    return
                self._error(ex, 503, "The pool's queue is full")
                return
            if node is None:
                fp = pool.failure_pool
                if fp is not None and ex.failovers < 3 and pool.all_failed(now):
                    ex.failovers += 1
                    ex.pool = fp
                    ex.tried = NO_NODES
                    self._dispatch(ex)
                    return
                self._error(ex, ex.last_error, "No node is available to serve this request")
                return
            if ex.persist is not None:
                ex.persist_new = True
        self._connect_node(ex, node, pool)

    def _persistent_node(self, ex: Exchange, pool: Pool, now: float):
        """The node a session persists on; None to choose a new one; False when the request was answered."""
        pers = ex.persist or pool.persistence
        ex.persist = pers
        cookies = None
        if pers.type in ("transparent", "x_zeus", "cookie", "j2ee", "asp"):
            from .persistence import parse_cookies

            cookies = parse_cookies([v.decode("latin-1") for n, v in ex.headers if n.lower() == b"cookie"])
        tx = ex.tx
        key, address = pers.find(pool, self.client_ip, cookies, tx.persistence_key if tx is not None else None,
                                 tx.persistence_node if tx is not None else None)
        ex.persist_key = key
        if address is None:
            return None
        node = pool.by_address.get(address)
        if node is not None and pool.usable_persistent(node, now):
            return node
        mode = pers.cfg.failure_mode
        if mode == "close":
            self.transport.abort()
            return False
        if mode == "url" and pers.cfg.url:
            self._local_response(ex, 302, b"Found", [(b"Location", pers.cfg.url.encode("latin-1"))], b"")
            return False
        pool.session_migrated += 1
        if key is not None and pers.cfg.delete:
            pers.forget(pool.name, key)
        return None

    def _dequeued(self, ex: Exchange, node: Node | None) -> None:
        ex.waiter_active = False
        if ex.dead:
            return
        if node is None:
            if ex.pool.all_failed(time.time()):
                self._dispatch(ex)  # failure pool, or a 503 saying no node is available
            else:
                self._error(ex, 503, "Timed out in the queue for a node")
            self._flush()
            return
        self._connect_node(ex, node, ex.pool)

    def _connect_node(self, ex: Exchange, node: Node, pool: Pool) -> None:
        ex.node = node
        ex.attempts += 1
        node.current_conn += 1
        node.current_requests += 1
        node.total_conn += 1
        pool.total_conn += 1
        idle = node.idle
        while idle:
            conn = idle.pop()
            if conn.transport is not None and not conn.transport.is_closing():
                conn.reused()
                node.pooled_conn += 1
                self._attach(ex, conn, reused=True)
                return
        node.new_conn += 1
        ex.connect_task = self.loop.create_task(self._open(ex, node, pool))

    async def _open(self, ex: Exchange, node: Node, pool: Pool) -> None:
        engine = self.engine
        try:
            async with asyncio.timeout(pool.cfg.max_connect_time):
                _, conn = await self.loop.create_connection(
                    lambda: HttpNodeProtocol(engine, node, pool),
                    node.host,
                    node.port,
                    ssl=pool.ssl_context,
                    server_hostname=pool.server_hostname(node),
                )
        except asyncio.CancelledError:
            raise
        except (OSError, TimeoutError, ssl.SSLError, ValueError) as e:
            ex.connect_task = None
            if ex.dead:
                return
            if pool.connect_failed(node, time.time()):
                engine.events.node_failed(pool.name, node.address, f"connection failed: {e or 'timeout'}")
            self._node_failed(ex, 502, connect=True)
            self._flush()
            return
        ex.connect_task = None
        if pool.connect_ok(node):
            engine.events.node_recovered(pool.name, node.address, "a connection succeeded")
        if ex.dead:
            conn.close()
            return
        self._attach(ex, conn, reused=False)

    def _attach(self, ex: Exchange, conn: HttpNodeProtocol, reused: bool) -> None:
        """Send the request head and whatever body arrived so far to the node."""
        ex.conn = conn
        conn.exchange = ex
        conn.client = self
        conn.reused_for_request = reused
        head = self._request_head(ex)
        if not ex.sent and not ex.body_buf:  # nearly every request: its head alone
            conn.transport.write(head)
        else:
            out = [head]
            if ex.sent:  # a retry: what the previous node got first
                out.extend(ex.sent)
            if ex.body_buf:
                out.extend(ex.body_buf)
                if ex.sent is not None:
                    ex.sent = [*ex.sent, *ex.body_buf]
                    ex.sent_size += ex.body_buf_size
                    if ex.sent_size > RETAIN_LIMIT:
                        ex.sent = None
                ex.node.bytes_to_node += ex.body_buf_size
                ex.body_buf = ()
                ex.body_buf_size = 0
                self.resume(PAUSE_BUFFER)
            conn.transport.writelines(out)
        if ex.expect_continue and not ex.complete and not ex.response_started and ex.attempts == 1:
            self.transport.write(b"HTTP/1.1 100 Continue\r\n\r\n")
        if ex.complete:
            self._request_sent(ex)

    def _request_sent(self, ex: Exchange) -> None:
        ex.sent_at = monotonic()
        if ex.reply_timer is None and not ex.response_started:
            reply_time = ex.pool.max_reply_time
            if ex.tx is not None:
                reply_time = ex.tx.max_reply_time or reply_time
            # one lazily re-armed timer per client connection, not a call_later and cancel per request
            # (only the head of the pipeline waits for a node)
            deadline = ex.sent_at + reply_time  # (time.monotonic() is the event loop's clock)
            ex.reply_timer = ARMED
            self.reply_ex, self.reply_deadline = ex, deadline
            if self.reply_handle is None or self.reply_when > deadline:
                if self.reply_handle is not None:
                    self.reply_handle.cancel()
                self.reply_handle = self.loop.call_at(deadline, self._reply_check)
                self.reply_when = deadline

    def _reply_check(self) -> None:
        self.reply_handle = None
        ex = self.reply_ex
        if ex is None or ex.reply_timer is not ARMED:
            return  # answered (or given up) since: the next request arms the timer again
        if self.loop.time() < self.reply_deadline - 0.001:
            self.reply_handle = self.loop.call_at(self.reply_deadline, self._reply_check)
            self.reply_when = self.reply_deadline
            return
        self.reply_ex = None
        self._reply_timeout(ex)

    def _reply_timeout(self, ex: Exchange) -> None:
        ex.reply_timer = None
        if ex.dead or ex.response_started or ex.conn is None:
            return
        ex.vs.stats.connect_timed_out += 1
        ex.node.errors += 1
        self._node_failed(ex, 504)
        self._flush()

    def _request_head(self, ex: Exchange) -> bytes:
        """The head sent to the node: the client's raw header block with only the lines proxying touches cut
        (hop-by-hop, X-Forwarded-*, Expect) and the engine's own lines added; rebuilt only after a rule changed it."""
        r = ex.head
        if r is None or ex.headers_changed or not r.tokens <= KEEP_TOKENS:
            return self._request_head_rebuilt(ex)
        vs = ex.settings
        cuts = None  # the (start, end) of the lines left out
        xff = None
        fields = r.fields
        absolute = fields[-1][3] if fields and fields[-1][0] < 0 else None  # an absolute-form target's authority
        for start, end, name, value in fields:
            if start < 0:
                continue
            if name in NO_CUT and (absolute is None or name != b"host"):
                continue
            if name == b"x-forwarded-for":
                if not vs.add_x_forwarded_for:
                    continue
                xff = value if xff is None else xff + b", " + value
            elif name == b"x-forwarded-proto" or name == b"x-forwarded-port":
                if not vs.strip_x_forwarded_proto:
                    continue
            elif name == b"x-cluster-client-ip" and not vs.add_cluster_ip:
                continue
            if cuts is None:
                cuts = []
            cuts.append((start, end))
        after = self._end_request_head(ex, xff, r.upgrade)
        if absolute is not None:
            after = (b"Host: ", absolute, b"\r\n", *after)
        return build_head((ex.method, b" ", ex.url, b" HTTP/1.1\r\n"), r.block, cuts, after)

    def _request_head_rebuilt(self, ex: Exchange) -> bytes:
        vs = ex.settings
        drop = connection_tokens(ex.headers)
        drop.discard(b"close")
        drop.discard(b"keep-alive")
        strip_proto = vs.strip_x_forwarded_proto
        xff = None
        lines = [ex.method, b" ", ex.url, b" HTTP/1.1\r\n"]
        for name, value in ex.headers:
            ln = name.lower()
            if ln in HOP_BY_HOP or ln in drop or ln == b"expect" or (ln == b"content-length" and ex.chunked):
                continue
            if ln == b"x-forwarded-for" and vs.add_x_forwarded_for:
                xff = value if xff is None else xff + b", " + value
                continue
            if strip_proto and (ln == b"x-forwarded-proto" or ln == b"x-forwarded-port"):
                continue
            if ln == b"x-cluster-client-ip" and vs.add_cluster_ip:
                continue
            lines += (name, b": ", value, b"\r\n")
        up = b"".join(v for n, v in ex.headers if n.lower() == b"upgrade") if ex.upgrade else b""
        return build_head(tuple(lines), b"\r\n", None, self._end_request_head(ex, xff, up))

    def _end_request_head(self, ex: Exchange, xff: bytes | None, upgrade: bytes) -> tuple:
        """The lines the engine adds after the client's own (X-Forwarded-*, framing, Connection), and the end."""
        vs = ex.settings
        if ex.upgrade:
            end = b"Connection: Upgrade\r\nUpgrade: " + upgrade + b"\r\n\r\n"
        elif not self._node_keepalive(ex):
            end = b"Connection: close\r\n\r\n"
        else:
            end = b"\r\n"
        if not (vs.add_x_forwarded_proto or ex.chunked):  # what nearly every request has: a tuple made at once
            ip = self.client_ip_bytes
            if vs.add_x_forwarded_for:
                if xff:
                    ip = xff + b", " + ip
                if vs.add_cluster_ip:
                    return (b"X-Forwarded-For: ", ip, b"\r\nX-Cluster-Client-Ip: ", self.client_ip_bytes, b"\r\n", end)
                return (b"X-Forwarded-For: ", ip, b"\r\n", end)
            if vs.add_cluster_ip:
                return (b"X-Cluster-Client-Ip: ", ip, b"\r\n", end)
            return (end,)
        parts = []
        if vs.add_x_forwarded_for:
            ip = self.client_ip_bytes
            parts += (b"X-Forwarded-For: ", (xff + b", " + ip) if xff else ip, b"\r\n")
        if vs.add_cluster_ip:
            parts += (b"X-Cluster-Client-Ip: ", self.client_ip_bytes, b"\r\n")
        if vs.add_x_forwarded_proto:
            parts.append(self.forwarded_proto)
        if ex.chunked:
            parts.append(b"Transfer-Encoding: chunked\r\n")
        parts.append(end)
        return tuple(parts)

    def _node_keepalive(self, ex: Exchange) -> bool:
        pool = ex.pool
        return pool.keepalive and (ex.method is METHOD_GET or ex.method in IDEMPOTENT or pool.keepalive_non_idempotent)

    # -- failures -----------------------------------------------------------------------------------------------

    def _node_failed(self, ex: Exchange, status: int, connect: bool = False) -> None:
        """The node did not answer: retry elsewhere when safe, else tell the client."""
        reused = ex.conn is not None and ex.conn.reused_for_request
        failed = ex.node  # _drop_node releases it; the retry must still know which node failed
        self._drop_node(ex, reusable=False)
        if ex.response_started:
            self.transport.close()  # half a response went out: the client must see it cut short
            return
        ex.last_error = status
        retryable = ex.sent is not None and (connect or ex.method in IDEMPOTENT or (ex.tx is not None and
                                                                                     ex.tx.idempotent))
        if retryable and reused and status == 502:
            ex.attempts -= 1  # a keep-alive connection the node had closed: not the node's fault
        elif failed is not None:
            ex.tried = ex.tried | {failed.address}
        if retryable and ex.attempts < ex.pool.max_attempts():
            ex.node = None
            self._dispatch(ex)
            return
        ex.vs.stats.connection_errors += 1
        self._error(ex, status, "The node did not answer" if status != 504 else "The node timed out")

    def _drop_node(self, ex: Exchange, reusable: bool) -> None:
        """Detach ``ex`` from its node connection (to the idle list when ``reusable``) and release the node."""
        if ex.reply_timer is not None:
            ex.reply_timer.cancel()
            ex.reply_timer = None
        if ex.connect_task is not None:
            ex.connect_task.cancel()
            ex.connect_task = None
        conn, ex.conn = ex.conn, None
        node = ex.node
        if conn is not None:
            conn.exchange = None
            conn.client = None
            if reusable and node is not None:
                conn.to_idle(ex.pool.max_idle_connections_pernode)
            else:
                conn.close()
        if node is not None:
            ex.node = None
            ex.node_address = node.address
            node.current_requests -= 1
            ex.pool.release(node)

    def _bad_request(self, status: int, why: str) -> None:
        """A malformed request: answered at once and the connection closed; no byte of it went to a node.

        Requests before it on the connection are abandoned too: their responses could not be told apart from
        whatever the client meant by the bad one."""
        self.vs.stats.connection_errors += 1
        self.buf = b""
        self.to_start = None
        if self.exchanges and self.exchanges[0].response_started:
            self._flush()
            self.transport.close()
            self.closed = True
            return
        for ex in self.exchanges:
            ex.dead = True
            self._drop_node(ex, reusable=False)
        self.exchanges = []
        self.cur = None
        self.wbuf.append(error_response(status, REASONS.get(status, b"Bad Request").decode() + ": " + why))
        self._flush()
        self.transport.close()
        self.closed = True

    def _error(self, ex: Exchange, status: int, message: str) -> None:
        self._local_response(ex, status, REASONS.get(status, b"Error"),
                             [(b"Content-Type", b"text/plain")], (message + "\n").encode(), error=True)

    def _local_response(self, ex: Exchange, status: int, reason: bytes, headers, body: bytes,
                        error: bool = False) -> None:
        """Answer ``ex`` from the traffic manager (an error, a redirect, a rule's response)."""
        if ex.dead or self.closed:
            return
        ex.settings.stats.direct_replies += 0 if error else 1
        # the request body has not been read in full: the connection cannot carry another request
        close = error or not ex.complete or not self._client_keepalive(ex)
        lines = [b"HTTP/1.1 %d %s\r\n" % (status, reason)]
        for n, v in headers:
            if n.lower() not in (b"content-length", b"connection", b"transfer-encoding"):
                lines += (n, b": ", v, b"\r\n")
        lines.append(b"Content-Length: %d\r\n" % len(body))
        lines.append(b"Connection: close\r\n\r\n" if close else b"\r\n")
        ex.resp_head_bytes = sum(map(len, lines))
        if ex.settings is not None and ex.settings.log_response_headers:
            ex.resp_headers = list(headers)
        if ex.method != b"HEAD":
            lines.append(body)
        response = b"".join(lines)
        ex.resp_bytes += len(response)
        self.wbuf.append(response)
        ex.status = status
        ex.response_started = True
        ex.close_after = ex.close_after or close
        self._exchange_done(ex)

    # -- the response (called by HttpNodeProtocol) ----------------------------------------------------------

    def _client_keepalive(self, ex: Exchange) -> bool:
        return ex.keep_alive and ex.settings.keepalive and not ex.close_after and not self.listener.retired

    def response_head(self, ex: Exchange, conn: HttpNodeProtocol) -> None:
        """Send the node's response head on: its raw block with the hop-by-hop lines cut, unless a rule or
        session persistence needs the header list."""
        if ex.reply_timer is not None:
            if ex.reply_timer is not ARMED:  # (the shared timer finds ARMED gone: nothing to cancel)
                ex.reply_timer.cancel()
            ex.reply_timer = None
        r = conn.resp
        ex.status = r.status
        ex.response_started = True
        headers = None
        if ex.response_rules or ex.persist is not None or not r.tokens <= KEEP_TOKENS:
            headers = conn.headers
            if ex.response_rules:
                headers = rulehooks.run_response_rules(self, ex, conn, headers)
                if headers is None:
                    return
            if ex.persist is not None and ex.node is not None:
                self._persistence_on_response(ex, headers)
        status = conn.status
        no_body = (ex.method is not METHOD_GET and ex.method == b"HEAD") or status in (204, 304) or 100 <= status < 200
        upgrade = status == 101 and ex.upgrade
        keep = self._client_keepalive(ex) and ex.complete and not upgrade
        if not no_body and r.until_close:
            ex.resp_until_close = True  # the node frames the body by closing its connection
            if ex.http10:
                keep = False
        if r.chunked and not no_body:
            if not ex.http10:
                ex.resp_chunked_in = True
            else:  # an HTTP/1.0 client knows no chunks: the data alone, and the end of the body is a close
                conn.chunks.decode = True
                keep = False
        ex.resp_chunked_out = not no_body and ex.resp_until_close and keep
        reason = conn.reason or REASONS.get(status, b"OK")
        if status == 200 and reason is REASON_OK:  # (http1 gives every "OK" as its one object)
            line = b"HTTP/1.1 200 OK\r\n"
        else:
            line = STATUS_LINES.get((status, reason))
        if line is None:
            line = STATUS_LINES[(status, reason)] = b"HTTP/1.1 %d %s\r\n" % (status, reason)
            if len(STATUS_LINES) > 256:
                STATUS_LINES.clear()
        connection = 0  # the Connection line the engine adds: none, close, keep-alive (RESPONSE_ENDS)
        if not upgrade:
            if not keep:
                ex.close_after = True
                connection = 1
            elif ex.http10:
                connection = 2
        end = RESPONSE_ENDS[connection + 3 * (ex.resp_chunked_out or ex.resp_chunked_in)]
        if headers is None:
            cuts = None  # the (start, end) of the lines left out
            for start, stop, name, _ in r.fields:
                if name == b"content-length" or (upgrade and (name == b"upgrade" or name == b"connection")):
                    continue
                if cuts is None:
                    cuts = []
                cuts.append((start, stop))
            head = build_head((line,), r.block, cuts, (end,))
        else:
            parts = [line]
            drop = connection_tokens(headers)
            for name, value in headers:
                ln = name.lower()
                if (ln in HOP_BY_HOP or ln in drop) and not (upgrade and ln in (b"upgrade", b"connection")):
                    continue
                if ln == b"content-length" and r.chunked:
                    continue
                parts += (name, b": ", value, b"\r\n")
            parts.append(end)
            head = b"".join(parts)
        ex.resp_bytes += len(head)
        ex.resp_head_bytes = len(head)
        if ex.settings.log_response_headers:
            ex.resp_headers = headers if headers is not None else conn.headers
        self.wbuf.append(head)

    def _persistence_on_response(self, ex: Exchange, headers) -> None:
        pers = ex.persist
        pool = ex.pool
        address = ex.node.address
        if pers.type in ("ip", "ssl", "universal"):  # (named: the rule names the node each time, nothing to record)
            if ex.persist_key is not None and ex.persist_new:
                pers.record(pool.name, ex.persist_key, address)
        elif pers.type in ("cookie", "j2ee", "asp"):
            pers.learn_from_response(pool.name, [v.decode("latin-1") for n, v in headers
                                                 if n.lower() == b"set-cookie"], address)
        cookie = pers.response_cookie(pool.name, address, ex.persist_new)
        if cookie is not None:
            headers.append((b"Set-Cookie", cookie.encode("latin-1")))

    def response_body(self, ex: Exchange, data: bytes) -> None:
        n = len(data)
        ex.resp_bytes += n
        if ex.resp_chunked_out:
            self.wbuf.append(b"%x\r\n%b\r\n" % (n, data))
        else:
            self.wbuf.append(data)
        if (self.throttle is not None or self.engine.license_bucket is not None) and ex.conn is not None:
            self.throttled(n, ex.conn)

    def response_complete(self, ex: Exchange, node_keepalive: bool) -> None:
        if ex.resp_chunked_out:
            self.wbuf.append(b"0\r\n\r\n")
        node = ex.node
        if node is not None:
            node.record_response_time(monotonic() - (ex.sent_at or ex.started))
        reusable = node_keepalive and ex.complete and not ex.resp_until_close and self._node_keepalive(ex)
        self._drop_node(ex, reusable=reusable)
        self._exchange_done(ex)

    def upgraded(self, ex: Exchange, conn: HttpNodeProtocol, rest: bytes) -> None:
        """The node answered 101: from now on bytes flow both ways untouched."""
        self.tunnel = conn
        conn.tunnel = self
        ex.conn = None
        if ex.reply_timer is not None:
            ex.reply_timer.cancel()
            ex.reply_timer = None
        if rest:
            self.wbuf.append(rest)
        if ex.upgrade_tail:
            conn.transport.write(ex.upgrade_tail)
            ex.upgrade_tail = b""
        self.resume(self.paused)

    def node_lost(self, ex: Exchange, conn: HttpNodeProtocol) -> None:
        """The node connection closed while serving ``ex``."""
        if ex.response_started and ex.resp_until_close:
            self.response_complete(ex, node_keepalive=False)
            self._flush()
            return
        if ex.response_started:
            self._drop_node(ex, reusable=False)
            self._flush()
            if self.transport is not None:
                self.transport.close()
            return
        if ex.node is not None and not conn.reused_for_request:
            ex.node.errors += 1
        self._node_failed(ex, 502)
        self._flush()

    def _exchange_done(self, ex: Exchange) -> None:
        ex.response_done = True
        ex.sent = None  # the statistics ring keeps the exchange a while: not the request body kept for retries
        if ex.pool is not None:
            ex.pool.bytes_in += ex.req_bytes
            ex.pool.bytes_out += ex.resp_bytes
        ex.settings.stats.bytes_out += ex.resp_bytes
        self.stats.request_done(self, ex)
        if self.exchanges and self.exchanges[0] is ex:
            del self.exchanges[0]
        if ex.close_after or self.closed or (self.client_eof and not self.exchanges):
            self._flush()
            if self.transport is not None:
                self.transport.close()
            self.closed = True
            return
        if self.paused & PAUSE_PIPELINE:
            self.resume(PAUSE_PIPELINE)
        if self.exchanges:
            nxt = self.exchanges[0]
            self.loop.call_soon(self._start_next, nxt)
        elif self.cur is None:
            keep = ex.settings.keepalive_timeout
            if keep and self.idle_timer is not None and not self.timer_for_head:  # armed: re-arms for the rest
                self.idle_deadline = monotonic() + keep  # (the loop's clock: CLOCK_MONOTONIC, with no method call)
            else:
                self._set_idle_timer(keep)

    def _start_next(self, ex: Exchange) -> None:
        if not ex.dead and self.exchanges and self.exchanges[0] is ex:
            self._start(ex)
            self._flush()


def sweep_idle(nodes, now: float, timeout: float, max_idle: int | None = None) -> None:
    """Close keep-alive connections to ``nodes`` idle for longer than ``timeout``, and the oldest beyond
    ``max_idle`` per node (the oldest are first in the list; the engine calls this once a second)."""
    for node in nodes:
        idle = node.idle
        while idle and 0 < idle[0].idle_since < now - timeout:
            idle.pop(0).close()
        if max_idle is not None:
            while len(idle) > max_idle:
                idle.pop(0).close()


class HttpNodeProtocol(ReadPauses):
    """A connection to a node: carries one exchange at a time, kept alive in the node's idle list between."""

    def __init__(self, engine, node: Node, pool: Pool):
        # per-connection state
        self.closed = False  # reading resumes whenever no reason holds it back (see flow.ReadPauses)
        self.idle_since = 0.0  # loop time it went back to the node's idle list
        # configuration
        self.engine = engine
        self.loop = engine.loop
        self.node = node
        # per-connection
        self.transport: asyncio.Transport | None = None
        self.paused = 0
        self.idle_timer = None
        self.tunnel: HttpClientProtocol | None = None
        self.reused_for_request = False
        # per-exchange
        self.exchange: Exchange | None = None
        self.client: HttpClientProtocol | None = None
        self.buf = b""  # an incomplete response head
        self.resp = None  # the current response's validated head (http1.ResponseHead) once it arrived
        self.status = 0
        self.reason = b""
        self._headers: list[tuple[bytes, bytes]] | None = None
        self.body_left = 0
        self.chunks: ChunkedReader | None = None

    @property
    def headers(self) -> list[tuple[bytes, bytes]]:
        """The response's header fields, parsed from the raw head only when a rule or persistence asks."""
        if self._headers is None:
            block = self.resp.block if self.resp is not None else b"\r\n"
            self._headers = [(n, v.strip(b" \t")) for n, _, v in (line.partition(b":") for line in
                                                                  block[:-2].split(b"\r\n")[:-1])]
        return self._headers

    # -- transport callbacks ----------------------------------------------------------------------------------

    def connection_made(self, transport):
        self.transport = transport
        transport.set_write_buffer_limits(high=1 << 20)
        self.node.active.add(self)  # node.close_on_death closes it when the node fails (pools.Node.close_all)

    def connection_lost(self, exc):
        self.transport = None
        self.node.active.discard(self)
        if self.idle_timer is not None:
            self.idle_timer.cancel()
            self.idle_timer = None
        try:
            self.node.idle.remove(self)
        except ValueError:
            pass
        if self.tunnel is not None:
            tunnel, self.tunnel = self.tunnel, None
            if tunnel.transport is not None:
                tunnel._flush()
                tunnel.transport.close()
            return
        ex, client = self.exchange, self.client
        if ex is not None and client is not None and not ex.dead:
            client.node_lost(ex, self)

    def data_received(self, data):
        self.node.bytes_from_node += len(data)
        if self.tunnel is not None:
            self.tunnel.transport.write(data)
            return
        client = self.client
        if client is None:  # an idle connection spoke: it is of no further use
            self.close()
            return
        try:
            self._consume(data)
        except HttpError as e:
            self._bad_response(client, str(e))
        self._flush_client(client)

    def _flush_client(self, client) -> None:
        if type(client) is HttpClientProtocol:
            hc = client  # compiled: a C call
            hc._flush()
        else:
            client._flush()

    def _consume(self, data: bytes) -> None:
        pos, n = 0, len(data)
        while pos < n:
            ex = self.exchange
            client = self.client  # the client protocol, or a rule's stand-in reading the body whole
            if ex is None or client is None:
                self.close()  # bytes after the end of the response: nothing can be trusted on this connection
                return
            if self.resp is None:
                buf = self.buf + data[pos:] if self.buf else (data[pos:] if pos else data)
                end = head_end(buf)
                if end < 0:
                    if len(buf) > MAX_RESPONSE_HEAD:
                        raise HttpError(502, "response head too large")
                    self.buf = buf
                    return
                self.buf = b""
                r = parse_response(buf if end + 4 == len(buf) else buf[: end + 4], ex.method)
                data, pos, n = buf, end + 4, len(buf)
                if r.status < 200 and r.status != 101:
                    continue  # 100 Continue and friends: the engine answered Expect itself
                self.resp, self.status, self.reason, self._headers = r, r.status, r.reason, None
                if r.status == 101 and not ex.upgrade:
                    raise HttpError(502, "unexpected upgrade")
                if r.chunked:
                    self.chunks = ChunkedReader(4096, 502)
                else:
                    self.body_left = r.content_length
                if type(client) is HttpClientProtocol:  # compiled: hc is typed, a C call (not a method lookup)
                    hc = client
                    hc.response_head(ex, self)
                else:  # a response rule's stand-in
                    client.response_head(ex, self)
                if self.exchange is not ex:
                    return  # a rule replaced the response or retried the request
                if self.chunks is not None and not isinstance(self.client, HttpClientProtocol):
                    self.chunks.decode = True  # a rule reads the body whole: it wants the data, not the framing
                if r.status == 101:
                    client.upgraded(ex, self, data[pos:])
                    return
                if not (r.chunked or r.content_length or r.until_close):
                    self._complete(client, ex, r.keep_alive and pos == n)
                    continue
                if pos >= n:
                    return
                # the body's first bytes came with the head: on to them, in this same pass (to whoever reads the
                # body now: a response rule's stand-in may have taken the client's place)
                client = self.client
            if self.chunks is not None:
                out: list = []
                pos = self.chunks.feed(data, pos, out)
                for piece in out:
                    self._body_to(client, ex, piece)
                if self.chunks.done:
                    self._complete(client, ex, self.resp.keep_alive and pos == n)
            elif self.body_left:
                take = min(self.body_left, n - pos)
                # a slice of a read that also held the head: copied when small, a view when large
                self._body_to(client, ex, data if take == n else data[pos : pos + take] if take < 16384 else
                                     memoryview(data)[pos : pos + take])
                pos += take
                self.body_left -= take
                if not self.body_left:
                    self._complete(client, ex, self.resp.keep_alive and pos == n)
            else:  # the body ends when the node closes
                self._body_to(client, ex, data[pos:] if pos else data)
                return

    def _body_to(self, client, ex: Exchange, piece) -> None:
        """Response body bytes to whoever reads them: the client protocol (compiled: a C call) or a rule's stand-in."""
        if type(client) is HttpClientProtocol:
            hc = client
            hc.response_body(ex, piece)
        else:
            client.response_body(ex, piece)

    def _complete(self, client, ex: Exchange, keepalive: bool) -> None:
        self.resp = None
        self.chunks = None
        if type(client) is HttpClientProtocol:
            hc = client
            hc.response_complete(ex, keepalive)
        else:
            client.response_complete(ex, keepalive)

    def eof_received(self):
        if self.tunnel is not None:
            self.tunnel.transport.write_eof()
            return True
        return False

    def pause_writing(self):
        if self.client is not None:
            self.client.pause(PAUSE_NODE_WRITE)
        elif self.tunnel is not None:
            self.tunnel.pause(PAUSE_NODE_WRITE)

    def resume_writing(self):
        peer = self.client or self.tunnel
        if peer is not None:
            peer.resume(PAUSE_NODE_WRITE)


    def write(self, data: bytes) -> None:  # tunnel mode
        if self.transport is not None:
            self.transport.write(data)

    def write_eof(self) -> None:
        if self.transport is not None and self.transport.can_write_eof():
            self.transport.write_eof()

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()

    def reused(self) -> None:
        self.idle_since = 0.0

    def to_idle(self, max_idle: int) -> None:
        """Back to the node's idle list. max_idle_connections_pernode is enforced by the once-a-second sweep
        (as HAProxy purges idle server connections gradually): closing at once whatever is over the limit
        made a bursty load close and reopen node connections all the time (a third of the requests at 200
        client connections opened one). Only IDLE_CEILING times the limit is refused at once."""
        # (a transport closing meanwhile is found by _connect_node, which checks before it reuses a connection)
        if (self.transport is None or len(self.node.idle) >= max_idle * IDLE_CEILING or self.resp is not None
                or self.buf):  # fmt: skip
            self.close()
            return
        self.status = 0
        self._headers = None
        if self.paused:
            self.paused = 0
            self.transport.resume_reading()
        self.node.idle.append(self)
        # no timer per request: the engine's once-a-second tick closes connections idle too long (sweep_idle)
        self.idle_since = monotonic()  # (the loop's clock: CLOCK_MONOTONIC, with no method call)

    def _bad_response(self, client: HttpClientProtocol, why: str) -> None:
        """A malformed or ambiguous response: the client gets a 502 (or a cut connection if the response had
        begun), and this connection is never reused."""
        ex = self.exchange
        self.close()
        self.resp = None
        self.chunks = None
        if ex is not None:
            self.engine.events.log("warn", f"pools/{ex.pool.name}", f"node {self.node.address}: bad response: {why}")
            if ex.node is not None:
                ex.node.errors += 1
            if ex.response_started:
                client._drop_node(ex, reusable=False)
                client._flush()
                if client.transport is not None:
                    client.transport.close()
                client.closed = True
            else:
                ex.sent = None  # the node did something with the request: do not send it again
                client._node_failed(ex, 502)
