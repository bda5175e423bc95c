"""A worker process: one event loop running an Engine, driven by the master over a socket pair."""

from __future__ import annotations

import asyncio
import gc
import json
import signal
import socket

from .config import parse_config
from .engine import Engine

DRAIN_SECONDS = 10.0


def new_event_loop() -> asyncio.AbstractEventLoop:
    """uvloop when it imports, plain asyncio otherwise."""
    try:
        import uvloop
    except ImportError:
        return asyncio.new_event_loop()
    return uvloop.new_event_loop()


class Channel:
    """The master's command channel: JSON lines in (with listening sockets attached to reloads), replies out."""

    def __init__(self, engine: Engine, sock: socket.socket, index: int):
        self.engine = engine
        self.sock = sock
        self.index = index
        self.buf = b""
        self.fds: list[int] = []
        self.busy = asyncio.Lock()
        sock.setblocking(False)
        engine.loop.add_reader(sock.fileno(), self._readable)

    def _readable(self) -> None:
        try:
            data, fds, _, _ = socket.recv_fds(self.sock, 1 << 20, 64)
        except BlockingIOError:
            return
        except OSError:
            data, fds = b"", []
        if not data:
            self.engine.loop.remove_reader(self.sock.fileno())
            self.engine.loop.create_task(self.engine.stop_and_exit())
            return
        self.fds.extend(fds)
        self.buf += data
        while b"\n" in self.buf:
            line, self.buf = self.buf.split(b"\n", 1)
            msg = json.loads(line)
            fds, self.fds = self.fds, []
            self.engine.loop.create_task(self._handle(msg, fds))

    async def _handle(self, msg: dict, fds: list[int]) -> None:
        async with self.busy:  # one command at a time, replies in order
            if msg.get("cmd") == "reload" and msg.get("listen"):
                socks = {}
                for key, fd in zip(msg["listen"], fds, strict=False):
                    s = socket.socket(fileno=fd)
                    s.setblocking(False)
                    socks[(key[0], key[1], key[2])] = s
                msg["_sockets"] = {**self.engine.inherited, **socks}
                self.engine.inherited = msg["_sockets"]
            try:
                reply = await self.engine.handle(msg)
            except Exception as e:
                self.engine.events.internal_error(f"control command {msg.get('cmd')}", e)
                reply = {"ok": False, "error": f"internal error: {e!r}"}
            await self.send(reply)

    async def send(self, obj: dict) -> None:
        await self.engine.loop.sock_sendall(self.sock, json.dumps(obj).encode() + b"\n")

    def monitor_event(self, pool, node, monitor, ok, why) -> None:
        self.engine.loop.create_task(self.send({"event": "monitor", "worker": self.index, "pool": pool, "node": node,
                                                "monitor": monitor, "ok": ok, "why": why}))


def worker_main(index: int, chan: socket.socket, text: bytes, sockets: dict, nworkers: int,
                failures: list[dict] = ()) -> int:
    loop = new_event_loop()
    asyncio.set_event_loop(loop)
    cfg = parse_config(text)
    engine = Engine(loop, run_monitors=(index == 0), workers=nworkers, process=f"worker{index}")
    engine.inherited = dict(sockets)
    done = loop.create_future()

    async def stop_and_exit():
        await engine.stop()
        deadline = loop.time() + DRAIN_SECONDS
        while loop.time() < deadline and any(vs.stats.current_conn > 0 for vs in engine.all_virtual_servers()):
            await asyncio.sleep(0.05)
        if not done.done():
            done.set_result(0)

    engine.stop_and_exit = stop_and_exit
    loop.add_signal_handler(signal.SIGTERM, lambda: loop.create_task(stop_and_exit()))
    channel = Channel(engine, chan, index)
    if index == 0:
        engine.health_listener = channel.monitor_event
    loop.run_until_complete(engine.start(cfg, sockets))  # warnings are in the event log
    for msg in failures:  # a replacement worker: nodes the monitors hold failed right now
        loop.run_until_complete(engine.handle(msg))
    gc.collect()
    gc.freeze()  # PERFORMANCE-NOTES: start-up objects stay out of every later collection
    code = loop.run_until_complete(done)
    return code
