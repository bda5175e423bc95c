"""The engine's Python cost per request with the sockets taken out: bench/run.py's configuration (statistics, a pool
of two nodes, a health monitor configured, the routing rule, X-Forwarded-For), protocols driven with fake transports.

    .venv/bin/python bench/hotpath.py [--requests 20000] [--norule] [--profile]
    .venv/bin/python bench/hotpath.py --compare /tmp/base --requests 2000   # A/B against another checkout
    .venv/bin/python bench/hotpath.py --opcodes [--top 30] [--lines]       # Python opcodes per request
    .venv/bin/python bench/hotpath.py --close ...                           # a new connection per request
    .venv/bin/python bench/hotpath.py --pure ...                            # the .py modules, not the compiled

``--opcodes`` always counts the .py modules (the compiled ones execute no bytecode).

Prints µs per request (CPU time, best of 7 runs: noise on a shared machine only ever adds time). ``--opcodes``
counts the bytecode instructions and Python calls one request executes instead: not time, but exact and
repeatable on a shared machine (with ``--compare``, for both trees), and where they go (per function or line).
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import cProfile
import gc
import importlib
import json
import os
import pstats
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import proxies  # noqa: E402

REQUEST = b"GET /small HTTP/1.1\r\nHost: 127.0.0.1:8080\r\n\r\n"  # what wrk sends
CLOSE_REQUEST = b"GET /small HTTP/1.1\r\nHost: 127.0.0.1:8080\r\nConnection: close\r\n\r\n"  # wrk -H "Connection: close"
RESPONSE = (b"HTTP/1.1 200 OK\r\nServer: nginx/1.22.1\r\nDate: Tue, 25 Nov 2026 10:00:00 GMT\r\n"
            b"Content-Type: application/octet-stream\r\nContent-Length: 100\r\n"
            b"Last-Modified: Tue, 25 Nov 2026 09:00:00 GMT\r\nConnection: keep-alive\r\nETag: \"6925-64\"\r\n"
            b"Accept-Ranges: bytes\r\n\r\n" + b"x" * 99 + b"\n")  # what the nginx back-end answers (fmt: skip)


class FakeTransport(asyncio.Transport):
    def __init__(self):
        super().__init__()
        self.n = 0
        self.closed = False

    def write(self, data):
        self.n += 1

    def writelines(self, lines):
        self.n += 1

    def close(self):
        self.closed = True

    abort = close

    def is_closing(self):
        return self.closed

    def get_extra_info(self, name, default=None):
        return {"peername": ("127.0.0.1", 5555), "sockname": ("127.0.0.1", 8080)}.get(name, default)

    def pause_reading(self):
        pass

    def resume_reading(self):
        pass

    def set_write_buffer_limits(self, high=None, low=None):
        pass


def load_engine(root: Path):
    """Import proxyengine from ``root`` (another checkout, for an A/B comparison in one process)."""
    for name in [m for m in sys.modules if m == "proxyengine" or m.startswith("proxyengine.")]:
        del sys.modules[name]
    sys.path.insert(0, str(root))
    try:
        mods = {m: importlib.import_module(f"proxyengine.{m}") for m in ("config", "engine", "http", "worker")}
    finally:
        sys.path.remove(str(root))
    return mods


def build(mods, path: Path, loop, close: bool = False):
    """An engine on ``loop`` with one client connection and pooled node connections; returns one request's work
    (with ``close``: a new client connection for each request, closed after its response)."""
    engine = mods["engine"].Engine(loop, run_monitors=False, config_path=str(path))
    loop.run_until_complete(engine.apply(mods["config"].load_config(str(path))))
    vs = engine.virtual_servers["web"]
    listener = next(lst for lst in engine.listeners.values() if lst.vs is vs)
    client = mods["http"].HttpClientProtocol(engine, listener)
    ct = FakeTransport()
    client.connection_made(ct)
    pool = vs.pool
    for node in pool.nodes:
        conn = mods["http"].HttpNodeProtocol(engine, node, pool)
        conn.connection_made(FakeTransport())
        node.idle.append(conn)

    def one() -> None:
        client.data_received(REQUEST)
        conn = client.exchanges[0].conn
        conn.data_received(RESPONSE)

    def one_connection() -> None:
        c = mods["http"].HttpClientProtocol(engine, listener)
        t = FakeTransport()
        c.connection_made(t)
        c.data_received(CLOSE_REQUEST)
        c.exchanges[0].conn.data_received(RESPONSE)
        assert t.closed, "the connection was not closed after its response"
        c.connection_lost(None)

    work = one_connection if close else one
    for _ in range(1000):
        work()
    assert close or (ct.n >= 1000 and not client.exchanges), "responses did not come back"
    return engine, work


def opcodes(one, n: int, top: int = 0, lines: bool = False) -> tuple[float, float]:
    """Bytecode instructions and Python calls per request (sys.settrace with opcode events), with the ``top``
    functions (or lines) printed."""
    ops: collections.Counter = collections.Counter()
    calls = 0

    def tracer(frame, event, arg):
        nonlocal calls
        frame.f_trace_opcodes = True
        if event == "call":
            calls += 1
        elif event == "opcode":
            code = frame.f_code
            ops[(code.co_name, code.co_filename.rsplit("/", 1)[-1], frame.f_lineno if lines else 0)] += 1
        return tracer

    sys.settrace(tracer)
    try:
        for _ in range(n):
            one()
    finally:
        sys.settrace(None)
    for (name, file, line), count in ops.most_common(top):
        print(f"  {count / n:7.1f}  {name} ({file}{f':{line}' if lines else ''})")
    return sum(ops.values()) / n, calls / n


def timed(one, n: int) -> float:
    t = time.process_time()
    for _ in range(n):
        one()
    return (time.process_time() - t) / n * 1e6


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--requests", type=int, default=20000)
    ap.add_argument("--norule", action="store_true", help="the virtual server without its rule (the floor)")
    ap.add_argument("--profile", action="store_true")
    ap.add_argument("--close", action="store_true", help="a new client connection per request (Connection: close)")
    ap.add_argument("--pure", action="store_true", help="the engine's .py modules, not its compiled ones")
    ap.add_argument("--compare", default="", help="another checkout's root: A/B in one process, interleaved")
    ap.add_argument("--batches", type=int, default=15)
    ap.add_argument("--opcodes", action="store_true", help="count bytecode instructions per request (exact)")
    ap.add_argument("--top", type=int, default=0, help="with --opcodes: the functions that execute most")
    ap.add_argument("--lines", action="store_true", help="with --opcodes --top: by line, not by function")
    args = ap.parse_args()
    if args.pure or args.opcodes:  # opcodes are counted in Python code only: the compiled modules would not count
        os.environ["PROXYENGINE_PURE"] = "1"
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        (d / "log").mkdir()
        nodes = [proxies.free_port(), proxies.free_port()]

        def config(name: str) -> Path:
            cfg = proxies.engine_config(d, nodes, 1, proxies.free_port(), proxies.free_port())
            if args.norule:
                cfg["config"]["virtual_servers"]["web"]["properties"]["basic"]["request_rules"] = []
            path = d / name
            path.write_text(json.dumps(cfg))
            return path

        path = config("engine.json")
        mods = load_engine(ROOT)
        loop = mods["worker"].new_event_loop()  # uvloop, as the engine runs
        engine, one = build(mods, path, loop, args.close)
        other = None
        if args.compare:
            other_engine, other = build(load_engine(Path(args.compare).resolve()), config("other.json"), loop,
                                        args.close)
        n = args.requests
        gc.collect()
        gc.freeze()
        if os.environ.get("GC_THRESHOLD"):
            gc.set_threshold(int(os.environ["GC_THRESHOLD"]), 50, 1000)
        if args.profile:
            prof = cProfile.Profile()
            prof.enable()
            for _ in range(n):
                one()
            prof.disable()
            pstats.Stats(prof).sort_stats("tottime").print_stats(35)
        what = ("no rule" if args.norule else "routing rule") + (", connection per request" if args.close else "")
        if args.opcodes:
            for label, fn in [("this tree", one)] + ([(args.compare, other)] if other is not None else []):
                ops, calls = opcodes(fn, 500, args.top, args.lines)
                print(f"{what}: {label}: {ops:.0f} Python opcodes and {calls:.1f} Python calls per request")
        elif other is None:
            best = min(timed(one, n) for _ in range(7))
            print(f"{what}: {best:.1f} us per request (Python, no sockets)")
        else:  # interleaved batches in one process: the machine's noise hits both alike
            ours, theirs = [], []
            for i in range(args.batches):  # each tree first in every other batch: going second was ~5% faster
                if i % 2:
                    ours.append(timed(one, n))
                    theirs.append(timed(other, n))
                else:
                    theirs.append(timed(other, n))
                    ours.append(timed(one, n))
            ratio = statistics.median(a / b for a, b in zip(ours, theirs, strict=True))
            print(f"{what}: this tree {min(ours):.1f} us (median {statistics.median(ours):.1f}), {args.compare} "
                  f"{min(theirs):.1f} us (median {statistics.median(theirs):.1f}); ratio this/other, median of "
                  f"{args.batches} interleaved batches: {ratio:.3f}")
            loop.run_until_complete(other_engine.stop())
        loop.run_until_complete(engine.stop())
        loop.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
