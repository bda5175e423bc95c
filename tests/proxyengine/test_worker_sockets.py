"""With several workers, each has its own listening socket on a TCP port (SO_REUSEPORT), and new connections are dealt
to them in turn; one shared socket let the worker that woke first accept a whole burst of connections."""

import json
import os
import socket

import pytest

from proxyengine.config import ConfigError, parse_config
from proxyengine.master import Master, worker_cpus


def _master(workers: int) -> Master:
    m = Master.__new__(Master)  # only what binding needs (no configuration file, no workers)
    m.nworkers, m.sockets, m.spread = workers, {}, "in turn"
    return m


def test_each_worker_has_its_own_socket_on_a_tcp_port_and_connections_reach_both():
    key = ("tcp", "127.0.0.1", 0)
    socks = _master(2)._bind(key)
    try:
        assert len(socks) == 2
        assert socks[0].getsockname()[1] == socks[1].getsockname()[1]  # port 0: both on the port the first got
        assert all(s.getsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT) for s in socks)
        assert Master._of_worker({key: socks}, 1)[key] is socks[1]
        port = socks[0].getsockname()[1]
        clients = [socket.create_connection(("127.0.0.1", port)) for _ in range(32)]
        accepted = []
        for s in socks:
            s.setblocking(False)
            n = 0
            while True:
                try:
                    conn, _ = s.accept()
                except BlockingIOError:
                    break
                conn.close()
                n += 1
            accepted.append(n)
        for c in clients:
            c.close()
        # root (CI): dealt in turn by the eBPF program; else spread by the kernel's hash of each 4-tuple
        assert accepted == [16, 16] if os.geteuid() == 0 else sum(accepted) == 32 and min(accepted) > 0, accepted
    finally:
        for s in socks:
            s.close()


def test_one_worker_and_udp_keep_one_socket():
    one = _master(1)._bind(("tcp", "127.0.0.1", 0))
    udp = _master(2)._bind(("udp", "127.0.0.1", 0))
    try:
        assert len(one) == 1 and len(udp) == 1
        assert not one[0].getsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT)
        assert Master._of_worker({"k": udp}, 1)["k"] is udp[0]
    finally:
        for s in one + udp:
            s.close()


def test_workers_are_bound_each_to_a_cpu_of_its_own_while_there_are_enough(monkeypatch):
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {5, 2, 7})  # what taskset or a cpuset left us
    assert worker_cpus(2, "auto") == {0: 2, 1: 5}
    assert worker_cpus(3, "auto") == {0: 2, 1: 5, 2: 7}
    assert worker_cpus(4, "auto") == {}  # more workers than CPUs: the scheduler places them
    assert worker_cpus(1, "auto") == {}  # one worker is left free to move
    assert worker_cpus(2, "off") == {}


def test_cpu_affinity_is_auto_or_off():
    doc = {"format": 1, "node": {"cpu_affinity": "always"}}
    with pytest.raises(ConfigError, match="cpu_affinity"):
        parse_config(json.dumps(doc))
    assert parse_config(json.dumps({"format": 1})).node.cpu_affinity == "auto"
    assert parse_config(json.dumps({"format": 1, "node": {"cpu_affinity": "off"}})).node.cpu_affinity == "off"
