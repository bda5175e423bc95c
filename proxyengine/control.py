"""The control socket: JSON lines over a unix socket, one request line in, one reply line out.

Commands (every reply has ``"ok"``; a refused or failed command has ``"error"`` with the reason)::

    {"cmd": "reload"}                          -> {"ok": true, "revision": 13, "warnings": [...]}
    {"cmd": "reload", "path": "/x/engine.json"}   (another file; default: the --config file)
                                               -> {"ok": false, "error": "pools.web.basic.nodes_table[0].node: ..."}
    {"cmd": "stats"}                           -> {"ok": true, "statistics": {"virtual_servers": {..}, "pools": {..},
                                                   "nodes": {"node": {..}, "per_pool_node": {..}}, "rules": {..},
                                                   "globals": {..}}, "per_second": [{"time", "requests", "conns",
                                                   "bytes_in", "bytes_out"}, ...]}
    {"cmd": "stats", "format": "prometheus"}   -> {"ok": true, "text": "# HELP ..."}
    {"cmd": "stats", "format": "csv"}          -> {"ok": true, "text": "# pxname,svname,..."}
    {"cmd": "recent_connections", "limit": 100}-> {"ok": true, "connections": [{"id", "time", "virtual_server",
                                                   "pool", "node", "client", "method", "url", "status",
                                                   "bytes_in", "bytes_out", "duration_ms"}, ...]}  (newest first)
    {"cmd": "node_state", "pool": "web", "node": "10.0.0.1:80", "state": "draining"|"disabled"|"active"}
                                               -> {"ok": true, "pool": "web", "node": "10.0.0.1:80", "state": ...}
    {"cmd": "health"}                          -> {"ok": true, "revision": 12, "pools": {"web": {"state": "active",
                                                   "nodes": {"10.0.0.1:80": {"state": "alive"|"dead",
                                                   "config_state": "active", "failed_monitors": [],
                                                   "passive_failed": false}}}}, "virtual_servers": {"web":
                                                   {"running": true, "reason": "", "route_memo": false}}}
                                               (route_memo: the request rules are pure routing, run once per
                                               distinct request; rulehooks.configure_route_memo)
    {"cmd": "events", "limit": 100}            -> {"ok": true, "events": [{"time", "level", "object", "message"}]}
    {"cmd": "ping"}                            -> {"ok": true, "pid": 123, "revision": 12}
"""

from __future__ import annotations

import asyncio
import json
import os
import socket


async def serve_control(path: str, handle) -> asyncio.AbstractServer:
    """Serve the control protocol on ``path`` with ``await handle(msg) -> reply`` (in-process engine)."""
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    if os.path.exists(path):
        os.unlink(path)

    async def client(reader: asyncio.StreamReader, writer: asyncio.StreamWriter):
        try:
            while line := await reader.readline():
                try:
                    msg = json.loads(line)
                    if not isinstance(msg, dict):
                        raise ValueError("expected a JSON object")
                    reply = await handle(msg)
                except ValueError as e:
                    reply = {"ok": False, "error": f"bad request: {e}"}
                writer.write(json.dumps(reply).encode() + b"\n")
                await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()

    server = await asyncio.start_unix_server(client, path, limit=1 << 26)
    os.chmod(path, 0o600)
    return server


def request(path: str, msg: dict, timeout: float = 30.0) -> dict:
    """Send one command and return the reply (a blocking helper for the admin side, tools and tests)."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.settimeout(timeout)
        s.connect(path)
        s.sendall(json.dumps(msg).encode() + b"\n")
        buf = b""
        while not buf.endswith(b"\n"):
            chunk = s.recv(1 << 20)
            if not chunk:
                break
            buf += chunk
    return json.loads(buf)
