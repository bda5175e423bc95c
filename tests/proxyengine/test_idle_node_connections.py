"""Idle keep-alive connections to a node: max_idle_connections_pernode is enforced by the once-a-second sweep
(the oldest idle ones closed first), so a burst of responses does not close connections the next burst reopens."""

import asyncio
import time
from types import SimpleNamespace

from proxyengine.config import NodeEntry
from proxyengine.http import IDLE_CEILING, HttpNodeProtocol, sweep_idle
from proxyengine.pools import Node


class Transport(asyncio.Transport):
    def __init__(self):
        super().__init__()
        self.closed = False

    def close(self):
        self.closed = True

    def is_closing(self):
        return self.closed

    def set_write_buffer_limits(self, high=None, low=None):
        pass


def _conns(n, node, engine):
    out = []
    for _ in range(n):
        c = HttpNodeProtocol(engine, node, None)
        c.connection_made(Transport())
        out.append(c)
    return out


def test_over_the_limit_kept_until_the_sweep_then_oldest_closed_first():
    engine = SimpleNamespace(loop=SimpleNamespace(time=time.monotonic))
    node = Node(NodeEntry("10.0.0.1:80", "10.0.0.1", 80))
    conns = _conns(12, node, engine)
    for c in conns:
        c.to_idle(4)  # a burst: all 12 come back, over the limit of 4 but under IDLE_CEILING x 4
    assert node.idle == conns and not any(c.transport.closed for c in conns)
    now = [time.monotonic()]  # (idle_since is CLOCK_MONOTONIC, the event loop's clock)
    sweep_idle([node], now[0], timeout=60, max_idle=4)
    assert node.idle == conns[-4:]  # the newest stay
    assert all(c.transport.closed for c in conns[:8]) and not any(c.transport.closed for c in conns[8:])
    # idle for longer than the timeout: closed whatever the limit
    sweep_idle([node], now[0] + 61, timeout=60, max_idle=4)
    assert node.idle == []


def test_the_ceiling_and_a_limit_of_zero_close_at_once():
    engine = SimpleNamespace(loop=SimpleNamespace(time=lambda: 1.0))
    node = Node(NodeEntry("10.0.0.1:80", "10.0.0.1", 80))
    conns = _conns(2 * IDLE_CEILING + 1, node, engine)
    for c in conns:
        c.to_idle(2)
    assert len(node.idle) == 2 * IDLE_CEILING and conns[-1].transport.closed
    other = Node(NodeEntry("10.0.0.2:80", "10.0.0.2", 80))
    (c,) = _conns(1, other, engine)
    c.to_idle(0)
    assert other.idle == [] and c.transport.closed
