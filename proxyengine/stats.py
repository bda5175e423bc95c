"""Statistics: counters in vTM REST shapes, the recent-connections ring, per-second counters,
and the same figures as Prometheus text and a HAProxy-style CSV.

Counters are plain integer fields on the runtime objects; this module only reads and aggregates them.
"""

from __future__ import annotations

import time
from collections import deque

from .clock import monotonic
from .counters import VS_COUNTERS, VsStats  # noqa: F401 (VsStats: where the engine gets it)
from .pools import ALGORITHM_STAT_NAMES

RECENT_LIMIT = 1000
SECONDS_KEPT = 60


class Stats:
    """Engine-wide: the recent-connections ring and the per-second history."""

    def __init__(self, engine):
        self.engine = engine
        # the ring: row i (counting from 1) in slot i % RECENT_LIMIT. A list store compiled is a C store; a deque's
        # append is a method call (~400 instructions a request)
        self.recent: list = [None] * RECENT_LIMIT
        self.per_second: deque[dict] = deque(maxlen=SECONDS_KEPT)
        self.total_requests = 0
        self.total_conn = 0
        self._last = None
        self.next_id = 0

    def request_done(self, client, ex) -> None:
        self.total_requests += 1
        vs = ex.settings  # the virtual server's, typed
        if vs.recent_connections:
            # atoms only (a tuple of them is not tracked by the garbage collector); the row is built when read
            pool = ex.pool
            self.next_id += 1
            self.recent[self.next_id % RECENT_LIMIT] = (vs.name, pool.name if pool is not None else "",
                ex.node_address or (ex.tried and next(iter(ex.tried))) or "", client.client_ip, client.client_port,
                ex.method, ex.url, ex.status, ex.req_bytes, ex.resp_bytes, ex.started, monotonic())  # fmt: skip
        if vs.access_log is not None and (ex.tx is None or ex.tx.log_enabled):  # request.setLogEnabled(0)
            vs.access_log.add(client, ex)

    def connection_done(self, vs, client_ip: str, client_port: int, pool: str, node: str, bytes_in: int,
                        bytes_out: int, started: float, status: str = "closed", log: bool = True) -> None:
        """A generic (TCP/UDP) connection ended; ``log`` is false when a rule said not to log it."""
        if vs.cfg.recent_connections_enabled:
            self.next_id += 1
            self.recent[self.next_id % RECENT_LIMIT] = (vs.name, pool, node, client_ip, client_port, b"", b"", status,
                                                        bytes_in, bytes_out, started, time.monotonic())
        if vs.access_log is not None and log:
            vs.access_log.add_connection(client_ip, pool, node, bytes_in, bytes_out, started)

    def recent_connections(self, limit: int = 100) -> list[dict]:
        """The newest ``limit`` requests and generic connections, newest first (rows built here, on read)."""
        wall = time.time() - time.monotonic()
        out = []
        last = self.next_id
        for row_id in range(last, max(last - min(limit, RECENT_LIMIT), 0), -1):
            vs, pool, node, ip, port, method, url, status, bytes_in, bytes_out, started, done = \
                self.recent[row_id % RECENT_LIMIT]
            out.append({
                "id": row_id, "time": round(wall + done, 3), "virtual_server": vs, "pool": pool, "node": node,
                "client": f"{ip}:{port}", "method": method.decode("latin-1"), "url": url.decode("latin-1"),
                "status": status, "bytes_in": bytes_in, "bytes_out": bytes_out,
                "duration_ms": round((done - started) * 1000, 3),
            })  # fmt: skip
        return out

    def tick(self) -> None:
        """Once a second: remember this second's deltas for the Current Activity graph."""
        g = totals(self.engine)
        now = int(time.time())
        if self._last is not None:
            self.per_second.append({
                "time": now,
                "requests": g["total_requests"] - self._last["total_requests"],
                "conns": g["total_conn"] - self._last["total_conn"],
                "bytes_in": g["total_bytes_in"] - self._last["total_bytes_in"],
                "bytes_out": g["total_bytes_out"] - self._last["total_bytes_out"],
            })  # fmt: skip
        self._last = g


def totals(engine) -> dict[str, int]:
    g = {"total_conn": 0, "total_current_conn": 0, "total_requests": 0, "total_bytes_in": 0, "total_bytes_out": 0,
         "total_transactions": 0, "total_dgram": 0}
    for vs in engine.all_virtual_servers():
        s = vs.stats
        g["total_conn"] += s.total_conn
        g["total_current_conn"] += s.current_conn
        g["total_requests"] += s.total_requests
        g["total_bytes_in"] += s.bytes_in
        g["total_bytes_out"] += s.bytes_out
        g["total_dgram"] += s.total_dgram
    g["total_transactions"] = g["total_requests"] + g["total_dgram"]
    return g


def statistics(engine) -> dict:
    """Everything, in the vTM REST statistics shapes (one worker's figures)."""
    now = time.time()
    vss = {}
    for vs in engine.virtual_servers.values():
        d = vs.stats.as_dict()
        d["port"] = vs.cfg.port
        d["protocol"] = vs.cfg.protocol
        d["state"] = "running" if vs.running else "stopped"
        vss[vs.name] = d
    pools = {}
    nodes: dict[str, dict] = {}
    per_pool_node: dict[str, dict] = {}
    for pool in engine.pools.values():
        counts = {"active": 0, "draining": 0, "disabled": 0}
        for n in pool.nodes:
            counts[n.state] += 1
            nd = {
                "state": n.health(now) if n.state != "disabled" else "disabled",
                "current_conn": n.current_conn, "current_requests": n.current_requests, "errors": n.errors,
                "failures": n.failures, "total_conn": n.total_conn, "new_conn": n.new_conn,
                "pooled_conn": n.pooled_conn, "idle_conns": len(n.idle), "bytes_to_node": n.bytes_to_node,
                "bytes_from_node": n.bytes_from_node, "port": n.port,
                "response_min": round(n.rt_min), "response_max": round(n.rt_max),
                "response_mean": round(n.rt_sum / n.rt_count) if n.rt_count else 0,
            }  # fmt: skip
            per_pool_node[f"{pool.name}-{n.address}"] = dict(nd, pool=pool.name, node=n.address,
                                                                node_state=n.state)
            agg = nodes.get(n.address)
            if agg is None:
                nodes[n.address] = dict(nd)
            else:
                for k, v in nd.items():
                    if k == "state":
                        agg[k] = "alive" if "alive" in (v, agg[k]) else v
                    elif k in ("response_min", "response_max", "response_mean", "port"):
                        agg[k] = max(agg[k], v)
                    else:
                        agg[k] += v
        pools[pool.name] = {
            "algorithm": ALGORITHM_STAT_NAMES[pool.cfg.algorithm], "nodes": len(pool.nodes),
            "state": pool.state(now), "total_conn": pool.total_conn, "conns_queued": len(pool.queue),
            "disabled": counts["disabled"], "draining": counts["draining"],
            "persistence": pool.persistence.type if pool.persistence else "none",
            "bytes_in": pool.bytes_in, "bytes_out": pool.bytes_out, "queue_timeouts": pool.queue_timeouts,
            "max_queue_time": round(pool.max_queue_time * 1000), "session_migrated": pool.session_migrated,
            "mean_queue_time": round(pool.queue_time_sum * 1000 / pool.queued_total) if pool.queued_total else 0,
        }  # fmt: skip
    engine.fold_route_hits()
    rules = {name: s.as_dict() for name, s in engine.rule_state.rule_stats.items()}
    for name in engine.config.rules if engine.config else ():
        rules.setdefault(name, {"executions": 0, "aborts": 0, "discards": 0, "pool_select": 0, "retries": 0,
                                "responds": 0})
    return {
        "virtual_servers": vss,
        "pools": pools,
        "nodes": {"node": nodes, "per_pool_node": per_pool_node},
        "rules": rules,
        "globals": totals(engine),
    }


_MAXED = ("max_conn", "response_max", "response_min", "response_mean", "max_queue_time", "mean_queue_time", "port",
          "nodes", "disabled", "draining")


def merge(stats_list: list[dict]) -> dict:
    """Add up the statistics of several workers (strings from the first, maxima where a sum is meaningless)."""
    if not stats_list:
        return {}

    def add(a, b, key=""):
        if isinstance(a, dict) and isinstance(b, dict):
            out = dict(a)
            for k, v in b.items():
                out[k] = add(out[k], v, k) if k in out else v
            return out
        if isinstance(a, bool) or isinstance(b, bool) or not isinstance(a, int | float) or not isinstance(b, int |
                                                                                                         float):
            if key == "state" and "alive" in (a, b):
                return "alive"
            return a
        return max(a, b) if key in _MAXED else a + b

    out = stats_list[0]
    for s in stats_list[1:]:
        out = add(out, s)
    return out


def merge_per_second(series: list[list[dict]]) -> list[dict]:
    by_time: dict[int, dict] = {}
    for s in series:
        for row in s:
            cur = by_time.setdefault(row["time"], {"time": row["time"], "requests": 0, "conns": 0, "bytes_in": 0,
                                                   "bytes_out": 0})
            for k in ("requests", "conns", "bytes_in", "bytes_out"):
                cur[k] += row[k]
    return [by_time[t] for t in sorted(by_time)]


def _esc(v: str) -> str:
    return v.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def prometheus(stats: dict) -> str:
    """Prometheus text exposition (version 0.0.4) of merged statistics."""
    lines = []

    def family(name: str, kind: str, help_text: str, rows: list[tuple[dict, float]]):
        lines.append(f"# HELP vtm_{name} {help_text}")
        lines.append(f"# TYPE vtm_{name} {kind}")
        for labels, value in rows:
            lab = ",".join(f'{k}="{_esc(str(v))}"' for k, v in labels.items())
            lines.append(f"vtm_{name}{{{lab}}} {value}" if lab else f"vtm_{name} {value}")

    vss = stats.get("virtual_servers", {})
    for key, kind, help_text in (
        ("total_conn", "counter", "Connections received by the virtual server"),
        ("current_conn", "gauge", "Connections open now"),
        ("total_requests", "counter", "HTTP requests or generic sessions"),
        ("bytes_in", "counter", "Bytes received from clients"),
        ("bytes_out", "counter", "Bytes sent to clients"),
        ("connection_errors", "counter", "Requests that got an error from the traffic manager"),
        ("discard", "counter", "Connections discarded"),
    ):
        family(f"virtual_server_{key}", kind, help_text,
               [({"virtual_server": n}, d.get(key, 0)) for n, d in sorted(vss.items())])
    pools = stats.get("pools", {})
    for key, kind, help_text in (
        ("total_conn", "counter", "Requests sent to the pool's nodes"),
        ("conns_queued", "gauge", "Requests waiting in the pool's queue"),
        ("queue_timeouts", "counter", "Requests that timed out in the queue"),
    ):
        family(f"pool_{key}", kind, help_text, [({"pool": n}, d.get(key, 0)) for n, d in sorted(pools.items())])
    ppn = stats.get("nodes", {}).get("per_pool_node", {})
    family("node_up", "gauge", "1 when the node is alive", [
        ({"pool": d["pool"], "node": d["node"]}, 1 if d["state"] == "alive" else 0) for _, d in sorted(ppn.items())])
    for key, kind, help_text in (
        ("current_conn", "gauge", "Requests in flight to the node"),
        ("total_conn", "counter", "Requests sent to the node"),
        ("errors", "counter", "Errors talking to the node"),
        ("failures", "counter", "Times the node was marked failed"),
        ("bytes_to_node", "counter", "Bytes sent to the node"),
        ("bytes_from_node", "counter", "Bytes received from the node"),
    ):
        family(f"node_{key}", kind, help_text,
               [({"pool": d["pool"], "node": d["node"]}, d.get(key, 0)) for _, d in sorted(ppn.items())])
    rules = stats.get("rules", {})
    for key in ("executions", "aborts", "responds"):
        family(f"rule_{key}", "counter", f"Rule {key}", [({"rule": n}, d.get(key, 0)) for n, d in sorted(rules.items())])
    for key, value in sorted(stats.get("globals", {}).items()):
        family(key, "gauge" if "current" in key else "counter", f"Traffic total: {key}", [({}, value)])
    return "\n".join(lines) + "\n"


CSV_FIELDS = (
    "pxname", "svname", "qcur", "qmax", "scur", "smax", "slim", "stot", "bin", "bout", "dreq", "dresp", "ereq",
    "econ", "eresp", "wretr", "wredis", "status", "weight", "act", "bck", "chkfail", "chkdown", "lastchg",
    "downtime", "qlimit", "pid", "iid", "sid", "throttle", "lbtot", "tracked", "type", "rate", "rate_lim",
    "rate_max", "check_status", "check_code", "check_duration", "hrsp_1xx", "hrsp_2xx", "hrsp_3xx", "hrsp_4xx",
    "hrsp_5xx", "hrsp_other", "hanafail", "req_rate", "req_rate_max", "req_tot", "cli_abrt", "srv_abrt",
)  # fmt: skip


def csv(stats: dict, pool_cfgs: dict | None = None) -> str:
    """HAProxy ``show stat`` CSV: a FRONTEND row per virtual server, a row per node and a BACKEND row per pool."""
    rows = ["# " + ",".join(CSV_FIELDS)]

    def row(**kw):
        rows.append(",".join(str(kw.get(f, "")) for f in CSV_FIELDS))

    for name, d in sorted(stats.get("virtual_servers", {}).items()):
        row(pxname=name, svname="FRONTEND", scur=d["current_conn"], smax=d["max_conn"], stot=d["total_conn"],
            bin=d["bytes_in"], bout=d["bytes_out"], ereq=d["connection_errors"], dreq=d["discard"],
            status="OPEN" if d.get("state") == "running" else "STOP", type=0, req_tot=d["total_requests"])
    ppn = stats.get("nodes", {}).get("per_pool_node", {})
    for pname, p in sorted(stats.get("pools", {}).items()):
        up = 0
        for _, d in sorted(ppn.items()):
            if d["pool"] != pname:
                continue
            status = {"disabled": "MAINT", "draining": "DRAIN"}.get(d["node_state"], "UP")
            if d["state"] == "dead":
                status = "DOWN"
            up += status == "UP"
            row(pxname=pname, svname=d["node"], scur=d["current_conn"], stot=d["total_conn"],
                bin=d["bytes_to_node"], bout=d["bytes_from_node"], econ=d["errors"], chkfail=d["failures"],
                chkdown=d["failures"], status=status, act=1, bck=0, type=2, lbtot=d["total_conn"], weight=1)
        row(pxname=pname, svname="BACKEND", qcur=p["conns_queued"], stot=p["total_conn"], bin=p["bytes_in"],
            bout=p["bytes_out"], status="UP" if up else "DOWN", act=up, bck=0, type=1, lbtot=p["total_conn"])
    return "\n".join(rows) + "\n"
