"""New connections dealt to a listener's SO_REUSEPORT sockets in turn by the eBPF program (real sockets, real kernel)."""

import contextlib
import os
import socket

import pytest

from proxyengine import reuseport
from proxyengine.engine import bind_socket

needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="loading an eBPF program needs CAP_BPF (CI runs as root)")


@contextlib.contextmanager
def _group(n):
    """``n`` SO_REUSEPORT sockets on one port, as the master binds them: (their port, the sockets, a list for the
    test's client sockets); all closed afterwards."""
    first = bind_socket(("tcp", "127.0.0.1", 0), reuseport=True)
    port = first.getsockname()[1]
    socks = [first] + [bind_socket(("tcp", "127.0.0.1", port), reuseport=True) for _ in range(n - 1)]
    clients = []
    try:
        yield port, socks, clients
    finally:
        for s in socks + clients:
            s.close()


def _connect(port, count, clients):
    clients += [socket.create_connection(("127.0.0.1", port)) for _ in range(count)]


def _accepted(socks):
    counts = []
    for s in socks:
        n = 0
        while True:
            try:
                s.accept()[0].close()
            except BlockingIOError:
                break
            n += 1
        counts.append(n)
    return counts


@needs_root
@pytest.mark.parametrize("workers, expect", [(2, [25, 25]), (3, [17, 17, 16]), (4, [13, 13, 12, 12])])
def test_connections_are_dealt_in_turn(workers, expect):
    with _group(workers) as (port, socks, clients):
        assert reuseport.deal_in_turn(socks[0], workers) is None
        _connect(port, 50, clients)
        assert _accepted(socks) == expect  # the kernel's hash of 50 addresses is rarely this even


@needs_root
def test_a_socket_bound_later_still_gets_its_turn():
    """The engine's master binds all of a listener's sockets and then attaches; the order they were bound in is the
    order of the workers."""
    with _group(2) as (port, socks, clients):
        assert reuseport.deal_in_turn(socks[1], 2) is None  # attached through any socket of the group
        _connect(port, 10, clients)
        assert _accepted(socks) == [5, 5]


def test_one_worker_needs_no_program():
    s = bind_socket(("tcp", "127.0.0.1", 0))
    try:
        assert reuseport.deal_in_turn(s, 1) is None
    finally:
        s.close()


def test_without_bpf_the_group_keeps_the_kernels_hash(monkeypatch):
    def refuse(cmd, attr):
        raise OSError(1, "Operation not permitted")

    monkeypatch.setattr(reuseport, "_bpf", refuse)
    with _group(2) as (port, socks, clients):
        assert reuseport.deal_in_turn(socks[0], 2) == "cannot create the eBPF map: Operation not permitted"
        _connect(port, 20, clients)
        assert sum(_accepted(socks)) == 20  # still served, spread by the hash


def test_the_program_is_what_the_kernel_expects():
    code = reuseport.program(2, map_fd=7)
    assert len(code) % 8 == 0 and len(code) // 8 == 14
    assert code[4:8] == (7).to_bytes(4, "little")  # the map's fd in the 64-bit load
