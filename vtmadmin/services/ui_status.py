"""What the Admin UI shows about the running engine: statistics, recent connections, the services overview.

Every function answers None (or an empty result with `engine_running` False) when the
engine's control socket does not answer, so pages can say so instead of failing.
"""

from dataclasses import dataclass, field

from vtmadmin.registry import TYPES
from vtmadmin.services.engine import EngineUnavailable, engine_control


def engine_query(command: dict, *, timeout: float = 2.0) -> dict | None:
    """The engine's reply to a control command, or None when it is not running or refuses the command."""
    try:
        reply = engine_control(command, timeout=timeout)
    except EngineUnavailable:
        return None
    return reply if isinstance(reply, dict) and reply.get("ok") else None


def engine_statistics() -> dict | None:
    """`{"statistics": {...}, "per_second": [...]}` from the engine, or None."""
    return engine_query({"cmd": "stats"})


def engine_recent_connections(*, limit: int = 200) -> list[dict] | None:
    reply = engine_query({"cmd": "recent_connections", "limit": limit})
    return None if reply is None else list(reply.get("connections", []))


def connections_filter(connections: list[dict], *, text: str = "", virtual_server: str = "", pool: str = "",
                       status: str = "") -> list[dict]:
    """The connections that match every given filter; `text` matches client, node, URL or method."""
    text = text.strip().lower()
    out = []
    for c in connections:
        if virtual_server and c.get("virtual_server") != virtual_server:
            continue
        if pool and c.get("pool") != pool:
            continue
        if status and not str(c.get("status", "")).startswith(status.strip()):
            continue
        if text and not any(text in str(c.get(k, "")).lower() for k in ("client", "node", "url", "method")):
            continue
        out.append(c)
    return out


@dataclass
class ServiceRow:
    """A virtual server on the home page: its pool and whether traffic flows."""

    name: str
    protocol: str
    port: int
    enabled: bool
    pool: str
    nodes: list[str] = field(default_factory=list)
    state: str = ""  # running, stopped, disabled, unknown (engine not running)
    current_conn: int | None = None
    total_conn: int | None = None
    reason: str = ""  # why the engine does not run it (a port in use, a missing pool)
    flowing: bool = False  # a connection now, or one in the last minute


def recently_active(connections: list[dict] | None, *, seconds: float = 60) -> set[str]:
    """The virtual servers that handled a connection in the last `seconds`."""
    import time

    since = time.time() - seconds
    return {c.get("virtual_server", "") for c in connections or [] if (c.get("time") or 0) >= since}


def services_overview(statistics: dict | None, health: dict | None = None,
                      recent: set[str] = frozenset()) -> list[ServiceRow]:
    """Every virtual server with its pool's nodes and, when the engine answers, its state and connections."""
    vs_stats = (statistics or {}).get("statistics", {}).get("virtual_servers", {})
    vs_health = (health or {}).get("virtual_servers", {})
    pools = {p.name: p.properties for p in TYPES["pools"].model.objects.all()}
    rows = []
    for vs in TYPES["virtual_servers"].model.objects.order_by("name"):
        basic = vs.properties.get("basic", {})
        pool = basic.get("pool", "")
        row = ServiceRow(
            name=vs.name, protocol=basic.get("protocol", "http"), port=basic.get("port", 0),
            enabled=bool(basic.get("enabled", False)), pool=pool,
            nodes=[n.get("node", "") for n in pools.get(pool, {}).get("basic", {}).get("nodes_table", [])],
        )
        stats = vs_stats.get(vs.name)
        if not row.enabled:
            row.state = "disabled"
        elif statistics is None:
            row.state = "unknown"
        elif stats is None:
            row.state = "stopped"
        else:
            row.state = stats.get("state", "running")
            row.current_conn, row.total_conn = stats.get("current_conn", 0), stats.get("total_conn", 0)
            row.flowing = row.state == "running" and bool(row.current_conn or vs.name in recent)
        if row.state != "running" and row.enabled:
            row.reason = vs_health.get(vs.name, {}).get("reason", "")
        rows.append(row)
    return rows
