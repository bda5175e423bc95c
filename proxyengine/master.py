"""The master process: binds the listening sockets, forks the workers, serves the control socket.

The master runs no event loop (so forking a replacement worker is always safe): a selector over the
control socket, the workers' command channels and a signal pipe. Workers inherit the listening
sockets; sockets opened by a reload are passed to them over their channel (SCM_RIGHTS). Only worker 0
runs health monitors; the master relays its node transitions to the others.
"""

from __future__ import annotations

import json
import os
import selectors
import signal
import socket
import sys
import time

from . import stats as stats_mod
from .config import ConfigError, EngineConfig, load_config, parse_config
from .engine import bind_socket
from .events import EventLog
from .reuseport import deal_in_turn

ASK_TIMEOUT = 30.0


class WorkerHandle:
    def __init__(self, index: int, pid: int, chan: socket.socket):
        self.index = index
        self.pid = pid
        self.chan = chan
        self.buf = b""


class Master:
    def __init__(self, config_path: str, workers: int | None = None, run_as: tuple[int, int] | None = None):
        self.config_path = config_path
        # workers give up root for this (uid, gid) once forked; the master keeps it to bind new ports on reload
        self.run_as = run_as
        self.text = open(config_path, "rb").read()
        self.cfg: EngineConfig = parse_config(self.text)
        self.nworkers = workers or self.cfg.node.workers or os.cpu_count() or 1
        self.events = EventLog(self.cfg.node.log_dir, "master")
        # listener key -> its sockets: one per worker for TCP with several workers (SO_REUSEPORT, an eBPF program
        # dealing new connections to them in turn; one shared socket let the worker that woke first accept a whole
        # burst), else one
        self.sockets: dict[tuple, list[socket.socket]] = {}
        # worker index -> the CPU it is bound to (node.cpu_affinity): none with one worker, or more workers than CPUs
        self.cpus = worker_cpus(self.nworkers, self.cfg.node.cpu_affinity)
        # how new TCP connections are spread over the workers: "in turn", or why the kernel's address hash does it
        self.spread = "in turn" if self.nworkers > 1 else "one worker"
        self.workers: dict[int, WorkerHandle] = {}
        self.sel = selectors.DefaultSelector()
        self.stopping = False
        self.pending_events: list[dict] = []
        # nodes the monitors (in worker 0) hold failed: a replacement worker starts knowing them
        self.monitor_failures: dict[tuple, dict] = {}

    # -- sockets ---------------------------------------------------------------------------------------------

    def _bind_for(self, cfg: EngineConfig) -> tuple[dict, list[str]]:
        """Sockets for every listener of ``cfg``: kept ones reused, new ones bound."""
        out, warnings = {}, []
        for key, names in cfg.listener_keys().items():
            if key in self.sockets:
                out[key] = self.sockets[key]
                continue
            try:
                out[key] = self._bind(key)
            except OSError as e:
                warnings.append(f"virtual server {names[0]}: cannot listen on {key[1] or '*'}:{key[2]}: {e.strerror}")
        return out, warnings

    def _bind(self, key: tuple) -> list[socket.socket]:
        if key[0] != "tcp" or self.nworkers < 2:
            return [bind_socket(key)]
        socks = [bind_socket(key, reuseport=True)]
        try:
            port = socks[0].getsockname()[1]  # (port 0: the others join the port the first one got)
            for _ in range(self.nworkers - 1):
                socks.append(bind_socket((key[0], key[1], port), reuseport=True))
        except OSError:
            for sock in socks:
                sock.close()
            raise
        why_not = deal_in_turn(socks[0], len(socks))
        if why_not and self.spread == "in turn":
            self.spread = f"by the kernel's hash of addresses ({why_not})"
            self.events.log("warn", "engine", f"new connections are spread over the workers {self.spread}")
        return socks

    @staticmethod
    def _of_worker(sockets: dict, index: int) -> dict:
        """Worker ``index``'s socket for each listener key (its own, or the one all share)."""
        return {key: socks[index] if len(socks) > 1 else socks[0] for key, socks in sockets.items()}

    # -- workers ---------------------------------------------------------------------------------------------

    def spawn(self, index: int) -> None:
        parent, child = socket.socketpair()
        pid = os.fork()
        if pid == 0:
            try:
                parent.close()
                self.sel.close()
                for w in self.workers.values():
                    w.chan.close()
                signal.set_wakeup_fd(-1)
                for sig in (signal.SIGTERM, signal.SIGHUP, signal.SIGCHLD, signal.SIGINT):
                    signal.signal(sig, signal.SIG_DFL)
                if index in self.cpus:
                    try:
                        os.sched_setaffinity(0, {self.cpus[index]})
                    except OSError as e:  # (a CPU taken offline since the master started) unbound, but serving
                        print(f"worker {index}: cannot bind to CPU {self.cpus[index]}: {e.strerror}", file=sys.stderr)
                if self.run_as is not None:
                    os.setgroups([])
                    os.setgid(self.run_as[1])
                    os.setuid(self.run_as[0])
                from .worker import worker_main

                failures = [] if index == 0 else list(self.monitor_failures.values())
                code = worker_main(index, child, self.text, self._of_worker(self.sockets, index), self.nworkers,
                                   failures)
            except BaseException:
                import traceback

                traceback.print_exc()
                code = 1
            os._exit(code)
        child.close()
        parent.setblocking(True)
        w = WorkerHandle(index, pid, parent)
        self.workers[index] = w
        self.sel.register(parent, selectors.EVENT_READ, ("worker", w))

    def _read_line(self, w: WorkerHandle, timeout: float) -> dict | None:
        deadline = time.monotonic() + timeout
        while b"\n" not in w.buf:
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            try:
                w.chan.settimeout(left)  # EBADF once the worker was reaped and its channel closed
                chunk = w.chan.recv(1 << 20)
            except (TimeoutError, OSError):
                return None
            if not chunk:
                return None
            w.buf += chunk
        line, w.buf = w.buf.split(b"\n", 1)
        return json.loads(line)

    def ask(self, w: WorkerHandle, msg: dict, fds: list[int] = ()) -> dict:
        data = json.dumps(msg).encode() + b"\n"
        try:
            w.chan.setblocking(True)
            if fds:
                socket.send_fds(w.chan, [data], list(fds))
            else:
                w.chan.sendall(data)
        except OSError as e:
            return {"ok": False, "error": f"worker {w.index} is not answering: {e}"}
        while True:
            reply = self._read_line(w, ASK_TIMEOUT)
            if reply is None:
                return {"ok": False, "error": f"worker {w.index} did not answer"}
            if "event" in reply:
                self.pending_events.append(reply)
                continue
            return reply

    def ask_all(self, msg: dict) -> list[dict]:
        replies = [self.ask(w, msg) for w in list(self.workers.values())]
        self._relay_events()
        return replies

    def _relay_events(self) -> None:
        while self.pending_events:
            ev = self.pending_events.pop(0)
            if ev.get("event") == "monitor":
                msg = {"cmd": "_monitor", **{k: ev[k] for k in ("pool", "node", "monitor", "ok", "why")}}
                key = (msg["pool"], msg["node"], msg["monitor"])
                if msg["ok"]:
                    self.monitor_failures.pop(key, None)
                else:
                    self.monitor_failures[key] = msg
                for w in list(self.workers.values()):
                    if w.index != ev.get("worker"):
                        self.ask(w, msg)

    def _forget_monitor_failures(self) -> None:
        """Worker 0 runs the monitors and starts afresh: the others stop holding nodes failed on its old word
        (the new monitors report real failures again within delay x failures; retries cover the gap)."""
        for msg in self.monitor_failures.values():
            for w in list(self.workers.values()):
                if w.index != 0:
                    self.ask(w, {**msg, "ok": True, "why": "monitors restarted"})
        self.monitor_failures.clear()

    # -- commands --------------------------------------------------------------------------------------------

    def command(self, msg: dict) -> dict:
        cmd = msg.get("cmd")
        if cmd == "reload":
            return self.reload(msg.get("path"))
        if cmd == "stats":
            replies = self.ask_all({"cmd": "stats"})
            bad = [r for r in replies if not r.get("ok")]
            if bad:
                return bad[0]
            merged = stats_mod.merge([r["statistics"] for r in replies])
            fmt = msg.get("format", "json")
            if fmt == "prometheus":
                return {"ok": True, "text": stats_mod.prometheus(merged)}
            if fmt == "csv":
                return {"ok": True, "text": stats_mod.csv(merged)}
            return {"ok": True, "statistics": merged,
                    "per_second": stats_mod.merge_per_second([r["per_second"] for r in replies])}
        if cmd == "recent_connections":
            limit = int(msg.get("limit", 100))
            conns = []
            for r in self.ask_all({"cmd": "recent_connections", "limit": limit}):
                conns.extend(r.get("connections", []))
            conns.sort(key=lambda c: c["time"], reverse=True)
            return {"ok": True, "connections": conns[:limit]}
        if cmd in ("node_state",):
            replies = self.ask_all(msg)
            return next((r for r in replies if not r.get("ok")), replies[0] if replies else {"ok": False})
        if cmd == "health":
            w = self.workers.get(0) or next(iter(self.workers.values()), None)
            if w is None:
                return {"ok": False, "error": "no worker is running"}
            reply = self.ask(w, msg)
            self._relay_events()
            return reply
        if cmd == "events":
            evs = list(self.events.recent)
            for r in self.ask_all(msg):
                evs.extend(r.get("events", []))
            evs.sort(key=lambda e: e["time"])
            return {"ok": True, "events": evs[-int(msg.get("limit", 100)):]}
        if cmd == "ping":
            return {"ok": True, "pid": os.getpid(), "workers": [w.pid for w in self.workers.values()],
                    "revision": self.cfg.revision, "connections_spread": self.spread,
                    "worker_cpus": [self.cpus.get(w.index) for w in self.workers.values()]}
        return {"ok": False, "error": f"unknown command {cmd!r}"}

    def reload(self, path: str | None = None) -> dict:
        path = path or self.config_path
        try:
            text = open(path, "rb").read()
            cfg = parse_config(text)
        except OSError as e:
            self.events.log("warn", "config", f"reload refused: cannot read {path}: {e.strerror}")
            return {"ok": False, "error": f"cannot read {path}: {e.strerror}"}
        except ConfigError as e:
            self.events.log("warn", "config", f"reload refused: {e}")
            return {"ok": False, "error": str(e)}
        sockets, warnings = self._bind_for(cfg)
        new_keys = [k for k in sockets if k not in self.sockets]
        msg = {"cmd": "reload", "text": text.decode("utf-8", "surrogateescape"), "listen": [list(k) for k in new_keys]}
        replies = []
        for w in list(self.workers.values()):
            own = self._of_worker(sockets, w.index)
            replies.append(self.ask(w, msg, [own[k].fileno() for k in new_keys]))
        self._relay_events()
        bad = [r for r in replies if not r.get("ok")]
        if bad:
            for k in new_keys:
                for sock in sockets[k]:
                    sock.close()
            return bad[0]
        for key, socks in self.sockets.items():
            if key not in sockets:
                for sock in socks:
                    sock.close()
        self.sockets = sockets
        self.text, self.cfg = text, cfg
        self.events.log("info", "config", f"reload accepted: revision {cfg.revision}")
        ws = list(dict.fromkeys(warnings + [w for r in replies for w in r.get("warnings", [])]))
        return {"ok": True, "revision": cfg.revision, "warnings": ws}

    # -- main loop -------------------------------------------------------------------------------------------

    def run(self) -> int:
        self.sockets, warnings = self._bind_for(self.cfg)
        for w in warnings:
            self.events.log("warn", "config", w)
        ctl_path = self.cfg.node.control_socket
        os.makedirs(os.path.dirname(ctl_path) or ".", exist_ok=True)
        if os.path.exists(ctl_path):
            os.unlink(ctl_path)
        ctl = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        ctl.bind(ctl_path)
        os.chmod(ctl_path, 0o600)
        ctl.listen(64)
        ctl.setblocking(False)
        self.sel.register(ctl, selectors.EVENT_READ, ("control", None))
        rfd, wfd = os.pipe()
        os.set_blocking(rfd, False)
        os.set_blocking(wfd, False)
        signal.set_wakeup_fd(wfd)
        for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGCHLD):
            signal.signal(sig, lambda *_: None)
        self.sel.register(rfd, selectors.EVENT_READ, ("signal", None))
        for i in range(self.nworkers):
            self.spawn(i)
        bound = f" (bound to CPUs {', '.join(map(str, self.cpus.values()))})" if self.cpus else ""
        self.events.log("info", "engine", f"started {self.nworkers} workers{bound}, revision {self.cfg.revision}")
        clients: dict[socket.socket, bytes] = {}
        while not self.stopping:
            for key, _ in self.sel.select(1.0):
                kind, obj = key.data
                if kind == "signal":
                    for signum in os.read(rfd, 256):
                        self._signal(signum)
                elif kind == "control":
                    try:
                        conn, _ = ctl.accept()
                    except OSError:
                        continue
                    conn.setblocking(False)
                    clients[conn] = b""
                    self.sel.register(conn, selectors.EVENT_READ, ("client", conn))
                elif kind == "client":
                    self._client_readable(obj, clients)
                elif kind == "worker":
                    if self.workers.get(obj.index) is not obj:
                        continue  # reaped by a SIGCHLD handled earlier in this same batch of events
                    line = self._read_line(obj, 0.5)
                    if line is not None and "event" in line:
                        self.pending_events.append(line)
                    self._relay_events()
        self._shutdown(ctl, ctl_path)
        return 0

    def _client_readable(self, conn: socket.socket, clients: dict) -> None:
        try:
            chunk = conn.recv(1 << 16)
        except BlockingIOError:
            return
        except OSError:
            chunk = b""
        if not chunk:
            self.sel.unregister(conn)
            clients.pop(conn, None)
            conn.close()
            return
        buf = clients[conn] + chunk
        while b"\n" in buf:
            line, buf = buf.split(b"\n", 1)
            try:
                msg = json.loads(line)
                reply = self.command(msg) if isinstance(msg, dict) else {"ok": False, "error": "expected an object"}
            except ValueError as e:
                reply = {"ok": False, "error": f"bad request: {e}"}
            conn.setblocking(True)
            try:
                conn.sendall(json.dumps(reply).encode() + b"\n")
            except OSError:
                pass
            conn.setblocking(False)
        clients[conn] = buf

    def _signal(self, signum: int) -> None:
        if signum in (signal.SIGTERM, signal.SIGINT):
            self.stopping = True
        elif signum == signal.SIGHUP:
            self.reload()
        elif signum == signal.SIGCHLD:
            while True:
                try:
                    pid, status = os.waitpid(-1, os.WNOHANG)
                except ChildProcessError:
                    return
                if pid == 0:
                    return
                for w in list(self.workers.values()):
                    if w.pid == pid:
                        self.sel.unregister(w.chan)
                        w.chan.close()
                        del self.workers[w.index]
                        if not self.stopping:
                            self.events.log("serious", "engine",
                                            f"worker {w.index} (pid {pid}) died ({status:#x}); restarting it")
                            if w.index == 0:
                                self._forget_monitor_failures()
                            self.spawn(w.index)

    def _shutdown(self, ctl: socket.socket, ctl_path: str) -> None:
        for w in self.workers.values():
            try:
                os.kill(w.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
        deadline = time.monotonic() + 15
        while self.workers and time.monotonic() < deadline:
            try:
                pid, _ = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                break
            if pid == 0:
                time.sleep(0.05)
                continue
            for w in list(self.workers.values()):
                if w.pid == pid:
                    del self.workers[w.index]
        for w in self.workers.values():
            os.kill(w.pid, signal.SIGKILL)
        ctl.close()
        try:
            os.unlink(ctl_path)
        except OSError:
            pass
        self.events.log("info", "engine", "stopped")


def worker_cpus(workers: int, affinity: str) -> dict[int, int]:
    """Which CPU each worker is bound to. With ``auto`` and several workers, worker i gets the i-th CPU this process
    may use (taskset and cgroup cpusets respected) while there are as many CPUs as workers. On 2 CPUs shared with the
    benchmark's client and back-end, binding raised two workers' req/s by 8-10% and cut their p99 latency by a fifth:
    they were preempted as often, but each resumed on the CPU whose caches held its data (user CPU per request 7.7 to
    6.8 µs; docs/performance.md). One worker is left free to move: bound, it lost 4%."""
    if affinity != "auto" or workers < 2:
        return {}
    cpus = sorted(os.sched_getaffinity(0))
    if workers > len(cpus):
        return {}
    return {i: cpus[i] for i in range(workers)}


def main_master(config_path: str, workers: int | None, run_as: tuple[int, int] | None = None) -> int:
    try:
        master = Master(config_path, workers, run_as)
    except (ConfigError, OSError) as e:
        print(f"proxyengine: {e}", file=sys.stderr)
        return 2
    return master.run()


__all__ = ["Master", "main_master", "load_config"]
