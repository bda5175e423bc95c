"""Where the engine meets TrafficScript: fill a Transaction, run the rules, honour what they asked for.

Only this module touches ``proxyengine.rules``' Transaction; the protocols call the two hooks below
when their virtual server has rules, so a server without rules pays nothing. Everything that makes a
request wait (a whole request body a rule reads, a rate class's queue, connection.sleep) or a response
wait (a whole response body a rule reads, a new status line) is done here with timers and a stand-in for
the client protocol, so the protocols keep streaming for everyone else.
"""

from __future__ import annotations

import socket
import time
from collections import deque

from .http1 import ChunkedReader, find_byte
from .http_transaction import new_http_transaction
from .rules import Headers, Transaction
from .rules.purity import HOST, METHOD, PATH, PURE, QUERY

HOP_BY_HOP = frozenset(
    (b"connection", b"keep-alive", b"proxy-connection", b"te", b"trailer", b"transfer-encoding", b"upgrade")
)
BODY_POLL = 0.005  # seconds between looks at a request body still arriving for a rule that reads it
BODY_WAIT_DEFAULT = 30.0  # how long a rule waits for the whole request body when the virtual server sets none
MAX_RESPONSE_BODY = 16 << 20  # a response body read whole for a rule (http.getResponseBody) may not exceed this
MAX_RATE_QUEUE = 10000  # requests waiting in one rate class (and context key) before the engine answers 503
RULE_FAILED = "A rule failed while handling this request"
ROUTE_MEMO_MAX = 4096  # requests remembered per virtual server by its route memo (then it starts again, empty)
ROUTE_MEMO_FILLS = 8  # a memo that filled this often (every request different) is given up until the next reload


def _latin(b: bytes) -> str:
    return b.decode("latin-1")


def _encode(headers) -> list[tuple[bytes, bytes]]:
    return [(n.encode("latin-1"), v.encode("latin-1")) for n, v in headers]


_METHODS: dict[bytes, str] = {}


class ClientSide:
    """What the transactions of one client connection share, made when rules first run on it and kept by the client
    protocol: the connection's addresses, its transport (its local address is looked up only if a rule asks), its
    connection.data, and the virtual server's name. Not the client protocol itself, which holds the exchange that
    holds the transaction: no cycle."""

    def __init__(self, client, vs) -> None:
        engine = client.engine
        self.state = engine.rule_state
        self.pools = engine.pools  # the configuration's, as the virtual server's (a reload makes both anew)
        self.vs = vs
        self.vs_name = vs.name
        self.transport = client.transport
        self.remote_ip = client.client_ip
        self.remote_port = client.client_port
        self.local_port = client.local_port
        self.connection_data = client.connection_data


def _decoded(headers) -> Headers:
    """A header list as rules see it (a function of its own: a generator in a cpdef function does not compile)."""
    return Headers((_latin(n), _latin(v)) for n, v in headers)


def new_transaction(client, ex) -> Transaction:
    """The request's Transaction. PERFORMANCE-NOTES: made without __init__ and given only what this request has, by
    an interpreted factory (a field set from compiled code costs a generic attribute store, ~170 instructions, and
    a call of a Python __init__ ~900): bench/instructions.py measured 7.2k instructions for this function with
    __init__ and a dozen fields, 3.6k made by __new__ here, less made by http_transaction.new_http_transaction."""
    vs = ex.vs
    side = client.rule_side
    if side is None or side.vs is not vs:
        side = client.rule_side = ClientSide(client, vs)
    head = ex.head
    url = ex.url
    q = find_byte(url, 63)  # "?"
    if q >= 0:
        path, _, query = _latin(url).partition("?")
    else:
        path, query = _latin(url), ""
    tx = new_http_transaction(side, ex.started, head, path, query)
    if ex.headers_changed or head is None:
        tx.request_headers = _decoded(ex.headers)
    method = _METHODS.get(ex.method)
    if method is None:
        method = _latin(ex.method)
        if len(_METHODS) < 64:
            _METHODS[ex.method] = method
    if method != "GET":
        tx.method = method
    if ex.http10:
        tx.http_version = "HTTP/1.0"
    if ex.attempts > 1:
        tx.retries = ex.attempts - 1
    return tx


def _log(engine, tx: Transaction) -> None:
    """Send what the rules logged, their aborts and their custom events to the event log, once."""
    for err in tx.errors:
        engine.events.log("warn", f"rules/{err.rule}", f"rule aborted: {err}")
    for level, rule, message in tx.logs:
        engine.events.log(level, f"rules/{rule}", message)
    tx.clear_notes()
    events = engine.rule_state.events
    while events:
        name, message = events.popleft()
        engine.events.log("info", f"custom/{name}", message)


# -- request rules ----------------------------------------------------------------------------------------------


def run_request_rules(client, ex) -> str | None:
    """Run the virtual server's request rules on ``ex``; "done" when the rules answered, dropped or hold it."""
    settings = ex.settings
    key = None
    if settings.route_memo is not None and not ex.headers_changed and ex.head is not None:
        key = _route_key(ex, settings.route_inputs)
        known = settings.route_memo.get(key)
        if known is not None:  # these rules routed this request line and Host before: the same again
            known.hits += 1  # (a C integer: folded into the rules' statistics by fold_route_hits)
            if known.chooser is not None:
                ex.pool = known.pool
            return None
    tx = new_transaction(client, ex)
    ex.tx = tx
    if settings.request_rules_read_body:
        if ex.chunked or ex.content_length > 0:
            client.loop.call_soon(_wait_for_body, client, ex, time.monotonic())
            return "done"
        tx.request_body = b""
    return _run_request(client, ex, key)


# -- the route memo ---------------------------------------------------------------------------------------------
#
# Request rules that are pure functions of the request line and Host (rules/purity.py: a host/path routing rule)
# choose the same pool for the same method, path, query and Host every time. A virtual server whose request rules
# are all pure, and which has no response rules, remembers what they chose for each (what the rules read of them)
# and applies it to the next such request without a Transaction or a run: the rules' statistics still count every
# execution. PERFORMANCE-NOTES: the routing rule cost ~11.4k of 43k instructions per request (bench/instructions.py).


def configure_route_memo(settings) -> None:
    """Give ``settings`` (a VsSettings whose rules are set) a route memo if its rules allow one."""
    inputs = PURE
    if settings.response_rules or settings.request_rules_read_body or not settings.request_rules:
        inputs = 0  # (response rules may read what request rules did; a body is not part of the key)
    for rule in settings.request_rules:
        if not (inputs and rule.route_inputs):
            inputs = 0
            break
        inputs |= rule.route_inputs
    settings.route_inputs = inputs
    settings.route_memo = {} if inputs else None
    settings.route_memo_fills = 0


def _route_key(ex, inputs: int) -> tuple:
    """What the rules read of ``ex``, as a key: (Host, path or target, method), None for what they do not read."""
    url = ex.url
    if not inputs & QUERY:
        if inputs & PATH:
            q = find_byte(url, 63)  # "?"
            if q >= 0:
                url = url[:q]
        else:
            url = None
    head = ex.head
    return (head.host if inputs & HOST else None, url, ex.method if inputs & METHOD else None)


def _remember_route(settings, key: tuple, state, ran: int, pool) -> None:
    """After the first ``ran`` request rules ran cleanly (their only effect choosing ``pool``, or None when they
    chose none): remember that for ``key``."""
    memo = settings.route_memo
    if memo is None:
        return
    if len(memo) >= ROUTE_MEMO_MAX:
        fold_route_hits(settings)
        memo.clear()
        settings.route_memo_fills += 1
        if settings.route_memo_fills >= ROUTE_MEMO_FILLS:
            settings.route_memo = None  # nearly every request is new: remembering costs more than it saves
            return
    rules = settings.request_rules
    ran_stats = tuple([rules[i].stats_in(state) for i in range(ran)])
    memo[key] = RouteHit(pool, ran_stats, ran_stats[-1] if pool is not None else None)  # (pool.use ends the rules)


class RouteHit:
    """What a virtual server's request rules did for one route-memo key: the pool they chose (``chooser``, the rule
    that chose it, None when they chose none), the counters of the rules that ran (``ran``), and the requests the
    entry has served since they were last added to those counters (``hits``).

    PERFORMANCE-NOTES: a hit adds 1 to a C integer here rather than to each rule's ``RuleStats`` (attribute updates
    on a Python object, ~740 of ~29.8k instructions per request, bench/instructions.py); ``fold_route_hits`` adds
    them up whenever the statistics are read, once a second, and before the memo is emptied."""

    def __init__(self, pool, ran: tuple, chooser) -> None:
        self.pool = pool
        self.ran = ran
        self.chooser = chooser
        self.hits = 0


def fold_route_hits(settings) -> None:
    """Add the hits of ``settings``' route memo to its rules' statistics (``executions`` for each rule that ran,
    ``pool_select`` for the one that chose the pool), as the runs they stood for would have."""
    memo = settings.route_memo
    if not memo:
        return
    for entry in memo.values():
        hits = entry.hits
        if hits:
            entry.hits = 0
            for stats in entry.ran:
                stats.executions += hits
            if entry.chooser is not None:
                entry.chooser.pool_select += hits


def _wait_for_body(client, ex, since: float) -> None:
    """Poll until the request body a rule reads has arrived (the body lands in ex.body_buf meanwhile)."""
    if ex.dead or client.closed:
        return
    cfg = ex.vs.cfg
    if ex.complete:
        body = b"".join(ex.body_buf)
        ex.tx.request_body = _dechunk(body) if ex.chunked else body
        if _run_request(client, ex) is None:
            _proceed(client, ex)
        client._flush()
    elif ex.body_buf_size > cfg.max_client_buffer:
        client._error(ex, 413, "The request body is too large for the rules that read it")
        client._flush()
    elif time.monotonic() - since > (cfg.timeout or BODY_WAIT_DEFAULT):
        client._error(ex, 408, "Timed out waiting for the request body")
        client._flush()
    else:
        client.loop.call_later(BODY_POLL, _wait_for_body, client, ex, since)


def _dechunk(data: bytes) -> bytes:
    """The payload of a body the client protocol buffered as the client framed it (already validated as it
    arrived): chunk extensions (``3;x=y``) and trailer fields are framing, not data."""
    out: list = []
    ChunkedReader(max(len(data), 4096), decode=True).feed(data, 0, out)
    return b"".join(out)


def _ended_by_rules(client, ex, tx: Transaction, state, vs) -> bool:
    """After the request rules: their log lines to the event log, then True when they ended the request (an
    aborted rule is answered 500, or the connection closed when there is no protocol; connection.discard drops
    it)."""
    failed = bool(tx.errors)
    if failed or tx.logs or state.events:
        _log(client.engine, tx)
    if failed:
        client._error(ex, 500, RULE_FAILED)
        return True
    if tx.discard:
        vs.stats.discard += 1
        client.transport.abort()
        return True
    return False


def _use_pool(engine, tx: Transaction, target) -> None:
    """pool.use / pool.select: the pool (and with a host and port, only that node of it) onto ``target``."""
    pool = target.pool = engine.pools.get(tx.pool)
    if pool is not None and tx.node:  # pool.use(pool, host, port): only that node
        target.tried = _all_but(pool, tx.node)


def _all_but(pool, node: str) -> set[str]:
    """The addresses of ``pool``'s nodes other than ``node`` (marked tried, so only that one is chosen)."""
    return {n.address for n in pool.nodes if n.address != node}


def _apply_routing(engine, tx: Transaction, target) -> bool:
    """pool.use / pool.select, request.avoidNode and the persistence the rules chose, onto ``target`` (an HTTP
    exchange or a generic connection: both have pool, tried and persist); True when they chose the persistence."""
    if tx.pool:
        _use_pool(engine, tx, target)
    if tx.avoid_nodes:
        target.tried = target.tried | set(tx.avoid_nodes)
    if tx.persistence_class is not None:
        target.persist = engine.persistence.get(tx.persistence_class) if tx.persistence_class else None
        return True
    if tx.persistence_key is not None and target.pool is not None and target.pool.persistence is None:
        target.persist = engine.universal_persistence
        return True
    return False


def _run_request(client, ex, key=None) -> str | None:
    """Run the request rules on ex.tx; with ``key`` (their route memo's for this request), remember the outcome if
    it was only a pool chosen, or nothing."""
    engine = client.engine
    side = client.rule_side
    state = side.state
    vs = ex.vs
    tx = ex.tx
    body_in = tx.request_body if ex.settings.request_rules_read_body else None  # (None unless it was read)
    ran = 0
    for rule in ex.settings.request_rules:
        rule.run(tx, state)  # phase="request", its default: a keyword argument costs compiled code a dict per call
        ran += 1
        if tx.finished:
            break  # pool.use, or an aborted rule (what it meant to do is unknown): no further rules
    if not tx.effects:  # the rules chose a pool (or nothing): no other field to read
        name = tx.pool
        if name:
            pools = side.pools
            ex.pool = pools.get(name)
            if ex.pool is not None and tx.node:  # pool.use(pool, host, port): only that node
                ex.tried = _all_but(ex.pool, tx.node)
            elif key is not None and ex.pool is not None:
                _remember_route(ex.settings, key, state, ran, ex.pool)
        elif key is not None:
            _remember_route(ex.settings, key, state, ran, None)
        return None
    if _ended_by_rules(client, ex, tx, state, vs):
        return "done"
    if tx.response is not None:
        r = tx.response
        headers = Headers(r.headers)
        tx.apply_pending_response_headers(headers)
        client._local_response(ex, r.status, r.reason.encode("latin-1") or b"OK", _encode(headers), r.body)
        return "done"
    if tx.request_changed:
        ex.method = tx.method.encode("latin-1")
        ex.url = (tx.path + ("?" + tx.query if tx.query else "")).encode("latin-1")
        ex.headers = _encode(tx.request_headers)
        if tx.request_body is not body_in and tx.request_body is not None and ex.complete:
            _replace_request_body(ex, tx.request_body)
    if tx.close_after:
        ex.close_after = True
    _apply_routing(engine, tx, ex)
    if tx.settings:
        _apply_settings(client, tx.settings)
    if tx.pending_response_headers and not ex.response_rules:
        ex.response_rules = [_NoRule]
    if tx.rate_class is not None and not _rate_admit(client, ex):
        return "done"  # queued: the rate class's timer sends it on
    if tx.delay > 0:
        client.loop.call_later(tx.delay, _proceed, client, ex)
        return "done"
    return None


class _NoRule:
    """A response rule that does nothing: the response hook runs and applies headers set by request rules (an
    exchange's response_rules when its request rules set response headers and its virtual server has no response
    rules: the protocols run the hook only for an exchange with response rules)."""

    name = ""
    needs_response_body = False

    @staticmethod
    def run(tx, state, *, phase: str = "response") -> None:
        return None


def _replace_request_body(ex, body: bytes) -> None:
    """http.setBody on a request whose whole body is buffered: the node gets the new one."""
    ex.body_buf = [body] if body else ()
    ex.body_buf_size = len(body)
    ex.chunked = False
    ex.content_length = len(body)


def _apply_settings(client, settings: dict) -> None:
    tos = settings.get("tos")
    if tos is not None and client.transport is not None:
        sock = client.transport.get_extra_info("socket")
        if sock is not None and sock.family == socket.AF_INET:
            try:
                sock.setsockopt(socket.IPPROTO_IP, socket.IP_TOS, tos)
            except OSError:
                pass


def _proceed(client, ex) -> None:
    """Go on with a request the rules held (rate class, connection.sleep, a body being read): what _start does."""
    if ex.dead or client.closed:
        return
    if ex.pool is None:
        client._error(ex, 503, "No pool is available for this virtual server")
    else:
        client._dispatch(ex)
    client._flush()


def _after_rate(client, ex) -> None:
    if ex.tx.delay > 0:
        client.loop.call_later(ex.tx.delay, _proceed, client, ex)
    else:
        _proceed(client, ex)


# -- rate classes (rate.use): a FIFO queue per class and context key, released as the class allows -------------

class _RateQueue:
    """Requests waiting for their rate class, oldest first, and the timer that lets the next ones go."""

    __slots__ = ("bucket", "waiting", "timer")

    def __init__(self, bucket) -> None:
        self.bucket = bucket
        self.waiting: deque = deque()
        self.timer = None


_rate_queues: dict[tuple[int, str, str], _RateQueue] = {}


def _rate_admit(client, ex) -> bool:
    """True if the request may go now; otherwise it waits in the class's queue (or was answered 503)."""
    engine = client.engine
    state = engine.rule_state
    tx = ex.tx
    limits = state.rate_classes.get(tx.rate_class)
    if limits is None:
        engine.events.log("warn", f"vservers/{ex.vs.name}", f"rate class {tx.rate_class!r} does not exist")
        return True
    bucket = state.rate_bucket(tx.rate_class, tx.rate_key)
    bucket.per_second, bucket.per_minute = limits  # a reload may have changed the class
    key = (id(state), tx.rate_class, tx.rate_key)
    queue = _rate_queues.get(key)
    if (queue is None or not queue.waiting) and bucket.take(state.now()):
        return True
    if queue is None:
        queue = _rate_queues[key] = _RateQueue(bucket)
    if len(queue.waiting) >= MAX_RATE_QUEUE:
        client._error(ex, 503, f"Too many requests are waiting in rate class {tx.rate_class}")
        return False
    queue.waiting.append((client, ex))
    if queue.timer is None:
        _rate_schedule(client.loop, key, queue, state)
    return False


def _rate_schedule(loop, key, queue: _RateQueue, state) -> None:
    b = queue.bucket
    now = state.now()
    at = now
    if b.per_second and b.second_count >= b.per_second:
        at = max(at, b.second_start + 1.0)
    if b.per_minute and b.minute_count >= b.per_minute:
        at = max(at, b.minute_start + 60.0)
    queue.timer = loop.call_later(max(at - now, 0.001), _rate_release, loop, key, queue, state)


def _rate_release(loop, key, queue: _RateQueue, state) -> None:
    queue.timer = None
    waiting = queue.waiting
    while waiting:
        client, ex = waiting[0]
        if ex.dead or client.closed:
            waiting.popleft()
            continue
        if not queue.bucket.take(state.now()):
            break
        waiting.popleft()
        _after_rate(client, ex)
    if waiting:
        _rate_schedule(loop, key, queue, state)
    else:
        _rate_queues.pop(key, None)


# -- response rules -------------------------------------------------------------------------------------------


def run_response_rules(client, ex, conn, headers):
    """Run the response rules; returns the (possibly rewritten) header list, or None if this module took over."""
    engine = client.engine
    tx = ex.tx if ex.tx is not None else new_transaction(client, ex)
    ex.tx = tx
    tx.response_status = conn.status
    tx.response_reason = _latin(conn.reason)
    tx.response_headers = Headers((_latin(n), _latin(v)) for n, v in headers)
    tx.response_body = None
    tx.server_response_time = time.monotonic() - ex.sent_at if ex.sent_at else 0.0
    # connection.getPool / getNode in a response rule: where this response came from
    tx.pool = ex.pool.name if ex.pool is not None else None
    tx.node = ex.node.address if ex.node is not None else None
    if "pool_chosen_in_response" in tx.rule_vars:
        tx.set_var("pool_chosen_in_response", False)
    tx.finished = False
    rules = ex.response_rules
    delay_in = tx.delay
    if _has_body(ex, conn.status) and any(rule.needs_response_body for rule in rules):

        def with_body(body: bytes, keep: bool) -> None:
            tx.response_body = body
            _run_response(engine, tx, rules)
            _honour_response(client, ex, conn, headers, body, keep, delay_in)

        _BodyCollector(client, ex, conn, with_body)
        return None
    _run_response(engine, tx, rules)
    return _honour_response(client, ex, conn, headers, None, False, delay_in)


def _has_body(ex, status: int) -> bool:
    return ex.method != b"HEAD" and status not in (204, 304) and not 100 <= status < 200


def _run_response(engine, tx: Transaction, rules) -> None:
    state = engine.rule_state
    for rule in rules:
        rule.run(tx, state, phase="response")
        if tx.finished:  # (an aborted rule finishes the transaction too)
            break


def _honour_response(client, ex, conn, headers, body: bytes | None, keep: bool, delay_in: float):
    """Act on the response rules' effects. ``body`` is the node's whole body when it was read for the rules."""
    engine = client.engine
    tx = ex.tx
    failed = bool(tx.errors)
    if failed or tx.logs or engine.rule_state.events:
        _log(engine, tx)
    if tx.discard:
        client._drop_node(ex, reusable=False)
        client.transport.abort()
        return None
    if failed:
        client._drop_node(ex, reusable=False)
        ex.response_started = False
        client._error(ex, 500, RULE_FAILED)
        return None
    if tx.retry:
        ex.response_started = False
        target = tx.retry if isinstance(tx.retry, dict) else {}
        tx.retry = None
        tx.retries += 1
        if target.get("pool"):
            ex.pool = engine.pools.get(target["pool"]) or ex.pool
        if ex.node is not None and not target.get("node"):
            ex.tried = ex.tried | {ex.node.address}
        client._drop_node(ex, reusable=False)
        if ex.attempts < ex.pool.max_attempts() + 2:
            client._dispatch(ex)
        else:
            client._error(ex, 502, "Too many retries")
        return None
    if tx.response is not None:
        r = tx.response
        client._drop_node(ex, reusable=False)
        ex.response_started = False
        client._local_response(ex, r.status, r.reason.encode("latin-1") or b"OK", _encode(r.headers), r.body)
        return None
    tx.apply_pending_response_headers(tx.response_headers)
    if tx.close_after:
        ex.close_after = True
    out = _encode(tx.response_headers) if tx.response_changed or tx.pending_response_headers else list(headers)
    status = tx.response_status or conn.status
    reason = tx.response_reason.encode("latin-1") if status != conn.status else conn.reason
    delay = tx.delay - delay_in  # connection.sleep in a response rule holds the response back

    def send(node_body: bytes, reusable: bool) -> None:
        new_body = tx.response_body if tx.response_body is not None else node_body
        _send_whole(client, ex, status, reason, out, new_body, reusable, delay)

    if body is not None:  # the body was read for the rules: answer with it (or the one they set)
        send(body, keep)
    elif tx.response_body is not None:
        send(b"", False)  # the rules set a body without reading the node's: it is not needed
    elif status == conn.status and delay <= 0:
        return out  # the head goes out from the protocol and the body streams through
    elif not _has_body(ex, conn.status):
        send(b"", False)
    else:
        _BodyCollector(client, ex, conn, send)  # the head goes out from here, after the node's body
    return None


def _send_whole(client, ex, status: int, reason: bytes, headers, body: bytes, reusable: bool, delay: float) -> None:
    """Answer with a response assembled here (rewritten status or body); the node connection is released."""
    if ex.persist is not None and ex.node is not None:
        client._persistence_on_response(ex, headers)
    if ex.node is not None:
        ex.node.record_response_time(time.monotonic() - (ex.sent_at or ex.started))
    client._drop_node(ex, reusable=reusable and ex.complete and client._node_keepalive(ex))
    ex.response_started = False
    headers = [(n, v) for n, v in headers if n.lower() not in HOP_BY_HOP]
    if delay > 0:
        client.loop.call_later(delay, _answer, client, ex, status, reason, headers, body)
    else:
        _answer(client, ex, status, reason, headers, body)


def _answer(client, ex, status: int, reason: bytes, headers, body: bytes) -> None:
    if ex.dead or client.closed:
        return
    client._local_response(ex, status, reason or b"OK", headers, body)
    ex.vs.stats.direct_replies -= 1  # proxied, not answered by the traffic manager
    client._flush()


class _BodyCollector:
    """Stands in for the client protocol on a node connection while the response body is read whole.

    The node protocol calls ``response_body``/``response_complete``/``node_lost`` on whatever its ``client``
    is; everything else is passed to the real client protocol.
    """

    def __init__(self, client, ex, conn, done) -> None:
        self.client = client
        self.ex = ex
        self.conn = conn
        self.done = done
        self.parts: list[bytes] = []
        self.size = 0
        self.framed = any(n.lower() in (b"content-length", b"transfer-encoding") for n, _ in conn.headers)
        conn.client = self

    def __getattr__(self, name):
        return getattr(self.client, name)

    def response_body(self, ex, data: bytes) -> None:
        self.size += len(data)
        if self.size > MAX_RESPONSE_BODY:
            self._fail(ex, "The response is too large for the rules that read it")
            return
        self.parts.append(data)

    def response_complete(self, ex, node_keepalive: bool) -> None:
        self.conn.client = self.client
        self.done(b"".join(self.parts), node_keepalive and self.framed)

    def node_lost(self, ex, conn) -> None:
        if not self.framed:  # the node frames its body by closing: this is the end of it
            self.response_complete(ex, False)
        else:
            self._fail(ex, "The node closed the connection in the middle of a response")
        self.client._flush()

    def _fail(self, ex, message: str) -> None:
        self.conn.client = self.client
        self.client._drop_node(ex, reusable=False)
        ex.response_started = False
        self.client._error(ex, 502, message)


# -- generic TCP virtual servers (tcp.py) ----------------------------------------------------------------------
#
# As on vTM, a generic virtual server's request rules run once per connection, on what the client sent first:
# client_first and ssl pass-through run them when the first data has arrived (request.get / request.getLine
# see it, request.set / request.skip rewrite it before it goes to the node; for ssl that is the ClientHello).
# stream and server_first run them as the connection is accepted, with no data yet, because the node must be
# connected before anything is read (the server speaks first, or either side may). Response rules run on each
# piece of data the node sends, as it arrives: response.get sees that piece, response.set replaces it.
#
# vTM's request.getLine and request.get(count) block until the line or the bytes have arrived. Rules here do
# not block: a rule that asked for more than has arrived makes the engine throw that run away and run the
# rules again from the start when more data comes (until the client's EOF, the virtual server's
# max_client_buffer, or its connect_timeout). Effects on shared state made before the point it asked
# (data.set, counters) are therefore repeated; rules that read first and act afterwards, the usual shape,
# behave exactly as on vTM.

NEEDS_MORE_DATA = "needs_more_data"  # rule_vars key the runtime sets when a read wanted data not yet arrived


class GenericExchange:
    """A generic connection held by its request rules, as the rate-class queue and _proceed see an exchange."""

    __slots__ = ("client", "tx")

    def __init__(self, client, tx: Transaction) -> None:
        self.client = client
        self.tx = tx

    @property
    def vs(self):
        return self.client.vs

    @property
    def pool(self):
        return self.client.pool

    @property
    def dead(self) -> bool:
        return self.client.closed


def new_generic_transaction(client, data: bytes) -> Transaction:
    tx = Transaction()
    tx.protocol = "generic"
    tx.method = ""
    tx.request_body = data
    tx.remote_ip, tx.remote_port = client.client_ip, client.client_port
    tx.local_ip, tx.local_port = client.local_ip, client.local_port
    tx.virtual_server = client.vs.name
    tx.connection_data = client.connection_data
    return tx


def run_generic_request_rules(client, data: bytes, final: bool) -> str | None:
    """Run a generic connection's request rules on the data read so far.

    "wait": a rule asked for more data than has arrived and ``final`` is false (run again on more data);
    "done": the rules answered, dropped, or hold the connection (a rate class, connection.sleep), which then
    goes on through ``client._dispatch``; None: connect now to ``client.pool`` (which the rules may have set),
    sending ``client.pending`` (which they may have rewritten).
    """
    engine = client.engine
    state = engine.rule_state
    vs = client.vs
    tx = new_generic_transaction(client, data)
    for rule in vs.request_rules:
        rule.run(tx, state, phase="request")
        if not final and tx.rule_vars.get(NEEDS_MORE_DATA):
            return "wait"  # thrown away: nothing it did is honoured, its log lines are not written
        if tx.finished:  # (an aborted rule finishes the transaction too)
            break
    client.tx = tx
    if _ended_by_rules(client, None, tx, state, vs):  # a generic connection: no protocol to answer in, closed
        return "done"
    if tx.response is not None:
        # request.sendResponse and connection.close(data): the data, raw, then the connection closes
        vs.stats.direct_replies += 1
        client.answer(tx.response.body)
        return "done"
    if tx.request_changed:
        client.pending = [tx.request_body] if tx.request_body else []
    if _apply_routing(engine, tx, client):
        client.persist_set = True
    client.persist_key = tx.persistence_key
    client.persist_node = tx.persistence_node
    if tx.settings:
        _apply_settings(client, tx.settings)
    ex = GenericExchange(client, tx)
    if tx.rate_class is not None and not _rate_admit(client, ex):
        return "done"  # queued: the rate class's timer sends it on (_after_rate -> _proceed)
    if tx.delay > 0:
        client.loop.call_later(tx.delay, _proceed, client, ex)
        return "done"
    return None


def run_generic_response_rules(client, data: bytes) -> tuple[bytes | None, bool]:
    """Run the response rules on one piece of node data: (the data to send the client, close afterwards).

    The data is None when the rules ended the connection (connection.discard, an aborted rule).
    """
    engine = client.engine
    state = engine.rule_state
    tx = client.tx
    if tx is None:
        tx = client.tx = new_generic_transaction(client, b"")
    tx.response_body = data
    tx.response_changed = False
    tx.response = None
    tx.finished = False
    tx.pool = client.pool.name if client.pool is not None else None
    tx.node = client.node.address if client.node is not None else None
    for rule in client.vs.response_rules:
        rule.run(tx, state, phase="response")
        if tx.finished:  # (an aborted rule finishes the transaction too)
            break
    failed = bool(tx.errors)
    if failed or tx.logs or state.events:
        _log(engine, tx)
    if tx.discard or failed:
        if tx.discard:
            client.vs.stats.discard += 1
        return None, True
    if tx.response is not None:  # connection.close(data) / request.sendResponse in a response rule
        return tx.response.body, True
    out = tx.response_body if tx.response_changed and tx.response_body is not None else data
    return out, tx.close_after
