"""Parse and validate engine.json (docs/engine-json.md) into plain dataclasses.

The admin side fills in every default; the engine still knows the vTM 8.3
defaults for the keys it reads, so a hand-written file works, but every value
that *is* present is checked strictly (a bool is a bool, an int is not a bool,
enums and ranges per vtm-schema-8.3). Anything wrong raises ConfigError with a
path such as ``pools.web.basic.nodes_table[2].node``.
"""

from __future__ import annotations

import dataclasses
import hashlib
import ipaddress
import json
import os
import re
import sys
from dataclasses import dataclass, field
from typing import Any

from .http1 import DEFAULT_LIMITS, Limits

__all__ = [
    "ConfigError",
    "EngineConfig",
    "NodeEntry",
    "PoolConfig",
    "VirtualServerConfig",
    "MonitorConfig",
    "PersistenceConfig",
    "BandwidthConfig",
    "SSLKeyConfig",
    "NodeSettings",
    "load_config",
    "parse_config",
    "parse_address",
]

ALGORITHMS = (
    "fastest_response_time",
    "least_connections",
    "perceptive",
    "random",
    "round_robin",
    "weighted_least_connections",
    "weighted_round_robin",
)
NODE_STATES = ("active", "disabled", "draining")
HTTP_PROTOCOLS = ("http", "https")
TCP_PROTOCOLS = ("stream", "client_first", "server_first", "ssl")
UDP_PROTOCOLS = ("udp", "udpstreaming")
ALL_PROTOCOLS = (
    "client_first", "dns", "dns_tcp", "ftp", "http", "https", "imaps", "imapv2", "imapv3", "imapv4", "ldap",
    "ldaps", "pop3", "pop3s", "rtsp", "server_first", "siptcp", "sipudp", "smtp", "ssl", "stream", "telnet",
    "udp", "udpstreaming",
)  # fmt: skip
# Protocols the engine serves; others are valid vTM values but kept down with an event.
SERVED_PROTOCOLS = HTTP_PROTOCOLS + TCP_PROTOCOLS + UDP_PROTOCOLS
MONITOR_TYPES = ("connect", "http", "ping", "program", "rtsp", "sip", "tcp_transaction")
PERSISTENCE_TYPES = ("asp", "cookie", "ip", "j2ee", "named", "ssl", "transparent", "universal", "x_zeus")
FAILURE_MODES = ("close", "new_node", "url")
USE_DEFAULT = ("disabled", "enabled", "use_default")


class ConfigError(ValueError):
    """engine.json is unusable; the message names the object and field."""


# -- strict readers -------------------------------------------------------------------------------------------


class _Props:
    """Reads ``properties`` of one object, with the object's path for error messages."""

    def __init__(self, path: str, obj: Any):
        if not isinstance(obj, dict):
            raise ConfigError(f"{path}: expected an object")
        props = obj.get("properties", {})
        if not isinstance(props, dict):
            raise ConfigError(f"{path}.properties: expected an object")
        self.path = path
        self.props = props

    def _raw(self, section: str, key: str, default: Any) -> tuple[str, Any]:
        sec = self.props.get(section, {})
        at = f"{self.path}.{section}" if self.path else section  # (no path: a top-level block, node or license)
        where = f"{at}.{key}"
        if not isinstance(sec, dict):
            raise ConfigError(f"{at}: expected an object")
        if key not in sec:
            if default is _REQUIRED:
                raise ConfigError(f"{where}: missing")
            return where, default
        return where, sec[key]

    def bool(self, section: str, key: str, default: Any = False) -> bool:
        where, v = self._raw(section, key, default)
        if not isinstance(v, bool):
            raise ConfigError(f"{where}: expected true or false, got {v!r}")
        return v

    def int(self, section: str, key: str, default: Any = 0, lo: int | None = None, hi: int | None = None) -> int:
        where, v = self._raw(section, key, default)
        if isinstance(v, bool) or not isinstance(v, int):
            raise ConfigError(f"{where}: expected an integer, got {v!r}")
        if (lo is not None and v < lo) or (hi is not None and v > hi):
            raise ConfigError(f"{where}: {v} is out of range {lo}..{hi if hi is not None else ''}")
        return v

    def str(self, section: str, key: str, default: Any = "") -> str:
        where, v = self._raw(section, key, default)
        if not isinstance(v, str):
            raise ConfigError(f"{where}: expected a string, got {v!r}")
        return v

    def enum(self, section: str, key: str, choices: tuple[str, ...], default: Any) -> str:
        where, v = self._raw(section, key, default)
        if v not in choices:
            raise ConfigError(f"{where}: {v!r} is not one of {', '.join(choices)}")
        return v

    def strlist(self, section: str, key: str) -> tuple[str, ...]:
        where, v = self._raw(section, key, [])
        if not isinstance(v, list) or not all(isinstance(x, str) for x in v):
            raise ConfigError(f"{where}: expected a list of strings, got {v!r}")
        return tuple(v)

    def table(self, section: str, key: str) -> list[dict]:
        where, v = self._raw(section, key, [])
        if not isinstance(v, list) or not all(isinstance(x, dict) for x in v):
            raise ConfigError(f"{where}: expected a list of objects")
        return v

    def regex(self, section: str, key: str, default: Any = "") -> str:
        v = self.str(section, key, default)
        try:
            re.compile(v)
        except re.error as e:
            raise ConfigError(f"{self.path}.{section}.{key}: invalid regular expression {v!r}: {e}") from None
        return v


_REQUIRED = object()


def parse_address(text: str, where: str = "node") -> tuple[str, int]:
    """'10.0.0.1:80', 'host:80' or '[::1]:80' -> (host, port)."""
    m = re.fullmatch(r"\[([0-9A-Fa-f:.]+)\]:(\d{1,5})|([^\s:\[\]]+):(\d{1,5})", text)
    if not m:
        raise ConfigError(f"{where}: {text!r} is not <host>:<port>")
    host = m.group(1) or m.group(3)
    port = int(m.group(2) or m.group(4))
    if not 1 <= port <= 65535:
        raise ConfigError(f"{where}: port {port} is out of range 1..65535")
    if m.group(1):
        try:
            ipaddress.IPv6Address(host)
        except ValueError:
            raise ConfigError(f"{where}: {host!r} is not an IPv6 address") from None
    return host, port


# -- dataclasses -------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class NodeEntry:
    """One row of a pool's nodes_table."""

    address: str  # "host:port" as written, the node's name in statistics
    host: str
    port: int
    state: str = "active"
    weight: int = 1
    priority: int = 1


@dataclass(frozen=True)
class PoolConfig:
    """A pool: its nodes and how they are chosen, checked and connected to."""

    name: str
    nodes: tuple[NodeEntry, ...]
    monitors: tuple[str, ...] = ()
    persistence_class: str = ""
    failure_pool: str = ""
    bandwidth_class: str = ""
    max_connection_attempts: int = 0
    max_idle_connections_pernode: int = 50
    max_timed_out_connection_attempts: int = 2
    node_connection_attempts: int = 3
    passive_monitoring: bool = True
    algorithm: str = "round_robin"
    priority_enabled: bool = False
    priority_nodes: int = 1
    max_connect_time: int = 4
    max_reply_time: int = 30
    max_connections_per_node: int = 0
    max_queue_size: int = 0
    queue_timeout: int = 10
    keepalive: bool = True
    keepalive_non_idempotent: bool = False
    retry_fail_time: int = 60
    close_on_death: bool = False
    ssl_enable: bool = False
    ssl_server_name: bool = False
    ssl_strict_verify: bool = False
    ssl_support_tls1_2: str = "use_default"
    ssl_support_tls1_3: str = "use_default"
    nagle: bool = True
    udp_response_timeout: int = 0


@dataclass(frozen=True)
class CertMapping:
    """ssl.server_cert_host_mapping row: SNI host (may start with '*.') -> certificate."""

    host: str
    certificate: str
    alt_certificates: tuple[str, ...] = ()


@dataclass(frozen=True)
class VirtualServerConfig:
    """A virtual server: where it listens, what it speaks, which pool and rules it uses."""

    name: str
    port: int
    enabled: bool = False
    protocol: str = "http"
    pool: str = ""
    listen_on_any: bool = True
    listen_on_hosts: tuple[str, ...] = ()
    request_rules: tuple[str, ...] = ()
    rules_on_connect: bool = False  # client_first: run the request rules when the connection is accepted
    response_rules: tuple[str, ...] = ()
    ssl_decrypt: bool = False
    conflict: str = ""  # why this virtual server cannot listen (another one has its address and port)
    bandwidth_class: str = ""
    max_concurrent_connections: int = 0
    connect_timeout: int = 10
    keepalive: bool = True
    keepalive_timeout: int = 10
    timeout: int = 300
    max_client_buffer: int = 65536
    max_server_buffer: int = 65536
    max_transaction_duration: int = 0
    protection_class: str = ""
    max_body_length: int = 0  # request body bytes allowed (0: any), from the protection class's http.max_body_length
    server_first_banner: str = ""
    add_x_forwarded_for: bool = False
    add_x_forwarded_proto: bool = False
    add_cluster_ip: bool = True
    strip_x_forwarded_proto: bool = True
    ssl_server_cert_default: str = ""
    ssl_server_cert_alt_certificates: tuple[str, ...] = ()
    ssl_server_cert_host_mapping: tuple[CertMapping, ...] = ()
    ssl_support_tls1_2: str = "use_default"
    ssl_support_tls1_3: str = "use_default"
    ssl_add_http_headers: bool = False
    log_enabled: bool = False
    log_filename: str = "%zeushome%/zxtm/log/%v.log"
    log_format: str = '%h %l %u %t "%r" %s %b "%{Referer}i" "%{User-agent}i"'
    recent_connections_enabled: bool = True
    udp_timeout: int = 7
    udp_response_datagrams_expected: int = 1
    udp_end_point_persistence: bool = True

    @property
    def kind(self) -> str:
        """'http', 'tcp', 'udp' or '' (a protocol this engine does not serve)."""
        if self.protocol in HTTP_PROTOCOLS:
            return "http"
        if self.protocol in TCP_PROTOCOLS:
            return "tcp"
        if self.protocol in UDP_PROTOCOLS:
            return "udp"
        return ""

    @property
    def bind_hosts(self) -> tuple[str, ...]:
        return ("",) if self.listen_on_any or not self.listen_on_hosts else self.listen_on_hosts


@dataclass(frozen=True)
class MonitorConfig:
    """A health monitor."""

    name: str
    type: str = "ping"
    delay: int = 3
    timeout: int = 3
    failures: int = 3
    back_off: bool = True
    scope: str = "pernode"
    machine: str = ""
    use_ssl: bool = False
    verbose: bool = False
    http_path: str = "/"
    http_host_header: str = ""
    http_authentication: str = ""
    http_status_regex: str = "^[234][0-9][0-9]$"
    http_body_regex: str = ""
    tcp_write_string: str = ""
    tcp_response_regex: str = ".+"
    tcp_close_string: str = ""
    tcp_max_response_len: int = 2048
    script_program: str = ""
    script_arguments: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class PersistenceConfig:
    """A session persistence class."""

    name: str
    type: str = "ip"
    cookie: str = ""
    failure_mode: str = "new_node"
    url: str = ""
    delete: bool = True
    subnet_prefix_length_v4: int = 0
    subnet_prefix_length_v6: int = 0
    transparent_always_set_cookie: bool = False
    transparent_directives: str = ""


@dataclass(frozen=True)
class BandwidthConfig:
    """A bandwidth class: kbit/s shared per connection or per machine."""

    name: str
    maximum: int = 10000
    sharing: str = "cluster"


@dataclass(frozen=True)
class SSLKeyConfig:
    """A certificate and its private key (PEM)."""

    name: str
    public: str
    private: str


@dataclass(frozen=True)
class NodeSettings:
    """The ``node`` block: this traffic manager's paths."""

    name: str = "localhost"
    zeushome: str = "/usr/local/zeus"
    control_socket: str = ""
    log_dir: str = ""
    workers: int = 0
    # "auto": with several workers, each bound to a CPU of its own while there are enough; "off": never bound
    cpu_affinity: str = "auto"


@dataclass(frozen=True)
class EngineConfig:
    """A whole engine.json, validated."""

    revision: int
    digest: str
    node: NodeSettings
    bandwidth_limit_kbps: int = 0
    edition: str = "community"
    pools: dict[str, PoolConfig] = field(default_factory=dict)
    virtual_servers: dict[str, VirtualServerConfig] = field(default_factory=dict)
    rules: dict[str, str] = field(default_factory=dict)
    monitors: dict[str, MonitorConfig] = field(default_factory=dict)
    persistence: dict[str, PersistenceConfig] = field(default_factory=dict)
    bandwidth: dict[str, BandwidthConfig] = field(default_factory=dict)
    rate_classes: dict[str, tuple[int, int]] = field(default_factory=dict)  # name -> (per second, per minute)
    ssl_server_keys: dict[str, SSLKeyConfig] = field(default_factory=dict)
    ssl_support_tls1_2: bool = True
    ssl_support_tls1_3: bool = True
    limits: Limits = DEFAULT_LIMITS  # request size limits (global_settings "http" section)
    max_client_connections: int = 0  # client connections one worker holds at once, 0 = no limit
    text_digest: str = ""  # sha256 of the file's bytes: tells reloads of an identical file apart

    def listener_keys(self) -> dict[tuple[str, str, int], list[str]]:
        """(kind, host, port) -> names of the enabled, served virtual servers that listen there."""
        out: dict[tuple[str, str, int], list[str]] = {}
        for vs in self.virtual_servers.values():
            if not vs.enabled or not vs.kind or vs.conflict:
                continue
            sock_kind = "udp" if vs.kind == "udp" else "tcp"
            for host in vs.bind_hosts:
                out.setdefault((sock_kind, host, vs.port), []).append(vs.name)
        return out


# -- parsers per object type -----------------------------------------------------------------------------------


def _parse_pool(name: str, obj: Any) -> PoolConfig:
    p = _Props(f"pools.{name}", obj)
    nodes = []
    seen = set()
    for i, row in enumerate(p.table("basic", "nodes_table")):
        where = f"pools.{name}.basic.nodes_table[{i}]"
        node = row.get("node")
        if not isinstance(node, str):
            raise ConfigError(f"{where}.node: expected '<host>:<port>'")
        host, port = parse_address(node, f"{where}.node")
        if node in seen:
            raise ConfigError(f"{where}.node: {node} is listed twice")
        seen.add(node)
        r = _Props(where, {"properties": {"row": row}})
        nodes.append(
            NodeEntry(
                address=node,
                host=host,
                port=port,
                # interned: the engine compares a node's state with "active" for every request (pools.candidates)
                state=sys.intern(r.enum("row", "state", NODE_STATES, "active")),
                weight=r.int("row", "weight", 1, 1, 100),
                priority=r.int("row", "priority", 1, 0, 65535),
            )
        )
    return PoolConfig(
        name=name,
        nodes=tuple(nodes),
        monitors=p.strlist("basic", "monitors"),
        persistence_class=p.str("basic", "persistence_class"),
        failure_pool=p.str("basic", "failure_pool"),
        bandwidth_class=p.str("basic", "bandwidth_class"),
        max_connection_attempts=p.int("basic", "max_connection_attempts", 0, 0, 99999),
        max_idle_connections_pernode=p.int("basic", "max_idle_connections_pernode", 50, 0, 999999),
        max_timed_out_connection_attempts=p.int("basic", "max_timed_out_connection_attempts", 2, 0, 99999),
        node_connection_attempts=p.int("basic", "node_connection_attempts", 3, 1, 100),
        passive_monitoring=p.bool("basic", "passive_monitoring", True),
        algorithm=p.enum("load_balancing", "algorithm", ALGORITHMS, "round_robin"),
        priority_enabled=p.bool("load_balancing", "priority_enabled", False),
        priority_nodes=p.int("load_balancing", "priority_nodes", 1, 1, 65535),
        max_connect_time=p.int("connection", "max_connect_time", 4, 1, 99999),
        max_reply_time=p.int("connection", "max_reply_time", 30, 1, 99999),
        max_connections_per_node=p.int("connection", "max_connections_per_node", 0, 0, 999999),
        max_queue_size=p.int("connection", "max_queue_size", 0, 0, 999999),
        queue_timeout=p.int("connection", "queue_timeout", 10, 0, 31536000),
        keepalive=p.bool("http", "keepalive", True),
        keepalive_non_idempotent=p.bool("http", "keepalive_non_idempotent", False),
        retry_fail_time=p.int("node", "retry_fail_time", 60, 1, 99999),
        close_on_death=p.bool("node", "close_on_death", False),
        ssl_enable=p.bool("ssl", "enable", False),
        ssl_server_name=p.bool("ssl", "server_name", False),
        ssl_strict_verify=p.bool("ssl", "strict_verify", False),
        ssl_support_tls1_2=p.enum("ssl", "support_tls1_2", USE_DEFAULT, "use_default"),
        ssl_support_tls1_3=p.enum("ssl", "support_tls1_3", USE_DEFAULT, "use_default"),
        nagle=p.bool("tcp", "nagle", True),
        udp_response_timeout=p.int("udp", "response_timeout", 0, 0, 99999),
    )


def _parse_virtual_server(name: str, obj: Any) -> VirtualServerConfig:
    p = _Props(f"virtual_servers.{name}", obj)
    mappings = []
    for i, row in enumerate(p.table("ssl", "server_cert_host_mapping")):
        r = _Props(f"virtual_servers.{name}.ssl.server_cert_host_mapping[{i}]", {"properties": {"row": row}})
        mappings.append(
            CertMapping(
                host=r.str("row", "host", _REQUIRED),
                certificate=r.str("row", "certificate", _REQUIRED),
                alt_certificates=r.strlist("row", "alt_certificates"),
            )
        )
    return VirtualServerConfig(
        name=name,
        port=p.int("basic", "port", _REQUIRED, 1, 65535),
        enabled=p.bool("basic", "enabled", False),
        protocol=p.enum("basic", "protocol", ALL_PROTOCOLS, "http"),
        pool=p.str("basic", "pool"),
        listen_on_any=p.bool("basic", "listen_on_any", True),
        listen_on_hosts=p.strlist("basic", "listen_on_hosts"),
        request_rules=p.strlist("basic", "request_rules"),
        rules_on_connect=p.bool("basic", "rules_on_connect", False),
        response_rules=p.strlist("basic", "response_rules"),
        ssl_decrypt=p.bool("basic", "ssl_decrypt", False),
        bandwidth_class=p.str("basic", "bandwidth_class"),
        protection_class=p.str("basic", "protection_class"),
        max_concurrent_connections=p.int("basic", "max_concurrent_connections", 0, 0),
        connect_timeout=p.int("basic", "connect_timeout", 10, 0, 99999),
        keepalive=p.bool("connection", "keepalive", True),
        keepalive_timeout=p.int("connection", "keepalive_timeout", 10, 0, 99999),
        timeout=p.int("connection", "timeout", 300, 0, 99999),
        max_client_buffer=p.int("connection", "max_client_buffer", 65536, 1024, 16777216),
        max_server_buffer=p.int("connection", "max_server_buffer", 65536, 1024, 16777216),
        max_transaction_duration=p.int("connection", "max_transaction_duration", 0, 0, 99999),
        server_first_banner=p.str("connection", "server_first_banner"),
        add_x_forwarded_for=p.bool("http", "add_x_forwarded_for", False),
        add_x_forwarded_proto=p.bool("http", "add_x_forwarded_proto", False),
        add_cluster_ip=p.bool("http", "add_cluster_ip", True),
        strip_x_forwarded_proto=p.bool("http", "strip_x_forwarded_proto", True),
        ssl_server_cert_default=p.str("ssl", "server_cert_default"),
        ssl_server_cert_alt_certificates=p.strlist("ssl", "server_cert_alt_certificates"),
        ssl_server_cert_host_mapping=tuple(mappings),
        ssl_support_tls1_2=p.enum("ssl", "support_tls1_2", USE_DEFAULT, "use_default"),
        ssl_support_tls1_3=p.enum("ssl", "support_tls1_3", USE_DEFAULT, "use_default"),
        ssl_add_http_headers=p.bool("ssl", "add_http_headers", False),
        log_enabled=p.bool("log", "enabled", False),
        log_filename=p.str("log", "filename", "%zeushome%/zxtm/log/%v.log"),
        log_format=p.str("log", "format", VirtualServerConfig.log_format),
        recent_connections_enabled=p.bool("recent_connections", "enabled", True),
        udp_timeout=p.int("udp", "timeout", 7, 1, 99999),
        udp_response_datagrams_expected=p.int("udp", "response_datagrams_expected", 1),
        udp_end_point_persistence=p.bool("udp", "end_point_persistence", True),
    )


def _parse_monitor(name: str, obj: Any) -> MonitorConfig:
    p = _Props(f"monitors.{name}", obj)
    args = []
    for i, row in enumerate(p.table("script", "arguments")):
        r = _Props(f"monitors.{name}.script.arguments[{i}]", {"properties": {"row": row}})
        args.append((r.str("row", "name", _REQUIRED), r.str("row", "value", "")))
    machine = p.str("basic", "machine")
    scope = p.enum("basic", "scope", ("pernode", "poolwide"), "pernode")
    mtype = p.enum("basic", "type", MONITOR_TYPES, "ping")
    if scope == "poolwide" and machine and mtype != "ping" and mtype != "program":
        parse_address(machine, f"monitors.{name}.basic.machine")
    return MonitorConfig(
        name=name,
        type=mtype,
        delay=p.int("basic", "delay", 3, 1, 999990),
        timeout=p.int("basic", "timeout", 3, 1, 99999),
        failures=p.int("basic", "failures", 3, 1, 99999),
        back_off=p.bool("basic", "back_off", True),
        scope=scope,
        machine=machine,
        use_ssl=p.bool("basic", "use_ssl", False),
        verbose=p.bool("basic", "verbose", False),
        http_path=p.str("http", "path", "/"),
        http_host_header=p.str("http", "host_header"),
        http_authentication=p.str("http", "authentication"),
        http_status_regex=p.regex("http", "status_regex", "^[234][0-9][0-9]$"),
        http_body_regex=p.regex("http", "body_regex", ""),
        tcp_write_string=p.str("tcp", "write_string"),
        tcp_response_regex=p.regex("tcp", "response_regex", ".+"),
        tcp_close_string=p.str("tcp", "close_string"),
        tcp_max_response_len=p.int("tcp", "max_response_len", 2048, 0),
        script_program=p.str("script", "program"),
        script_arguments=tuple(args),
    )


def _parse_persistence(name: str, obj: Any) -> PersistenceConfig:
    p = _Props(f"persistence.{name}", obj)
    return PersistenceConfig(
        name=name,
        type=p.enum("basic", "type", PERSISTENCE_TYPES, "ip"),
        cookie=p.str("basic", "cookie"),
        failure_mode=p.enum("basic", "failure_mode", FAILURE_MODES, "new_node"),
        url=p.str("basic", "url"),
        delete=p.bool("basic", "delete", True),
        subnet_prefix_length_v4=p.int("basic", "subnet_prefix_length_v4", 0, 0, 31),
        subnet_prefix_length_v6=p.int("basic", "subnet_prefix_length_v6", 0, 0, 127),
        transparent_always_set_cookie=p.bool("basic", "transparent_always_set_cookie", False),
        transparent_directives=p.str("basic", "transparent_directives"),
    )


def _parse_rate(name: str, obj: Any) -> tuple[int, int]:
    """A rate class: (max_rate_per_second, max_rate_per_minute); 0 means no limit at that scale."""
    p = _Props(f"rate.{name}", obj)
    return p.int("basic", "max_rate_per_second", 0, 0), p.int("basic", "max_rate_per_minute", 0, 0)


def _parse_bandwidth(name: str, obj: Any) -> BandwidthConfig:
    p = _Props(f"bandwidth.{name}", obj)
    return BandwidthConfig(
        name=name,
        maximum=p.int("basic", "maximum", 10000, 1, 20000000),
        sharing=p.enum("basic", "sharing", ("cluster", "connection", "machine"), "cluster"),
    )


def _parse_ssl_key(name: str, obj: Any) -> SSLKeyConfig:
    p = _Props(f"ssl_server_keys.{name}", obj)
    return SSLKeyConfig(name=name, public=p.str("basic", "public"), private=p.str("basic", "private"))


def _objects(config: dict, key: str, parse) -> dict:
    section = config.get(key, {})
    if not isinstance(section, dict):
        raise ConfigError(f"config.{key}: expected an object of named objects")
    return {name: parse(name, obj) for name, obj in section.items()}


def _parse_rule(name: str, text: Any) -> str:
    if not isinstance(text, str):
        raise ConfigError(f"rules.{name}: expected the rule's TrafficScript text")
    return text


def parse_config(data: dict | str | bytes) -> EngineConfig:
    """Validate a loaded engine.json (dict) or its text; raise ConfigError naming the problem."""
    text_digest = ""
    if isinstance(data, str | bytes):
        text_digest = hashlib.sha256(data if isinstance(data, bytes) else data.encode()).hexdigest()
        try:
            data = json.loads(data)
        except (ValueError, UnicodeDecodeError) as e:
            raise ConfigError(f"engine.json is not valid JSON: {e}") from None
    if not isinstance(data, dict):
        raise ConfigError("engine.json: expected a JSON object at the top level")
    if data.get("format") != 1 or isinstance(data.get("format"), bool):
        raise ConfigError(f"format: expected 1, got {data.get('format')!r}")
    revision = data.get("revision", 0)
    if isinstance(revision, bool) or not isinstance(revision, int):
        raise ConfigError(f"revision: expected an integer, got {revision!r}")
    digest = data.get("digest", "")
    if not isinstance(digest, str):
        raise ConfigError("digest: expected a string")

    n = _Props("", {"properties": {"node": data.get("node", {})}})
    zeushome = n.str("node", "zeushome", os.environ.get("ZEUSHOME", "/usr/local/zeus"))
    node = NodeSettings(
        name=n.str("node", "name", "localhost"),
        zeushome=zeushome,
        control_socket=n.str("node", "control_socket", os.path.join(zeushome, "run", "engine.sock")),
        log_dir=n.str("node", "log_dir", os.path.join(zeushome, "log")),
        workers=n.int("node", "workers", 0, 0, 256),
        cpu_affinity=n.enum("node", "cpu_affinity", ("auto", "off"), "auto"),
    )
    lic = _Props("", {"properties": {"license": data.get("license", {})}})
    config = data.get("config", {})
    if not isinstance(config, dict):
        raise ConfigError("config: expected an object")
    gs = _Props("global_settings", config.get("global_settings", {}))
    cfg = EngineConfig(
        revision=revision,
        digest=digest,
        node=node,
        bandwidth_limit_kbps=lic.int("license", "bandwidth_limit_kbps", 0, 0),
        edition=lic.str("license", "edition", "community"),
        pools=_objects(config, "pools", _parse_pool),
        virtual_servers=_objects(config, "virtual_servers", _parse_virtual_server),
        rules=_objects(config, "rules", _parse_rule),
        monitors=_objects(config, "monitors", _parse_monitor),
        persistence=_objects(config, "persistence", _parse_persistence),
        bandwidth=_objects(config, "bandwidth", _parse_bandwidth),
        rate_classes=_objects(config, "rate", _parse_rate),
        ssl_server_keys=_objects(config, "ssl_server_keys", _parse_ssl_key),
        ssl_support_tls1_2=gs.bool("ssl", "support_tls1_2", True),
        ssl_support_tls1_3=gs.bool("ssl", "support_tls1_3", True),
        limits=Limits(
            max_url_length=gs.int("http", "max_url_length", 8192, 256, 1 << 20),
            max_header_length=gs.int("http", "max_header_length", 8192, 256, 1 << 20),
            max_request_length=gs.int("http", "max_request_length", 65536, 1024, 1 << 22),
            max_header_count=gs.int("http", "max_header_count", 100, 1, 10000),
            max_chunk_header_length=gs.int("http", "max_chunk_header_length", 4096, 64, 1 << 20),
        ),
        max_client_connections=gs.int("connection", "max_client_connections", 0, 0),
        text_digest=text_digest,
    )
    return _resolve_port_conflicts(_apply_protection(cfg, config.get("protection", {})))


def _apply_protection(cfg: EngineConfig, section: Any) -> EngineConfig:
    """The one protection class setting the engine honours: http.max_body_length (a longer request body is a 413)."""
    limits = {}
    for name, obj in section.items() if isinstance(section, dict) else ():
        limits[name] = _Props(f"protection.{name}", obj).int("http", "max_body_length", 0, 0)
    vss = {name: dataclasses.replace(vs, max_body_length=limits[vs.protection_class])
           if limits.get(vs.protection_class) else vs for name, vs in cfg.virtual_servers.items()}
    return dataclasses.replace(cfg, virtual_servers=vss) if vss != cfg.virtual_servers else cfg


def _resolve_port_conflicts(cfg: EngineConfig) -> EngineConfig:
    """Two enabled virtual servers may not share an address and port (vTM refuses this too): the first by
    name keeps it, the others stay down with the reason, and every other virtual server keeps serving."""
    conflicts = {}
    for (kind, host, port), names in cfg.listener_keys().items():
        for name in names[1:]:
            conflicts[name] = f"{kind} port {port} on {host or '*'} is already used by virtual server {names[0]}"
    if not conflicts:
        return cfg
    vss = {name: dataclasses.replace(vs, conflict=conflicts[name]) if name in conflicts else vs
           for name, vs in cfg.virtual_servers.items()}
    return dataclasses.replace(cfg, virtual_servers=vss)


def load_config(path: str) -> EngineConfig:
    """Read and validate engine.json at ``path``."""
    try:
        with open(path, "rb") as f:
            text = f.read()
    except OSError as e:
        raise ConfigError(f"cannot read {path}: {e.strerror}") from None
    return parse_config(text)
