"""Session persistence classes: which node a returning client's session belongs to.

Pure functions of the request (client address, cookies, a rule's key) and a table per class, so they are
tested without a network. ``find`` answers the node address a session is on (or None); ``response_cookie``
says what Set-Cookie the response must carry for cookie-based types the engine itself maintains.
"""

from __future__ import annotations

import hashlib
import ipaddress
from collections import OrderedDict

from .config import PersistenceConfig

TABLE_LIMIT = 100_000  # entries per class; the oldest is forgotten first
APP_COOKIES = {"j2ee": "JSESSIONID", "asp": "ASP.NET_SessionId"}
X_ZEUS_COOKIE = "X-Zeus-Backend"
TLS_CLIENT_HELLO, TLS_SERVER_HELLO = 1, 2


def tls_hello_session_id(data: bytes, handshake_type: int) -> bytes | None:
    """The session id in a TLS ClientHello or ServerHello at the start of ``data`` (b"" when it has none).

    None when ``data`` does not start with that handshake message, or it is incomplete. SSL pass-through never
    decrypts, so this is read from the clear-text hello records, as vTM's ssl persistence does.
    """
    # record: type 22, version (2), length (2); handshake: type, length (3), version (2), random (32), id length
    if len(data) < 44 or data[0] != 22 or data[5] != handshake_type:
        return None
    n = data[43]
    if n > 32 or len(data) < 44 + n:
        return None
    return bytes(data[44 : 44 + n])


def parse_cookies(header_values: list[str]) -> dict[str, str]:
    """Cookie request headers -> {name: value} (first wins, as servers do)."""
    out: dict[str, str] = {}
    for value in header_values:
        for part in value.split(";"):
            name, sep, val = part.strip().partition("=")
            if sep and name and name not in out:
                out[name] = val.strip().strip('"')
    return out


def set_cookie_name_value(header_value: str) -> tuple[str, str]:
    """'NAME=value; Path=/' -> ('NAME', 'value')."""
    first = header_value.split(";", 1)[0]
    name, _, value = first.partition("=")
    return name.strip(), value.strip().strip('"')


class Persistence:
    """One session persistence class at run time (its table survives reloads when the class stays)."""

    def __init__(self, cfg: PersistenceConfig):
        self.cfg = cfg
        self.type = cfg.type
        self.table: OrderedDict[str, str] = OrderedDict()

    def take_over(self, old: Persistence) -> None:
        if old.type == self.type:
            self.table = old.table

    # -- keys ----------------------------------------------------------------------------------------------------

    def ip_key(self, client_ip: str) -> str:
        try:
            addr = ipaddress.ip_address(client_ip)
        except ValueError:
            return client_ip
        bits = self.cfg.subnet_prefix_length_v4 if addr.version == 4 else self.cfg.subnet_prefix_length_v6
        if not bits:
            return client_ip
        return str(ipaddress.ip_network(f"{client_ip}/{bits}", strict=False).network_address)

    @staticmethod
    def transparent_cookie_name(pool_name: str) -> str:
        return "X-Mapping-" + hashlib.sha1(pool_name.encode()).hexdigest()[:8]

    @staticmethod
    def transparent_value(pool_name: str, address: str) -> str:
        return hashlib.sha1(f"{pool_name}\0{address}".encode()).hexdigest()[:24]

    def app_cookie(self) -> str:
        return self.cfg.cookie if self.type == "cookie" else APP_COOKIES.get(self.type, "")

    # -- lookups -------------------------------------------------------------------------------------------------

    def find(self, pool, client_ip: str, cookies: dict[str, str] | None, rule_key: str | None,
             rule_node: str | None = None) -> tuple[str | None, str | None]:
        """(session key, node address the session is on). The key is None when this request has no session (and
        for Named Node persistence, where the rule names the node itself: ``rule_node``, no table)."""
        t = self.type
        if t == "named":  # connection.setPersistenceNode("host:port"); without it the pool balances as usual
            return None, rule_node
        if t in ("ip", "ssl"):
            # ssl on an SSL-decrypting virtual server: Python's ssl module gives a server no TLS session id
            # (SSLObject.session is the client side's; a server's session is not exposed), so the client
            # address stands in. SSL pass-through reads the real session id from the hellos (tcp.py).
            key = self.ip_key(client_ip)
            return key, self._get(pool.name, key)
        if t == "universal":
            if rule_key is None:
                return None, None
            return rule_key, self._get(pool.name, rule_key)
        cookies = cookies or {}
        if t == "transparent":
            value = cookies.get(self.transparent_cookie_name(pool.name))
            if value is None:
                return None, None
            for node in pool.nodes:
                if self.transparent_value(pool.name, node.address) == value:
                    return value, node.address
            return value, ""  # a session on a node that is gone
        if t == "x_zeus":
            value = cookies.get(X_ZEUS_COOKIE)
            if value is None:
                return None, None
            return value, value if value in pool.by_address else ""
        name = self.app_cookie()
        value = cookies.get(name) if name else None
        if value is None:
            return None, None
        if rule_key is not None:
            value = rule_key
        return value, self._get(pool.name, value)

    def get(self, pool_name: str, key: str) -> str | None:
        """The node address recorded for session ``key`` in this pool, if any."""
        return self._get(pool_name, key)

    def _get(self, pool_name: str, key: str) -> str | None:
        k = f"{pool_name}\0{key}"
        addr = self.table.get(k)
        if addr is not None:
            self.table.move_to_end(k)
        return addr

    def record(self, pool_name: str, key: str, address: str) -> None:
        k = f"{pool_name}\0{key}"
        self.table[k] = address
        self.table.move_to_end(k)
        if len(self.table) > TABLE_LIMIT:
            self.table.popitem(last=False)

    def forget(self, pool_name: str, key: str) -> None:
        self.table.pop(f"{pool_name}\0{key}", None)

    # -- what a response carries -------------------------------------------------------------------------------

    def response_cookie(self, pool_name: str, address: str, new_session: bool) -> str | None:
        """The Set-Cookie value the engine adds (transparent and x_zeus types), or None."""
        if self.type == "transparent" and (new_session or self.cfg.transparent_always_set_cookie):
            directives = self.cfg.transparent_directives.strip()
            value = f"{self.transparent_cookie_name(pool_name)}={self.transparent_value(pool_name, address)}; path=/"
            return value + (f"; {directives}" if directives else "")
        if self.type == "x_zeus" and new_session:
            return f"{X_ZEUS_COOKIE}={address}; path=/"
        return None

    def learn_from_response(self, pool_name: str, set_cookies: list[str], address: str) -> None:
        """cookie / j2ee / asp: the application set its session cookie; remember which node it lives on."""
        name = self.app_cookie()
        if not name:
            return
        for header in set_cookies:
            cname, value = set_cookie_name_value(header)
            if cname == name and value:
                self.record(pool_name, value, address)
