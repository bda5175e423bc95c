"""The narrow interface between the engine and TrafficScript rules: what a rule reads and what it asks for.

Strings are "byte strings" as TrafficScript sees them: Python ``str`` whose code points are the bytes
(latin-1). The engine decodes header names/values, paths and bodies with latin-1 before running rules
and encodes with latin-1 afterwards, so nothing is lost and ``string.length`` counts bytes as on vTM.
Bodies are the exception: ``request_body``/``response_body`` are ``bytes`` (or ``None`` when the engine
did not read them); the runtime converts at the edge.

How the engine uses this module, per request::

    tx = Transaction()
    tx.method, tx.path, tx.query, tx.http_version = "GET", "/a", "x=1", "HTTP/1.1"
    tx.request_headers = Headers(pairs)
    ...
    for rule in virtual_server_request_rules:          # CompiledRule, from compile_rule()
        rule.run(tx, state, phase="request")
        if tx.finished:                                # pool.use / sendResponse / redirect / discard
            break
    # then honour tx.response, tx.discard, tx.pool, tx.node, tx.persistence_*, tx.rate_class, ...
    # tx.errors holds one RuleError per aborted rule (log it with rule name and line).

For response rules the engine fills ``response_status``/``response_headers``/``response_body`` and
calls ``run(..., phase="response")``, then honours ``tx.retry`` (try again: ``True`` or a dict with
``pool``/``node``), ``tx.response`` and the rewritten response fields.

``CompiledRule.needs_request_body`` / ``needs_response_body`` say whether a rule reads a whole body
(http.getBody, http.getFormParam, http.getResponseBody, ...), so the engine buffers it only then.
Loops are bounded by ``EngineState.instruction_budget`` (or ``rule_budgets[name]``) and ``time_budget``.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

EMPTY: Mapping[str, Any] = MappingProxyType({})  # a Transaction's settings and rule_vars until a rule sets one


@dataclass(frozen=True, slots=True)
class RuleError:
    """One problem in a rule, at a position: a compile error, or the place a rule aborted at run time."""

    rule: str
    line: int
    column: int
    message: str

    def __str__(self) -> str:
        return f"{self.rule}:{self.line}:{self.column}: {self.message}"


class Headers(list):
    """An ordered list of (name, value) pairs; lookups ignore the case of the name, order is kept."""

    __slots__ = ()

    def __init__(self, pairs: Iterable[tuple[str, str]] = ()) -> None:
        if pairs:  # an empty one (every Transaction starts with one) skips the generator
            super().__init__((str(n), str(v)) for n, v in pairs)

    def get(self, name: str, default: str | None = None) -> str | None:
        """The first value of header ``name``, or ``default``."""
        lname = name.lower()
        for n, v in self:
            if n.lower() == lname:
                return v
        return default

    def get_all(self, name: str) -> list[str]:
        lname = name.lower()
        return [v for n, v in self if n.lower() == lname]

    def contains(self, name: str) -> bool:
        lname = name.lower()
        return any(n.lower() == lname for n, _ in self)

    def set(self, name: str, value: str) -> None:
        """Replace every ``name`` header with one, in the place of the first (appended if absent)."""
        lname = name.lower()
        first = -1
        extra = False
        for i, (n, _) in enumerate(self):
            if n.lower() == lname:
                if first < 0:
                    first = i
                else:
                    extra = True
                    break
        if first < 0:
            self.append((name, value))
            return
        self[first] = (name, value)
        if extra:
            self[first + 1 :] = [(n, v) for n, v in self[first + 1 :] if n.lower() != lname]

    def add(self, name: str, value: str) -> None:
        """Append another ``name`` header, keeping existing ones."""
        self.append((name, value))

    def remove(self, name: str) -> bool:
        """Remove every ``name`` header; True if there was one."""
        lname = name.lower()
        for n, _ in self:
            if n.lower() == lname:
                self[:] = [(n, v) for n, v in self if n.lower() != lname]
                return True
        return False

    def names(self) -> list[str]:
        """Distinct header names, in first-seen order."""
        seen: dict[str, str] = {}
        for n, _ in self:
            seen.setdefault(n.lower(), n)
        return list(seen.values())


@dataclass(slots=True)
class LocalResponse:
    """A response a rule asked the engine to send instead of proxying (http.sendResponse, http.redirect).

    ``status == 0`` means "raw bytes": send ``body`` as it is, no HTTP framing (connection.close(data),
    request.sendResponse on generic virtual servers); ``close`` on the transaction says whether to close.
    """

    status: int
    reason: str
    headers: Headers
    body: bytes


_HOST_NAMES: dict[str, str] = {}  # Host header -> its host_name (the same few, again and again)


def host_name(raw: str) -> str:
    """A Host header's host, lower case, without its port (an IPv6 literal keeps its brackets)."""
    name = _HOST_NAMES.get(raw)
    if name is None:
        host = raw.strip().lower()
        if host.startswith("["):
            end = host.find("]")
            name = host[: end + 1] if end > 0 else host
        else:
            name = host.split(":", 1)[0]
        if len(_HOST_NAMES) >= 1024:
            _HOST_NAMES.clear()
        _HOST_NAMES[raw] = name
    return name


class Effect:
    """A Transaction field the engine must act on when a rule sets it (connection.discard, http.sendResponse,
    rate.use, ...): setting it also sets the transaction's ``effects``, so after the rules the engine reads these
    fields only when some rule set one (nearly no request: the routing rules only choose a pool). The value is kept
    under the field's name with a "_" before it; reading it costs a call, which only the engine's slow path and
    the library functions of these effects pay."""

    __slots__ = ("private", "default")

    def __init__(self, default: Any) -> None:
        self.private = ""
        self.default = default

    def __set_name__(self, owner: type, name: str) -> None:
        self.private = "_" + name
        setattr(owner, self.private, self.default)  # what an instance that never set it reads

    def __get__(self, obj: Any, owner: type | None = None) -> Any:
        return self if obj is None else getattr(obj, self.private)

    def __set__(self, obj: Any, value: Any) -> None:
        setattr(obj, self.private, value)
        obj.effects = True


class Transaction:
    """One request (and its response) as rules see it. The engine fills it and reads the effects back.

    Immutable defaults are class attributes: a transaction sets only what its request has and what its rules
    ask for (no __slots__: the 60-odd fields written one by one per request cost more than the rule itself)."""

    protocol: str = "http"  # "http" or "generic"
    method: str = "GET"
    path: str = "/"  # raw (still %-escaped), without the query string
    query: str = ""  # raw, without the "?"
    http_version: str = "HTTP/1.1"
    request_body: bytes | None = None  # generic protocols: the data read so far
    remote_ip: str = ""
    remote_port: int = 0
    local_ip: str = ""
    local_port: int = 0
    virtual_server: str = ""
    retries: int = 0  # how many times the engine already retried this request

    response_status: int | None = None
    response_reason: str = ""
    response_version: str = "HTTP/1.1"
    response_headers: Headers | None = None
    response_body: bytes | None = None
    queue_time: float = 0.0  # seconds, for stats.getQueueTime
    server_response_time: float = 0.0  # seconds, for stats.getServerResponseTime

    pool: str | None = None  # pool.use / pool.select
    node: str | None = None  # "host:port" with pool.use(pool, host, port), else None
    pool_used: bool = False  # True after pool.use (no further rules run)
    persistence_key: str | None = Effect(None)  # connection.setPersistenceKey
    persistence_class: str | None = Effect(None)  # connection.setPersistence (named class), "" = none
    persistence_node: str | None = None  # connection.setPersistenceNode ("host:port")
    response: LocalResponse | None = Effect(None)  # send this instead of proxying
    discard: bool = Effect(False)  # connection.discard: drop the connection, no response
    close_after: bool = Effect(False)  # connection.close: close after this response
    retry: bool | dict[str, str | None] | None = None  # request.retry (response rules)
    request_changed: bool = Effect(False)  # a rule rewrote method/path/query/headers/body
    response_changed: bool = False  # a rule rewrote status/headers/body of the response
    rate_class: str | None = Effect(None)  # rate.use: the engine queues the request in this class
    rate_key: str = ""  # rate.use's optional context (a key within the class)
    bandwidth_class: str | None = None
    service_level_class: str | None = None
    max_reply_time: float | None = None  # request.setMaxReplyTime, seconds
    idempotent: bool | None = None
    cache: bool | None = None  # http.cache.enable/disable
    compress: bool | None = None  # http.compress.enable/disable
    log_enabled: bool = True
    recentconns: bool | None = None  # recentconns.include/exclude
    dscp: int | None = None
    finished: bool = False  # stop running further rules for this request (pool.use, an aborted rule, ...)
    effects: bool = False  # a rule set an Effect field, added an error, a log line, a setting, ... (see Effect)
    delay: float = Effect(0.0)  # connection.sleep: seconds the engine waits before going on

    _request_headers: Headers | None = None  # made on first read (see request_headers)

    # What rules add to as they run, made on the first addition (add_error, add_log, ...): a request whose rules add
    # nothing (nearly all) makes none of them. Empty and immutable until then, so the engine reads them as they are.
    errors: list[RuleError] | tuple = ()  # one per aborted rule: rule name, line, column, message
    logs: list[tuple[str, str, str]] | tuple = ()  # (level "info"|"warn"|"error", rule, message)
    avoid_nodes: list[str] | tuple = ()  # request.avoidNode, for the retry
    # http.setResponseHeader / addResponseHeader / setResponseCookie called in a request rule:
    # ("set"|"add"|"remove"|"remove_cookie", name, value) applied in order to the response by apply_pending_response_headers
    pending_response_headers: list[tuple[str, str, str]] | tuple = ()
    # other knobs rules set that the engine may honour: "max_connection_attempts", "tos",
    # "virtual_server_timeout", "max_transaction_duration", "request_ends_at", "cache_key", ... (set_setting)
    settings: Mapping[str, Any] = EMPTY
    rule_vars: Mapping[str, Any] = EMPTY  # scratch state the library keeps per transaction (set_var)

    def __init__(self) -> None:
        self.connection_data: dict[str, Any] = {}  # connection.data.*: the engine shares one per connection
        self.start_time: float = time.time()

    def add_error(self, error: RuleError) -> None:
        if type(self.errors) is tuple:
            self.errors = []
        self.errors.append(error)
        self.finished = self.effects = True  # an aborted rule ends the request's rules

    def add_log(self, level: str, rule: str, message: str) -> None:
        if type(self.logs) is tuple:
            self.logs = []
        self.logs.append((level, rule, message))
        self.effects = True

    def avoid_node(self, node: str) -> None:
        if type(self.avoid_nodes) is tuple:
            self.avoid_nodes = []
        self.avoid_nodes.append(node)
        self.effects = True

    def add_pending_response_header(self, op: str, name: str, value: str) -> None:
        if type(self.pending_response_headers) is tuple:
            self.pending_response_headers = []
        self.pending_response_headers.append((op, name, value))
        self.effects = True

    def set_setting(self, key: str, value: Any) -> None:
        if self.settings is EMPTY:
            self.settings = {}
        self.settings[key] = value
        self.effects = True

    def set_var(self, key: str, value: Any) -> None:
        if self.rule_vars is EMPTY:
            self.rule_vars = {}
        self.rule_vars[key] = value

    def clear_notes(self) -> None:
        """Forget the errors and log lines the engine has logged (a response's rules add their own)."""
        self.errors = self.logs = ()

    @property
    def request_headers(self) -> Headers:
        h = self._request_headers
        if h is None:
            h = self._request_headers = self._initial_headers()
        return h

    @request_headers.setter
    def request_headers(self, value: Headers) -> None:
        self._request_headers = value

    def _initial_headers(self) -> Headers:
        """The header list a transaction starts with when nobody set one (the engine's decodes its request's)."""
        return Headers()

    def host_header(self) -> str | None:
        """The request's Host header (the engine's HTTP transaction answers from the raw request head)."""
        return self.request_headers.get("Host")

    def host_name(self) -> str:
        """What http.getHostHeader answers: the Host header's host, lower case, without its port."""
        return host_name(self.host_header() or "")

    def apply_pending_response_headers(self, headers: Headers) -> None:
        """Apply response-header edits that request rules made before there was a response."""
        for op, name, value in self.pending_response_headers:
            if op == "set":
                headers.set(name, value)
            elif op == "add":
                headers.add(name, value)
            elif op == "remove_cookie":
                prefix = name + "="
                headers[:] = [(n, v) for n, v in headers if n.lower() != "set-cookie" or not v.startswith(prefix)]
            else:
                headers.remove(name)


class RuleStats:
    """Counters for one rule, as shown in the rule's statistics."""

    __slots__ = ("executions", "aborts", "discards", "pool_select", "retries", "responds")

    def __init__(self) -> None:
        self.executions = 0
        self.aborts = 0
        self.discards = 0
        self.pool_select = 0
        self.retries = 0
        self.responds = 0

    def as_dict(self) -> dict[str, int]:
        return {k: getattr(self, k) for k in self.__slots__}


class RateBucket:
    """A rate class's token state: requests allowed per second and per minute (0 = unlimited)."""

    __slots__ = ("per_second", "per_minute", "second_start", "second_count", "minute_start", "minute_count")

    def __init__(self, per_second: int = 0, per_minute: int = 0) -> None:
        self.per_second = per_second
        self.per_minute = per_minute
        self.second_start = 0.0
        self.second_count = 0
        self.minute_start = 0.0
        self.minute_count = 0

    def take(self, now: float) -> bool:
        """Count one request at ``now``; False if it is over the class's rate (it would be queued)."""
        if now - self.second_start >= 1.0:
            self.second_start, self.second_count = now, 0
        if now - self.minute_start >= 60.0:
            self.minute_start, self.minute_count = now, 0
        if (self.per_second and self.second_count >= self.per_second) or (
            self.per_minute and self.minute_count >= self.per_minute
        ):
            return False
        self.second_count += 1
        self.minute_count += 1
        return True

    def backlog(self, now: float) -> int:
        """How many requests over the limit this window has seen (an estimate of the queue)."""
        over = 0
        if self.per_second:
            over = max(over, self.second_count - self.per_second)
        if self.per_minute:
            over = max(over, self.minute_count - self.per_minute)
        return over


@dataclass(slots=True)
class PoolInfo:
    """A pool's nodes by state, kept current by the engine for pool.activenodes and friends."""

    active: list[str]
    draining: list[str]
    disabled: list[str]
    failed: list[str]

    def all_nodes(self) -> list[str]:
        return self.active + self.draining + self.disabled + self.failed


@dataclass(slots=True)
class ServiceLevelInfo:
    """A service level monitor's current figures (slm.*)."""

    conforming: float = 100.0  # percent of recent requests within the threshold
    threshold_ms: int = 1000
    is_ok: bool = True


class EngineState:
    """State that outlives one request and is shared by every rule in this engine process.

    The engine creates one and passes it to every ``CompiledRule.run``; it keeps it across configuration
    reloads (data.* and counters survive a reload, as on vTM) and updates the config-derived parts.
    """

    __slots__ = (
        "data",
        "local_data",
        "counters",
        "rate_classes",
        "rates",
        "pools",
        "service_levels",
        "rule_stats",
        "events",
        "resolver",
        "instruction_budget",
        "rule_budgets",
        "time_budget",
        "hostname",
        "rest_api_port",
        "now",
    )

    def __init__(self) -> None:
        self.data: dict[str, Any] = {}  # data.set / data.get (cluster-wide on vTM, process-wide here)
        self.local_data: dict[str, Any] = {}  # data.local.*
        self.counters: dict[int, int] = {}  # counter.increment(n, amount): user counters 1..n
        self.rate_classes: dict[str, tuple[int, int]] = {}  # name -> (max per second, max per minute), config
        self.rates: dict[tuple[str, str], RateBucket] = {}  # (class, context key) -> bucket, created lazily
        self.pools: dict[str, PoolInfo] = {}  # pool name -> node states, kept current by the engine
        self.service_levels: dict[str, ServiceLevelInfo] = {}
        self.rule_stats: dict[str, RuleStats] = {}  # rule name -> counters
        self.events: deque[tuple[str, str]] = deque(maxlen=10000)  # event.emit(name, message), engine drains
        # net.dns.*: (name, family "A"|"AAAA"|"PTR") -> list of answers; None means the system resolver
        self.resolver: Callable[[str, str], list[str]] | None = None
        self.instruction_budget: int = 1_000_000  # loop iterations + sub calls per rule run
        self.rule_budgets: dict[str, int] = {}  # per-rule override of instruction_budget, by rule name
        self.time_budget: float = 1.0  # seconds of CPU one rule run may take before it is aborted
        self.hostname: str = ""
        self.rest_api_port: int = 9070
        self.now: Callable[[], float] = time.time  # tests freeze time here

    def stats_for(self, rule: str) -> RuleStats:
        stats = self.rule_stats.get(rule)
        if stats is None:
            stats = self.rule_stats[rule] = RuleStats()
        return stats

    def rate_bucket(self, rate_class: str, key: str = "") -> RateBucket:
        bucket = self.rates.get((rate_class, key))
        if bucket is None:
            per_second, per_minute = self.rate_classes.get(rate_class, (0, 0))
            bucket = self.rates[(rate_class, key)] = RateBucket(per_second, per_minute)
        return bucket
