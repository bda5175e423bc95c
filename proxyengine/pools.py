"""Pools at run time: node states, the seven load-balancing algorithms, connection limits and the queue.

Selection is pure: ``Pool.select`` looks only at the nodes' counters and states, so the algorithms are
tested without a network. Counters are plain integer fields, summed when statistics are read.
"""

from __future__ import annotations

import random
import time
from collections import deque

from .config import NodeEntry, PoolConfig

DISCARD_POOL = "discard"


class Node:
    """One node of one pool: its configured state, health, counters and idle keep-alive connections. (Compiled, a C
    struct: see pools.pxd.)"""

    def __init__(self, entry: NodeEntry):
        self.address = entry.address
        self.host = entry.host
        self.port = entry.port
        self.weight = entry.weight
        self.priority = entry.priority
        self.state = entry.state
        self.monitor_failed: set[str] = set()
        self.passive_failed_until = 0.0
        self.connect_failures = 0
        self.failed_since = 0.0
        self.current_conn = 0
        self.current_requests = 0
        self.total_conn = 0
        self.new_conn = 0
        self.pooled_conn = 0
        self.errors = 0
        self.failures = 0
        self.bytes_to_node = 0
        self.bytes_from_node = 0
        self.rt_ewma = 0.0
        self.rt_min = 0.0
        self.rt_max = 0.0
        self.rt_sum = 0.0
        self.rt_count = 0
        self.idle: list = []  # keep-alive connections to this node (HttpNodeProtocol), most recently used last
        # open connections to this node with a ``close()`` (node.close_on_death closes them when it fails)
        self.active: set = set()

    def alive(self, now: float) -> bool:
        return not self.monitor_failed and self.passive_failed_until <= now

    def health(self, now: float) -> str:
        """vTM node statistics state: alive, dead, unknown."""
        return "alive" if self.alive(now) else "dead"

    def record_response_time(self, seconds: float) -> None:
        ms = seconds * 1000.0
        if self.rt_count:
            self.rt_ewma = self.rt_ewma * 0.8 + ms * 0.2
            if ms < self.rt_min:
                self.rt_min = ms
        else:
            self.rt_ewma = self.rt_min = ms
        if ms > self.rt_max:
            self.rt_max = ms
        self.rt_sum += ms
        self.rt_count += 1

    def reconfigure(self, entry: NodeEntry) -> None:
        """A reload kept this node: take the new configured fields, keep health, counters and connections."""
        self.weight = entry.weight
        self.priority = entry.priority
        self.state = entry.state

    def close_idle(self) -> None:
        idle, self.idle = self.idle, []
        for conn in idle:
            conn.close()

    def close_all(self) -> None:
        """node.close_on_death: the node failed, so every connection to it goes, busy or idle."""
        self.close_idle()
        for conn in list(self.active):
            conn.close()
        self.active.clear()


# -- algorithms: choose(candidates) -> Node; candidates is never empty -------------------------------------------
# Compiled, each is a class of C structs (pools.pxd) whose choose the pool calls in C.


class Algorithm:
    """How a pool chooses among its candidate nodes."""

    name = ""

    def __init__(self, rng: random.Random | None = None):
        self.rng = rng or random.Random()

    def choose(self, nodes: list[Node]) -> Node:
        raise NotImplementedError


class RoundRobin(Algorithm):
    name = "round_robin"

    def __init__(self, rng: random.Random | None = None):
        Algorithm.__init__(self, rng)
        self.next = 0

    def choose(self, nodes: list[Node]) -> Node:
        node = nodes[self.next % len(nodes)]
        self.next += 1
        return node


class WeightedRoundRobin(Algorithm):
    """Smooth weighted round robin (nginx's): exact proportions, and no bursts to the heaviest node."""

    name = "weighted_round_robin"

    def __init__(self, rng: random.Random | None = None):
        Algorithm.__init__(self, rng)
        self.current: dict[str, int] = {}

    def choose(self, nodes: list[Node]) -> Node:
        total = 0
        best = None
        best_cw = 0
        cur = self.current
        for n in nodes:
            cw = cur.get(n.address, 0) + n.weight
            cur[n.address] = cw
            total += n.weight
            if best is None or cw > best_cw:
                best, best_cw = n, cw
        cur[best.address] = best_cw - total
        return best


def _least(nodes: list[Node], keys: list[float], rng: random.Random) -> Node:
    """The node with the smallest key (``keys[i]`` is ``nodes[i]``'s); a random one of them on a tie."""
    best = min(keys)
    ties = [n for n, k in zip(nodes, keys, strict=True) if k == best]
    return ties[0] if len(ties) == 1 else rng.choice(ties)


class LeastConnections(Algorithm):
    name = "least_connections"

    def choose(self, nodes: list[Node]) -> Node:
        return _least(nodes, [n.current_conn for n in nodes], self.rng)


class WeightedLeastConnections(Algorithm):
    """Fewest connections relative to weight; an idle pool splits by weight (weighted random among ties)."""

    name = "weighted_least_connections"

    def choose(self, nodes: list[Node]) -> Node:
        loads = [n.current_conn / n.weight for n in nodes]
        best = min(loads)
        ties = [n for n, load in zip(nodes, loads, strict=True) if load == best]
        if len(ties) == 1:
            return ties[0]
        return self.rng.choices(ties, weights=[n.weight for n in ties])[0]


class FastestResponseTime(Algorithm):
    """Lowest recent mean response time; nodes never measured are tried first."""

    name = "fastest_response_time"

    def choose(self, nodes: list[Node]) -> Node:
        return _least(nodes, [n.rt_ewma if n.rt_count else -1.0 for n in nodes], self.rng)


class Perceptive(Algorithm):
    """vTM's perceptive: load (connections) times speed (response time), so a slow or busy node gets less."""

    name = "perceptive"

    def choose(self, nodes: list[Node]) -> Node:
        measured = [n.rt_ewma for n in nodes if n.rt_count]
        default_rt = (sum(measured) / len(measured)) if measured else 1.0
        keys = [(n.current_conn + 1) * max(n.rt_ewma if n.rt_count else default_rt, 0.01) for n in nodes]
        return _least(nodes, keys, self.rng)


class RandomChoice(Algorithm):
    name = "random"

    def choose(self, nodes: list[Node]) -> Node:
        return self.rng.choice(nodes)


ALGORITHM_CLASSES = {
    cls.name: cls
    for cls in (RoundRobin, WeightedRoundRobin, LeastConnections, WeightedLeastConnections, FastestResponseTime,
                Perceptive, RandomChoice)
}
# vTM statistics use the old short names.
ALGORITHM_STAT_NAMES = {
    "round_robin": "roundrobin", "weighted_round_robin": "wroundrobin", "perceptive": "cells",
    "least_connections": "connections", "weighted_least_connections": "wconnections",
    "fastest_response_time": "responsetimes", "random": "random",
}  # fmt: skip


def priority_filter(nodes: list[Node], min_nodes: int) -> list[Node]:
    """Highest-priority groups first, adding lower groups until at least ``min_nodes`` nodes are in."""
    out: list[Node] = []
    for prio in sorted({n.priority for n in nodes}, reverse=True):
        out.extend(n for n in nodes if n.priority == prio)
        if len(out) >= min_nodes:
            break
    return out


class Waiter:
    """A request or connection queued because every candidate node is at max_connections_per_node."""

    __slots__ = ("callback", "timer", "queued_at", "exclude")

    def __init__(self, callback, exclude):
        self.callback = callback
        self.timer = None
        self.queued_at = time.monotonic()
        self.exclude = exclude


class Pool:
    """A pool at run time."""

    def __init__(self, cfg: PoolConfig, rng: random.Random | None = None, old: Pool | None = None):
        self.cfg = cfg
        self.name = cfg.name
        self.discard = cfg.name == DISCARD_POOL
        # what every request reads, copied from cfg (compiled: typed fields of the struct, not attribute lookups)
        self.priority_enabled = cfg.priority_enabled
        self.max_connections_per_node = cfg.max_connections_per_node
        self.max_reply_time = cfg.max_reply_time
        self.keepalive = cfg.keepalive
        self.keepalive_non_idempotent = cfg.keepalive_non_idempotent
        self.max_idle_connections_pernode = cfg.max_idle_connections_pernode
        self.nodes: list[Node] = []
        for entry in cfg.nodes:
            node = old.by_address.get(entry.address) if old is not None else None
            if node is None:
                node = Node(entry)
            else:  # the same object, so sessions in flight release the counters the new pool reads
                node.reconfigure(entry)
            self.nodes.append(node)
        self.by_address: dict[str, Node] = {n.address: n for n in self.nodes}
        self.algorithm = ALGORITHM_CLASSES[cfg.algorithm](rng)
        self.queue: deque[Waiter] = deque()
        # runtime links, set by the engine
        self.persistence = None  # persistence.Persistence or None
        self.failure_pool: Pool | None = None
        self.bandwidth = None
        self.ssl_context = None
        # counters
        self.total_conn = 0
        self.bytes_in = 0
        self.bytes_out = 0
        self.queue_timeouts = 0
        self.max_queue_time = 0.0
        self.queued_total = 0
        self.queue_time_sum = 0.0
        self.session_migrated = 0

    # -- state ------------------------------------------------------------------------------------------------

    def take_over(self, old: Pool) -> None:
        """Keep counters (and the algorithm's position) across a reload."""
        for name in ("total_conn", "bytes_in", "bytes_out", "queue_timeouts", "max_queue_time", "queued_total",
                     "queue_time_sum", "session_migrated"):
            setattr(self, name, getattr(old, name))
        if type(old.algorithm) is type(self.algorithm):
            self.algorithm = old.algorithm
        # waiters queued on the old pool move here, so they are served by the new node set
        self.queue.extend(old.queue)
        old.queue.clear()

    def close(self, keep: set[str] = frozenset()) -> None:
        """The pool went away (or lost nodes in a reload): drop idle connections of nodes not in ``keep``."""
        for node in self.nodes:
            if node.address not in keep:
                node.close_idle()
        while self.queue:
            w = self.queue.popleft()
            if w.timer:
                w.timer.cancel()
            w.callback(None)

    def all_failed(self, now: float) -> bool:
        return not any(n.state != "disabled" and n.alive(now) for n in self.nodes)

    def state(self, now: float) -> str:
        return "active" if not self.all_failed(now) else "dead"

    # -- selection (pure) -----------------------------------------------------------------------------------------

    def candidates(self, now: float, exclude: set[str] | frozenset = frozenset()) -> list[Node]:
        # Node.alive inline: this runs for every request (a loop, not a comprehension: compiled, n is typed)
        nodes = []
        for n in self.nodes:
            if n.state == "active" and not n.monitor_failed and n.passive_failed_until <= now and (
                    not exclude or n.address not in exclude):  # fmt: skip
                nodes.append(n)
        if self.priority_enabled and nodes:
            nodes = priority_filter(nodes, self.cfg.priority_nodes)
        return nodes

    def select(self, now: float, exclude: set[str] | frozenset = frozenset()) -> tuple[Node | None, str]:
        """Choose a node for a new session: (node, "ok"), (None, "full") or (None, "none")."""
        nodes = self.candidates(now, exclude)
        if not nodes:
            return None, "none"
        limit = self.max_connections_per_node
        if limit:
            nodes = [n for n in nodes if n.current_conn < limit]
            if not nodes:
                return None, "full"
        return self.algorithm.choose(nodes), "ok"

    def usable_persistent(self, node: Node, now: float) -> bool:
        """A session already on ``node`` may stay there while it is active or draining and alive."""
        if node.state == "disabled" or not node.alive(now):
            return False
        limit = self.cfg.max_connections_per_node
        return not limit or node.current_conn < limit

    def server_hostname(self, node: Node) -> str | None:
        """What a TLS connection to ``node`` names (``server_hostname``): the node's host when the pool sends
        SNI (ssl.server_name) or checks the certificate's name (strict_verify, which needs it), "" for no SNI
        (an IP address never goes in SNI); None for a plain connection."""
        if self.ssl_context is None:
            return None
        cfg = self.cfg
        return node.host if cfg.ssl_server_name or cfg.ssl_strict_verify else ""

    def max_attempts(self) -> int:
        return self.cfg.max_connection_attempts or len(self.nodes)

    # -- passive monitoring --------------------------------------------------------------------------------------

    def connect_failed(self, node: Node, now: float) -> bool:
        """A real connection to ``node`` failed; True when that marks the node failed (and with close_on_death,
        closes every connection to it, as a monitor's failure does)."""
        node.errors += 1
        node.connect_failures += 1
        if self.cfg.passive_monitoring and node.connect_failures >= self.cfg.node_connection_attempts:
            was_alive = node.passive_failed_until <= now
            node.passive_failed_until = now + self.cfg.retry_fail_time
            if was_alive:
                node.failures += 1
                node.failed_since = now
                if self.cfg.close_on_death:  # failed by passive monitoring: its connections go too
                    node.close_all()
                return True
        return False

    def connect_ok(self, node: Node) -> bool:
        """True if the node had been failed by passive monitoring and is now back."""
        node.connect_failures = 0
        if node.passive_failed_until:
            node.passive_failed_until = 0.0
            return True
        return False

    # -- connection limits and the queue ----------------------------------------------------------------------

    def enqueue(self, loop, callback, exclude) -> bool:
        """Queue a session until a node frees up; callback(node or None) runs once. False if the queue is full."""
        if self.cfg.max_queue_size and len(self.queue) >= self.cfg.max_queue_size:
            return False
        w = Waiter(callback, exclude)
        if self.cfg.queue_timeout:
            w.timer = loop.call_later(self.cfg.queue_timeout, self._queue_timeout, w)
        self.queue.append(w)
        self.queued_total += 1
        return True

    def _queue_timeout(self, w: Waiter) -> None:
        try:
            self.queue.remove(w)
        except ValueError:
            return
        self.queue_timeouts += 1
        w.callback(None)

    def release(self, node: Node) -> None:
        """A session on ``node`` ended: a queued one may take its place."""
        node.current_conn -= 1
        if self.queue:
            self.dispatch_queue()

    def dispatch_queue(self) -> None:
        now = time.time()
        while self.queue:
            w = self.queue[0]
            node, why = self.select(now, w.exclude)
            if node is None:
                if why == "none":  # every node failed meanwhile: let the waiters fail over now
                    self.queue.popleft()
                    if w.timer:
                        w.timer.cancel()
                    w.callback(None)
                    continue
                return
            self.queue.popleft()
            if w.timer:
                w.timer.cancel()
            waited = time.monotonic() - w.queued_at
            self.queue_time_sum += waited
            self.max_queue_time = max(self.max_queue_time, waited)
            w.callback(node)

    def info(self, now: float) -> dict[str, list[str]]:
        """Node addresses by state, for rules (pool.activenodes) and the health command."""
        out: dict[str, list[str]] = {"active": [], "draining": [], "disabled": [], "failed": []}
        for n in self.nodes:
            if n.state == "disabled":
                out["disabled"].append(n.address)
            elif not n.alive(now):
                out["failed"].append(n.address)
            else:
                out[n.state].append(n.address)
        return out
