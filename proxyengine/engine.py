"""One engine process (a worker): virtual servers, pools, monitors and statistics for one configuration,
swapped for a new configuration without dropping connections.
"""

from __future__ import annotations

import asyncio
import os
import socket
import ssl
import sys
import time

from . import stats as stats_mod
from .bandwidth import BandwidthClass, TokenBucket, shared_bucket
from .config import (
    ConfigError,
    EngineConfig,
    PersistenceConfig,
    PoolConfig,
    VirtualServerConfig,
    load_config,
    parse_config,
)
from .events import AccessLog, EventLog
from .http import HttpClientProtocol, sweep_idle
from .http1 import DEFAULT_LIMITS
from .persistence import Persistence
from .pools import DISCARD_POOL, Pool
from .rulehooks import configure_route_memo, fold_route_hits
from .rules import EngineState, PoolInfo, RuleCompileError, compile_rule
from .settings import VsSettings
from .stats import VsStats
from .tcp import TcpClientProtocol, UdpListenerProtocol
from .tls import client_context, server_context

ListenerKey = tuple[str, str, int]


def bind_socket(key: ListenerKey, reuseport: bool = False) -> socket.socket:
    """Bind a listening socket for (kind 'tcp'|'udp', host, port); '' means every address (IPv6 and IPv4).
    ``reuseport``: one of several sockets on the port, each a worker's, to which the master deals connections in
    turn (reuseport.py)."""
    kind, host, port = key
    family = socket.AF_INET6 if (not host and socket.has_ipv6) or ":" in host else socket.AF_INET
    stype = socket.SOCK_DGRAM if kind == "udp" else socket.SOCK_STREAM
    sock = socket.socket(family, stype)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if reuseport:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        if family == socket.AF_INET6:
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
        sock.bind((host or ("::" if family == socket.AF_INET6 else "0.0.0.0"), port))
        if stype == socket.SOCK_STREAM:
            sock.listen(1024)
        sock.setblocking(False)
    except OSError:
        sock.close()
        raise
    return sock


class _InSettings:
    """A VirtualServer attribute kept in its VsSettings, the typed struct the protocols read per request."""

    __slots__ = ("name",)

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    def __get__(self, vs: VirtualServer | None, owner: type | None = None):
        return self if vs is None else getattr(vs.settings, self.name)

    def __set__(self, vs: VirtualServer, value) -> None:
        setattr(vs.settings, self.name, value)


class VirtualServer:
    """A virtual server at run time; a reload makes a new one (the old one is ``retired``)."""

    pool: Pool | None = _InSettings()
    request_rules: list = _InSettings()
    response_rules: list = _InSettings()
    request_rules_read_body: bool = _InSettings()  # a request rule reads the whole body (decided once)
    access_log: AccessLog | None = _InSettings()
    log_response_headers: bool = _InSettings()  # the access log prints a response header (%{X}o): exchanges keep them
    retired: bool = _InSettings()
    stats: VsStats = _InSettings()

    def __init__(self, cfg: VirtualServerConfig, engine: Engine):
        self.cfg = cfg
        self.engine = engine
        self.name = cfg.name
        self.kind = cfg.kind
        self.settings = VsSettings(cfg)  # what the protocols read per request, typed (and the attributes above)
        self.bandwidth: BandwidthClass | None = None
        self.ssl_context: ssl.SSLContext | None = None
        self.stats = VsStats()
        self.running = False
        self.down_reason = ""

    def connection_opened(self) -> None:
        self.engine.client_connections += 1
        s = self.stats
        s.current_conn += 1
        s.total_conn += 1
        if s.current_conn > s.max_conn:
            s.max_conn = s.current_conn

    def connection_closed(self) -> None:
        self.engine.client_connections -= 1
        self.stats.current_conn -= 1

    def max_conn_reached(self) -> bool:
        limit = self.cfg.max_concurrent_connections
        return bool(limit) and self.stats.current_conn > limit

    def throttle(self) -> TokenBucket | None:
        return self.bandwidth.bucket() if self.bandwidth is not None else None


class Listener:
    """A listening socket and the virtual server it currently serves."""

    def __init__(self, key: ListenerKey, sock: socket.socket, vs: VirtualServer):
        self.key = key
        self.sock = sock
        # every connection's local port (the key's may be 0: any free port)
        self.port = sock.getsockname()[1] if sock is not None else key[2]
        self.vs = vs
        self.server = None  # asyncio Server, or the UDP listener protocol
        self.tls = False
        self.retired = False


class Engine:
    """Everything one worker process serves."""

    def __init__(self, loop: asyncio.AbstractEventLoop | None = None, *, run_monitors: bool = True, workers: int = 1,
                 config_path: str | None = None, process: str = "engine"):
        self.loop = loop or asyncio.get_event_loop()
        self.config: EngineConfig | None = None
        self.config_path = config_path
        self.workers = workers
        self.pools: dict[str, Pool] = {}
        self.virtual_servers: dict[str, VirtualServer] = {}
        self.retired_vs: list[VirtualServer] = []
        self.listeners: dict[ListenerKey, Listener] = {}
        self.persistence: dict[str, Persistence] = {}
        # connection.setPersistenceKey on a pool without a persistence class
        self.universal_persistence = Persistence(PersistenceConfig("_rule", "universal"))
        self.rule_state = EngineState()
        self.events = EventLog(None, process)
        self.stats = stats_mod.Stats(self)
        self.license_bucket: TokenBucket | None = None
        self.node_idle_timeout = 30.0
        self.node_overrides: dict[tuple[str, str], str] = {}
        self.run_monitors = run_monitors
        self.monitors = None
        self.health_listener = None  # called (pool, node, monitor, ok, why) on monitor transitions
        self.inherited: dict = {}  # listening sockets the master gave this worker
        self._tick_handle = None
        self.limits = DEFAULT_LIMITS  # request size limits, from the configuration
        self.max_client_connections = 0
        self.client_connections = 0  # HTTP and TCP client connections open in this worker

    def connections_full(self) -> bool:
        """Over the engine-wide connection limit (counted by the caller's connection_opened)."""
        return bool(self.max_client_connections) and self.client_connections > self.max_client_connections

    # -- start, reload, stop ------------------------------------------------------------------------------------

    def all_virtual_servers(self):
        yield from self.virtual_servers.values()
        yield from self.retired_vs

    async def start(self, cfg: EngineConfig, sockets: dict[ListenerKey, socket.socket] | None = None) -> list[str]:
        warnings = await self.apply(cfg, sockets)
        self._tick_handle = self.loop.call_later(1.0, self._tick)
        return warnings

    def fold_route_hits(self) -> None:
        """Bring the rules' statistics up to date with the requests their route memos served (rulehooks.RouteHit)."""
        for vs in self.all_virtual_servers():
            fold_route_hits(vs.settings)

    def _tick(self) -> None:
        self._tick_handle = self.loop.call_later(1.0, self._tick)
        self.fold_route_hits()  # (before retired virtual servers are let go)
        self.stats.tick()
        now = self.loop.time()
        for pool in self.pools.values():
            sweep_idle(pool.nodes, now, self.node_idle_timeout, pool.cfg.max_idle_connections_pernode)
        self._update_rule_pools()
        for vs in self.all_virtual_servers():
            if vs.access_log is not None:
                vs.access_log.flush()
        # retired virtual servers are kept for statistics until their connections are gone
        self.retired_vs = [vs for vs in self.retired_vs if vs.stats.current_conn > 0]

    def _update_rule_pools(self) -> None:
        now = time.time()
        self.rule_state.pools = {name: PoolInfo(**pool.info(now)) for name, pool in self.pools.items()}

    def reload(self, path: str | None = None, text: str | bytes | None = None) -> dict:
        """Validate then apply a configuration; a bad one is refused and the running one keeps serving."""
        try:
            cfg = parse_config(text) if text is not None else load_config(path or self.config_path)
        except ConfigError as e:
            self.events.log("warn", "config", f"reload refused: {e}")
            return {"ok": False, "error": str(e)}
        return {"ok": True, "revision": cfg.revision, "pending": cfg}

    async def apply(self, cfg: EngineConfig, sockets: dict[ListenerKey, socket.socket] | None = None) -> list[str]:
        """Swap in ``cfg``. Raises ConfigError (before changing anything) if it cannot be served at all."""
        warnings: list[str] = []
        self.events.set_dir(cfg.node.log_dir)
        old_pools = self.pools
        # pools, keeping nodes (health, counters, idle connections) that stay
        pools = {name: Pool(pc, old=old_pools.get(name)) for name, pc in cfg.pools.items()}
        for name, pool in pools.items():
            if name in old_pools:
                pool.take_over(old_pools[name])
        if DISCARD_POOL not in pools:
            pools[DISCARD_POOL] = Pool(PoolConfig(name=DISCARD_POOL, nodes=()))
        persistence = {}
        for name, pc in cfg.persistence.items():
            p = Persistence(pc)
            if name in self.persistence:
                p.take_over(self.persistence[name])
            persistence[name] = p
        shared_dir = os.path.dirname(cfg.node.control_socket) or "."
        bandwidth = {name: BandwidthClass(bc, shared_dir) for name, bc in cfg.bandwidth.items()}
        broken_pools: dict[str, str] = {}
        for name, pool in pools.items():
            pc = pool.cfg
            if pc.persistence_class:
                pool.persistence = persistence.get(pc.persistence_class)
                if pool.persistence is None:
                    broken_pools[name] = f"persistence class {pc.persistence_class!r} does not exist"
            if pc.failure_pool:
                pool.failure_pool = pools.get(pc.failure_pool)
                if pool.failure_pool is None:
                    broken_pools[name] = f"failure pool {pc.failure_pool!r} does not exist"
            for m in pc.monitors:
                if m not in cfg.monitors:
                    broken_pools[name] = f"monitor {m!r} does not exist"
            if pc.bandwidth_class:
                pool.bandwidth = bandwidth.get(pc.bandwidth_class)
            if pc.ssl_enable:
                pool.ssl_context = client_context(pc, cfg)
            for node in pool.nodes:
                override = self.node_overrides.get((name, node.address))
                if override:
                    node.state = override
        # rules, compiled once per load
        compiled = {}
        rule_errors = {}
        pool_names = set(pools)
        for name, source in cfg.rules.items():
            try:
                compiled[name] = compile_rule(name, source, pools=pool_names, rules=dict(cfg.rules))
            except RuleCompileError as e:
                rule_errors[name] = str(e)
        # virtual servers
        vss: dict[str, VirtualServer] = {}
        for name, vc in cfg.virtual_servers.items():
            vs = VirtualServer(vc, self)
            old = self.virtual_servers.get(name)
            if old is not None:
                vs.stats = old.stats
            vss[name] = vs
            reason = self._wire_vs(vs, cfg, pools, compiled, rule_errors, broken_pools, bandwidth)
            if reason:
                vs.down_reason = reason
                if vc.enabled:
                    warnings.append(f"virtual server {name} is down: {reason}")
        # listeners: keep those that stay, open new ones, close the rest
        wanted: dict[ListenerKey, VirtualServer] = {}
        for vs in vss.values():
            if vs.down_reason:
                continue
            sock_kind = "udp" if vs.kind == "udp" else "tcp"
            for host in vs.cfg.bind_hosts:
                wanted[(sock_kind, host, vs.cfg.port)] = vs
        new_listeners: dict[ListenerKey, Listener] = {}
        for key, vs in wanted.items():
            lst = self.listeners.get(key)
            try:
                if lst is None:
                    sock = (sockets or {}).get(key) or bind_socket(key)
                    lst = Listener(key, sock, vs)
                    await self._serve(lst)
                else:
                    lst.vs = vs
                    if lst.tls != bool(vs.ssl_context) and vs.kind != "udp":
                        lst.server.close()
                        await self._serve(lst)
            except OSError as e:
                vs.down_reason = f"cannot listen on {key[1] or '*'}:{key[2]}: {e.strerror or e}"
                warnings.append(f"virtual server {vs.name} is down: {vs.down_reason}")
                continue
            vs.running = True
            new_listeners[key] = lst
        for key, lst in self.listeners.items():
            if key not in new_listeners:
                lst.retired = True
                lst.server.close()
                if not sockets or key not in sockets:
                    lst.sock.close()
        # swap
        for vs in self.virtual_servers.values():
            vs.retired = True
            vs.running = False
            if vs.stats.current_conn > 0 and vs.name not in vss:
                self.retired_vs.append(vs)
        for name, pool in old_pools.items():
            new = pools.get(name)
            pool.close(keep={n.address for n in new.nodes} if new is not None else set())
        self.listeners = new_listeners
        self.pools = pools
        self.virtual_servers = vss
        self.persistence = persistence
        self.config = cfg
        self.limits = cfg.limits
        self.max_client_connections = cfg.max_client_connections
        # the license caps the machine's total, whichever worker carries the traffic
        self.license_bucket = (shared_bucket(os.path.dirname(cfg.node.control_socket) or ".", "license",
                                             cfg.bandwidth_limit_kbps) if cfg.bandwidth_limit_kbps else None)
        self.rule_state.hostname = cfg.node.name
        self.rule_state.rate_classes = cfg.rate_classes
        self._update_rule_pools()
        for w in warnings:
            self.events.log("warn", "config", w)
        if self.run_monitors:
            from .monitors import MonitorManager

            if self.monitors is None:
                self.monitors = MonitorManager(self)
            self.monitors.configure(cfg, pools)
        return warnings

    def _wire_vs(self, vs, cfg, pools, compiled, rule_errors, broken_pools, bandwidth) -> str:
        vc = vs.cfg
        if not vc.enabled:
            return "disabled"
        if not vc.kind:
            return f"protocol {vc.protocol!r} is not served by this engine"
        if vc.conflict:
            return vc.conflict
        if vc.pool:
            vs.pool = pools.get(vc.pool)
            if vs.pool is None:
                return f"pool {vc.pool!r} does not exist"
            if vc.pool in broken_pools:
                return f"pool {vc.pool}: {broken_pools[vc.pool]}"
            fp = vs.pool.failure_pool
            if fp is not None and fp.name in broken_pools:
                return f"failure pool {fp.name}: {broken_pools[fp.name]}"
        for rname in vc.request_rules + vc.response_rules:
            if rname in rule_errors:
                return f"rule {rname} does not compile: {rule_errors[rname]}"
            if rname not in compiled:
                return f"rule {rname!r} does not exist"
        vs.request_rules = [compiled[r] for r in vc.request_rules]
        vs.request_rules_read_body = any(rule.needs_request_body for rule in vs.request_rules)
        vs.response_rules = [compiled[r] for r in vc.response_rules]
        configure_route_memo(vs.settings)
        if not vs.pool and not vs.request_rules:
            return "no pool"
        if vc.bandwidth_class:
            vs.bandwidth = bandwidth.get(vc.bandwidth_class)
            if vs.bandwidth is None:
                return f"bandwidth class {vc.bandwidth_class!r} does not exist"
        elif vs.pool is not None and vs.pool.bandwidth is not None:
            vs.bandwidth = vs.pool.bandwidth
        if vc.ssl_decrypt and vc.kind != "udp":
            try:
                vs.ssl_context = server_context(vc, cfg)
            except ConfigError as e:
                return str(e)
        if vc.log_enabled:
            path = vc.log_filename.replace("%zeushome%", cfg.node.zeushome).replace("%v", vc.name)
            vs.access_log = AccessLog(path, vc.log_format, vc.name)
            vs.log_response_headers = vs.access_log.response_headers
        return ""

    async def _serve(self, lst: Listener) -> None:
        engine = self
        kind = lst.key[0]
        if kind == "udp":
            _, proto = await self.loop.create_datagram_endpoint(lambda: UdpListenerProtocol(engine, lst),
                                                                sock=_dup(lst.sock))
            lst.server = proto
            return

        def factory():
            vs = lst.vs
            if vs.kind == "http":
                return HttpClientProtocol(engine, lst, tls=lst.tls)
            return TcpClientProtocol(engine, lst)

        ctx = None
        lst.tls = bool(lst.vs.ssl_context)
        if lst.tls:
            ctx = lst.vs.ssl_context

            def pick(sslobj, server_name, _ctx):
                # the listener's virtual server may have been reloaded with new certificates
                current = lst.vs.ssl_context
                if current is not None and current is not ctx:
                    sslobj.context = current
                    cb = current.sni_callback
                else:
                    cb = ctx_sni
                if cb is not None:
                    return cb(sslobj, server_name, sslobj.context)
                return None

            ctx_sni = ctx.sni_callback
            listener_ctx = _clone_for_listener(ctx, pick)
            ctx = listener_ctx
        lst.server = await self.loop.create_server(factory, sock=_dup(lst.sock), ssl=ctx, backlog=1024,
                                                   ssl_handshake_timeout=10 if ctx is not None else None)

    async def stop(self) -> None:
        if self._tick_handle is not None:
            self._tick_handle.cancel()
        if self.monitors is not None:
            self.monitors.stop()
        for lst in self.listeners.values():
            lst.server.close()
        for pool in self.pools.values():
            pool.close()
        for vs in self.all_virtual_servers():
            if vs.access_log is not None:
                vs.access_log.flush()

    # -- health ------------------------------------------------------------------------------------------------

    def set_monitor_health(self, pool_name: str, node_addr: str | None, monitor: str, ok: bool, why: str,
                           log: bool = True) -> None:
        pool = self.pools.get(pool_name)
        if pool is None:
            return
        now = time.time()
        nodes = pool.nodes if node_addr is None else [n for n in pool.nodes if n.address == node_addr]
        for node in nodes:
            was_alive = node.alive(now)
            if ok:
                node.monitor_failed.discard(monitor)
            else:
                node.monitor_failed.add(monitor)
            alive = node.alive(now)
            if was_alive and not alive:
                node.failures += 1
                node.failed_since = now
                if pool.cfg.close_on_death:
                    node.close_all()
                if log:
                    self.events.node_failed(pool_name, node.address, f"monitor {monitor}: {why}")
            elif alive and not was_alive and log:
                self.events.node_recovered(pool_name, node.address, f"monitor {monitor}: {why}")
            if not alive:
                node.close_idle()
        if pool.queue:
            pool.dispatch_queue()
        if self.health_listener is not None:
            self.health_listener(pool_name, node_addr, monitor, ok, why)

    # -- control commands --------------------------------------------------------------------------------------

    async def handle(self, msg: dict) -> dict:
        """One control-socket command (see the README of the control protocol in control.py)."""
        cmd = msg.get("cmd")
        if cmd == "reload":
            res = self.reload(msg.get("path"), msg.get("text"))
            if not res["ok"]:
                return res
            cfg = res.pop("pending")
            try:
                res["warnings"] = await self.apply(cfg, msg.get("_sockets"))
            except ConfigError as e:
                self.events.log("warn", "config", f"reload refused: {e}")
                return {"ok": False, "error": str(e)}
            self.events.log("info", "config", f"reload accepted: revision {cfg.revision}")
            return res
        if cmd == "stats":
            fmt = msg.get("format", "json")
            st = stats_mod.statistics(self)
            if fmt == "prometheus":
                return {"ok": True, "text": stats_mod.prometheus(st)}
            if fmt == "csv":
                return {"ok": True, "text": stats_mod.csv(st)}
            return {"ok": True, "statistics": st, "per_second": list(self.stats.per_second)}
        if cmd == "recent_connections":
            return {"ok": True, "connections": self.stats.recent_connections(int(msg.get("limit", 100)))}
        if cmd == "node_state":
            return self.node_state(msg)
        if cmd == "health":
            return {"ok": True, **self.health()}
        if cmd == "events":
            return {"ok": True, "events": list(self.events.recent)[-int(msg.get("limit", 100)):]}
        if cmd == "_monitor":
            self.set_monitor_health(msg["pool"], msg.get("node"), msg["monitor"], msg["ok"], msg.get("why", ""),
                                    log=False)
            return {"ok": True}
        if cmd == "ping":
            return {"ok": True, "pid": os.getpid(), "revision": self.config.revision if self.config else None}
        return {"ok": False, "error": f"unknown command {cmd!r}"}

    def node_state(self, msg: dict) -> dict:
        pool = self.pools.get(msg.get("pool", ""))
        if pool is None:
            return {"ok": False, "error": f"pool {msg.get('pool')!r} does not exist"}
        node = pool.by_address.get(msg.get("node", ""))
        if node is None:
            return {"ok": False, "error": f"node {msg.get('node')!r} is not in pool {pool.name}"}
        state = msg.get("state")
        if state not in ("active", "draining", "disabled"):
            return {"ok": False, "error": "state must be active, draining or disabled"}
        node.state = state = sys.intern(state)  # (as configured states are: see config.py)
        self.node_overrides[(pool.name, node.address)] = state
        if state == "disabled":
            node.close_idle()
        self.events.log("info", f"pools/{pool.name}", f"node {node.address} is now {state}")
        self._update_rule_pools()
        return {"ok": True, "pool": pool.name, "node": node.address, "state": state}

    def health(self) -> dict:
        now = time.time()
        pools = {}
        for name, pool in self.pools.items():
            if name == DISCARD_POOL:
                continue
            pools[name] = {
                "state": pool.state(now),
                "nodes": {
                    n.address: {
                        "state": n.health(now), "config_state": n.state,
                        "failed_monitors": sorted(n.monitor_failed),
                        "passive_failed": n.passive_failed_until > now,
                    }
                    for n in pool.nodes
                },
            }  # fmt: skip
        # route_memo: its request rules are pure routing and are run once per distinct request (rulehooks)
        vss = {name: {"running": vs.running, "reason": vs.down_reason, "route_memo": vs.settings.route_memo is not None}
               for name, vs in self.virtual_servers.items()}  # fmt: skip
        return {"pools": pools, "virtual_servers": vss,
                "revision": self.config.revision if self.config else None}


def _dup(sock: socket.socket) -> socket.socket:
    s = socket.socket(fileno=os.dup(sock.fileno()))
    s.setblocking(False)
    return s


def _clone_for_listener(ctx: ssl.SSLContext, pick) -> ssl.SSLContext:
    """The listener keeps its first context object; ``pick`` swaps in the current one per handshake."""
    ctx.sni_callback = pick
    return ctx
