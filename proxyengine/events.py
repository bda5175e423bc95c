"""The event log (node failed / recovered, reload accepted / refused, ...) and per-virtual-server access logs."""

from __future__ import annotations

import os
import sys
import time
import traceback
from collections import deque


class EventLog:
    """Appends one line per event to ``<log_dir>/events.log`` and keeps the latest in memory for the control socket."""

    def __init__(self, log_dir: str | None = None, process: str = "engine"):
        self.path = os.path.join(log_dir, "events.log") if log_dir else None
        self.process = process
        self.recent: deque[dict] = deque(maxlen=500)

    def set_dir(self, log_dir: str) -> None:
        self.path = os.path.join(log_dir, "events.log") if log_dir else None

    def log(self, level: str, obj: str, message: str) -> None:
        now = time.time()
        self.recent.append({"time": now, "level": level, "object": obj, "message": message})
        line = f"[{time.strftime('%d/%b/%Y:%H:%M:%S %z', time.localtime(now))}] {level.upper():7} {obj}: {message}\n"
        if self.path:
            try:
                os.makedirs(os.path.dirname(self.path), exist_ok=True)
                with open(self.path, "a", encoding="utf-8") as f:
                    f.write(line)
                return
            except OSError:
                pass
        sys.stderr.write(line)

    def node_failed(self, pool: str, node: str, why: str) -> None:
        self.log("serious", f"pools/{pool}", f"nodefail: node {node} has failed: {why}")

    def node_recovered(self, pool: str, node: str, why: str) -> None:
        self.log("info", f"pools/{pool}", f"nodeworking: node {node} is working again: {why}")

    def internal_error(self, where: str, exc: BaseException) -> None:
        tb = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__, limit=4)).strip()
        self.log("serious", "engine", f"internal error in {where}: {tb}")


_LOG_TOKEN = None


class _Peer:
    __slots__ = ("client_ip",)

    def __init__(self, client_ip: str) -> None:
        self.client_ip = client_ip


class _Pool:
    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        self.name = name


class _Connection:
    """A generic connection in the shape AccessLog.format reads an HTTP exchange in."""

    __slots__ = ("pool", "node", "req_bytes", "resp_bytes", "started", "headers", "method", "url", "version",
                 "status")

    def __init__(self, pool: str, node: str, bytes_in: int, bytes_out: int, started: float) -> None:
        self.pool = _Pool(pool) if pool else None
        self.node = node
        self.req_bytes, self.resp_bytes = bytes_in, bytes_out
        self.started = started
        self.headers: list = []
        self.method = self.url = b""
        self.version = ""
        self.status = 0


class AccessLog:
    """An access log for one virtual server; lines are batched and written once a second (never per request)."""

    def __init__(self, path: str, fmt: str, vs_name: str):
        import re

        global _LOG_TOKEN
        if _LOG_TOKEN is None:
            _LOG_TOKEN = re.compile(r"%\{([^}]*)\}([io])|%(.)")
        self.path = path
        self.fmt = fmt
        self.vs_name = vs_name
        self.parts = _LOG_TOKEN.split(fmt)
        self.response_headers = any(self.parts[i] == "o" for i in range(2, len(self.parts), 4))  # any %{X}o
        self.pending: list[str] = []
        os.makedirs(os.path.dirname(path) or ".", exist_ok=True)

    def add(self, client, ex) -> None:
        self.pending.append(self.format(client, ex))
        if len(self.pending) >= 1000:
            self.flush()

    def add_connection(self, client_ip: str, pool: str, node: str, bytes_in: int, bytes_out: int,
                       started: float) -> None:
        """A generic (TCP/UDP) connection: one line with the fields that mean something without HTTP."""
        self.add(_Peer(client_ip), _Connection(pool, node, bytes_in, bytes_out, started))

    def format(self, client, ex) -> str:
        out = []
        parts = self.parts
        i = 0
        while i < len(parts):
            out.append(parts[i])
            if i + 3 >= len(parts):
                break
            header, direction, code = parts[i + 1], parts[i + 2], parts[i + 3]
            out.append(self._field(client, ex, header, direction, code))
            i += 4
        return "".join(out) + "\n"

    def _field(self, client, ex, header, direction, code) -> str:
        if header is not None:
            lname = header.lower().encode("latin-1")
            fields = ex.headers if direction == "i" else getattr(ex, "resp_headers", None) or ()
            for n, v in fields:
                if n.lower() == lname:
                    return v.decode("latin-1")
            return "-"
        if code == "h":
            return client.client_ip
        if code in ("l", "u"):
            return "-"
        if code == "t":
            return time.strftime("[%d/%b/%Y:%H:%M:%S %z]")
        if code == "r":
            if not ex.method:  # a generic connection
                return "-"
            return f"{ex.method.decode('latin-1')} {ex.url.decode('latin-1')} HTTP/{ex.version}"
        if code == "s":
            return str(ex.status) if ex.status else "-"
        if code == "b":  # the response body's size, without the head ("-" for none), as Apache and vTM
            body = ex.resp_bytes - getattr(ex, "resp_head_bytes", 0)
            return str(body) if body > 0 else "-"
        if code == "v":
            return self.vs_name
        if code == "n":
            return ex.pool.name if ex.pool else "-"
        if code == "T":
            return str(int(time.monotonic() - ex.started))
        if code == "D":
            return str(int((time.monotonic() - ex.started) * 1e6))
        if code == "%":
            return "%"
        return "-"

    def flush(self) -> None:
        if not self.pending:
            return
        lines, self.pending = self.pending, []
        try:
            with open(self.path, "a", encoding="utf-8") as f:
                f.writelines(lines)
        except OSError:
            pass
