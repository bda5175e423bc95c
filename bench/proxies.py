"""The benchmark's cast on 127.0.0.1: an nginx back-end, HAProxy, nginx as a proxy and our engine, each a process group.

Every proxy gets the equivalent configuration: one pool of two nodes (two nginx ports), a health check, X-Forwarded-For,
a host/path routing decision, keep-alive to the nodes; HAProxy with one thread and nginx with one worker.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SMALL_BODY = b"x" * 99 + b"\n"  # ~100 bytes
BIG_SIZE = 100 * 1024

# what the benchmark needs, and where .ci/install gets it
NEEDS = {"nginx": "/usr/sbin/nginx", "haproxy": "/usr/sbin/haproxy", "wrk": "/usr/bin/wrk"}


def missing_tools() -> list[str]:
    return [name for name, path in NEEDS.items() if not (os.path.exists(path) or shutil.which(name))]


def tool(name: str) -> str:
    return NEEDS[name] if os.path.exists(NEEDS[name]) else shutil.which(name)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port: int, proc: subprocess.Popen, timeout: float = 15) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{proc.args[0]} exited with {proc.returncode}")
        try:
            socket.create_connection(("127.0.0.1", port), 0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nothing listens on 127.0.0.1:{port}")


class Proc:
    """A process we started (and its children, for CPU and memory)."""

    def __init__(self, name: str, argv: list[str], port: int, workdir: Path, env=None, cwd=None):
        self.name = name
        self.port = port
        self.log = open(workdir / f"{name}.log", "wb")
        self.proc = subprocess.Popen(argv, stdout=self.log, stderr=subprocess.STDOUT, env=env, cwd=cwd,
                                     start_new_session=True)
        try:
            wait_port(port, self.proc)
        except RuntimeError as e:
            self.stop()
            raise RuntimeError(f"{e}: {(workdir / f'{name}.log').read_text()[-2000:]}") from None

    def pids(self) -> list[int]:
        """The process and all its descendants."""
        children: dict[int, list[int]] = {}
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            try:
                with open(f"/proc/{entry}/stat", "rb") as f:
                    ppid = int(f.read().rsplit(b")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(entry))
        out, todo = [], [self.proc.pid]
        while todo:
            pid = todo.pop()
            out.append(pid)
            todo.extend(children.get(pid, ()))
        return out

    def stop(self) -> None:
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(5)
        self.log.close()


def cpu_seconds(pids: list[int]) -> float:
    """utime + stime of ``pids`` from /proc/<pid>/stat."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat", "rb") as f:
                fields = f.read().rsplit(b")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])
        except (OSError, IndexError, ValueError):
            pass
    return total / tick


def memory_kib(pids: list[int]) -> tuple[int, int, int]:
    """(largest RSS of one process, total RSS, total PSS) in KiB, from /proc/<pid>/smaps_rollup."""
    biggest = rss_total = pss_total = 0
    for pid in pids:
        rss = pss = 0
        try:
            with open(f"/proc/{pid}/smaps_rollup") as f:
                for line in f:
                    if line.startswith("Rss:"):
                        rss = int(line.split()[1])
                    elif line.startswith("Pss:"):
                        pss = int(line.split()[1])
        except OSError:
            continue
        biggest = max(biggest, rss)
        rss_total += rss
        pss_total += pss
    return biggest, rss_total, pss_total


def start_backend(work: Path) -> tuple[Proc, list[int]]:
    """One nginx (1 worker) listening on two ports: the pool's two nodes."""
    d = work / "backend"
    (d / "html").mkdir(parents=True)
    (d / "html" / "small").write_bytes(SMALL_BODY)
    (d / "html" / "big").write_bytes(os.urandom(BIG_SIZE))
    ports = [free_port(), free_port()]
    listens = "".join(f"listen 127.0.0.1:{p} reuseport backlog=4096; " for p in ports)
    (d / "nginx.conf").write_text(f"""
daemon off; master_process off; worker_processes 1; pid {d}/nginx.pid; error_log {d}/error.log;
worker_rlimit_nofile 8192;
events {{ worker_connections 4096; }}
http {{
  access_log off; client_body_temp_path {d}/body; proxy_temp_path {d}/proxy; fastcgi_temp_path {d}/fcgi;
  uwsgi_temp_path {d}/uwsgi; scgi_temp_path {d}/scgi; keepalive_requests 1000000; keepalive_timeout 60s;
  default_type application/octet-stream; sendfile on; tcp_nopush on;
  server {{ {listens} root {d}/html; location = /health {{ return 200 "ok\\n"; }} }}
}}
""")
    return Proc("backend", [tool("nginx"), "-p", str(d), "-c", str(d / "nginx.conf")], ports[0], work), ports


def start_haproxy(work: Path, nodes: list[int]) -> tuple[Proc, int, int]:
    http_port, tcp_port = free_port(), free_port()
    servers = "".join(f"  server n{i} 127.0.0.1:{p} check inter 2s\n" for i, p in enumerate(nodes))
    tcp_servers = "".join(f"  server n{i} 127.0.0.1:{p}\n" for i, p in enumerate(nodes))
    cfg = work / "haproxy.cfg"
    cfg.write_text(f"""
global
  nbthread 1
  maxconn 4096
defaults
  timeout connect 5s
  timeout client 60s
  timeout server 60s
  maxconn 4096
frontend web
  mode http
  bind 127.0.0.1:{http_port}
  option forwardfor
  acl routed hdr(host) -i www.example.com
  acl routed path_beg /small /big
  use_backend web if routed
  default_backend web
backend web
  mode http
  balance roundrobin
  option httpchk GET /health
  http-reuse safe
{servers}
listen l4
  mode tcp
  bind 127.0.0.1:{tcp_port}
  balance roundrobin
{tcp_servers}
""")
    proc = Proc("haproxy", [tool("haproxy"), "-db", "-f", str(cfg)], http_port, work)
    wait_port(tcp_port, proc.proc)
    return proc, http_port, tcp_port


def start_nginx_proxy(work: Path, nodes: list[int]) -> tuple[Proc, int]:
    d = work / "nginx-proxy"
    d.mkdir()
    port = free_port()
    servers = "".join(f"server 127.0.0.1:{p}; " for p in nodes)
    # open-source nginx has no active health checks: max_fails/fail_timeout is its passive equivalent
    (d / "nginx.conf").write_text(f"""
daemon off; master_process off; worker_processes 1; pid {d}/nginx.pid; error_log {d}/error.log;
worker_rlimit_nofile 8192;
events {{ worker_connections 4096; }}
http {{
  access_log off; client_body_temp_path {d}/body; proxy_temp_path {d}/proxy; fastcgi_temp_path {d}/fcgi;
  uwsgi_temp_path {d}/uwsgi; scgi_temp_path {d}/scgi; keepalive_requests 1000000;
  upstream web {{ {servers} keepalive 256; }}
  server {{
    listen 127.0.0.1:{port} backlog=4096;
    location / {{
      set $route web;
      if ($host = www.example.com) {{ set $route web; }}
      proxy_pass http://$route;
      proxy_http_version 1.1; proxy_set_header Connection "";
      proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for; proxy_buffering on;
    }}
  }}
}}
""")
    return Proc("nginx", [tool("nginx"), "-p", str(d), "-c", str(d / "nginx.conf")], port, work), port


ROUTING_RULE = """
if (http.getHostHeader() == "www.example.com" || string.startsWith(http.getPath(), "/small")
    || string.startsWith(http.getPath(), "/big")) {
  pool.use("web");
}
"""


def engine_config(work: Path, nodes: list[int], workers: int, http_port: int, tcp_port: int) -> dict:
    """engine.json as the admin side would render it for a user's configuration."""
    table = [{"node": f"127.0.0.1:{p}", "state": "active", "weight": 1, "priority": 1} for p in nodes]
    listen = {"listen_on_any": False, "listen_on_hosts": ["127.0.0.1"]}
    return {
        "format": 1, "revision": 1, "digest": "0" * 64,
        "node": {"name": "bench", "zeushome": str(work), "control_socket": str(work / "engine.sock"),
                 "log_dir": str(work / "log"), "workers": workers},
        "license": {"edition": "community", "bandwidth_limit_kbps": 0, "max_cluster_size": 4},
        "config": {
            "pools": {
                "web": {"properties": {"basic": {"nodes_table": table, "monitors": ["health"]},
                                       "load_balancing": {"algorithm": "round_robin"}}},
                "l4": {"properties": {"basic": {"nodes_table": table}, "load_balancing": {"algorithm": "round_robin"}}},
            },
            "virtual_servers": {
                "web": {"properties": {"basic": {"enabled": True, "port": http_port, "protocol": "http", "pool": "web",
                                                 "request_rules": ["route"], **listen},
                                       "http": {"add_x_forwarded_for": True}}},
                "l4": {"properties": {"basic": {"enabled": True, "port": tcp_port, "protocol": "stream", "pool": "l4",
                                                **listen}}},
            },
            "rules": {"route": ROUTING_RULE},
            "monitors": {"health": {"properties": {"basic": {"type": "http", "delay": 2, "timeout": 2, "failures": 3},
                                                   "http": {"path": "/health"}}}},
        },
    }  # fmt: skip


def start_engine(work: Path, nodes: list[int], workers: int) -> tuple[Proc, int, int]:
    d = work / f"engine{workers}"
    (d / "log").mkdir(parents=True)
    http_port, tcp_port = free_port(), free_port()
    path = d / "engine.json"
    path.write_text(json.dumps(engine_config(d, nodes, workers, http_port, tcp_port), indent=1))
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = Proc(f"ours-{workers}w", [sys.executable, "-m", "proxyengine", "--config", str(path)], http_port, work, env,
                cwd=ROOT)
    wait_port(tcp_port, proc.proc)
    return proc, http_port, tcp_port


def start_floor(work: Path, nodes: list[int], workers: int) -> tuple[Proc, int, int]:
    """bench/floor.py: the least a uvloop + httptools proxy does for the same configuration (a yardstick)."""
    http_port, tcp_port = free_port(), free_port()
    argv = [sys.executable, str(ROOT / "bench" / "floor.py"), "--http", str(http_port), "--tcp", str(tcp_port),
            "--nodes", ",".join(map(str, nodes)), "--workers", str(workers)]
    proc = Proc(f"floor-{workers}w", argv, http_port, work)
    wait_port(tcp_port, proc.proc)
    return proc, http_port, tcp_port
