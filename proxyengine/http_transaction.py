"""The engine's Transaction for an HTTP request (rulehooks makes one per request its rules run on).

PERFORMANCE-NOTES: not compiled (no .pxd): a Python class's methods run faster interpreted, where the interpreter
specialises the attribute reads on its instances; compiled, each is a generic lookup (bench/instructions.py).
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from .http1 import header_list
from .rules import Headers, Transaction
from .rules.context import host_name

if TYPE_CHECKING:
    from .rulehooks import ClientSide


_HOST_NAMES: dict[bytes, str] = {}  # a request head's Host -> its host_name (no decoding the same few again)


def _latin(b: bytes) -> str:
    return b.decode("latin-1")


class HttpTransaction(Transaction):
    """A Transaction for an HTTP request that is made with only what every rule might read (method, path, query),
    the rest read when a rule asks: the header list, decoded from the raw head (http.getHostHeader is answered
    from the parsed head, so a rule that reads no header pays for none), and the connection's fields, from its
    ClientSide. (The path and query are set at once: splitting them costs less than a property on every read.)

    Made without calling __init__ (new_transaction): the fields Transaction.__init__ sets are properties here."""

    _head = None  # the RequestHead, not the exchange (which holds the transaction: no cycle)
    _side: ClientSide  # rulehooks.ClientSide
    _started = 0.0  # the exchange's start, time.monotonic()
    _remote_ip: str | None = None  # request.setRemoteIP's, for this transaction

    @property
    def remote_ip(self) -> str:
        ip = self._remote_ip
        return ip if ip is not None else self._side.remote_ip

    @remote_ip.setter
    def remote_ip(self, ip: str) -> None:
        self._remote_ip = ip

    @property
    def remote_port(self) -> int:
        return self._side.remote_port

    @property
    def local_port(self) -> int:
        return self._side.local_port

    @property
    def local_ip(self) -> str:
        transport = self._side.transport
        sock = transport.get_extra_info("sockname") if transport is not None else None
        return sock[0] if sock else ""

    @property
    def virtual_server(self) -> str:
        return self._side.vs_name

    @property
    def connection_data(self) -> dict:
        return self._side.connection_data

    @property
    def start_time(self) -> float:
        """When the request started, on the wall clock (from the monotonic one, as read now)."""
        return self._started + (time.time() - time.monotonic())

    def _initial_headers(self) -> Headers:
        head = self._head
        return Headers((_latin(n), _latin(v)) for n, v in header_list(head)) if head is not None else Headers()

    def host_name(self) -> str:
        if self._request_headers is None:  # no rule changed the headers: the parsed head's Host, by its bytes
            head = self._head
            if head is not None:
                raw = head.host
                name = _HOST_NAMES.get(raw)
                if name is None:
                    name = host_name(_latin(raw))
                    if len(_HOST_NAMES) >= 1024:
                        _HOST_NAMES.clear()
                    _HOST_NAMES[raw] = name
                return name
        return host_name(self.host_header() or "")

    def host_header(self) -> str | None:
        if self._request_headers is None and self._head is not None:
            host = self._head.host
            return _latin(host) if host else None
        return self.request_headers.get("Host")


_new = object.__new__


def new_http_transaction(side: ClientSide, started: float, head, path: str, query: str) -> HttpTransaction:
    """A request's HttpTransaction with its own fields set (interpreted: each a specialised store, where compiled
    code does a generic one; rulehooks.new_transaction sets what only some requests have)."""
    tx = _new(HttpTransaction)
    tx._side = side
    tx._started = started
    tx._head = head
    tx._request_headers = None  # (in the instance: read faster than the class's default)
    tx.path = path
    if query:
        tx.query = query
    return tx
